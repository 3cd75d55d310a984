//! Per-sequence attention cache: one K and one V buffer per layer, shaped (1, kv_heads, capacity, head_dim) and
//! written in place. Capacity doubles when full, up to the sequence's KV reservation, so a decode step copies one
//! token's K/V instead of re-concatenating the whole history.

use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Result, Storage, StorageRef, Tensor};

pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    /// Positions stored (every layer holds the same number once a forward pass completes).
    pub len: usize,
    /// Buffers never grow past this many positions unless a write needs more.
    limit: usize,
}

impl KvCache {
    pub fn new(layers: usize, limit: usize) -> Self {
        Self { layers: (0..layers).map(|_| None).collect(), len: 0, limit }
    }

    /// Writes `k`, `v` (1, kv_heads, t, head_dim) at positions `pos..pos + t` of `layer`; returns views of
    /// positions `0..pos + t`.
    pub fn append(&mut self, layer: usize, pos: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let end = pos + k.dim(2)?;
        let (_, heads, _, dim) = k.dims4()?;
        let (kb, vb) = self.reserve(layer, end, heads, dim, k.dtype(), k.device())?;
        kb.slice_set(&k.contiguous()?, 2, pos)?;
        vb.slice_set(&v.contiguous()?, 2, pos)?;
        Ok((kb.narrow(2, 0, end)?, vb.narrow(2, 0, end)?))
    }

    /// Batched decode on the CPU in f32: writes one position's `k`, `v` (`heads` x `dim`, head-major) at `pos` of
    /// `layer`, in place.
    pub fn write_position(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32], heads: usize, dim: usize) -> Result<()> {
        let (kb, vb) = self.reserve(layer, pos + 1, heads, dim, DType::F32, &Device::Cpu)?;
        kb.inplace_op1(&WritePosition { pos, data: k })?;
        vb.inplace_op1(&WritePosition { pos, data: v })
    }

    /// Read access to `layer`'s K and V buffers in place, for attention on the CPU in f32. Holds their read locks
    /// until dropped.
    pub fn cpu_view(&self, layer: usize) -> Result<CpuKv<'_>> {
        let Some((kb, vb)) = &self.layers[layer] else { candle_core::bail!("layer {layer} has no cached positions") };
        let (_, _, capacity, _) = kb.dims4()?;
        Ok(CpuKv { k: open_f32(kb)?, v: open_f32(vb)?, capacity })
    }

    /// Makes `layer`'s buffers hold at least positions `0..end`, keeping what they hold, and returns them (the
    /// batched decode step on CUDA writes and reads them in place).
    pub fn reserve(&mut self, layer: usize, end: usize, heads: usize, dim: usize, dtype: DType, device: &Device) -> Result<&(Tensor, Tensor)> {
        let slot = &mut self.layers[layer];
        let cap = match slot {
            Some((kb, _)) => kb.dim(2)?,
            None => 0,
        };
        if end > cap {
            let new_cap = end.max(2 * cap).min(self.limit).max(end);
            let grow = |old: Option<&Tensor>| -> Result<Tensor> {
                let buf = Tensor::zeros((1, heads, new_cap, dim), dtype, device)?;
                if let Some(old) = old {
                    buf.slice_set(old, 2, 0)?;
                }
                Ok(buf)
            };
            let old = slot.take();
            *slot = Some((grow(old.as_ref().map(|o| &o.0))?, grow(old.as_ref().map(|o| &o.1))?));
        }
        Ok(slot.as_ref().expect("allocated above"))
    }
}

/// One layer's K and V buffers, (kv_heads, capacity, head_dim) each, read in place.
pub struct CpuKv<'a> {
    k: (StorageRef<'a>, usize),
    v: (StorageRef<'a>, usize),
    pub capacity: usize,
}

impl CpuKv<'_> {
    pub fn k(&self) -> &[f32] {
        f32_from(&self.k)
    }
    pub fn v(&self) -> &[f32] {
        f32_from(&self.v)
    }
}

fn open_f32(t: &Tensor) -> Result<(StorageRef<'_>, usize)> {
    let (storage, layout) = t.storage_and_layout();
    let Some((start, _)) = layout.contiguous_offsets() else { candle_core::bail!("KV buffer is not contiguous") };
    if !matches!(&*storage, Storage::Cpu(CpuStorage::F32(_))) {
        candle_core::bail!("KV buffer is not f32 on the CPU");
    }
    Ok((storage, start))
}

fn f32_from<'a>((storage, start): &'a (StorageRef<'_>, usize)) -> &'a [f32] {
    match &**storage {
        Storage::Cpu(CpuStorage::F32(buf)) => &buf[*start..],
        _ => unreachable!("checked in cpu_view"),
    }
}

/// Copies one position (heads x dim, head-major) into a (1, heads, capacity, dim) f32 buffer.
struct WritePosition<'a> {
    pos: usize,
    data: &'a [f32],
}

impl InplaceOp1 for WritePosition<'_> {
    fn name(&self) -> &'static str {
        "kv-write-position"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (_, heads, cap, dim) = layout.shape().dims4()?;
        let Some((start, _)) = layout.contiguous_offsets() else { candle_core::bail!("KV buffer is not contiguous") };
        let CpuStorage::F32(buf) = storage else { candle_core::bail!("KV buffer is not f32") };
        if self.pos >= cap || self.data.len() != heads * dim {
            candle_core::bail!("position {} of {cap}, {} values for {heads} heads of {dim}", self.pos, self.data.len());
        }
        for (h, src) in self.data.chunks_exact(dim).enumerate() {
            let at = start + (h * cap + self.pos) * dim;
            buf[at..at + dim].copy_from_slice(src);
        }
        Ok(())
    }
}
