#!/usr/bin/env bash
# Loader benchmark, like for like (issue 22): bomdata-loader, LitData, MDS, cat and zstd, every side a
# whole process, sides alternating, each side REPEAT runs; see run.py for what each side does.
# The older all-in-one script (anchors from the harness's read_bench.py, bomdata in-process best of 3)
# is `bench/loader/run.sh` at commit 161f863 (git show 161f863:bench/loader/run.sh).
#
# usage: bench/loader/run.sh        env: DATA (default $BENCH_ENV/data), BENCH_ENV (default bench/loader/.work),
#        FMRI_N (100), EEG_N (13000), REPEAT (3), SIDES (run.py --sides), HARNESS (../shared/bench/loader),
#        PYLIB (pip --target dir for litdata + mosaicml-streaming; default $BENCH_ENV/pylib),
#        RIVAL_PY (torch venv python; default .venv-torch/bin/python)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HARNESS=${HARNESS:-$(cd "$ROOT/../shared/bench/loader" && pwd)}
BENCH_ENV=${BENCH_ENV:-$HERE/.work}
DATA=${DATA:-$BENCH_ENV/data}
PYLIB=${PYLIB:-$BENCH_ENV/pylib}
RIVAL_PY=${RIVAL_PY:-$ROOT/.venv-torch/bin/python}
FMRI_N=${FMRI_N:-100}
EEG_N=${EEG_N:-13000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release/examples
export PYTHONPATH=$PYLIB:$HARNESS:$HERE
step() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

if ! "$RIVAL_PY" -c 'import shims; shims.install(); import compat, litdata, streaming' 2>/dev/null; then
    step "installing litdata 0.2.76 + mosaicml-streaming 0.13.0 into $PYLIB (pip --target, no deps)"
    "$RIVAL_PY" -m pip install -q --no-deps --target "$PYLIB" litdata==0.2.76 mosaicml-streaming==0.13.0 \
        lightning-utilities boto3 botocore s3transfer jmespath python-dateutil six urllib3 requests idna \
        certifi charset-normalizer tifffile obstore xxhash zstd tqdm catalogue brotli python-snappy cramjam pillow
fi
if [ ! -f "$DATA/manifest.json" ]; then
    step "writing the harness datasets raw, lit, mds (fmri $FMRI_N, eeg $EEG_N)"
    "$RIVAL_PY" -c 'import shims, sys, runpy; shims.install(); sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' \
        "$HARNESS/make_data.py" --out "$DATA" --fmri-n "$FMRI_N" --eeg-n "$EEG_N" --formats raw,lit,mds
fi
step "building release examples"
(cd "$ROOT" && cargo build --release -q -p bomdata-loader --example bench_loader_write --example bench_loader_read)
for ds in fmri eeg; do
    for c in none zstd; do
        d=$DATA/$ds/bomdata_$c
        [ -f "$d/manifest.json" ] || { step "writing $d"; "$BIN/bench_loader_write" "$DATA/$ds/raw" "$d" "$c" 128; }
    done
done
step "timing (whole processes, alternating)"
python3 "$HERE/run.py" --data "$DATA" --repeat "${REPEAT:-3}" --sides "${SIDES:-cat,dd,bomdata_1t,bomdata_2t,lit_0w,lit_2w,mds_0w,mds_2w}" \
    --bin "$BIN" --rival-python "$RIVAL_PY" --pythonpath "$PYLIB:$HARNESS" --jsonl "$BENCH_ENV/results.jsonl"
