//! Decoder-only transformer shared by Llama, Mistral and Qwen2 (RMSNorm, RoPE, grouped-query attention, SwiGLU).
//! The KV cache lives outside the model, one per sequence: `forward` prefills one sequence, `forward_batch` runs
//! one decode step for many sequences at once, so every weight matrix is read once per step, not once per sequence.

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Embedding, Linear, RmsNorm, VarBuilder};
use serde::Deserialize;

use super::decode_attention::{self, decode_attention, rope_rows, window_start, Heads, SeqKv};
use super::packed::{pack, pack_gate_up, PackedWeight};
use super::{ChatArch, KvCache};

#[derive(Debug, Clone, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: Option<String>,
    pub factor: Option<f64>,
    pub low_freq_factor: Option<f64>,
    pub high_freq_factor: Option<f64>,
    pub original_max_position_embeddings: Option<usize>,
}

/// The fields of config.json this family needs; names are HuggingFace's.
#[derive(Debug, Clone, Deserialize)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: Option<usize>,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    pub head_dim: Option<usize>,
    pub rope_scaling: Option<RopeScaling>,
    pub attention_bias: Option<bool>,
    pub sliding_window: Option<usize>,
    /// Qwen2 configs name a window but switch it off with this.
    pub use_sliding_window: Option<bool>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10_000.0
}
fn default_max_pos() -> usize {
    4096
}

impl LlamaConfig {
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }
    /// The attention window, unless config.json switches it off.
    pub fn window(&self) -> Option<usize> {
        self.sliding_window.filter(|_| self.use_sliding_window != Some(false))
    }
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads)
    }
    /// Qwen2 checkpoints carry q/k/v biases without saying so in config.json.
    pub fn qkv_bias(&self, arch: ChatArch) -> bool {
        self.attention_bias.unwrap_or(arch == ChatArch::Qwen2)
    }

    /// Every tensor the model reads, with its shape: the single source of truth for random-weight fixtures.
    pub fn tensor_shapes(&self, arch: ChatArch) -> Vec<(String, Vec<usize>)> {
        let (h, i, hd) = (self.hidden_size, self.intermediate_size, self.head_dim());
        let (q, kv) = (self.num_attention_heads * hd, self.kv_heads() * hd);
        let mut out = vec![
            ("model.embed_tokens.weight".to_string(), vec![self.vocab_size, h]),
            ("model.norm.weight".to_string(), vec![h]),
        ];
        if !self.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![self.vocab_size, h]));
        }
        for l in 0..self.num_hidden_layers {
            let p = format!("model.layers.{l}");
            let mut add = |n: &str, s: Vec<usize>| out.push((format!("{p}.{n}"), s));
            add("input_layernorm.weight", vec![h]);
            add("post_attention_layernorm.weight", vec![h]);
            add("self_attn.q_proj.weight", vec![q, h]);
            add("self_attn.k_proj.weight", vec![kv, h]);
            add("self_attn.v_proj.weight", vec![kv, h]);
            add("self_attn.o_proj.weight", vec![h, q]);
            if self.qkv_bias(arch) {
                add("self_attn.q_proj.bias", vec![q]);
                add("self_attn.k_proj.bias", vec![kv]);
                add("self_attn.v_proj.bias", vec![kv]);
            }
            add("mlp.gate_proj.weight", vec![i, h]);
            add("mlp.up_proj.weight", vec![i, h]);
            add("mlp.down_proj.weight", vec![h, i]);
        }
        out
    }
}

struct Attention {
    /// The q, k and v projections as one matrix of their rows (and biases) in that order: a decode step reads
    /// them in one stream and one call (on the CPU, k and v alone are 2 tasks each, half the kernel's rate; on a
    /// GPU, one launch instead of three).
    qkv: Proj,
    o: Proj,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    sliding_window: Option<usize>,
}

struct Mlp {
    gate_up: GateUp,
    down: Proj,
}

