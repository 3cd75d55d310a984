//! Health, load report, model list and Prometheus metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{errors::ApiError, now_secs, AppState};

pub async fn health(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    match s.loaded.get() {
        Some(_) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        None => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "loading"}))),
    }
}

pub async fn load(State(s): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let m = s.models()?;
    let Some(chat) = &m.chat else {
        return Ok(Json(json!({"running": 0, "waiting": 0, "queue_capacity": 0, "kv_used": 0, "kv_capacity": 0})));
    };
    let l = &chat.load;
    Ok(Json(json!({
        "running": l.running.load(Ordering::SeqCst),
        "waiting": l.waiting.load(Ordering::SeqCst),
        "max_running": l.max_running,
        "queue_capacity": l.max_waiting,
        "kv_used": l.kv_used.load(Ordering::SeqCst),
        "kv_reserved": l.kv_reserved.load(Ordering::SeqCst),
        "kv_capacity": l.kv_capacity,
    })))
}

pub async fn models(State(s): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let m = s.models()?;
    let mut data = vec![];
    if let Some(c) = &m.chat {
        // json_schema: response_format and forced tool calls are enforced by constrained decoding.
        let constrained = c.prompter.grammar.is_some();
        data.push(json!({
            "id": c.id, "object": "model", "created": now_secs(), "owned_by": "fastllm",
            "context_length": c.context_len,
            "capabilities": {"chat": true, "embeddings": false, "tools": true,
                             "json_schema": constrained, "tool_choice": constrained},
        }));
    }
    if let Some(e) = &m.embed {
        data.push(json!({
            "id": e.id, "object": "model", "created": now_secs(), "owned_by": "fastllm",
            "context_length": e.max_tokens, "dimensions": e.dim,
            "capabilities": {"chat": false, "embeddings": true, "tools": false, "json_schema": false, "tool_choice": false},
        }));
    }
    Ok(Json(json!({"object": "list", "data": data})))
}

pub async fn metrics(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render())
}
