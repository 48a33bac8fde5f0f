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
cargo build --release -q -p bomdata
BIN=${CARGO_TARGET_DIR:-target}/release/bomdata
"$BIN" ingest examples/bids-mini --out "$OUT/canonical" --allow-unkeyed
"$BIN" shard "$OUT/canonical" --out "$OUT/training" --seed 1
"$BIN" verify "$OUT/training"
"$BIN" inspect "$OUT/training"
