//! One decode step's attention for a whole batch on the CPU in f32: every sequence's single query against its own
//! cached K/V, read in place from the cache buffers, instead of ~12 small candle ops per sequence per layer.
//!
//! Work is split over (sequence, KV head): the query heads that share a KV head (grouped-query attention) are
//! handled together, so each cached K/V row is loaded once for all of them. Softmax subtracts the row maximum.
//! Each task's sums run in an order that depends only on its own sequence, so a sequence's output does not depend
//! on what it is batched with (batched greedy output equals solo output bit for bit).

use rayon::prelude::*;

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
    let kern = kernels();
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; q.len()];
    // The query heads of KV group g are heads g*rep..(g+1)*rep, contiguous in a row: one output chunk per task.
    out.par_chunks_mut(rep * d).enumerate().for_each(|(task, out)| {
        let (s, g) = (&seqs[task / kv_heads], task % kv_heads);
        let q = &q[task * rep * d..(task + 1) * rep * d];
        let n = s.end - s.start;
        let base = (g * s.capacity + s.start) * d;
        let (k, v) = (&s.k[base..base + n * d], &s.v[base..base + n * d]);
        // scores[r * n + j]: query head r of the group against position start + j.
        let mut scores = vec![0f32; rep * n];
        for (j, kj) in k.chunks_exact(d).enumerate() {
            for r in 0..rep {
                scores[r * n + j] = (kern.dot)(&q[r * d..(r + 1) * d], kj) * scale;
            }
        }
        for p in scores.chunks_exact_mut(n) {
            let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for x in p.iter_mut() {
                *x = (*x - max).exp();
                sum += *x;
            }
            let inv = 1.0 / sum;
            p.iter_mut().for_each(|x| *x *= inv);
        }
        for (j, vj) in v.chunks_exact(d).enumerate() {
            for (r, o) in out.chunks_exact_mut(d).enumerate() {
                (kern.axpy)(scores[r * n + j], vj, o);
            }
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

/// The two inner loops, chosen once per call by what the CPU supports.
#[derive(Clone, Copy)]
struct Kernels {
    /// Σ a[i]·b[i].
    dot: fn(&[f32], &[f32]) -> f32,
    /// y += a·x.
    axpy: fn(f32, &[f32], &mut [f32]),
}

fn kernels() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return Kernels { dot: avx2::dot, axpy: avx2::axpy };
    }
    Kernels { dot: portable::dot, axpy: portable::axpy }
}

/// Eight independent lanes, which the compiler turns into vector code for whatever the target has.
mod portable {
    const L: usize = 8;

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
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

    pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        for (y, x) in y.iter_mut().zip(x) {
            *y += a * x;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // Safety: chosen only after runtime detection of AVX2 and FMA.
        unsafe { dot_avx2(a, b) }
    }

    pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        // Safety: as above.
        unsafe { axpy_avx2(a, x, y) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), s1);
            i += 16;
        }
        if i + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            i += 8;
        }
        let s = _mm256_add_ps(s0, s1);
        let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
        let mut total = _mm_cvtss_f32(q);
        while i < n {
            total += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        total
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy_avx2(a: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let va = _mm256_set1_ps(a);
        let mut i = 0;
        while i + 8 <= n {
            _mm256_storeu_ps(py.add(i), _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i))));
            i += 8;
        }
        while i < n {
            *py.add(i) += a * *px.add(i);
            i += 1;
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
    fn kernels_agree_with_each_other() {
        let mut seed = 7;
        for n in [1, 7, 8, 15, 16, 17, 64, 100, 128] {
            let a: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let k = kernels();
            for dot in [k.dot, portable::dot] {
                assert!((dot(&a, &b) as f64 - exact).abs() < 1e-5, "dot, n = {n}");
            }
            let (mut y1, mut y2) = (b.clone(), b.clone());
            (k.axpy)(0.37, &a, &mut y1);
            portable::axpy(0.37, &a, &mut y2);
            for (p, q) in y1.iter().zip(&y2) {
                assert!((p - q).abs() < 1e-6, "axpy, n = {n}");
            }
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
