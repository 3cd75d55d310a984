//! The real `fastllm` binary over real HTTP, serving tiny random-weight models.

mod common;

use common::{chat_body, delta_text, metric, tiny_model, Server};
use serde_json::{json, Value};

fn content(v: &Value) -> String {
    v["choices"][0]["message"]["content"].as_str().unwrap_or("").to_string()
}

fn serve(arch: &str, extra: &[&str]) -> (Server, std::path::PathBuf) {
    let dir = tiny_model(arch);
    let mut args = vec!["--model", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&args), dir)
}

#[test]
fn non_streaming_shape_and_real_usage() {
    let (s, dir) = serve("llama", &[]);
    let (st, v) = s.post("/v1/chat/completions", &chat_body("hello there", json!({"max_tokens": 7, "temperature": 0, "ignore_eos": true})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["model"], dir.to_str().unwrap());
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    // Prompt tokens are the model's own template, tokenized by its own tokenizer.
    let files = fastllm::models::ModelFiles::open(dir.to_str().unwrap()).unwrap();
    let p = fastllm::engine::chat::Prompter::load(&files).unwrap();
    let expected = p.prompt_tokens(&[json!({"role": "user", "content": "hello there"})], None).unwrap();
    assert_eq!(expected[0], 305, "the Llama template starts with <|begin_of_text|>");
    let u = &v["usage"];
    assert_eq!(u["prompt_tokens"], expected.len());
    assert_eq!(u["completion_tokens"], 7);
    assert_eq!(u["total_tokens"], expected.len() + 7);
    // The folder name and "default" both name the model; anything else is 404.
    let name = dir.file_name().unwrap().to_str().unwrap();
    let (st, _) = s.post("/v1/chat/completions", &json!({"model": name, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}));
    assert_eq!(st, 200);
}

#[test]
fn greedy_is_deterministic_and_seed_reproduces() {
    let (s, _) = serve("qwen2", &[]);
    let greedy = chat_body("tell me a story", json!({"max_tokens": 24, "temperature": 0, "ignore_eos": true}));
    let a = content(&s.post("/v1/chat/completions", &greedy).1);
    let b = content(&s.post("/v1/chat/completions", &greedy).1);
    assert_eq!(a, b);
    assert!(!a.is_empty());
    let seeded = |seed: u64| {
        let body = chat_body("tell me a story", json!({"max_tokens": 24, "temperature": 1.0, "seed": seed, "ignore_eos": true}));
        content(&s.post("/v1/chat/completions", &body).1)
    };
    assert_eq!(seeded(123), seeded(123));
    assert!((124..128).any(|k| seeded(k) != seeded(123)), "different seeds should give different samples");
}

#[test]
fn max_tokens_and_max_completion_tokens_give_length() {
    let (s, _) = serve("mistral", &[]);
    for key in ["max_tokens", "max_completion_tokens"] {
        let (st, v) = s.post("/v1/chat/completions", &chat_body("hi", json!({key: 5, "temperature": 0, "ignore_eos": true})));
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["completion_tokens"], 5);
    }
}

#[test]
fn stop_strings_cut_the_text() {
    let (s, _) = serve("llama", &[]);
    let base = json!({"max_tokens": 60, "temperature": 0, "ignore_eos": true});
    let full = content(&s.post("/v1/chat/completions", &chat_body("abc", base.clone())).1);
    let chars: Vec<char> = full.chars().collect();
    assert!(chars.len() > 12, "need some text to cut: {full:?}");
    let stop: String = chars[8..10].iter().collect();
    let expected = &full[..full.find(&stop).unwrap()];
    let mut body = base.clone();
    body["stop"] = json!([stop, "\u{0}never"]);
    let (st, v) = s.post("/v1/chat/completions", &chat_body("abc", body.clone()));
    assert_eq!(st, 200);
    assert_eq!(content(&v), expected);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // The streamed text stops at the same place.
    body["stream"] = json!(true);
    let streamed: String = s
        .stream(&chat_body("abc", body))
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(String::from))
        .collect();
    assert_eq!(streamed, expected);
}

