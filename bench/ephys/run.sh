#!/usr/bin/env bash
# BrainVision read: bomdata (example bench_ephys) vs MNE read_raw_brainvision, one run.
# The measurement is bench/ephys/run.py (see its docstring); this runs it with the workspace Python.
#   bench/ephys/run.sh [--minutes 10] [--channels 64] [--rate 500]
# env: BOMDATA_PYTHON (default .venv/bin/python), CARGO_TARGET_DIR (default target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
exec "$PY" "$ROOT/bench/ephys/run.py" "$@"
