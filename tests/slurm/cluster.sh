#!/bin/bash
# cluster.sh - a one-node Slurm cluster on this host for `make test-slurm` (run.sh).
#
#   bash tests/slurm/cluster.sh start DIR   start munged, slurmctld and slurmd with every
#                                           file under DIR; fails (printing the daemons'
#                                           logs) unless the node is idle within 60 s
#   bash tests/slurm/cluster.sh stop DIR    stop the daemons started into DIR, by the
#                                           pids recorded there (nothing else)
#
# Clients find the cluster through SLURM_CONF=DIR/etc/slurm.conf.  Run as root
# (SlurmUser and SlurmdUser root, jobs run as root).  The node has this machine's
# CPUs and memory (slurmd -C).  Ports: TEST_SLURM_PORT (default 16817) for slurmctld
# and the next one for slurmd, both unprivileged; the daemons listen on all
# addresses, and clients and daemons talk through 127.0.0.1.
# AuthInfo cred_expire=5: a requeued job waits cred_expire seconds before it may
# start again (120 s by default).
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}

stop() {
    # slurmd first (it runs the jobs), then the controller, then munged.
    for d in slurmd slurmctld munged; do
        local f="$dir/run/$d.pid"
        [ -s "$f" ] || continue
        local pid
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    done
}

show_logs() {
    for f in "$dir"/log/*.log; do
        [ -e "$f" ] || continue
        echo "--- $f (last lines)" >&2
        tail -n 25 "$f" >&2
    done
}

start() {
    mkdir -p "$dir"/{etc,run,log,state,spool,munge}
    chmod 700 "$dir/munge"
    # munge: a fresh key, its own socket, pid, log and seed files.
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    local sock=$dir/munge/munge.socket
    munged --foreground --force --socket="$sock" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed" >>"$dir/log/munged.log" 2>&1 &
    echo $! >"$dir/run/munged.pid"
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    [ -S "$sock" ] || { echo "cluster: munged did not start" >&2; show_logs; return 1; }

    local node cpus mem port=${TEST_SLURM_PORT:-16817}
    node=$(hostname -s)
    cpus=$(nproc)
    # RealMemory as slurmd measures it, less a little: a node that reports less
    # memory than slurm.conf says is drained.
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mem=$((mem * 9 / 10))
    cat >"$dir/etc/slurm.conf" <<EOF
# One-node test cluster of gfnbench's make test-slurm (tests/slurm/cluster.sh).
ClusterName=gfntest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
SlurmdPidFile=$dir/run/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$dir/etc/slurm.conf
    slurmctld -D -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/run/slurmctld.pid"
    slurmd -D -f "$SLURM_CONF" -N "$node" >>"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/run/slurmd.pid"
    for _ in $(seq 120); do
        if sinfo -h -N -o %T 2>/dev/null | grep -qx idle; then
            echo "cluster: node $node idle ($cpus CPUs, $mem MB), SLURM_CONF=$SLURM_CONF"
            return 0
        fi
        for d in slurmctld slurmd munged; do
            kill -0 "$(cat "$dir/run/$d.pid")" 2>/dev/null ||
                { echo "cluster: $d exited" >&2; show_logs; cat "$dir"/log/*.out >&2; return 1; }
        done
        sleep 0.5
    done
    echo "cluster: the node did not become idle within 60 s" >&2
    sinfo -N >&2 || true
    show_logs
    return 1
}

case $cmd in
start) start || { stop; exit 1; } ;;
stop) stop ;;
*) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
