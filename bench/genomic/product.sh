#!/usr/bin/env bash
# DNA product path: `bomdata ingest` + `bomdata shard --tokens hyena-char` (two whole processes)
# and the direct path `bomdata ingest --tokens hyena-char` (one whole process, no canonical copy)
# against a HyenaDNA-style loader (pyfaidx slicing + in-memory tokenization, hyena_baseline.py,
# one whole process), on a generated soft-masked genome (gen_genome.py).
#   bench/genomic/product.sh [MBP=200] [LEN=1024]     # env: REPEAT (3), BENCH_DIR, BOMDATA_BIN,
#                                                     #      BOMDATA_PYTHON
# Sides alternate, REPEAT runs each; every run is timed as whole processes with /usr/bin/time
# (wall, user+sys). Prints min/median wall and CPU per side, MB of FASTA per CPU-second, the
# bytes written (canonical + token shards) against the FASTA's size, and the load.
set -euo pipefail
MBP=${1:-200}; LEN=${2:-1024}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
BIN=${BOMDATA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/bomdata}
WORK=${BENCH_DIR:-/var/tmp/bomdata-dna-bench}
REPEAT=${REPEAT:-3}
mkdir -p "$WORK/src"
FA=$WORK/src/genome.fa
if [ ! -s "$FA" ]; then
  "$PY" "$ROOT/bench/genomic/gen_genome.py" "$FA" "$MBP"
fi
printf 'window = %s\nstride = %s\n[splits]\nchr7 = "valid"\nchr8 = "test"\n' "$LEN" "$LEN" > "$WORK/src/genome.toml"
"$PY" -c "import pyfaidx,sys; pyfaidx.Faidx(sys.argv[1])" "$FA"   # the baseline's .fai, once
FASZ=$(stat -c %s "$FA")
echo "FASTA $FA: $FASZ bytes"
# one timed command: prints "wall cpu" (cpu = user + sys)
timed() { /usr/bin/time -f '%e %U %S' -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err" || { cat "$WORK/err"; exit 1; }
          awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$WORK/t"; }
B=(); D=(); P=(); SIZE=0; DSZ=0
for i in $(seq "$REPEAT"); do
  cat "$FA" > /dev/null
  rm -rf "$WORK/canon" "$WORK/tok"
  a=$(timed "$BIN" ingest "$WORK/src" --out "$WORK/canon" --source t2t_chm13 --jobs 1)
  b=$(timed "$BIN" shard "$WORK/canon" --out "$WORK/tok" --tokens hyena-char --jobs 1)
  B+=("$(echo "$a $b" | awk '{printf "%.3f %.3f %.3f %.3f", $1 + $3, $2 + $4, $2, $4}')")
  SIZE=$(du -sb "$WORK/canon" "$WORK/tok" | awk '{s += $1} END {print s}')
  CAN=$(du -sb "$WORK/canon" | cut -f1); TOK=$(du -sb "$WORK/tok" | cut -f1)
  cat "$FA" > /dev/null
  rm -rf "$WORK/direct"
  D+=("$(timed "$BIN" ingest "$WORK/src" --out "$WORK/direct" --source t2t_chm13 --jobs 1 --tokens hyena-char)")
  DSZ=$(du -sb "$WORK/direct" | cut -f1)
  cat "$FA" "$FA.fai" > /dev/null
  P+=("$(timed "$PY" "$ROOT/bench/genomic/hyena_baseline.py" "$FA" "$LEN")")
done
echo "bomdata runs (wall cpu ingest_cpu shard_cpu):"; printf '  %s\n' "${B[@]}"
echo "direct runs (wall cpu):"; printf '  %s\n' "${D[@]}"
echo "baseline runs (wall cpu):"; printf '  %s\n' "${P[@]}"
"$PY" - "$FASZ" "$SIZE" "$CAN" "$TOK" "$(printf '%s\n' "${B[@]}")" "$(printf '%s\n' "${P[@]}")" \
  "$(printf '%s\n' "${D[@]}")" "$DSZ" <<'PYEOF'
import statistics as st, sys
fasz, size, can, tok = map(int, sys.argv[1:5])
side = lambda t: [list(map(float, l.split())) for l in t.splitlines()]
b, p, d = side(sys.argv[5]), side(sys.argv[6]), side(sys.argv[7])
dsz = int(sys.argv[8])
for name, runs in (("bomdata ingest+shard --tokens", b), ("bomdata ingest --tokens (direct)", d),
                   ("pyfaidx+tokenize (HyenaDNA-style)", p)):
    w = [r[0] for r in runs]; c = [r[1] for r in runs]
    print(f"{name}: wall min {min(w):.2f} s med {st.median(w):.2f} s; cpu min {min(c):.2f} s med {st.median(c):.2f} s; "
          f"{fasz / 1e6 / min(c):.0f} MB/CPU-s (min), {fasz / 1e6 / st.median(c):.0f} (median)")
cb = [r[1] for r in b]; cp = [r[1] for r in p]
cd = [r[1] for r in d]
print(f"ratio (baseline cpu / bomdata cpu): min {min(cp) / min(cb):.2f}x, median {st.median(cp) / st.median(cb):.2f}x")
print(f"ratio (baseline cpu / direct cpu): min {min(cp) / min(cd):.2f}x, median {st.median(cp) / st.median(cd):.2f}x")
print(f"written: canonical {can} + tokens {tok} = {size} bytes = {size / fasz:.2f}x the FASTA "
      f"(canonical {can / fasz:.2f}x, tokens {tok / fasz:.2f}x)")
print(f"written by the direct path: {dsz} bytes = {dsz / fasz:.2f}x the FASTA (token shards only)")
PYEOF
uptime