/// SwiGLU's gate and up projections as one matrix: on the CPU, packed so that its product is silu(gate) * up
/// (`Packed::gate_up`); elsewhere candle's linear layer of the gate rows then the up rows, and the activation
/// after it.
enum GateUp {
    Candle(Linear),
    Packed(PackedWeight),
}

struct Layer {
    attn: Attention,
    mlp: Mlp,
    ln1: RmsNorm,
    ln2: RmsNorm,
}

pub struct LlamaModel {
    embed: Embed,
    layers: Vec<Layer>,
    norm: RmsNorm,
    lm_head: Proj,
    cos: Tensor,
    sin: Tensor,
    pub cfg: LlamaConfig,
    pub max_context: usize,
    device: Device,
    /// Activations, norms, biases, RoPE tables and the KV cache. The linear and embedding weights keep the
    /// VarBuilder's dtype: on the CPU, bf16 weights are stored as bf16 and computed in f32 (see `load`).
    dtype: DType,
}

/// A linear layer. On the CPU (f32 activations) its weight is packed at load time for `packed`'s kernel, which
/// serves every row count; elsewhere it is candle's.
enum Proj {
    Candle(Linear),
    Packed { w: PackedWeight, bias: Option<Tensor> },
}

/// The token embedding: candle's, or, when the LM head is tied to it and packed, rows read from the packed head
/// (one copy of the vocabulary matrix, not two).
enum Embed {
    Candle(Embedding),
    FromLmHead,
}

/// `lin` applied to x (.., in) -> (.., out).
fn apply(lin: &Proj, x: &Tensor) -> candle_core::Result<Tensor> {
    match lin {
        Proj::Packed { w, bias: Some(b) } => apply_packed(w, x)?.broadcast_add(b),
        Proj::Packed { w, bias: None } => apply_packed(w, x),
        Proj::Candle(lin) => lin.forward(x),
    }
}

/// A packed weight's product with x (.., in) -> (.., width).
fn apply_packed(w: &PackedWeight, x: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let (&k, lead) = dims.split_last().expect("activations have a feature dimension");
    let rows: usize = lead.iter().product();
    let y = x.reshape((rows, k))?.contiguous()?.apply_op1_no_bwd(w)?;
    let mut shape = lead.to_vec();
    shape.push(w.width());
    y.reshape(shape)
}

/// Whether `weight` is packed: on the CPU, where activations are f32 (`act`).
fn packable(weight: &Tensor, act: DType) -> bool {
    weight.device().is_cpu() && act == DType::F32 && matches!(weight.dtype(), DType::F32 | DType::BF16)
}

/// Packs `weight` where the CPU computes in f32 (`act`), else wraps it for candle.
fn proj(weight: Tensor, bias: Option<Tensor>, act: DType) -> candle_core::Result<Proj> {
    if !packable(&weight, act) {
        return Ok(Proj::Candle(Linear::new(weight, bias)));
    }
    Ok(Proj::Packed { w: pack(&weight)?, bias })
}

/// SwiGLU's gate and up projections of `vb` ("mlp"), each (i, h).
fn gate_up(vb: &VarBuilder, act: DType, h: usize, i: usize) -> candle_core::Result<GateUp> {
    let gate = vb.pp("gate_proj").get((i, h), "weight")?;
    let up = vb.pp("up_proj").get((i, h), "weight")?;
    if !packable(&gate, act) {
        return Ok(GateUp::Candle(Linear::new(Tensor::cat(&[&gate, &up], 0)?, None)));
    }
    Ok(GateUp::Packed(pack_gate_up(&gate, &up)?))
}

impl GateUp {
    /// silu(x·gateᵀ) * (x·upᵀ).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Packed(w) => apply_packed(w, x),
            Self::Candle(w) => {
                let y = w.forward(x)?;
                let i = y.dim(D::Minus1)? / 2;
                candle_nn::ops::silu(&y.narrow(D::Minus1, 0, i)?)? * y.narrow(D::Minus1, i, i)?
            }
        }
    }
}

