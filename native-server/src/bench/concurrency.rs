//! `fastllm bench --concurrency 1,8,16`: N streams at once (greedy, or sampled with `--temperature`) through the
//! real scheduler (admission, chunked prefill, batched decode, sampling, detokenization), on random weights with a
//! real config's shapes. All levels run in one process on one loaded model, so their ratios compare like with like.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{cpu_seconds, random_model, RandomModel};
use crate::engine::chat::Prompter;
use crate::engine::template::ChatTemplate;
use crate::engine::{ChatHandle, ChatModel, EngineConfig, Event, GenerateRequest, SamplingParams, DEFAULT_PREFILL_CHUNK};
use crate::metrics::Metrics;
use crate::models::{DeviceChoice, DtypeChoice};

pub struct ConcurrencyConfig {
    pub model_dir: String,
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub levels: Vec<usize>,
    pub device: DeviceChoice,
    pub dtype: DtypeChoice,
    /// Temperature (0: greedy), top_p and top_k of every stream; each stream gets its own seed.
    pub sampling: SamplingParams,
}

/// One level. The decode window runs from the moment every stream has its first token (all prompts prefilled)
/// to the last stream's end, so it holds only batched decode steps. Prompts are prefilled a chunk budget at a time
/// while the streams admitted first already decode, so those streams also end first: the last steps of the window
/// run fewer than `concurrency` rows.
pub struct LevelResult {
    pub concurrency: usize,
    /// Tokens generated in the decode window / its wall time.
    pub decode_tps: f64,
    /// The same up to the first stream's end: only steps in which all `concurrency` streams decode.
    pub all_streams_tps: f64,
    /// Tokens generated in the decode window / this process's CPU time in it: steadier when the cores are shared.
    pub decode_per_cpu_s: f64,
    /// This process's CPU time / (wall time x cores) in the decode window: below 1 when other work competes.
    pub cpu_share: f64,
    /// Seconds spent prefilling the prompts.
    pub prefill_s: f64,
    /// All generated tokens / wall time from submitting the streams to their end (prefill included).
    pub end_to_end_tps: f64,
    /// 1-minute load average when the level ended.
    pub load_avg: f64,
    /// Mean time of a decode step's forward pass (the model, logits copied out) in the window, in ms; the rest of
    /// a step is sampling, detokenization and scheduling.
    pub forward_ms: f64,
}

/// Random weights have no tokenizer: one word per id, so detokenization does real work on every token.
fn synthetic_prompter(vocab: usize) -> anyhow::Result<Prompter> {
    let words: serde_json::Map<String, serde_json::Value> = (0..vocab).map(|i| (format!("w{i}"), json!(i))).collect();
    let spec = json!({"version": "1.0", "model": {"type": "WordLevel", "vocab": words, "unk_token": "w0"}});
    let tokenizer = spec.to_string().parse().map_err(|e| anyhow::anyhow!("synthetic tokenizer: {e}"))?;
    Ok(Prompter {
        tokenizer,
        template: ChatTemplate::new(&json!({})).map_err(anyhow::Error::msg)?,
        eos_ids: Default::default(),
        hidden_ids: Default::default(),
        defaults: SamplingParams::default(),
        grammar: None,
    })
}

