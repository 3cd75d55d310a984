//! Seeded random weights with the real tensor names and shapes of a config.json: test fixtures and benchmarks.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::{bert::bert_tensor_shapes, llama::LlamaConfig, LoadError, LoadResult, ModelFiles, ModelKind};

/// SplitMix64: small, seedable, good enough for fixtures and sampling.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        let u1 = self.next_f32().max(1e-7);
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

/// Norm weights are ones, everything else N(0, 0.02²): logits stay small, like a freshly initialised model.
pub fn random_tensors(
    shapes: &[(String, Vec<usize>)],
    seed: u64,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut rng = Rng::new(seed);
    let mut out = HashMap::new();
    for (name, shape) in shapes {
        let n: usize = shape.iter().product();
        let is_norm = name.contains("norm") || name.contains("LayerNorm");
        let data: Vec<f32> = if is_norm && name.ends_with("weight") {
            vec![1.0; n]
        } else if is_norm {
            vec![0.0; n]
        } else {
            (0..n).map(|_| rng.normal() * 0.02).collect()
        };
        let t = Tensor::from_vec(data, shape.as_slice(), device)?.to_dtype(dtype)?;
        out.insert(name.clone(), t);
    }
    Ok(out)
}

pub fn shapes_for(files: &ModelFiles) -> LoadResult<Vec<(String, Vec<usize>)>> {
    Ok(match files.kind {
        ModelKind::Chat(arch) => files.parse_config::<LlamaConfig>()?.tensor_shapes(arch),
        ModelKind::Embedding => bert_tensor_shapes(&files.parse_config()?),
    })
}

/// Writes `model.safetensors` of seeded random weights for the config.json already in `dir`.
pub fn write_random_weights(dir: &Path, seed: u64) -> LoadResult<()> {
    let files = ModelFiles::open(dir.to_str().ok_or_else(|| LoadError("non-UTF-8 path".into()))?)?;
    let shapes = shapes_for(&files)?;
    let tensors = random_tensors(&shapes, seed, DType::F32, &Device::Cpu).map_err(|e| LoadError(e.to_string()))?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).map_err(|e| LoadError(e.to_string()))
}
