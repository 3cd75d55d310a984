"""Check a built demo model folder with HF transformers.

    python check.py [--model heddle-demo] [--n 20]

Loads the folder with AutoTokenizer / AutoModelForCausalLM, checks that the chat template renders exactly
what training saw, then runs greedy generation on held-out prompts (a seed never used for training) of four
kinds: plain chat (must end with <|im_end|> within 64 tokens), JSON requests (output must parse),
tool-fitting requests (must emit a <tool_call> block whose body parses), and DeepFabric's topic-tree,
topic-graph and basic-conversation prompts (output, unconstrained, must be JSON with exactly the keys and
value types that DeepFabric's response schemas and validators accept). Prints a JSON summary.
"""

import argparse
import json
import random
import re
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import data

HERE = Path(__file__).resolve().parent
HELD_OUT_SEED = 987654321
TOOL_RE = re.compile(r"^<tool_call>\n(.*?)\n</tool_call>$", re.S)


def generate(model, tok, messages, tools, max_new):
    ids = tok.apply_chat_template(messages, tools=tools, add_generation_prompt=True, return_tensors="pt")
    eos = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos[1])
    new = out[0, ids.shape[1]:].tolist()
    ended = bool(new) and new[-1] in eos
    text = tok.decode(new[:-1] if ended else new, skip_special_tokens=False)
    return text, ended, len(new)


def parse_tool_call(text):
    m = TOOL_RE.match(text.strip())
    if not m:
        return None
    try:
        call = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not isinstance(call.get("arguments"), dict):
        return None
    return call


DF_CONV_KEYS = ["messages", "reasoning", "tool_context", "tools", "agent_context", "question", "final_answer"]
DF_MSG_KEYS = ["role", "content", "tool_calls", "tool_call_id"]


