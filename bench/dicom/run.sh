#!/usr/bin/env bash
# DICOM series -> canonical volume vs dcm2niix (issue 19, speed line): one synthetic 200-slice
# 256x256 int16 series (testdata example dicom_series), warm cache, one thread, whole processes
# timed alternately by bench/common/timing.py (min/median wall and CPU, load).
#
# Sides (each its own process, output into a tmpfs folder when /dev/shm exists):
#   dcm2niix  `dcm2niix -z n` (no compression, so no pigz threads; its BIDS sidecar on, its
#             default) -- the baseline: ratios are dcm2niix / side (> 1: the side is faster);
#   bomdata   `bomdata ingest --source dicom --jobs 1 --compress none` of the folder (the product
#             path: plan, header pass, pixels into the canonical float32 volume.npy, meta.json,
#             tar shard, index, manifest, subjects table);
#   core      the example series_npy: the same header pass and fill writing volume.npy alone.
#
# usage: bench/dicom/run.sh [REPEATS] [SLICES]      (defaults 5, 200)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (scratch; default a fresh folder under
#        /dev/shm, else mktemp -d), BOMDATA_BIN (default $CARGO_TARGET_DIR/release/bomdata, built
#        here with --no-default-features when absent: no HDF5/S3, which DICOM does not use)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-5}
SLICES=${2:-200}
TARGET="${CARGO_TARGET_DIR:-target}"
command -v dcm2niix >/dev/null || { echo "dcm2niix not found (apt-get install dcm2niix)" >&2; exit 1; }
cargo build -q -p bomdata-testdata --example dicom_series
cargo build -q --release -p bomdata-dicom --example series_npy
BOMDATA_BIN="${BOMDATA_BIN:-$TARGET/release/bomdata}"
[ -x "$BOMDATA_BIN" ] || cargo build -q --release -p bomdata --no-default-features
if [ -n "${BENCH_DIR:-}" ]; then
    DIR="$BENCH_DIR"
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
    DIR="$(mktemp -d /dev/shm/bomdata-dicom-bench.XXXXXX)"
else
    DIR="$(mktemp -d)"
fi
trap '[ -n "${BENCH_DIR:-}" ] || rm -rf "$DIR"' EXIT
[ -d "$DIR/src/BENCH" ] || "$TARGET/debug/examples/dicom_series" "$DIR/src/BENCH" "$SLICES" >/dev/null
cat "$DIR"/src/BENCH/* >/dev/null  # warm cache
OUT="$DIR/out"
python3 bench/common/timing.py --bench dicom_series --repeat "$REPEATS" --warmup 1 \
    --baseline dcm2niix \
    --before "rm -rf '$OUT' && mkdir -p '$OUT/dcm2niix' '$OUT/core'" \
    --side dcm2niix "dcm2niix -z n -o $OUT/dcm2niix $DIR/src" \
    --side bomdata "$BOMDATA_BIN ingest --source dicom --allow-unkeyed --jobs 1 --compress none --out $OUT/bomdata $DIR/src" \
    --side core "$TARGET/release/examples/series_npy $DIR/src $OUT/core/volume.npy"
