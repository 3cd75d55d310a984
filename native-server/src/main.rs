use clap::{Parser, Subcommand};
use fastllm::engine::EngineConfig;
use fastllm::models::{DeviceChoice, DtypeChoice};
use fastllm::server::ServeConfig;

#[derive(Parser)]
#[command(name = "fastllm", version, about = "FastLLM node: OpenAI-compatible inference on candle")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load a model and serve the OpenAI-compatible API.
    Serve {
        /// Chat (or embedding) model: a HuggingFace-layout folder or an HF id present in the local HF cache.
        #[arg(long)]
        model: Option<String>,
        /// The id --model is served as: answers and /v1/models carry it (default: the --model argument as given,
        /// e.g. a folder's path). The argument and the folder's name keep naming the model.
        #[arg(long, requires = "model")]
        served_model_name: Option<String>,
        /// A BERT-family embedding model served beside the chat model.
        #[arg(long)]
        embedding_model: Option<String>,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceChoice,
        #[arg(long, value_enum, default_value = "auto")]
        dtype: DtypeChoice,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Sequences generated at once.
        #[arg(long, default_value_t = 8)]
        max_running: usize,
        /// Requests allowed to wait for a slot; more are refused with 503 + Retry-After.
        #[arg(long, default_value_t = 64)]
        max_waiting: usize,
        /// Cap on the context length (defaults to config.json's max_position_embeddings).
        #[arg(long)]
        max_context: Option<usize>,
        /// KV cache budget in tokens shared by running sequences; each reserves prompt + max new tokens, and a
        /// request that does not fit waits. At least one context; default max-running contexts.
        #[arg(long)]
        kv_cache_tokens: Option<usize>,
        /// Most prompt tokens prefilled per scheduler step, between decode steps of the running streams.
        #[arg(long, default_value_t = fastllm::engine::DEFAULT_PREFILL_CHUNK, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        prefill_chunk: usize,
        /// Testing aid: delay readiness after loading, in milliseconds.
        #[arg(long, default_value_t = 0, hide = true)]
        load_delay_ms: u64,
    },
    /// Measure prefill and decode tokens/s on random weights shaped by a model folder's config.json.
    Bench {
        /// Folder holding config.json.
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 128)]
        prompt_tokens: usize,
        #[arg(long, default_value_t = 256)]
        new_tokens: usize,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceChoice,
        #[arg(long, value_enum, default_value = "auto")]
        dtype: DtypeChoice,
        /// Streams at once, e.g. 1,8,16: total decode tokens/s of each level through the real scheduler.
        #[arg(long, value_delimiter = ',')]
        concurrency: Option<Vec<usize>>,
        /// With --concurrency: sample at this temperature (0: greedy), seeded per stream, as generation does.
        #[arg(long, requires = "concurrency", default_value_t = 0.0)]
        temperature: f32,
        /// With --concurrency and a temperature: nucleus sampling's top_p.
        #[arg(long, requires = "concurrency", default_value_t = 1.0)]
        top_p: f32,
        /// With --concurrency and a temperature: top_k (0: off).
        #[arg(long, requires = "concurrency", default_value_t = 0)]
        top_k: usize,
        /// A/B aid: decode steps on candle's per-sequence ops instead of the fused step (CPU f32, CUDA bf16).
        #[arg(long, hide = true)]
        candle_ops: bool,
    },
}

/// Thread settings for candle's CPU backend, unless the user set them. Without RAYON_NUM_THREADS, candle counts
/// physical cores by parsing /proc/cpuinfo on every matmul. Its elementwise pool (CANDLE_NUM_THREADS) splits ops
/// of 64K+ elements (a decode batch's MLP activations) across workers that spin beside the matmul threads; on a
/// few cores that cost more than it saved (measured on 2 cores: a 16-sequence decode step took ~20% less CPU).
/// Runs first in `main`, before any thread exists.
fn configure_cpu_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", candle_core::utils::get_num_threads().to_string());
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

