#!/usr/bin/env bash
# DICOM series -> canonical volume vs dcm2niix (issue 19, speed line): one synthetic 200-slice
# 256x256 int16 series (testdata example dicom_series), warm cache, alternating repeats.
#
# Sides (whole processes, one thread each):
#   bomdata  `bomdata ingest --source dicom --jobs 1 --compress none` of the folder (the product
#            path: plan with header-only reads, stack, canonical volume.npy + meta.json in a tar
#            shard, manifest) -- when the release CLI binary exists ($BOMDATA_BIN);
#   core     the example series_npy: the same plan and stacking code writing volume.npy alone
#            (the narrowest command that makes the canonical array);
#   dcm2niix `dcm2niix -z n` (no compression, so no pigz threads; BIDS sidecar on, its default).
#
# usage: bench/dicom/run.sh [REPEATS] [SLICES]      (defaults 5, 200)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (scratch, default mktemp -d),
#        BOMDATA_BIN (default $CARGO_TARGET_DIR/release/bomdata)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-5}
SLICES=${2:-200}
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build -q -p bomdata-testdata --example dicom_series
cargo build -q --release -p bomdata-dicom --example series_npy
DIR="${BENCH_DIR:-$(mktemp -d)}"
trap '[ -n "${BENCH_DIR:-}" ] || rm -rf "$DIR"' EXIT
[ -d "$DIR/src/BENCH" ] || "$TARGET/debug/examples/dicom_series" "$DIR/src/BENCH" "$SLICES" >/dev/null
SIDES=()
BOMDATA_BIN="${BOMDATA_BIN:-$TARGET/release/bomdata}"
if [ -x "$BOMDATA_BIN" ]; then
    SIDES+=("bomdata=$BOMDATA_BIN ingest --source dicom --allow-unkeyed --jobs 1 --compress none --out {out} {src}")
fi
SIDES+=("core=$TARGET/release/examples/series_npy {src} {out}/volume.npy")
SIDES+=("dcm2niix=dcm2niix -z n -o {out} {src}")
# series_npy writes into {out}: run.py creates the folder for every side but bomdata.
python3 bench/dicom/run.py "$DIR/src" "$DIR" "$REPEATS" "${SIDES[@]}"
