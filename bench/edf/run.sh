#!/usr/bin/env bash
# EDF canonical read: bomdata (example bench_edf) vs MNE vs pyedflib, one run.
# The measurement is bench/edf/run.py (see its docstring); this runs it with the workspace Python.
#   bench/edf/run.sh [--dir /tmp/bomdata-bench-edf] [--repeat 3]
# env: BOMDATA_PYTHON (default .venv/bin/python), CARGO_TARGET_DIR (default target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
exec "$PY" "$ROOT/bench/edf/run.py" "$@"
