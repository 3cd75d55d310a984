//! Per-sequence attention cache: one K and one V buffer per layer, shaped (1, kv_heads, capacity, head_dim) and
//! written in place. Capacity doubles when full, up to the sequence's KV reservation, so a decode step copies one
//! token's K/V instead of re-concatenating the whole history.

use candle_core::{Result, Tensor};

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
        let slot = &mut self.layers[layer];
        let cap = match slot {
            Some((kb, _)) => kb.dim(2)?,
            None => 0,
        };
        if end > cap {
            let new_cap = end.max(2 * cap).min(self.limit).max(end);
            let grow = |old: Option<&Tensor>, like: &Tensor| -> Result<Tensor> {
                let (_, heads, _, dim) = like.dims4()?;
                let buf = Tensor::zeros((1, heads, new_cap, dim), like.dtype(), like.device())?;
                if let Some(old) = old {
                    buf.slice_set(old, 2, 0)?;
                }
                Ok(buf)
            };
            let old = slot.take();
            *slot = Some((grow(old.as_ref().map(|o| &o.0), k)?, grow(old.as_ref().map(|o| &o.1), v)?));
        }
        let (kb, vb) = slot.as_ref().expect("allocated above");
        kb.slice_set(&k.contiguous()?, 2, pos)?;
        vb.slice_set(&v.contiguous()?, 2, pos)?;
        Ok((kb.narrow(2, 0, end)?, vb.narrow(2, 0, end)?))
    }
}