/// Weight in `vb`'s dtype, bias (if any) in the activation dtype `act`.
fn weights(vb: &VarBuilder, act: DType, name: &str, i: usize, o: usize, bias: bool) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let vb = vb.pp(name);
    let weight = vb.get((o, i), "weight")?;
    let bias = if bias { Some(vb.to_dtype(act).get(o, "bias")?) } else { None };
    Ok((weight, bias))
}

fn linear(vb: &VarBuilder, act: DType, name: &str, i: usize, o: usize, bias: bool) -> candle_core::Result<Proj> {
    let (weight, bias) = weights(vb, act, name, i, o, bias)?;
    proj(weight, bias, act)
}

/// The q, k and v projections of `vb` ("self_attn") as one: `q` and `kv` outputs from `h` inputs.
fn qkv(vb: &VarBuilder, act: DType, h: usize, q: usize, kv: usize, bias: bool) -> candle_core::Result<Proj> {
    let get = |name: &str, o: usize| weights(vb, act, name, h, o, bias);
    let parts = [get("q_proj", q)?, get("k_proj", kv)?, get("v_proj", kv)?];
    let weight = Tensor::cat(&parts.each_ref().map(|p| &p.0), 0)?;
    let bias = parts.iter().map(|p| p.1.as_ref()).collect::<Option<Vec<_>>>().map(|b| Tensor::cat(&b, 0)).transpose()?;
    proj(weight, bias, act)
}

/// Inverse frequencies, with Llama 3's long-context rescaling when config.json asks for it.
fn inv_freq(cfg: &LlamaConfig) -> Vec<f32> {
    let hd = cfg.head_dim();
    let base: Vec<f64> = (0..hd).step_by(2).map(|i| 1.0 / cfg.rope_theta.powf(i as f64 / hd as f64)).collect();
    let Some(rs) = &cfg.rope_scaling else { return base.iter().map(|&x| x as f32).collect() };
    match rs.rope_type.as_deref() {
        Some("llama3") => {
            let factor = rs.factor.unwrap_or(8.0);
            let low = rs.low_freq_factor.unwrap_or(1.0);
            let high = rs.high_freq_factor.unwrap_or(4.0);
            let orig = rs.original_max_position_embeddings.unwrap_or(8192) as f64;
            let (low_wl, high_wl) = (orig / low, orig / high);
            base.iter()
                .map(|&f| {
                    let wl = 2.0 * std::f64::consts::PI / f;
                    let r = if wl < high_wl {
                        f
                    } else if wl > low_wl {
                        f / factor
                    } else {
                        let smooth = (orig / wl - low) / (high - low);
                        (1.0 - smooth) * f / factor + smooth * f
                    };
                    r as f32
                })
                .collect()
        }
        Some("linear") => base.iter().map(|&f| (f / rs.factor.unwrap_or(1.0)) as f32).collect(),
        _ => base.iter().map(|&x| x as f32).collect(),
    }
}

