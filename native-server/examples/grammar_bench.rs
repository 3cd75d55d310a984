//! What constrained decoding costs (a benchmark, not a test), and why the node uses llguidance.
//!
//! 1. End to end on the bundled demo model: decode tokens/s with and without a JSON-schema grammar, same
//!    prompt, same number of tokens, same sampler, measured in this process.
//! 2. Grammar engines side by side on the demo vocabulary and on a synthetic vocabulary of Qwen2.5's size
//!    (151,936 byte-level tokens): llguidance (the node's: lazy masks from a token trie) against outlines-core
//!    (an index over the whole vocabulary built per schema, then table lookups).
//!
//! Run: bench/grammar/run.sh (builds with `--features grammar-bench`, which adds outlines-core). With `--decode-only`,
//! part 1 alone (seconds; part 2's outlines-core index on the large vocabulary takes many minutes).

use std::time::Instant;

use candle_core::Device;
use fastllm::engine::chat::ChatModel;
use fastllm::engine::grammar::{token_bytes, Constraint, GrammarEngine, GrammarSpec};
use fastllm::engine::sampler::Sampler;
use fastllm::engine::SamplingParams;
use fastllm::models::random::Rng;
use fastllm::models::{select_dtype, DtypeChoice, ModelFiles};
use serde_json::{json, Value};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo-model/heddle-demo");
const ROUNDS: usize = 3;
/// Part 1's rounds, each a fraction of a second: enough that one slow instant on a shared machine is not the median.
const DECODE_ROUNDS: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A schema that keeps the model writing for a few hundred tokens whatever it prefers.
fn long_schema() -> Value {
    json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string", "maxLength": 24},
           "minItems": 60}}, "required": ["items"]})
}

/// DeepFabric's conversation shape.
fn deepfabric_schema() -> Value {
    json!({"$defs": {"Message": {"type": "object", "properties": {
               "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string"}},
               "required": ["role", "content"], "additionalProperties": false}},
           "type": "object", "properties": {
               "messages": {"type": "array", "items": {"$ref": "#/$defs/Message"}, "minItems": 2},
               "reasoning": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
           "required": ["messages", "reasoning"], "additionalProperties": false})
}

fn tool_schema() -> Value {
    json!({"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {"type": "object",
           "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}},
           "required": ["name", "arguments"], "additionalProperties": false})
}

fn json_spec(schema: &Value) -> GrammarSpec {
    GrammarSpec::Json { schema: Some(schema.clone()), tools: vec![] }
}

/// Decode tokens/s on the demo model for `steps` tokens, with the grammar of `spec` or without any.
fn demo_decode(model: &ChatModel, prompt: &[u32], steps: usize, spec: Option<&GrammarSpec>) -> f64 {
    let engine = model.prompter.grammar.as_ref().expect("the demo tokenizer supports grammars");
    let constraint = spec.map(|s| engine.compile(s, usize::MAX).expect("bench schema compiles"));
    let params = SamplingParams { temperature: 1.0, seed: Some(1), ..Default::default() };
    let mut sampler = Sampler::new(params, constraint);
    let mut cache = model.model.new_cache(prompt.len() + steps + 1);
    let mut tokens = prompt.to_vec();
    let mut logits = model.model.forward(prompt, &mut cache).unwrap();
    let t0 = Instant::now();
    for _ in 0..steps {
        let tok = sampler.sample(&mut logits, &tokens).unwrap();
        tokens.push(tok);
        logits = model.model.forward(&[tok], &mut cache).unwrap();
    }
    steps as f64 / t0.elapsed().as_secs_f64()
}

