#!/usr/bin/env bash
# SwiFT product path, whole processes on both sides (issue 22): `bomdata ingest` + `bomdata shard
# --profile swift` (and `bomdata ingest --profile swift` where the binary has it) against a
# NumPy/nibabel script writing the same windows from the same .nii.gz (swift_numpy.py); and the
# read stage alone (bomdata-nifti's C-order read vs nibabel's load). See run.py for the method.
#
# usage: bench/swift/run.sh [NX NY NZ NT]     (defaults: 91 109 91 100, a UKB MNI 2 mm grid)
# env:   CARGO_TARGET_DIR (default: target), PYTHON (default: .venv/bin/python), REPEAT (>= 3),
#        BENCH_DIR (scratch folder, default: mktemp -d), BOMDATA_BIN (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIMS=("${@:-91 109 91 100}")
read -r NX NY NZ NT <<<"${DIMS[*]}"
TARGET="${CARGO_TARGET_DIR:-target}"
export PYTHON="${PYTHON:-.venv/bin/python}"
if [ -z "${BOMDATA_BIN:-}" ]; then
  cargo build -q --release -p bomdata --bin bomdata
  BOMDATA_BIN="$TARGET/release/bomdata"
fi
cargo build -q --release -p bomdata-nifti --example bench_nifti
DIR="${BENCH_DIR:-$(mktemp -d)}"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$DIR"' EXIT
"$PYTHON" bench/swift/run.py "$BOMDATA_BIN" "$TARGET/release/examples/bench_nifti" "$DIR" "$NX" "$NY" "$NZ" "$NT"
