//! FastLLM node. Tiers, one direction only: `http` (axum) -> `engine` (queue, scheduling, sampling,
//! detokenizer, tool parsing; no axum) -> `models` (candle). `metrics` is shared by all.

pub mod bench;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod models;
pub mod server;
