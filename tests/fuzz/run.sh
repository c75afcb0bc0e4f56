#!/bin/sh
# run.sh - runs each libFuzzer harness of tests/fuzz/ for SECONDS (make fuzz).
#
#   sh tests/fuzz/run.sh BUILD SECONDS NAME...
#
# Harness BUILD/fuzz_NAME starts from the committed seeds tests/fuzz/corpus/NAME/ and
# keeps what it learns in BUILD/corpus/NAME/ (not committed).  Limits: 10 s per input
# (a slower one is a hang), 2 GB of memory, inputs up to 64 KB.  A crash, leak,
# sanitizer report, hang or limit hit leaves its input in BUILD/artifacts/ and fails
# the run: fix the reader, then add the input to tests/bad/ (see tests/bad/cases.tsv).
# Prints one line per harness with its executions, and a total.
set -u
BUILD=$1
SECONDS_EACH=$2
shift 2
mkdir -p "$BUILD/artifacts"
failed=0 total=0
for name in "$@"; do
    mkdir -p "$BUILD/corpus/$name"
    log=$BUILD/fuzz_$name.log
    "$BUILD/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$name-" \
        "$BUILD/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=${runs:-0}
    total=$((total + runs))
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        echo "fuzz $name: FAILED (exit $rc) after $runs executions; see $log and $BUILD/artifacts/"
        grep -m 3 'ERROR\|SUMMARY\|Test unit written' "$log" | sed 's/^/    /'
    else
        echo "fuzz $name: $runs executions in $SECONDS_EACH s, no crash, leak, hang or limit hit"
    fi
done
echo "fuzz: $total executions over $# harnesses, $failed failed"
[ $failed -eq 0 ]
