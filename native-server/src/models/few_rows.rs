//! y = x·Wᵀ for a few activation rows (batched decode) on the CPU, f32 activations against f32 or bf16 weights
//! (bf16 is widened to f32 in registers, so bf16 storage halves the bytes streamed per token and computes in f32).
//! candle's gemm is built for tall
//! operands: with a handful of rows its AVX2 microkernel broadcasts one weight scalar per multiply-add, so 8 rows
//! cost nearly as much as 16. Here each block of weight rows is streamed from memory once and dotted with every
//! activation row while it sits in cache, SIMD along the shared dimension. Every output is summed in the same
//! order whatever the number of rows, so a sequence's logits do not depend on what it is batched with.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Shape, Tensor};
use half::bf16;
use rayon::prelude::*;

/// Weight rows x activation rows per register tile: 12 accumulators, 3 weight and 1 activation registers fill
/// the 16 AVX2 registers without spilling (7 loads per 12 multiply-adds).
const W_TILE: usize = 3;
const X_TILE: usize = 4;
/// Weight rows per parallel task: enough work to amortise the hand-off to the thread pool.
const TASK_ROWS: usize = 64;
/// Activation rows per pass over a task's weight rows, for long prefill chunks with bf16 weights: a pass's
/// activations stay in cache while the task's weights (also cached) are swept once per pass.
const ROW_CHUNK: usize = 32;

type Tile = [[f32; X_TILE]; W_TILE];
/// Dots `no` weight rows starting at `w` with `nb` activation rows starting at `x`, each of length `k`.
type TileFn<W> = unsafe fn(w: &[W], x: &[f32], k: usize, no: usize, nb: usize) -> Tile;

/// A weight element the kernel streams: f32, or bf16 (the top half of an f32, widened exactly).
pub trait Weight: Copy + Send + Sync + 'static {
    const BF16: bool;
    fn widen(self) -> f32;
}

impl Weight for f32 {
    const BF16: bool = false;
    fn widen(self) -> f32 {
        self
    }
}

impl Weight for bf16 {
    const BF16: bool = true;
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

/// x (rows, k) · w (out, k)ᵀ -> (rows, out), for f32 activations and f32 or bf16 weights on the CPU.
pub fn few_rows_matmul(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op2_no_bwd(w, &FewRowsMatmul)
}

struct FewRowsMatmul;

impl CustomOp2 for FewRowsMatmul {
    fn name(&self) -> &'static str {
        "few-rows-matmul"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let ((rows, k), (out, wk)) = (xl.shape().dims2()?, wl.shape().dims2()?);
        if k != wk {
            bail!("few-rows-matmul: x is {:?} but w is {:?}", xl.shape(), wl.shape());
        }
        let (Some((x0, x1)), Some((w0, w1))) = (xl.contiguous_offsets(), wl.contiguous_offsets()) else {
            bail!("few-rows-matmul needs contiguous operands")
        };
        let x = &xs.as_slice::<f32>()?[x0..x1];
        let y = match ws {
            CpuStorage::F32(_) => matmul(x, &ws.as_slice::<f32>()?[w0..w1], rows, k, out),
            CpuStorage::BF16(_) => matmul(x, &ws.as_slice::<bf16>()?[w0..w1], rows, k, out),
            _ => bail!("few-rows-matmul: weights must be f32 or bf16"),
        };
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }
}

/// Lets tasks write disjoint columns of the output.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// Safety: `i` is in bounds and no other thread writes it.
    unsafe fn write(&self, i: usize, v: f32) {
        *self.0.add(i) = v;
    }
}

