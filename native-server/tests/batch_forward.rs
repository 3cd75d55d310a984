//! The batched decode step against single-sequence runs of the same tiny models: bit-identical logits (every
//! kernel on the decode path sums each row in an order that does not depend on the batch), same greedy tokens.
//! In f32 and with bf16 weights (f32 compute), which also must track the f32 model.

mod common;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use fastllm::engine::sampler::argmax;
use fastllm::engine::ChatModel;
use fastllm::models::llama::LlamaConfig;
use fastllm::models::{KvCache, LlamaModel, ModelFiles, ModelKind};

/// The tiny model of `arch` (f32 checkpoint) loaded through the real loader with `dtype` weights.
fn load_as(arch: &str, dtype: DType) -> LlamaModel {
    let dir = common::tiny_model(arch);
    let files = ModelFiles::open(dir.to_str().unwrap()).unwrap();
    ChatModel::load(files, &Device::Cpu, dtype, None).unwrap().model
}

fn load(arch: &str) -> LlamaModel {
    load_as(arch, DType::F32)
}

/// Prompts of different lengths, so the sequences of a batch sit at different positions.
fn prompts(vocab: u32) -> Vec<Vec<u32>> {
    (0..6).map(|i| (0..5 + 7 * i).map(|j| (j * 31 + i * 17 + 3) % vocab).collect()).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Greedy decode of one sequence, one `forward_batch` row at a time; returns tokens and every step's logits.
fn alone(m: &LlamaModel, prompt: &[u32], steps: usize) -> (Vec<u32>, Vec<Vec<f32>>) {
    let mut cache = m.new_cache(prompt.len() + steps);
    let mut tok = argmax(&m.forward(prompt, &mut cache).unwrap());
    let (mut toks, mut logits) = (vec![tok], vec![]);
    for _ in 0..steps {
        let l = m.forward_batch(&[tok], &mut [&mut cache]).unwrap().remove(0);
        tok = argmax(&l);
        toks.push(tok);
        logits.push(l);
    }
    (toks, logits)
}

#[test]
fn batched_decode_matches_each_sequence_alone() {
    for (arch, dtype) in ["llama", "qwen2", "mistral"].into_iter().flat_map(|a| [(a, DType::F32), (a, DType::BF16)]) {
        let m = load_as(arch, dtype);
        let ps = prompts(m.cfg.vocab_size as u32);
        let steps = 12;
        let solo: Vec<_> = ps.iter().map(|p| alone(&m, p, steps)).collect();
        let mut caches: Vec<KvCache> = ps.iter().map(|p| m.new_cache(p.len() + steps)).collect();
        let mut toks: Vec<u32> = ps.iter().zip(caches.iter_mut()).map(|(p, c)| argmax(&m.forward(p, c).unwrap())).collect();
        for step in 0..steps {
            let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
            let rows = m.forward_batch(&toks, &mut refs).unwrap();
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(row, &solo[i].1[step], "{arch} {dtype:?}: sequence {i} step {step}: batched logits must be bit-identical to its solo run");
                toks[i] = argmax(row);
                assert_eq!(toks[i], solo[i].0[step + 1], "{arch} {dtype:?}: sequence {i} step {step}: greedy token differs");
            }
        }
        assert!(caches.iter().zip(&ps).all(|(c, p)| c.len == p.len() + steps));
    }
}

/// f16 runs candle's ops on the CPU: the fused q/k/v and gate/up matrices and the per-sequence attention that GPUs
/// take where their kernels do not apply (models/cuda_decode.rs). Fed the same tokens, its batched steps track the
/// f32 model (f16 keeps 11 bits of mantissa).
#[test]
fn candle_ops_in_f16_track_the_f32_model() {
    for arch in ["llama", "qwen2", "mistral"] {
        let (reference, half) = (load(arch), load_as(arch, DType::F16));
        let ps = prompts(reference.cfg.vocab_size as u32);
        let steps = 8;
        let run = |m: &LlamaModel| {
            let mut caches: Vec<KvCache> = ps.iter().map(|p| m.new_cache(p.len() + steps)).collect();
            for (p, c) in ps.iter().zip(caches.iter_mut()) {
                m.forward(p, c).unwrap();
            }
            (0..steps as u32)
                .map(|step| {
                    let toks: Vec<u32> = (0..ps.len() as u32).map(|i| (step * 17 + i * 5 + 2) % m.cfg.vocab_size as u32).collect();
                    let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
                    m.forward_batch(&toks, &mut refs).unwrap()
                })
                .collect::<Vec<_>>()
        };
        let (want, got) = (run(&reference), run(&half));
        let (mut same_top, mut total) = (0, 0);
        for (w, g) in want.iter().flatten().zip(got.iter().flatten()) {
            let range = w.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(max_diff(w, g) < 0.01 * range, "{arch}: f16 logits off by {} of a range {range}", max_diff(w, g));
            same_top += usize::from(argmax(w) == argmax(g));
            total += 1;
        }
        assert!(same_top * 10 >= total * 9, "{arch}: f16 picks another greedy token in {} of {total} rows", total - same_top);
    }
}

