#!/usr/bin/env bash
# Raw-DEFLATE decoder benchmark: bomdata_genomic::inflate vs libdeflate on the same BGZF blocks,
# same run, alternating, best of ROUNDS; prints MB/s (output bytes per CPU second) and the ratio.
#   bench/inflate/run.sh [ROUNDS=5] [FILE...]
# Default files: the generated genome (bench/genomic/run.sh, BENCH_DIR=/var/tmp/gbench) and the
# FASTA/BAM fixtures (plain FASTA is BGZF-compressed in memory at level 6 first).
set -euo pipefail
ROUNDS=${1:-5}; shift || true
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_DIR=${BENCH_DIR:-/var/tmp/gbench}
FIX=${BOMDATA_FIXTURES:-$ROOT/tests/fixtures}
if [ $# -eq 0 ]; then
  set -- "$BENCH_DIR/genome_200mbp.fa.gz" "$FIX/fasta/phi-X174.fa.gz" "$FIX/fasta/chr17.hg19.part.fa" \
    "$FIX/bam/ex1.bam"
fi
cargo build --release -q -p bomdata-genomic --example bench_inflate
uptime
"$CARGO_TARGET_DIR/release/examples/bench_inflate" "$ROUNDS" "$@"
