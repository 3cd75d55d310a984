//! `fastllm bench`: prefill and single-stream decode throughput of random weights with a real config's shapes;
//! with `--concurrency`, total decode throughput of many streams through the real scheduler (`concurrency`).

pub mod concurrency;

use std::time::Instant;

use candle_core::DType;
use candle_nn::VarBuilder;

use crate::models::{self, llama::LlamaConfig, random, ChatArch, DeviceChoice, DtypeChoice, LlamaModel, ModelFiles, ModelKind};

pub struct BenchConfig {
    pub model_dir: String,
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub device: DeviceChoice,
    pub dtype: DtypeChoice,
}

pub struct BenchResult {
    /// The weights' dtype (on the CPU, bf16 means bf16 weights with f32 compute).
    pub dtype: DType,
    pub params: usize,
    pub weight_bytes: usize,
    pub prefill_tps: f64,
    pub decode_tps: f64,
    /// Tokens per CPU-second (user + system, all threads): comparable when other work shares the cores.
    pub prefill_per_cpu_s: f64,
    pub decode_per_cpu_s: f64,
}

/// This process's CPU time in seconds, from /proc/self/stat (utime + stime); 0 where unavailable.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average (other work sharing the cores), 0 where unavailable.
pub fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// A model folder's config with seeded random weights, as the engine would load it.
pub struct RandomModel {
    pub files: ModelFiles,
    pub arch: ChatArch,
    pub model: LlamaModel,
    pub params: usize,
    pub dtype: DType,
}

pub fn random_model(model_dir: &str, device: DeviceChoice, dtype: DtypeChoice, context: usize) -> anyhow::Result<RandomModel> {
    let files = ModelFiles::open_config_only(model_dir)?;
    let ModelKind::Chat(arch) = files.kind else { anyhow::bail!("bench needs a chat model config") };
    let lc: LlamaConfig = files.parse_config()?;
    let device = models::select_device(device).map_err(anyhow::Error::msg)?;
    let dtype = models::select_dtype(dtype, &device);
    let shapes = lc.tensor_shapes(arch);
    let params: usize = shapes.iter().map(|(_, s)| s.iter().product::<usize>()).sum();
    let tensors = random::random_tensors(&shapes, 0, dtype, &device)?;
    let vb = VarBuilder::from_tensors(tensors, dtype, &device);
    let model = LlamaModel::load(vb, lc, arch, context)?;
    Ok(RandomModel { files, arch, model, params, dtype })
}

pub fn run(cfg: &BenchConfig) -> anyhow::Result<BenchResult> {
    let ctx = cfg.prompt_tokens + cfg.new_tokens + 1;
    let RandomModel { model, params, dtype, .. } = random_model(&cfg.model_dir, cfg.device, cfg.dtype, ctx)?;
    let lc = &model.cfg;
    let prompt: Vec<u32> = (0..cfg.prompt_tokens as u32).map(|i| (i * 7919) % lc.vocab_size as u32).collect();
    // Warm-up pass so allocation and thread-pool start do not count.
    let mut cache = model.new_cache(ctx);
    model.forward(&prompt[..8.min(prompt.len())], &mut cache)?;
    let mut cache = model.new_cache(ctx);
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let logits = model.forward(&prompt, &mut cache)?;
    let (prefill, prefill_cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    let mut tok = crate::engine::sampler::argmax(&logits);
    let (t1, c1) = (Instant::now(), cpu_seconds());
    for _ in 0..cfg.new_tokens {
        let l = model.forward(&[tok], &mut cache)?;
        tok = crate::engine::sampler::argmax(&l);
    }
    let (decode, decode_cpu) = (t1.elapsed().as_secs_f64(), cpu_seconds() - c1);
    // Embedding rows are gathered, not streamed, per token; the LM head is read in full.
    let bytes_per_param = if dtype == DType::F32 { 4 } else { 2 };
    let embed = if lc.tie_word_embeddings { 0 } else { lc.vocab_size * lc.hidden_size };
    Ok(BenchResult {
        dtype,
        params,
        weight_bytes: (params - embed) * bytes_per_param,
        prefill_tps: cfg.prompt_tokens as f64 / prefill,
        decode_tps: cfg.new_tokens as f64 / decode,
        prefill_per_cpu_s: cfg.prompt_tokens as f64 / prefill_cpu.max(0.01),
        decode_per_cpu_s: cfg.new_tokens as f64 / decode_cpu.max(0.01),
    })
}

/// Cores a decode step runs on (candle's and the packed kernel's thread pool): the read-bandwidth ceiling must
/// be measured with as many readers, or a multi-threaded decode "beats" it.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Read bandwidth in GB/s with `threads` readers: each sums its own share of a 512 MiB buffer (far larger than
/// the caches); best of five passes.
pub fn memory_bandwidth_gbs(threads: usize) -> f64 {
    let n: usize = 512 * 1024 * 1024 / 8;
    let buf: Vec<u64> = (0..n as u64).collect();
    let share = n.div_ceil(threads.max(1));
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = Instant::now();
        std::thread::scope(|s| {
            let sums: Vec<_> = buf
                .chunks(share)
                .map(|part| s.spawn(move || part.iter().fold(0u64, |a, &x| a.wrapping_add(x))))
                .collect();
            let total = sums.into_iter().map(|h| h.join().expect("reader thread")).fold(0, u64::wrapping_add);
            std::hint::black_box(total);
        });
        best = best.max((n * 8) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}
