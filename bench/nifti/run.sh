#!/usr/bin/env bash
# Peak RSS of reading a 91x109x91x490 float32 .nii.gz run, against one float32 copy of the run
# (the target is < 1.5x): `stream` reads volume by volume; `corder` fills one C-order float32
# buffer of the whole run as the ingest adapters do for volume.npy; `whole` (the baseline,
# measured in the same run) reads everything into one Vec<f32>.
#
# usage: bench/nifti/run.sh [NX NY NZ NT]     (defaults: 91 109 91 490)
# env:   CARGO_TARGET_DIR (default: target), BENCH_DIR (scratch folder, default: mktemp -d)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIMS=("${@:-91 109 91 490}")
read -r NX NY NZ NT <<<"${DIMS[*]}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p bomdata-nifti --example bench_nifti
BIN="$TARGET/release/examples/bench_nifti"
DIR="${BENCH_DIR:-$(mktemp -d)}"
FILE="$DIR/run_${NX}x${NY}x${NZ}x${NT}.nii.gz"
trap 'rm -rf "$FILE" "$DIR/bids" "$DIR/out" "$DIR/out.private"; [ -n "${BENCH_DIR:-}" ] || rmdir "$DIR"' EXIT
[ -f "$FILE" ] || "$BIN" gen "$FILE" "$NX" "$NY" "$NZ" "$NT" >/dev/null
# Optional: the whole `bomdata ingest` of a one-run BIDS tree (needs the release CLI binary).
BOMDATA_BIN="${BOMDATA_BIN:-$TARGET/release/bomdata}"
if [ -x "$BOMDATA_BIN" ]; then
  mkdir -p "$DIR/bids/sub-01/func"
  echo '{"Name": "bench", "BIDSVersion": "1.8.0"}' >"$DIR/bids/dataset_description.json"
  ln "$FILE" "$DIR/bids/sub-01/func/sub-01_task-rest_bold.nii.gz" 2>/dev/null ||
    cp "$FILE" "$DIR/bids/sub-01/func/sub-01_task-rest_bold.nii.gz"
else
  BOMDATA_BIN=""
fi
python3 - "$BIN" "$FILE" "$NX" "$NY" "$NZ" "$NT" "$BOMDATA_BIN" "$DIR" <<'PY'
import os, resource, subprocess, sys, time
binary, path = sys.argv[1], sys.argv[2]
nx, ny, nz, nt = map(int, sys.argv[3:7])
cli, scratch = sys.argv[7], sys.argv[8]
copy = nx * ny * nz * nt * 4

def peak(mode):
    # Each mode in a fresh child; ru_maxrss of a waited child is its own peak (KiB on Linux).
    argv = mode if isinstance(mode, list) else [binary, mode, path]
    pid = os.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    t0 = time.time()
    _, status, ru = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{argv} failed with status {status}")
    return ru.ru_maxrss * 1024, time.time() - t0

print(f"file: {path} ({os.path.getsize(path) / 2**20:.1f} MiB gzip), grid {nx}x{ny}x{nz}x{nt} float32")
print(f"one float32 copy of the run: {copy / 2**20:.1f} MiB")
for mode in ("stream", "corder", "whole"):
    rss, secs = peak(mode)
    print(f"{mode:6s}: peak RSS {rss / 2**20:8.1f} MiB = {rss / copy:.3f}x one copy   ({secs:.1f} s)")
if cli:
    argv = [cli, "ingest", os.path.join(scratch, "bids"), "--out", os.path.join(scratch, "out"),
            "--source", "hbn_mri", "--allow-unkeyed", "-j", "1"]
    rss, secs = peak(argv)
    print(f"ingest: peak RSS {rss / 2**20:8.1f} MiB = {rss / copy:.3f}x one copy   ({secs:.1f} s)  [bomdata ingest, bids adapter]")
else:
    print("ingest: skipped (build the CLI with `cargo build --release -p bomdata` or set BOMDATA_BIN)")
PY
