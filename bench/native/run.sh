#!/usr/bin/env bash
# Single-stream prefill and decode tokens/s of the fastllm engine on random weights with real model shapes, in f32
# and bf16 (bf16 weights, f32 compute on the CPU), each config followed by HF transformers on the same config
# (bench/native/hf_transformers.py), plus the memory-bandwidth ceiling (read GB/s with as many threads as decode
# uses / bytes of weights streamed per token) and the ratios against both, all from this one run.
# Not a test. Usage: bench/native/run.sh [extra fastllm bench flags]
#   MODELS="qwen2.5-0.5b tinyllama-1.1b"  DTYPES="f32 bf16"  NEW_TOKENS=256  SKIP_HF=1 (fastllm only)
#   HF_VENV (default $HOME/.cache/heddle/train-venv; created from native-server/demo-model/requirements.txt if absent)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/heddle/cargo-target}"
# Build from inside native-server/ so that its .cargo/config.toml (target-cpu=native) applies.
(cd native-server && cargo build --release >&2)
BIN="$CARGO_TARGET_DIR/release/fastllm"
VENV="${HF_VENV:-$HOME/.cache/heddle/train-venv}"
if [ -z "${SKIP_HF:-}" ] && [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -r native-server/demo-model/requirements.txt >&2
fi
NEW="${NEW_TOKENS:-256}"
THREADS="$(nproc)"
ROWS="$(mktemp)"
trap 'rm -f "$ROWS"' EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in ${MODELS:-qwen2.5-0.5b tinyllama-1.1b}; do
  for d in ${DTYPES:-f32 bf16}; do
    "$BIN" bench --model "bench/native/$m" --prompt-tokens 128 --new-tokens "$NEW" --device cpu --dtype "$d" "$@" \
      | sed 's/^/fastllm/' | tee -a "$ROWS" >&2
  done
  if [ -z "${SKIP_HF:-}" ]; then
    "$VENV/bin/python" bench/native/hf_transformers.py --model "bench/native/$m" --prompt-tokens 128 \
      --new-tokens "$NEW" --threads "$THREADS" | sed 's/^/hf/' | tee -a "$ROWS" >&2
  fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$ROWS" "$NEW" <<'EOF'
import sys

fast, hf = [], {}
for line in open(sys.argv[1]):
    kind, row = ("fastllm", line[7:]) if line.startswith("fastllm") else ("hf", line[2:])
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if kind == "fastllm":
        cells[0] = cells[0].rstrip("/").split("/")[-1]
        fast.append(cells)
    else:
        hf[cells[0]] = cells

print("\n| config | engine / dtype | params | prompt | new | prefill tok/s | decode tok/s | prefill tok/CPU-s "
      "| decode tok/CPU-s | weights read/token | read BW 1 thread | read BW all threads | ceiling tok/s "
      "| decode vs ceiling | load avg |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in fast:
    print("| " + " | ".join([c[0], "fastllm " + c[1].lower()] + c[2:]) + " |")
for name, c in hf.items():
    print(f"| {name} | {c[1]} ({c[2]} threads) | | 128 | {sys.argv[2]} | {c[4]} | {c[5]} | | {c[6]} | | | | | | |")

# Per CPU-second: the bytes one core streams per CPU-second of decode against what one core can read (the 1-thread
# probe); steadier than wall time when other work takes the cores.
print("\n| config | fastllm dtype | decode vs HF (wall) | decode vs HF (per CPU-s) | decode vs ceiling (wall) "
      "| decode GB per CPU-s vs 1-thread read BW | targets on wall time (>= 3x HF, >= 60% of ceiling) |")
print("|---|---|---|---|---|---|---|")
for c in fast:
    h = hf.get(c[0])
    tps, cpu, ceiling = float(c[6]), float(c[8]), float(c[12])
    gb, bw1 = float(c[9].split()[0]), float(c[10].split()[0])
    wall = f"{tps / float(h[5]):.2f}x" if h else "–"
    per_cpu = f"{cpu / float(h[6]):.2f}x" if h else "–"
    met = []
    if h:
        met.append("3x HF: " + ("met" if tps / float(h[5]) >= 3 else "not met"))
    met.append("60%: " + ("met" if tps / ceiling >= 0.6 else "not met"))
    print(f"| {c[0]} | {c[1].lower()} | {wall} | {per_cpu} | {100 * tps / ceiling:.0f}% | {100 * cpu * gb / bw1:.0f}% "
          f"| {', '.join(met)} |")
EOF
