#!/usr/bin/env bash
# Builds the bomdata Python package (python/bomdata-py: pyo3, abi3 wheel for CPython >= 3.9)
# with maturin and installs it into a virtualenv.
#
#   scripts/build-wheel.sh [VENV] [--release]
#
# VENV (default .venv) must have maturin (python/requirements.txt) or gets it. The wheel is
# built with the workspace's target folder (CARGO_TARGET_DIR, default target/), the dev profile
# unless --release (use --release for speed measurements), into $CARGO_TARGET_DIR/wheels.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${1:-.venv}
PROFILE=dev
[ "${2:-}" = "--release" ] && PROFILE=release
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[ -x "$VENV/bin/maturin" ] || "$VENV/bin/pip" install -q --disable-pip-version-check \
    "$(grep '^maturin==' python/requirements.txt)"
OUT=$CARGO_TARGET_DIR/wheels/$PROFILE
rm -f "$OUT"/bomdata-*.whl
"$VENV/bin/maturin" build --quiet --profile "$PROFILE" -m python/bomdata-py/Cargo.toml \
    -i "$VENV/bin/python" -o "$OUT"
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$OUT"/bomdata-*.whl
