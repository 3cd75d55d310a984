//! The scheduler thread: owns the model and runs continuous batching. Each iteration
//! 1. retires finished sequences and those whose client went away, releasing their KV reservation;
//! 2. admits waiting requests, oldest first, while a running slot and their KV reservation are free;
//! 3. prefills prompt chunks up to `prefill_chunk` tokens, so a long prompt delays running streams by one chunk
//!    per step rather than by its whole length;
//! 4. runs one batched decode step for every sequence whose prompt is in its cache.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::chat::{ChatModel, Prompter};
use super::output::Output;
use super::sampler::Sampler;
use super::{Event, FinishReason, GenerateRequest, LoadState, Queued, Usage};
use crate::metrics::Metrics;
use crate::models::KvCache;

struct Sequence {
    tokens: Vec<u32>,
    prompt_len: usize,
    max_new: usize,
    /// KV positions held for this sequence until it leaves.
    reserved: usize,
    cache: KvCache,
    sampler: Sampler,
    out: Output,
    enqueued: Instant,
    done: bool,
}

impl Sequence {
    fn unprefilled(&self) -> usize {
        self.prompt_len - self.cache.len.min(self.prompt_len)
    }
    /// Prompt fully cached: the last token is the next input.
    fn decoding(&self) -> bool {
        !self.done && self.cache.len >= self.prompt_len
    }
    fn fail(&mut self, what: &str, e: &dyn std::fmt::Display) {
        let _ = self.out.events.send(Event::Error(format!("{what} failed: {e}")));
        self.done = true;
    }
}

pub struct Scheduler {
    model: ChatModel,
    prompter: Arc<Prompter>,
    load: Arc<LoadState>,
    metrics: Arc<Metrics>,
    waiting: VecDeque<Queued>,
    running: Vec<Sequence>,
    kv_reserved: usize,
}

