#!/usr/bin/env bash
# The Python package against the Rust loader, LitData and `cat`, on the harness's samples
# (../shared/bench/loader make_data.py raw + lit, written as bomdata datasets by
# bench_loader_write): REPEAT alternating rounds (each round runs every side once, page cache
# warm), one JSON line per run in $OUT. Needs: the release examples (bench_loader_read/write),
# the release wheel in $PY's venv (scripts/build-wheel.sh VENV --release), and for LitData a
# Python with torch + litdata ($LITPY, PYTHONPATH as needed).
#
# Each loader line carries its in-process figures (loader construction to the last batch, the
# issue's samples/s) and, from /usr/bin/time, the whole process's wall and CPU (user+sys:
# interpreter start and imports included for Python); each round adds a {"load": ...} line
# (the 1-minute load average from /proc/loadavg).
#
#   DATA=... PY=.venv/bin/python LITPY=... bench/loader/py_run.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HARNESS=${HARNESS:-$(cd "$ROOT/../shared/bench/loader" && pwd)}
DATA=${DATA:?the harness data folder}
PY=${PY:-$ROOT/.venv/bin/python}
LITPY=${LITPY:-}
# optional: a folder holding another build of the package (pip install --target), run as a
# fourth side "bomdata_py_before" through PYTHONPATH (old vs new in the same rounds)
BEFORE=${BEFORE:-}
# optional: another build of bench_loader_read, run as the side "bomdata_rust_before"
RUST_BEFORE=${RUST_BEFORE:-}
REPEAT=${REPEAT:-3}
# numpy's OpenBLAS starts one worker thread per core at import, and they spin before they
# sleep: on a 2-core machine that took CPU from the loader's threads during the epoch (EEG,
# 2 threads, load 21: epoch wall 0.40-0.49 s with them, 0.20-0.39 s without). The bench does no
# BLAS work and the Rust side has no such threads: one BLAS thread, as run.py gives its Python
# rivals OMP_NUM_THREADS=1.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
OUT=${OUT:-$DATA/py_results.jsonl}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
: > "$OUT"
warm() { cat "$@" > /dev/null; }
# runs a command printing one JSON line; adds the whole process's wall and CPU seconds to it
timed() {
    local tf w u s
    tf=$(mktemp)
    /usr/bin/time -f '%e %U %S' -o "$tf" "$@" > "$tf.out"
    read -r w u s < "$tf"
    sed "s/^{/{\"proc_wall_s\": $w, \"proc_cpu_s\": $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }'), /" "$tf.out"
    rm -f "$tf" "$tf.out"
}
for round in $(seq "$REPEAT"); do
    echo "{\"load\": $(cut -d' ' -f1 /proc/loadavg), \"round\": $round}" >> "$OUT"
    for ds in eeg fmri; do
        batch=1; [ $ds = eeg ] && batch=64
        d=$DATA/$ds/bomdata_none
        raw=$DATA/$ds/raw/data.bin
        warm "$d"/shards/*.tar "$raw"
        s=$(date +%s.%N); cat "$d"/shards/*.tar > /dev/null; e=$(date +%s.%N)
        bytes=$(cat "$d"/shards/*.tar | wc -c)
        echo "{\"system\": \"cat\", \"dataset\": \"$ds\", \"round\": $round, \"mb_s\": $(echo "$bytes / ($e - $s) / 1000000" | bc -l | cut -c1-8)}" >> "$OUT"
        # dd: every shard byte read into a user buffer (the raw-read baseline), one whole
        # process timed like the loaders
        warm "$d"/shards/*.tar
        timed bash -c 'for f; do dd if="$f" of=/dev/null bs=8M status=none; done; echo "{\"dd\": true}"' dd "$d"/shards/*.tar \
            | sed "s/^{/{\"system\": \"dd\", \"ds\": \"$ds\", \"round\": $round, \"bytes\": $bytes, /" >> "$OUT"
        for t in 1 2; do
            # each loader run starts from a warm page cache (other jobs may have evicted pages)
            warm "$d"/shards/*.tar
            timed "$BIN/bench_loader_read" "$d" $t $batch pread "$raw" \
                | sed "s/^{/{\"system\": \"bomdata_rust\", \"ds\": \"$ds\", \"round\": $round, /" >> "$OUT"
            if [ -n "$RUST_BEFORE" ]; then
                warm "$d"/shards/*.tar
                timed "$RUST_BEFORE" "$d" $t $batch pread "$raw" \
                    | sed "s/^{/{\"system\": \"bomdata_rust_before\", \"ds\": \"$ds\", \"round\": $round, /" >> "$OUT"
            fi
            warm "$d"/shards/*.tar
            timed "$PY" "$HERE/py_read.py" "$d" $t $batch pread "$raw" \
                | sed "s/^{/{\"ds\": \"$ds\", \"round\": $round, /" >> "$OUT"
            if [ -n "$BEFORE" ]; then
                warm "$d"/shards/*.tar
                PYTHONPATH=$BEFORE timed "$PY" "$HERE/py_read.py" "$d" $t $batch pread "$raw" \
                    | sed -e "s/^{/{\"ds\": \"$ds\", \"round\": $round, /" \
                          -e 's/"bomdata_py"/"bomdata_py_before"/' >> "$OUT"
            fi
        done
        if [ -n "$LITPY" ]; then
            for mode in 1proc 2workers; do
                warm "$DATA/$ds/lit"/*
                "$LITPY" "$HARNESS/read_bench.py" --data "$DATA" --one lit $ds $mode \
                    | sed -n "s/^RESULT {/{\"round\": $round, /p" >> "$OUT" || echo "litdata failed" >&2
            done
        fi
    done
done
