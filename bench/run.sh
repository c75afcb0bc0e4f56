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
# Then the SSR round (f32 / f64, against PyTorch's SSR round), one qm9str SSR run with
# threads=1 and 2, exact evaluation, the kernels, sehstr's start-up and the projected
# cost of Table 1, and last a block of `figure NAME VALUE` lines (issue 13's figures).
# Knobs: BENCH_ROUNDS_TFBIND8 (default 500), BENCH_ROUNDS_QM9STR (default 60),
# BENCH_SKIP_GBTREE=1 skips the 20 s tree-ensemble benchmark, BENCH_SKIP_ESTIMATE=1
# the projected cost (several minutes).
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
        eval "sa_speedup_${t}_$prec=\$(ratio \"\$h1\" \"\$p1\")"
        [ "$t.$prec" = tfbind8.f64 ] && cp "$TMP/h1.txt" "$TMP/sa_tfbind8_f64.txt"
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

# SSR (issue 13): the same TB + PRT round with policy=ssr, float32 against float64, and
# against PyTorch's SSR round (bench/torch_round.py --policy ssr: its fastest dtype and
# first-layer form).
# Knobs: BENCH_SSR_ROUNDS_TFBIND8 (default 150), BENCH_SSR_ROUNDS_QM9STR (default 15).
S_tfbind8=${BENCH_SSR_ROUNDS_TFBIND8:-150}
S_qm9str=${BENCH_SSR_ROUNDS_QM9STR:-15}
for t in tfbind8 qm9str; do
    eval R=\$S_$t
    ps=n/a
    if [ $have_torch = 1 ]; then
        best=0
        # Both dtypes and both forms of the scorer's first layer (concat: the authors';
        # split: the harness's, fewer operations): the fastest counts.
        for dt in float32 float64; do
            for form in concat split; do
                if $PY bench/torch_round.py --task $t --policy ssr --rounds "$R" --threads 1 \
                       --dtype $dt --ssr-first-layer $form > "$TMP/ts.txt" 2>&1; then
                    r=$(ratio "$R" "$(tval "$TMP/ts.txt" cpu_seconds)")
                    echo "  pytorch $t ssr $dt $form: 1 thread $r rounds/cpu-s"
                    best=$(max2 "$best" "$r")
                else
                    echo "  pytorch $t ssr $dt $form: failed ($(tail -1 "$TMP/ts.txt"))"
                fi
            done
        done
        [ "$best" != 0 ] && ps=$best
    fi
    for prec in f64 f32; do
        ./gfnbench train $t tb replay=prt policy=ssr rounds="$R" exact=off precision=$prec \
            > "$TMP/hs.txt" 2>/dev/null
        eval "ssr_${t}_$prec=\$(hval \"\$TMP/hs.txt\" rounds_per_cpu_s)"
    done
    eval "hf32=\$ssr_${t}_f32 hf64=\$ssr_${t}_f64"
    echo "${t}_ssr_1thread: harness_f64_rounds_per_s=$hf64 harness_f32_rounds_per_s=$hf32" \
         "pytorch_rounds_per_s=$ps f32_over_f64=$(ratio "$hf32" "$hf64") speedup_f32=$(ratio "$hf32" "$ps")"
    eval "ssr_f32_over_f64_$t=\$(ratio \"\$hf32\" \"\$hf64\")"
    eval "ssr_vs_pytorch_$t=\$(ratio \"\$hf32\" \"\$ps\")"
done

# Threads within a run: one qm9str SSR f32 run with threads=1 and threads=2, rounds per
# WALL second (the point of threads); only meaningful on an otherwise idle machine.
thr_rate() {
    ./gfnbench train qm9str tb replay=prt policy=ssr rounds="$S_qm9str" exact=off precision=f32 \
        threads=$1 > "$TMP/th.txt" 2>/dev/null && hval "$TMP/th.txt" rounds_per_s
}
if [ "$NPROC" -ge 2 ]; then
    th1=$(thr_rate 1) th2=$(thr_rate 2)
    echo "qm9str_ssr_f32_threads: threads1_rounds_per_s=$th1 threads2_rounds_per_s=$th2" \
         "(wall; load $(cut -d' ' -f1 /proc/loadavg))"
    threads2=$(ratio "$th2" "$th1")
else
    threads2=n/a
fi

# Exact evaluation (harness/run/exact.c) with a random SA P_F of the paper's size.
./build/bench_exact tfbind8 qm9str tfbind10
./build/bench_nn 0.3 | tee "$TMP/nn.txt"
if [ "${BENCH_SKIP_GBTREE:-0}" != 1 ]; then
    ./build/bench_gbtree
fi

