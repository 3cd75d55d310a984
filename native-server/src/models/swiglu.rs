//! SwiGLU's elementwise half, silu(gate) * up, as one CPU pass for f32 activations: candle runs it as two ops
//! with a scalar exp (here: the vector exp in `simd`, shared with decode attention), which at 16 decode rows costs about as much as a small projection.
//!
//! Every element goes through the same function whatever its position (the tail is padded to a full vector),
//! so a sequence's result does not depend on what it is batched with.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Shape, Tensor};

/// silu(gate) * up, fused on the CPU in f32; candle's ops elsewhere.
pub fn silu_mul(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if gate.device().is_cpu() && gate.dtype() == candle_core::DType::F32 {
        return gate.apply_op2_no_bwd(up, &SiluMul);
    }
    candle_nn::ops::silu(gate)? * up
}

struct SiluMul;

impl CustomOp2 for SiluMul {
    fn name(&self) -> &'static str {
        "silu-mul"
    }

    fn cpu_fwd(&self, g: &CpuStorage, gl: &Layout, u: &CpuStorage, ul: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        if gl.shape() != ul.shape() {
            bail!("silu-mul: shapes {:?} and {:?} differ", gl.shape(), ul.shape());
        }
        let (Some((g0, g1)), Some((u0, u1))) = (gl.contiguous_offsets(), ul.contiguous_offsets()) else {
            bail!("silu-mul needs contiguous inputs")
        };
        let (g, u) = (&g.as_slice::<f32>()?[g0..g1], &u.as_slice::<f32>()?[u0..u1]);
        let mut y = vec![0f32; g.len()];
        apply(g, u, &mut y);
        Ok((CpuStorage::F32(y), gl.shape().clone()))
    }
}

fn apply(g: &[f32], u: &[f32], y: &mut [f32]) {
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
    use candle_core::Device;

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
            let g = Tensor::new(gv, &dev).unwrap();
            let u = Tensor::randn(0f32, 1.0, n, &dev).unwrap();
            let want: Vec<f32> = (candle_nn::ops::silu(&g).unwrap() * &u).unwrap().to_vec1().unwrap();
            let got: Vec<f32> = silu_mul(&g, &u).unwrap().to_vec1().unwrap();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "n={n} [{i}]: {a} vs {b}");
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        let dev = Device::Cpu;
        let (rows, i) = (5, 13);
        let g = Tensor::randn(0f32, 3.0, (rows, i), &dev).unwrap();
        let u = Tensor::randn(0f32, 1.0, (rows, i), &dev).unwrap();
        let all: Vec<Vec<f32>> = silu_mul(&g, &u).unwrap().to_vec2().unwrap();
        for (r, row) in all.iter().enumerate() {
            let one: Vec<f32> = silu_mul(&g.narrow(0, r, 1).unwrap(), &u.narrow(0, r, 1).unwrap()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(&one, row, "row {r}");
        }
    }
}
