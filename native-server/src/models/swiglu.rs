//! SwiGLU's elementwise half, silu(gate) * up, on f32 slices: the packed gate/up matmul (`packed::Packed::gate_up`)
//! applies it to each task's columns on the way out. candle runs it as two ops with a scalar exp; here it is one
//! pass with the vector exp in `simd`, shared with decode attention.
//!
//! Every element goes through the same function whatever its position (the tail is padded to a full vector), so a
//! sequence's result does not depend on what it is batched with or on which columns a task holds.

/// y = silu(g) * u, elementwise.
pub fn silu_mul(g: &[f32], u: &[f32], y: &mut [f32]) {
    assert!(g.len() == y.len() && u.len() == y.len(), "silu-mul: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if crate::models::simd::avx2_fma() {
        // Safety: the features were detected.
        return unsafe { avx2::apply(g, u, y) };
    }
    for ((y, &g), &u) in y.iter_mut().zip(g).zip(u) {
        *y = g / (1.0 + (-g).exp()) * u;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::models::simd::avx2::exp;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn apply(g: &[f32], u: &[f32], y: &mut [f32]) {
        let (gc, uc, yc) = (g.chunks_exact(8), u.chunks_exact(8), y.chunks_exact_mut(8));
        let (gr, ur) = (gc.remainder(), uc.remainder());
        for ((g, u), y) in gc.zip(uc).zip(yc) {
            _mm256_storeu_ps(y.as_mut_ptr(), silu_mul8(_mm256_loadu_ps(g.as_ptr()), _mm256_loadu_ps(u.as_ptr())));
        }
        if !gr.is_empty() {
            let (mut gp, mut up, mut yp) = ([0f32; 8], [0f32; 8], [0f32; 8]);
            gp[..gr.len()].copy_from_slice(gr);
            up[..ur.len()].copy_from_slice(ur);
            _mm256_storeu_ps(yp.as_mut_ptr(), silu_mul8(_mm256_loadu_ps(gp.as_ptr()), _mm256_loadu_ps(up.as_ptr())));
            let n = y.len();
            y[n - gr.len()..].copy_from_slice(&yp[..gr.len()]);
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn silu_mul8(g: __m256, u: __m256) -> __m256 {
        // e^-g, kept finite (2^127 at most): past it silu is 0 anyway.
        let e = exp(_mm256_min_ps(_mm256_sub_ps(_mm256_setzero_ps(), g), _mm256_set1_ps(88.0)));
        _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0), e)), u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matches_candles_silu_times_up() {
        let dev = Device::Cpu;
        for n in [1usize, 7, 8, 13, 4864, 3 * 1001] {
            let mut gv: Vec<f32> = Tensor::randn(0f32, 4.0, n, &dev).unwrap().to_vec1().unwrap();
            // Past exp's clamp both ways.
            gv[0] = -100.0;
            if n > 1 {
                gv[1] = 100.0;
            }
            let uv: Vec<f32> = Tensor::randn(0f32, 1.0, n, &dev).unwrap().to_vec1().unwrap();
            let (g, u) = (Tensor::new(gv.as_slice(), &dev).unwrap(), Tensor::new(uv.as_slice(), &dev).unwrap());
            let want: Vec<f32> = (candle_nn::ops::silu(&g).unwrap() * &u).unwrap().to_vec1().unwrap();
            let mut got = vec![0f32; n];
            silu_mul(&gv, &uv, &mut got);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "n={n} [{i}]: {a} vs {b}");
            }
        }
    }

    #[test]
    fn elements_do_not_depend_on_the_slice() {
        let dev = Device::Cpu;
        let n = 37;
        let g: Vec<f32> = Tensor::randn(0f32, 3.0, n, &dev).unwrap().to_vec1().unwrap();
        let u: Vec<f32> = Tensor::randn(0f32, 1.0, n, &dev).unwrap().to_vec1().unwrap();
        let mut all = vec![0f32; n];
        silu_mul(&g, &u, &mut all);
        for (a, b) in [(0, 1), (3, 12), (5, 37), (30, 37)] {
            let mut part = vec![0f32; b - a];
            silu_mul(&g[a..b], &u[a..b], &mut part);
            assert_eq!(part, all[a..b], "{a}..{b}");
        }
    }
}
