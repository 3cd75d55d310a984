//! A loaded chat model split in two: the weights go to the scheduler thread, the prompt side (template,
//! tokenizer, stop tokens) is shared with request handlers through `ChatHandle`.

use std::collections::HashSet;
use std::sync::Arc;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde_json::Value;
use tokenizers::Tokenizer;

use super::{grammar::GrammarEngine, template::ChatTemplate, EngineConfig, Event, GenerateRequest, LoadState, Queued, SamplingParams, SubmitError};
use crate::metrics::Metrics;
use crate::models::{folder::weight_files, llama::LlamaConfig, ChatArch, LlamaModel, LoadError, LoadResult, ModelFiles, ModelKind};

/// Tokens that mark tool calls stay visible to the tool parser even when they are special.
const TOOL_MARKER_TOKENS: [&str; 4] = ["<tool_call>", "</tool_call>", "[TOOL_CALLS]", "<|python_tag|>"];
/// End-of-turn tokens that end generation when the template uses them.
const TURN_END_TOKENS: [&str; 5] = ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "</s>"];

pub struct Prompter {
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    pub eos_ids: HashSet<u32>,
    /// Special tokens left out of the visible text.
    pub hidden_ids: HashSet<u32>,
    pub defaults: SamplingParams,
    /// Constrained decoding; None when the tokenizer's byte mapping is one llguidance cannot read.
    pub grammar: Option<GrammarEngine>,
}

pub struct ChatModel {
    pub model: LlamaModel,
    pub prompter: Arc<Prompter>,
    pub files: ModelFiles,
    pub arch: ChatArch,
}

fn ids_of(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).map(|x| x as u32).collect(),
        _ => vec![],
    }
}

impl ChatModel {
    pub fn load(files: ModelFiles, device: &Device, dtype: DType, max_context: Option<usize>) -> LoadResult<Self> {
        let ModelKind::Chat(arch) = files.kind else {
            return Err(LoadError(format!("{}: not a chat model", files.config_path().display())));
        };
        let cfg: LlamaConfig = files.parse_config()?;
        let context = max_context.map_or(cfg.max_position_embeddings, |m| m.min(cfg.max_position_embeddings));
        let weights = weight_files(&files.dir)?;
        // Safety: shards are memory-mapped read-only and not modified while the process runs.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&weights, dtype, device) }
            .map_err(|e| LoadError(format!("{}: {e}", files.dir.display())))?;
        let model = LlamaModel::load(vb, cfg, arch, context)
            .map_err(|e| LoadError(format!("{}: {e}", files.dir.display())))?;
        let prompter = Arc::new(Prompter::load(&files)?);
        Ok(Self { model, prompter, files, arch })
    }
}

