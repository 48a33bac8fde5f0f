#!/usr/bin/env bash
# The whole bomdata test suite, from a fresh machine: installs what the tests need, then runs
# formatting and lint checks, every Rust test (unit, doc, conformance against tests/fixtures,
# end-to-end), the fixture tests again in a bare clone (scripts/test-standalone.sh), the Python
# interop tests, bomdata under a real one-node Slurm (scripts/test-slurm.sh: installs Debian's
# slurm-wlm and munge), bomdata and the loader against a local S3 server (scripts/test-s3.sh:
# moto's server mode, from python/requirements.txt), and the loader's tch tests on CPU.
#
# Installs: Debian libhdf5-dev and pkg-config (the default build links HDF5 for the NWB / EEGLAB
# v7.3 / BIOM v2.1 readers); a virtualenv .venv from
# python/requirements.txt (reference readers and interop checks: nibabel, MNE, pyedflib, pyfaidx,
# pyBigWig, pandas, polars, pyarrow, webdataset, tokenizers, ...); a second virtualenv .venv-torch
# with the PyPI torch wheel for the tch feature (kept apart: webdataset imports torch when present),
# which also gets torch's Python dependencies for the bomdata package's PyTorch tests; the
# bomdata Python package (maturin wheel) in both.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=never

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
# Every check runs even when an earlier one failed; the script fails at the end if any did.
failed=()
check() {
    local name=$1; shift
    if ! "$@"; then
        echo "FAILED: $name" >&2
        failed+=("$name")
    fi
}

step "system packages"
# chromium: the QC report test opens `bomdata report`'s page headless (tests/e2e/demo.rs).
# dcm2niix, dcmtk, libgdcm-tools: the DICOM reader's references (series vs dcm2niix; RLE, JPEG and
# JPEG 2000 files encoded by dcmcrle/dcmcjpeg/gdcmconv; JPEG-LS by dcmcjpls, decoded by dcmdjpls).
if ! dpkg -s libhdf5-dev pkg-config chromium dcm2niix dcmtk libgdcm-tools >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libhdf5-dev pkg-config chromium \
        dcm2niix dcmtk libgdcm-tools >/dev/null
fi
export BOMDATA_REQUIRE_CHROMIUM=1

step "python environment"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r python/requirements.txt
export BOMDATA_PYTHON=$ROOT/.venv/bin/python

step "cargo fmt"
check fmt cargo fmt --all --check

step "cargo clippy"
check clippy cargo clippy --workspace --all-targets -- -D warnings
# The build without HDF5 (those formats refused with "built without hdf5") still compiles clean.
check clippy-no-hdf5 cargo clippy -p bomdata --no-default-features -- -D warnings

step "cargo test"
# The end-to-end tests and the Python tests run the real binary: build it first (cargo test
# builds only the binary's unit-test harness).
check build cargo build -p bomdata
check cargo-test cargo test --workspace --no-fail-fast

step "fixture tests in a bare clone"
check standalone scripts/test-standalone.sh

step "loader object-store feature (in-memory store)"
check clippy-object-store cargo clippy -p bomdata-loader --features object-store --all-targets -- -D warnings
check test-object-store cargo test -p bomdata-loader --features object-store

step "python package (maturin wheel into .venv)"
# The bomdata Python package (python/bomdata-py, pyo3 abi3): a dev-profile wheel built with the
# workspace's target folder, installed into .venv; the Rust loader_dump example its tests
# compare with.
check wheel scripts/build-wheel.sh .venv
check loader-dump cargo build -p bomdata-loader --example loader_dump

step "python interop tests"
export BOMDATA_BIN=$CARGO_TARGET_DIR/debug/bomdata
check pytest .venv/bin/python -m pytest -q python/tests

step "slurm: ingest and shard as job arrays on a one-node Slurm started here"
check slurm scripts/test-slurm.sh

step "s3: ingest, shard, verify and the loader against a local S3 server (moto)"
check clippy-loader-aws cargo clippy -p bomdata-loader --features aws --all-targets -- -D warnings
check s3 scripts/test-s3.sh

step "loader tch feature (CPU libtorch)"
check tch env VENV="$ROOT/.venv-torch" scripts/test-tch.sh

step "python package with PyTorch (.venv-torch)"
# torch's Python side needs its CUDA library wheels to import (even on a CPU-only machine):
# python/requirements-torch.txt installs them (~3.5 GB) next to the torch wheel test-tch.sh uses.
check torch-venv .venv-torch/bin/pip install -q --disable-pip-version-check -r python/requirements-torch.txt
check wheel-torch scripts/build-wheel.sh .venv-torch
check pytest-torch .venv-torch/bin/python -m pytest -q python/tests/test_torch.py

step "done"
if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: failed steps: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all steps passed"
