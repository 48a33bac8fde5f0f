#!/usr/bin/env bash
# Windowing benchmark: bomdata (release example, one thread) vs pyfaidx + NumPy, on a generated
# genome, plain FASTA and BGZF (both with .fai; BGZF with .gzi). Prints both lines and ratios.
#   bench/genomic/run.sh [MBP=200] [LEN=1024] [STRIDE=1024]
# Each tool runs REPEAT times (default 3), alternating, and its fastest run counts (the
# machine may be shared; both sides get the same treatment).
# pyfaidx reads BGZF through Biopython's bgzf module (python/requirements.txt).
set -euo pipefail
MBP=${1:-200}; LEN=${2:-1024}; STRIDE=${3:-1024}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_DIR:-$(mktemp -d)}
cargo build --release -q -p bomdata-ingest --example bench_genomic
BIN=$CARGO_TARGET_DIR/release/examples/bench_genomic
FA=$WORK/genome_${MBP}mbp.fa
[ -s "$FA.gz.gzi" ] || "$BIN" gen "$FA" "$MBP"
ls -l "$FA" "$FA.gz"
# each tool starts with the file in the page cache (read it once just before), so neither pays
# for disk reads the other had made for it
warm() { cat "$1" "$1.fai" > /dev/null; [ ! -e "$1.gzi" ] || cat "$1.gzi" > /dev/null; }
REPEAT=${REPEAT:-3}
for f in "$FA" "$FA.gz"; do
  RS=(); PS=()
  for _ in $(seq "$REPEAT"); do
    warm "$f"; RS+=("$("$BIN" run "$f" "$LEN" "$STRIDE")")
    warm "$f"; PS+=("$("$PY" "$ROOT/bench/genomic/reference.py" "$f" "$LEN" "$STRIDE")")
  done
  printf '%s\n' "${RS[@]}" "${PS[@]}"
  "$PY" - "$(printf '%s\n' "${RS[@]}")" "$(printf '%s\n' "${PS[@]}")" <<'PYEOF'
import json, sys
best = lambda runs: max((json.loads(l) for l in runs.splitlines()), key=lambda x: x["windows_per_cpu_s"])
r, p = best(sys.argv[1]), best(sys.argv[2])
for k in ("windows", "bases", "n_count", "lowercase"):
    assert r[k] == p[k], (k, r[k], p[k])
for unit, w, m in (("wall", "windows_per_s", "mb_per_s"), ("cpu", "windows_per_cpu_s", "mb_per_cpu_s")):
    print(f"{r['file']} [{unit}]: bomdata {r[w]:.0f} windows/s, {r[m]:.0f} MB/s; "
          f"pyfaidx+numpy {p[w]:.0f} windows/s, {p[m]:.1f} MB/s; "
          f"ratio {r[w] / p[w]:.1f}x (same windows, N and lowercase counts; fastest of each side's runs by CPU)")
PYEOF
done
