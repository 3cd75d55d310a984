//! The scheduler thread: owns the model, admits queued requests up to `max_running`, and advances every running
//! sequence one token per round (round-robin), so short requests are not stuck behind long ones. Each sequence
//! has its own KV cache; batching the round into one forward pass is the next step and changes only `round`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::chat::{ChatModel, Prompter};
use super::output::Output;
use super::sampler::Sampler;
use super::{Event, FinishReason, LoadState, Queued, Usage};
use crate::metrics::Metrics;
use crate::models::KvCache;

struct Sequence {
    tokens: Vec<u32>,
    prompt_len: usize,
    max_new: usize,
    cache: KvCache,
    sampler: Sampler,
    out: Output,
    done: bool,
}

pub struct Scheduler {
    model: ChatModel,
    prompter: Arc<Prompter>,
    load: Arc<LoadState>,
    metrics: Arc<Metrics>,
    waiting: VecDeque<Queued>,
    running: Vec<Sequence>,
}

impl Scheduler {
    pub fn new(model: ChatModel, load: Arc<LoadState>, metrics: Arc<Metrics>) -> Self {
        let prompter = model.prompter.clone();
        Self { model, prompter, load, metrics, waiting: VecDeque::new(), running: Vec::new() }
    }

    pub fn run(mut self, rx: std::sync::mpsc::Receiver<Queued>) {
        loop {
            if self.running.is_empty() && self.waiting.is_empty() {
                match rx.recv() {
                    Ok(q) => self.waiting.push_back(q),
                    Err(_) => return,
                }
            }
            while let Ok(q) = rx.try_recv() {
                self.waiting.push_back(q);
            }
            self.admit();
            self.round();
            self.publish();
        }
    }

    fn publish(&self) {
        let running = self.running.len();
        self.load.running.store(running, Ordering::SeqCst);
        self.load.kv_used.store(self.running.iter().map(|s| s.cache.len).sum(), Ordering::SeqCst);
        self.metrics.set_running(running);
        self.metrics.set_waiting(self.load.waiting.load(Ordering::SeqCst));
    }

    fn admit(&mut self) {
        while self.running.len() < self.load.max_running {
            let Some(q) = self.waiting.pop_front() else { break };
            self.load.waiting.fetch_sub(1, Ordering::SeqCst);
            self.load.running.fetch_add(1, Ordering::SeqCst);
            if q.events.is_closed() {
                self.metrics.cancelled();
                self.load.running.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let r = q.req;
            let mut seq = Sequence {
                prompt_len: r.prompt.len(),
                tokens: r.prompt,
                max_new: r.max_new_tokens,
                cache: self.model.model.new_cache(self.model.model.max_context),
                sampler: Sampler::new(r.sampling),
                out: Output::new(r.stop, r.tools, r.ignore_eos, q.events),
                done: false,
            };
            let t0 = Instant::now();
            match self.model.model.forward(&seq.tokens, &mut seq.cache) {
                Ok(mut logits) => {
                    self.metrics.record_prefill(seq.prompt_len, t0.elapsed().as_secs_f64());
                    self.metrics.time_to_first_token(q.enqueued.elapsed().as_secs_f64());
                    let tok = seq.sampler.sample(&mut logits, &seq.tokens);
                    self.metrics.record_decode(1, 0.0);
                    on_token(&self.prompter, &self.model.model.max_context, &mut seq, tok);
                }
                Err(e) => {
                    let _ = seq.out.events.send(Event::Error(format!("prefill failed: {e}")));
                    seq.done = true;
                }
            }
            if !seq.done {
                self.running.push(seq);
            } else {
                self.load.running.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// One decode step for every running sequence.
    fn round(&mut self) {
        let t0 = Instant::now();
        let mut produced = 0;
        for seq in self.running.iter_mut() {
            if seq.out.events.is_closed() {
                self.metrics.cancelled();
                seq.done = true;
                continue;
            }
            let last = *seq.tokens.last().expect("a running sequence has tokens");
            match self.model.model.forward(&[last], &mut seq.cache) {
                Ok(mut logits) => {
                    let tok = seq.sampler.sample(&mut logits, &seq.tokens);
                    produced += 1;
                    on_token(&self.prompter, &self.model.model.max_context, seq, tok);
                }
                Err(e) => {
                    let _ = seq.out.events.send(Event::Error(format!("decode failed: {e}")));
                    seq.done = true;
                }
            }
        }
        self.metrics.record_decode(produced, t0.elapsed().as_secs_f64());
        self.running.retain(|s| !s.done);
    }
}

/// Records the token and decides whether the sequence ends: EOS / stop string (via `Output`) or length.
fn on_token(p: &Prompter, max_context: &usize, seq: &mut Sequence, tok: u32) {
    seq.tokens.push(tok);
    let usage = Usage { prompt_tokens: seq.prompt_len, completion_tokens: seq.tokens.len() - seq.prompt_len };
    if seq.out.token(p, tok, &usage).is_some() {
        seq.done = true;
        return;
    }
    // The next step feeds `tok`, which needs one more cache slot.
    if usage.completion_tokens >= seq.max_new || seq.cache.len + 1 >= *max_context {
        seq.out.finish(p, FinishReason::Length, false, &usage);
        seq.done = true;
    }
}
