#!/usr/bin/env bash
# Shard writer vs a cat-style sequential write of the same bytes, measured in one process.
# Usage: bench/shard/run.sh [TOTAL_MB=1024] [SAMPLE_MB=4] [DIR=target/bench-shard]
# Prints one JSON line; ratio_shard_vs_cat is shard MB/s over cat MB/s (target >= 0.8).
set -euo pipefail
cd "$(dirname "$0")/../.."
total=${1:-1024}
sample=${2:-4}
dir=${3:-${CARGO_TARGET_DIR:-target}/bench-shard}
cargo build --release -q -p bomdata-shard --example bench_shard
"${CARGO_TARGET_DIR:-target}/release/examples/bench_shard" "$dir" "$total" "$sample"
