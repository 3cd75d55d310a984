//! Engine tier: queue, scheduling, sampling, detokenization, stop strings, tool parsing. No HTTP here: the
//! server talks to it through `ChatHandle` / `EmbedHandle`, cloneable handles to actor threads.

pub mod chat;
pub mod detok;
pub mod embed;
pub mod grammar;
pub mod output;
pub mod sampler;
pub mod scheduler;
pub mod stop;
pub mod template;
pub mod tools;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use chat::{ChatHandle, ChatModel};
pub use embed::EmbedHandle;
pub use sampler::SamplingParams;
pub use tools::ToolCall;

/// Default of `--prefill-chunk`: long enough for prefill to run at matmul speed, short enough that running
/// streams wait for one chunk, not a whole long prompt.
pub const DEFAULT_PREFILL_CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Sequences generated concurrently (one batched decode step advances them all).
    pub max_running: usize,
    /// Requests that may wait for a slot; beyond this, submissions are refused.
    pub max_waiting: usize,
    /// KV cache budget in tokens shared by the running sequences; `None`: one full context per running slot.
    pub kv_cache_tokens: Option<usize>,
    /// Most prompt tokens prefilled per scheduler iteration, so running streams keep getting decode steps.
    pub prefill_chunk: usize,
}

impl EngineConfig {
    /// The KV budget for a model of this context. Less than one context could leave a request waiting forever.
    pub fn kv_capacity(&self, context: usize) -> Result<usize, String> {
        match self.kv_cache_tokens {
            None => Ok(self.max_running.max(1) * context),
            Some(n) if n < context => Err(format!("--kv-cache-tokens {n} is less than one context ({context} tokens)")),
            Some(n) => Ok(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// What a running sequence reports, in order: content pieces, then tool calls (if any), then Done or Error.
#[derive(Debug, Clone)]
pub enum Event {
    Content(String),
    ToolCalls(Vec<ToolCall>),
    Done { finish_reason: FinishReason, usage: Usage },
    Error(String),
    /// The length limit cut a grammar-constrained output before it was complete: it would not parse.
    StructureIncomplete(Usage),
}

pub struct GenerateRequest {
    pub prompt: Vec<u32>,
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub ignore_eos: bool,
    pub tools: bool,
    /// Constrains the output (response_format, forced tool calls).
    pub grammar: Option<grammar::Constraint>,
}

/// A request in the queue, with the channel its events go to.
pub struct Queued {
    pub req: GenerateRequest,
    pub events: tokio::sync::mpsc::UnboundedSender<Event>,
    pub enqueued: std::time::Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the queue is full ({0} waiting); retry later")]
    QueueFull(usize),
    #[error("the engine has stopped")]
    Stopped,
}

/// Shared counters the engine publishes after every step; read by /v1/load and /metrics.
#[derive(Debug, Default)]
pub struct LoadState {
    pub running: AtomicUsize,
    pub waiting: AtomicUsize,
    /// KV positions filled by running sequences.
    pub kv_used: AtomicUsize,
    /// KV positions held for running sequences (prompt + max new tokens each, capped by the context).
    pub kv_reserved: AtomicUsize,
    pub max_running: usize,
    pub max_waiting: usize,
    pub kv_capacity: usize,
    /// Scheduling limit, kept here beside the other limits the scheduler reads.
    pub prefill_chunk: usize,
}

impl LoadState {
    /// Limits from the config; an invalid KV budget falls back to one context (callers check `kv_capacity` first).
    pub fn new(cfg: &EngineConfig, context: usize) -> Self {
        Self {
            max_running: cfg.max_running.max(1),
            max_waiting: cfg.max_waiting,
            kv_capacity: cfg.kv_capacity(context).unwrap_or(context),
            prefill_chunk: cfg.prefill_chunk.max(1),
            ..Default::default()
        }
    }

    /// Reserves a queue place, or refuses when running + waiting is at capacity.
    pub fn try_admit(&self) -> Result<(), SubmitError> {
        let w = self.waiting.fetch_add(1, Ordering::SeqCst);
        if w + self.running.load(Ordering::SeqCst) >= self.max_waiting + self.max_running {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(SubmitError::QueueFull(w));
        }
        Ok(())
    }
}
