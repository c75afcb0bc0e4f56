#!/bin/sh
# check_readme.sh (make check-readme): README's recipes for adding an objective, a
# task and a metric, applied to a scratch copy of the tree, built, trained and
# tested.  A recipe block is a fenced code block right after a comment
#   <!-- check-readme: file PATH -->            the block is the whole new file PATH
#   <!-- check-readme: before PATH ANCHOR -->   the block goes before the first line
#                                               of PATH that contains ANCHOR
#   <!-- check-readme: run -->                  the block is shell commands, run in
#                                               the built scratch tree (after the
#                                               recipes), each of which must succeed
# Exit 0 when every block applies, the tree builds, the new parts train and the
# whole suite passes.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gfn_readme.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$scratch")
# Split README's recipes into one directive file and one block file each.
awk -v dir="$scratch/.recipes" '
    BEGIN { n = 0; system("mkdir -p " dir) }
    /<!-- check-readme: / {
        line = $0; sub(/.*<!-- check-readme: /, "", line); sub(/ -->.*/, "", line)
        n++; printf "%s\n", line > (dir "/" n ".how"); close(dir "/" n ".how"); want = 1; next
    }
    want && /^```/ { want = 0; inblock = 1; next }
    inblock && /^```/ { inblock = 0; close(dir "/" n ".block"); next }
    inblock { print > (dir "/" n ".block") }
    END { print n > (dir "/count") }
' README.md
count=$(cat "$scratch/.recipes/count")
[ "$count" -ge 9 ] || { echo "check-readme: only $count recipe blocks found in README.md" >&2; exit 1; }
i=1
while [ "$i" -le "$count" ]; do
    how=$(cat "$scratch/.recipes/$i.how")
    block="$scratch/.recipes/$i.block"
    mode=${how%% *}; rest=${how#* }; path=${rest%% *}; anchor=${rest#* }
    case "$mode" in
    run) echo "check-readme: block $i: shell commands, run after the build"; i=$((i + 1)); continue ;;
    file) cp "$block" "$scratch/$path" ;;
    before)
        grep -qF -- "$anchor" "$scratch/$path" ||
            { echo "check-readme: recipe $i: '$anchor' not found in $path" >&2; exit 1; }
        awk -v anchor="$anchor" -v block="$block" '
            !done && index($0, anchor) { while ((getline l < block) > 0) print l; done = 1 }
            { print }' "$scratch/$path" > "$scratch/$path.new"
        mv "$scratch/$path.new" "$scratch/$path" ;;
    *) echo "check-readme: recipe $i: unknown directive '$how'" >&2; exit 1 ;;
    esac
    echo "check-readme: applied recipe $i ($mode $path)"
    i=$((i + 1))
done
cd "$scratch"
make -j2 >build.log 2>&1 || { tail -30 build.log; echo "check-readme: the recipes do not build" >&2; exit 1; }
./gfnbench train hypergrid tbh dim=2 side=4 rounds=40 ad_draws=2000 > tbh.out 2>&1 ||
    { cat tbh.out; echo "check-readme: train hypergrid tbh failed" >&2; exit 1; }
./gfnbench target gc > gc.out 2>&1 || { cat gc.out; exit 1; }
grep -q '^terminals: 4096$' gc.out || { cat gc.out; echo "check-readme: task gc: expected 4^6 terminals" >&2; exit 1; }
./gfnbench train gc tb rounds=40 ad_draws=2000 > gctb.out 2>&1 || { cat gctb.out; exit 1; }
grep -q '^hellinger: ' gctb.out || { cat gctb.out; echo "check-readme: no hellinger in train's output" >&2; exit 1; }
./gfnbench list | grep -q '^  gc ' || { echo "check-readme: gc missing from gfnbench list" >&2; exit 1; }
i=1
while [ "$i" -le "$count" ]; do
    if [ "$(cat "$scratch/.recipes/$i.how")" = run ]; then
        sh -e -x "$scratch/.recipes/$i.block" > "run$i.log" 2>&1 ||
            { tail -20 "run$i.log"; echo "check-readme: README's shell block $i fails" >&2; exit 1; }
        echo "check-readme: ran README's shell block $i"
    fi
    i=$((i + 1))
done
make test > test.log 2>&1 || { grep -E "FAILED|^    [0-9]+\.|hostile" test.log | head -30; echo "check-readme: make test fails with the recipes" >&2; exit 1; }
grep -E "^ +tests " test.log
echo "check-readme: ok: $count recipe blocks applied; tbh, gc and hellinger build, train and pass the suite"
