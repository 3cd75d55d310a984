//! The batched decode step on CUDA in bf16 (`LlamaModel::forward_batch`): RoPE, the K/V writes and attention of
//! all sequences run as two kernels per layer (cuda_decode.cu), where candle's ops need about a dozen launches per
//! sequence per layer; the residual add and the norm after it are one kernel, SwiGLU's activation another. On a
//! GPU a small model's decode step is bound by kernel launches, not by the GPU (bench/results/native-cuda.md), so
//! a step's launches must not grow with the batch, and each one saved counts.
//!
//! The sequences keep their own KV buffers (`KvCache`, (1, kv_heads, capacity, head_dim) per layer); the kernels
//! reach them through a table of device addresses uploaded once per step (`StepTable`). The logits come back
//! through page-locked memory (`logits_to_host`).

use std::cell::RefCell;

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{result, DevicePtr, LaunchConfig, PinnedHostSlice, PushKernelArg};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::{bail, CpuStorage, CudaStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Storage, Tensor};
use candle_nn::RmsNorm;
use half::bf16;
use rayon::prelude::*;

use super::decode_attention::window_start;
use super::KvCache;

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/cuda_decode.ptx"));
const MODULE: &str = "fastllm_cuda_decode";
/// Threads per attention block: four warps (WARPS in cuda_decode.cu).
const ATTENTION_THREADS: u32 = 128;
/// Threads per row of the residual add and norm (a multiple of 32, at most 1024).
const RMS_NORM_THREADS: u32 = 256;

/// Whether these kernels serve a model: on CUDA, in bf16, with a head size they are built for.
pub fn supported(device: &Device, dtype: DType, head_dim: usize) -> bool {
    device.is_cuda() && dtype == DType::BF16 && matches!(head_dim, 64 | 128)
}

/// The device address of a contiguous CUDA tensor's first element.
fn address<T: CudaDType>(t: &Tensor) -> Result<u64> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cuda(s) = &*storage else { bail!("{:?} tensor is not on a CUDA device", t.dtype()) };
    if !layout.is_contiguous() {
        bail!("the CUDA decode step needs contiguous tensors");
    }
    let stream = s.device().cuda_stream();
    let (ptr, _) = s.as_cuda_slice::<T>()?.device_ptr(&stream);
    Ok(ptr + (layout.start_offset() * std::mem::size_of::<T>()) as u64)
}

/// One decode step's table, in device memory: per layer, each sequence's (K address, V address, capacity); then
/// each sequence's (position written this step, first attended position).
pub struct StepTable {
    /// Keeps the table alive until the step's kernels have been queued.
    _table: Tensor,
    base: u64,
    batch: usize,
    layers: usize,
}

impl StepTable {
    /// Makes every layer's buffers of every cache hold this step's position (`len`), then uploads the table.
    pub fn new(caches: &mut [&mut KvCache], layers: usize, kv_heads: usize, head_dim: usize, window: Option<usize>, device: &Device) -> Result<Self> {
        let batch = caches.len();
        let mut table: Vec<i64> = Vec::with_capacity(batch * (3 * layers + 2));
        for layer in 0..layers {
            for c in caches.iter_mut() {
                let pos = c.len;
                let (k, v) = c.reserve(layer, pos + 1, kv_heads, head_dim, DType::BF16, device)?;
                table.extend([address::<bf16>(k)? as i64, address::<bf16>(v)? as i64, k.dim(2)? as i64]);
            }
        }
        for c in caches.iter() {
            table.extend([c.len as i64, window_start(c.len + 1, window) as i64]);
        }
        let n = table.len();
        let table = Tensor::from_vec(table, n, device)?;
        let base = address::<i64>(&table)?;
        Ok(Self { _table: table, base, batch, layers })
    }

    fn layer(&self, layer: usize) -> u64 {
        self.base + (layer * self.batch * 3 * 8) as u64
    }

    fn positions(&self) -> u64 {
        self.base + (self.layers * self.batch * 3 * 8) as u64
    }

