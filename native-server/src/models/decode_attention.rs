//! One decode step's attention for a whole batch on the CPU in f32: every sequence's single query against its own
//! cached K/V, read in place from the cache buffers, instead of ~12 small candle ops per sequence per layer.
//!
//! Work is split over (sequence, KV head): the query heads that share a KV head (grouped-query attention) are
//! handled together, so each cached K/V row is loaded once for all of them. Softmax subtracts the row maximum.
//! Each task's sums run in an order that depends only on its own sequence, so a sequence's output does not depend
//! on what it is batched with (batched greedy output equals solo output bit for bit).

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

static CANDLE_OPS: AtomicBool = AtomicBool::new(false);

/// Makes the decode step run candle's per-sequence ops instead of the fused step (on the CPU in f32, this module;
/// on CUDA in bf16, `cuda_decode`), for the whole process: for A/B measurements and the equivalence tests, not for
/// serving.
pub fn use_candle_ops(on: bool) {
    CANDLE_OPS.store(on, Ordering::Relaxed);
}

/// Whether the decode step takes the fused path where there is one (the default).
pub fn fused_enabled() -> bool {
    !CANDLE_OPS.load(Ordering::Relaxed)
}

/// Head counts of one attention layer.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// One sequence's cached keys and values: buffers laid out (kv_heads, capacity, head_dim) as in `KvCache`, of which
/// positions `start..end` are attended (`start > 0` under a sliding window).
pub struct SeqKv<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub capacity: usize,
    pub start: usize,
    pub end: usize,
}

/// The first attended position of a query at position `end - 1` under `window` (Mistral's sliding window).
pub fn window_start(end: usize, window: Option<usize>) -> usize {
    match window {
        Some(w) if end > w => end - w,
        _ => 0,
    }
}

/// q: one row of `heads * head_dim` per sequence (already rotated); returns the attention output in the same
/// layout, softmax(q·kᵀ / sqrt(head_dim))·v per head.
pub fn decode_attention(q: &[f32], seqs: &[SeqKv], h: Heads) -> Vec<f32> {
    let Heads { heads, kv_heads, head_dim: d } = h;
    assert!(kv_heads > 0 && heads % kv_heads == 0, "{heads} query heads over {kv_heads} KV heads");
    assert_eq!(q.len(), seqs.len() * heads * d, "one query row per sequence");
    let rep = heads / kv_heads;
    let kern = kernels(d);
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; q.len()];
    // The query heads of KV group g are heads g*rep..(g+1)*rep, contiguous in a row: one output chunk per task.
    out.par_chunks_mut(rep * d).enumerate().for_each(|(task, out)| {
        let (s, g) = (&seqs[task / kv_heads], task % kv_heads);
        let q = &q[task * rep * d..(task + 1) * rep * d];
        let n = s.end - s.start;
        let base = (g * s.capacity + s.start) * d;
        let (k, v) = (&s.k[base..base + n * d], &s.v[base..base + n * d]);
        // One head at a time: the group's K/V rows stay in cache from one head to the next.
        let mut p = vec![0f32; n];
        for (q, out) in q.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            (kern.scores)(q, k, scale, &mut p);
            (kern.softmax)(&mut p);
            (kern.weighted_sum)(&p, v, out);
        }
    });
    out
}

/// Rotates `x` (rows of `n_heads * head_dim`) in place, row i by the angles `cos`, `sin` hold at row i (each row
/// `head_dim / 2` long), pairing element i with i + head_dim/2 and in the same arithmetic as candle's `rope`.
pub fn rope_rows(x: &mut [f32], n_heads: usize, head_dim: usize, cos: &[f32], sin: &[f32]) {
    let half = head_dim / 2;
    let rows = x.chunks_exact_mut(n_heads * head_dim);
    for (row, (c, s)) in rows.zip(cos.chunks_exact(half).zip(sin.chunks_exact(half))) {
        for head in row.chunks_exact_mut(head_dim) {
            let (a, b) = head.split_at_mut(half);
            for i in 0..half {
                let (x1, x2) = (a[i], b[i]);
                a[i] = x1 * c[i] - x2 * s[i];
                b[i] = x1 * s[i] + x2 * c[i];
            }
        }
    }
}

