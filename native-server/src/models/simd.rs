//! CPU vector pieces shared by the kernels (decode attention, SwiGLU, packed matmul): one run-time check for the
//! AVX2 + FMA paths, and the vector exp.

/// Whether this CPU runs the AVX2 + FMA kernels (detected once by std, cheap to ask).
#[cfg(target_arch = "x86_64")]
pub fn avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
pub fn avx2_fma() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    /// e^x for x <= 88 (softmax feeds it x <= 0; SwiGLU clamps), to about 1 ulp: x = n·ln2 + r with
    /// |r| <= ln2/2, e^r by its Taylor series to degree 7 (truncation below 1e-8 relative), times 2^n built in the
    /// exponent bits. Inputs below -87 are clamped (e^-87 ~ 1.6e-38, the smallest normal float's range).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp(x: __m256) -> __m256 {
        let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
        let n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        // ln 2 split in two so that n·ln2 is subtracted without rounding error.
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut e = _mm256_set1_ps(1.0 / 5040.0);
        for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(c));
        }
        let two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        _mm256_mul_ps(e, _mm256_castsi256_ps(two_n))
    }
}
