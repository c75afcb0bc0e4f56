#!/bin/sh
# run.sh - `make bench`: the speed of the harness against PyTorch (issue 7), exact
# evaluation throughput, and the neural-core and tree-ensemble micro-benchmarks.
#
# One line per training case:
#   NAME: harness_rounds_per_s=H pytorch_rounds_per_s=P speedup=H/P
# NAME = TASK_1thread_PREC or TASK_allcores_PREC, PREC the harness's precision
# (f64 default, f32 = float32 networks, Adam in double).  P is always PyTorch's
# FASTER configuration (float32 or float64, whichever gives more rounds/s).
#   1thread:  one process, one thread each side; rounds per CPU second (process
#             CPU time, so other jobs on the machine do not distort it).
#   allcores: the harness is single-threaded by design (runs are parallel across
#             processes), so it runs NPROC copies of the same run at once and
#             reports their aggregate rounds per wall second; PyTorch runs one
#             process with all cores (--threads 0), rounds per wall second.
# Both sides run the same round: tb with prt replay, batch 16 + 16, the task's
# steps per batch (tfbind8 3, qm9str 1), epsilon (0.01 / 0.1), 128 monitor
# samples every 10 rounds; the harness through `gfnbench train` itself.
# Knobs: BENCH_ROUNDS_TFBIND8 (default 500), BENCH_ROUNDS_QM9STR (default 60),
# BENCH_SKIP_GBTREE=1 skips the 20 s tree-ensemble benchmark.
set -e
cd "$(dirname "$0")/.."
make -s gfnbench build/bench_nn build/bench_gbtree build/bench_exact build/check_torch
PY=/usr/bin/python3
R_tfbind8=${BENCH_ROUNDS_TFBIND8:-500}
R_qm9str=${BENCH_ROUNDS_QM9STR:-60}
NPROC=$(nproc)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $NPROC cores," \
     "$(free -g | awk '/Mem:/ {print $2}') GB, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(ls /usr/lib/x86_64-linux-gnu/libopenblas*.so* 2>/dev/null | head -1 | xargs -r basename)"

have_torch=1
if ! $PY -c "import torch" 2>/dev/null; then
    have_torch=0
    echo "pytorch: python3-torch is not installed: the PyTorch side is skipped (apt-get install python3-torch)"
fi

# key: value from gfnbench output file $1, key $2
hval() { awk -v k="$2:" '$1 == k {print $2}' "$1"; }
# key=value from torch_round.py output file $1, key $2
tval() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
max2() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }

# Equal work: the harness's loss, per-trajectory sums and gradient on PyTorch's
# weights and trajectories (float64), and 3 optimiser steps (joint clipping).
if [ $have_torch = 1 ]; then
    for t in tfbind8 qm9str; do
        if $PY bench/torch_round.py --task $t --dump-check "$TMP/check_$t" --clip joint > "$TMP/dump_$t.txt" 2>&1; then
            ./build/check_torch "$TMP/check_$t" || true
        else
            echo "check_torch $t: FAIL (torch_round.py --dump-check failed:" \
                 "$(tail -1 "$TMP/dump_$t.txt"))"
        fi
    done
fi

for t in tfbind8 qm9str; do
    eval R=\$R_$t
    # PyTorch: both dtypes, the faster counts.
    p1=n/a pa=n/a
    if [ $have_torch = 1 ]; then
        best1=0 besta=0 rss=0
        for dt in float32 float64; do
            $PY bench/torch_round.py --task $t --rounds "$R" --threads 1 --dtype $dt > "$TMP/t1.txt" 2>&1
            r1=$(ratio "$R" "$(tval "$TMP/t1.txt" cpu_seconds)")
            $PY bench/torch_round.py --task $t --rounds "$R" --threads 0 --dtype $dt > "$TMP/ta.txt" 2>&1
            ra=$(tval "$TMP/ta.txt" pytorch_rounds_per_s)
            echo "  pytorch $t $dt: 1 thread $r1 rounds/cpu-s, all cores $ra rounds/s," \
                 "peak_rss_mb=$(awk -v k="$(tval "$TMP/t1.txt" peak_rss_kb)" 'BEGIN {printf "%.1f", k / 1024}')"
            best1=$(max2 "$best1" "$r1")
            besta=$(max2 "$besta" "$ra")
        done
        p1=$best1 pa=$besta
    fi
    for prec in f64 f32; do
        args="$t tb replay=prt rounds=$R exact=off precision=$prec"
        ./gfnbench train $args > "$TMP/h1.txt" 2>/dev/null
        h1=$(hval "$TMP/h1.txt" rounds_per_cpu_s)
        echo "${t}_1thread_$prec: harness_rounds_per_s=$h1 pytorch_rounds_per_s=$p1 speedup=$(ratio "$h1" "$p1")" \
             "(harness peak_rss_mb=$(hval "$TMP/h1.txt" peak_rss_mb);" \
             "network states per round: P_F $(hval "$TMP/h1.txt" pf_states_fwd_per_round) forward" \
             "+ $(hval "$TMP/h1.txt" pf_states_bwd_per_round) backward," \
             "P_B $(hval "$TMP/h1.txt" pb_states_fwd_per_round) + $(hval "$TMP/h1.txt" pb_states_bwd_per_round))"
        start=$(date +%s.%N)
        i=0
        while [ $i -lt "$NPROC" ]; do
            ./gfnbench train $args seed=$i > "$TMP/ha$i.txt" 2>/dev/null &
            i=$((i + 1))
        done
        wait
        end=$(date +%s.%N)
        ha=$(awk -v r="$R" -v n="$NPROC" -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", r * n / (e - s)}')
        echo "${t}_allcores_$prec: harness_rounds_per_s=$ha pytorch_rounds_per_s=$pa speedup=$(ratio "$ha" "$pa")" \
             "(harness: $NPROC runs at once, aggregate)"
    done
done

# Exact evaluation (harness/run/exact.c) with a random SA P_F of the paper's size.
./build/bench_exact tfbind8 qm9str tfbind10
./build/bench_nn 0.3
if [ "${BENCH_SKIP_GBTREE:-0}" != 1 ]; then
    ./build/bench_gbtree
fi

# Projected cost of the paper's experiments on this machine (issue 13 item 7):
# `gfnbench run SPEC --estimate` times 30 rounds and one exact evaluation of every
# variant and projects CPU-hours per run and in all.  BENCH_SKIP_ESTIMATE=1 skips it
# (the SSR probes of tfbind10 and sehstr take a few minutes).
if [ "${BENCH_SKIP_ESTIMATE:-0}" != 1 ]; then
    for spec in experiments/table1_bag.yaml experiments/table1_tfbind8.yaml \
                experiments/table1_qm9str.yaml experiments/table1_tfbind10.yaml \
                experiments/table1_sehstr.yaml; do
        ./gfnbench run "$spec" --estimate > "$TMP/est.txt" 2>&1 ||
            { echo "estimate of $spec failed:"; cat "$TMP/est.txt"; continue; }
        echo "projected_cost $(basename "$spec" .yaml): $(grep '^total:' "$TMP/est.txt")"
    done
fi
