#!/usr/bin/env bash
# The main job on the data the repository ships: ingest the example BIDS tree
# (examples/bids-mini, five real NIfTI images) into a canonical dataset, pack it into training
# shards, verify them and print a summary. Output goes to out/example (override with $1).
# The example images are public, so the fixed public pseudonymisation key is allowed; for real
# data give --key-file or BOMDATA_KEY instead of --allow-unkeyed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-out/example}
# The default build links the system HDF5 library (NWB, EEGLAB v7.3, BIOM v2.1): install it on a
# fresh Debian/Ubuntu machine.
if ! dpkg -s libhdf5-dev pkg-config >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi
cargo build --release -q -p bomdata
BIN=${CARGO_TARGET_DIR:-target}/release/bomdata
"$BIN" ingest examples/bids-mini --out "$OUT/canonical" --allow-unkeyed
"$BIN" shard "$OUT/canonical" --out "$OUT/training" --seed 1 --overwrite
"$BIN" verify "$OUT/training"
"$BIN" inspect "$OUT/training"
