//! Constrained decoding with llguidance: `response_format` (json_object, json_schema) and forced tool calls
//! (`tool_choice` "required" or a named function) become a grammar; every step masks the logits to the tokens
//! the grammar allows, so the output always parses and matches the schema.
//!
//! llguidance computes each step's mask lazily from a token trie (tens of microseconds per token), so a new
//! schema costs no up-front index over the vocabulary; see bench/results/grammar.md for the measurements.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{TokEnv, TokRxInfo, TokTrie, TokenId, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

/// How the model's chat template writes a tool call; forced calls are generated in the same form, so the
/// ordinary tool-call parser reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolFormat {
    /// Qwen / Hermes: `<tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>`.
    Hermes,
    /// Mistral: `[TOOL_CALLS] [{"name": .., "arguments": {..}}]`.
    Mistral,
    /// Llama 3.x: a bare `{"name": .., "parameters": {..}}`.
    LlamaJson,
}

impl ToolFormat {
    pub fn of_template(source: &str) -> Self {
        if source.contains("<tool_call>") {
            ToolFormat::Hermes
        } else if source.contains("[TOOL_CALLS]") {
            ToolFormat::Mistral
        } else {
            ToolFormat::LlamaJson
        }
    }
}

/// A function the model may be made to call.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub parameters: Value,
}

/// What the request constrains the output to.
#[derive(Debug, Clone)]
pub enum GrammarSpec {
    /// `response_format`: any JSON object (`schema` = None) or a JSON Schema; with `tools` the model may call
    /// one of them instead (tool_choice "auto").
    Json { schema: Option<Value>, tools: Vec<ToolSpec> },
    /// One or more calls among `tools` (tool_choice "required"), or exactly one call of a named function.
    ToolCalls { tools: Vec<ToolSpec>, single: bool },
}

/// A grammar the request cannot use; `param` names the request field at fault.
#[derive(Debug)]
pub struct GrammarError {
    pub param: &'static str,
    pub message: String,
}

/// The tokenizer as llguidance sees it: the bytes of every token id, plus the model's own tokenizer for the
/// (rare) cases where llguidance needs to tokenize text itself.
struct ModelTokEnv {
    trie: TokTrie,
    tokenizer: Tokenizer,
}

impl TokenizerEnv for ModelTokEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        match std::str::from_utf8(s).ok().and_then(|t| self.tokenizer.encode(t, false).ok()) {
            Some(enc) => enc.get_ids().to_vec(),
            None => self.trie.greedy_tokenize(s),
        }
    }
}

/// The bytes every token id stands for, from tokenizer.json (byte-level BPE or SentencePiece byte fallback).
pub fn token_bytes(tokenizer_json: &Value) -> Result<Vec<Vec<u8>>, String> {
    llguidance::token_bytes_from_tokenizer_json(tokenizer_json).map_err(|e| e.to_string())
}

/// Per model: the token trie and parser factory every request's grammar is compiled against.
pub struct GrammarEngine {
    factory: ParserFactory,
    /// Per token id, how strongly it closes JSON (see `Constraint::mask`).
    closing: Arc<Vec<f32>>,
    tool_format: ToolFormat,
    /// Marker tokens that are special (so a string literal cannot produce them) are named by id in grammars.
    marker_ids: Vec<(&'static str, u32)>,
}

/// JSON as the models saw it in training (Python's json.dumps spacing) and nothing looser: flexible whitespace
/// would let a small model pad forever.
fn with_layout(schema: Option<&Value>) -> Value {
    let mut s = match schema {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(Value::Bool(false)) => json!({"not": {}}),
        _ => json!({"type": "object"}),
    };
    s["x-guidance"] = json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "});
    s
}

impl GrammarEngine {
    /// `vocab_size` is the model's logits width (it may exceed the tokenizer's: the extra ids are never allowed).
    pub fn new(
        tokenizer_json: &Value,
        tokenizer: &Tokenizer,
        vocab_size: usize,
        eos_ids: &[u32],
        template_source: &str,
    ) -> Result<Self, String> {
        let mut words = token_bytes(tokenizer_json)?;
        words.resize(vocab_size.max(words.len()), vec![]);
        let first_eos = *eos_ids.first().ok_or("no end-of-sequence token")?;
        let info = TokRxInfo::new(words.len() as u32, first_eos);
        let trie = TokTrie::from(&info, &words).with_eos_tokens(eos_ids);
        let env: TokEnv = Arc::new(ModelTokEnv { trie, tokenizer: tokenizer.clone() });
        let mut factory = ParserFactory::new_simple(&env).map_err(|e| e.to_string())?;
        factory.quiet();
        let marker_ids = ["<tool_call>", "</tool_call>", "[TOOL_CALLS]"]
            .into_iter()
            .filter_map(|m| {
                let id = tokenizer.token_to_id(m)?;
                tokenizer.get_added_tokens_decoder().get(&id).filter(|t| t.special).map(|_| (m, id))
            })
            .collect();
        let closing = Arc::new(words.iter().map(|w| closing_bonus(w)).collect());
        Ok(Self { factory, closing, tool_format: ToolFormat::of_template(template_source), marker_ids })
    }

    /// A grammar literal for `text`, or the special token it names.
    fn literal(&self, text: &'static str) -> String {
        match self.marker_ids.iter().find(|(m, _)| *m == text) {
            Some((_, id)) => format!("<[{id}]>"),
            None => serde_json::to_string(text).expect("a string serializes"),
        }
    }

