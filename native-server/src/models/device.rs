//! Device and dtype selection: CUDA, then Metal, then CPU.

use candle_core::{DType, Device};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Cuda,
    Metal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DtypeChoice {
    Auto,
    F32,
    Bf16,
    F16,
}

pub fn select_device(choice: DeviceChoice) -> Result<Device, String> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda => {
            if !cfg!(feature = "cuda") {
                return Err("--device cuda: this fastllm was built without the `cuda` cargo feature".into());
            }
            Device::new_cuda(0).map_err(|e| format!("--device cuda: {e}"))
        }
        DeviceChoice::Metal => {
            if !cfg!(feature = "metal") {
                return Err("--device metal: this fastllm was built without the `metal` cargo feature".into());
            }
            Device::new_metal(0).map_err(|e| format!("--device metal: {e}"))
        }
        DeviceChoice::Auto => {
            if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
                if let Ok(d) = Device::new_cuda(0) {
                    return Ok(d);
                }
            }
            if cfg!(feature = "metal") && candle_core::utils::metal_is_available() {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok(d);
                }
            }
            Ok(Device::Cpu)
        }
    }
}

pub fn device_name(d: &Device) -> &'static str {
    match d {
        Device::Cpu => "cpu",
        Device::Cuda(_) => "cuda",
        Device::Metal(_) => "metal",
    }
}

/// bf16 on GPUs. On the CPU, bf16 means bf16 weights with f32 compute (`models/llama.rs`): decode streams half the
/// bytes, and with the AVX2 kernel it measured faster than f32 (bench/results/native.md), so `auto` picks it
/// there; without AVX2 + FMA (not measured) `auto` stays f32.
pub fn select_dtype(choice: DtypeChoice, device: &Device) -> DType {
    match choice {
        DtypeChoice::F32 => DType::F32,
        DtypeChoice::Bf16 => DType::BF16,
        DtypeChoice::F16 => DType::F16,
        DtypeChoice::Auto => match device {
            Device::Cpu if super::simd::avx2_fma() => DType::BF16,
            Device::Cpu => DType::F32,
            _ => DType::BF16,
        },
    }
}

