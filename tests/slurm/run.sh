#!/bin/bash
# run.sh - `make test-slurm`: gfnbench on a real one-node Slurm cluster.
#
#   bash tests/slurm/run.sh [GFNBENCH]     (default ./gfnbench; run as root)
#
# 1. Installs slurm-wlm and munge (Debian packages, apt-get) when missing.
# 2. Starts a one-node cluster on this host, everything in a scratch folder: munged
#    with its own key and socket, slurmctld and slurmd (cluster.sh) on unprivileged
#    ports, select/cons_tres, proctrack/linuxproc, task/none.
# 3. `gfnbench slurm tests/slurm/tiny.yaml --submit`: a job array of the 6 runs and a
#    report job after it.  While run 0's task runs, `scontrol requeue` kills it and
#    puts it back in the queue (a preemption); while run 1's runs, its batch shell gets
#    the SIGUSR1 that Slurm sends before the time limit, so the script stops the run
#    and requeues the task itself.  Both must run again (their logs say "start 2").
# 4. Waits (at most TEST_SLURM_TIMEOUT seconds, default 300) for the report job, then
#    checks every run is done, the report exists, and the results equal a local
#    `gfnbench run --jobs 2` of the same spec: metrics.tsv, logp.tsv and config.txt of
#    every run and the report's summary.csv byte for byte (summary.txt and finals.csv
#    with their wall_seconds cut), and `gfnbench compare` says they agree.
# It stops the daemons it started (by pid) and removes its folder on any exit.
# A cluster that cannot start is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
gfnbench=$(realpath "${1:-./gfnbench}")
spec=$root/tests/slurm/tiny.yaml
exp=slurm_tiny
timeout=${TEST_SLURM_TIMEOUT:-300}

say() { echo "test-slurm: $*"; }
fail() {
    echo "test-slurm: FAIL: $*" >&2
    exit 1
}

# ---- 1. packages ----
need=""
for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    [ "$(id -u)" = 0 ] || fail "slurm-wlm and munge are missing; run: sudo apt-get install -y$need"
    say "installing$need (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >/dev/null; }; } ||
        fail "apt-get install$need failed"
fi
[ "$(id -u)" = 0 ] || fail "run as root: the test cluster's daemons run as root"