# The tfbind8 SA f64 round against the dgemm peak bench_nn measured: FLOP per round
# = 2 x parameters x (states forward + 2 x states back-propagated), P_F and P_B (the
# parameters count the ~1% biases as multiply-adds too).
peak=$(awk '/^peak dgemm/ {for (i = 1; i <= NF; i++) if ($i == "GFLOP/s") print $(i - 1)}' "$TMP/nn.txt")
sa128=$(awk -v r="$(hval "$TMP/sa_tfbind8_f64.txt" rounds_per_cpu_s)" \
            -v pf="$(hval "$TMP/sa_tfbind8_f64.txt" pf_params)" \
            -v pb="$(hval "$TMP/sa_tfbind8_f64.txt" pb_params)" \
            -v f1="$(hval "$TMP/sa_tfbind8_f64.txt" pf_states_fwd_per_round)" \
            -v b1="$(hval "$TMP/sa_tfbind8_f64.txt" pf_states_bwd_per_round)" \
            -v f2="$(hval "$TMP/sa_tfbind8_f64.txt" pb_states_fwd_per_round)" \
            -v b2="$(hval "$TMP/sa_tfbind8_f64.txt" pb_states_bwd_per_round)" -v peak="$peak" \
            'BEGIN { fl = 2 * (pf * (f1 + 2 * b1) + pb * (f2 + 2 * b2));
                     if (peak + 0 > 0 && r + 0 > 0) {
                         printf "%.2f", r * fl / 1e9 / peak
                         printf "tfbind8 SA f64: %.1f MFLOP per round, %.2f GFLOP/s, dgemm peak %.2f\n", fl / 1e6, r * fl / 1e9, peak > "/dev/stderr"
                     } else print "n/a" }')

# sehstr start-up: `gfnbench train sehstr tb rounds=1` as a whole process.
/usr/bin/time -f "%e %U %S %M" -o "$TMP/seh_time.txt" ./gfnbench train sehstr tb rounds=1 \
    > "$TMP/seh.txt" 2>/dev/null || true
read -r seh_wall seh_user seh_sys seh_kb < "$TMP/seh_time.txt" || true
echo "sehstr_setup: wall ${seh_wall:-n/a} s, user ${seh_user:-n/a} s, sys ${seh_sys:-n/a} s," \
     "peak $(awk -v k="${seh_kb:-0}" 'BEGIN {printf "%.0f", k / 1024}') MB"

# Projected cost of the paper's experiments on this machine (issue 13 item 7):
# `gfnbench run SPEC --estimate` times 30 rounds and one exact evaluation of every
# variant and projects CPU-hours per run and in all.  BENCH_SKIP_ESTIMATE=1 skips it
# (the SSR probes of tfbind10 and sehstr take a few minutes).
table1=n/a
if [ "${BENCH_SKIP_ESTIMATE:-0}" != 1 ]; then
    table1=0
    for spec in experiments/table1_bag.yaml experiments/table1_tfbind8.yaml \
                experiments/table1_qm9str.yaml experiments/table1_tfbind10.yaml \
                experiments/table1_sehstr.yaml; do
        ./gfnbench run "$spec" --estimate > "$TMP/est.txt" 2>&1 ||
            { echo "estimate of $spec failed:"; cat "$TMP/est.txt"; table1=n/a; continue; }
        echo "projected_cost $(basename "$spec" .yaml): $(grep '^total:' "$TMP/est.txt")"
        [ "$table1" != n/a ] &&
            table1=$(awk -v a="$table1" -v b="$(awk '/^total:/ {print $2}' "$TMP/est.txt")" \
                         'BEGIN {printf "%.1f", a + b}')
    done
fi

# The issue 13 figures, one per line, for scripts (EXPERIMENTS.md section 6 quotes them).
echo
echo "figure ssr_f32_over_f64_tfbind8 ${ssr_f32_over_f64_tfbind8:-n/a}"
echo "figure ssr_f32_over_f64_qm9str ${ssr_f32_over_f64_qm9str:-n/a}"
echo "figure ssr_vs_pytorch_tfbind8_f32 ${ssr_vs_pytorch_tfbind8:-n/a}"
echo "figure ssr_vs_pytorch_qm9str_f32 ${ssr_vs_pytorch_qm9str:-n/a}"
echo "figure sa_vs_pytorch_tfbind8_f32 ${sa_speedup_tfbind8_f32:-n/a}"
echo "figure sa_vs_pytorch_qm9str_f32 ${sa_speedup_qm9str_f32:-n/a}"
echo "figure threads2_over_threads1_qm9str_ssr_f32 ${threads2:-n/a}"
echo "figure sa128_gemm_peak_fraction_f64 ${sa128:-n/a}"
echo "figure sehstr_setup_seconds ${seh_wall:-n/a}"
echo "figure sehstr_setup_peak_mb $(awk -v k="${seh_kb:-}" 'BEGIN {if (k + 0 > 0) printf "%.0f", k / 1024; else print "n/a"}')"
echo "figure table1_cpu_hours $table1"
