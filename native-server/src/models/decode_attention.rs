//! One decode step's attention for a whole batch on the CPU in f32: every sequence's single query against its own
//! cached K/V, read in place from the cache buffers, instead of ~12 small candle ops per sequence per layer.
//!
//! Work is split over (sequence, KV head): the query heads that share a KV head (grouped-query attention) are
//! handled together, in blocks of up to three heads, so each cached K/V row is loaded once per block, not once
//! per head. Softmax subtracts the row maximum.
//! Each task's sums run in an order that depends only on its own sequence, so a sequence's output does not depend
//! on what it is batched with (batched greedy output equals solo output bit for bit).

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

static CANDLE_OPS: AtomicBool = AtomicBool::new(false);

/// Makes the CPU decode step run the per-sequence candle ops (the GPU path) instead of the fused one, for the whole
/// process: for A/B measurements and the equivalence test, not for serving.
pub fn use_candle_ops(on: bool) {
    CANDLE_OPS.store(on, Ordering::Relaxed);
}

/// Whether the CPU f32 decode step takes the fused path (the default).
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
        // The group's heads together: each K/V row is read once per block of heads, not once per head.
        let mut p = vec![0f32; rep * n];
        (kern.scores)(q, k, d, scale, &mut p);
        for p in p.chunks_exact_mut(n) {
            (kern.softmax)(p);
        }
        (kern.weighted_sum)(&p, v, d, out);
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

/// The three steps of attention for the query heads of one KV head, chosen once per call by the CPU and the head
/// size `d`. With n positions, `q` and `out` hold one row of d per head, `p` one row of n per head.
#[derive(Clone, Copy)]
struct Kernels {
    /// p[h][j] = scale · q_h·k_j for the rows k_j of `k` (n of them, each d long).
    scores: fn(q: &[f32], k: &[f32], d: usize, scale: f32, p: &mut [f32]),
    /// p <- softmax(p) for one head's row, subtracting the maximum first.
    softmax: fn(p: &mut [f32]),
    /// out[h] = Σ_j p[h][j] · v_j for the rows v_j of `v` (n of them, each d long).
    weighted_sum: fn(p: &[f32], v: &[f32], d: usize, out: &mut [f32]),
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