/// The three steps of one head's attention, chosen once per call by the CPU and the head size.
#[derive(Clone, Copy)]
struct Kernels {
    /// p[j] = scale · q·k_j for the rows k_j of `k` (one per element of p, each q.len() long).
    scores: fn(q: &[f32], k: &[f32], scale: f32, p: &mut [f32]),
    /// p <- softmax(p), subtracting the maximum first.
    softmax: fn(p: &mut [f32]),
    /// out = Σ_j p[j] · v_j for the rows v_j of `v` (one per element of p, each out.len() long).
    weighted_sum: fn(p: &[f32], v: &[f32], out: &mut [f32]),
}

fn kernels(head_dim: usize) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    if head_dim % 64 == 0 && crate::models::simd::avx2_fma() {
        return Kernels { scores: avx2::scores, softmax: avx2::softmax, weighted_sum: avx2::weighted_sum };
    }
    let _ = head_dim;
    Kernels { scores: portable::scores, softmax: portable::softmax, weighted_sum: portable::weighted_sum }
}

/// Plain loops for any head size; the dot product keeps eight independent lanes so that it vectorizes.
mod portable {
    const L: usize = 8;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; L];
        let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
        let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
        for (x, y) in ac.zip(bc) {
            for i in 0..L {
                acc[i] += x[i] * y[i];
            }
        }
        acc.iter().sum::<f32>() + tail
    }

    pub fn scores(q: &[f32], k: &[f32], scale: f32, p: &mut [f32]) {
        for (p, kj) in p.iter_mut().zip(k.chunks_exact(q.len())) {
            *p = dot(q, kj) * scale;
        }
    }

    pub fn softmax(p: &mut [f32]) {
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for x in p.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        p.iter_mut().for_each(|x| *x *= inv);
    }

    pub fn weighted_sum(p: &[f32], v: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for (&pj, vj) in p.iter().zip(v.chunks_exact(out.len())) {
            for (o, x) in out.iter_mut().zip(vj) {
                *o += pj * x;
            }
        }
    }
}

