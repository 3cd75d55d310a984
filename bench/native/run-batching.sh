#!/usr/bin/env bash
# Continuous batching: total decode tokens/s of N concurrent greedy streams through the fastllm scheduler
# (admission, chunked prefill, batched decode, sampling, detokenization), on random weights with real model shapes,
# against one stream measured in the same process. Each level's decode window starts once every stream has its
# first token, so it holds only batched decode steps; its last steps have fewer streams (those admitted first end
# first), so the last two columns give the same figure up to the first stream's end, while all N streams decode.
# Not a test.
# Usage: bench/native/run-batching.sh [extra fastllm bench flags]
#   MODELS="qwen2.5-0.5b tinyllama-1.1b"  LEVELS=1,8,16,1,8,16 (repeat levels to see the spread)  NEW_TOKENS=64
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/heddle/cargo-target}"
# Build from inside native-server/ so that its .cargo/config.toml (target-cpu=native) applies.
(cd native-server && cargo build --release >&2)
BIN="$CARGO_TARGET_DIR/release/fastllm"
echo "| config | streams | prompt | new | decode tok/s | vs 1 stream | decode tok/CPU-s | vs 1 stream | CPU share | prefill s | end-to-end tok/s | load avg | decode tok/s while all N streams decode | vs 1 stream | forward ms/step |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in ${MODELS:-qwen2.5-0.5b tinyllama-1.1b}; do
  "$BIN" bench --model "bench/native/$m" --prompt-tokens 128 --new-tokens "${NEW_TOKENS:-64}" \
    --concurrency "${LEVELS:-1,8,16,1,8,16}" --device cpu "$@"
done
