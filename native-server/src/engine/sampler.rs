//! Turns logits into the next token: grammar mask, penalties, temperature, top-k, top-p, seeded RNG.

use super::grammar::Constraint;
use crate::models::random::Rng;

#[derive(Debug, Clone)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: usize,
    pub seed: Option<u64>,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub repetition_penalty: f32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            seed: None,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            repetition_penalty: 1.0,
        }
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// Counts of generated tokens, for frequency/presence penalties.
    counts: std::collections::HashMap<u32, u32>,
    /// The grammar the output must follow (response_format, forced tool calls), if any.
    constraint: Option<Constraint>,
    /// Scratch for sampling, kept between tokens (a vocabulary's worth is 0.6 MB for Qwen2.5, too much to allocate
    /// per token): every token's weight, and the candidates (token id, weight) that may be drawn.
    weights: Vec<f32>,
    candidates: Vec<(u32, f32)>,
}

fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    t ^ N.fetch_add(0x9E37_79B9, Ordering::Relaxed).rotate_left(17)
}

impl Sampler {
    pub fn new(params: SamplingParams, constraint: Option<Constraint>) -> Self {
        let rng = Rng::new(params.seed.unwrap_or_else(fresh_seed));
        Self { params, rng, counts: Default::default(), constraint, weights: Vec::new(), candidates: Vec::new() }
    }

    /// True when the output follows a grammar that it has not completed yet (cut short, it would not parse).
    pub fn structure_incomplete(&mut self) -> bool {
        self.constraint.as_mut().is_some_and(|c| !c.is_complete())
    }

    /// `context` is prompt plus generated tokens (repetition penalty looks at both, as in transformers).
    /// Fails only when the grammar engine does.
    pub fn sample(&mut self, logits: &mut [f32], context: &[u32]) -> Result<u32, String> {
        if let Some(c) = self.constraint.as_mut() {
            c.mask(logits)?;
        }
        let tok = self.pick(logits, context);
        if let Some(c) = self.constraint.as_mut() {
            c.accept(tok)?;
        }
        Ok(tok)
    }

    fn pick(&mut self, logits: &mut [f32], context: &[u32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            let mut seen = std::collections::HashSet::new();
            for &t in context {
                if seen.insert(t) {
                    if let Some(l) = logits.get_mut(t as usize) {
                        *l = if *l > 0.0 { *l / p.repetition_penalty } else { *l * p.repetition_penalty };
                    }
                }
            }
        }
        if p.frequency_penalty != 0.0 || p.presence_penalty != 0.0 {
            for (&t, &c) in &self.counts {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l -= p.frequency_penalty * c as f32 + p.presence_penalty;
                }
            }
        }
        let tok = if p.temperature <= 1e-5 { argmax(logits) } else { self.sample_random(logits) };
        *self.counts.entry(tok).or_default() += 1;
        tok
    }

    /// A draw from softmax(logits / temperature) restricted to the top-k, then to the top-p nucleus (transformers'
    /// order). Linear in the vocabulary: one vectorized pass weighs every token, and only the few that can be drawn
    /// are ranked (a full sort of Qwen2.5's 152k logits took 5-9 ms per token, as long as a 0.5B model's decode step).
    fn sample_random(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        let best = max_logit(logits);
        if best == f32::NEG_INFINITY {
            return argmax(logits);
        }
        weigh(logits, best, p.temperature, &mut self.weights);
        let w = &self.weights;
        let total: f32 = w.iter().sum();
        let top_k = if p.top_k > 0 && p.top_k < w.len() { p.top_k } else { 0 };
        if top_k == 0 && p.top_p >= 1.0 {
            return draw(w.iter().copied().enumerate().map(|(i, x)| (i as u32, x)), total * self.rng.next_f32());
        }
        // The candidates: every token above a cutoff, lowered until they surely hold the top k (the top k are
        // then among them) or the nucleus (a set of the heaviest tokens holding top_p of the mass contains the
        // smallest one). The best token weighs 1.
        let cands = &mut self.candidates;
        let mut cutoff = 1.0 / 1024.0;
        loop {
            heavier(w, cutoff, cands);
            let enough = if top_k > 0 { cands.len() >= top_k } else { cands.iter().map(|c| c.1).sum::<f32>() >= p.top_p * total };
            if enough || cutoff == 0.0 {
                break;
            }
            cutoff = if cutoff < 1e-30 { 0.0 } else { cutoff / 64.0 };
        }
        let ranked = top_k > 0;
        if ranked {
            if top_k < cands.len() {
                cands.select_nth_unstable_by(top_k - 1, ranking);
                cands.truncate(top_k);
            }
            cands.sort_unstable_by(ranking);
        }
        // top_p applies to the distribution left after top_k, renormalized (as transformers does).
        let kept: f32 = if top_k > 0 { cands.iter().map(|c| c.1).sum() } else { total };
        let len = if p.top_p < 1.0 { nucleus(cands, p.top_p * kept, ranked) } else { cands.len() };
        let mass: f32 = cands[..len].iter().map(|c| c.1).sum();
        draw(cands[..len].iter().copied(), mass * self.rng.next_f32())
    }
}

