#!/bin/sh
# run.sh - the hostile-input suite (issue 12): every row of tests/bad/cases.tsv is one
# bad input that gfnbench must refuse with a clear error.
#
#   sh tests/bad/run.sh [BUILD]      (from the repository root; BUILD defaults to build)
#
# cases.tsv: kind<TAB>arguments<TAB>expected exit code<TAB>expected stderr text; lines
# starting with '#' are comments.  The arguments are split at spaces, after three
# substitutions: @B is this folder (absolute), @C a folder of checkpoints written by
# `BUILD/ckpt_tool forge` (hostile variants of one valid file), @G a folder of large
# inputs generated here (too big to commit), @@ a literal '@'.  Kind
# ckpt runs BUILD/ckpt_tool (the checkpoint loader on a fixed model); every other kind
# (spec, train, table, ad, cli) runs BUILD/gfnbench.
#
# Each case runs in a fresh empty folder with a timeout of 10 s.  A case passes when the
# exit code is the expected one, stderr contains the expected text, stderr holds no raw
# control or non-ASCII bytes (binary input is never echoed), and the folder is still
# empty (nothing written).  Before the cases, one valid input of each kind must be
# accepted, so that a suite refusing everything cannot pass.  Prints one line per
# failure and the summary; exits 1 when any case fails.
set -u
BUILD=${1:-build}
ROOT=$(pwd)
HERE=$ROOT/tests/bad
G=$ROOT/$BUILD/gfnbench
T=$ROOT/$BUILD/ckpt_tool
for f in "$G" "$T"; do
    [ -x "$f" ] || { echo "tests/bad/run.sh: $f missing (make $BUILD/$(basename "$f"))" >&2; exit 2; }
done
W=$(mktemp -d /tmp/gfn_bad_XXXXXX) || exit 2
trap 'rm -rf "$W"' EXIT INT TERM
CK=$W/ckpt
mkdir "$CK" && "$T" forge "$CK" || { echo "tests/bad/run.sh: ckpt_tool forge failed" >&2; exit 2; }

# Large inputs (issue 12: 200k keys, 100k-deep nesting), written here rather than committed.
GEN=$W/gen
mkdir "$GEN"
HEAD='name: t
task: {name: hypergrid, dim: 2, side: 3}
seeds: [0]
rounds: 2
variants:
  - {name: tb, objective: tb}'
{ echo "$HEAD"; echo "defaults:"; awk 'BEGIN { for (i = 0; i < 200000; i++) printf "  k%d: 1\n", i }'; } \
    > "$GEN/keys_200k.yaml"
{ echo "$HEAD"; awk 'BEGIN { printf "x: "; for (i = 0; i < 100000; i++) printf "["
                             for (i = 0; i < 100000; i++) printf "]"; print "" }'; } \
    > "$GEN/nesting_100k.yaml"
{ echo "$HEAD"; echo "defaults:"; awk 'BEGIN { for (i = 0; i < 20000; i++) printf "  hidden: %d\n", i + 1 }'; } \
    > "$GEN/duplicates_20k.yaml"

# Controls: valid inputs of each kind must be accepted.
controls_bad=0
control() {
    mkdir "$W/control" && (cd "$W/control" && timeout 60 "$@" >/dev/null 2>"$W/control.err")
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "CONTROL REFUSED (exit $rc): $*"
        sed 's/^/    /' "$W/control.err" | head -5
        controls_bad=$((controls_bad + 1))
    fi
    rm -rf "$W/control"
}
control "$G" target table file="$HERE/table/ok.tsv" alphabet=AB
control "$G" target table file="$HERE/table/header_row_ok.tsv" alphabet=AB
control "$G" ad "$HERE/ad/ok_a.txt" "$HERE/ad/ok_b.txt"
control "$G" train hypergrid tb dim=2 side=3 rounds=2
control "$G" run "$HERE/spec/ok.yaml" --out res --plots plots --jobs 1
control "$T" load "$CK/valid.ckpt"

tried=0 clear=0 accepted=0 crashes=0 hangs=0 wrong=0 written=0 echoed=0
TAB=$(printf '\t')
while IFS="$TAB" read -r kind args want text; do
    case $kind in ''|'#'*) continue ;; esac
    tried=$((tried + 1))
    # @B, @C, @@; then split at spaces (no globbing).
    a=$(printf '%s' "$args" | sed -e "s|@@|\x01|g" -e "s|@B|$HERE|g" -e "s|@C|$CK|g" -e "s|@G|$GEN|g" -e "s|\x01|@|g")
    prog=$G
    [ "$kind" = ckpt ] && prog=$T
    d=$W/case
    rm -rf "$d" && mkdir "$d"
    set -f
    # shellcheck disable=SC2086
    (cd "$d" && exec timeout 10 "$prog" $a >"$W/out" 2>"$W/err" </dev/null)
    rc=$?
    set +f
    what=""
    if [ $rc -eq 124 ]; then
        hangs=$((hangs + 1)); what="HANG (killed after 10 s)"
    elif [ $rc -ge 128 ] || grep -q 'Sanitizer\|runtime error' "$W/err"; then
        crashes=$((crashes + 1)); what="CRASH (exit $rc)"
    elif [ $rc -eq 0 ]; then
        accepted=$((accepted + 1)); what="WRONGLY ACCEPTED"
    elif [ "$rc" != "$want" ] || ! grep -qF -- "$text" "$W/err"; then
        wrong=$((wrong + 1)); what="UNEXPECTED ERROR (exit $rc, expected $want and '$text')"
    elif LC_ALL=C grep -q '[^[:print:][:space:]]' "$W/err"; then
        echoed=$((echoed + 1)); what="RAW BYTES ECHOED on stderr"
    elif [ -n "$(ls -A "$d")" ]; then
        written=$((written + 1)); what="WROTE FILES: $(cd "$d" && find . | head -3 | tr '\n' ' ')"
    else
        clear=$((clear + 1))
    fi
    if [ -n "$what" ]; then
        echo "FAIL $kind $args: $what"
        sed 's/^/    stderr: /' "$W/err" | head -3 | LC_ALL=C tr -c '[:print:]\n' '?'
    fi
done < "$HERE/cases.tsv"

echo "hostile inputs: $tried tried, $clear clear errors, $accepted wrongly accepted," \
     "$crashes crashes, $hangs hangs ($wrong other errors, $written wrote files," \
     "$echoed echoed raw bytes; $controls_bad of 6 valid controls refused)"
[ $((tried - clear + controls_bad)) -eq 0 ]
