//! Models tier: finds a HuggingFace-layout folder, reads its config, loads candle weights. Knows nothing of HTTP
//! or scheduling.

pub mod bert;
#[cfg(feature = "cuda")]
pub mod cuda_decode;
pub mod decode_attention;
pub mod device;
pub mod folder;
pub mod kv_cache;
pub mod llama;
pub mod packed;
pub mod random;
pub mod simd;
pub mod swiglu;

pub use bert::Embedder;
pub use device::{select_device, select_dtype, DeviceChoice, DtypeChoice};
pub use folder::{ModelFiles, ModelKind};
pub use kv_cache::KvCache;
pub use llama::LlamaModel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatArch {
    Llama,
    Mistral,
    Qwen2,
}

impl ChatArch {
    pub fn name(self) -> &'static str {
        match self {
            ChatArch::Llama => "llama",
            ChatArch::Mistral => "mistral",
            ChatArch::Qwen2 => "qwen2",
        }
    }
}

/// A load failure that names the file (and field) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

pub type LoadResult<T> = Result<T, LoadError>;
