//! Engine pieces against a real tokenizer: incremental detokenization, prompts from each fixture's template.

mod common;

use fastllm::engine::chat::Prompter;
use fastllm::engine::detok::Detokenizer;
use fastllm::models::ModelFiles;
use serde_json::json;

#[test]
fn incremental_detokenization_is_byte_exact() {
    let dir = common::tiny_model("qwen2");
    let tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    for text in ["hello world", "  leading and trailing  ", "naïve café — 日本語 🎉 done", "tabs\tand\nnewlines", "the then there"] {
        let ids = tok.encode(text, false).unwrap().get_ids().to_vec();
        assert!(ids.len() > 1);
        let mut d = Detokenizer::new();
        let mut out = String::new();
        let mut pieces = 0;
        for &id in &ids {
            if let Some(p) = d.push(&tok, id) {
                assert!(!p.contains('\u{FFFD}'), "a piece split a character: {p:?}");
                out.push_str(&p);
                pieces += 1;
            }
        }
        if let Some(p) = d.flush(&tok) {
            out.push_str(&p);
        }
        assert_eq!(out, text);
        assert_eq!(out, tok.decode(&ids, false).unwrap());
        assert!(pieces > 1 || ids.len() == 1);
    }
}

#[test]
fn each_fixture_template_renders_its_own_format() {
    let msgs = [json!({"role": "system", "content": "be brief"}), json!({"role": "user", "content": "hi"})];
    let cases = [
        ("qwen2", "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
        ("mistral", "<s>[INST] be brief[/INST][INST] hi[/INST]"),
    ];
    for (arch, want) in cases {
        let dir = common::tiny_model(arch);
        let p = Prompter::load(&ModelFiles::open(dir.to_str().unwrap()).unwrap()).unwrap();
        assert_eq!(p.template.render(&msgs, None).unwrap(), want, "{arch}");
        // Stop tokens come from generation_config.json and the template's end-of-turn token.
        let eos: Vec<u32> = { let mut v: Vec<u32> = p.eos_ids.iter().copied().collect(); v.sort(); v };
        match arch {
            "qwen2" => assert_eq!(eos, vec![300, 302]),
            _ => assert_eq!(eos, vec![313]),
        }
    }
    let dir = common::tiny_model("llama");
    let p = Prompter::load(&ModelFiles::open(dir.to_str().unwrap()).unwrap()).unwrap();
    let out = p.template.render(&msgs, Some(&[json!({"type": "function", "function": {"name": "f"}})])).unwrap();
    assert!(out.starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date"));
    assert!(out.contains("\"name\": \"f\""), "tools rendered with tojson(indent=4): {out}");
    assert!(out.ends_with("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));
    let mut eos: Vec<u32> = p.eos_ids.iter().copied().collect();
    eos.sort();
    assert_eq!(eos, vec![306, 309, 310]);
    // <|python_tag|> is special but stays visible for the tool parser; <|eot_id|> is hidden.
    assert!(!p.hidden_ids.contains(&311) && p.hidden_ids.contains(&309));
}

/// Feeds the token ids of `text` (as the model would emit them) and then `end` through the output pipeline.
fn run_output(arch: &str, text: &str, end: u32, tools: bool) -> Vec<fastllm::engine::Event> {
    use fastllm::engine::{output::Output, Usage};
    let dir = common::tiny_model(arch);
    let p = Prompter::load(&ModelFiles::open(dir.to_str().unwrap()).unwrap()).unwrap();
    let mut ids = p.tokenizer.encode(text, false).unwrap().get_ids().to_vec();
    ids.push(end);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut out = Output::new(vec![], tools, false, tx);
    let usage = Usage { prompt_tokens: 0, completion_tokens: ids.len() };
    let mut ended = None;
    for id in ids {
        assert!(ended.is_none(), "tokens after the end");
        ended = out.token(&p, id, &usage);
    }
    assert!(ended.is_some(), "the end token must finish the sequence");
    let mut events = vec![];
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

fn summarize(events: &[fastllm::engine::Event]) -> (String, Vec<(String, serde_json::Value)>, String) {
    use fastllm::engine::Event;
    let mut content = String::new();
    let mut calls = vec![];
    let mut reason = String::new();
    for e in events {
        match e {
            Event::Content(t) => content.push_str(t),
            Event::ToolCalls(c) => calls = c.iter().map(|c| (c.name.clone(), serde_json::from_str(&c.arguments).unwrap())).collect(),
            Event::Done { finish_reason, .. } => reason = finish_reason.as_str().to_string(),
            Event::Error(e) => panic!("{e}"),
            Event::StructureIncomplete(_) => panic!("unconstrained output cannot be structurally incomplete"),
        }
    }
    (content, calls, reason)
}

#[test]
fn generated_tool_calls_become_openai_tool_calls_for_each_format() {
    let cases = [
        ("qwen2", "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", 302, "Checking.\n", "get_weather"),
        ("llama", "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"city\": \"Paris\"}}", 310, "", "search"),
        ("llama", "{\"name\": \"search\", \"parameters\": {\"city\": \"Paris\"}}", 309, "", "search"),
        ("mistral", "[TOOL_CALLS] [{\"name\": \"lookup\", \"arguments\": {\"city\": \"Paris\"}}]", 313, "", "lookup"),
    ];
    for (arch, text, end, want_content, name) in cases {
        let (content, calls, reason) = summarize(&run_output(arch, text, end, true));
        assert_eq!(reason, "tool_calls", "{arch}: {text}");
        assert_eq!(content, want_content, "{arch}");
        assert_eq!(calls, vec![(name.to_string(), json!({"city": "Paris"}))], "{arch}");
        // Without tools in the request the same output is plain text (special markers hidden or kept as text).
        let (_, calls, reason) = summarize(&run_output(arch, text, end, false));
        assert!(calls.is_empty() && reason == "stop", "{arch}");
    }
    // Ordinary text with tools enabled stays content, byte-exact.
    let (content, calls, reason) = summarize(&run_output("qwen2", "Paris is sunny — 23 °C.", 302, true));
    assert_eq!((content.as_str(), calls.len(), reason.as_str()), ("Paris is sunny — 23 °C.", 0, "stop"));
}
