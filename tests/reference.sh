#!/bin/sh
# reference.sh - the CI reference of experiments/ci_reference.yaml.
#
#   sh tests/reference.sh          (make test-reference) run the spec into a scratch folder,
#                                  report, and `gfnbench compare` the committed reference
#                                  results/reference/ci_reference with it: must agree (exit 0);
#                                  then a perturbed copy of the reference (tv + 10 in every
#                                  row of finals.csv) must be found to differ (exit 1)
#   sh tests/reference.sh update   (make update-reference) rewrite the reference from a fresh
#                                  run: summary.md, summary.csv, paper_table.md, finals.csv and
#                                  the figures as PNG (no run folders, no checkpoints)
set -eu
cd "$(dirname "$0")/.."
mode=${1:-check}
spec=experiments/ci_reference.yaml
ref=results/reference/ci_reference
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gfn_reference.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "reference: running $spec into $scratch (log: run.log there)"
if ! ./gfnbench run "$spec" --jobs 2 --out "$scratch/results" --plots "$scratch/plots" \
        >"$scratch/run.log" 2>&1; then
    cat "$scratch/run.log"
    echo "reference: FAIL: the run failed" >&2
    exit 1
fi
new=$scratch/results/ci_reference

if [ "$mode" = update ]; then
    mkdir -p "$ref"
    rm -f "$ref"/*.csv "$ref"/*.md "$ref"/*.png
    cp "$new/summary.md" "$new/summary.csv" "$new/paper_table.md" "$new/finals.csv" "$ref/"
    cp "$scratch/plots/ci_reference/"*.png "$ref/" 2>/dev/null ||
        echo "reference: no PNG figures (is gnuplot on PATH?)"
    echo "reference: updated $ref:"
    ls -l "$ref"
    exit 0
fi
[ "$mode" = check ] || { echo "usage: sh tests/reference.sh [check|update]" >&2; exit 2; }

status=0
./gfnbench compare "$ref" "$new" >"$scratch/compare.txt" || status=$?
cat "$scratch/compare.txt"
if [ "$status" -ne 0 ]; then
    echo "reference: FAIL: a fresh run of $spec differs from $ref (compare exit $status)" >&2
    exit 1
fi

# The check must be able to fail: the same comparison against a perturbed reference.
mkdir "$scratch/perturbed"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tv") c = i; print; next }
                  { if (c && $c != "") $c = $c + 10; print }' "$ref/finals.csv" \
    >"$scratch/perturbed/finals.csv"
status=0
./gfnbench compare "$ref" "$scratch/perturbed" >"$scratch/perturbed.txt" || status=$?
if [ "$status" -ne 1 ] || ! grep -q ' tv .* DIFFERS$' "$scratch/perturbed.txt"; then
    cat "$scratch/perturbed.txt"
    echo "reference: FAIL: compare did not find tv + 10 (exit $status, expected 1)" >&2
    exit 1
fi
echo "reference: ok: a fresh run agrees with $ref; a perturbed copy (tv + 10) differs (exit 1):"
grep ' DIFFERS$\|cells compared' "$scratch/perturbed.txt"
