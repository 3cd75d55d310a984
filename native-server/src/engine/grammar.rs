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
    closing: Arc<ClosingBonus>,
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
        let closing = Arc::new(ClosingBonus::new(&words));
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
        let matcher = Matcher::new(Ok(parser));
        // The walk follows a path the grammar allows; failing on it (rules that never reach a value, a regex
        // too large for llguidance's lexer) would fail the request at its first tokens, as a 500.
        let shortest = self.closing.walk(&matcher, budget).map_err(|e| GrammarError {
            param,
            // llguidance appends its parser state on further lines.
            message: format!(
                "cannot constrain output to this schema: no output can be generated for it ({})",
                e.lines().next().unwrap_or_default()
            ),
        })?;
        // Steering starts with room for the steered ending (which grows with nesting) plus a margin.
        let closing_from = budget.saturating_sub(shortest + shortest / 2 + CLOSING_MARGIN);
        tracing::debug!(shortest, closing_from, budget, "grammar compiled");
        Ok(Constraint { matcher, closing: self.closing.clone(), produced: 0, in_string: false, closing_from })
    }
}

/// Tokens of slack, beyond the steered ending's own length, before the length limit.
const CLOSING_MARGIN: usize = 16;

/// Per token id, the logit bonus that steers an output to its shortest ending near the end of the budget.
/// Inside a string only a quote gets out (braces there are just text). Outside one: `null` where a value may be
/// null, then brackets and braces (end arrays and objects instead of adding items), then quotes.
struct ClosingBonus {
    in_string: Vec<f32>,
    outside: Vec<f32>,
    /// Per token id: whether its bytes leave the in-string state flipped (an odd number of unescaped quotes,
    /// escapes inside one token only; enough for steering).
    flips: Vec<bool>,
}

impl ClosingBonus {
    fn new(words: &[Vec<u8>]) -> Self {
        let quote = |w: &Vec<u8>| if w.contains(&b'"') { 12.0 } else { 0.0 };
        // The separator's space often shares a token with the value (` null`, ` "`): judge by the first other byte.
        let outside = |w: &Vec<u8>| match w.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'n') => 14.0,
            _ if w.iter().any(|&b| b == b'}' || b == b']') => 12.0,
            _ if w.contains(&b'"') => 8.0,
            _ => 0.0,
        };
        let flips = |w: &Vec<u8>| {
            let (mut odd, mut escaped) = (false, false);
            for &b in w {
                match b {
                    b'\\' if !escaped => escaped = true,
                    b'"' if !escaped => odd = !odd,
                    _ => escaped = false,
                }
            }
            odd
        };
        Self { in_string: words.iter().map(quote).collect(), outside: words.iter().map(outside).collect(), flips: words.iter().map(flips).collect() }
    }

    fn bonus(&self, in_string: bool) -> &[f32] {
        if in_string {
            &self.in_string
        } else {
            &self.outside
        }
    }

    /// Length of the output that steering alone writes from the start: always the most-favoured allowed token
    /// (ties to the lowest id), on a copy of the grammar state, until the grammar may end (at most `limit`).
    /// Fails where the grammar engine does.
    fn walk(&self, matcher: &Matcher, limit: usize) -> Result<usize, String> {
        let mut m = matcher.deep_clone();
        let (mut n, mut in_string) = (0, false);
        while n < limit && !m.is_stopped() && !m.is_accepting().unwrap_or(true) {
            let allowed = m.compute_mask().map_err(|e| e.to_string())?;
            let bonus = self.bonus(in_string);
            let mut best: Option<(usize, f32)> = None;
            allowed.iter_set_entries(|i| {
                let b = bonus.get(i).copied().unwrap_or(0.0);
                if best.is_none_or(|(_, top)| b > top) {
                    best = Some((i, b));
                }
            });
            let Some((tok, _)) = best else { break };
            m.consume_token(tok as u32).map_err(|e| e.to_string())?;
            in_string ^= self.flips[tok];
            n += 1;
        }
        Ok(n)
    }
}

/// One sequence's grammar state.
pub struct Constraint {
    matcher: Matcher,
    closing: Arc<ClosingBonus>,
    produced: usize,
    in_string: bool,
    /// From this many output tokens on, the mask also favours the tokens that end the JSON soonest, so an
    /// output that would run past the length limit ends valid (shorter) instead of failing; outputs that
    /// finish earlier are untouched.
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
            for (l, b) in logits.iter_mut().zip(self.closing.bonus(self.in_string)) {
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
        self.in_string ^= self.closing.flips.get(tok as usize).copied().unwrap_or(false);
        self.matcher.consume_token(tok).map_err(|e| format!("grammar: {e}"))
    }

    /// True once the output is complete: the grammar allows the sequence to end here.
    pub fn is_complete(&mut self) -> bool {
        self.matcher.is_stopped() || self.matcher.is_accepting().unwrap_or(false)
    }
}
