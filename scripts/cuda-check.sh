#!/usr/bin/env bash
# Builds the FastLLM node with `--features cuda` on a machine without a GPU or a system CUDA toolkit, with the test
# that checks its CUDA decode kernels on a GPU (tests/cuda_decode.rs), and prints both paths, the binary's first.
# Without a GPU it runs those kernels by emulation on the CPU (tests/cuda_emulation). Usage: bash scripts/cuda-check.sh
#
# The CUDA 13.0 toolkit comes from NVIDIA's PyPI wheels (nvcc, cicc, headers, runtime libraries), pinned, in a venv
# outside the repo that later runs reuse. What the build needs from it:
# - nvcc on PATH: candle-kernels compiles its kernels with it (PTX, plus a static library of quantized/MoE kernels),
#   and cudarc reads the CUDA version from `nvcc --version` to pick its bindings.
# - CUDA_COMPUTE_CAP: there is no nvidia-smi to ask. 90 (H100/H200) unless set; kernels are built for that GPU only.
# - libraries to link: cudarc links libcuda, libnvrtc, libcurand, libcublas and libcublasLt, candle-kernels libcudart,
#   by their unversioned names. The wheels ship only the versioned files (libcublas.so.13), so a folder of links
#   gives the linker those names. libcuda belongs to the GPU driver and no wheel has it: the linker gets a stub made
#   here from cuda.h (every driver function, soname libcuda.so.1), and the binary loads the real driver at run time.
# - a portable CPU target: native-server/.cargo/config.toml builds for this CPU (target-cpu=native); this binary is
#   meant to be carried to a GPU machine, so RUSTFLAGS (which takes precedence over that file) asks for x86-64-v3.
#
# The binary needs on the GPU machine: an NVIDIA driver for CUDA 13 (r580 or newer; the kernels are PTX 9.0 that the
# driver compiles at load) and the CUDA 13 libraries libcudart.so.13, libnvrtc.so.13, libcurand.so.10,
# libcublas.so.13, libcublasLt.so.13 on the loader's path (for instance this venv's nvidia/cu13/lib).
#
# Cargo builds into its own target dir (HEDDLE_CUDA_TARGET_DIR, default ~/.cache/heddle/cargo-target-cuda), never the
# CPU build's: the flags differ, and sharing one dir would rebuild everything each time either one runs.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HEDDLE_CUDA_VENV:-$HOME/.cache/heddle/cuda-venv}"
TARGET_DIR="${HEDDLE_CUDA_TARGET_DIR:-$HOME/.cache/heddle/cargo-target-cuda}"
# The CUDA 13.0 toolkit, versions as NVIDIA's cuda-toolkit==13.0.2 meta-package pins them. cudarc 0.19 knows CUDA
# 11.4 to 13.4; 13.0 is the oldest CUDA 13, so its PTX loads on every r580+ driver.
PINS=(
  "nvidia-cuda-nvcc==13.0.88"     # nvcc, ptxas, fatbinary, nvlink, cudafe++
  "nvidia-nvvm==13.0.88"          # cicc, libdevice
  "nvidia-cuda-crt==13.0.88"      # crt/ headers nvcc includes
  "nvidia-cuda-runtime==13.0.96"  # cuda.h, cuda_runtime.h, cuda_bf16.h, ..., libcudart
  "nvidia-cuda-cccl==13.0.85"     # cuda/std headers the runtime headers include
  "nvidia-cuda-nvrtc==13.0.88"    # libnvrtc
  "nvidia-curand==10.4.0.35"      # libcurand
  "nvidia-cublas==13.1.0.3"       # libcublas, libcublasLt
)
STAMP="$VENV/.heddle-cuda-13.0.2-$(printf '%s\n' "${PINS[@]}" | cksum | cut -d' ' -f1)"

if [ ! -f "$STAMP" ]; then
  PYTHON="${PYTHON:-python3}"
  mkdir -p "$(dirname "$VENV")"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
  rm -rf "$VENV/heddle-link"
  touch "$STAMP"
fi

CUDA_HOME="$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
LINK_DIR="$VENV/heddle-link"
if [ ! -f "$LINK_DIR/libcuda.so" ]; then
  rm -rf "$LINK_DIR.tmp" && mkdir -p "$LINK_DIR.tmp"
  # One definition per driver function declared in cuda.h (after its _v2/_v3 renames), each returning
  # CUDA_ERROR_STUB_LIBRARY (34), like the stub the full toolkit ships. Only the linker ever reads this file.
  names="$(cc -E -P -x c -I"$CUDA_HOME/include" "$CUDA_HOME/include/cuda.h" \
    | grep -oE '^[[:space:]]*(extern[[:space:]]+)?CUresult[[:space:]]+cu[A-Za-z0-9_]+[[:space:]]*\(' \
    | sed -E 's/.*CUresult[[:space:]]+//; s/[[:space:]]*\($//' | sort -u)"
  [ "$(printf '%s\n' "$names" | wc -l)" -gt 100 ] || { echo "cuda-check: found no driver functions in cuda.h" >&2; exit 1; }
  printf 'int %s(void) { return 34; }\n' $names > "$LINK_DIR.tmp/cuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$LINK_DIR.tmp/libcuda.so" "$LINK_DIR.tmp/cuda_stub.c"
  for lib in cudart nvrtc curand cublas cublasLt; do
    real="$(cd "$CUDA_HOME/lib" && ls "lib$lib.so."* | grep -E "^lib$lib\.so\.[0-9]+$" | head -1)"
    ln -s "$CUDA_HOME/lib/$real" "$LINK_DIR.tmp/lib$lib.so"
  done
  rm -rf "$LINK_DIR" && mv "$LINK_DIR.tmp" "$LINK_DIR"
fi

export CUDA_HOME
export PATH="$CUDA_HOME/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export CARGO_TARGET_DIR="$TARGET_DIR"
# candle-kernels' build compiles its ~15 quantized/MoE kernel files on half the cores by default (one file at a time
# on 2 cores); each takes about a CPU-minute, and nothing else can build while they do.
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"
# -L: the link folder above; -rpath-link: where the linker finds what libcublas.so.13 itself needs (libcublasLt).
export RUSTFLAGS="-C target-cpu=x86-64-v3 -L native=$LINK_DIR -C link-arg=-Wl,-rpath-link,$CUDA_HOME/lib"
unset CARGO_ENCODED_RUSTFLAGS

cd "$REPO/native-server"
# The decode kernels' arithmetic, one std::thread per CUDA thread, against reference loops.
mkdir -p "$TARGET_DIR"
c++ -std=c++20 -O1 -pthread -o "$TARGET_DIR/cuda-emulate" tests/cuda_emulation/emulate.cpp
"$TARGET_DIR/cuda-emulate" >&2
cargo build --release --features cuda --bin fastllm >&2
test_bin="$(cargo test --release --features cuda --no-run --test cuda_decode --message-format=json-render-diagnostics \
  | grep -o '"executable":"[^"]*cuda_decode[^"]*"' | cut -d'"' -f4)"
[ -x "$test_bin" ] || { echo "cuda-check: the cuda_decode test was not built" >&2; exit 1; }
echo "$TARGET_DIR/release/fastllm"
echo "$test_bin"