    /// `qkv` (B, (heads + 2 kv_heads) * head_dim), the fused projection without its bias: adds `bias`, rotates q
    /// and k by each sequence's position (`cos`, `sin`: (positions, head_dim / 2)), writes k and v into `layer`'s
    /// cache buffers and returns q (B, heads * head_dim).
    pub fn rope_kv_write(&self, layer: usize, qkv: &Tensor, bias: Option<&Tensor>, cos: &Tensor, sin: &Tensor, heads: usize, kv_heads: usize) -> Result<Tensor> {
        let op = RopeKvWrite {
            bias: bias.map(address::<bf16>).transpose()?.unwrap_or(0),
            cos: address::<bf16>(cos)?,
            sin: address::<bf16>(sin)?,
            kv: self.layer(layer),
            positions: self.positions(),
            heads,
            kv_heads,
        };
        qkv.apply_op1_no_bwd(&op)
    }

    /// Attention of q (B, heads * head_dim) over each sequence's cached positions of `layer`.
    pub fn attend(&self, layer: usize, q: &Tensor, heads: usize, kv_heads: usize) -> Result<Tensor> {
        q.apply_op1_no_bwd(&Attend { kv: self.layer(layer), positions: self.positions(), heads, kv_heads })
    }
}

/// x + y and `norm` of it, both (rows, width): the residual stream and the next layer's input.
pub fn add_rms_norm(x: &Tensor, y: &Tensor, norm: &RmsNorm) -> Result<(Tensor, Tensor)> {
    let op = AddRmsNorm { weight: address::<bf16>(norm.weight())?, eps: norm.eps() as f32 };
    let both = x.apply_op2_no_bwd(y, &op)?;
    Ok((both.get(0)?, both.get(1)?))
}

thread_local! {
    /// Page-locked host memory the logits are copied into (the engine loop is one thread): a copy into pageable
    /// memory goes through the driver's staging buffers at a fraction of the speed.
    static PINNED: RefCell<Option<PinnedHostSlice<bf16>>> = const { RefCell::new(None) };
}

/// bf16 logits (B, vocab) on CUDA as one f32 vector per row: the bf16 values are copied once, into page-locked
/// memory, and widened on the host one row per task (the copy is half that of f32 logits; widening is exact).
pub fn logits_to_host(logits: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (rows, vocab) = logits.dims2()?;
    let n = rows * vocab;
    let src = address::<bf16>(logits)?;
    let Device::Cuda(dev) = logits.device() else { bail!("logits are not on a CUDA device") };
    let stream = dev.cuda_stream();
    PINNED.with_borrow_mut(|pinned| {
        if pinned.as_ref().is_none_or(|p| p.len() < n) {
            let len = n.max(2 * pinned.as_ref().map_or(0, |p| p.len()));
            // Flags 0: cached memory the host reads fast (the default, write-combined, is for host writes).
            *pinned = Some(unsafe { stream.context().alloc_pinned_with_flags::<bf16>(len, 0) }.w()?);
        }
        let buf = pinned.as_mut().expect("allocated above");
        // The buffer may be longer than this step's logits: copy exactly n values into its start.
        let host = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().w()?, n) };
        unsafe { result::memcpy_dtoh_async(host, src, stream.cu_stream()) }.w()?;
        stream.synchronize().w()?;
        Ok(host.par_chunks(vocab).map(|row| row.iter().map(|v| v.to_f32()).collect()).collect())
    })
}

/// silu(gate) * up of the fused projection gu (rows, 2 width) -> (rows, width).
pub fn silu_mul(gu: &Tensor) -> Result<Tensor> {
    gu.apply_op1_no_bwd(&SiluMul)
}

/// The input's rows and width, checked to be contiguous bf16 on CUDA.
fn rows_of<'a>(s: &'a CudaStorage, l: &Layout) -> Result<(usize, usize, candle_core::cuda_backend::cudarc::driver::CudaView<'a, bf16>)> {
    let (rows, width) = l.shape().dims2()?;
    if !l.is_contiguous() {
        bail!("the CUDA decode step needs contiguous tensors");
    }
    Ok((rows, width, s.as_cuda_slice::<bf16>()?.slice(l.start_offset()..)))
}

fn cuda_only(name: &str) -> Result<(CpuStorage, Shape)> {
    bail!("{name} runs on CUDA only")
}

struct RopeKvWrite {
    bias: u64,
    cos: u64,
    sin: u64,
    kv: u64,
    positions: u64,
    heads: usize,
    kv_heads: usize,
}

