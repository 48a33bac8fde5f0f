#!/usr/bin/env bash
# EEG profile (cbramod): `bomdata ingest --profile cbramod` vs MNE, whole processes, fresh and warm.
# The measurement is bench/eeg_profiles/run.py (see its docstring); this runs it with the workspace Python.
#   bench/eeg_profiles/run.sh [--dir /tmp/bomdata-bench-edf] [--repeat 3] [--rounds 3] [--no-build]
# env: BOMDATA_PYTHON (default .venv/bin/python), BOMDATA_BIN, CARGO_TARGET_DIR (default target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
exec "$PY" "$ROOT/bench/eeg_profiles/run.py" "$@"
