#!/usr/bin/env bash
# bomdata under a real Slurm (one node, this machine): installs Debian's slurm-wlm and munge,
# creates a munge key, writes a one-node slurm.conf (2 CPUs, no cgroups), starts munged,
# slurmctld and slurmd (as root, all state under a temporary folder), waits for the node to be
# idle, then:
#   1. `sbatch --array=0-3` of `bomdata ingest` on a generated multi-modality BIDS tree (T1w,
#      FLAIR, BOLD, DWI, PET), `bomdata merge` as a dependent job (--dependency=afterok): the
#      dataset byte-identical to a one-process ingest (every file outside the .ingest state);
#   2. the same with task 2 made to fail (BOMDATA_FAIL_RANK=2, test-only fault injection: the
#      task exits 86 after its first unit): the dependent merge never runs; `sbatch --array=2`
#      of that task alone, then the merge: the same bytes;
#   3. `bomdata shard` (volume profile) as an array job plus a dependent merge: byte-identical
#      to a one-process `bomdata shard`.
# Prints the timings (array of 4 vs one process). The daemons are stopped on exit; on failure
# their logs and the jobs' outputs are printed.
#
# Environment: BOMDATA_BIN (default $CARGO_TARGET_DIR/debug/bomdata, built here),
# SLURM_TEST_SUBJECTS (default 12), SLURM_TEST_TIMEOUT (seconds per wait, default 300),
# SLURM_TEST_KEEP=1 keeps the work folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SUBJECTS=${SLURM_TEST_SUBJECTS:-12}
TIMEOUT=${SLURM_TEST_TIMEOUT:-300}

say() { printf 'test-slurm: %s\n' "$*"; }

# --- build ------------------------------------------------------------------------------------
if [ -z "${BOMDATA_BIN:-}" ]; then
    cargo build -q -p bomdata
    BOMDATA_BIN=$CARGO_TARGET_DIR/debug/bomdata
fi
cargo build -q -p bomdata-testdata --example write_tree
WRITE_TREE=$CARGO_TARGET_DIR/debug/examples/write_tree
BIN=$(realpath "$BOMDATA_BIN")

# --- packages ---------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    say "installing slurm-wlm and munge"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "test-slurm: the daemons run as root here (SlurmUser=root); run this as root" >&2
    exit 1
fi

