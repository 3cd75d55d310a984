"""HF transformers baseline for bench/native/run.sh: the same config.json, random weights, the same prompt length
and greedy decode as `fastllm bench`, on the CPU in PyTorch.

Prints one markdown row: config, dtype, threads, prefill tok/s, decode tok/s, decode tok/CPU-s.
Decode is timed as generate() of N new tokens minus generate() of 1 new token (which is the prefill plus the
first sampled token), so the figure holds only decode steps, as fastllm's does.
"""

import argparse
import os
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="folder holding config.json")
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    cfg = AutoConfig.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=dtype, attn_implementation="sdpa").eval()
    prompt = torch.tensor([[(i * 7919) % cfg.vocab_size for i in range(args.prompt_tokens)]])
    mask = torch.ones_like(prompt)

    def generate(n: int) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), cpu_seconds()
        with torch.inference_mode():
            out = model.generate(prompt, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                 pad_token_id=0)
        assert out.shape[1] == args.prompt_tokens + n
        return time.perf_counter() - t0, cpu_seconds() - c0

    generate(2)  # warm-up: allocator, thread pool, kernels chosen on first use
    first, first_cpu = generate(1)
    full, full_cpu = generate(args.new_tokens + 1)
    decode, decode_cpu = full - first, full_cpu - first_cpu
    name = os.path.basename(os.path.normpath(args.model))
    print(f"| {name} | HF transformers {torch.__version__.split('+')[0]} / {args.dtype} | {args.threads} "
          f"| {args.prompt_tokens / first:.1f} | {args.new_tokens / decode:.2f} | {args.new_tokens / decode_cpu:.2f} |",
          flush=True)


if __name__ == "__main__":
    main()
