//! BERT-family sentence embeddings: mean pooling over the attention mask, L2-normalised (all-MiniLM-L6-v2 style).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde_json::Value;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::{folder::weight_files, LoadError, LoadResult, ModelFiles};

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    pub dim: usize,
    pub max_tokens: usize,
    cls_pooling: bool,
}

pub fn bert_tensor_shapes(c: &BertConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut out = vec![
        ("embeddings.word_embeddings.weight".to_string(), vec![c.vocab_size, h]),
        ("embeddings.position_embeddings.weight".to_string(), vec![c.max_position_embeddings, h]),
        ("embeddings.token_type_embeddings.weight".to_string(), vec![c.type_vocab_size, h]),
        ("embeddings.LayerNorm.weight".to_string(), vec![h]),
        ("embeddings.LayerNorm.bias".to_string(), vec![h]),
    ];
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            out.push((format!("{p}.{n}.weight"), vec![h, h]));
            out.push((format!("{p}.{n}.bias"), vec![h]));
        }
        out.push((format!("{p}.intermediate.dense.weight"), vec![i, h]));
        out.push((format!("{p}.intermediate.dense.bias"), vec![i]));
        out.push((format!("{p}.output.dense.weight"), vec![h, i]));
        out.push((format!("{p}.output.dense.bias"), vec![h]));
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            out.push((format!("{p}.{n}.weight"), vec![h]));
            out.push((format!("{p}.{n}.bias"), vec![h]));
        }
    }
    out
}

impl Embedder {
    pub fn load(files: &ModelFiles, device: &Device) -> LoadResult<Self> {
        let cfg: BertConfig = files.parse_config()?;
        let weights = weight_files(&files.dir)?;
        // Safety: the shards are memory-mapped read-only; nothing in this process writes them.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&weights, DType::F32, device) }
            .map_err(|e| LoadError(format!("{}: {e}", files.dir.display())))?;
        let model = BertModel::load(vb, &cfg).map_err(|e| LoadError(format!("{}: {e}", files.dir.display())))?;
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| LoadError(format!("{}: {e}", files.tokenizer.display())))?;
        // sentence-transformers caps the sequence (256 for MiniLM) in sentence_bert_config.json.
        let st = super::folder::read_json(&files.dir.join("sentence_bert_config.json")).unwrap_or(Value::Null);
        let max_tokens = st
            .get("max_seq_length")
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .unwrap_or(cfg.max_position_embeddings)
            .min(cfg.max_position_embeddings);
        let pooling = super::folder::read_json(&files.dir.join("1_Pooling/config.json")).unwrap_or(Value::Null);
        let cls_pooling = pooling.get("pooling_mode_cls_token").and_then(Value::as_bool).unwrap_or(false);
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|e| LoadError(format!("{}: {e}", files.tokenizer.display())))?;
        Ok(Self { model, tokenizer, device: device.clone(), dim: cfg.hidden_size, max_tokens, cls_pooling })
    }

    /// Embeds a batch; returns unit vectors and the number of tokens read.
    pub fn embed(&self, texts: &[String]) -> anyhow::Result<(Vec<Vec<f32>>, usize)> {
        let enc = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| anyhow::anyhow!("{e}"))?;
        let n = enc.len();
        let len = enc.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(n * len);
        let mut types = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        let mut tokens = 0;
        for e in &enc {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
            tokens += e.get_attention_mask().iter().filter(|&&m| m == 1).count();
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let types = Tensor::from_vec(types, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        let pooled = if self.cls_pooling {
            hidden.narrow(1, 0, 1)?.squeeze(1)?
        } else {
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
            summed.broadcast_div(&counts)?
        };
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = pooled.broadcast_div(&norm)?;
        Ok((unit.to_vec2()?, tokens))
    }
}
