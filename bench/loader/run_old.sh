#!/usr/bin/env bash
# Loader benchmark: bomdata-loader side by side with LitData, MosaicML Streaming (MDS),
# WebDataset and `cat` of the raw bytes, on the same samples, in one run, page cache warm.
#
# Uses the shared harness (../shared/bench/loader: setup.sh, make_data.py, read_bench.py) for
# the anchors and baselines, and two release examples of bomdata-loader:
#   bench_loader_write: writes the harness's `raw` samples (same order) as a bomdata dataset
#                (uncompressed, and zstd-3 per member);
#   bench_loader_read:  reads it with the loader (sequential order, reader threads, one contiguous
#                batch buffer per field) and prints the harness's figures.
#
# usage: bench/loader/run.sh            env: FMRI_N (default 225 = 1.0 GB), EEG_N (13000 =
#        0.49 GB), REPEAT (anchors, default 1), BREPEAT (bomdata, default 3), DATA, BENCH_ENV,
#        HARNESS, SYSTEMS (anchors, default raw,wds,wds_zst,mds,lit,lit_zstd)
# Full issue scale: FMRI_N=450 EEG_N=26000 (2 GB + 1 GB payload; ~24 GB on disk for all formats).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HARNESS=${HARNESS:-$(cd "$ROOT/../shared/bench/loader" && pwd)}
BENCH_ENV=${BENCH_ENV:-$HERE/.work}
DATA=${DATA:-$BENCH_ENV/data}
FMRI_N=${FMRI_N:-225}
EEG_N=${EEG_N:-13000}
REPEAT=${REPEAT:-1}
BREPEAT=${BREPEAT:-3}
SYSTEMS=${SYSTEMS:-raw,wds,wds_zst,mds,lit,lit_zstd}
OUT=${OUT:-$BENCH_ENV/results}
PY=$BENCH_ENV/venv/bin/python
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release/examples

step() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

if [ ! -x "$PY" ]; then step "harness environment"; ROOT=$BENCH_ENV bash "$HARNESS/setup.sh"; fi
if [ ! -f "$DATA/manifest.json" ]; then
    step "writing anchor datasets (fmri $FMRI_N, eeg $EEG_N)"
    "$PY" "$HARNESS/make_data.py" --out "$DATA" --fmri-n "$FMRI_N" --eeg-n "$EEG_N" \
        --formats raw,wds,wds_zst,mds,lit,lit_zstd
fi
step "building release examples"
(cd "$ROOT" && cargo build --release -p bomdata-loader --example bench_loader_write --example bench_loader_read)
for ds in fmri eeg; do
    for c in none zstd; do
        d=$DATA/$ds/bomdata_$c
        if [ ! -f "$d/manifest.json" ]; then
            step "writing $d"
            "$BIN/bench_loader_write" "$DATA/$ds/raw" "$d" "$c" 128
        fi
    done
done

if [ "${SKIP_ANCHORS:-0}" != 1 ]; then
    step "baselines (cat, dd, zstd CLI)"
    "$PY" "$HARNESS/read_bench.py" --data "$DATA" --only-baselines --out "$OUT/results.jsonl"
    step "anchors: $SYSTEMS"
    "$PY" "$HARNESS/read_bench.py" --data "$DATA" --datasets fmri,eeg --systems "$SYSTEMS" \
        --repeat "$REPEAT" --out "$OUT/results.jsonl"
fi

warm() { cat "$@" > /dev/null; }
step "bomdata loader"
: > "$OUT/bomdata.jsonl"
for ds in fmri eeg; do
    batch=1; [ $ds = eeg ] && batch=64
    for c in none zstd; do
        d=$DATA/$ds/bomdata_$c
        for threads in 1 2; do
            for read in mmap pread; do
                [ $c = zstd ] && [ $read = pread ] && continue
                for _ in $(seq "$BREPEAT"); do
                    warm "$d"/shards/*.tar
                    "$BIN/bench_loader_read" "$d" $threads $batch $read "$DATA/$ds/raw/data.bin" \
                        | tee -a "$OUT/bomdata.jsonl"
                done
            done
        done
    done
    warm "$DATA/$ds/bomdata_zstd"/shards/*.tar
    "$BIN/bench_loader_read" --zstd-baseline "$DATA/$ds/bomdata_zstd" | sed "s/^{/{\"dataset\": \"$ds\", /" \
        | tee -a "$OUT/bomdata.jsonl"
done
step "summary"
"$PY" "$HERE/summary.py" "$OUT/results.jsonl" "$OUT/bomdata.jsonl" | tee "$OUT/summary.md"
