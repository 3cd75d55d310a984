//! The CUDA decode step's kernels (models/cuda_decode.rs) against candle's per-sequence ops, on a GPU, in bf16.
//! Built only with the `cuda` feature (scripts/cuda-check.sh builds it; CI has no GPU to run it, so it runs
//! wherever one is lent: bench/native/run-cuda.sh). The kernels' arithmetic is also checked without a GPU, by
//! emulation (tests/cuda_emulation).
//! Its own test binary: the switch between the two paths is process-wide.
#![cfg(feature = "cuda")]

use fastllm::bench::random_model;
use fastllm::engine::sampler::argmax;
use fastllm::models::decode_attention::use_candle_ops;
use fastllm::models::{DeviceChoice, DtypeChoice, KvCache, LlamaModel};

/// Shapes the kernels are built for: head_dim 64 with q/k/v biases (Qwen2), 128 with four query heads per KV
/// head (Llama), and a sliding window that the longest prompt runs past (Mistral).
const CONFIGS: [(&str, &str); 3] = [
    ("qwen2", r#"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 256, "intermediate_size": 512,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000, "rope_theta": 1000000.0,
        "max_position_embeddings": 1024, "tie_word_embeddings": true}"#),
    ("llama", r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 512, "intermediate_size": 1024,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 1000,
        "max_position_embeddings": 1024}"#),
    ("mistral", r#"{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 256, "intermediate_size": 512,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000, "sliding_window": 64,
        "max_position_embeddings": 1024}"#),
];

fn load(name: &str, config: &str, context: usize) -> LlamaModel {
    let dir = std::env::temp_dir().join(format!("fastllm-cuda-decode-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), config).unwrap();
    let model = random_model(dir.to_str().unwrap(), DeviceChoice::Cuda, DtypeChoice::Bf16, context).unwrap().model;
    std::fs::remove_dir_all(&dir).unwrap();
    model
}

/// Rows of (prompt length, seed), the last prompt past the Mistral window: each prompt is prefilled, then `steps`
/// batched decode steps are fed tokens that depend only on the row's seed and the step, whatever the logits say,
/// so every run sees the same inputs. Returns each step's logits per row.
fn decode(m: &LlamaModel, rows: &[(usize, u32)], steps: usize, candle_ops: bool) -> Vec<Vec<Vec<f32>>> {
    use_candle_ops(candle_ops);
    let vocab = m.cfg.vocab_size as u32;
    let mut caches: Vec<KvCache> = rows.iter().map(|&(n, _)| m.new_cache(n + steps)).collect();
    for (c, &(n, seed)) in caches.iter_mut().zip(rows) {
        let prompt: Vec<u32> = (0..n as u32).map(|j| (j * 29 + seed * 13 + 1) % vocab).collect();
        m.forward(&prompt, c).unwrap();
    }
    let mut out = vec![];
    for step in 0..steps as u32 {
        let toks: Vec<u32> = rows.iter().map(|&(_, seed)| (step * 31 + seed * 7 + 5) % vocab).collect();
        let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
        out.push(m.forward_batch(&toks, &mut refs).unwrap());
    }
    use_candle_ops(false);
    out
}

/// Largest |a - b| over the largest |b|: bf16 keeps 8 bits of mantissa, and the two paths round at different
/// places (the kernels compute in f32 and round once; candle rounds after every op).
fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
    let gap = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    gap / b.iter().map(|y| y.abs()).fold(f32::MIN_POSITIVE, f32::max)
}

const ROWS: [(usize, u32); 6] = [(1, 0), (9, 1), (30, 2), (70, 3), (120, 4), (200, 5)];

/// The worst gap and how many rows agree on the greedy token, between two runs' logits.
fn compare(a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>]) -> (f32, usize, usize) {
    let (mut worst, mut same_top, mut total) = (0f32, 0, 0);
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        // NaN compares false: a non-finite logit makes the gap infinite.
        worst = worst.max(if x.iter().all(|v| v.is_finite()) { relative_gap(x, y) } else { f32::INFINITY });
        same_top += usize::from(argmax(x) == argmax(y));
        total += 1;
    }
    (worst, same_top, total)
}

/// Random weights (N(0, 0.02²)) give logits close together, so bf16 rounding alone flips a few greedy picks;
/// a kernel that read the wrong position, head or sequence would differ by the logits' whole range.
#[test]
fn kernels_match_the_candle_ops() {
    let steps = 24;
    for (name, config) in CONFIGS {
        let m = load(name, config, 256);
        let (kernels, candle) = (decode(&m, &ROWS, steps, false), decode(&m, &ROWS, steps, true));
        let (worst, same_top, total) = compare(&kernels, &candle);
        println!("{name}: kernels vs candle ops: largest gap {worst:.4} of the logits' range, same greedy token {same_top}/{total}");
        assert!(worst < 0.1, "{name}: logits differ by {worst} of their range");
        assert!(same_top * 4 >= total * 3, "{name}: the greedy token differs in {} of {total} rows", total - same_top);
    }
}

/// A row decoded in a batch gets what it gets decoded alone: the kernels read only its own cache.
#[test]
fn a_batch_row_matches_the_sequence_alone() {
    let steps = 12;
    for (name, config) in CONFIGS {
        let m = load(name, config, 256);
        let together = decode(&m, &ROWS, steps, false);
        for (i, &row) in ROWS.iter().enumerate() {
            let alone = decode(&m, &[row], steps, false);
            let column: Vec<Vec<Vec<f32>>> = together.iter().map(|step| vec![step[i].clone()]).collect();
            let (worst, same_top, total) = compare(&column, &alone);
            println!("{name}: row {i} batched vs alone: largest gap {worst:.4}, same greedy token {same_top}/{total}");
            assert!(worst < 0.05, "{name}: row {i}: batched differs from alone by {worst} of the range");
        }
    }
}