fn main() {
    configure_cpu_threads();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Cmd::Bench { candle_ops: true, .. } = cli.cmd {
        fastllm::models::decode_attention::use_candle_ops(true);
    }
    let result = match cli.cmd {
        Cmd::Serve {
            model,
            served_model_name,
            embedding_model,
            device,
            dtype,
            host,
            port,
            max_running,
            max_waiting,
            max_context,
            kv_cache_tokens,
            prefill_chunk,
            load_delay_ms,
        } => {
            let cfg = ServeConfig {
                model,
                served_model_name,
                embedding_model,
                device,
                dtype,
                host,
                port,
                engine: EngineConfig { max_running, max_waiting, kv_cache_tokens, prefill_chunk },
                max_context,
                load_delay_ms,
            };
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(fastllm::server::run(cfg)))
        }
        Cmd::Bench { model, prompt_tokens, new_tokens, device, dtype, concurrency: Some(levels), temperature, top_p, top_k, .. } => {
            let sampling = fastllm::engine::SamplingParams { temperature, top_p, top_k, ..Default::default() };
            let cfg = fastllm::bench::concurrency::ConcurrencyConfig { model_dir: model.clone(), prompt_tokens, new_tokens, levels, device, dtype, sampling };
            fastllm::bench::concurrency::run(&cfg).map(|rows| {
                // Ratios against the mean of the single-stream rows (levels may repeat).
                let singles: Vec<_> = rows.iter().filter(|r| r.concurrency == 1).collect();
                let mean = |f: fn(&fastllm::bench::concurrency::LevelResult) -> f64| singles.iter().map(|r| f(r)).sum::<f64>() / singles.len() as f64;
                let (tps1, cpu1) = (mean(|r| r.decode_tps), mean(|r| r.decode_per_cpu_s));
                let ratio = |v: f64, base: f64| if singles.is_empty() { "–".to_string() } else { format!("{:.2}x", v / base) };
                for r in &rows {
                    println!(
                        "| {model} | {} | {prompt_tokens} | {new_tokens} | {:.2} | {} | {:.2} | {} | {:.0}% | {:.1} | {:.2} | {:.1} | {:.2} | {} | {:.2} |",
                        r.concurrency,
                        r.decode_tps,
                        ratio(r.decode_tps, tps1),
                        r.decode_per_cpu_s,
                        ratio(r.decode_per_cpu_s, cpu1),
                        r.cpu_share * 100.0,
                        r.prefill_s,
                        r.end_to_end_tps,
                        r.load_avg,
                        r.all_streams_tps,
                        ratio(r.all_streams_tps, tps1),
                        r.forward_ms
                    );
                }
            })
        }
        Cmd::Bench { model, prompt_tokens, new_tokens, device, dtype, concurrency: None, .. } => {
            let cfg = fastllm::bench::BenchConfig { model_dir: model.clone(), prompt_tokens, new_tokens, device, dtype };
            fastllm::bench::run(&cfg).map(|r| {
                // Decode runs on every core, so its ceiling uses all-core bandwidth; one core's is shown beside it.
                let cores = fastllm::bench::cores();
                let (bw1, bw) = (fastllm::bench::memory_bandwidth_gbs(1), fastllm::bench::memory_bandwidth_gbs(cores));
                let ceiling = bw * 1e9 / r.weight_bytes as f64;
                println!(
                    "| {model} | {:?} | {:.0}M | {prompt_tokens} | {new_tokens} | {:.1} | {:.2} | {:.1} | {:.2} | {:.2} GB | {bw1:.1} GB/s | {bw:.1} GB/s ({cores} threads) | {ceiling:.2} | {:.0}% | {:.1} |",
                    r.dtype,
                    r.params as f64 / 1e6,
                    r.prefill_tps,
                    r.decode_tps,
                    r.prefill_per_cpu_s,
                    r.decode_per_cpu_s,
                    r.weight_bytes as f64 / 1e9,
                    100.0 * r.decode_tps / ceiling,
                    fastllm::bench::load_average()
                );
            })
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
