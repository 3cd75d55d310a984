//! POST /v1/embeddings (OpenAI shape, float or base64) and POST /v1/similarity (cosine similarity).
//!
//! /v1/similarity accepts either the public FastLLM pair form `{"text1": "...", "text2": "..."}`, answered with
//! `{"object": "similarity", "model", "similarity", "text1", "text2", "usage"}`, or a ranking form
//! `{"query": "...", "documents": ["...", ...]}`, answered with `{"object": "list", "model",
//! "data": [{"object": "similarity", "index", "score"}...] (in document order), "usage"}`. Scores are cosine
//! similarities of the normalised embeddings, in [-1, 1].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{parse_body, ApiError};
use super::{is_alias, AppState};
use crate::engine::{EmbedHandle, SubmitError};

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
    #[allow(dead_code)]
    Tokens(Vec<Value>),
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    model: Option<String>,
    input: Input,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
    #[serde(flatten)]
    _extra: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct SimilarityRequest {
    model: Option<String>,
    text1: Option<String>,
    text2: Option<String>,
    query: Option<String>,
    documents: Option<Vec<String>>,
}

fn embedder<'a>(state: &'a AppState, model: &Option<String>) -> Result<&'a EmbedHandle, ApiError> {
    let requested = model.clone().unwrap_or_else(|| "default".into());
    match &state.models()?.embed {
        Some(e) if is_alias(&e.aliases, &requested) => Ok(e),
        _ => Err(ApiError::model_not_found(&requested)),
    }
}

async fn run(e: &EmbedHandle, texts: Vec<String>) -> Result<(Vec<Vec<f32>>, usize), ApiError> {
    let rx = e.submit(texts).map_err(|err| match err {
        SubmitError::QueueFull(_) => ApiError::overloaded("the embedding queue is full; retry later"),
        SubmitError::Stopped => ApiError::internal(err.to_string()),
    })?;
    rx.await.map_err(|_| ApiError::internal("the embedder dropped the request"))?.map_err(ApiError::internal)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

pub async fn embeddings(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: EmbeddingRequest = parse_body(&body)?;
    let e = embedder(&state, &req.model)?;
    let texts = match req.input {
        Input::One(s) => vec![s],
        Input::Many(v) => v,
        Input::Tokens(_) => return Err(ApiError::invalid("input", "token-id input is not supported; send strings")),
    };
    if texts.is_empty() {
        return Err(ApiError::invalid("input", "`input` must not be empty"));
    }
    if let Some(i) = texts.iter().position(|t| t.is_empty()) {
        return Err(ApiError::invalid(format!("input[{i}]"), "`input` strings must not be empty"));
    }
    let b64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid("encoding_format", format!("unknown encoding_format `{other}`")))
        }
    };
    if let Some(d) = req.dimensions {
        if d != e.dim {
            return Err(ApiError::invalid("dimensions", format!("this model produces {} dimensions", e.dim)));
        }
    }
    let (vectors, tokens) = run(e, texts).await?;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let emb = if b64 {
                json!(base64(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    Ok(Json(json!({
        "object": "list", "data": data, "model": e.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub async fn similarity(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: SimilarityRequest = parse_body(&body)?;
    let e = embedder(&state, &req.model)?;
    let usage = |t: usize| json!({"prompt_tokens": t, "total_tokens": t});
    match (req.text1, req.text2, req.query, req.documents) {
        (Some(t1), Some(t2), None, None) => {
            let (v, tokens) = run(e, vec![t1.clone(), t2.clone()]).await?;
            Ok(Json(json!({"object": "similarity", "model": e.id, "similarity": dot(&v[0], &v[1]),
                           "text1": t1, "text2": t2, "usage": usage(tokens)})))
        }
        (None, None, Some(q), Some(docs)) => {
            if docs.is_empty() {
                return Err(ApiError::invalid("documents", "`documents` must not be empty"));
            }
            let mut texts = vec![q];
            texts.extend(docs);
            let (v, tokens) = run(e, texts).await?;
            let data: Vec<Value> = v[1..]
                .iter()
                .enumerate()
                .map(|(i, d)| json!({"object": "similarity", "index": i, "score": dot(&v[0], d)}))
                .collect();
            Ok(Json(json!({"object": "list", "model": e.id, "data": data, "usage": usage(tokens)})))
        }
        _ => Err(ApiError::invalid("body", "send either `text1` and `text2`, or `query` and `documents`")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
    }
}