/// The token where the running sum of weights first passes `r`, or the last weighing anything when rounding
/// leaves `r` at the very end: a token of weight 0 (masked) is never chosen.
fn draw(weights: impl Iterator<Item = (u32, f32)>, r: f32) -> u32 {
    let (mut acc, mut last) = (0.0, 0);
    for (id, x) in weights.filter(|w| w.1 > 0.0) {
        (acc, last) = (acc + x, id);
        if r < acc {
            return id;
        }
    }
    last
}

/// Every token (id, weight) weighing at least `cutoff` and more than 0, found 64 weights at a time (a test that
/// vectorizes) since most blocks of a trained model's vocabulary hold none.
fn heavier(weights: &[f32], cutoff: f32, out: &mut Vec<(u32, f32)>) {
    out.clear();
    for (b, block) in weights.chunks(64).enumerate() {
        if !block.iter().fold(false, |hit, &x| hit | (x >= cutoff && x > 0.0)) {
            continue;
        }
        out.extend(block.iter().enumerate().filter(|(_, &x)| x >= cutoff && x > 0.0).map(|(i, &x)| ((b * 64 + i) as u32, x)));
    }
}

/// weights[i] = e^((logits[i] - best) / temperature): 1 for the best token, exactly 0 for masked (-inf) ones.
fn weigh(logits: &[f32], best: f32, temperature: f32, weights: &mut Vec<f32>) {
    weights.clear();
    weights.resize(logits.len(), 0.0);
    let inv_t = 1.0 / temperature;
    #[cfg(target_arch = "x86_64")]
    if crate::models::simd::avx2_fma() {
        // SAFETY: AVX2 and FMA are present (checked above); the slices have the same length.
        unsafe { weigh_avx2(logits, best, inv_t, weights) };
        return;
    }
    for (w, &l) in weights.iter_mut().zip(logits) {
        *w = weight(l, best, inv_t);
    }
}