impl Scheduler {
    pub fn new(model: ChatModel, load: Arc<LoadState>, metrics: Arc<Metrics>) -> Self {
        let prompter = model.prompter.clone();
        Self { model, prompter, load, metrics, waiting: VecDeque::new(), running: Vec::new(), kv_reserved: 0 }
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
            self.retire();
            self.admit();
            self.prefill();
            self.decode();
            self.retire();
            self.publish();
        }
    }

    fn publish(&self) {
        let running = self.running.len();
        let kv_used = self.running.iter().map(|s| s.cache.len).sum();
        self.load.running.store(running, Ordering::SeqCst);
        self.load.kv_used.store(kv_used, Ordering::SeqCst);
        self.load.kv_reserved.store(self.kv_reserved, Ordering::SeqCst);
        self.metrics.set_running(running);
        self.metrics.set_waiting(self.load.waiting.load(Ordering::SeqCst));
        self.metrics.set_kv(kv_used, self.kv_reserved, self.load.kv_capacity);
    }

    /// Drops sequences that finished or whose client went away (events channel closed), and waiting requests
    /// whose client went away; frees their KV reservations.
    fn retire(&mut self) {
        for seq in self.running.iter_mut().filter(|s| !s.done && s.out.events.is_closed()) {
            self.metrics.cancelled();
            seq.done = true;
        }
        let before = self.waiting.len();
        self.waiting.retain(|q| !q.events.is_closed());
        for _ in self.waiting.len()..before {
            self.metrics.cancelled();
            self.load.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        self.kv_reserved -= self.running.iter().filter(|s| s.done).map(|s| s.reserved).sum::<usize>();
        self.running.retain(|s| !s.done);
    }

    /// KV positions a request may fill: its prompt and every token it may generate, within the context.
    fn reservation(&self, r: &GenerateRequest) -> usize {
        (r.prompt.len() + r.max_new_tokens).min(self.model.model.max_context)
    }

    /// First come, first served: when the oldest request's reservation does not fit, the ones behind it wait too,
    /// so a large request is not starved by a stream of small ones.
    fn admit(&mut self) {
        while self.running.len() < self.load.max_running {
            let Some(q) = self.waiting.front() else { break };
            let reserved = self.reservation(&q.req);
            if self.kv_reserved + reserved > self.load.kv_capacity {
                break;
            }
            let q = self.waiting.pop_front().expect("front exists");
            self.load.waiting.fetch_sub(1, Ordering::SeqCst);
            self.load.running.fetch_add(1, Ordering::SeqCst);
            self.kv_reserved += reserved;
            let r = q.req;
            self.running.push(Sequence {
                prompt_len: r.prompt.len(),
                tokens: r.prompt,
                max_new: r.max_new_tokens,
                reserved,
                cache: self.model.model.new_cache(reserved),
                sampler: Sampler::new(r.sampling, r.grammar),
                out: Output::new(r.stop, r.tools, r.ignore_eos, q.events),
                enqueued: q.enqueued,
                done: false,
            });
        }
    }

    /// Prefills prompt chunks, oldest sequence first, until `prefill_chunk` tokens are spent (at least one chunk).
    /// Chunks start at multiples of `prefill_chunk` in every prompt, so a prompt is split the same way whatever else
    /// is running. The chunk that completes a prompt yields the sequence's first token.
    fn prefill(&mut self) {
        let budget = self.load.prefill_chunk;
        let mut spent = 0;
        let model = &self.model.model;
        for seq in self.running.iter_mut().filter(|s| !s.done && s.unprefilled() > 0) {
            let n = seq.unprefilled().min(budget);
            if spent > 0 && spent + n > budget {
                break;
            }
            spent += n;
            let start = seq.cache.len;
            let t0 = Instant::now();
            match model.forward(&seq.tokens[start..start + n], &mut seq.cache) {
                Ok(mut logits) => {
                    self.metrics.record_prefill(n, t0.elapsed().as_secs_f64());
                    if seq.unprefilled() == 0 {
                        self.metrics.first_token(seq.enqueued.elapsed().as_secs_f64());
                        sample_next(&self.prompter, model.max_context, seq, &mut logits);
                    }
                }
                Err(e) => seq.fail("prefill", &e),
            }
        }
    }

    /// One decode step for every sequence whose prompt is cached, as one batch.
    fn decode(&mut self) {
        let tokens: Vec<u32> = self.running.iter().filter(|s| s.decoding()).map(|s| *s.tokens.last().expect("prompt")).collect();
        if tokens.is_empty() {
            return;
        }
        let t0 = Instant::now();
        let mut caches: Vec<&mut KvCache> = self.running.iter_mut().filter(|s| s.decoding()).map(|s| &mut s.cache).collect();
        let result = self.model.model.forward_batch(&tokens, &mut caches);
        let decoding = self.running.iter_mut().filter(|s| s.decoding());
        match result {
            Ok(rows) => {
                // Counted before any token goes out, so a client that has its last token sees it in /metrics.
                self.metrics.record_decode(tokens.len(), t0.elapsed().as_secs_f64());
                // Each sequence's grammar mask, draw and detokenization are its own: spread over the cores, which
                // the forward pass has just let go (a mask over a 152k vocabulary can take a millisecond).
                let (prompter, max_context) = (&*self.prompter, self.model.model.max_context);
                let picks: Vec<_> = decoding.zip(rows).collect();
                picks.into_par_iter().for_each(|(seq, mut logits)| sample_next(prompter, max_context, seq, &mut logits));
            }
            Err(e) => decoding.for_each(|seq| seq.fail("decode", &e)),
        }
    }
}

/// The one place a sequence's next token is chosen from its logits (masked by its grammar, if any); then on.
fn sample_next(p: &Prompter, max_context: usize, seq: &mut Sequence, logits: &mut [f32]) {
    match seq.sampler.sample(logits, &seq.tokens) {
        Ok(tok) => on_token(p, max_context, seq, tok),
        Err(e) => seq.fail("sampling", &e),
    }
}

/// Records the token and decides whether the sequence ends: EOS / stop string (via `Output`) or length.
fn on_token(p: &Prompter, max_context: usize, seq: &mut Sequence, tok: u32) {
    seq.tokens.push(tok);
    let usage = Usage { prompt_tokens: seq.prompt_len, completion_tokens: seq.tokens.len() - seq.prompt_len };
    if seq.out.token(p, tok, &usage).is_some() {
        seq.done = true;
        return;
    }
    // The next step feeds `tok`, which needs one more cache slot.
    if usage.completion_tokens >= seq.max_new || seq.cache.len + 1 >= max_context {
        if seq.sampler.structure_incomplete() {
            let _ = seq.out.events.send(Event::StructureIncomplete(usage));
        } else {
            seq.out.finish(p, FinishReason::Length, false, &usage);
        }
        seq.done = true;
    }
}