impl LlamaModel {
    pub fn load(vb: VarBuilder, cfg: LlamaConfig, arch: ChatArch, max_context: usize) -> candle_core::Result<Self> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let bias = cfg.qkv_bias(arch);
        let device = vb.device().clone();
        // bf16 on the CPU: weights stay bf16 in memory (half the bytes streamed per decode token; a bf16
        // checkpoint is used as is, an f32 one converted once here) and everything else is f32, because the
        // CPU computes in f32 (`packed` widens the weights in registers). GPUs compute in the
        // VarBuilder's dtype throughout.
        let dtype = if device.is_cpu() && vb.dtype() == DType::BF16 { DType::F32 } else { vb.dtype() };
        let vm = vb.pp("model");
        let embed = candle_nn::embedding(cfg.vocab_size, h, vm.pp("embed_tokens"))?;
        let rms_norm = |vb: VarBuilder| candle_nn::rms_norm(h, cfg.rms_norm_eps, vb.to_dtype(dtype));
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let lv = vm.pp(format!("layers.{l}"));
            let av = lv.pp("self_attn");
            let (q, kv) = (cfg.num_attention_heads * hd, cfg.kv_heads() * hd);
            let attn = Attention {
                qkv: qkv(&av, dtype, h, q, kv, bias)?,
                o: linear(&av, dtype, "o_proj", q, h, false)?,
                heads: cfg.num_attention_heads,
                kv_heads: cfg.kv_heads(),
                head_dim: hd,
                sliding_window: cfg.window(),
            };
            let mv = lv.pp("mlp");
            let mlp = Mlp {
                gate_up: gate_up(&mv, dtype, h, cfg.intermediate_size)?,
                down: linear(&mv, dtype, "down_proj", cfg.intermediate_size, h, false)?,
            };
            let ln1 = rms_norm(lv.pp("input_layernorm"))?;
            let ln2 = rms_norm(lv.pp("post_attention_layernorm"))?;
            layers.push(Layer { attn, mlp, ln1, ln2 });
        }
        let norm = rms_norm(vm.pp("norm"))?;
        let lm_head = match cfg.tie_word_embeddings {
            true => proj(embed.embeddings().clone(), None, dtype)?,
            false => proj(vb.pp("lm_head").get((cfg.vocab_size, h), "weight")?, None, dtype)?,
        };
        let embed = match (&lm_head, cfg.tie_word_embeddings) {
            (Proj::Packed { .. }, true) => Embed::FromLmHead,
            _ => Embed::Candle(embed),
        };
        let freqs = inv_freq(&cfg);
        let n = freqs.len();
        let inv = Tensor::from_vec(freqs, (1, n), &device)?;
        let t = Tensor::arange(0u32, max_context as u32, &device)?.to_dtype(DType::F32)?.reshape((max_context, 1))?;
        let angles = t.matmul(&inv)?;
        let cos = angles.cos()?.to_dtype(dtype)?;
        let sin = angles.sin()?.to_dtype(dtype)?;
        Ok(Self { embed, layers, norm, lm_head, cos, sin, cfg, max_context, device, dtype })
    }

    /// A cache for one sequence that will hold at most `limit` positions (its KV reservation).
    pub fn new_cache(&self, limit: usize) -> KvCache {
        KvCache::new(self.layers.len(), limit.min(self.max_context))
    }

    fn check_context(&self, needed: usize) -> candle_core::Result<()> {
        if needed > self.max_context {
            candle_core::bail!("sequence of {needed} tokens exceeds the context of {}", self.max_context);
        }
        Ok(())
    }

    /// Runs `tokens` at positions cache.len.. and returns the logits of the last position as f32.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> candle_core::Result<Vec<f32>> {
        let (t, pos) = (tokens.len(), cache.len);
        // One token on CUDA: the batched step's kernels serve it, as a batch of one.
        if t == 1 && self.cuda_step() {
            return Ok(self.forward_batch(tokens, &mut [cache])?.swap_remove(0));
        }
        self.check_context(pos + t)?;
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let mask = if t > 1 { Some(self.causal_mask(t, pos)?) } else { None };
        let x = self.run_layers(self.embed(&ids)?, |l, attn, x| {
            let (q, k, v) = attn.project(x, &cos, &sin)?;
            let (k, v) = cache.append(l, pos, &k, &v)?;
            let y = attn.attend(&q, &k, &v, mask.as_ref())?;
            apply(&attn.o, &y.transpose(1, 2)?.reshape((1, t, attn.heads * attn.head_dim))?)
        })?;
        cache.len += t;
        let last = x.narrow(1, t - 1, 1)?;
        let logits = apply(&self.lm_head, &self.norm.forward(&last)?)?;
        logits.squeeze(0)?.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()
    }

    /// One decode step for several sequences: `tokens[i]` goes to position `caches[i].len` of sequence i. The
    /// linear layers, norms and LM head see all sequences as one (B, 1, hidden) batch; attention reads each
    /// sequence's own cache (fused over the batch on the CPU in f32 and on CUDA in bf16, else per sequence with
    /// candle's ops). Returns one row of f32 logits per sequence.
    pub fn forward_batch(&self, tokens: &[u32], caches: &mut [&mut KvCache]) -> candle_core::Result<Vec<Vec<f32>>> {
        let b = tokens.len();
        if b != caches.len() {
            candle_core::bail!("{b} tokens for {} caches", caches.len());
        }
        if b == 0 {
            return Ok(vec![]);
        }
        for c in caches.iter() {
            self.check_context(c.len + 1)?;
        }
        #[cfg(feature = "cuda")]
        if self.cuda_step() {
            return self.decode_cuda(tokens, caches);
        }
        let positions: Vec<u32> = caches.iter().map(|c| c.len as u32).collect();
        let positions = Tensor::new(positions, &self.device)?;
        // Each sequence rotates by its own position: cos/sin rows gathered per sequence, shaped (B, 1, head_dim/2).
        let cos = self.cos.index_select(&positions, 0)?.unsqueeze(1)?;
        let sin = self.sin.index_select(&positions, 0)?.unsqueeze(1)?;
        // On the CPU in f32, RoPE, the K/V writes and attention run fused over the batch (decode_cpu); GPUs and
        // other dtypes keep the candle ops below.
        let fused = match self.device.is_cpu() && self.dtype == DType::F32 && decode_attention::fused_enabled() {
            true => Some((cos.flatten_all()?.to_vec1::<f32>()?, sin.flatten_all()?.to_vec1::<f32>()?)),
            false => None,
        };
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(1)?;
        let x = self.run_layers(self.embed(&ids)?, |l, attn, x| {
            if let Some((cos, sin)) = &fused {
                return attn.decode_cpu(l, x, cos, sin, caches);
            }
            let (q, k, v) = attn.project(x, &cos, &sin)?;
            let mut ys = Vec::with_capacity(b);
            for (i, cache) in caches.iter_mut().enumerate() {
                let (ks, vs) = cache.append(l, cache.len, &k.narrow(0, i, 1)?, &v.narrow(0, i, 1)?)?;
                let (ks, vs) = attn.window(ks, vs)?;
                ys.push(attn.attend(&q.narrow(0, i, 1)?, &ks, &vs, None)?);
            }
            let y = Tensor::cat(&ys, 0)?.reshape((b, 1, attn.heads * attn.head_dim))?;
            apply(&attn.o, &y)
        })?;
        for c in caches.iter_mut() {
            c.len += 1;
        }
        let x = self.norm.forward(&x)?;
        match &self.lm_head {
            // Straight into one vector per sequence: no (B, vocab) tensor to copy out.
            Proj::Packed { w, bias: None } => Ok(w.matmul_rows(&x.flatten_all()?.to_vec1::<f32>()?, b)),
            lm_head => apply(lm_head, &x)?.squeeze(1)?.to_dtype(DType::F32)?.to_vec2(),
        }
    }

    /// Whether decode steps run on the CUDA kernels (`cuda_decode`); `decode_attention::use_candle_ops` turns
    /// them off, as it does the CPU's fused step.
    fn cuda_step(&self) -> bool {
        #[cfg(feature = "cuda")]
        return decode_attention::fused_enabled() && super::cuda_decode::supported(&self.device, self.dtype, self.cfg.head_dim());
        #[cfg(not(feature = "cuda"))]
        false
    }

    /// The batched decode step on CUDA in bf16: activations (B, hidden); per layer one q/k/v matrix product, one
    /// kernel for bias, RoPE and the K/V writes, one for attention, the output projection, one kernel for the
    /// residual add and the norm after it, one gate/up product, one kernel for silu(gate) * up, the down
    /// projection, the residual add and the next norm again; no op runs per sequence.
    #[cfg(feature = "cuda")]
    fn decode_cuda(&self, tokens: &[u32], caches: &mut [&mut KvCache]) -> candle_core::Result<Vec<Vec<f32>>> {
        use super::cuda_decode::{add_rms_norm, logits_to_host, silu_mul, StepTable};
        let (kv_heads, hd) = (self.cfg.kv_heads(), self.cfg.head_dim());
        let step = StepTable::new(caches, self.layers.len(), kv_heads, hd, self.cfg.window(), &self.device)?;
        let mut x = self.embed(&Tensor::new(tokens, &self.device)?)?;
        // `h`: the input of the next sublayer, normed.
        let mut h = self.layers.first().map_or_else(|| self.norm.forward(&x), |first| first.ln1.forward(&x))?;
        for (l, layer) in self.layers.iter().enumerate() {
            let (a, m) = (&layer.attn, &layer.mlp);
            let (Proj::Candle(qkv), GateUp::Candle(gate_up)) = (&a.qkv, &m.gate_up) else {
                candle_core::bail!("the CUDA decode step needs candle's projections");
            };
            let q = step.rope_kv_write(l, &h.matmul(&qkv.weight().t()?)?, qkv.bias(), &self.cos, &self.sin, a.heads, a.kv_heads)?;
            let attended = apply(&a.o, &step.attend(l, &q, a.heads, a.kv_heads)?)?;
            let (x_attn, h_attn) = add_rms_norm(&x, &attended, &layer.ln2)?;
            let mlp = apply(&m.down, &silu_mul(&gate_up.forward(&h_attn)?)?)?;
            let next_norm = self.layers.get(l + 1).map_or(&self.norm, |next| &next.ln1);
            (x, h) = add_rms_norm(&x_attn, &mlp, next_norm)?;
        }
        for c in caches.iter_mut() {
            c.len += 1;
        }
        logits_to_host(&apply(&self.lm_head, &h)?)
    }

    /// Embedding rows gathered in the weights' dtype, widened to the activation dtype.
    fn embed(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        match (&self.embed, &self.lm_head) {
            (Embed::FromLmHead, Proj::Packed { w, .. }) => {
                let mut shape = ids.dims().to_vec();
                let ids = ids.flatten_all()?.to_vec1::<u32>()?;
                if let Some(t) = ids.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
                    candle_core::bail!("token {t} is outside the vocabulary of {}", self.cfg.vocab_size);
                }
                let rows: Vec<f32> = ids.into_iter().flat_map(|t| w.row(t as usize)).collect();
                shape.push(self.cfg.hidden_size);
                Tensor::from_vec(rows, shape, &self.device)
            }
            (Embed::Candle(e), _) => e.forward(ids)?.to_dtype(self.dtype),
            (Embed::FromLmHead, Proj::Candle(_)) => unreachable!("the embedding reads the LM head only when it is packed"),
        }
    }

    /// The decoder stack around an attention step supplied by the caller (prefill or batched decode).
    fn run_layers(
        &self,
        mut x: Tensor,
        mut attention: impl FnMut(usize, &Attention, &Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Tensor> {
        for (l, layer) in self.layers.iter().enumerate() {
            let hs = attention(l, &layer.attn, &layer.ln1.forward(&x)?)?;
            x = (x + hs)?;
            let hs = layer.ln2.forward(&x)?;
            let m = &layer.mlp;
            let hs = apply(&m.down, &m.gate_up.forward(&hs)?)?;
            x = (x + hs)?;
        }
        Ok(x)
    }

    fn causal_mask(&self, t: usize, pos: usize) -> candle_core::Result<Tensor> {
        let window = self.cfg.window().unwrap_or(usize::MAX);
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..pos + t).map(move |j| {
                    let qi = pos + i;
                    if j > qi || qi - j >= window { f32::NEG_INFINITY } else { 0.0 }
                })
            })
            .collect();
        Tensor::from_vec(mask, (t, pos + t), &self.device)?.to_dtype(self.dtype)
    }
}

