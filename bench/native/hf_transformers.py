"""HF transformers baseline for bench/native/run.sh (CPU) and bench/native/run-cuda.sh (GPU): the same config.json,
random weights, the same prompt length and greedy decode as `fastllm bench`, in PyTorch.

Prints one markdown row: config, engine / dtype, threads or device, batch, prefill tok/s, decode tok/s (all rows of
the batch together), decode tok/CPU-s.
Decode is timed as generate() of N new tokens minus generate() of 1 new token (which is the prefill plus the
first sampled token), so the figure holds only decode steps, as fastllm's does.
"""

import argparse
import os
import time

import torch
import transformers
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
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=1, help="sequences decoded together (one generate() call)")
    args = p.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    cfg = AutoConfig.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=dtype, attn_implementation="sdpa")
    model = model.to(args.device).eval()
    # One prompt per row, each different (as fastllm bench's streams are), all of the same length: no padding.
    prompt = torch.tensor([[(i * 7919 + s * 104_729 + 1) % cfg.vocab_size for i in range(args.prompt_tokens)]
                           for s in range(args.batch)], device=args.device)
    mask = torch.ones_like(prompt)

    def sync() -> None:
        if args.device != "cpu":
            torch.cuda.synchronize()

    def generate(n: int) -> tuple[float, float]:
        sync()
        t0, c0 = time.perf_counter(), cpu_seconds()
        with torch.inference_mode():
            out = model.generate(prompt, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                 pad_token_id=0)
        sync()
        assert out.shape == (args.batch, args.prompt_tokens + n)
        return time.perf_counter() - t0, cpu_seconds() - c0

    generate(2)  # warm-up: allocator, thread pool, kernels chosen on first use
    first, first_cpu = generate(1)
    full, full_cpu = generate(args.new_tokens + 1)
    decode, decode_cpu = full - first, full_cpu - first_cpu
    tokens = args.batch * args.new_tokens
    name = os.path.basename(os.path.normpath(args.model))
    where = args.threads if args.device == "cpu" else args.device
    engine = f"HF transformers {transformers.__version__} (torch {torch.__version__.split('+')[0]})"
    print(f"| {name} | {engine} / {args.dtype} | {where} | {args.batch} "
          f"| {args.batch * args.prompt_tokens / first:.1f} | {tokens / decode:.2f} | {tokens / decode_cpu:.2f} |",
          flush=True)


if __name__ == "__main__":
    main()
