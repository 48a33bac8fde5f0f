#!/usr/bin/env bash
# The loader reading from S3 (a local `moto` server on 127.0.0.1) against the same loader
# reading local files, on the loader bench's data (the harness's make_data.py `raw` layout,
# written as a bomdata dataset by bench_loader_write), plus the bytes each rank fetches at world
# size 2 and 4. Two ways from S3: `s3` = ranged reads (remote::open_ranged + read_ahead: each
# sample's byte range, adjacent samples coalesced, a read-ahead window of a few batches, nothing
# copied to disk), `s3whole` = whole shards on first touch (remote::open + prefetch).
#
# Both sides are the same binary (loader example `loader_s3`, release), timed the same way: one
# whole epoch in-process (open + plan + read, every batch's fields hashed), wall and CPU
# (user+sys) of the loader process; the server's own CPU is not counted. Sides alternate, REPS
# each; a remote run starts from an empty local cache (everything its rank reads is fetched).
#
# Usage: bench/loader/s3.sh [WORK_DIR]   (env: FMRI_N=60 EEG_N=4000 REPS=3 SHARD_MB=32,
# BOMDATA_PYTHON: a python with moto[server] and boto3; MAKE_PY: the harness's python, default
# .venv-torch/bin/python, as its compat.py imports torch)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HARNESS=${HARNESS:-$ROOT/../shared/bench/loader}
[ -d "$HARNESS" ] || HARNESS=/work/shared/bench/loader
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
W=${1:-$(mktemp -d /tmp/bomdata-s3-bench.XXXXXX)}
FMRI_N=${FMRI_N:-60}
EEG_N=${EEG_N:-4000}
REPS=${REPS:-3}
SHARD_MB=${SHARD_MB:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build -q --release -p bomdata-loader --features aws \
    --example bench_loader_write --example loader_s3)
BIN=$CARGO_TARGET_DIR/release/examples

mkdir -p "$W"
if [ ! -d "$W/data/fmri/raw" ]; then
    "${MAKE_PY:-$ROOT/.venv-torch/bin/python}" "$HARNESS/make_data.py" --out "$W/data" --formats raw --fmri-n "$FMRI_N" --eeg-n "$EEG_N" >/dev/null
fi
for ds in fmri eeg; do
    [ -f "$W/bomdata/$ds/manifest.json" ] || "$BIN/bench_loader_write" "$W/data/$ds/raw" "$W/bomdata/$ds" none "$SHARD_MB" >/dev/null
done

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$W/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true' EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ALLOW_HTTP=true
for _ in $(seq 100); do
    "$PY" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/')" 2>/dev/null && break
    sleep 0.1
done
"$PY" - "$W/bomdata" <<'EOF'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="bench")
d = sys.argv[1]
for root, _, files in os.walk(d):
    for f in files:
        p = os.path.join(root, f)
        s3.upload_file(p, "bench", os.path.relpath(p, d))
EOF

field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }
echo "load: $(uptime)"
# Shuffle buffers (samples) of about one shard, so the order walks a few shards at a time (a
# buffer holding the whole dataset is a global shuffle: every rank then touches every shard).
declare -A BUF=([fmri]=${FMRI_BUF:-8} [eeg]=${EEG_BUF:-512})
for ds in fmri eeg; do
    size=$(du -sb "$W/bomdata/$ds/shards" | cut -f1)
    echo "== $ds: $(grep -c . "$W/data/$ds/raw/meta.jsonl") samples, $((size / 1000000)) MB of shards, shuffle buffer ${BUF[$ds]}"
    : >"$W/$ds-local.txt"; : >"$W/$ds-s3.txt"; : >"$W/$ds-s3whole.txt"
    for r in $(seq "$REPS"); do
        "$BIN/loader_s3" "$W/bomdata/$ds" quiet=1 batch_size=64 threads=2 shuffle_buffer=${BUF[$ds]} >>"$W/$ds-local.txt"
        rm -rf "$W/cache"
        "$BIN/loader_s3" "s3://bench/$ds" quiet=1 batch_size=64 threads=2 shuffle_buffer=${BUF[$ds]} cache="$W/cache" mode=ranged >>"$W/$ds-s3.txt"
        rm -rf "$W/cache"
        "$BIN/loader_s3" "s3://bench/$ds" quiet=1 batch_size=64 threads=2 shuffle_buffer=${BUF[$ds]} cache="$W/cache" mode=whole >>"$W/$ds-s3whole.txt"
    done
    for side in local s3 s3whole; do
        "$PY" - "$W/$ds-$side.txt" "$side" <<'EOF'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+) ([0-9.]+)", l)) for l in open(sys.argv[1]) if l.startswith("summary")]
w = [float(r["wall_s"]) for r in rows]; c = [float(r["cpu_s"]) for r in rows]
mb = float(rows[0]["field_bytes"]) / 1e6
extra = ""
if "peak_window_bytes" in rows[0] and sys.argv[2] == "s3":
    extra = (f", {rows[0]['fetched_objects']} requests, window peak "
             f"{int(rows[0]['peak_window_bytes']) / 1e6:.0f} MB, {rows[0]['direct_reads']} direct reads")
print(f"  {sys.argv[2]:7}: wall min {min(w):.3f} med {statistics.median(w):.3f} s "
      f"({mb / min(w):.0f} / {mb / statistics.median(w):.0f} MB/s); "
      f"cpu min {min(c):.3f} med {statistics.median(c):.3f} s; fetched {int(rows[0]['fetched_bytes']) / 1e6:.1f} MB{extra}")
EOF
    done
    for mode in ranged whole; do
        for world in 2 4; do
            line="  $mode, world $world: fetched/its samples per rank (MB):"
            for rank in $(seq 0 $((world - 1))); do
                rm -rf "$W/cache"
                out=$("$BIN/loader_s3" "s3://bench/$ds" quiet=1 batch_size=64 shuffle_buffer=${BUF[$ds]} rank="$rank" world="$world" cache="$W/cache" mode=$mode)
                f=$(field fetched_bytes <<<"$out") sh=$(field share_bytes <<<"$out")
                line="$line $((f / 1000000))/$((sh / 1000000))"
            done
            echo "$line (dataset $((size / 1000000)) MB, share $((size / world / 1000000)) MB)"
        done
    done
done
echo "load: $(uptime)"
