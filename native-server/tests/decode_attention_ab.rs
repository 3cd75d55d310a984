//! The fused CPU decode attention (models/decode_attention.rs) against the per-sequence candle ops it replaced, on
//! whole models. Its own test binary: the switch between the two paths is process-wide.

mod common;

use candle_core::{DType, Device};
use fastllm::engine::sampler::argmax;
use fastllm::engine::ChatModel;
use fastllm::models::decode_attention::use_candle_ops;
use fastllm::models::{KvCache, LlamaModel, ModelFiles};

fn load(arch: &str) -> LlamaModel {
    let dir = common::tiny_model(arch);
    let files = ModelFiles::open(dir.to_str().unwrap()).unwrap();
    ChatModel::load(files, &Device::Cpu, DType::F32, None).unwrap().model
}

/// Batched decode steps twice over the same prompts, fused and through candle's ops: same greedy tokens, logits
/// within 1e-4, including past the Mistral fixture's sliding window.
#[test]
fn fused_decode_matches_the_candle_ops() {
    for arch in ["llama", "qwen2", "mistral"] {
        let m = load(arch);
        let vocab = m.cfg.vocab_size as u32;
        // The last prompt runs past the Mistral fixture's 256-position window during the steps.
        let lens = [3, 14, 25, 36, 47, 240];
        let prompts: Vec<Vec<u32>> =
            lens.iter().enumerate().map(|(i, &n)| (0..n as u32).map(|j| (j * 29 + i as u32 * 13 + 1) % vocab).collect()).collect();
        let steps = 40;
        let run = |candle: bool| {
            use_candle_ops(candle);
            let mut caches: Vec<KvCache> = prompts.iter().map(|p| m.new_cache(p.len() + steps)).collect();
            let mut toks: Vec<u32> = prompts.iter().zip(caches.iter_mut()).map(|(p, c)| argmax(&m.forward(p, c).unwrap())).collect();
            let mut out = vec![];
            for _ in 0..steps {
                let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
                let rows = m.forward_batch(&toks, &mut refs).unwrap();
                toks = rows.iter().map(|r| argmax(r)).collect();
                out.push(rows);
            }
            use_candle_ops(false);
            out
        };
        let (fused, candle) = (run(false), run(true));
        for (step, (a, b)) in fused.iter().zip(&candle).enumerate() {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let diff = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
                assert!(diff < 1e-4, "{arch}: sequence {i} step {step}: {diff}");
                assert_eq!(argmax(x), argmax(y), "{arch}: sequence {i} step {step}");
            }
        }
    }
}

/// Throwaway A/B probe of one decode step, fused against candle's ops, alternating in one process on the same
/// caches: `cargo test --release --test decode_attention_ab -- --ignored --nocapture` (PROBE_MODEL, PROBE_ROWS).
#[test]
#[ignore]
fn probe_decode_step() {
    use fastllm::bench::{cpu_seconds, random_model};
    use fastllm::models::{DeviceChoice, DtypeChoice};
    use std::time::Instant;
    let dir = std::env::var("PROBE_MODEL").unwrap_or("../bench/native/qwen2.5-0.5b".into());
    let rows: usize = std::env::var("PROBE_ROWS").map(|s| s.parse().unwrap()).unwrap_or(16);
    let (prompt, rounds, per) = (128, 3, 4);
    let m = random_model(&dir, DeviceChoice::Cpu, DtypeChoice::F32, prompt + 2 * rounds * per + 2).unwrap().model;
    let vocab = m.cfg.vocab_size as u32;
    let mut caches: Vec<KvCache> = (0..rows).map(|_| m.new_cache(m.max_context)).collect();
    for (i, c) in caches.iter_mut().enumerate() {
        let p: Vec<u32> = (0..prompt as u32).map(|j| (j * 7919 + i as u32 * 31) % vocab).collect();
        m.forward(&p, c).unwrap();
    }
    let toks: Vec<u32> = (0..rows as u32).collect();
    for round in 0..rounds {
        for candle in [false, true] {
            use_candle_ops(candle);
            let (t0, c0) = (Instant::now(), cpu_seconds());
            for _ in 0..per {
                let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
                m.forward_batch(&toks, &mut refs).unwrap();
            }
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            let n = (rows * per) as f64;
            let name = if candle { "candle" } else { "fused " };
            println!("round {round} {name} {rows} rows: {:.2} tok/s, {:.2} tok/CPU-s, cache {}", n / wall, n / cpu, caches[0].len);
        }
    }
    use_candle_ops(false);
}