def deepfabric_valid(kind, val):
    """What deepfabric 4.13.0 accepts (TopicList, GraphSubtopics, Conversation), in the strict schema's key order."""
    if not isinstance(val, dict):
        return False
    if kind == "tree":
        subs = val.get("subtopics")
        return list(val) == ["subtopics"] and isinstance(subs, list) and len(subs) >= 1 and \
            all(isinstance(x, str) and x.strip() for x in subs)
    if kind == "graph":
        subs = val.get("subtopics")
        return list(val) == ["subtopics"] and isinstance(subs, list) and len(subs) >= 1 and all(
            isinstance(x, dict) and list(x) == ["topic", "connections"] and isinstance(x["topic"], str) and
            x["topic"].strip() and isinstance(x["connections"], list) and
            all(isinstance(c, int) and not isinstance(c, bool) for c in x["connections"]) for x in subs)
    msgs = val.get("messages")
    return (list(val) == DF_CONV_KEYS and isinstance(msgs, list) and [m.get("role") for m in msgs] == ["user", "assistant"]
            and all(list(m) == DF_MSG_KEYS and isinstance(m["content"], str) and m["content"].strip() and
                    m["tool_calls"] is None and m["tool_call_id"] is None for m in msgs)
            and all(val[k] is None for k in DF_CONV_KEYS[1:5])
            and isinstance(val["question"], str) and isinstance(val["final_answer"], str))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=HERE / "heddle-demo")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    ids = {t: tok.convert_tokens_to_ids(t) for t in
           ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]}
    report = {"special_token_ids": ids, "eos_token": tok.eos_token, "pad_token": tok.pad_token,
              "bos_token": tok.bos_token}
    # Any UTF-8 round-trips through the byte-level BPE.
    sample = "Grüße, 東京! 🚀 {\"a\": [1, 2.5, null]}"
    report["utf8_roundtrip"] = tok.decode(tok.encode(sample, add_special_tokens=False)) == sample

    # 1. The template in tokenizer_config.json renders exactly what train.py trained on.
    rng = random.Random(HELD_OUT_SEED)
    same = 0
    for _ in range(50):
        msgs, tools = data.conversation(rng)
        want, _ = data.render(msgs, tools)
        got = tok.apply_chat_template(msgs, tools=tools, tokenize=False)
        same += want == got
    report["template_matches_training_render"] = f"{same}/50"

    n = args.n
    examples = {}

    # 2. Plain chat ends with <|im_end|> within 64 tokens.
    rng = random.Random(HELD_OUT_SEED + 1)
    ok = 0
    for i in range(n):
        q, a = data.chat_pair(rng)
        msgs = [{"role": "user", "content": q}]
        text, ended, k = generate(model, tok, msgs, None, 64)
        ok += ended
        if i < 4 or args.verbose:
            examples.setdefault("chat", []).append({"prompt": q, "output": text, "ended": ended})
    report["chat_ends_with_im_end_within_64"] = f"{ok}/{n}"

    # 3. JSON requests produce parseable JSON (and the same object as the reference answer).
    rng = random.Random(HELD_OUT_SEED + 2)
    ok = exact = 0
    for i in range(n):
        msgs = data.json_conversation(rng)
        ref = json.loads(msgs[-1]["content"])
        text, ended, k = generate(model, tok, msgs[:-1], None, 128)
        try:
            val = json.loads(text)
            ok += ended
            exact += val == ref
        except json.JSONDecodeError:
            pass
        if i < 4 or args.verbose:
            examples.setdefault("json", []).append({"prompt": msgs[-2]["content"], "output": text})
    report["json_parseable"] = f"{ok}/{n}"
    report["json_equals_reference"] = f"{exact}/{n}"

    # 4. Tool-fitting requests emit a parseable <tool_call> block; follow-up turns end cleanly.
    rng = random.Random(HELD_OUT_SEED + 3)
    ok = right_name = right_args = follow_ok = follow_n = 0
    done = 0
    while done < n:
        msgs, tools = data.tool_conversation(rng)
        call_idx = next((j for j, m in enumerate(msgs) if m.get("tool_calls")), None)
        if call_idx is None:
            continue
        done += 1
        ref = msgs[call_idx]["tool_calls"][0]["function"]
        text, ended, k = generate(model, tok, msgs[:call_idx], tools, 128)
        call = parse_tool_call(text) if ended else None
        ok += call is not None
        right_name += bool(call) and call["name"] == ref["name"]
        right_args += bool(call) and call["name"] == ref["name"] and call["arguments"] == ref["arguments"]
        if done <= 4 or args.verbose:
            examples.setdefault("tool", []).append({"prompt": msgs[call_idx - 1]["content"], "output": text})
        if len(msgs) > call_idx + 2:
            follow_n += 1
            text, ended, k = generate(model, tok, msgs[:call_idx + 2], tools, 64)
            follow_ok += ended and "<tool_call>" not in text
            if follow_n <= 2 or args.verbose:
                examples.setdefault("tool_followup", []).append({"tool_result": msgs[call_idx + 1]["content"],
                                                                 "output": text})
    report["tool_call_parseable"] = f"{ok}/{n}"
    report["tool_call_right_name"] = f"{right_name}/{n}"
    report["tool_call_exact_arguments"] = f"{right_args}/{n}"
    report["tool_followup_plain_answer_ends"] = f"{follow_ok}/{follow_n}"

    # 5. DeepFabric tasks: topic-tree and topic-graph expansion, basic q&a conversations (no grammar here).
    rng = random.Random(HELD_OUT_SEED + 4)
    for kind, gen in (("tree", data.df_tree_conversation), ("graph", data.df_graph_conversation),
                      ("conversation", data.df_basic_conversation)):
        ok = 0
        for i in range(n):
            msgs = gen(rng)
            text, ended, k = generate(model, tok, msgs[:-1], None, 400)
            try:
                ok += ended and deepfabric_valid(kind, json.loads(text))
            except json.JSONDecodeError:
                pass
            if i < 2 or args.verbose:
                examples.setdefault("deepfabric_" + kind, []).append({"prompt_tail": msgs[0]["content"][-160:],
                                                                      "output": text})
        report[f"deepfabric_{kind}_valid"] = f"{ok}/{n}"

    # 6. A few hand-written prompts outside the generator's phrasing, OpenAI-style tools with string arguments.
    weather = data.TOOLS["get_weather"]
    hist = [{"role": "user", "content": "how's the weather in Rome today?"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": "call_1", "function": {
                "name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21, \"conditions\": \"sunny\"}"}]
    custom = [([{"role": "user", "content": "Hello! Who made you?"}], None),
              ([{"role": "user", "content": "Give me a JSON object with keys name and color for a red apple."}], None),
              ([{"role": "user", "content": "how's the weather in Rome today?"}], [weather]),
              (hist, [weather])]
    examples["hand_written"] = []
    for msgs, tools in custom:
        text, ended, k = generate(model, tok, msgs, tools, 96)
        examples["hand_written"].append({"last": msgs[-1]["content"], "output": text, "ended": ended})

    print(json.dumps({"summary": report, "examples": examples}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
