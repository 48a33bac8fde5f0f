#!/usr/bin/env bash
# The product path: `bomdata ingest` of a generated EPIC beta matrix (a methylation tree, source
# illumina_epic: the streaming converter into a raw float32 scratch file, subject-keyed table
# parts, zstd level 1) vs pandas read_csv + to_parquet of the same CSV (zstd, pyarrow's default
# level 1: the same codec and level), at N samples and at 2N samples (RSS must stay flat when
# the sample count doubles). The sides alternate, REPEATS runs each, timed as whole processes by
# bench/common/timing.py (wall, CPU = user + sys, peak RSS, min/median, ratios, load).
# usage: bench/table/ingest.sh [N_PROBES=850000] [N_SAMPLES=1000] [WORKDIR=/tmp/bomdata-bench-ingest]
# BOMDATA_BIN: the binary to time (default: a release build); OLD_BIN: a second binary timed as
# side `ingest_old` (e.g. main's); JOBS: ingest workers (default 1, so CPU time compares with
# single-threaded pandas); REPEATS (default 3); PANDAS=0 leaves pandas out. KEEP=1 keeps the
# generated CSVs (default: removed at the end).
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
  cat "$csv" > /dev/null # a warm page cache for every side
  sides=(--side ingest "$BOMDATA_BIN ingest $tree --out $WORK/out --source illumina_epic --jobs $JOBS")
  if [ -n "${OLD_BIN:-}" ]; then
    sides+=(--side ingest_old "$OLD_BIN ingest $tree --out $WORK/out --source illumina_epic --jobs $JOBS")
  fi
  if [ "${PANDAS:-1}" != 0 ]; then
    sides+=(--side pandas "$PY bench/table/pandas_baseline.py $csv $WORK/pandas.parquet zstd")
  fi
  base=ingest
  [ -n "${OLD_BIN:-}" ] && base=ingest_old
  [ "${PANDAS:-1}" != 0 ] && base=pandas
  echo "== $NP probes x $ns samples ($(stat -c %s "$csv") B of CSV), jobs $JOBS"
  "$PY" bench/common/timing.py --repeat "$REPEATS" --baseline "$base" \
    --bench "table-ingest-${NP}x${ns}" --jsonl "$WORK/runs.jsonl" \
    --before "rm -rf $WORK/out $WORK/pandas.parquet" "${sides[@]}"
  rm -rf "$WORK/out" "$WORK/pandas.parquet"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$tree"
done