    pub fn scores(q: &[f32], k: &[f32], d: usize, scale: f32, p: &mut [f32]) {
        let n = p.len() / (q.len() / d);
        for (q, p) in q.chunks_exact(d).zip(p.chunks_exact_mut(n)) {
            for (p, kj) in p.iter_mut().zip(k.chunks_exact(d)) {
                *p = dot(q, kj) * scale;
            }
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

    pub fn weighted_sum(p: &[f32], v: &[f32], d: usize, out: &mut [f32]) {
        let n = p.len() / (out.len() / d);
        for (p, out) in p.chunks_exact(n).zip(out.chunks_exact_mut(d)) {
            out.fill(0.0);
            for (&pj, vj) in p.iter().zip(v.chunks_exact(d)) {
                for (o, x) in out.iter_mut().zip(vj) {
                    *o += pj * x;
                }
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
    pub fn scores(q: &[f32], k: &[f32], d: usize, scale: f32, p: &mut [f32]) {
        let heads = q.len() / d;
        let n = p.len() / heads.max(1);
        assert!(d % 8 == 0 && q.len() == heads * d && p.len() == heads * n && k.len() >= n * d);
        if n == 0 {
            return;
        }
        for (h0, hb) in blocks(heads, 3) {
            let (q, p) = (q[h0 * d..].as_ptr(), p[h0 * n..].as_mut_ptr());
            unsafe {
                match hb {
                    1 => scores_avx2::<1>(q, k.as_ptr(), d, n, scale, p),
                    2 => scores_avx2::<2>(q, k.as_ptr(), d, n, scale, p),
                    _ => scores_avx2::<3>(q, k.as_ptr(), d, n, scale, p),
                }
            }
        }
    }
    pub fn softmax(p: &mut [f32]) {
        unsafe { softmax_avx2(p) }
    }
    pub fn weighted_sum(p: &[f32], v: &[f32], d: usize, out: &mut [f32]) {
        let heads = out.len() / d;
        let n = p.len() / heads.max(1);
        assert!(d % 32 == 0 && out.len() == heads * d && p.len() == heads * n && v.len() >= n * d);
        for (h0, hb) in blocks(heads, 3) {
            let (p, out) = (p[h0 * n..].as_ptr(), out[h0 * d..].as_mut_ptr());
            unsafe {
                match hb {
                    1 => weighted_sum_avx2::<1>(p, n, v.as_ptr(), d, out),
                    2 => weighted_sum_avx2::<2>(p, n, v.as_ptr(), d, out),
                    _ => weighted_sum_avx2::<3>(p, n, v.as_ptr(), d, out),
                }
            }
        }
    }

    /// `n` heads in balanced blocks of at most `most` (7 -> 3, 2, 2): (first head, heads).
    fn blocks(n: usize, most: usize) -> impl Iterator<Item = (usize, usize)> {
        let count = n.div_ceil(most);
        let (base, extra) = (n / count.max(1), n % count.max(1));
        (0..count).scan(0, move |start, b| {
            let size = base + usize::from(b < extra);
            let at = *start;
            *start += size;
            Some((at, size))
        })
    }

    /// H heads (rows of d at `q`, scores in rows of n at `p`) against four positions at a time: 4H independent FMA
    /// chains, each K row loaded once for the H heads, then one transposing reduction per head to four scores.
    /// Past the last position the tile repeats it and drops those sums, so every score is summed the same way.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn scores_avx2<const H: usize>(q: *const f32, k: *const f32, d: usize, n: usize, scale: f32, p: *mut f32) {
        let vs = _mm_set1_ps(scale);
        let mut j = 0;
        while j < n {
            let rows: [*const f32; 4] = std::array::from_fn(|i| k.add((j + i).min(n - 1) * d));
            let mut acc = [[_mm256_setzero_ps(); 4]; H];
            let mut c = 0;
            while c < d {
                let kv: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(rows[i].add(c)));
                for h in 0..H {
                    let qv = _mm256_loadu_ps(q.add(h * d + c));
                    for i in 0..4 {
                        acc[h][i] = _mm256_fmadd_ps(qv, kv[i], acc[h][i]);
                    }
                }
                c += 8;
            }
            for h in 0..H {
                let a = &acc[h];
                // Per 128-bit half: ((x0+x1)+(x2+x3)) of positions j..j+4, then the two halves added.
                let s = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
                let s = _mm_mul_ps(_mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)), vs);
                if j + 4 <= n {
                    _mm_storeu_ps(p.add(h * n + j), s);
                } else {
                    let mut lanes = [0f32; 4];
                    _mm_storeu_ps(lanes.as_mut_ptr(), s);
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), p.add(h * n + j), n - j);
                }
            }
            j += 4;
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

    /// H heads (weights in rows of n at `p`, outputs in rows of d at `out`), 32 columns at a time in 4H
    /// accumulators, each V row loaded once for the H heads; each output is one chain of FMAs over j in order.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn weighted_sum_avx2<const H: usize>(p: *const f32, n: usize, v: *const f32, d: usize, out: *mut f32) {
        let mut c = 0;
        while c < d {
            let mut acc = [[_mm256_setzero_ps(); 4]; H];
            for j in 0..n {
                let row = v.add(j * d + c);
                let vv: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(row.add(8 * i)));
                for h in 0..H {
                    let w = _mm256_broadcast_ss(&*p.add(h * n + j));
                    for i in 0..4 {
                        acc[h][i] = _mm256_fmadd_ps(w, vv[i], acc[h][i]);
                    }
                }
            }
            for h in 0..H {
                for i in 0..4 {
                    _mm256_storeu_ps(out.add(h * d + c + 8 * i), acc[h][i]);
                }
            }
            c += 32;
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
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 129] {
            for d in [64, 128] {
                for heads in 1..=8 {
                    let q: Vec<f32> = (0..heads * d).map(|_| lcg(&mut seed)).collect();
                    let rows: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
                    let (mut a, mut b) = (vec![0f32; heads * n], vec![0f32; heads * n]);
                    (k.scores)(&q, &rows, d, 0.125, &mut a);
                    portable::scores(&q, &rows, d, 0.125, &mut b);
                    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "scores, n = {n}, d = {d}, heads = {heads}");
                    // Each head's scores are what that head alone gets (the blocking does not change a sum).
                    for h in 0..heads {
                        let mut alone = vec![0f32; n];
                        (k.scores)(&q[h * d..(h + 1) * d], &rows, d, 0.125, &mut alone);
                        assert_eq!(alone, a[h * n..(h + 1) * n], "scores of head {h} of {heads}, n = {n}");
                    }
                    for (pa, pb) in a.chunks_exact_mut(n).zip(b.chunks_exact_mut(n)) {
                        (k.softmax)(pa);
                        portable::softmax(pb);
                        assert!(pa.iter().zip(&*pb).all(|(x, y)| (x - y).abs() <= 1e-6 * y.max(1e-3)), "softmax, n = {n}");
                    }
                    let (mut oa, mut ob) = (vec![0f32; heads * d], vec![0f32; heads * d]);
                    (k.weighted_sum)(&a, &rows, d, &mut oa);
                    portable::weighted_sum(&b, &rows, d, &mut ob);
                    assert!(oa.iter().zip(&ob).all(|(x, y)| (x - y).abs() < 1e-6), "weighted sum, n = {n}, d = {d}, heads = {heads}");
                    for h in 0..heads {
                        let mut alone = vec![0f32; d];
                        (k.weighted_sum)(&a[h * n..(h + 1) * n], &rows, d, &mut alone);
                        assert_eq!(alone, oa[h * d..(h + 1) * d], "weighted sum of head {h} of {heads}, n = {n}");
                    }
                }
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
