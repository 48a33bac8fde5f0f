#!/usr/bin/env bash
# bomdata against a real S3-compatible server on 127.0.0.1: moto's server mode (`moto[server]`
# from python/requirements.txt, in the venv of BOMDATA_PYTHON), started and stopped here.
# Checks, each against a local run of the same command (every object's bytes compared with the
# local run's files, the run's private `.ingest` state left aside):
#   1. `ingest s3://… --out s3://…`, and the mixes (local source, remote out; remote source,
#      local out): byte-identical datasets;
#      and by two ranks (separate staging folders) plus `merge s3://…`;
#   2. `shard s3://… --out s3://…` (volume profile): byte-identical;
#   3. `verify s3://…` passes on both, and fails (exit 1) on a copy with one flipped byte;
#   4. `kill -9` mid-upload (BOMDATA_KILL_AFTER_PARTS, a test hook: the process SIGKILLs itself
#      after handing that many parts to the store; parts of 64 KiB so shards go multipart), of
#      an ingest and of a shard: no manifest uploaded; the same command again finishes with
#      identical objects. The ingest is killed mid-run: units are committed one by one during
#      the run (objects, then `.ingest/units/u<h>.json`), so some are in the store before the
#      kill, the staging folder holds no committed unit's files, and the rerun skips them;
#   5. the loader reading the sharded dataset from S3 (loader example `loader_s3`, ranks 0 and
#      1 of 2), by ranged reads (no shard copied; together the two ranks fetch each sample
#      once) and by whole shards, gives the same batches as from the local folder.
#
# Environment: BOMDATA_BIN (default $CARGO_TARGET_DIR/debug/bomdata, built here),
# BOMDATA_PYTHON (default .venv/bin/python), S3_TEST_KEEP=1 keeps the work folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PY=${BOMDATA_PYTHON:-$ROOT/.venv/bin/python}
T_START=$(date +%s)

say() { printf 'test-s3: %s\n' "$*"; }
fail() { printf 'test-s3: FAILED: %s\n' "$*" >&2; exit 1; }

# --- build ------------------------------------------------------------------------------------
if [ -z "${BOMDATA_BIN:-}" ]; then
    cargo build -q -p bomdata
    BOMDATA_BIN=$CARGO_TARGET_DIR/debug/bomdata
fi
cargo build -q -p bomdata-testdata --example write_tree
cargo build -q -p bomdata-loader --features aws --example loader_s3
BIN=$(realpath "$BOMDATA_BIN")
WRITE_TREE=$CARGO_TARGET_DIR/debug/examples/write_tree
LOADER=$CARGO_TARGET_DIR/debug/examples/loader_s3
"$PY" -c 'import moto.server, boto3' 2>/dev/null ||
    fail "$PY lacks moto[server] (pip install -r python/requirements.txt)"

# --- server -----------------------------------------------------------------------------------
W=$(mktemp -d /tmp/bomdata-s3.XXXXXX)
MOTO_PID=""
cleanup() {
    if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
    if [ "${S3_TEST_KEEP:-0}" = 1 ]; then say "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Small multipart parts for the test (S3 itself wants at least 5 MiB but the last).
S3_UPLOAD_PART_MIN_SIZE=1024 "$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$W/moto.log" 2>&1 &
MOTO_PID=$!
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing-secret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ALLOW_HTTP=true
unset AWS_PROFILE AWS_SESSION_TOKEN
export BOMDATA_STAGE_DIR=$W/stage BOMDATA_S3_PART_BYTES=65536
export BOMDATA_KEY=s3-test-key-0123456789
for _ in $(seq 100); do
    "$PY" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/')" \
        2>/dev/null && break
    sleep 0.1
done

# s3util.py: mb BUCKET | put DIR BUCKET PREFIX | get BUCKET PREFIX DIR | ls BUCKET PREFIX |
# flip BUCKET KEY (one byte of the object changed)
cat >"$W/s3util.py" <<'EOF'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
def keys(bucket, prefix):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) + 1:]] = o["Size"]
    return out
cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "mb":
    for b in a:
        s3.create_bucket(Bucket=b)
elif cmd == "put":
    d, bucket, prefix = a
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            s3.upload_file(p, bucket, prefix + "/" + os.path.relpath(p, d))
elif cmd == "get":
    bucket, prefix, d = a
    for k in keys(bucket, prefix):
        p = os.path.join(d, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        s3.download_file(bucket, prefix + "/" + k, p)
elif cmd == "ls":
    for k, n in sorted(keys(*a).items()):
        print(n, k)
elif cmd == "flip":
    bucket, key = a
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))
EOF
s3() { "$PY" "$W/s3util.py" "$@"; }
s3 mb src out

# Every object under s3://BUCKET/PREFIX equals the local dataset's file (and the other way
# round), the ingest run's private .ingest folder aside.
same_objects() {
    local what=$1 local_dir=$2 bucket=$3 prefix=$4 got="$W/get-$RANDOM"
    s3 get "$bucket" "$prefix" "$got"
    if ! diff -r -x .ingest "$local_dir" "$got" >"$W/diff.txt" 2>&1; then
        head -20 "$W/diff.txt" >&2
        fail "$what: s3://$bucket/$prefix differs from $local_dir"
    fi
    local n
    n=$(cd "$got" && find . -path ./.ingest -prune -o -type f -print | wc -l)
    say "ok: $what: $n objects byte-identical to the local run"
}

# --- local reference runs ---------------------------------------------------------------------
"$WRITE_TREE" bids "$W/tree" 6 >/dev/null
SHARD_ARGS=(--profile volume --param "target=[24,24,24]" --max-shard-samples 7)
"$BIN" ingest "$W/tree" --out "$W/ingest" -j 1 2>"$W/log-ingest"
"$BIN" shard "$W/ingest" --out "$W/shard" "${SHARD_ARGS[@]}" 2>"$W/log-shard"
s3 put "$W/tree" src tree

# --- 1. ingest: remote to remote, and the mixes -----------------------------------------------
run() {
    local log=$1; shift
    "$BIN" "$@" 2>"$W/$log" || { cat "$W/$log" >&2; fail "bomdata $* exited $?"; }
}
run log-rr ingest s3://src/tree --out s3://out/ingest --state-dir "$W/state-rr" -j 1
grep -q "objects uploaded" "$W/log-rr" || fail "ingest to s3 uploaded nothing"
! grep -q "testing-secret" "$W"/log-* || fail "a log shows the secret key"
same_objects "ingest s3 -> s3" "$W/ingest" out ingest
run log-lr ingest "$W/tree" --out s3://out/ingest-lr --state-dir "$W/state-lr" -j 1
same_objects "ingest local -> s3" "$W/ingest" out ingest-lr
# An earlier dataset under the prefix: refused without --overwrite; with it, replaced (a stray
# object there included), the same objects as the local run.
mkdir -p "$W/stray" && echo stray >"$W/stray/stray.txt"
s3 put "$W/stray" out ingest-lr
(cd "$W" && ! "$BIN" ingest "$W/tree" --out s3://out/ingest-lr --state-dir "$W/state-ow0" -j 1 \
    2>"$W/log-ow0") || fail "an existing dataset on s3 was replaced without --overwrite"