#[test]
fn streaming_matches_non_streaming_with_usage() {
    let (s, _) = serve("qwen2", &[]);
    let body = json!({"max_tokens": 48, "temperature": 0, "ignore_eos": true});
    let (_, whole) = s.post("/v1/chat/completions", &chat_body("naïve café — 日本語 🎉", body.clone()));
    let mut sb = body.clone();
    sb["stream"] = json!(true);
    sb["stream_options"] = json!({"include_usage": true});
    let events = s.stream(&chat_body("naïve café — 日本語 🎉", sb));
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, content(&whole), "streamed text must be byte-exact with the non-streamed text");
    let finish: Vec<&Value> = chunks.iter().filter(|c| !c["choices"][0]["finish_reason"].is_null()).collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "length");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], whole["usage"]);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
}

#[test]
fn concurrent_requests_all_answer_like_sequential_ones() {
    let (s, _) = serve("llama", &["--max-running", "3"]);
    let body = |i: usize| chat_body(&format!("question {i}"), json!({"max_tokens": 20, "temperature": 0, "ignore_eos": true}));
    let sequential: Vec<String> = (0..6).map(|i| content(&s.post("/v1/chat/completions", &body(i)).1)).collect();
    let s = std::sync::Arc::new(s);
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || s.post("/v1/chat/completions", &body(i)))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (st, v) = h.join().unwrap();
        assert_eq!(st, 200);
        assert_eq!(content(&v), sequential[i], "request {i} interleaved with others must match its solo run");
    }
}

/// Greedy streamed text of one request.
fn streamed_text(s: &Server, body: &Value) -> String {
    s.stream_iter(body).filter_map(|d| delta_text(&d)).collect()
}

#[test]
fn eight_concurrent_streams_each_match_their_solo_run() {
    let (s, _) = serve("qwen2", &["--max-running", "8"]);
    let body = |i: usize| {
        let prompt = format!("prompt {i}: {}", "tell me more ".repeat(i + 1));
        chat_body(&prompt, json!({"max_tokens": 64, "temperature": 0, "ignore_eos": true, "stream": true}))
    };
    let solo: Vec<String> = (0..8).map(|i| streamed_text(&s, &body(i))).collect();
    assert!(solo.iter().all(|t| !t.is_empty()));
    let (_, m) = s.get("/metrics");
    let (steps0, tokens0) = (metric(&m, "fastllm_decode_steps_total"), metric(&m, "fastllm_generated_tokens_total"));
    let s = std::sync::Arc::new(s);
    let start = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (s, start, body) = (s.clone(), start.clone(), body(i));
            std::thread::spawn(move || {
                start.wait();
                streamed_text(&s, &body)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), solo[i], "stream {i} run beside seven others must match its solo run");
    }
    let (_, m) = s.get("/metrics");
    let tokens = metric(&m, "fastllm_generated_tokens_total") - tokens0;
    let steps = metric(&m, "fastllm_decode_steps_total") - steps0;
    assert_eq!(tokens, 8.0 * 64.0);
    // Alone, each stream needs 63 decode steps (its first token comes from prefill); sharing steps needs fewer.
    assert!(steps < 8.0 * 63.0, "{steps} decode steps for 8 streams: they were never batched");
}

