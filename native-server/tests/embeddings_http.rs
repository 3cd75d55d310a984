//! Embeddings and similarity over real HTTP, with a tiny random BERT beside a tiny chat model.

mod common;

use common::{tiny_model, Server};
use serde_json::{json, Value};

fn norm(v: &Value) -> f64 {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap().powi(2)).sum::<f64>().sqrt()
}

#[test]
fn embeddings_shape_normalisation_and_similarity() {
    let bert = tiny_model("bert");
    let chat = tiny_model("qwen2");
    let s = Server::start(&["--model", chat.to_str().unwrap(), "--embedding-model", bert.to_str().unwrap()]);
    let id = bert.to_str().unwrap();

    let (st, v) = s.post("/v1/embeddings", &json!({"model": id, "input": ["the cat sat on the mat", "a dog drove the car"]}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], id);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        assert_eq!(d["embedding"].as_array().unwrap().len(), 32);
        assert!((norm(&d["embedding"]) - 1.0).abs() < 1e-4);
    }
    // [CLS] the cat sat on the mat [SEP] = 8, [CLS] an dog drove the car [SEP] = 7 (padding not counted).
    assert_eq!(v["usage"]["prompt_tokens"], 8 + 7);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    // A single string; the same text embeds identically alone or in a batch (padding must not leak in).
    let (_, one) = s.post("/v1/embeddings", &json!({"model": "default", "input": "a dog drove the car"}));
    let a = one["data"][0]["embedding"].as_array().unwrap();
    let b = data[1]["embedding"].as_array().unwrap();
    assert!(a.iter().zip(b).all(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-4));

    // base64, as the openai SDK asks by default: little-endian f32.
    let (_, b64) = s.post("/v1/embeddings", &json!({"model": id, "input": "hot dog", "encoding_format": "base64"}));
    let s64 = b64["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(s64.len(), (32 * 4usize).div_ceil(3) * 4);

    // Similarity, pair form: identical texts score 1.
    let (st, p) = s.post("/v1/similarity", &json!({"text1": "the cat", "text2": "the cat"}));
    assert_eq!(st, 200, "{p}");
    assert!((p["similarity"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    assert_eq!(p["text1"], "the cat");
    // Ranking form: one score per document, in order, each a cosine in [-1, 1].
    let (st, r) = s.post("/v1/similarity", &json!({"query": "the cat", "documents": ["the cat", "road", "we can"]}));
    assert_eq!(st, 200, "{r}");
    let scores: Vec<f64> = r["data"].as_array().unwrap().iter().map(|d| d["score"].as_f64().unwrap()).collect();
    assert_eq!(scores.len(), 3);
    assert!((scores[0] - 1.0).abs() < 1e-4 && scores.iter().all(|x| (-1.0001..=1.0001).contains(x)));

    // Bad input.
    for (body, param) in [
        (json!({"input": []}), "input"),
        (json!({"input": ["ok", ""]}), "input[1]"),
        (json!({"input": "x", "encoding_format": "hex"}), "encoding_format"),
        (json!({"input": 5}), "input"),
    ] {
        let (st, e) = s.post("/v1/embeddings", &body);
        assert_eq!((st, e["error"]["param"].as_str()), (400, Some(param)), "{body}: {e}");
    }
    let (st, e) = s.post("/v1/similarity", &json!({"text1": "only one"}));
    assert_eq!((st, e["error"]["param"].as_str()), (400, Some("body")));
    let (st, e) = s.post("/v1/embeddings", &json!({"model": "other", "input": "x"}));
    assert_eq!((st, e["error"]["code"].as_str()), (404, Some("model_not_found")));

    // Both models listed with their capabilities; chat still works beside embeddings.
    let (_, m) = s.get("/v1/models");
    let m: Value = serde_json::from_str(&m).unwrap();
    let caps: Vec<&Value> = m["data"].as_array().unwrap().iter().map(|d| &d["capabilities"]).collect();
    assert_eq!(caps, [&json!({"chat": true, "embeddings": false, "tools": true, "json_schema": true, "tool_choice": true}),
                      &json!({"chat": false, "embeddings": true, "tools": false, "json_schema": false, "tool_choice": false})]);
    let (st, _) = s.post("/v1/chat/completions", &json!({"model": chat.to_str().unwrap(), "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}));
    assert_eq!(st, 200);
}
