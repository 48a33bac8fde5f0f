#!/usr/bin/env bash
# The main job on the example cohort the repository ships (examples/cohort: three subjects with
# T1w + BOLD NIfTI, resting EEG in BIDS, Olink NPX and clinical visits, plus a reference FASTA;
# files and licences in examples/cohort/SOURCES.tsv). Each source is ingested into a canonical
# dataset, sharded with its profile, verified; one QC report covers them all; the run ends by
# streaming one epoch through the loader with same-subject pairing. Output in out/example
# (override with $1).
# The example data are public, so the fixed public pseudonymisation key is allowed; for real
# data give --key-file or BOMDATA_KEY instead of --allow-unkeyed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-out/example}
# The default build links the system HDF5 library (NWB, EEGLAB v7.3, BIOM v2.1): install it on a
# fresh Debian/Ubuntu machine.
if ! dpkg -s libhdf5-dev pkg-config >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi
cargo build --release -q -p bomdata
cargo build --release -q -p bomdata-loader --example cohort_epoch
BIN=${CARGO_TARGET_DIR:-target}/release/bomdata
EPOCH=${CARGO_TARGET_DIR:-target}/release/examples/cohort_epoch
COHORT=examples/cohort
C=$OUT/canonical
T=$OUT/training
START=$(date +%s%N)
step() { printf '\n== %s\n' "$*"; }

step "ingest: one canonical dataset per source (the source is detected from the cohort's registry)"
for src in mri eeg genome tables/olink tables/clinical; do
    "$BIN" ingest "$COHORT/$src" --registry "$COHORT/datasets.toml" --out "$C/$(basename "$src")" \
        --allow-unkeyed
done

step "shard: each source with its profile"
shard() { "$BIN" shard "$@" --seed 1 --overwrite; }
# SwiFT windows of the BOLD runs (the example runs have 2 and 20 frames: 2-frame windows).
shard "$C/mri" --out "$T/swift" --profile swift --param window=2 --param stride=2
# T1w volumes for a ViT encoder, on a small grid (64^3).
shard "$C/mri" --out "$T/volume" --profile volume --param target=64
# CBraMod windows fitted to 30 s recordings: no 60 s trims, no 5 min minimum, 10 s windows.
shard "$C/eeg" --out "$T/eeg" --profile cbramod --param trim_start_s=0 --param trim_end_s=0 \
    --param min_duration_s=0 --param window_s=10 --param stride_s=10
# DNA: HyenaDNA character tokens, soft-masked bases upper-cased.
shard "$C/genome" --out "$T/dna" --tokens hyena-char --param case=upper --seq-len 1024
# Tables: each table carried by split (tables/<modality>/<split>.parquet and one row sample per
# subject visit in the row shards); the clinical visit texts as samples too.
shard "$C/clinical" --out "$T/clinical"
shard "$C/olink" --out "$T/olink"

step "verify"
for d in "$T"/*; do printf '%-10s ' "$(basename "$d")"; "$BIN" verify "$d"; done

step "report"
# Every dataset folder (the canonical ones' private run state, DIR.private beside each, is not one).
datasets=()
for d in "$C"/* "$T"/*; do [ -f "$d/manifest.json" ] && datasets+=("$d"); done
"$BIN" report "${datasets[@]}" --out "$OUT/report.html"

step "loader: one epoch, same-subject pairing"
"$EPOCH" "$T" 4

awk -v s="$START" -v e="$(date +%s%N)" 'BEGIN { printf "\nmain job: %.1f s after the build\n", (e - s) / 1e9 }'
