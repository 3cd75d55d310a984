//! Every Prometheus metric the node exports, in one place: names, HELP text and buckets.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const PREFIX: &str = "fastllm";
/// Seconds; request latencies on CPU span milliseconds to minutes.
const DURATION_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

struct Histogram {
    counts: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    running: AtomicU64,
    waiting: AtomicU64,
    kv_used: AtomicU64,
    kv_reserved: AtomicU64,
    kv_capacity: AtomicU64,
    generated_tokens: AtomicU64,
    prompt_tokens: AtomicU64,
    embedded_tokens: AtomicU64,
    queue_rejections: AtomicU64,
    cancelled: AtomicU64,
    /// f64 bits: throughput of the most recent prefill chunk / decode step.
    prompt_tps: AtomicU64,
    decode_tps: AtomicU64,
    /// Microseconds spent in prefill chunks / batched decode steps, and the number of decode steps.
    prefill_micros: AtomicU64,
    decode_micros: AtomicU64,
    decode_steps: AtomicU64,
    /// Sequences in the most recent decode step.
    decode_batch: AtomicU64,
    requests: Mutex<std::collections::BTreeMap<(String, u16), u64>>,
    durations: Mutex<Option<Histogram>>,
    ttft: Mutex<Option<Histogram>>,
}

fn observe(h: &Mutex<Option<Histogram>>, secs: f64) {
    let mut g = h.lock().unwrap();
    let h = g.get_or_insert(Histogram { counts: [0; DURATION_BUCKETS.len()], sum: 0.0, count: 0 });
    for (i, b) in DURATION_BUCKETS.iter().enumerate() {
        if secs <= *b {
            h.counts[i] += 1;
        }
    }
    h.sum += secs;
    h.count += 1;
}

