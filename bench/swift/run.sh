#!/usr/bin/env bash
# SwiFT preprocessing speed: bomdata (NIfTI read with bomdata-nifti + the `swift` profile) against
# the NumPy/nibabel re-implementation of SwiFT's preprocessing (python/mri/swift_reference.py),
# both from the same generated .nii.gz run, both producing the float16 (1,96,96,96,20) windows in
# memory (nothing written), measured in this one run.
#
#   (a) Python: nibabel load + SwiFT z-norm/fill/fp16 + window crop/pad, one process
#   (b) bomdata, 1 thread: one run
#   (c) bomdata, 2 threads: two runs at once (one per thread, as `bomdata shard --jobs 2` does
#       over several runs); near-linear means wall(c) close to wall(b)
#
# usage: bench/swift/run.sh [NX NY NZ NT]     (defaults: 91 109 91 200, a UKB MNI 2 mm grid)
# env:   CARGO_TARGET_DIR (default: target), PYTHON (default: .venv/bin/python), REPEAT (best of, 2),
#        BENCH_DIR (scratch folder, default: mktemp -d)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIMS=("${@:-91 109 91 200}")
read -r NX NY NZ NT <<<"${DIMS[*]}"
TARGET="${CARGO_TARGET_DIR:-target}"
PY="${PYTHON:-.venv/bin/python}"
cargo build -q --release -p bomdata-profiles --example bench_swift
BIN="$TARGET/release/examples/bench_swift"
DIR="${BENCH_DIR:-$(mktemp -d)}"
FILE="$DIR/swift_${NX}x${NY}x${NZ}x${NT}.nii.gz"
trap 'rm -f "$FILE"; [ -n "${BENCH_DIR:-}" ] || rmdir "$DIR"' EXIT
"$PY" bench/swift/run.py "$BIN" "$FILE" "$NX" "$NY" "$NZ" "$NT"