#[test]
fn one_row_batch_matches_a_single_token_forward() {
    for arch in ["qwen2", "mistral"] {
        let m = load(arch);
        let p = &prompts(m.cfg.vocab_size as u32)[3];
        let (mut a, mut b) = (m.new_cache(64), m.new_cache(64));
        m.forward(p, &mut a).unwrap();
        m.forward(p, &mut b).unwrap();
        for tok in [7u32, 99, 250, 3] {
            let single = m.forward(&[tok], &mut a).unwrap();
            let batched = m.forward_batch(&[tok], &mut [&mut b]).unwrap().remove(0);
            // On the CPU the decode step's attention is the fused kernel (models/decode_attention.rs), prefill's is
            // candle's: equal up to summation order.
            assert!(max_diff(&single, &batched) < 1e-4, "{arch}");
            assert_eq!(argmax(&single), argmax(&batched), "{arch}");
        }
    }
}

#[test]
fn chunked_prefill_matches_whole_prefill() {
    for arch in ["llama", "mistral"] {
        let m = load(arch);
        let p: Vec<u32> = (0..53u32).map(|j| (j * 13 + 5) % m.cfg.vocab_size as u32).collect();
        let mut whole = m.new_cache(p.len());
        let expected = m.forward(&p, &mut whole).unwrap();
        let mut chunked = m.new_cache(p.len());
        let mut last = vec![];
        for c in p.chunks(8) {
            last = m.forward(c, &mut chunked).unwrap();
        }
        assert_eq!(chunked.len, p.len());
        assert!(max_diff(&last, &expected) < 1e-4, "{arch}");
        assert_eq!(argmax(&last), argmax(&expected));
    }
}

#[test]
fn decode_past_the_sliding_window_matches_prefill() {
    let m = load("mistral");
    let w = m.cfg.window().unwrap();
    let p: Vec<u32> = (0..w as u32 + 20).map(|j| (j * 7 + 1) % m.cfg.vocab_size as u32).collect();
    let mut whole = m.new_cache(p.len());
    let expected = m.forward(&p, &mut whole).unwrap();
    let mut stepped = m.new_cache(p.len());
    let split = w - 10;
    m.forward(&p[..split], &mut stepped).unwrap();
    let mut last = vec![];
    for &t in &p[split..] {
        last = m.forward_batch(&[t], &mut [&mut stepped]).unwrap().remove(0);
    }
    assert!(max_diff(&last, &expected) < 1e-4, "decode must see only the last {w} positions, like the prefill mask");
}

#[test]
fn a_sequence_past_the_context_is_refused() {
    let m = load("llama");
    let mut c = m.new_cache(m.max_context);
    m.forward(&vec![1; m.max_context], &mut c).unwrap();
    assert!(m.forward_batch(&[1], &mut [&mut c]).is_err());
}

/// The same checkpoint with every linear and embedding weight rounded to bf16, loaded as f32.
fn load_rounded_f32(arch: &str) -> LlamaModel {
    let dir = common::tiny_model(arch);
    let files = ModelFiles::open(dir.to_str().unwrap()).unwrap();
    let ModelKind::Chat(chat) = files.kind else { panic!("{arch} is a chat model") };
    let cfg: LlamaConfig = files.parse_config().unwrap();
    let tensors: HashMap<String, Tensor> = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(n, t)| {
            let keep = n.contains("norm") || n.ends_with("bias");
            (n, if keep { t } else { t.to_dtype(DType::BF16).unwrap().to_dtype(DType::F32).unwrap() })
        })
        .collect();
    let context = cfg.max_position_embeddings;
    LlamaModel::load(VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu), cfg, chat, context).unwrap()
}

/// Prefill of `prompt`, then `steps` greedy decode steps; every step's logits.
fn greedy_logits(m: &LlamaModel, prompt: &[u32], steps: usize) -> Vec<Vec<f32>> {
    let mut cache = m.new_cache(prompt.len() + steps);
    let mut out = vec![m.forward(prompt, &mut cache).unwrap()];
    for _ in 0..steps {
        let tok = argmax(out.last().unwrap());
        out.push(m.forward_batch(&[tok], &mut [&mut cache]).unwrap().remove(0));
    }
    out
}

#[test]
fn bf16_weights_compute_exactly_what_f32_computes_on_the_rounded_weights() {
    // Prompts of at most 32 tokens: both run the few-rows kernel, which sums in the same order for both dtypes.
    for arch in ["llama", "qwen2", "mistral"] {
        let (b, r) = (load_as(arch, DType::BF16), load_rounded_f32(arch));
        for p in prompts(b.cfg.vocab_size as u32).iter().take(4) {
            assert_eq!(greedy_logits(&b, p, 6), greedy_logits(&r, p, 6), "{arch}: bf16 storage must only round the weights");
        }
    }
}

#[test]
fn bf16_logits_track_f32_logits() {
    for arch in ["llama", "qwen2", "mistral"] {
        let (b, f) = (load_as(arch, DType::BF16), load(arch));
        // The longest prompt (40 tokens) runs bf16 past 32 rows (row blocks) and f32 through candle's gemm.
        for p in prompts(b.cfg.vocab_size as u32).iter().step_by(2) {
            let (lb, lf) = (greedy_logits(&b, p, 4), greedy_logits(&f, p, 4));
            // Rounding the weights to bf16 (8 significant bits) moves each logit by a fraction of the logits' spread.
            for (step, (x, y)) in lb.iter().zip(&lf).enumerate() {
                let spread = y.iter().map(|v| v * v).sum::<f32>().sqrt() / (y.len() as f32).sqrt();
                let diff = max_diff(x, y);
                assert!(diff < 0.05 * spread + 1e-4, "{arch} step {step}: |bf16 - f32| = {diff}, logits rms {spread}");
            }
        }
    }
}
