#!/usr/bin/env bash
# EPIC beta matrix CSV -> Parquet: bomdata (release example, streamed, parallel parse) vs pandas
# read_csv + to_parquet on the same file. Prints both times, the ratio and the peak RSS of each.
# usage: [COMPRESSION=zstd|none] bench/table/run.sh [N_PROBES=850000] [N_SAMPLES=1000] [WORKDIR=/tmp/bomdata-bench-table]
# Both sides use the same Parquet compression: zstd level 1 (bomdata's default and pyarrow's
# default zstd level) or none. bomdata writes float32 (the values are parsed as float64 and
# rounded), pandas float64. bomdata memory-maps the CSV and parses/encodes on all cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
NP=${1:-850000}
NS=${2:-1000}
WORK=${3:-/tmp/bomdata-bench-table}
PY=${BOMDATA_PYTHON:-.venv/bin/python}
COMP=${COMPRESSION:-zstd}
mkdir -p "$WORK"
CSV="$WORK/epic_${NP}x${NS}.csv"
[ -s "$CSV" ] || "$PY" bench/table/gen_epic.py "$CSV" "$NP" "$NS"
ls -l "$CSV"
cargo build -q --release -p bomdata-table --example table_to_parquet
BIN="${CARGO_TARGET_DIR:-target}/release/examples/table_to_parquet"
# Outputs of an earlier run are removed first: truncating a large file costs the writer time.
rm -f "$WORK/bomdata.parquet" "$WORK/pandas.parquet"
sync
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
measure() { # label, command...
  local label=$1; shift
  local t0 t1
  cat "$CSV" > /dev/null # the same warm page cache for both sides
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$WORK/$label.rss" "$@" > "$WORK/$label.out"
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc)" > "$WORK/$label.time"
  read -r rss usr sys < "$WORK/$label.rss"
  echo "$(echo "$usr + $sys" | bc)" > "$WORK/$label.cpu"
  echo "$label: $(cat "$WORK/$label.out") | wall $(cat "$WORK/$label.time") s | cpu $(cat "$WORK/$label.cpu") s | peak RSS $(( rss / 1024 )) MiB"
}
measure bomdata "$BIN" "$CSV" "$WORK/bomdata.parquet" --matrix --compression "$COMP"
measure pandas "$PY" bench/table/pandas_baseline.py "$CSV" "$WORK/pandas.parquet" "$COMP"
echo "compression: $COMP; output sizes: bomdata $(stat -c %s "$WORK/bomdata.parquet") B, pandas $(stat -c %s "$WORK/pandas.parquet") B"
echo "load average before: $LOAD"
echo "ratio pandas/bomdata wall: $(echo "scale=2; $(cat "$WORK/pandas.time") / $(cat "$WORK/bomdata.time")" | bc)x"
echo "ratio pandas/bomdata cpu:  $(echo "scale=2; $(cat "$WORK/pandas.cpu") / $(cat "$WORK/bomdata.cpu")" | bc)x"