# --- work folder, daemons ---------------------------------------------------------------------
W=$(mktemp -d /tmp/bomdata-slurm.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/munge" "$W/state" "$W/spool" "$W/log" "$W/jobs"
chmod 711 "$W/munge"
PIDS=()
STATUS=1

dump_logs() {
    echo "---- test-slurm: diagnostics ($W) ----" >&2
    for f in "$W"/log/* "$W"/munge/munged.log; do
        [ -f "$f" ] || continue
        echo "---- $f (last 60 lines)" >&2
        tail -n 60 "$f" >&2
    done
    for f in "$W"/jobs/*.out; do
        [ -f "$f" ] || continue
        echo "---- $f" >&2
        tail -n 20 "$f" >&2
    done
    if [ -n "${SLURM_CONF:-}" ]; then
        sinfo -N -l >&2 2>&1 || true
        squeue -l >&2 2>&1 || true
    fi
}

# PIDs of the processes holding a file under $W open (job steps and their bomdata processes,
# which outlive a stopped slurmd): this test's processes only.
holders_of_w() {
    local d p
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" != $$ ] || continue
        if ls -l "$d/fd" 2>/dev/null | grep -q -- "-> $W/"; then echo "$p"; fi
    done
}

cleanup() {
    local rc=$?
    [ "$STATUS" -eq 0 ] || dump_logs
    # Cancel what is still queued or running, and let it end while slurmd still runs.
    if [ -n "${SLURM_CONF:-}" ] && scontrol ping >/dev/null 2>&1; then
        squeue -h -o %A 2>/dev/null | sort -u | xargs -r scancel 2>/dev/null || true
        for _ in $(seq 30); do squeue -h 2>/dev/null | grep -q . || break; sleep 1; done
    fi
    # Stop only the daemons this script started, newest first.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    for p in $(holders_of_w); do kill -9 "$p" 2>/dev/null || true; done
    if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "test-slurm: FAILED: $*" >&2
    exit 1
}

# Waits until `cond` (a command) succeeds, at most TIMEOUT seconds.
wait_for() {
    local what=$1; shift
    local start=$SECONDS
    until "$@"; do
        if ((SECONDS - start > TIMEOUT)); then
            fail "timed out after ${TIMEOUT}s waiting for $what"
        fi
        sleep 1
    done
}

HOST=$(hostname -s)
# Ports away from the defaults, so a Slurm already on the machine is left alone.
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-16817}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-16818}

dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
MUNGE_SOCKET=$W/munge/munge.socket
munged --foreground --force --key-file="$W/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$W/munge/munged.pid" --log-file="$W/munge/munged.log" \
    --seed-file="$W/munge/munged.seed" >"$W/log/munged.stdout" 2>&1 &
PIDS+=($!)
wait_for "munged's socket" test -S "$MUNGE_SOCKET"

cat >"$W/slurm.conf" <<EOF
ClusterName=bomdata-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=120
InactiveLimit=0
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$W/slurm.conf

slurmctld -D -i -f "$SLURM_CONF" >"$W/log/slurmctld.stdout" 2>&1 &
PIDS+=($!)
ctld_up() { scontrol ping >/dev/null 2>&1; }
wait_for "slurmctld to answer" ctld_up
slurmd -D -N "$HOST" -f "$SLURM_CONF" >"$W/log/slurmd.stdout" 2>&1 &
PIDS+=($!)
node_idle() {
    local s
    s=$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null || true)
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || fail "a daemon ($p) exited; see its log below"
    done
    [ "$s" = idle ]
}
wait_for "node $HOST to be idle" node_idle
say "slurm is up: node $HOST idle ($(sinfo -V))"

# --- jobs -------------------------------------------------------------------------------------
export BOMDATA_KEY=slurm-test-key-0123456789
unset BOMDATA_FAIL_RANK

# Submits a job (sbatch arguments), prints its id.
submit() { sbatch --parsable --chdir="$W" --output="$W/jobs/%x-%A_%a.out" "$@" | cut -d';' -f1; }

job_done() { ! squeue -h -j "$1" 2>/dev/null | grep -q .; }
# Waits for every task of job $1 to leave the queue.
wait_job() { wait_for "job $1 ($2)" job_done "$1"; }
expect_completed() {
    local bad
    bad=$(scontrol -o show job "$1" | grep -v 'JobState=COMPLETED' || true)
    [ -z "$bad" ] || fail "job $1 ($2) did not complete: $(echo "$bad" | grep -o 'JobId=[0-9]* \|ArrayTaskId=[0-9]*\|JobState=[A-Z_]*\|ExitCode=[0-9:]*' | tr '\n' ' ')"
}
same_bytes() {
    local what=$1 a=$2 b=$3
    diff -r -x .ingest "$a" "$b" >"$W/diff.txt" 2>&1 ||
        fail "$what: $b differs from the one-process $a: $(head -c 2000 "$W/diff.txt")"
    local n
    n=$(cd "$a" && find . -path ./.ingest -prune -o -type f -print | wc -l)
    say "$what: $n files byte-identical to one process"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

"$WRITE_TREE" bids "$W/tree" "$SUBJECTS"
SHARD_ARGS="--profile volume --param target=[24,24,24] --max-shard-samples 7"

# One process: the reference bytes and time.
t0=$(now)
"$BIN" ingest "$W/tree" --out "$W/ingest-one" -j 1 2>"$W/jobs/ingest-one.out"
t_ingest_one=$(secs "$t0" "$(now)")

# The array jobs are the scripts `bomdata slurm-template` prints (the README's template).
template() { "$BIN" slurm-template --tasks 4 --cpus-per-task 1 --time 30:00 "$@"; }
template ingest "$W/tree" --out "$W/ingest-array" >"$W/ingest-array.sbatch"
template ingest "$W/tree" --out "$W/ingest-retry" >"$W/ingest-retry.sbatch"
# shellcheck disable=SC2086
template shard "$W/ingest-one" --out "$W/shard-array" -- $SHARD_ARGS >"$W/shard-array.sbatch"

# 1. Array of 4, merge as a dependent job.
t0=$(now)
A=$(submit --job-name=ingest "$W/ingest-array.sbatch")
M=$(submit --dependency=afterok:"$A" --kill-on-invalid-dep=yes --job-name=merge \
    --wrap "exec $BIN merge $W/ingest-array")
wait_job "$A" "ingest array"
t_ingest_tasks=$(secs "$t0" "$(now)")
wait_job "$M" "merge"
t_ingest_array=$(secs "$t0" "$(now)")
expect_completed "$A" "ingest array"
expect_completed "$M" "merge"
same_bytes "ingest, array of 4 + merge" "$W/ingest-one" "$W/ingest-array"

# 2. Task 2 fails; the merge waits for nothing; task 2 alone is resubmitted, then the merge.
A=$(BOMDATA_FAIL_RANK=2 submit --job-name=ingest-fail "$W/ingest-retry.sbatch")
M=$(submit --dependency=afterok:"$A" --kill-on-invalid-dep=yes --job-name=merge-fail \
    --wrap "exec $BIN merge $W/ingest-retry")
wait_job "$A" "ingest array with a failing task"
failed=$(scontrol -o show job "$A" | grep -v 'JobState=COMPLETED' | grep -o 'ArrayTaskId=[0-9]*' || true)
[ "$failed" = "ArrayTaskId=2" ] || fail "expected task 2 alone to fail, got: ${failed:-none}"
scontrol -o show job "$A" | grep 'ArrayTaskId=2 ' | grep -q 'ExitCode=86:0' ||
    fail "task 2 did not end with the injected status 86"
wait_job "$M" "merge after a failed task (cancelled: dependency never satisfied)"
scontrol -o show job "$M" | grep -q 'JobState=COMPLETED' && fail "the merge ran although task 2 failed"
[ ! -e "$W/ingest-retry/manifest.json" ] || fail "a manifest was written although task 2 failed"
say "task 2 failed as injected (exit 86); the dependent merge did not run"
A2=$(submit --array=2 --job-name=ingest-retry "$W/ingest-retry.sbatch")
M=$(submit --dependency=afterok:"$A2" --kill-on-invalid-dep=yes --job-name=merge-retry \
    --wrap "exec $BIN merge $W/ingest-retry")
wait_job "$A2" "resubmitted task 2"
wait_job "$M" "merge after the resubmission"
expect_completed "$A2" "resubmitted task 2"
expect_completed "$M" "merge after the resubmission"
same_bytes "ingest, task 2 failed and resubmitted alone" "$W/ingest-one" "$W/ingest-retry"

# 3. Distributed shard: array of 4 + merge, against one process.
t0=$(now)
# shellcheck disable=SC2086
"$BIN" shard "$W/ingest-one" --out "$W/shard-one" $SHARD_ARGS -j 1 2>"$W/jobs/shard-one.out"
t_shard_one=$(secs "$t0" "$(now)")
t0=$(now)
A=$(submit --job-name=shard "$W/shard-array.sbatch")
M=$(submit --dependency=afterok:"$A" --kill-on-invalid-dep=yes --job-name=shard-merge \
    --wrap "exec $BIN merge $W/shard-array")
wait_job "$A" "shard array"
t_shard_tasks=$(secs "$t0" "$(now)")
wait_job "$M" "shard merge"
t_shard_array=$(secs "$t0" "$(now)")
expect_completed "$A" "shard array"
expect_completed "$M" "shard merge"
same_bytes "shard, array of 4 + merge" "$W/shard-one" "$W/shard-array"

say "timings (2 CPUs, $SUBJECTS subjects, $(du -sh "$W/ingest-one" | cut -f1) canonical; array = sbatch to merged, scheduling included):"
say "  ingest: one process ${t_ingest_one}s; array of 4: tasks done ${t_ingest_tasks}s, merged ${t_ingest_array}s"
say "  shard:  one process ${t_shard_one}s; array of 4: tasks done ${t_shard_tasks}s, merged ${t_shard_array}s"
STATUS=0
say "passed"