/// A byte-level BPE tokenizer.json of `size` tokens: the 256 byte tokens, then distinct pseudo-words (half with a
/// leading space, some with digits and punctuation), like a large BPE vocabulary's mix of lengths.
fn synthetic_tokenizer_json(size: usize) -> Value {
    // GPT-2's byte-to-character table: printable bytes map to themselves, the rest to U+0100 onwards.
    let mut byte_char = Vec::with_capacity(256);
    let mut extra = 0u32;
    for b in 0..=255u32 {
        let printable = matches!(b, 33..=126 | 161..=172 | 174..=255);
        byte_char.push(if printable { char::from_u32(b).unwrap() } else { extra += 1; char::from_u32(255 + extra).unwrap() });
    }
    let mut vocab = serde_json::Map::new();
    for (i, c) in byte_char.iter().enumerate() {
        vocab.insert(c.to_string(), json!(i));
    }
    let alphabet: Vec<u8> = b"etaoinshrdlucmfwypvbgkqjxz".to_vec();
    let extras: Vec<u8> = b"0123456789.,:;\"'{}[]_-".to_vec();
    let mut rng = Rng::new(151_936);
    while vocab.len() < size {
        let len = 2 + (rng.next_u64() % 9) as usize;
        let mut word: Vec<u8> = Vec::with_capacity(len + 1);
        if rng.next_u64() % 2 == 0 {
            word.push(b' ');
        }
        for _ in 0..len {
            let r = rng.next_u64();
            // Letters mostly, skewed towards frequent ones; now and then a digit or punctuation.
            word.push(if r % 10 == 0 { extras[(r / 10) as usize % extras.len()] } else { alphabet[((r / 10) % 26).min((r / 300) % 26) as usize] });
        }
        let text: String = word.iter().map(|&b| byte_char[b as usize]).collect();
        let id = vocab.len();
        vocab.entry(text).or_insert(json!(id));
    }
    let bl = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    json!({"version": "1.0", "truncation": null, "padding": null, "normalizer": null,
           "added_tokens": [{"id": size, "content": "<|im_end|>", "single_word": false, "lstrip": false, "rstrip": false,
                             "normalized": false, "special": true}],
           "pre_tokenizer": bl, "post_processor": bl, "decoder": bl,
           "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                     "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                     "vocab": vocab, "merges": []}})
}

struct EngineCost {
    compile_ms: f64,
    us_per_token: f64,
    tokens: usize,
}

/// Random walk through the grammar: at each step mask, pick a uniformly random allowed token, accept it.
fn llguidance_cost(engine: &GrammarEngine, schema: &Value, vocab: usize, eos: u32, steps: usize) -> EngineCost {
    let t0 = Instant::now();
    let mut c: Constraint = engine.compile(&json_spec(schema), usize::MAX).unwrap();
    let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut rng = Rng::new(7);
    let mut logits = vec![0f32; vocab];
    let (mut spent, mut n) = (0.0, 0);
    while n < steps {
        logits.fill(0.0);
        let t = Instant::now();
        c.mask(&mut logits).unwrap();
        spent += t.elapsed().as_secs_f64();
        let allowed: Vec<u32> = (0..vocab as u32).filter(|&i| logits[i as usize].is_finite()).collect();
        let tok = allowed[(rng.next_u64() % allowed.len() as u64) as usize];
        n += 1;
        if tok == eos {
            break;
        }
        let t = Instant::now();
        c.accept(tok).unwrap();
        spent += t.elapsed().as_secs_f64();
    }
    EngineCost { compile_ms, us_per_token: spent * 1e6 / n as f64, tokens: n }
}