#[test]
fn a_long_prompt_is_prefilled_in_chunks_while_another_stream_decodes() {
    let (s, dir) = serve("llama", &["--prefill-chunk", "2"]);
    let files = fastllm::models::ModelFiles::open(dir.to_str().unwrap()).unwrap();
    let prompter = fastllm::engine::chat::Prompter::load(&files).unwrap();
    let long_text = "the quick brown fox jumps over the lazy dog ".repeat(20);
    let long_len = prompter.prompt_tokens(&[json!({"role": "user", "content": long_text})], None).unwrap().len();
    assert!((600..1000).contains(&long_len), "{long_len}");
    let s = std::sync::Arc::new(s);
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let streaming = {
        let (s, received) = (s.clone(), received.clone());
        std::thread::spawn(move || {
            let body = chat_body("hi", json!({"max_tokens": 900, "temperature": 0, "ignore_eos": true, "stream": true}));
            let mut last = String::new();
            for d in s.stream_iter(&body) {
                if delta_text(&d).is_some() {
                    received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                last = d;
            }
            last
        })
    };
    while received.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(!streaming.is_finished(), "the running stream ended before sending any text");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // The long prompt takes long_len / 2 scheduler steps to prefill; each also decodes the running stream.
    let body = chat_body(&long_text, json!({"max_tokens": 3, "temperature": 0, "ignore_eos": true, "stream": true}));
    let mut long = s.stream_iter(&body);
    let before = received.load(std::sync::atomic::Ordering::SeqCst);
    assert!(delta_text(&long.next().unwrap()).is_none(), "the role chunk comes first, before any engine work");
    long.next().unwrap();
    let during = received.load(std::sync::atomic::Ordering::SeqCst) - before;
    // Join before asserting, so that a failure drops the last handle on the server and stops it.
    let (long_end, stream_end) = (long.last().unwrap(), streaming.join().unwrap());
    assert!(during >= 100, "only {during} chunks reached the running stream while {long_len} prompt tokens were prefilled");
    assert_eq!((long_end.as_str(), stream_end.as_str()), ("[DONE]", "[DONE]"));
}

#[test]
fn requests_beyond_the_kv_budget_wait_then_complete() {
    // Each request reserves prompt + 600 tokens; a 1024-token budget holds one at a time, whatever --max-running.
    let (s, _) = serve("llama", &["--max-running", "4", "--kv-cache-tokens", "1024"]);
    let body = |i: usize| chat_body(&format!("request {i}"), json!({"max_tokens": 600, "temperature": 0, "ignore_eos": true}));
    let solo: Vec<String> = (0..3).map(|i| content(&s.post("/v1/chat/completions", &body(i)).1)).collect();
    let (_, m) = s.get("/metrics");
    let steps0 = metric(&m, "fastllm_decode_steps_total");
    let s = std::sync::Arc::new(s);
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || s.post("/v1/chat/completions", &body(i)))
        })
        .collect();
    let watcher = {
        let s = s.clone();
        std::thread::spawn(move || {
            let (mut samples, mut busy) = (vec![], false);
            while samples.len() < 5000 {
                let l: Value = serde_json::from_str(&s.get("/v1/load").1).unwrap();
                let idle = l["running"] == 0 && l["waiting"] == 0;
                busy |= !idle;
                samples.push(l);
                if busy && idle {
                    break;
                }
            }
            samples
        })
    };
    for (i, h) in handles.into_iter().enumerate() {
        let (st, v) = h.join().unwrap();
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["usage"]["completion_tokens"], 600);
        assert_eq!(content(&v), solo[i]);
    }
    for l in watcher.join().unwrap() {
        assert!(l["running"].as_u64().unwrap() <= 1 && l["kv_reserved"].as_u64().unwrap() <= 1024, "{l}");
        assert_eq!(l["kv_capacity"], 1024);
    }
    // One row per decode step: the three never decoded together.
    let (_, m) = s.get("/metrics");
    assert_eq!(metric(&m, "fastllm_decode_steps_total") - steps0, 3.0 * 599.0);
    assert_eq!(metric(&m, "fastllm_kv_cache_tokens_reserved"), 0.0);
}

