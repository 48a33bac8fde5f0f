#!/usr/bin/env bash
# A fresh clone stands alone: fetches the committed HEAD of this repository into an empty
# temporary folder (no sibling folders) and runs there the Rust tests that read
# the fixture corpus (tests/fixtures, tests/data), with BOMDATA_FIXTURES unset. Any test that
# needs a file outside the clone fails. Only those test targets are built and run (cheap on CI).
# Uncommitted changes are not part of the clone: commit first.
#
# Build folder: $BOMDATA_STANDALONE_TARGET, default $CARGO_TARGET_DIR/standalone. It must not be
# the main build folder: cargo names a workspace crate's artifacts by its path relative to the
# workspace root, so a clone's build would overwrite the main tree's and could later pass for it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=${BOMDATA_STANDALONE_TARGET:-$BASE/standalone}
export CARGO_TERM_COLOR=never
unset BOMDATA_FIXTURES BOMDATA_BIN

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
REPO=$TMP/repo
git init -q "$REPO"
git -C "$REPO" fetch -q --depth 1 "file://$ROOT" HEAD
git -C "$REPO" checkout -q --detach FETCH_HEAD
cd "$REPO"
echo "test-standalone: $(git rev-parse --short HEAD) in $REPO (target $CARGO_TARGET_DIR)"
ls -A "$TMP"

# Nothing in the code may name a corpus folder beside the clone (bench/ is a harness that
# lives outside the repository and may).
if git grep -n '\.\./shared' -- '*.rs' '*.sh' '*.py' '*.toml' ':!bench'; then
    echo "test-standalone: the lines above reach outside the repository" >&2
    exit 1
fi

# The end-to-end probes run the binary; cargo test builds only its unit-test harness.
cargo build -q -p bomdata
cargo test -q -p bomdata-nifti -p bomdata-dicom -p bomdata-edf -p bomdata-ephys -p bomdata-genomic \
    -p bomdata-table -p bomdata-tokenizers -p bomdata-profiles -p bomdata-ingest \
    --test conformance --test bad_input --test synthetic --test cram --test inflate \
    --test interop --test parity --test eeg_profiles --test mri_profiles \
    --test bids_ephys_sources --test genome_pybigwig --test genome_windows --test genome_reads \
    --test table_parts
cargo test -q -p bomdata-ingest --lib -- read_windows_from_a_bam
cargo test -q -p bomdata-tests --test e2e -- hdf5:: tokens::genome_windows_from_a_fasta_fixture
echo "test-standalone: passed"
