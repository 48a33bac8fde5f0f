#!/usr/bin/env bash
# Builds and tests bomdata-loader's `tch` feature on CPU against libtorch from the PyPI torch
# wheel (no CUDA needed to run; CUDA is used at run time only when a GPU is present and the full
# CUDA wheels are installed).
#
# What it does (idempotent):
#   1. pip install torch==2.13.0 --no-deps (526.6 MB wheel, 1.2 GB installed) plus the two CUDA
#      runtime wheels libtorch_cpu.so needs to load: cuda-toolkit[cudart,cupti]==13.0.3
#      (nvidia-cuda-runtime 2.2 MB, nvidia-cuda-cupti 10.7 MB). The full `pip install torch`
#      would pull ~3.5 GB more of CUDA libraries (cublas, cudnn, nccl, ...).
#   2. a link directory with libtorch_cpu/libtorch/libc10 but WITHOUT libtorch_cuda.so, so
#      torch-sys links the CPU libraries only (it links torch_cuda whenever that file exists);
#      headers from the wheel. LIBTORCH_USE_PYTORCH=1 cannot be used with --no-deps: it imports
#      torch in Python, which preloads every CUDA library.
#   3. cargo clippy + cargo test -p bomdata-loader --features tch, with LD_LIBRARY_PATH set to
#      torch/lib and the CUDA runtime wheel's lib (a Debian libtorch would otherwise shadow it).
#
# Env: VENV (default <repo>/.venv), CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! [ -f "$VENV/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so" ] && \
   ! "$VENV/bin/pip" show torch 2>/dev/null | grep -q '^Version: 2.13.0'; then
    "$VENV/bin/pip" install --no-deps torch==2.13.0
fi
"$VENV/bin/pip" show nvidia-cuda-runtime >/dev/null 2>&1 || "$VENV/bin/pip" install "cuda-toolkit[cudart,cupti]==13.0.3"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TORCH=$SITE/torch
CUDALIB=$(dirname "$(find "$SITE/nvidia" -name 'libcudart.so.*' | head -1)")
[ -f "$TORCH/lib/libtorch_cpu.so" ] || { echo "torch not found under $SITE" >&2; exit 2; }
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SHIM=$TARGET/libtorch-cpu-shim
mkdir -p "$SHIM/lib"
ln -sfn "$TORCH/include" "$SHIM/include"
for f in libtorch_cpu.so libtorch.so libc10.so libgomp.so.1 libshm.so; do
    [ -e "$TORCH/lib/$f" ] && ln -sfn "$TORCH/lib/$f" "$SHIM/lib/$f"
done
printf '2.13.0' > "$SHIM/build-version"
export LIBTORCH=$SHIM
export LIBTORCH_CXX11_ABI=1
export LD_LIBRARY_PATH=$TORCH/lib:$CUDALIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath,$TORCH/lib -C link-arg=-Wl,-rpath,$CUDALIB"
cd "$ROOT"
cargo clippy -p bomdata-loader --features tch --all-targets -- -D warnings
cargo test -p bomdata-loader --features tch