fn outlines_cost(words: &[Vec<u8>], eos: u32, schema: &Value, steps: usize) -> Result<EngineCost, String> {
    use outlines_core::prelude::*;
    let mut vocabulary = Vocabulary::new(eos);
    for (id, w) in words.iter().enumerate() {
        if !w.is_empty() && id as u32 != eos {
            vocabulary.try_insert(w.clone(), id as u32).map_err(|e| e.to_string())?;
        }
    }
    let t0 = Instant::now();
    let regex = outlines_core::json_schema::regex_from_value(schema, Some(r#"[ ]?"#), None).map_err(|e| e.to_string())?;
    let index = Index::new(&regex, &vocabulary).map_err(|e| e.to_string())?;
    let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut rng = Rng::new(7);
    let mut state = index.initial_state();
    let mut mask = vec![0f32; words.len()];
    let (mut spent, mut n) = (0.0, 0);
    while n < steps {
        let t = Instant::now();
        // The same work the node does per step: turn the allowed set into a logits mask.
        mask.fill(f32::NEG_INFINITY);
        let allowed = index.allowed_tokens(&state).ok_or("dead state")?;
        for &t in &allowed {
            mask[t as usize] = 0.0;
        }
        spent += t.elapsed().as_secs_f64();
        let tok = allowed[(rng.next_u64() % allowed.len() as u64) as usize];
        n += 1;
        if tok == eos {
            break;
        }
        let t = Instant::now();
        state = index.next_state(&state, &tok).ok_or("no transition")?;
        spent += t.elapsed().as_secs_f64();
    }
    Ok(EngineCost { compile_ms, us_per_token: spent * 1e6 / n as f64, tokens: n })
}

fn main() {
    let files = ModelFiles::open(DEMO).expect("demo model");
    // The weights' dtype `fastllm serve` picks on this CPU (bf16 with AVX2 + FMA), so the decode step is the one users get.
    let dtype = select_dtype(DtypeChoice::Auto, &Device::Cpu);
    let model = ChatModel::load(files, &Device::Cpu, dtype, None).expect("demo model loads");
    let prompt = model
        .prompter
        .prompt_tokens(&[json!({"role": "user", "content": "List some household budgeting tips as JSON."})], None)
        .unwrap();

    println!("## Demo model ({dtype:?} weights), decode with and without a grammar ({DECODE_ROUNDS} rounds, interleaved, median)\n");
    println!("| steps | unconstrained tok/s | json_schema tok/s | grammar cost |");
    println!("|---|---|---|---|");
    let steps = 256;
    let spec = json_spec(&long_schema());
    let (mut free, mut constrained) = (vec![], vec![]);
    for _ in 0..DECODE_ROUNDS {
        free.push(demo_decode(&model, &prompt, steps, None));
        constrained.push(demo_decode(&model, &prompt, steps, Some(&spec)));
    }
    let (f, c) = (median(free), median(constrained));
    println!("| {steps} | {f:.0} | {c:.0} | {:.1}% |\n", (1.0 - c / f) * 100.0);
    if std::env::args().any(|a| a == "--decode-only") {
        return;
    }

    println!("## Grammar engines: compile per schema, then mask work per token (random walk, {ROUNDS} rounds, median)\n");
    println!("| vocabulary | schema | engine | compile ms | us/token | tokens walked |");
    println!("|---|---|---|---|---|---|");
    let demo_json: Value = serde_json::from_str(&std::fs::read_to_string(format!("{DEMO}/tokenizer.json")).unwrap()).unwrap();
    let synthetic = synthetic_tokenizer_json(151_935);
    let schemas = [("DeepFabric conversation", deepfabric_schema()), ("tool call", tool_schema()), ("long array", long_schema())];
    for (vname, tj) in [("demo (2,608)", &demo_json), ("synthetic (151,936)", &synthetic)] {
        let tokenizer = tokenizers::Tokenizer::from_bytes(serde_json::to_vec(tj).unwrap()).expect("tokenizer");
        let words = token_bytes(tj).expect("byte-level vocabulary");
        let eos = tokenizer.token_to_id("<|im_end|>").unwrap();
        let engine = GrammarEngine::new(tj, &tokenizer, words.len(), &[eos], "").unwrap();
        for (sname, schema) in &schemas {
            let runs: Vec<EngineCost> = (0..ROUNDS).map(|_| llguidance_cost(&engine, schema, words.len(), eos, 300)).collect();
            let (ms, us) = (median(runs.iter().map(|r| r.compile_ms).collect()), median(runs.iter().map(|r| r.us_per_token).collect()));
            println!("| {vname} | {sname} | llguidance | {ms:.1} | {us:.1} | {} |", runs[0].tokens);
            match (0..ROUNDS).map(|_| outlines_cost(&words, eos, schema, 300)).collect::<Result<Vec<_>, _>>() {
                Ok(runs) => {
                    let (ms, us) = (median(runs.iter().map(|r| r.compile_ms).collect()), median(runs.iter().map(|r| r.us_per_token).collect()));
                    println!("| {vname} | {sname} | outlines-core | {ms:.1} | {us:.1} | {} |", runs[0].tokens);
                }
                Err(e) => println!("| {vname} | {sname} | outlines-core | failed: {e} | | |"),
            }
        }
    }
}