/// AVX2 + FMA, for head sizes that are multiples of 64 (Llama, Mistral and Qwen2 use 64 or 128).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::models::simd::avx2::exp;
    use std::arch::x86_64::*;

    /// The sum of the eight lanes, in a fixed order.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(a: __m256) -> f32 {
        let q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)))
    }

    // Safety of the three wrappers: `kernels` picks them only after detecting AVX2 and FMA at run time, and only
    // for head sizes that are multiples of 64; the inner functions index within the slices they are given.
    pub fn scores(q: &[f32], k: &[f32], scale: f32, p: &mut [f32]) {
        assert!(q.len() % 8 == 0 && k.len() >= p.len() * q.len());
        unsafe { scores_avx2(q, k, scale, p) }
    }
    pub fn softmax(p: &mut [f32]) {
        unsafe { softmax_avx2(p) }
    }
    pub fn weighted_sum(p: &[f32], v: &[f32], out: &mut [f32]) {
        assert!(out.len() % 64 == 0 && v.len() >= p.len() * out.len());
        unsafe { weighted_sum_avx2(p, v, out) }
    }

    /// Eight positions at a time: eight independent FMA chains, then one transposing reduction to eight scores.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn scores_avx2(q: &[f32], k: &[f32], scale: f32, p: &mut [f32]) {
        let (d, n) = (q.len(), p.len());
        let (pq, pk) = (q.as_ptr(), k.as_ptr());
        let vs = _mm256_set1_ps(scale);
        let mut j = 0;
        while j + 8 <= n {
            let mut acc = [_mm256_setzero_ps(); 8];
            let mut c = 0;
            while c < d {
                let qv = _mm256_loadu_ps(pq.add(c));
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(qv, _mm256_loadu_ps(pk.add((j + i) * d + c)), *a);
                }
                c += 8;
            }
            let h0 = _mm256_hadd_ps(acc[0], acc[1]);
            let h1 = _mm256_hadd_ps(acc[2], acc[3]);
            let h2 = _mm256_hadd_ps(acc[4], acc[5]);
            let h3 = _mm256_hadd_ps(acc[6], acc[7]);
            // Per 128-bit half: partial sums of positions j..j+4 (lo) and j+4..j+8 (hi).
            let lo = _mm256_hadd_ps(h0, h1);
            let hi = _mm256_hadd_ps(h2, h3);
            let sums = _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
            _mm256_storeu_ps(p.as_mut_ptr().add(j), _mm256_mul_ps(sums, vs));
            j += 8;
        }
        while j < n {
            let mut a = _mm256_setzero_ps();
            let mut c = 0;
            while c < d {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(pq.add(c)), _mm256_loadu_ps(pk.add(j * d + c)), a);
                c += 8;
            }
            p[j] = hsum(a) * scale;
            j += 1;
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn softmax_avx2(p: &mut [f32]) {
        let (n, ptr) = (p.len(), p.as_mut_ptr());
        let mut j = 0;
        let mut vmax = _mm256_set1_ps(f32::NEG_INFINITY);
        while j + 8 <= n {
            vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(ptr.add(j)));
            j += 8;
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), vmax);
        let max = lanes.iter().chain(&p[j..]).copied().fold(f32::NEG_INFINITY, f32::max);
        let vm = _mm256_set1_ps(max);
        let mut vsum = _mm256_setzero_ps();
        j = 0;
        while j + 8 <= n {
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(ptr.add(j)), vm));
            _mm256_storeu_ps(ptr.add(j), e);
            vsum = _mm256_add_ps(vsum, e);
            j += 8;
        }
        if j < n {
            // The tail through the same exp, padded with -inf (e^-inf clamps to ~0 and is not stored).
            let mut tail = [f32::NEG_INFINITY; 8];
            tail[..n - j].copy_from_slice(&p[j..]);
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(tail.as_ptr()), vm));
            _mm256_storeu_ps(tail.as_mut_ptr(), e);
            p[j..].copy_from_slice(&tail[..n - j]);
            vsum = _mm256_add_ps(vsum, _mm256_loadu_ps(tail.as_ptr()));
        }
        let inv = _mm256_set1_ps(1.0 / hsum(vsum));
        j = 0;
        while j + 8 <= n {
            _mm256_storeu_ps(ptr.add(j), _mm256_mul_ps(_mm256_loadu_ps(ptr.add(j)), inv));
            j += 8;
        }
        let inv = 1.0 / hsum(vsum);
        p[j..].iter_mut().for_each(|x| *x *= inv);
    }

    /// 64 output columns at a time in eight accumulators, streaming the rows of v.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn weighted_sum_avx2(p: &[f32], v: &[f32], out: &mut [f32]) {
        let d = out.len();
        let pv = v.as_ptr();
        let mut c = 0;
        while c < d {
            let mut acc = [_mm256_setzero_ps(); 8];
            for (j, &pj) in p.iter().enumerate() {
                let w = _mm256_set1_ps(pj);
                let row = pv.add(j * d + c);
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(w, _mm256_loadu_ps(row.add(8 * i)), *a);
                }
            }
            for (i, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(c + 8 * i), *a);
            }
            c += 64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn kernels_agree_with_the_portable_ones() {
        let mut seed = 7;
        let k = kernels(64);
        for n in [1, 7, 8, 9, 15, 16, 17, 100, 129] {
            for d in [64, 128] {
                let q: Vec<f32> = (0..d).map(|_| lcg(&mut seed)).collect();
                let rows: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
                let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
                (k.scores)(&q, &rows, 0.125, &mut a);
                portable::scores(&q, &rows, 0.125, &mut b);
                assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "scores, n = {n}, d = {d}");
                (k.softmax)(&mut a);
                portable::softmax(&mut b);
                assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-6 * y.max(1e-3)), "softmax, n = {n}");
                let (mut oa, mut ob) = (vec![0f32; d], vec![0f32; d]);
                (k.weighted_sum)(&a, &rows, &mut oa);
                portable::weighted_sum(&b, &rows, &mut ob);
                assert!(oa.iter().zip(&ob).all(|(x, y)| (x - y).abs() < 1e-6), "weighted sum, n = {n}, d = {d}");
            }
        }
    }

    #[test]
    fn softmax_handles_a_wide_range() {
        let k = kernels(64);
        let mut p: Vec<f32> = (0..37).map(|i| -3.0 * i as f32).collect();
        p.push(100.0);
        let mut want = p.clone();
        (k.softmax)(&mut p);
        portable::softmax(&mut want);
        for (a, b) in p.iter().zip(&want) {
            assert!((a - b).abs() <= 2e-7 * b.max(1e-30) || (a - b).abs() < 1e-37, "{a} vs {b}");
        }
    }

    /// The candle op chain the decode step used before (and GPUs still use): per sequence, the query heads of a
    /// KV head folded into rows, q·kᵀ scaled, softmax over the last dim, times v; the window by narrowing.
    fn reference(q: &[f32], k: &[f32], v: &[f32], cap: usize, start: usize, end: usize, h: Heads) -> Vec<f32> {
        use candle_core::{Device, Tensor};
        let Heads { heads, kv_heads, head_dim: d } = h;
        let dev = Device::Cpu;
        let kt = Tensor::from_slice(k, (1, kv_heads, cap, d), &dev).unwrap().narrow(2, start, end - start).unwrap();
        let vt = Tensor::from_slice(v, (1, kv_heads, cap, d), &dev).unwrap().narrow(2, start, end - start).unwrap();
        let qt = Tensor::from_slice(q, (1, kv_heads, heads / kv_heads, d), &dev).unwrap();
        let att = (qt.matmul(&kt.t().unwrap()).unwrap() * (1.0 / (d as f64).sqrt())).unwrap();
        let att = candle_nn::ops::softmax_last_dim(&att).unwrap();
        att.matmul(&vt.contiguous().unwrap()).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn matches_the_candle_ops_within_1e_5() {
        let mut seed = 42;
        let cases = [(4, 4, 64), (8, 2, 64), (14, 2, 64), (32, 4, 64), (6, 1, 32), (4, 2, 20)];
        for (heads, kv_heads, d) in cases {
            let h = Heads { heads, kv_heads, head_dim: d };
            for window in [None, Some(16)] {
                // Several sequences per call, at different lengths, each in a buffer with spare capacity.
                let ends = [1usize, 2, 15, 16, 17, 64, 129, 300];
                let caps: Vec<usize> = ends.iter().map(|e| e + e / 3 + 1).collect();
                let bufs: Vec<(Vec<f32>, Vec<f32>)> = caps
                    .iter()
                    .map(|&c| {
                        let n = kv_heads * c * d;
                        ((0..n).map(|_| lcg(&mut seed) * 2.0).collect(), (0..n).map(|_| lcg(&mut seed)).collect())
                    })
                    .collect();
                let q: Vec<f32> = (0..ends.len() * heads * d).map(|_| lcg(&mut seed) * 2.0).collect();
                let seqs: Vec<SeqKv> = bufs
                    .iter()
                    .zip(ends.iter().zip(&caps))
                    .map(|((k, v), (&end, &capacity))| SeqKv { k, v, capacity, start: window_start(end, window), end })
                    .collect();
                let got = decode_attention(&q, &seqs, h);
                for (i, s) in seqs.iter().enumerate() {
                    let row = i * heads * d..(i + 1) * heads * d;
                    let want = reference(&q[row.clone()], s.k, s.v, s.capacity, s.start, s.end, h);
                    let diff = got[row].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(diff < 1e-5, "heads {heads}/{kv_heads}, dim {d}, window {window:?}, length {}: {diff}", s.end);
                }
            }
        }
    }

    #[test]
    fn window_start_keeps_the_last_positions() {
        assert_eq!(window_start(10, None), 0);
        assert_eq!(window_start(10, Some(16)), 0);
        assert_eq!(window_start(16, Some(16)), 0);
        assert_eq!(window_start(17, Some(16)), 1);
        assert_eq!(window_start(300, Some(16)), 284);
    }

    #[test]
    fn rope_rows_matches_candle_rope() {
        use candle_core::{Device, Tensor};
        let mut seed = 3;
        let (b, heads, d) = (5, 3, 16);
        let x: Vec<f32> = (0..b * heads * d).map(|_| lcg(&mut seed)).collect();
        let cos: Vec<f32> = (0..b * d / 2).map(|_| lcg(&mut seed)).collect();
        let sin: Vec<f32> = (0..b * d / 2).map(|_| lcg(&mut seed)).collect();
        let mut got = x.clone();
        rope_rows(&mut got, heads, d, &cos, &sin);
        let dev = Device::Cpu;
        let xt = Tensor::from_slice(&x, (b, heads, 1, d), &dev).unwrap();
        let ct = Tensor::from_slice(&cos, (b, 1, d / 2), &dev).unwrap();
        let st = Tensor::from_slice(&sin, (b, 1, d / 2), &dev).unwrap();
        let want: Vec<f32> = candle_nn::rotary_emb::rope(&xt, &ct, &st).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got, want, "same arithmetic: bit-identical");
    }
}