impl Metrics {
    pub fn set_running(&self, n: usize) {
        self.running.store(n as u64, Relaxed);
    }
    pub fn set_waiting(&self, n: usize) {
        self.waiting.store(n as u64, Relaxed);
    }
    pub fn set_kv(&self, used: usize, reserved: usize, capacity: usize) {
        self.kv_used.store(used as u64, Relaxed);
        self.kv_reserved.store(reserved as u64, Relaxed);
        self.kv_capacity.store(capacity as u64, Relaxed);
    }
    /// One prefill chunk of `tokens` prompt tokens.
    pub fn record_prefill(&self, tokens: usize, secs: f64) {
        self.prompt_tokens.fetch_add(tokens as u64, Relaxed);
        self.prefill_micros.fetch_add((secs * 1e6) as u64, Relaxed);
        if secs > 0.0 {
            self.prompt_tps.store((tokens as f64 / secs).to_bits(), Relaxed);
        }
    }
    /// A sequence's first token, sampled from its prefill logits `secs` after it was queued.
    pub fn first_token(&self, secs: f64) {
        self.generated_tokens.fetch_add(1, Relaxed);
        observe(&self.ttft, secs);
    }
    /// One batched decode step: one token for each of `sequences`.
    pub fn record_decode(&self, sequences: usize, secs: f64) {
        self.generated_tokens.fetch_add(sequences as u64, Relaxed);
        self.decode_micros.fetch_add((secs * 1e6) as u64, Relaxed);
        self.decode_steps.fetch_add(1, Relaxed);
        self.decode_batch.store(sequences as u64, Relaxed);
        if secs > 0.0 {
            self.decode_tps.store((sequences as f64 / secs).to_bits(), Relaxed);
        }
    }
    pub fn generated_tokens(&self) -> u64 {
        self.generated_tokens.load(Relaxed)
    }
    /// Time spent in batched decode steps' forward passes, and their count.
    pub fn decode_seconds_and_steps(&self) -> (f64, u64) {
        (self.decode_micros.load(Relaxed) as f64 / 1e6, self.decode_steps.load(Relaxed))
    }
    pub fn prefill_seconds(&self) -> f64 {
        self.prefill_micros.load(Relaxed) as f64 / 1e6
    }
    pub fn record_embedding(&self, tokens: usize) {
        self.embedded_tokens.fetch_add(tokens as u64, Relaxed);
    }
    pub fn queue_rejected(&self) {
        self.queue_rejections.fetch_add(1, Relaxed);
    }
    pub fn cancelled(&self) {
        self.cancelled.fetch_add(1, Relaxed);
    }
    /// One record per finished HTTP request.
    pub fn request_done(&self, endpoint: &str, status: u16, secs: f64) {
        *self.requests.lock().unwrap().entry((endpoint.to_string(), status)).or_default() += 1;
        observe(&self.durations, secs);
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            s.push_str(&format!("# HELP {PREFIX}_{name} {help}\n# TYPE {PREFIX}_{name} {kind}\n{PREFIX}_{name} {value}\n"));
        };
        one("requests_running", "gauge", "Sequences being generated now.", self.running.load(Relaxed).to_string());
        one("requests_waiting", "gauge", "Requests queued, not yet running.", self.waiting.load(Relaxed).to_string());
        one("generated_tokens_total", "counter", "Completion tokens generated.", self.generated_tokens.load(Relaxed).to_string());
        one("prompt_tokens_total", "counter", "Prompt tokens prefilled.", self.prompt_tokens.load(Relaxed).to_string());
        one("embedding_tokens_total", "counter", "Tokens embedded.", self.embedded_tokens.load(Relaxed).to_string());
        one("queue_rejections_total", "counter", "Requests refused with 503 because the queue was full.", self.queue_rejections.load(Relaxed).to_string());
        one("cancelled_total", "counter", "Requests dropped because the client went away.", self.cancelled.load(Relaxed).to_string());
        one("kv_cache_tokens_used", "gauge", "KV cache positions filled by running sequences.", self.kv_used.load(Relaxed).to_string());
        one("kv_cache_tokens_reserved", "gauge", "KV cache positions reserved by running sequences (prompt + max new tokens).", self.kv_reserved.load(Relaxed).to_string());
        one("kv_cache_tokens_capacity", "gauge", "KV cache budget in positions (--kv-cache-tokens).", self.kv_capacity.load(Relaxed).to_string());
        one("prompt_tokens_per_second", "gauge", "Prefill throughput of the latest prompt chunk.", f64::from_bits(self.prompt_tps.load(Relaxed)).to_string());
        one("decode_tokens_per_second", "gauge", "Decode throughput of the latest batched decode step, all sequences.", f64::from_bits(self.decode_tps.load(Relaxed)).to_string());
        one("decode_batch_size", "gauge", "Sequences in the latest batched decode step.", self.decode_batch.load(Relaxed).to_string());
        one("decode_steps_total", "counter", "Batched decode steps run.", self.decode_steps.load(Relaxed).to_string());
        let secs = |a: &AtomicU64| (a.load(Relaxed) as f64 / 1e6).to_string();
        one("prefill_seconds_total", "counter", "Time spent prefilling prompt chunks.", secs(&self.prefill_micros));
        one("decode_seconds_total", "counter", "Time spent in batched decode steps.", secs(&self.decode_micros));
        s.push_str(&format!("# HELP {PREFIX}_requests_total HTTP requests by endpoint and status.\n# TYPE {PREFIX}_requests_total counter\n"));
        for ((ep, st), n) in self.requests.lock().unwrap().iter() {
            s.push_str(&format!("{PREFIX}_requests_total{{endpoint=\"{ep}\",status=\"{st}\"}} {n}\n"));
        }
        for (name, help, h) in [
            ("request_duration_seconds", "HTTP request latency.", &self.durations),
            ("time_to_first_token_seconds", "Queue wait plus prefill until the first token.", &self.ttft),
        ] {
            s.push_str(&format!("# HELP {PREFIX}_{name} {help}\n# TYPE {PREFIX}_{name} histogram\n"));
            if let Some(h) = h.lock().unwrap().as_ref() {
                for (i, b) in DURATION_BUCKETS.iter().enumerate() {
                    s.push_str(&format!("{PREFIX}_{name}_bucket{{le=\"{b}\"}} {}\n", h.counts[i]));
                }
                s.push_str(&format!("{PREFIX}_{name}_bucket{{le=\"+Inf\"}} {}\n{PREFIX}_{name}_sum {}\n{PREFIX}_{name}_count {}\n", h.count, h.sum, h.count));
            }
        }
        s
    }
}
