#!/usr/bin/env bash
# Single-stream prefill and decode tokens/s of the fastllm engine on random weights with real model shapes,
# plus the memory-bandwidth ceiling (measured read GB/s / bytes of weights streamed per token).
# Not a test. Usage: bench/native/run.sh [extra fastllm bench flags, e.g. --dtype bf16]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/heddle/cargo-target}"
# Build from inside native-server/ so that its .cargo/config.toml (target-cpu=native) applies.
(cd native-server && cargo build --release >&2)
BIN="$CARGO_TARGET_DIR/release/fastllm"
echo "| config | params | prompt | new | prefill tok/s | decode tok/s | prefill tok/CPU-s | decode tok/CPU-s | weights read/token | read bandwidth | ceiling tok/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
NEW="${NEW_TOKENS:-256}"
for m in qwen2.5-0.5b tinyllama-1.1b; do
  "$BIN" bench --model "bench/native/$m" --prompt-tokens 128 --new-tokens "$NEW" --device cpu "$@"
done
