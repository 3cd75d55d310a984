//! The batched decode step against single-sequence runs of the same tiny models: bit-identical logits (every
//! kernel on the decode path sums each row in an order that does not depend on the batch), same greedy tokens.

mod common;

use candle_core::{DType, Device};
use fastllm::engine::sampler::argmax;
use fastllm::engine::ChatModel;
use fastllm::models::{KvCache, LlamaModel, ModelFiles};

fn load(arch: &str) -> LlamaModel {
    let dir = common::tiny_model(arch);
    let files = ModelFiles::open(dir.to_str().unwrap()).unwrap();
    ChatModel::load(files, &Device::Cpu, DType::F32, None).unwrap().model
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
    for arch in ["llama", "qwen2", "mistral"] {
        let m = load(arch);
        let ps = prompts(m.cfg.vocab_size as u32);
        let steps = 12;
        let solo: Vec<_> = ps.iter().map(|p| alone(&m, p, steps)).collect();
        let mut caches: Vec<KvCache> = ps.iter().map(|p| m.new_cache(p.len() + steps)).collect();
        let mut toks: Vec<u32> = ps.iter().zip(caches.iter_mut()).map(|(p, c)| argmax(&m.forward(p, c).unwrap())).collect();
        for step in 0..steps {
            let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
            let rows = m.forward_batch(&toks, &mut refs).unwrap();
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(row, &solo[i].1[step], "{arch}: sequence {i} step {step}: batched logits must be bit-identical to its solo run");
                toks[i] = argmax(row);
                assert_eq!(toks[i], solo[i].0[step + 1], "{arch}: sequence {i} step {step}: greedy token differs");
            }
        }
        assert!(caches.iter().zip(&ps).all(|(c, p)| c.len == p.len() + steps));
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
