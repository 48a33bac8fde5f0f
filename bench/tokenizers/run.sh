#!/usr/bin/env bash
# Char and 6-mer tokenization throughput, one core: Rust (release example) vs the Python
# reference tokenizers (python/tokenizers/reference.py), same input, same run.
#
# Usage: bench/tokenizers/run.sh [MB]   (default 16 MB of synthetic DNA)
# Prints each side's MB/s and the Rust/Python ratio. Targets: char >= 1000 MB/s and >= 50x.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${1:-16}
PY=${BOMDATA_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c 0"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
input="$work/dna.txt"
# Seeded synthetic genome-like text: ACGT, 10% soft-masked runs, rare N runs.
"$PY" - "$input" "$MB" <<'PYEOF'
import random, sys
path, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
n = mb * 1_000_000
out = []
size = 0
while size < n:
    run = "".join(rng.choice("ACGT") for _ in range(1000))
    r = rng.random()
    if r < 0.1:
        run = run.lower()
    elif r < 0.11:
        run = "N" * 1000
    out.append(run)
    size += len(run)
with open(path, "w") as f:
    f.write("".join(out)[:n])
PYEOF

cargo build --release -q -p bomdata-tokenizers --no-default-features --example tokenize_bench
rust=$($PIN "$CARGO_TARGET_DIR/release/examples/tokenize_bench" "$input" 10)
py_char=$($PIN "$PY" python/tokenizers/reference.py bench --kind char --repeats 3 "$input")
py_kmer=$($PIN "$PY" python/tokenizers/reference.py bench --kind kmer6 --repeats 3 "$input")

RUST="$rust" PY_CHAR="$py_char" PY_KMER="$py_kmer" MB="$MB" "$PY" - <<'PYEOF'
import json, os
rust = {d["tokenizer"]: d for d in map(json.loads, os.environ["RUST"].splitlines())}
py = {"char": json.loads(os.environ["PY_CHAR"]), "kmer6": json.loads(os.environ["PY_KMER"])}
print(f"input: {os.environ['MB']} MB synthetic DNA, one core")
print(f"{'tokenizer':<10}{'rust MB/s':>12}{'python MB/s':>14}{'ratio':>10}")
for name in ("char", "kmer6"):
    r, p = rust[name]["mb_per_s"], py[name]["mb_per_s"]
    assert rust[name]["ids"] == py[name]["ids"], (name, rust[name]["ids"], py[name]["ids"])
    print(f"{name:<10}{r:>12.1f}{p:>14.2f}{r / p:>9.1f}x")
c = rust["char"]["mb_per_s"] / py["char"]["mb_per_s"]
ok = rust["char"]["mb_per_s"] >= 1000 and c >= 50
print("char target (>= 1000 MB/s and >= 50x):", "met" if ok else "NOT met")
PYEOF
