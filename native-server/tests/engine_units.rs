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
