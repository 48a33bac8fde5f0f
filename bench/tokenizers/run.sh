#!/usr/bin/env bash
# Char and 6-mer tokenization throughput, one core: Rust (release example) vs the Python
# reference tokenizers (python/tokenizers/reference.py), same input, same run.
#
# Usage: bench/tokenizers/run.sh [MB] [WINDOW]
#   MB      synthetic DNA to tokenize (default 16)
#   WINDOW  second measurement, window by window as the shard stage encodes samples
#           (default 1048576 bytes)
# Prints each side's MB/s and the Rust/Python ratio for the whole input in one call and per
# window. Targets: char >= 1000 MB/s and >= 50x.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${1:-16}
WINDOW=${2:-1048576}
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

cargo build --release -q -p bomdata-tokenizers --no-default-features --example bench_tokenizers
bin="$CARGO_TARGET_DIR/release/examples/bench_tokenizers"
results="$work/results.jsonl"
for w in 0 "$WINDOW"; do
    $PIN "$bin" "$input" 30 "$w" | sed "s/^{/{\"side\":\"rust\",\"window\":$w,/" >>"$results"
    for kind in char kmer6; do
        $PIN "$PY" python/tokenizers/reference.py bench --kind "$kind" --repeats 3 --window "$w" "$input" |
            sed "s/^{/{\"side\":\"python\",\"window\":$w,/" >>"$results"
    done
done

"$PY" - "$results" "$MB" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
get = {(r["side"], r["window"], r["tokenizer"]): r for r in rows}
print(f"input: {sys.argv[2]} MB synthetic DNA, one core (taskset -c 0)")
print(f"{'tokenizer':<10}{'window':>10}{'rust MB/s':>12}{'python MB/s':>14}{'ratio':>10}")
ok = True
for w in sorted({r["window"] for r in rows}):
    for name in ("char", "kmer6"):
        r, p = get[("rust", w, name)], get[("python", w, name)]
        assert r["ids"] == p["ids"], (name, w, r["ids"], p["ids"])
        ratio = r["mb_per_s"] / p["mb_per_s"]
        print(f"{name:<10}{w or 'whole':>10}{r['mb_per_s']:>12.1f}{p['mb_per_s']:>14.2f}{ratio:>9.1f}x")
        if name == "char":
            ok = ok and r["mb_per_s"] >= 1000 and ratio >= 50
print("char target (>= 1000 MB/s and >= 50x):", "met" if ok else "NOT met")
PYEOF