run log-ow ingest "$W/tree" --out s3://out/ingest-lr --state-dir "$W/state-ow" -j 1 --overwrite
same_objects "ingest --overwrite on s3 (earlier dataset and a stray object)" "$W/ingest" out ingest-lr
run log-rl ingest s3://src/tree --out "$W/ingest-rl" -j 1
diff -r -x .ingest "$W/ingest" "$W/ingest-rl" >/dev/null || fail "ingest s3 -> local differs"
say "ok: ingest s3 -> local: byte-identical"
# A remote --out without --state-dir, and another URL scheme, are refused (no local `s3:`).
(cd "$W" && ! "$BIN" ingest "$W/tree" --out s3://out/x 2>/dev/null) || fail "--state-dir not required"
(cd "$W" && ! "$BIN" ingest "$W/tree" --out gs://out/x 2>/dev/null) || fail "gs:// accepted"
[ ! -e "$W/s3:" ] && [ ! -e "$W/gs:" ] || fail "a local folder named after a URL scheme"

# Two ranks (as two array tasks would), each with its own staging folder (node-local disks),
# one shared state folder; then `merge s3://…`: the same objects.
for rank in 0 1; do
    BOMDATA_STAGE_DIR=$W/stage-rank$rank run log-rank$rank ingest s3://src/tree \
        --out s3://out/ingest-2 --state-dir "$W/state-2" -j 1 --rank $rank --world-size 2
done
grep -q "waiting for other ranks" "$W/log-rank0" || fail "rank 0 did not wait for rank 1"
BOMDATA_STAGE_DIR=$W/stage-merge run log-merge merge s3://out/ingest-2 --state-dir "$W/state-2"
same_objects "ingest by 2 ranks + merge, s3 -> s3" "$W/ingest" out ingest-2

# --- 2. shard ---------------------------------------------------------------------------------
run log-shard-rr shard s3://out/ingest --out s3://out/shard "${SHARD_ARGS[@]}"
same_objects "shard s3 -> s3" "$W/shard" out shard

# --- 3. verify --------------------------------------------------------------------------------
for p in ingest shard; do
    "$BIN" verify "s3://out/$p" >"$W/verify-$p" 2>&1 || { cat "$W/verify-$p" >&2; fail "verify s3://out/$p"; }
done
say "ok: verify s3://out/ingest: $(tail -1 "$W/verify-ingest"); s3://out/shard: $(tail -1 "$W/verify-shard")"
s3 put "$W/shard" out bad
first=$(cd "$W/shard/shards" && ls ./*.tar | head -1)
s3 flip out "bad/shards/${first#./}"
set +e
"$BIN" verify s3://out/bad >"$W/verify-bad" 2>&1
code=$?
set -e
[ "$code" = 1 ] && grep -q DAMAGED "$W/verify-bad" || { cat "$W/verify-bad" >&2; fail "verify of a damaged copy exited $code"; }
say "ok: verify s3://out/bad (one flipped byte): exit 1, $(grep -c DAMAGED "$W/verify-bad") problem(s) named"

# --- 4. kill -9 mid-upload, then resume -------------------------------------------------------
killed() {
    local what=$1 prefix=$2; shift 2
    set +e
    BOMDATA_KILL_AFTER_PARTS=${KILL_AFTER:-5} "$BIN" "$@" 2>"$W/log-kill"
    local code=$?
    set -e
    [ "$code" = 137 ] || { cat "$W/log-kill" >&2; fail "$what: expected SIGKILL (137), got $code"; }
    if s3 ls out "$prefix" | grep -q ' manifest.json$'; then fail "$what: manifest uploaded before the kill"; fi
    s3 ls out "$prefix" >"$W/ls-killed"
    say "ok: $what killed mid-upload: $(wc -l <"$W/ls-killed") objects there, no manifest"
}
KILL_ARGS=(ingest s3://src/tree --out s3://out/ingest-k --state-dir "$W/state-k" -j 1)
KILL_AFTER=40 killed "ingest" ingest-k "${KILL_ARGS[@]}"
committed=$(grep -c ' .ingest/units/' "$W/ls-killed" || true)
[ "$committed" -ge 2 ] || fail "ingest: $committed units committed before the kill (expected some)"
staged=$(find "$W/stage/out/out/ingest-k/shards" -name '*.tar' | wc -l)
[ "$staged" -le 1 ] || fail "ingest: $staged shards left in the staging folder (committed units are removed)"
run log-resume "${KILL_ARGS[@]}"
done_now=$(sed -n 's/.* converted, \([0-9]*\) already done.*/\1/p' "$W/log-resume")
[ "${done_now:-0}" -ge "$committed" ] || { cat "$W/log-resume" >&2; fail "the resumed ingest redid committed units"; }
s3 ls out ingest-k | grep -q ' .ingest/units/' && fail "commit records left after the manifest"
same_objects "ingest resumed after kill -9 ($committed units committed before it, $done_now skipped)" "$W/ingest" out ingest-k
killed "shard" shard-k shard s3://out/ingest --out s3://out/shard-k "${SHARD_ARGS[@]}"
run log-resume shard s3://out/ingest --out s3://out/shard-k "${SHARD_ARGS[@]}"
same_objects "shard resumed after kill -9" "$W/shard" out shard-k

# --- 5. loader from S3 ------------------------------------------------------------------------
# Ranged reads (the default: each sample's byte range, adjacent ones coalesced, fetched by a
# read-ahead window of a few batches, 1 MiB at most here so that it is exercised; no shard
# copied) and whole shards fetched on first touch (mode=whole): the same batches as local; a
# ranged rank fetches about its share (its samples' bytes, plus manifest and indexes).
idx_bytes=$(cat "$W/shard/manifest.json" "$W"/shard/shards/*.idx.json | wc -c)
for rank in 0 1; do
    args=(rank=$rank world=2 batch_size=4 threads=2 seed=7 shuffle_buffer=4 shapes=volume.npy:list)
    "$LOADER" "$W/shard" "${args[@]}" >"$W/loader-local-$rank"
    grep '^batch' "$W/loader-local-$rank" >"$W/a"
    [ -s "$W/a" ] || fail "loader rank $rank read no batch"
    for mode in ranged whole; do
        "$LOADER" s3://out/shard "${args[@]}" mode=$mode window_mb=1 cache="$W/cache-$mode-$rank" >"$W/loader-s3-$rank"
        grep '^batch' "$W/loader-s3-$rank" >"$W/b"
        cmp -s "$W/a" "$W/b" || { diff "$W/a" "$W/b" | head >&2; fail "loader rank $rank ($mode): s3 batches differ"; }
        sum=$(tail -1 "$W/loader-s3-$rank")
        num() { sed -n "s/.* $1 \([0-9]*\).*/\1/p" <<<"$sum"; }
        fetched=$(num fetched_bytes) total=$(num dataset_shard_bytes)
        [ "$fetched" -lt "$total" ] || fail "loader rank $rank of 2 ($mode) fetched every shard ($fetched bytes)"
        if [ $mode = ranged ]; then
            # its samples' bytes (share_bytes), the manifest and indexes, and at most a few
            # bytes between samples fetched in one request
            share=$(num share_bytes)
            [ "$fetched" -ge $((share + idx_bytes)) ] && [ "$fetched" -le $((share + share / 20 + idx_bytes)) ] ||
                fail "loader rank $rank (ranged) fetched $fetched bytes; its samples hold $share, indexes $idx_bytes"
            eval "ranged_$rank=$fetched"
            [ ! -d "$W/cache-$mode-$rank/shards" ] || [ -z "$(find "$W/cache-$mode-$rank/shards" -name '*.tar')" ] ||
                fail "loader rank $rank (ranged) copied shard files"
            say "ok: loader rank $rank of 2 from s3, ranged reads: $(wc -l <"$W/a") batches identical to local; fetched $fetched bytes = its samples' $share + $idx_bytes of manifest and indexes ($(num fetched_objects) requests, $(num direct_reads) outside the read-ahead, window peak $(num peak_window_bytes) bytes) of $total in shards"
        else
            say "ok: loader rank $rank of 2 from s3, whole shards: batches identical; fetched $fetched bytes of $total"
        fi
    done
done
# Ranks 0 and 1 read disjoint samples covering the dataset: together they fetch the shards'
# sample bytes once (plus each its copy of the manifest and indexes).
both=$((ranged_0 + ranged_1 - 2 * idx_bytes))
[ "$both" -le $((total + total / 10)) ] || fail "ranged: ranks fetched $both sample bytes, the shards hold $total"
say "ok: ranged: ranks 0+1 fetched $both bytes of samples (shards: $total bytes, tar headers and padding of the ends aside): each about its share"
say "all checks passed in $(($(date +%s) - T_START))s"