fn matmul<W: Weight>(x: &[f32], w: &[W], rows: usize, k: usize, out: usize) -> Vec<f32> {
    let tile = tile_fn::<W>();
    let mut y = vec![0f32; rows * out];
    let dst = OutPtr(y.as_mut_ptr());
    (0..out.div_ceil(TASK_ROWS)).into_par_iter().for_each(|task| {
        let (start, end) = (task * TASK_ROWS, out.min(task * TASK_ROWS + TASK_ROWS));
        for r0 in (0..rows).step_by(ROW_CHUNK) {
            let r1 = rows.min(r0 + ROW_CHUNK);
            for o in (start..end).step_by(W_TILE) {
                let no = W_TILE.min(end - o);
                for b in (r0..r1).step_by(X_TILE) {
                    let nb = X_TILE.min(r1 - b);
                    // Safety: the slices hold `no` and `nb` full rows; the chosen kernel's CPU features were detected.
                    let sums = unsafe { tile(&w[o * k..(o + no) * k], &x[b * k..(b + nb) * k], k, no, nb) };
                    for (i, row) in sums.iter().enumerate().take(no) {
                        for (j, &s) in row.iter().enumerate().take(nb) {
                            // Safety: this task alone writes columns start..end of every output row.
                            unsafe { dst.write((b + j) * out + o + i, s) };
                        }
                    }
                }
            }
        }
    });
    y
}

fn tile_fn<W: Weight>() -> TileFn<W> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        return avx2::tile::<W>;
    }
    portable_tile::<W>
}

unsafe fn portable_tile<W: Weight>(w: &[W], x: &[f32], k: usize, no: usize, nb: usize) -> Tile {
    let mut out = Tile::default();
    for (i, row) in out.iter_mut().enumerate().take(no) {
        for (j, s) in row.iter_mut().enumerate().take(nb) {
            *s = dot(&w[i * k..(i + 1) * k], &x[j * k..(j + 1) * k]);
        }
    }
    out
}

