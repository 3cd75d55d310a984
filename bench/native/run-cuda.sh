#!/usr/bin/env bash
# The FastLLM node on a GPU, in one run: single-stream and batched decode tokens/s of `fastllm bench` (random
# weights, real shapes, bf16; the batched decode step on the CUDA kernels, then on candle's ops for the A/B)
# against HF transformers generate() on the same GPU; the kernels' test against candle's ops (tests/cuda_decode.rs,
# when CUDA_DECODE_TEST names its binary); then the bundled demo model served by the same binary through
# bench/native/cuda_serve_check.py. Not a test: CI has no GPU.
#
# Run it on the GPU machine with a binary built here by scripts/cuda-check.sh (carried there, see
# bench/results/native-cuda.md for the exact call). The CUDA 13 libraries it links (cuBLAS, cuRAND, the runtime)
# are taken from wherever that machine has them (PyTorch's nvidia wheels).
# Usage: FASTLLM_BIN=path [CUDA_DECODE_TEST=path] bench/native/run-cuda.sh
#   MODEL=bench/native/qwen2.5-0.5b  LEVELS=1,8,16,1,8,16  NEW_TOKENS=128  DEVICE=cuda  DTYPE=bf16
#   SKIP_HF=1  SKIP_SERVE=1  PYTHON=python3
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN="${FASTLLM_BIN:?FASTLLM_BIN: the fastllm binary to run}"
MODEL="${MODEL:-bench/native/qwen2.5-0.5b}"
DEVICE="${DEVICE:-cuda}"
DTYPE="${DTYPE:-bf16}"
NEW="${NEW_TOKENS:-128}"
PY="${PYTHON:-python3}"
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  for lib in libcublasLt.so.13 libcurand.so.10 libcudart.so.13; do
    ldconfig -p | grep -q "$lib" && continue
    dir="$(dirname "$(find / -xdev -name "$lib" -not -path '/proc/*' 2>/dev/null | head -1)")"
    [ "$dir" != . ] && export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
  done
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
fi
status=0

echo "## fastllm, one stream (prompt 128, 256 new)"
timeout 180 "$BIN" bench --model "$MODEL" --prompt-tokens 128 --new-tokens 256 --device "$DEVICE" --dtype "$DTYPE" || status=1
echo "## fastllm, streams at once through the scheduler (prompt 128, $NEW new): fused decode step, then candle's ops"
echo "| config | streams | prompt | new | decode tok/s | vs 1 stream | decode tok/CPU-s | vs 1 stream | CPU share | prefill s | end-to-end tok/s | load avg | decode tok/s while all N streams decode | vs 1 stream | forward ms/step |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for ab in "" --candle-ops; do
  timeout 300 "$BIN" bench --model "$MODEL" --prompt-tokens 128 --new-tokens "$NEW" --concurrency "${LEVELS:-1,8,16,1,8,16}" \
    --device "$DEVICE" --dtype "$DTYPE" $ab || status=1
done

if [ -n "${CUDA_DECODE_TEST:-}" ]; then
  echo "## tests/cuda_decode.rs"
  timeout 300 "$CUDA_DECODE_TEST" --nocapture --test-threads 1 || status=1
fi

if [ -z "${SKIP_HF:-}" ]; then
  echo "## HF transformers generate() (prompt 128, $NEW new)"
  hf_dtype=$([ "$DTYPE" = bf16 ] && echo bfloat16 || echo float32)
  for b in 1 16; do
    timeout 240 "$PY" bench/native/hf_transformers.py --model "$MODEL" --prompt-tokens 128 --new-tokens "$NEW" \
      --dtype "$hf_dtype" --device "$DEVICE" --batch "$b" || status=1
  done
fi

if [ -z "${SKIP_SERVE:-}" ]; then
  echo "## the demo model served on $DEVICE"
  port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$BIN" serve --model native-server/demo-model/heddle-demo --device "$DEVICE" --host 127.0.0.1 --port "$port" &
  server=$!
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  timeout 300 "$PY" bench/native/cuda_serve_check.py --base "http://127.0.0.1:$port" || status=1
  kill "$server"; wait "$server" 2>/dev/null
fi
exit $status
