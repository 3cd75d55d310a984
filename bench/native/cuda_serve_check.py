"""Serving on the GPU: the bundled demo model behind `fastllm serve` answers plain chat, tool calls (auto, required,
named) and a DeepFabric-shaped json_schema request as the CPU tests require (native-server/tests/demo_model.rs),
a streamed answer ends with [DONE], and concurrent greedy requests get the answer each gets alone (reported, not
required: batched bf16 matrix products on a GPU may round differently from single rows).

Standard library only, so it runs with whatever python3 the GPU machine has.
Usage: python3 bench/native/cuda_serve_check.py --base http://127.0.0.1:PORT
Exits 1 when a required check fails; prints one line per check.
"""

import argparse
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"]}}}]

CONVERSATION = {
    "$defs": {"Message": {"type": "object", "properties": {
        "role": {"type": "string", "enum": ["user", "assistant"]}, "content": {"type": "string"}},
        "required": ["role", "content"], "additionalProperties": False}},
    "type": "object", "properties": {
        "messages": {"type": "array", "items": {"$ref": "#/$defs/Message"}, "minItems": 2, "maxItems": 2},
        "reasoning": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    "required": ["messages", "reasoning"], "additionalProperties": False}


def post(base: str, body: dict) -> dict:
    req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def chat(text: str, **extra) -> dict:
    return {"model": "heddle-demo", "messages": [{"role": "user", "content": text}], **extra}


def conversation_ok(value) -> bool:
    msgs = value.get("messages") if isinstance(value, dict) else None
    return (set(value) == {"messages", "reasoning"} and isinstance(msgs, list) and len(msgs) == 2
            and all(set(m) == {"role", "content"} and m["role"] in ("user", "assistant")
                    and isinstance(m["content"], str) for m in msgs)
            and (value["reasoning"] is None or isinstance(value["reasoning"], str)))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    base = p.parse_args().base
    failures = []

    def check(name: str, ok: bool, detail) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {json.dumps(detail)[:300]}", flush=True)
        if not ok:
            failures.append(name)

    v = post(base, chat("Hello! How are you?", max_tokens=200, temperature=0))
    c = v["choices"][0]
    check("plain chat stops on its own with text", c["finish_reason"] == "stop" and c["message"]["content"].strip() != ""
          and v["usage"]["completion_tokens"] < 200, c)

    for choice in ["auto", "required", {"type": "function", "function": {"name": "get_weather"}}]:
        v = post(base, chat("What is the weather in Paris?", max_tokens=200, temperature=0, tools=WEATHER,
                            tool_choice=choice))
        c = v["choices"][0]
        calls = c["message"].get("tool_calls") or [{}]
        fn = calls[0].get("function", {})
        try:
            args = json.loads(fn.get("arguments", ""))
        except ValueError:
            args = None
        check(f"tool call ({json.dumps(choice)})", c["finish_reason"] == "tool_calls" and fn.get("name") == "get_weather"
              and isinstance(args, dict) and isinstance(args.get("city"), str)
              and args.get("unit", "celsius") in ("celsius", "fahrenheit"), c)

    v = post(base, chat("Write a short conversation about saving money, as JSON.", max_tokens=400, temperature=0.7,
                        seed=7, response_format={"type": "json_schema", "json_schema": {
                            "name": "out", "schema": CONVERSATION, "strict": True}}))
    c = v["choices"][0]
    try:
        parsed = json.loads(c["message"]["content"])
    except ValueError:
        parsed = None
    check("json_schema (DeepFabric conversation shape)", c["finish_reason"] == "stop" and conversation_ok(parsed), c)

    req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(
        chat("Tell me about the sea.", max_tokens=40, temperature=0, stream=True)).encode(),
        {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        lines = [ln.decode().strip() for ln in r if ln.strip()]
    check("stream ends with [DONE]", lines[-1] == "data: [DONE]" and len(lines) > 3, lines[-2:])

    prompts = [f"Question {i}: what should I cook with {food}?" for i, food in
               enumerate(["rice", "beans", "eggs", "pasta", "tofu", "leeks", "corn", "fish"])]
    body = lambda t: chat(t, max_tokens=48, temperature=0)  # noqa: E731
    alone = [post(base, body(t))["choices"][0]["message"]["content"] for t in prompts]
    with ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(lambda t: post(base, body(t))["choices"][0]["message"]["content"], prompts))
    same = sum(a == b for a, b in zip(alone, together))
    print(f"info 8 concurrent greedy answers identical to the same request alone: {same}/8", flush=True)
    check("8 concurrent requests all answered", all(isinstance(t, str) and t for t in together), together[:2])

    print("cuda serve check:", "passed" if not failures else f"FAILED {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