# ---- 2. the cluster ----
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gfn_slurm.XXXXXX")
chmod 755 "$scratch"
cleanup() {
    bash "$root/tests/slurm/cluster.sh" stop "$scratch" || true
    [ -n "${TEST_SLURM_KEEP:-}" ] && echo "test-slurm: kept $scratch" || rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bash tests/slurm/cluster.sh start "$scratch" || fail "the one-node Slurm cluster did not start"
export SLURM_CONF=$scratch/etc/slurm.conf
sinfo -N -o '%N %T %c %m' | sed 's/^/  /'

# ---- 3. submit, requeue one task mid-run ----
out=$scratch/cluster
say "gfnbench slurm $spec --submit (results in $out)"
"$gfnbench" slurm "$spec" --out "$out" --plots "$scratch/cluster-plots" --time 10 \
    --cpus-per-task 1 --mem 500 --signal-lead 60 --submit | tee "$scratch/submit.txt"
ids=$(grep '^array_job_id=' "$scratch/submit.txt") || fail "no job ids in gfnbench slurm's output"
array_id=$(echo "$ids" | sed 's/^array_job_id=\([0-9]*\) .*/\1/')
report_id=$(echo "$ids" | sed 's/.* report_job_id=\([0-9]*\)$/\1/')
grep -q -- '--array=0-5$' "$out/$exp/slurm/array.sbatch" || fail "the array does not hold runs 0-5"

# Waits until array task $1 runs and its run (folder $2) has written metrics.
deadline=$((SECONDS + timeout))
wait_mid_run() {
    local task=${array_id}_$1 dir=$2 state
    while [ $SECONDS -lt $deadline ]; do
        [ -e "$dir/run.txt" ] && fail "run $1 finished before it could be stopped (make the spec longer)"
        state=$(squeue -h -j "$task" -o %T 2>/dev/null || true)
        if [ "$state" = RUNNING ] && [ -s "$dir/metrics.tsv" ] &&
            [ "$(wc -l <"$dir/metrics.tsv")" -ge 3 ]; then
            at=$(tail -n 1 "$dir/metrics.tsv" | cut -f 1)
            return 0
        fi
        sleep 0.1
    done
    fail "task $task never ran within ${timeout} s"
}
# Preemption, as a scheduler does it: `scontrol requeue` of run 0's task.
wait_mid_run 0 "$out/$exp/tb/seed0"
say "scontrol requeue ${array_id}_0 while its run is at round $at"
scontrol requeue "${array_id}_0" || fail "scontrol requeue failed"
# The time limit drawing near: the SIGUSR1 that --signal=B:USR1@S sends the batch shell,
# here by hand to run 1's task; the script stops its run and requeues the task itself.
wait_mid_run 1 "$out/$exp/tb/seed1"
say "SIGUSR1 to the batch shell of ${array_id}_1 (as before a time limit) at round $at"
# scancel retries while the task is being requeued ("try again later") and would signal
# its next start too: one try is enough, the checks below see whether it arrived.
timeout 3 scancel --batch --signal=USR1 "${array_id}_1" || true
"$gfnbench" status "$spec" --out "$out" | sed 's/^/  /'

# ---- 4. wait for the report job ----
say "waiting for the array ($array_id) and the report job ($report_id), at most ${timeout} s"
while [ -n "$(squeue -h -j "$array_id,$report_id" -o %i 2>/dev/null || echo pending)" ]; do
    if [ $SECONDS -ge $deadline ]; then
        squeue | sed 's/^/  /'
        tail -n 20 "$scratch"/log/slurmctld.log | sed 's/^/  /'
        fail "the jobs did not finish within ${timeout} s"
    fi
    sleep 1
done
for log in "$out/$exp/slurm/logs/"*.out; do
    echo "  --- ${log##*/}"
    sed 's/^/    /' "$log"
done
scontrol show job "$report_id" | grep -q 'JobState=COMPLETED' ||
    fail "the report job did not complete: $(scontrol show job "$report_id" | grep -o 'JobState=[A-Z]*')"
grep -q "start 2" "$out/$exp/slurm/logs/${array_id}_0.out" ||
    fail "the requeued task ${array_id}_0 did not run again"
grep -q "time limit near" "$out/$exp/slurm/logs/${array_id}_1.out" ||
    fail "task ${array_id}_1 did not stop its run on SIGUSR1"
grep -q "start 2" "$out/$exp/slurm/logs/${array_id}_1.out" ||
    fail "task ${array_id}_1 did not requeue itself and run again after SIGUSR1"
status=$("$gfnbench" status "$spec" --out "$out")
echo "$status" | sed 's/^/  /'
echo "$status" | grep -Eq '^  done +6( |$)' || fail "not every run is done"
for f in summary.md summary.csv finals.csv paper_table.md; do
    [ -s "$out/$exp/$f" ] || fail "the report job did not write $f"
done

# ---- 5. the same results as a local run ----
say "the same spec locally (--jobs 2)"
"$gfnbench" run "$spec" --jobs 2 --out "$scratch/local" --plots "$scratch/local-plots" \
    >"$scratch/local.log" 2>&1 || { cat "$scratch/local.log"; fail "the local run failed"; }
loc=$scratch/local/$exp
for run in tb/seed0 tb/seed1 db/seed0 db/seed1 tb+prt/seed0 tb+prt/seed1; do
    for f in metrics.tsv config.txt logp.tsv; do
        cmp -s "$loc/$run/$f" "$out/$exp/$run/$f" || fail "$run/$f differs from the local run"
    done
    # summary.txt ends with the run's wall_seconds: compare everything else.
    [ "$(grep -v '^wall_seconds:' "$loc/$run/summary.txt")" = \
        "$(grep -v '^wall_seconds:' "$out/$exp/$run/summary.txt")" ] ||
        fail "$run/summary.txt differs from the local run (wall_seconds aside)"
done
cmp -s "$loc/summary.csv" "$out/$exp/summary.csv" || fail "summary.csv differs from the local run"
# finals.csv ends with each run's wall_seconds: compare everything else.
cut_wall() { awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") w = i }
                               { if (w) $w = ""; print }' "$1"; }
[ "$(cut_wall "$loc/finals.csv")" = "$(cut_wall "$out/$exp/finals.csv")" ] ||
    fail "finals.csv differs from the local run (wall_seconds aside)"
"$gfnbench" compare "$loc" "$out/$exp" >"$scratch/compare.txt" ||
    { cat "$scratch/compare.txt"; fail "gfnbench compare: the cluster's results differ"; }
grep 'cells compared' "$scratch/compare.txt" || true
say "ok: 6 runs as a Slurm job array (two stopped mid-run, requeued, run again) and the report job;"
say "ok: the results equal a local run byte for byte and gfnbench compare agrees"
