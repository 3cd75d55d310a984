"""Build the Heddle demo model: synthetic data -> byte-level BPE tokenizer -> tiny Qwen2 -> HF folder.

    python train.py                 # full run, writes heddle-demo/ next to this file
    python train.py --quick         # smoke run (few steps), writes to /tmp/heddle-demo-quick

Deterministic for a given --seed and thread count (torch CPU kernels can differ across thread counts).
"""

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

import data

HERE = Path(__file__).resolve().parent
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2
TOOL_TOKENS = ["<tool_call>", "</tool_call>"]  # appended after the BPE vocab, special=False so they survive decoding
VOCAB_SIZE = 4096  # upper bound; the synthetic corpus yields fewer merges (min_frequency=2)
MAX_LEN = 768


def build_corpus(seed, n):
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        msgs, tools = data.conversation(rng)
        items.append(data.render(msgs, tools, rng=rng))
    return items


def train_tokenizer(texts):
    tok = Tokenizer(models.BPE(byte_fallback=False))
    # Digits one by one (helps arithmetic), then GPT-2 style byte-level splitting.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(TOOL_TOKENS),
        min_frequency=2,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )

    def strip_specials(t):
        for s in SPECIAL + TOOL_TOKENS:
            t = t.replace(s, "\n")
        return t

    tok.train_from_iterator((strip_specials(t) for t in texts), trainer=trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL])
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in TOOL_TOKENS])
    return tok


def encode_items(tok, items):
    """Token ids plus labels (-100 outside assistant spans)."""
    out = []
    encs = tok.encode_batch([t for t, _ in items])
    for (text, spans), enc in zip(items, encs):
        ids = enc.ids[:MAX_LEN]
        labels = [-100] * len(ids)
        for j, (s, e) in enumerate(enc.offsets[:MAX_LEN]):
            if any(a <= s < b for a, b in spans):
                labels[j] = ids[j]
        # Causal LM shift happens inside the model; labels align with input positions.
        out.append((ids, labels))
    return out


def make_batches(encoded, batch_size, rng):
    order = list(range(len(encoded)))
    rng.shuffle(order)
    batches = []
    chunk = batch_size * 64
    for i in range(0, len(order), chunk):
        part = sorted(order[i:i + chunk], key=lambda k: len(encoded[k][0]))
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(encoded, idx, pad_id):
    L = max(len(encoded[k][0]) for k in idx)
    ids = torch.full((len(idx), L), pad_id, dtype=torch.long)
    labels = torch.full((len(idx), L), -100, dtype=torch.long)
    for r, k in enumerate(idx):
        a, b = encoded[k]
        ids[r, :len(a)] = torch.tensor(a)
        labels[r, :len(b)] = torch.tensor(b)
    return ids, labels


def lm_loss(model, ids, labels):
    """Next-token loss computing logits only where there is a target (assistant tokens), which is a
    small fraction of positions; the tied embedding is the output projection."""
    h = model.model(input_ids=ids).last_hidden_state[:, :-1]
    tgt = labels[:, 1:]
    m = tgt != -100
    logits = h[m] @ model.model.embed_tokens.weight.t()
    return torch.nn.functional.cross_entropy(logits, tgt[m])


def model_config(tok, args):
    from transformers import Qwen2Config
    return Qwen2Config(
        # Embedding rows: tokenizer size rounded up to a multiple of 64 (spare rows are never targets).
        vocab_size=-(-tok.get_vocab_size() // 64) * 64,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_act="silu",
        max_position_embeddings=2048,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        use_sliding_window=False,
        sliding_window=2048,
        max_window_layers=args.layers,
        attention_dropout=0.0,
        initializer_range=0.02,
        use_cache=True,
        bos_token_id=tok.token_to_id("<|endoftext|>"),
        eos_token_id=tok.token_to_id("<|im_end|>"),
        torch_dtype="float32",
    )


def export(model, tok, out):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    # Keep config.json loadable by candle-transformers' qwen2 Config too (sliding_window is a plain usize there).
    cfg = json.loads((out / "config.json").read_text())
    cfg["sliding_window"] = 2048
    cfg["max_window_layers"] = cfg["num_hidden_layers"]
    cfg["use_sliding_window"] = False
    cfg["torch_dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    im_end, eot = tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")
    # Greedy by default: a model this small derails quickly when sampled; requests can still ask for sampling.
    gen = {"bos_token_id": eot, "eos_token_id": [im_end, eot], "pad_token_id": eot, "do_sample": False,
           "max_new_tokens": 128}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    tok.save(str(out / "tokenizer.json"))
    added = {}
    for s in SPECIAL + TOOL_TOKENS:
        added[str(tok.token_to_id(s))] = {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": s in SPECIAL}
    tcfg = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": data.CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 2048,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tcfg, indent=2, ensure_ascii=False) + "\n")
    for extra in ("special_tokens_map.json",):
        p = out / extra
        if p.exists():
            p.unlink()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--examples", type=int, default=18000)
    ap.add_argument("--steps", type=int, default=1300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--intermediate", type=int, default=384)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.examples, args.steps = 2000, 10
    out = args.out or (Path("/tmp/heddle-demo-quick") if args.quick else HERE / "heddle-demo")

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    items = build_corpus(args.seed, args.examples)
    tok = train_tokenizer([t for t, _ in items])
    encoded = encode_items(tok, items)
    n_tok = sum(len(a) for a, _ in encoded)
    n_lab = sum(sum(1 for x in b if x != -100) for _, b in encoded)
    print(f"corpus: {len(items)} conversations, {n_tok} tokens, {n_lab} trained tokens, "
          f"max len {max(len(a) for a, _ in encoded)}, vocab {tok.get_vocab_size()} ({time.time() - t0:.1f}s)",
          flush=True)

    from transformers import Qwen2ForCausalLM
    cfg = model_config(tok, args)
    model = Qwen2ForCausalLM(cfg)
    model.train()
    print(f"params: {sum(p.numel() for p in model.parameters()):,}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    warm = max(1, min(60, args.steps // 10))

    def lr_at(s):
        if s < warm:
            return args.lr * (s + 1) / warm
        p = (s - warm) / max(1, args.steps - warm)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    brng = random.Random(args.seed + 1)
    batches = []
    step, t1, ema = 0, time.time(), None
    pad = tok.token_to_id("<|endoftext|>")
    while step < args.steps:
        if not batches:
            batches = make_batches(encoded, args.batch, brng)
        ids, labels = collate(encoded, batches.pop(), pad)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        # Right padding + causal attention: real tokens never see pads, so no attention mask is needed.
        loss = lm_loss(model, ids, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        step += 1
        if step % 10 == 0 or step == args.steps:
            el = time.time() - t1
            print(f"step {step}/{args.steps} loss {ema:.3f} lr {lr_at(step - 1):.2e} "
                  f"{el:.0f}s elapsed, eta {el / step * (args.steps - step):.0f}s", flush=True)

    model.eval()
    export(model, tok, out)
    print(f"wrote {out} in {time.time() - t0:.0f}s total", flush=True)


if __name__ == "__main__":
    main()