#[test]
fn a_kv_budget_below_one_context_is_refused_at_startup() {
    let dir = tiny_model("llama");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fastllm"))
        .args(["serve", "--port", "0", "--device", "cpu", "--kv-cache-tokens", "100", "--model", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--kv-cache-tokens 100") && err.contains("1024"), "{err}");
}

#[test]
fn full_queue_answers_503_with_retry_after() {
    let (s, _) = serve("llama", &["--max-running", "1", "--max-waiting", "0"]);
    let s = std::sync::Arc::new(s);
    let body = chat_body("long", json!({"max_tokens": 400, "temperature": 0, "ignore_eos": true})).to_string();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, body) = (s.url("/v1/chat/completions"), body.clone());
            std::thread::spawn(move || match ureq::post(&url).set("content-type", "application/json").send_string(&body) {
                Ok(r) => (r.status(), None, Value::Null),
                Err(ureq::Error::Status(code, r)) => {
                    let ra = r.header("retry-after").map(String::from);
                    (code, ra, r.into_json().unwrap())
                }
                Err(e) => panic!("{e}"),
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().any(|r| r.0 == 200));
    let rejected: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!rejected.is_empty(), "with one slot and no queue, 8 simultaneous requests cannot all run");
    for r in rejected {
        assert_eq!(r.1.as_deref(), Some("1"));
        assert_eq!(r.2["error"]["code"], "queue_full");
    }
    let (_, m) = s.get("/metrics");
    let line = m.lines().find(|l| l.starts_with("fastllm_queue_rejections_total ")).unwrap();
    assert!(line.split(' ').nth(1).unwrap().parse::<u64>().unwrap() >= 1);
}

#[test]
fn disconnected_client_frees_its_slot() {
    let (s, _) = serve("llama", &["--max-running", "1", "--max-waiting", "0"]);
    let body = chat_body("long", json!({"max_tokens": 400, "temperature": 0, "ignore_eos": true, "stream": true}));
    {
        let resp = ureq::post(&s.url("/v1/chat/completions")).send_string(&body.to_string()).unwrap();
        let mut r = std::io::BufReader::new(resp.into_reader());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut r, &mut line).unwrap();
        assert!(line.starts_with("data:"));
    } // connection dropped mid-stream
    let t0 = std::time::Instant::now();
    loop {
        let (_, m) = s.get("/metrics");
        let cancelled = m.lines().find(|l| l.starts_with("fastllm_cancelled_total ")).unwrap();
        if cancelled.ends_with(" 1") {
            break;
        }
        assert!(t0.elapsed().as_secs() < 30, "the engine never noticed the disconnect:\n{m}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (st, _) = s.post("/v1/chat/completions", &chat_body("next", json!({"max_tokens": 3})));
    assert_eq!(st, 200, "the slot of the departed client must be free again");
    let (_, load) = s.get("/v1/load");
    let load: Value = serde_json::from_str(&load).unwrap();
    assert_eq!(load["running"], 0);
    assert_eq!(load["queue_capacity"], 0);
    assert_eq!((load["kv_reserved"].as_u64(), load["kv_used"].as_u64()), (Some(0), Some(0)), "{load}");
    assert_eq!(load["kv_capacity"], 1024);
}

#[test]
fn health_is_503_while_loading_then_200() {
    let dir = tiny_model("llama");
    let s = Server::spawn(&["--model", dir.to_str().unwrap(), "--load-delay-ms", "1500"]);
    let t0 = std::time::Instant::now();
    let first = loop {
        match ureq::get(&s.url("/health")).call() {
            Ok(r) => break r.status(),
            Err(ureq::Error::Status(c, _)) => break c,
            Err(_) if t0.elapsed().as_secs() < 30 => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(first, 503);
    let (st, v) = s.post("/v1/chat/completions", &chat_body("x", json!({})));
    assert_eq!((st, v["error"]["code"].as_str()), (503, Some("model_loading")));
    s.wait_ready();
    assert_eq!(s.get("/health").0, 200);
}

#[test]
fn served_model_name_is_the_id_answers_carry() {
    let (s, dir) = serve("llama", &["--served-model-name", "team-model"]);
    let (_, m) = s.get("/v1/models");
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["data"][0]["id"], "team-model");
    // The served name, the argument and the folder's name all reach the model; every answer names it as served.
    let folder = dir.file_name().unwrap().to_str().unwrap();
    for name in ["team-model", dir.to_str().unwrap(), folder] {
        let (st, v) = s.post("/v1/chat/completions", &json!({"model": name, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}));
        assert_eq!((st, v["model"].as_str()), (200, Some("team-model")), "{name}: {v}");
    }
    let chunks = s.stream(&json!({"model": "team-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2, "stream": true}));
    let first: Value = serde_json::from_str(&chunks[0]).unwrap();
    assert_eq!(first["model"], "team-model");
    let (st, v) = s.post("/v1/chat/completions", &json!({"model": "other", "messages": [{"role": "user", "content": "x"}]}));
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("model_not_found")));
}

#[test]
fn models_load_and_metrics_endpoints() {
    let (s, dir) = serve("qwen2", &["--max-running", "2", "--max-waiting", "5"]);
    let (st, m) = s.get("/v1/models");
    assert_eq!(st, 200);
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][0]["id"], dir.to_str().unwrap());
    assert_eq!(m["data"][0]["context_length"], 1024);
    assert_eq!(m["data"][0]["capabilities"], json!({"chat": true, "embeddings": false, "tools": true, "json_schema": true, "tool_choice": true}));
    let (_, l) = s.get("/v1/load");
    let l: Value = serde_json::from_str(&l).unwrap();
    assert_eq!(l, json!({"running": 0, "waiting": 0, "max_running": 2, "queue_capacity": 5, "kv_used": 0, "kv_reserved": 0, "kv_capacity": 2048}));
    s.post("/v1/chat/completions", &chat_body("x", json!({"max_tokens": 4, "ignore_eos": true})));
    // The engine loop updates its gauges after the step that sent the answer's last event, so a scrape right after
    // the answer may still count the request as running: wait for the loop to publish.
    let scrape = || s.get("/metrics");
    let (mut st, mut text) = scrape();
    for _ in 0..100 {
        if text.lines().any(|l| l == "fastllm_requests_running 0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        (st, text) = scrape();
    }
    assert_eq!(st, 200);
    let value = |name: &str| -> f64 {
        text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing:\n{text}")).split(' ').nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(value("fastllm_generated_tokens_total"), 4.0);
    assert!(value("fastllm_prompt_tokens_total") > 0.0);
    assert_eq!(value("fastllm_requests_running"), 0.0);
    assert_eq!(value("fastllm_requests_waiting"), 0.0);
    assert!(value("fastllm_decode_tokens_per_second") > 0.0);
    assert_eq!(value("fastllm_decode_steps_total"), 3.0, "the first token comes from prefill, then one step per token");
    assert_eq!(value("fastllm_decode_batch_size"), 1.0);
    assert_eq!(value("fastllm_kv_cache_tokens_reserved"), 0.0);
    assert_eq!(value("fastllm_kv_cache_tokens_capacity"), 2048.0);
    assert!(value("fastllm_decode_seconds_total") > 0.0 && value("fastllm_prefill_seconds_total") > 0.0);
    assert!(text.contains("fastllm_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1"));
    assert!(text.contains("# TYPE fastllm_request_duration_seconds histogram"));
}

#[test]
fn tools_reach_each_models_template() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    for arch in ["qwen2", "llama", "mistral"] {
        let (s, _) = serve(arch, &[]);
        let ask = |extra: Value| {
            let (st, v) = s.post("/v1/chat/completions", &chat_body("weather in Paris?", extra));
            assert_eq!(st, 200, "{arch}: {v}");
            v["usage"]["prompt_tokens"].as_u64().unwrap()
        };
        let plain = ask(json!({"max_tokens": 1}));
        let with = ask(json!({"max_tokens": 1, "tools": tools}));
        let none = ask(json!({"max_tokens": 1, "tools": tools, "tool_choice": "none"}));
        assert!(with > plain + 10, "{arch}: tools must be rendered into the prompt ({with} vs {plain})");
        assert_eq!(none, plain, "{arch}: tool_choice none leaves tools out");
        // A prior tool call and its result, OpenAI-shaped, render through the template.
        let history = json!({"model": "default", "max_tokens": 1, "tools": tools, "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]});
        let (st, v) = s.post("/v1/chat/completions", &history);
        assert_eq!(st, 200, "{arch}: {v}");
    }
}

#[test]
fn bad_input_gets_openai_shaped_4xx() {
    let (s, _) = serve("llama", &[]);
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let cases: Vec<(&str, String, u16, &str, Option<&str>)> = vec![
        ("invalid json", "{\"model\": ".into(), 400, "body", Some("invalid_json")),
        ("unknown model", json!({"model": "gpt-9", "messages": msgs}).to_string(), 404, "model", Some("model_not_found")),
        ("empty messages", json!({"model": "default", "messages": []}).to_string(), 400, "messages", None),
        ("messages missing", json!({"model": "default"}).to_string(), 400, "body", None),
        ("messages wrong type", json!({"model": "default", "messages": "hi"}).to_string(), 400, "messages", None),
        ("bad role", json!({"model": "default", "messages": [{"role": "wizard", "content": "x"}]}).to_string(), 400, "messages[0].role", None),
        ("max_tokens too big", json!({"model": "default", "messages": msgs, "max_tokens": 100000}).to_string(), 400, "max_tokens", Some("context_length_exceeded")),
        ("max_tokens zero", json!({"model": "default", "messages": msgs, "max_tokens": 0}).to_string(), 400, "max_tokens", None),
        ("max_tokens negative", json!({"model": "default", "messages": msgs, "max_tokens": -1}).to_string(), 400, "max_tokens", None),
        ("temperature", json!({"model": "default", "messages": msgs, "temperature": 5}).to_string(), 400, "temperature", None),
        ("top_p", json!({"model": "default", "messages": msgs, "top_p": 1.5}).to_string(), 400, "top_p", None),
        ("n", json!({"model": "default", "messages": msgs, "n": 3}).to_string(), 400, "n", None),
        ("prompt too long", json!({"model": "default", "messages": [{"role": "user", "content": "word ".repeat(600)}]}).to_string(), 400, "messages", Some("context_length_exceeded")),
    ];
    for (name, body, status, param, code) in cases {
        let (st, v) = s.post_raw("/v1/chat/completions", &body);
        assert_eq!(st, status, "{name}: {v}");
        let e = &v["error"];
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {v}");
        assert!(e["type"].is_string() && e.get("param").is_some() && e.get("code").is_some(), "{name}: {v}");
        assert_eq!(e["param"], param, "{name}: {v}");
        if let Some(c) = code {
            assert_eq!(e["code"], c, "{name}");
        }
    }
    let (st, v) = s.post("/v1/embeddings", &json!({"model": "default", "input": "x"}));
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("model_not_found")), "no embedding model is loaded");
    let (st, _) = s.get("/v1/nope");
    assert_eq!(st, 404);
}

#[test]
fn broken_folders_fail_with_file_and_field() {
    let run = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fastllm"))
            .args(["serve", "--port", "0", "--model", dir.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let dir = tiny_model("llama");
    let cfg = dir.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    c["architectures"] = json!(["GPTNeoXForCausalLM"]);
    c["model_type"] = json!("gpt_neox");
    std::fs::write(&cfg, c.to_string()).unwrap();
    let (code, err) = run(&dir);
    assert_ne!(code, Some(0));
    assert!(err.contains("config.json") && err.contains("architectures") && err.contains("GPTNeoXForCausalLM"), "{err}");
    c["architectures"] = json!(["LlamaForCausalLM"]);
    c.as_object_mut().unwrap().remove("hidden_size");
    std::fs::write(&cfg, c.to_string()).unwrap();
    let (code, err) = run(&dir);
    assert_ne!(code, Some(0));
    assert!(err.contains("config.json") && err.contains("hidden_size"), "{err}");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    c["hidden_size"] = json!(64);
    std::fs::write(&cfg, c.to_string()).unwrap();
    let (code, err) = run(&dir);
    assert_ne!(code, Some(0));
    assert!(err.contains("safetensors"), "{err}");
    let (code, err) = run(std::path::Path::new("no-such-org/no-such-model"));
    assert_ne!(code, Some(0));
    assert!(err.contains("offline") && err.contains("no-such-org/no-such-model"), "{err}");
}

#[test]
fn loads_an_hf_id_from_the_offline_cache() {
    // <cache>/models--org--name/refs/main names the snapshot folder, as huggingface_hub lays it out.
    let model = tiny_model("mistral");
    let cache = common::scratch_dir("hf-cache");
    let repo = cache.join("models--heddle-test--tiny-mistral");
    let snap = repo.join("snapshots/0123abcd");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abcd\n").unwrap();
    for e in std::fs::read_dir(&model).unwrap() {
        let p = e.unwrap().path();
        std::fs::rename(&p, snap.join(p.file_name().unwrap())).unwrap();
    }
    let s = Server::spawn_env(&["--model", "heddle-test/tiny-mistral"], &[("HF_HUB_CACHE", cache.to_str().unwrap())]);
    s.wait_ready();
    let (st, v) = s.post("/v1/chat/completions", &json!({"model": "heddle-test/tiny-mistral", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["model"], "heddle-test/tiny-mistral");
    let (st, _) = s.post("/v1/chat/completions", &json!({"model": "tiny-mistral", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}));
    assert_eq!(st, 200, "the name part of an HF id is an alias too");
}