/// One token's weight, e^((l - best) / temperature), exactly 0 when masked.
fn weight(l: f32, best: f32, inv_t: f32) -> f32 {
    if l == f32::NEG_INFINITY {
        0.0
    } else {
        ((l - best) * inv_t).exp()
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weigh_avx2(logits: &[f32], best: f32, inv_t: f32, weights: &mut [f32]) {
    use crate::models::simd::avx2::exp;
    use std::arch::x86_64::*;
    let n8 = logits.len() / 8 * 8;
    let (b, t, ninf) = (_mm256_set1_ps(best), _mm256_set1_ps(inv_t), _mm256_set1_ps(f32::NEG_INFINITY));
    for i in (0..n8).step_by(8) {
        let l = _mm256_loadu_ps(logits.as_ptr().add(i));
        let e = exp(_mm256_mul_ps(_mm256_sub_ps(l, b), t));
        // exp clamps its input at -87: a masked token would still weigh ~1e-38, so it is zeroed here.
        let e = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(l, ninf), e);
        _mm256_storeu_ps(weights.as_mut_ptr().add(i), e);
    }
    for i in n8..logits.len() {
        weights[i] = weight(logits[i], best, inv_t);
    }
}

/// Higher first, then the lower token id: the order a full sort of the vocabulary would give.
fn ranking(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// The length of the smallest ranked prefix of `cands` (weights) holding at least `mass`, with that prefix ranked
/// in place. Unless `ranked` already, only a growing top slice is selected and sorted: a trained model's nucleus
/// is a few dozen tokens.
fn nucleus(cands: &mut [(u32, f32)], mass: f32, ranked: bool) -> usize {
    let n = cands.len();
    let mut m = if ranked { n } else { 64.min(n) };
    loop {
        if !ranked {
            if m < n {
                cands.select_nth_unstable_by(m - 1, ranking);
            }
            cands[..m].sort_unstable_by(ranking);
        }
        let mut acc = 0.0;
        for (i, c) in cands[..m].iter().enumerate() {
            acc += c.1;
            if acc >= mass {
                return i + 1;
            }
        }
        if m == n {
            return n;
        }
        m = (m * 8).min(n);
    }
}

/// The first position of the largest logit (NaN never wins; 0 when nothing is larger than -inf).
pub fn argmax(logits: &[f32]) -> u32 {
    // Two passes that vectorize (the maximum, then where it is first) instead of one whose every step depends on
    // the best index so far: 152k logits per token and sequence.
    let max = max_logit(logits);
    // Where, 64 logits at a time (a test without an early exit vectorizes), then inside the block.
    let Some(block) = logits.chunks(64).position(|c| c.iter().fold(false, |hit, &x| hit | (x == max))) else { return 0 };
    (block * 64 + logits[block * 64..].iter().position(|&x| x == max).unwrap_or(0)) as u32
}

/// The largest logit, NaN ignored (-inf for none), in 8 lanes that compile to vector max instructions.
fn max_logit(logits: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = logits.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    lanes.iter().chain(rest).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_max_and_seed_reproduces() {
        let mut s = Sampler::new(SamplingParams { temperature: 0.0, ..Default::default() }, None);
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]).unwrap(), 1);
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplingParams { seed: Some(seed), ..Default::default() }, None);
            (0..20).map(|_| s.sample(&mut logits.clone(), &[]).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    /// Share of each token in `n` seeded draws.
    fn frequencies(params: SamplingParams, logits: &[f32], n: usize) -> Vec<f64> {
        let mut s = Sampler::new(SamplingParams { seed: Some(11), ..params }, None);
        let mut counts = vec![0usize; logits.len()];
        for _ in 0..n {
            counts[s.sample(&mut logits.to_vec(), &[]).unwrap() as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 0.015, "token {i}: drawn {g:.4}, expected {w:.4} ({got:?})");
        }
    }

    #[test]
    fn draws_follow_softmax_with_temperature_top_k_and_top_p() {
        let probs = [0.5f32, 0.3, 0.1, 0.06, 0.04];
        let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
        let n = 40_000;
        assert_close(&frequencies(SamplingParams::default(), &logits, n), &[0.5, 0.3, 0.1, 0.06, 0.04]);
        // Temperature 2 flattens: p^(1/2), renormalized.
        let sq: Vec<f64> = probs.iter().map(|&p| (p as f64).sqrt()).collect();
        let z: f64 = sq.iter().sum();
        let flat: Vec<f64> = sq.iter().map(|x| x / z).collect();
        assert_close(&frequencies(SamplingParams { temperature: 2.0, ..Default::default() }, &logits, n), &flat);
        // top_k 2 keeps 0.5 and 0.3, renormalized.
        assert_close(&frequencies(SamplingParams { top_k: 2, ..Default::default() }, &logits, n), &[0.625, 0.375, 0.0, 0.0, 0.0]);
        // top_p 0.85: the smallest ranked prefix holding 85% is 0.5 + 0.3 + 0.1.
        assert_close(&frequencies(SamplingParams { top_p: 0.85, ..Default::default() }, &logits, n), &[0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9, 0.0, 0.0]);
        // top_p applies after top_k's renormalization: of {0.625, 0.375}, 0.6 keeps the first alone (against the
        // full distribution it would keep two, 0.5 < 0.6), 0.7 both.
        assert_close(&frequencies(SamplingParams { top_k: 2, top_p: 0.6, ..Default::default() }, &logits, n), &[1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_close(&frequencies(SamplingParams { top_k: 2, top_p: 0.7, ..Default::default() }, &logits, n), &[0.625, 0.375, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn top_k_ranks_ties_by_token_id_and_reaches_far_below_the_best() {
        // Equal logits: the top 3 are the three lowest ids.
        assert_close(&frequencies(SamplingParams { top_k: 3, ..Default::default() }, &[0.0; 8], 30_000), &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // The 2nd to 4th best sit 40 nats below the best (weights ~4e-18): top_k still finds them, and the draw
        // stays with the best.
        let mut logits = vec![-100.0f32; 300];
        logits[7] = 0.0;
        for i in [3, 150, 299] {
            logits[i] = -40.0;
        }
        let mut s = Sampler::new(SamplingParams { top_k: 4, top_p: 0.5, seed: Some(2), ..Default::default() }, None);
        assert_eq!(s.sample(&mut logits.clone(), &[]).unwrap(), 7);
        assert_eq!(s.candidates.iter().map(|c| c.0).collect::<Vec<_>>(), vec![7, 3, 150, 299]);
    }

    #[test]
    fn masked_tokens_are_never_drawn_over_a_large_vocabulary() {
        let v = 151_936;
        let mut rng = Rng::new(5);
        let allowed = [17usize, 40_000, 151_935];
        let logits: Vec<f32> = (0..v).map(|i| if allowed.contains(&i) { rng.next_f32() } else { f32::NEG_INFINITY }).collect();
        for params in [SamplingParams::default(), SamplingParams { top_p: 0.9, ..Default::default() }, SamplingParams { top_k: 50, ..Default::default() }] {
            let mut s = Sampler::new(SamplingParams { seed: Some(3), ..params }, None);
            for _ in 0..200 {
                let t = s.sample(&mut logits.clone(), &[]).unwrap() as usize;
                assert!(allowed.contains(&t), "drew masked token {t}");
            }
        }
    }

    #[test]
    fn argmax_is_the_first_largest_whatever_the_length() {
        let mut rng = Rng::new(9);
        for len in [1usize, 7, 8, 9, 63, 64, 65, 130, 1000] {
            for _ in 0..20 {
                // Few distinct values, so the largest repeats.
                let mut xs: Vec<f32> = (0..len).map(|_| (rng.next_f32() * 4.0).floor()).collect();
                if len > 3 {
                    xs[1] = f32::NAN;
                    xs[2] = f32::NEG_INFINITY;
                }
                let naive = (0..len).filter(|&i| !xs[i].is_nan()).fold(None::<usize>, |b, i| match b {
                    Some(b) if xs[i] <= xs[b] => Some(b),
                    _ => Some(i),
                });
                assert_eq!(argmax(&xs) as usize, naive.unwrap_or(0), "{xs:?}");
            }
        }
        assert_eq!(argmax(&[f32::NEG_INFINITY; 5]), 0);
    }

    #[test]
    fn top_k_one_is_greedy_and_penalties_apply() {
        let mut s = Sampler::new(SamplingParams { top_k: 1, seed: Some(1), ..Default::default() }, None);
        assert_eq!(s.sample(&mut [0.0, 5.0, 1.0], &[]).unwrap(), 1);
        // A huge presence penalty on the token just produced moves greedy decoding elsewhere.
        let mut s = Sampler::new(SamplingParams { temperature: 0.0, presence_penalty: 10.0, ..Default::default() }, None);
        assert_eq!(s.sample(&mut [0.0, 5.0, 1.0], &[]).unwrap(), 1);
        assert_eq!(s.sample(&mut [0.0, 5.0, 1.0], &[]).unwrap(), 2);
        let mut s = Sampler::new(SamplingParams { temperature: 0.0, repetition_penalty: 10.0, ..Default::default() }, None);
        assert_eq!(s.sample(&mut [0.0, 5.0, 1.0], &[1]).unwrap(), 2);
    }
}
