//! HTTP tier (axum): OpenAI-compatible routes over the engine handles. Runs on tokio; never runs a model.

mod chat;
mod embeddings;
pub mod errors;
mod status;
mod structured;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::engine::{ChatHandle, EmbedHandle};
use crate::metrics::Metrics;
use errors::ApiError;

pub struct Loaded {
    pub chat: Option<ChatHandle>,
    pub embed: Option<EmbedHandle>,
}

pub struct AppState {
    /// Set once when loading finishes; until then model routes and /health answer 503.
    pub loaded: OnceLock<Loaded>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn models(&self) -> Result<&Loaded, ApiError> {
        self.loaded.get().ok_or_else(ApiError::loading)
    }
}

pub fn is_alias(aliases: &[String], requested: &str) -> bool {
    requested == "default" || aliases.iter().any(|a| a == requested)
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/similarity", post(embeddings::similarity))
        .route("/v1/models", get(status::models))
        .route("/v1/load", get(status::load))
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .fallback(|req: Request| async move { ApiError::not_found_route(req.uri().path()) })
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// One record per request: count and latency by route.
async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let endpoint = match path.as_str() {
        "/v1/chat/completions" | "/v1/embeddings" | "/v1/similarity" | "/v1/models" | "/v1/load" | "/health" | "/metrics" => path,
        _ => "other".to_string(),
    };
    state.metrics.request_done(&endpoint, resp.status().as_u16(), t0.elapsed().as_secs_f64());
    resp.into_response()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut r = crate::models::random::Rng::new(now_secs() ^ (n << 20) ^ std::process::id() as u64);
    format!("{prefix}-{:016x}", r.next_u64())
}