impl Attention {
    /// q (.., heads * head_dim), k and v (.., kv_heads * head_dim) of x (.., hidden).
    fn qkv(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (q, kv) = (self.heads * self.head_dim, self.kv_heads * self.head_dim);
        let y = apply(&self.qkv, x)?;
        Ok((y.narrow(D::Minus1, 0, q)?, y.narrow(D::Minus1, q, kv)?, y.narrow(D::Minus1, q + kv, kv)?))
    }

    /// q (B, heads, t, head_dim) and k, v (B, kv_heads, t, head_dim), rotated by `cos`/`sin`.
    fn project(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let (b, t, _) = x.dims3()?;
        let (q, k, v) = self.qkv(x)?;
        let heads = |y: Tensor, n: usize| y.reshape((b, t, n, self.head_dim))?.transpose(1, 2)?.contiguous();
        let q = candle_nn::rotary_emb::rope(&heads(q, self.heads)?, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&heads(k, self.kv_heads)?, cos, sin)?;
        Ok((q, k, heads(v, self.kv_heads)?))
    }

    /// Keeps the last `sliding_window` positions (Mistral); the prefill mask does the same for prompt chunks.
    fn window(&self, k: Tensor, v: Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let len = k.dim(2)?;
        match self.sliding_window {
            Some(w) if len > w => Ok((k.narrow(2, len - w, w)?, v.narrow(2, len - w, w)?)),
            _ => Ok((k, v)),
        }
    }

