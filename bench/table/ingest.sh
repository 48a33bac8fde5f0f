#!/usr/bin/env bash
# The product path: `bomdata ingest` of a generated EPIC beta matrix (a methylation tree, source
# illumina_epic: the streaming converter, per-sample samples and subject-keyed table parts) vs
# pandas read_csv + to_parquet of the same CSV, at N samples and at 2N samples (RSS must stay
# flat when the sample count doubles). Prints CPU time and peak RSS of each run and the ratios.
# usage: bench/table/ingest.sh [N_PROBES=850000] [N_SAMPLES=1000] [WORKDIR=/tmp/bomdata-bench-ingest]
# BOMDATA_BIN: the binary to time (default: a release build); JOBS: ingest workers (default 1,
# so CPU time compares with single-threaded pandas). Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
NP=${1:-850000}
NS=${2:-1000}
WORK=${3:-/tmp/bomdata-bench-ingest}
PY=${BOMDATA_PYTHON:-.venv/bin/python}
JOBS=${JOBS:-1}
export BOMDATA_KEY=${BOMDATA_KEY:-bench-key-0123456789abcdef}
if [ -z "${BOMDATA_BIN:-}" ]; then
  cargo build -q --release -p bomdata
  BOMDATA_BIN="${CARGO_TARGET_DIR:-target}/release/bomdata"
fi
mkdir -p "$WORK"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%M %U %S %e" -o "$WORK/$label.rss" "$@" > "$WORK/$label.out" 2>&1
  read -r rss usr sys wall < "$WORK/$label.rss"
  echo "$(( rss / 1024 )) $(echo "$usr + $sys" | bc)" > "$WORK/$label.res"
  echo "$label: wall $wall s | cpu $(echo "$usr + $sys" | bc) s | peak RSS $(( rss / 1024 )) MiB"
}
for ns in "$NS" $(( NS * 2 )); do
  tree="$WORK/tree_${NP}x${ns}"
  csv="$tree/EPIC_beta.csv"
  mkdir -p "$tree"
  [ -s "$csv" ] || "$PY" bench/table/gen_epic.py "$csv" "$NP" "$ns"
  cat "$csv" > /dev/null # the same warm page cache for both sides
  rm -rf "$WORK/out_$ns" "$WORK/pandas_$ns.parquet"
  measure "ingest_$ns" "$BOMDATA_BIN" ingest "$tree" --out "$WORK/out_$ns" --source illumina_epic --jobs "$JOBS"
  measure "pandas_$ns" "$PY" bench/table/pandas_baseline.py "$csv" "$WORK/pandas_$ns.parquet" zstd
done
read -r r1 c1 < "$WORK/ingest_$NS.res"
read -r r2 c2 < "$WORK/ingest_$(( NS * 2 )).res"
read -r p1 q1 < "$WORK/pandas_$NS.res"
echo "scale: $NP probes x $NS / $(( NS * 2 )) samples; jobs $JOBS; load average before: $LOAD"
echo "CPU pandas / bomdata ingest at $NS samples: $(echo "scale=2; $q1 / $c1" | bc)x"
echo "peak RSS bomdata ingest: $r1 MiB at $NS samples, $r2 MiB at $(( NS * 2 )) (ratio $(echo "scale=2; $r2 / $r1" | bc)); pandas $p1 MiB"
