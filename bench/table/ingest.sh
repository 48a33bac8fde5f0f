#!/usr/bin/env bash
# The product path: `bomdata ingest` of a generated EPIC beta matrix (a methylation tree, source
# illumina_epic: the streaming converter, per-sample samples and subject-keyed table parts) vs
# pandas read_csv + to_parquet of the same CSV, at N samples and at 2N samples (RSS must stay
# flat when the sample count doubles). The two sides alternate, REPEATS runs each
# (bench/table/compare.py: whole processes, wall and CPU = user + sys, peak RSS, min/median,
# load average before and after).
# usage: bench/table/ingest.sh [N_PROBES=850000] [N_SAMPLES=1000] [WORKDIR=/tmp/bomdata-bench-ingest]
# BOMDATA_BIN: the binary to time (default: a release build); JOBS: ingest workers (default 1,
# so CPU time compares with single-threaded pandas); REPEATS (default 3); PANDAS=0 times the
# ingest alone (e.g. the 2N run, for its peak RSS). Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
NP=${1:-850000}
NS=${2:-1000}
WORK=${3:-/tmp/bomdata-bench-ingest}
PY=${BOMDATA_PYTHON:-.venv/bin/python}
JOBS=${JOBS:-1}
REPEATS=${REPEATS:-3}
export BOMDATA_KEY=${BOMDATA_KEY:-bench-key-0123456789abcdef}
if [ -z "${BOMDATA_BIN:-}" ]; then
  cargo build -q --release -p bomdata
  BOMDATA_BIN="${CARGO_TARGET_DIR:-target}/release/bomdata"
fi
mkdir -p "$WORK"
for ns in "$NS" $(( NS * 2 )); do
  tree="$WORK/tree_${NP}x${ns}"
  csv="$tree/EPIC_beta.csv"
  mkdir -p "$tree"
  [ -s "$csv" ] || "$PY" bench/table/gen_epic.py "$csv" "$NP" "$ns"
  cat "$csv" > /dev/null # a warm page cache for both sides
  ingest="$BOMDATA_BIN ingest $tree --out $WORK/out --source illumina_epic --jobs $JOBS"
  pandas="$PY bench/table/pandas_baseline.py $csv $WORK/pandas.parquet zstd"
  echo "== $NP probes x $ns samples ($(stat -c %s "$csv") B of CSV), jobs $JOBS"
  if [ "${PANDAS:-1}" = 0 ]; then
    "$PY" bench/table/compare.py "$REPEATS" ingest "$ingest" ingest_again "$ingest" \
      --before "rm -rf $WORK/out" --json "$WORK/result_$ns.json"
  else
    "$PY" bench/table/compare.py "$REPEATS" ingest "$ingest" pandas "$pandas" \
      --before "rm -rf $WORK/out $WORK/pandas.parquet" --json "$WORK/result_$ns.json"
  fi
  rm -rf "$WORK/out" "$WORK/pandas.parquet"
done