    /// The JSON object one call is written as, in this model's format.
    fn call_schema(&self, tools: &[ToolSpec]) -> Value {
        let args_key = if self.tool_format == ToolFormat::LlamaJson { "parameters" } else { "arguments" };
        let one = |t: &ToolSpec| {
            let params = match &t.parameters {
                Value::Object(o) if !o.is_empty() => t.parameters.clone(),
                _ => json!({"type": "object"}),
            };
            json!({
                "type": "object",
                "properties": {"name": {"const": t.name}, args_key: params},
                "required": ["name", args_key],
                "additionalProperties": false,
            })
        };
        let schema = match tools {
            [t] => one(t),
            many => json!({"anyOf": many.iter().map(one).collect::<Vec<_>>()}),
        };
        with_layout(Some(&schema))
    }

    /// Lark rules `calls` (and `call`) for tool calls in this model's format.
    fn calls_rules(&self, tools: &[ToolSpec], single: bool) -> String {
        let obj = format!("%json {}", self.call_schema(tools));
        match self.tool_format {
            ToolFormat::Hermes => {
                let (open, close) = (self.literal("<tool_call>"), self.literal("</tool_call>"));
                let repeat = if single { "" } else { " (\"\\n\" call)*" };
                format!("calls: call{repeat}\ncall: {open} \"\\n\" {obj} \"\\n\" {close}\n")
            }
            ToolFormat::Mistral => {
                let open = self.literal("[TOOL_CALLS]");
                let repeat = if single { "" } else { " (\", \" call)*" };
                format!("calls: {open} \" [\" call{repeat} \"]\"\ncall: {obj}\n")
            }
            ToolFormat::LlamaJson => format!("calls: call\ncall: {obj}\n"),
        }
    }

    fn lark(&self, spec: &GrammarSpec) -> String {
        match spec {
            GrammarSpec::Json { schema, tools } => {
                let json = format!("%json {}", with_layout(schema.as_ref()));
                if tools.is_empty() {
                    format!("start: {json}\n")
                } else {
                    format!("start: {json} | calls\n{}", self.calls_rules(tools, false))
                }
            }
            GrammarSpec::ToolCalls { tools, single } => format!("start: calls\n{}", self.calls_rules(tools, *single)),
        }
    }

    /// Compiles the request's grammar for an output of at most `budget` tokens; a schema llguidance cannot
    /// satisfy or parse is the client's error.
    pub fn compile(&self, spec: &GrammarSpec, budget: usize) -> Result<Constraint, GrammarError> {
        let param = match spec {
            GrammarSpec::Json { .. } => "response_format",
            GrammarSpec::ToolCalls { .. } => "tools",
        };
        let grammar = TopLevelGrammar::from_lark(self.lark(spec));
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| GrammarError { param, message: format!("cannot constrain output to this schema: {e}") })?;
        let closing_from = budget.saturating_sub(CLOSING_WINDOW.max(budget / 8));
        Ok(Constraint { matcher: Matcher::new(Ok(parser)), closing: self.closing.clone(), produced: 0, closing_from })
    }
}

/// Tokens left when an output starts being steered to close (or an eighth of the budget, if more).
const CLOSING_WINDOW: usize = 32;

/// Logit bonus near the end of the budget. Quotes first: inside a string a quote is the only way out (braces
/// there are just text), and outside one the grammar allows a quote only where a key or value must follow.
/// Then brackets and braces, which end arrays and objects instead of adding items.
fn closing_bonus(bytes: &[u8]) -> f32 {
    if bytes.contains(&b'"') {
        12.0
    } else if bytes.iter().any(|&b| b == b'}' || b == b']') {
        8.0
    } else {
        0.0
    }
}

/// One sequence's grammar state.
pub struct Constraint {
    matcher: Matcher,
    closing: Arc<Vec<f32>>,
    produced: usize,
    /// From this many output tokens on, the mask also favours tokens that close the JSON, so an output that
    /// would run past the length limit ends valid (shorter) instead of failing; outputs that finish before
    /// the window are untouched.
    closing_from: usize,
}

impl Constraint {
    /// Sets the logits of every token the grammar forbids at this step to -inf.
    pub fn mask(&mut self, logits: &mut [f32]) -> Result<(), String> {
        let allowed = self.matcher.compute_mask_or_eos().map_err(|e| format!("grammar: {e}"))?;
        let width = allowed.len().min(logits.len());
        allowed.iter_unset_entries(|i| {
            if i < width {
                logits[i] = f32::NEG_INFINITY;
            }
        });
        logits[width..].fill(f32::NEG_INFINITY);
        if self.produced >= self.closing_from {
            for (l, b) in logits.iter_mut().zip(self.closing.iter()) {
                *l += b;
            }
        }
        Ok(())
    }

    /// Advances the grammar past the sampled token (always one the mask allowed). Once the grammar is complete
    /// the mask allows only end-of-sequence, which ends the sequence rather than extending the grammar.
    pub fn accept(&mut self, tok: u32) -> Result<(), String> {
        if self.matcher.is_stopped() {
            return Ok(());
        }
        self.produced += 1;
        self.matcher.consume_token(tok).map_err(|e| format!("grammar: {e}"))
    }

    /// True once the output is complete: the grammar allows the sequence to end here.
    pub fn is_complete(&mut self) -> bool {
        self.matcher.is_stopped() || self.matcher.is_accepting().unwrap_or(false)
    }
}
