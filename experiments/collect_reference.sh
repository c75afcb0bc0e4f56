#!/bin/sh
# collect_reference.sh EXPERIMENT [RESULTS_DIR] [PLOTS_DIR]: copies what a finished
# experiment's report wrote into results/reference/EXPERIMENT/ for committing:
# summary.md, summary.csv, paper_table.md, finals.csv and the PNG figures drawn
# against rounds (plus the log p_theta / log R scatter).  No run folders, no
# checkpoints.  Run `gfnbench report experiments/EXPERIMENT.yaml --out RESULTS_DIR
# --plots PLOTS_DIR` first.
set -eu
exp=$1 results=${2:-results} plots=${3:-plots}
cd "$(dirname "$0")/.."
src=$results/$exp
[ -f "$src/finals.csv" ] || { echo "collect_reference: no $src/finals.csv (run gfnbench report first)" >&2; exit 1; }
dst=results/reference/$exp
mkdir -p "$dst"
rm -f "$dst"/*.csv "$dst"/*.md "$dst"/*.png
cp "$src/summary.md" "$src/summary.csv" "$src/paper_table.md" "$src/finals.csv" "$dst/"
for f in "$plots/$exp"/curve_*_vs_rounds.png "$plots/$exp"/scatter_*.png; do
    [ -f "$f" ] && cp "$f" "$dst/"
done
echo "collect_reference: $dst:"
ls -l "$dst"