/// Waits for the next content event of a stream; false when it ended.
fn next_text(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> anyhow::Result<bool> {
    loop {
        match rx.blocking_recv() {
            Some(Event::Content(_)) => return Ok(true),
            Some(Event::Done { .. }) => return Ok(false),
            Some(Event::Error(e)) => anyhow::bail!("stream failed: {e}"),
            Some(Event::StructureIncomplete(_)) => anyhow::bail!("an unconstrained stream cannot be structurally incomplete"),
            Some(Event::ToolCalls(_)) => {}
            None => anyhow::bail!("the engine dropped a stream"),
        }
    }
}

/// What each stream of a level does.
#[derive(Clone)]
struct Workload {
    prompt_tokens: usize,
    new_tokens: usize,
    vocab: usize,
    sampling: SamplingParams,
}

/// Snapshot of the clocks and counters a level is measured with.
struct Mark {
    at: Instant,
    cpu: f64,
    generated: u64,
    prefill_s: f64,
    decode_s: f64,
    decode_steps: u64,
}

fn mark(metrics: &Metrics) -> Mark {
    let (decode_s, decode_steps) = metrics.decode_seconds_and_steps();
    Mark { at: Instant::now(), cpu: cpu_seconds(), generated: metrics.generated_tokens(), prefill_s: metrics.prefill_seconds(), decode_s, decode_steps }
}

fn run_level(engine: &ChatHandle, metrics: &Metrics, n: usize, w: &Workload) -> anyhow::Result<LevelResult> {
    let start = mark(metrics);
    let mut streams = (0..n)
        .map(|s| {
            let prompt = (0..w.prompt_tokens).map(|j| ((j * 7919 + s * 104_729 + 1) % w.vocab) as u32).collect();
            let sampling = SamplingParams { seed: Some(s as u64), ..w.sampling.clone() };
            let req = GenerateRequest { prompt, max_new_tokens: w.new_tokens, sampling, stop: vec![], ignore_eos: true, tools: false, grammar: None };
            engine.submit(req).map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Every word of the synthetic vocabulary is whole text, so each token is one content event.
    for rx in streams.iter_mut() {
        next_text(rx)?;
    }
    let window = mark(metrics);
    // Stream 0 was admitted and prefilled first, so it is the first to end (streams admitted with it end with it).
    while next_text(&mut streams[0])? {}
    let first_end = mark(metrics);
    for rx in streams.iter_mut().skip(1) {
        while next_text(rx)? {}
    }
    let end = mark(metrics);
    let (wall, cpu) = (end.at.duration_since(window.at).as_secs_f64(), end.cpu - window.cpu);
    let decoded = (end.generated - window.generated) as f64;
    let all_streams_wall = first_end.at.duration_since(window.at).as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    Ok(LevelResult {
        concurrency: n,
        decode_tps: decoded / wall,
        all_streams_tps: (first_end.generated - window.generated) as f64 / all_streams_wall,
        decode_per_cpu_s: decoded / cpu.max(0.01),
        cpu_share: cpu / (wall * cores),
        prefill_s: end.prefill_s - start.prefill_s,
        end_to_end_tps: (end.generated - start.generated) as f64 / end.at.duration_since(start.at).as_secs_f64(),
        load_avg: super::load_average(),
        forward_ms: 1e3 * (end.decode_s - window.decode_s) / (end.decode_steps - window.decode_steps).max(1) as f64,
    })
}

/// Runs the levels in the order given (repeat them, e.g. 1,8,16,1,8,16, to see the spread on a shared machine).
pub fn run(cfg: &ConcurrencyConfig) -> anyhow::Result<Vec<LevelResult>> {
    let most = cfg.levels.iter().copied().max().unwrap_or(1);
    let context = cfg.prompt_tokens + cfg.new_tokens + 1;
    let RandomModel { files, arch, model, .. } = random_model(&cfg.model_dir, cfg.device, cfg.dtype, context)?;
    let vocab = model.cfg.vocab_size;
    let prompter = Arc::new(synthetic_prompter(vocab)?);
    let work = Workload { prompt_tokens: cfg.prompt_tokens, new_tokens: cfg.new_tokens, vocab, sampling: cfg.sampling.clone() };
    let metrics = Arc::new(Metrics::default());
    let engine_cfg = EngineConfig { max_running: most, max_waiting: most, kv_cache_tokens: None, prefill_chunk: DEFAULT_PREFILL_CHUNK };
    let engine = ChatHandle::spawn(ChatModel { model, prompter, files, arch }, &engine_cfg, metrics.clone());
    // Warm-up: thread pools, allocator, first touch of the weights.
    run_level(&engine, &metrics, 1, &Workload { prompt_tokens: 8, new_tokens: 3, ..work.clone() })?;
    cfg.levels.iter().map(|&n| run_level(&engine, &metrics, n, &work)).collect()
}