/// Eight partial sums, combined in a fixed order (vectorises on any SIMD target).
pub(super) fn dot<W: Weight>(a: &[W], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(p, q)| p.widen() * q).sum();
    for (p, q) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += p[l].widen() * q[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use super::{Tile, Weight, W_TILE, X_TILE};
    use std::arch::x86_64::*;

    /// Dispatches to a tile of fixed size, so its accumulators live in registers.
    pub unsafe fn tile<W: Weight>(w: &[W], x: &[f32], k: usize, no: usize, nb: usize) -> Tile {
        debug_assert!(no <= W_TILE && nb <= X_TILE && w.len() >= no * k && x.len() >= nb * k);
        match (no, nb) {
            (3, 4) => fixed::<W, 3, 4>(w, x, k),
            (3, 3) => fixed::<W, 3, 3>(w, x, k),
            (3, 2) => fixed::<W, 3, 2>(w, x, k),
            (3, 1) => fixed::<W, 3, 1>(w, x, k),
            (2, 4) => fixed::<W, 2, 4>(w, x, k),
            (2, 3) => fixed::<W, 2, 3>(w, x, k),
            (2, 2) => fixed::<W, 2, 2>(w, x, k),
            (2, 1) => fixed::<W, 2, 1>(w, x, k),
            (1, 4) => fixed::<W, 1, 4>(w, x, k),
            (1, 3) => fixed::<W, 1, 3>(w, x, k),
            (1, 2) => fixed::<W, 1, 2>(w, x, k),
            _ => fixed::<W, 1, 1>(w, x, k),
        }
    }

    // acc[i][j] pairs weight row i with activation row j; index loops say that more plainly than iterators.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fixed<W: Weight, const NO: usize, const NB: usize>(w: &[W], x: &[f32], k: usize) -> Tile {
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let mut acc = [[_mm256_setzero_ps(); NB]; NO];
        let body = k / 8 * 8;
        for kk in (0..body).step_by(8) {
            if W::BF16 {
                // The next tile's rows follow this tile's in memory: fetch them at the rate this one is consumed
                // (NO x 16 bytes per step). bf16 rows are short streams (1.8 KB for k = 896) that the hardware
                // prefetcher keeps restarting on. Prefetching past the end is harmless.
                _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(NO * k + kk * NO) as *const i8);
            }
            let mut wv = [_mm256_setzero_ps(); NO];
            for (i, v) in wv.iter_mut().enumerate() {
                let p = wp.add(i * k + kk);
                *v = if W::BF16 {
                    // 8 bf16 -> 8 u32 -> shifted into the top half: the exact f32 values.
                    let h = _mm_loadu_si128(p as *const __m128i);
                    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                } else {
                    _mm256_loadu_ps(p as *const f32)
                };
            }
            for j in 0..NB {
                let xv = _mm256_loadu_ps(xp.add(j * k + kk));
                for i in 0..NO {
                    acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
                }
            }
        }
        let mut out = Tile::default();
        for i in 0..NO {
            for j in 0..NB {
                let tail: f32 = (body..k).map(|t| w[i * k + t].widen() * x[j * k + t]).sum();
                out[i][j] = hsum(acc[i][j]) + tail;
            }
        }
        out
    }

    /// The sum of the eight lanes, in a fixed order.
    #[target_feature(enable = "avx2,fma")]
    pub(in crate::models) unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::random::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() - 0.5).collect()
    }

    /// Against an f64 reference of the same (widened) weights; each row alone bit-identical to it in the batch.
    fn check<W: Weight>(of: fn(f32) -> W) {
        let mut rng = Rng::new(3);
        // Shapes with tails in every dimension: k % 8, out % W_TILE, out % TASK_ROWS, rows % X_TILE, and rows
        // past ROW_CHUNK (long prefill chunks).
        for (rows, k, out) in [(1, 64, 64), (5, 13, 7), (16, 896, 131), (7, 100, 200), (32, 40, 10), (70, 24, 67)] {
            let x = random(rows * k, &mut rng);
            let w: Vec<W> = random(out * k, &mut rng).into_iter().map(of).collect();
            let y = matmul(&x, &w, rows, k, out);
            for r in 0..rows {
                for o in 0..out {
                    let exact: f64 = (0..k).map(|t| x[r * k + t] as f64 * w[o * k + t].widen() as f64).sum();
                    assert!((y[r * out + o] as f64 - exact).abs() < 1e-4, "({rows},{k},{out}) [{r},{o}]");
                }
                let alone = matmul(&x[r * k..(r + 1) * k], &w, 1, k, out);
                assert_eq!(alone, y[r * out..(r + 1) * out], "row {r} alone must be bit-identical");
            }
        }
    }

    #[test]
    fn matches_a_reference_and_rows_do_not_depend_on_the_batch() {
        check::<f32>(|v| v);
    }

    #[test]
    fn bf16_weights_match_a_reference_and_rows_do_not_depend_on_the_batch() {
        check::<bf16>(bf16::from_f32);
    }

    #[test]
    fn bf16_weights_compute_what_f32_computes_on_the_rounded_weights() {
        let mut rng = Rng::new(5);
        let (rows, k, out) = (6, 203, 50);
        let x = random(rows * k, &mut rng);
        let w: Vec<bf16> = random(out * k, &mut rng).into_iter().map(bf16::from_f32).collect();
        let wide: Vec<f32> = w.iter().map(|v| v.to_f32()).collect();
        assert_eq!(matmul(&x, &w, rows, k, out), matmul(&x, &wide, rows, k, out));
    }

    #[test]
    fn runs_as_a_candle_op() {
        let dev = candle_core::Device::Cpu;
        let x = Tensor::new(&[[1f32, 2., 3.], [4., 5., 6.]], &dev).unwrap();
        let w = Tensor::new(&[[1f32, 0., 0.], [0., 1., 1.], [1., 1., 1.], [2., 0., -1.]], &dev).unwrap();
        let y = few_rows_matmul(&x, &w).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), x.matmul(&w.t().unwrap()).unwrap().to_vec2::<f32>().unwrap());
        // These weights are exact in bf16.
        let wb = w.to_dtype(candle_core::DType::BF16).unwrap();
        assert_eq!(few_rows_matmul(&x, &wb).unwrap().to_vec2::<f32>().unwrap(), y.to_vec2::<f32>().unwrap());
    }
}
