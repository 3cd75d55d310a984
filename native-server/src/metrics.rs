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
    generated_tokens: AtomicU64,
    prompt_tokens: AtomicU64,
    embedded_tokens: AtomicU64,
    queue_rejections: AtomicU64,
    cancelled: AtomicU64,
    /// f64 bits: throughput of the most recent prefill / decode round.
    prompt_tps: AtomicU64,
    decode_tps: AtomicU64,
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
    pub fn record_prefill(&self, tokens: usize, secs: f64) {
        self.prompt_tokens.fetch_add(tokens as u64, Relaxed);
        if secs > 0.0 {
            self.prompt_tps.store((tokens as f64 / secs).to_bits(), Relaxed);
        }
    }
    pub fn record_decode(&self, tokens: usize, secs: f64) {
        self.generated_tokens.fetch_add(tokens as u64, Relaxed);
        if secs > 0.0 && tokens > 0 {
            self.decode_tps.store((tokens as f64 / secs).to_bits(), Relaxed);
        }
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
    pub fn time_to_first_token(&self, secs: f64) {
        observe(&self.ttft, secs);
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
        one("prompt_tokens_per_second", "gauge", "Prefill throughput of the latest prompt.", f64::from_bits(self.prompt_tps.load(Relaxed)).to_string());
        one("decode_tokens_per_second", "gauge", "Decode throughput of the latest scheduler round, all sequences.", f64::from_bits(self.decode_tps.load(Relaxed)).to_string());
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