    /// One decode step of attention for B sequences on the CPU in f32: x (B, 1, hidden) -> (B, 1, hidden). The
    /// projections run batched; RoPE (`cos`, `sin`: B rows of head_dim/2), the K/V writes and the attention read
    /// each sequence's cache buffers in place (`decode_attention`), with no per-sequence tensor ops.
    fn decode_cpu(&self, l: usize, x: &Tensor, cos: &[f32], sin: &[f32], caches: &mut [&mut KvCache]) -> candle_core::Result<Tensor> {
        let (b, hd) = (caches.len(), self.head_dim);
        let kvd = self.kv_heads * hd;
        let rows = |y: Tensor| y.flatten_all()?.to_vec1::<f32>();
        let (q, k, v) = self.qkv(x)?;
        let (mut q, mut k, v) = (rows(q)?, rows(k)?, rows(v)?);
        rope_rows(&mut q, self.heads, hd, cos, sin);
        rope_rows(&mut k, self.kv_heads, hd, cos, sin);
        for (i, c) in caches.iter_mut().enumerate() {
            let at = i * kvd..(i + 1) * kvd;
            c.write_position(l, c.len, &k[at.clone()], &v[at], self.kv_heads, hd)?;
        }
        let views = caches.iter().map(|c| c.cpu_view(l)).collect::<candle_core::Result<Vec<_>>>()?;
        let seqs: Vec<SeqKv> = views
            .iter()
            .zip(caches.iter())
            .map(|(kv, c)| {
                let end = c.len + 1;
                SeqKv { k: kv.k(), v: kv.v(), capacity: kv.capacity, start: window_start(end, self.sliding_window), end }
            })
            .collect();
        let heads = Heads { heads: self.heads, kv_heads: self.kv_heads, head_dim: hd };
        let y = decode_attention(&q, &seqs, heads);
        drop(seqs);
        drop(views);
        apply(&self.o, &Tensor::from_vec(y, (b, 1, self.heads * hd), x.device())?)
    }

    /// Attention of one sequence's q (1, heads, t, head_dim) over its cached k, v (1, kv_heads, len, head_dim).
    /// The query heads sharing a KV head are folded into rows, so grouped-query K/V is never copied per head.
    /// Returns (1, heads, t, head_dim).
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let t = q.dim(2)?;
        let (kvh, rep, len) = (self.kv_heads, self.heads / self.kv_heads, k.dim(2)?);
        let q = q.reshape((1, kvh, rep * t, self.head_dim))?;
        let mut att = (q.matmul(&k.t()?)? * (1.0 / (self.head_dim as f64).sqrt()))?;
        if let Some(m) = mask {
            att = att.reshape((1, kvh, rep, t, len))?.broadcast_add(m)?.reshape((1, kvh, rep * t, len))?;
        }
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        att.matmul(v)?.reshape((1, self.heads, t, self.head_dim))
    }
}
