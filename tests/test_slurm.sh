#!/bin/sh
# test_slurm.sh - `carbs slurm submit` against a real one-node Slurm that
# the test starts itself (the configuration of docs/platform.md, Slurm on one
# machine, with private ports, state, logs and its own munged in a temp
# dir): a `carbs serve` on tcp://127.0.0.1, two workers submitted as a job
# array, and the sweep's trials finished by workers named slurm-JOB_0 and
# slurm-JOB_1.
#
# Installs nothing: exits 77 (skipped) unless slurmctld, slurmd, sbatch,
# squeue, scancel and munged are installed (Debian: slurm-wlm munge) and
# it runs as root.  Needs CARBS_BIN; prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"

need slurmctld slurmd sbatch squeue scancel munged
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root"
"$carbs" worker --help >/dev/null 2>&1 || skip "this carbs has no worker command"

tmp_start slurm
chmod 700 "$tmp"
job=

stop_pidfile() {
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || return 0
    wait_for 10 sh -c '! kill -0 "$1"' sh "$pid" || kill -9 "$pid" 2>/dev/null
}

stop_slurm() {
    if [ -n "$job" ]; then
        scancel "$job" 2>/dev/null
    fi
    stop_pidfile "$tmp/slurmd.pid"
    stop_pidfile "$tmp/slurmctld.pid"
    stop_pidfile "$tmp/munged.pid"
    if [ "$failed" -ne 0 ]; then
        for f in "$tmp"/*.log; do
            [ -f "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
        done
    fi
}
at_exit=stop_slurm

# ---- munge and Slurm, private to this test ----
base=$((20000 + $$ % 20000))
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$tmp/munge.key"
mkdir -p "$tmp/state" "$tmp/spool"
if ! munged --force --socket="$tmp/munge.sock" --key-file="$tmp/munge.key" \
    --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge.seed" \
    >"$tmp/munged.out" 2>&1; then
    skip "munged does not start here: $(cat "$tmp/munged.out")"
fi
cat >"$tmp/slurm.conf" <<EOF
ClusterName=carbstest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$tmp/slurm.conf"
if slurmctld -c >"$tmp/slurmctld.out" 2>&1 && slurmd -N localhost >"$tmp/slurmd.out" 2>&1 &&
   wait_for 30 sh -c 'sinfo -h -o %t 2>/dev/null | grep -Eq "^(idle|mix|alloc)"'; then
    ok
else
    bad "slurm did not come up: $(cat "$tmp/slurmctld.out" "$tmp/slurmd.out"; sinfo 2>&1)"
    finish
    exit 1
fi

# ---- a sweep, its service, and two workers from Slurm ----
{
    branin_yaml slurm-branin
    echo 'carbs: {seed: 41, num_random_samples: 3, resample_frequency: 0}'
    echo 'budget: {trials: 8, parallel: 2}'
} >"$tmp/sweep.yaml"
port=$((base + 2))
if "$carbs" --db "$db" sweep create "$tmp/sweep.yaml" >/dev/null 2>"$tmp/err"; then ok; else
    bad "sweep create: $(cat "$tmp/err")"
fi
if serve_start "tcp://127.0.0.1:$port"; then ok; else
    bad "the service did not start"
fi

if "$carbs" slurm submit --connect "tcp://127.0.0.1:$port" --workers 2 -- \
    --output="$tmp/worker-%A_%a.log" --chdir="$tmp" >"$tmp/out" 2>"$tmp/err"; then
    job=$(sed -n 's/^{"job_id":\([0-9]*\),"workers":2,"connect":"tcp:.*"}$/\1/p' "$tmp/out")
fi
if [ -n "$job" ]; then ok; else bad "slurm submit: $(cat "$tmp/out" "$tmp/err")"; fi

# all 8 trials finished, within a generous bound
done_all() {
    "$carbs" --db "$db" trials slurm-branin --state done,failed >"$tmp/trials" 2>/dev/null &&
        [ "$(grep -c '"id":' "$tmp/trials")" -ge 8 ]
}
if [ -n "$job" ] && wait_for 120 done_all; then ok; else
    bad "trials did not finish: $("$carbs" --db "$db" status 2>&1; squeue 2>&1)"
fi
# by the array's workers, under the ids carbs worker derives under Slurm
if [ -n "$job" ] && grep -q "\"worker\":\"slurm-${job}_[01]\"" "$tmp/trials" &&
   ! grep -v "\"worker\":\"slurm-${job}_[01]\"" "$tmp/trials" | grep -q .; then ok; else
    bad "trials ran elsewhere: $(cat "$tmp/trials")"
fi
if "$carbs" --db "$db" workers >"$tmp/out" 2>&1 && grep -q "\"id\":\"slurm-${job}_0\"" "$tmp/out" &&
   grep -q "\"id\":\"slurm-${job}_1\"" "$tmp/out"; then ok; else
    bad "workers: $(cat "$tmp/out")"
fi

# scancel ends the workers: the job leaves the queue
if [ -n "$job" ] && scancel "$job" &&
   wait_for 30 sh -c "[ -z \"\$(squeue -h -j $job 2>/dev/null)\" ]"; then
    job=
    ok
else
    bad "job $job is still queued: $(squeue 2>&1)"
fi

finish