impl Prompter {
    pub fn load(files: &ModelFiles) -> LoadResult<Self> {
        let tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| LoadError(format!("{}: {e}", files.tokenizer.display())))?;
        let template = ChatTemplate::new(&files.tokenizer_config)
            .map_err(|e| LoadError(format!("{}/{e}", files.dir.display())))?;
        let mut eos_ids: HashSet<u32> = ids_of(files.generation_config.get("eos_token_id")).into_iter().collect();
        eos_ids.extend(ids_of(files.config.get("eos_token_id")));
        let eos_text = super::template::token_text(files.tokenizer_config.get("eos_token"));
        if let Some(id) = tokenizer.token_to_id(&eos_text) {
            eos_ids.insert(id);
        }
        for t in TURN_END_TOKENS {
            if template.source.contains(t) {
                if let Some(id) = tokenizer.token_to_id(t) {
                    eos_ids.insert(id);
                }
            }
        }
        let hidden_ids = tokenizer
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special && !TOOL_MARKER_TOKENS.contains(&t.content.as_str()))
            .map(|(&id, _)| id)
            .collect();
        let g = &files.generation_config;
        let f = |k: &str| g.get(k).and_then(Value::as_f64);
        let mut defaults = SamplingParams::default();
        if g.get("do_sample").and_then(Value::as_bool) == Some(false) {
            defaults.temperature = 0.0;
        }
        if let Some(t) = f("temperature") {
            defaults.temperature = t as f32;
        }
        if let Some(p) = f("top_p") {
            defaults.top_p = p as f32;
        }
        if let Some(k) = g.get("top_k").and_then(Value::as_u64) {
            defaults.top_k = k as usize;
        }
        if let Some(r) = f("repetition_penalty") {
            defaults.repetition_penalty = r as f32;
        }
        let grammar = Self::grammar_engine(files, &tokenizer, &template, &eos_ids);
        Ok(Self { tokenizer, template, eos_ids, hidden_ids, defaults, grammar })
    }

    fn grammar_engine(files: &ModelFiles, tokenizer: &Tokenizer, template: &ChatTemplate, eos: &HashSet<u32>) -> Option<GrammarEngine> {
        let vocab = files.config.get("vocab_size").and_then(Value::as_u64).unwrap_or(0) as usize;
        // End-of-turn first: it is the token a finished grammar lets the model emit.
        let mut eos_ids: Vec<u32> = eos.iter().copied().collect();
        eos_ids.sort_by_key(|id| (tokenizer.id_to_token(*id).is_some_and(|t| !TURN_END_TOKENS.contains(&t.as_str())), *id));
        let built = std::fs::read_to_string(&files.tokenizer)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()))
            .and_then(|json| GrammarEngine::new(&json, tokenizer, vocab, &eos_ids, &template.source));
        match built {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!("{}: constrained decoding unavailable: {e}", files.tokenizer.display());
                None
            }
        }
    }

    /// Chat template + tokenization. The template writes BOS itself, so no special tokens are added here.
    pub fn prompt_tokens(&self, messages: &[Value], tools: Option<&[Value]>) -> Result<Vec<u32>, String> {
        let text = self.template.render(messages, tools).map_err(|e| format!("chat template: {e}"))?;
        let enc = self.tokenizer.encode(text, false).map_err(|e| format!("tokenizer: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }
}

/// Request-side view of a running chat engine.
#[derive(Clone)]
pub struct ChatHandle {
    tx: std::sync::mpsc::Sender<Queued>,
    pub load: Arc<LoadState>,
    pub prompter: Arc<Prompter>,
    pub id: String,
    pub aliases: Vec<String>,
    pub context_len: usize,
    metrics: Arc<Metrics>,
}

impl ChatHandle {
    /// Starts the scheduler thread, which owns the model from now on.
    pub fn spawn(model: ChatModel, cfg: &EngineConfig, metrics: Arc<Metrics>) -> Self {
        let context_len = model.model.max_context;
        let load = Arc::new(LoadState::new(cfg, context_len));
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = Self {
            tx,
            load: load.clone(),
            prompter: model.prompter.clone(),
            id: model.files.id.clone(),
            aliases: model.files.aliases(),
            context_len,
            metrics: metrics.clone(),
        };
        std::thread::Builder::new()
            .name("fastllm-scheduler".into())
            .spawn(move || super::scheduler::Scheduler::new(model, load, metrics).run(rx))
            .expect("spawn scheduler thread");
        handle
    }

    /// Queues a generation; events arrive on the returned receiver. Dropping the receiver cancels it.
    pub fn submit(
        &self,
        req: GenerateRequest,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<Event>, SubmitError> {
        if let Err(e) = self.load.try_admit() {
            self.metrics.queue_rejected();
            return Err(e);
        }
        let (etx, erx) = tokio::sync::mpsc::unbounded_channel();
        let queued = Queued { req, events: etx, enqueued: std::time::Instant::now() };
        self.tx.send(queued).map_err(|_| {
            self.load.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            SubmitError::Stopped
        })?;
        Ok(erx)
    }
}
