#!/bin/sh
# same_results.sh OLD_BINARY NEW_BINARY [SCRATCH]: trains a matrix of short runs
# (every objective; sa and ssr; replay none, uniform, prt; f64 and f32) with both
# binaries and compares metrics.tsv, summary.txt (without wall_seconds), logp.tsv
# (its numbers: the x column is newer than some binaries) and checkpoint.bin byte
# by byte.  Exit 0 when every file is identical.
# A refactoring that must not change results is checked with it, e.g.
#   git stash; make; cp build/gfnbench /tmp/old; git stash pop; make
#   sh bench/same_results.sh /tmp/old build/gfnbench
set -u
OLD=$1 NEW=$2 DIR=${3:-/tmp/gfn_same_results}
rm -rf "$DIR" && mkdir -p "$DIR" || exit 2
COMMON="sample_every=10 ad_draws=2000"
i=0 fail=0
while read -r task obj keys; do
    [ -z "$task" ] && continue
    i=$((i + 1))
    case "$keys" in *rounds=*) ;; *) keys="$keys rounds=60 exact_every=30" ;; esac
    for side in old new; do
        bin=$OLD; [ $side = new ] && bin=$NEW
        # shellcheck disable=SC2086
        "$bin" train $task $obj $COMMON $keys --out "$DIR/$side/$i" >/dev/null 2>"$DIR/$side.$i.err" ||
            { echo "run $i ($task $obj $keys) failed with $bin:"; cat "$DIR/$side.$i.err"; fail=1; }
        [ -f "$DIR/$side/$i/summary.txt" ] && grep -v '^wall_seconds:' "$DIR/$side/$i/summary.txt" > "$DIR/$side/$i/summary.cmp"
        # logp.tsv gained a first column x (the terminal's text): compare the numbers
        if [ -f "$DIR/$side/$i/logp.tsv" ]; then
            if head -1 "$DIR/$side/$i/logp.tsv" | grep -q '^x	'; then
                cut -f 2- "$DIR/$side/$i/logp.tsv" > "$DIR/$side/$i/logp.cmp"
            else
                cp "$DIR/$side/$i/logp.tsv" "$DIR/$side/$i/logp.cmp"
            fi
        fi
    done
    for f in metrics.tsv summary.cmp logp.cmp checkpoint.bin; do
        if [ -f "$DIR/old/$i/$f" ] || [ -f "$DIR/new/$i/$f" ]; then
            cmp -s "$DIR/old/$i/$f" "$DIR/new/$i/$f" || { echo "DIFFERS: run $i ($task $obj $keys) $f"; fail=1; }
        fi
    done
done <<'RUNS'
hypergrid tb dim=2 side=4
hypergrid db dim=2 side=4 replay=uniform
hypergrid fm dim=2 side=4
hypergrid subtb dim=2 side=4 subtb_pairs=ends
bag maxent replay=prt hidden=16
bag gtb replay=prt policy=ssr hidden=16
bag tb policy=ssr replay=uniform hidden=16
tfbind8 tb replay=prt hidden=32 precision=f32
tfbind8 gtb policy=ssr replay=prt hidden=32 precision=f32 mdp=ar
synth subtb policy=ssr hidden=16
synth uniform rounds=0
RUNS
[ $fail = 0 ] && echo "same results: $i runs, every file identical"
exit $fail