impl CustomOp1 for RopeKvWrite {
    fn name(&self) -> &'static str {
        "fastllm-rope-kv-write"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cuda_only(self.name())
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (b, width, qkv) = rows_of(s, l)?;
        let all_heads = self.heads + 2 * self.kv_heads;
        if width % all_heads != 0 {
            bail!("q/k/v row of {width} for {all_heads} heads");
        }
        let head_dim = width / all_heads;
        let dev = s.device();
        let out = unsafe { dev.alloc::<bf16>(b * self.heads * head_dim)? };
        let func = dev.get_or_load_custom_func("fastllm_rope_kv_write", MODULE, PTX)?;
        let (heads, kv_heads, hd) = (self.heads as i32, self.kv_heads as i32, head_dim as i32);
        let mut builder = func.builder();
        builder.arg(&qkv).arg(&self.bias).arg(&self.cos).arg(&self.sin).arg(&self.kv).arg(&self.positions);
        builder.arg(&out).arg(&heads).arg(&kv_heads).arg(&hd);
        let cfg = LaunchConfig { grid_dim: (b as u32, all_heads as u32, 1), block_dim: (head_dim as u32 / 2, 1, 1), shared_mem_bytes: 0 };
        unsafe { builder.launch(cfg) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(out, dev.clone()), Shape::from((b, self.heads * head_dim))))
    }
}

struct Attend {
    kv: u64,
    positions: u64,
    heads: usize,
    kv_heads: usize,
}

impl CustomOp1 for Attend {
    fn name(&self) -> &'static str {
        "fastllm-decode-attention"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cuda_only(self.name())
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (b, width, q) = rows_of(s, l)?;
        let head_dim = width / self.heads;
        let kernel = match head_dim {
            64 => "fastllm_decode_attention_64",
            128 => "fastllm_decode_attention_128",
            _ => bail!("no CUDA decode attention for head_dim {head_dim}"),
        };
        let dev = s.device();
        let out = unsafe { dev.alloc::<bf16>(b * width)? };
        let func = dev.get_or_load_custom_func(kernel, MODULE, PTX)?;
        let (heads, kv_heads, scale) = (self.heads as i32, self.kv_heads as i32, 1.0 / (head_dim as f32).sqrt());
        let mut builder = func.builder();
        builder.arg(&q).arg(&self.kv).arg(&self.positions).arg(&out).arg(&heads).arg(&kv_heads).arg(&scale);
        let cfg = LaunchConfig { grid_dim: (b as u32, self.heads as u32, 1), block_dim: (ATTENTION_THREADS, 1, 1), shared_mem_bytes: 0 };
        unsafe { builder.launch(cfg) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(out, dev.clone()), Shape::from((b, width))))
    }
}

struct AddRmsNorm {
    weight: u64,
    eps: f32,
}

impl CustomOp2 for AddRmsNorm {
    fn name(&self) -> &'static str {
        "fastllm-add-rms-norm"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cuda_only(self.name())
    }

    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout, s2: &CudaStorage, l2: &Layout) -> Result<(CudaStorage, Shape)> {
        let ((rows, width, x), (_, _, y)) = (rows_of(s1, l1)?, rows_of(s2, l2)?);
        if l1.shape() != l2.shape() {
            bail!("residual add of {:?} and {:?}", l1.shape(), l2.shape());
        }
        let dev = s1.device();
        let out = unsafe { dev.alloc::<bf16>(2 * rows * width)? };
        let func = dev.get_or_load_custom_func("fastllm_add_rms_norm", MODULE, PTX)?;
        let (r, w) = (rows as i64, width as i32);
        let mut builder = func.builder();
        builder.arg(&x).arg(&y).arg(&self.weight).arg(&out).arg(&r).arg(&w).arg(&self.eps);
        let cfg = LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (RMS_NORM_THREADS, 1, 1), shared_mem_bytes: 0 };
        unsafe { builder.launch(cfg) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(out, dev.clone()), Shape::from((2, rows, width))))
    }
}

struct SiluMul;

impl CustomOp1 for SiluMul {
    fn name(&self) -> &'static str {
        "fastllm-silu-mul"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cuda_only(self.name())
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (rows, width2, gu) = rows_of(s, l)?;
        let width = width2 / 2;
        let dev = s.device();
        let out = unsafe { dev.alloc::<bf16>(rows * width)? };
        let func = dev.get_or_load_custom_func("fastllm_silu_mul", MODULE, PTX)?;
        let (r, w) = (rows as i64, width as i64);
        let mut builder = func.builder();
        builder.arg(&gu).arg(&out).arg(&r).arg(&w);
        unsafe { builder.launch(LaunchConfig::for_num_elems((rows * width) as u32)) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(out, dev.clone()), Shape::from((rows, width))))
    }
}
