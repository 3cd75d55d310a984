//! POST /v1/chat/completions: validation, prompt building, and OpenAI response/stream shapes.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{parse_body, ApiError};
use super::structured::{grammar_spec, tool_choice, ToolChoice};
use super::{is_alias, new_id, now_secs, AppState};
use crate::engine::{Event, FinishReason, GenerateRequest, SamplingParams, SubmitError, ToolCall, Usage};

#[derive(Deserialize)]
#[serde(untagged)]
pub enum StopField {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Deserialize)]
pub struct ChatRequest {
    pub model: Option<String>,
    pub messages: Vec<Value>,
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    pub seed: Option<i64>,
    pub stop: Option<StopField>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub repetition_penalty: Option<f32>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub response_format: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub n: Option<u32>,
    /// vLLM extension: keep generating past EOS (benchmarks).
    #[serde(default)]
    pub ignore_eos: bool,
    // Accepted and ignored: logprobs, user, ...
    #[serde(flatten)]
    pub _extra: serde_json::Map<String, Value>,
}

const ROLES: [&str; 5] = ["system", "user", "assistant", "tool", "developer"];

/// Checks each message and brings it to the shape templates expect: string content, tool-call arguments as
/// objects (HF templates call `tojson` on them).
fn normalize_messages(messages: &[Value]) -> Result<Vec<Value>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "`messages` must contain at least one message"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let p = |f: &str| format!("messages[{i}]{f}");
        let obj = m.as_object().ok_or_else(|| ApiError::invalid(p(""), "each message must be an object"))?;
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| ApiError::invalid(p(".role"), "missing `role`"))?;
        if !ROLES.contains(&role) {
            return Err(ApiError::invalid(p(".role"), format!("unknown role `{role}`; expected one of {ROLES:?}")));
        }
        let mut m = obj.clone();
        if role == "developer" {
            m.insert("role".into(), json!("system"));
        }
        let content = match obj.get("content") {
            None | Some(Value::Null) => {
                if role == "assistant" && obj.contains_key("tool_calls") {
                    String::new()
                } else {
                    return Err(ApiError::invalid(p(".content"), "missing `content`"));
                }
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => {
                let mut s = String::new();
                for (j, part) in parts.iter().enumerate() {
                    match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                        (Some("text"), Some(t)) => s.push_str(t),
                        _ => {
                            return Err(ApiError::invalid(
                                format!("messages[{i}].content[{j}]"),
                                "only text content parts are supported",
                            ))
                        }
                    }
                }
                s
            }
            Some(_) => return Err(ApiError::invalid(p(".content"), "`content` must be a string or an array of parts")),
        };
        m.insert("content".into(), Value::String(content));
        if let Some(Value::Array(calls)) = obj.get("tool_calls") {
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if let Some(f) = c.get_mut("function").and_then(Value::as_object_mut) {
                        if let Some(Value::String(a)) = f.get("arguments") {
                            if let Ok(v) = serde_json::from_str::<Value>(a) {
                                f.insert("arguments".into(), v);
                            }
                        }
                    }
                    c
                })
                .collect();
            m.insert("tool_calls".into(), Value::Array(calls));
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

fn range(param: &str, v: Option<f32>, lo: f32, hi: f32) -> Result<(), ApiError> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) || x.is_nan() => {
            Err(ApiError::invalid(param, format!("`{param}` must be between {lo} and {hi}, got {x}")))
        }
        _ => Ok(()),
    }
}

fn sampling(req: &ChatRequest, defaults: &SamplingParams) -> Result<SamplingParams, ApiError> {
    range("temperature", req.temperature, 0.0, 2.0)?;
    range("top_p", req.top_p, 0.0, 1.0)?;
    range("frequency_penalty", req.frequency_penalty, -2.0, 2.0)?;
    range("presence_penalty", req.presence_penalty, -2.0, 2.0)?;
    range("repetition_penalty", req.repetition_penalty, 0.01, 10.0)?;
    if req.top_p == Some(0.0) {
        return Err(ApiError::invalid("top_p", "`top_p` must be greater than 0"));
    }
    Ok(SamplingParams {
        temperature: req.temperature.unwrap_or(defaults.temperature),
        top_p: req.top_p.unwrap_or(defaults.top_p),
        top_k: match req.top_k {
            Some(k) if k > 0 => k as usize,
            Some(_) => 0,
            None => defaults.top_k,
        },
        seed: req.seed.map(|s| s as u64),
        frequency_penalty: req.frequency_penalty.unwrap_or(0.0),
        presence_penalty: req.presence_penalty.unwrap_or(0.0),
        repetition_penalty: req.repetition_penalty.unwrap_or(defaults.repetition_penalty),
    })
}

fn usage_json(u: &Usage) -> Value {
    json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
           "total_tokens": u.prompt_tokens + u.completion_tokens})
}

fn tool_calls_json(calls: &[ToolCall], with_index: bool) -> Value {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}});
                if with_index {
                    v["index"] = json!(i);
                }
                v
            })
            .collect(),
    )
}

pub async fn chat_completions(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let req: ChatRequest = parse_body(&body)?;
    let models = state.models()?;
    let requested = req.model.clone().unwrap_or_else(|| "default".into());
    let chat = match &models.chat {
        Some(c) if is_alias(&c.aliases, &requested) => c,
        _ => return Err(ApiError::model_not_found(&requested)),
    };
    if req.n.unwrap_or(1) != 1 {
        return Err(ApiError::invalid("n", "only n=1 is supported"));
    }
    let messages = normalize_messages(&req.messages)?;
    let sampling = sampling(&req, &chat.prompter.defaults)?;
    let choice = tool_choice(req.tool_choice.as_ref())?;
    let tools_on = req.tools.as_ref().is_some_and(|t| !t.is_empty()) && choice != ToolChoice::None;
    let tools = if tools_on { req.tools.as_deref() } else { None };
    let spec = grammar_spec(req.response_format.as_ref(), tools, &choice, req.parallel_tool_calls.unwrap_or(true))?;
    if spec.is_some() && chat.prompter.grammar.is_none() {
        let param = if req.response_format.is_some() { "response_format" } else { "tool_choice" };
        return Err(ApiError::invalid(param, "this model's tokenizer does not support constrained decoding"));
    }
    let prompter = chat.prompter.clone();
    let msgs = messages.clone();
    let tools_owned = tools.map(|t| t.to_vec());
    // Template rendering, tokenization and grammar compilation are CPU work: keep them off the async workers.
    let prompt = tokio::task::spawn_blocking(move || prompter.prompt_tokens(&msgs, tools_owned.as_deref()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::invalid("messages", e))?;
    let ctx = chat.context_len;
    if prompt.len() >= ctx {
        return Err(ApiError::invalid(
            "messages",
            format!("the prompt is {} tokens; this model's context is {ctx}", prompt.len()),
        )
        .with_code("context_length_exceeded"));
    }
    let (param, asked) = match (req.max_completion_tokens, req.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, m) => ("max_tokens", m),
    };
    let max_new = match asked {
        Some(0) => return Err(ApiError::invalid(param, format!("`{param}` must be at least 1"))),
        Some(m) if prompt.len() as u64 + m > ctx as u64 => {
            return Err(ApiError::invalid(
                param,
                format!("`{param}` = {m} plus the prompt's {} tokens exceeds this model's context of {ctx}", prompt.len()),
            )
            .with_code("context_length_exceeded"))
        }
        Some(m) => m as usize,
        None => ctx - prompt.len(),
    };
    let grammar = match spec {
        Some(spec) => {
            let prompter = chat.prompter.clone();
            let compiled = tokio::task::spawn_blocking(move || prompter.grammar.as_ref().map(|g| g.compile(&spec, max_new)))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            compiled.transpose().map_err(|e| ApiError::invalid(e.param, e.message))?
        }
        None => None,
    };
    let stop = match req.stop {
        None => vec![],
        Some(StopField::One(s)) => vec![s],
        Some(StopField::Many(v)) => v,
    };
    let gen = GenerateRequest {
        prompt,
        max_new_tokens: max_new,
        sampling,
        stop,
        ignore_eos: req.ignore_eos,
        tools: tools_on,
        grammar,
    };
    let rx = chat.submit(gen).map_err(|e| match e {
        SubmitError::QueueFull(_) => ApiError::overloaded(e.to_string()),
        SubmitError::Stopped => ApiError::internal(e.to_string()),
    })?;
    let id = new_id("chatcmpl");
    let model = chat.id.clone();
    if req.stream {
        let include_usage = req.stream_options.unwrap_or_default().include_usage;
        Ok(stream_response(rx, id, model, include_usage).into_response())
    } else {
        collect_response(rx, id, model).await.map(IntoResponse::into_response)
    }
}

async fn collect_response(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    id: String,
    model: String,
) -> Result<Json<Value>, ApiError> {
    let mut text = String::new();
    let mut calls = vec![];
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Content(t) => text.push_str(&t),
            Event::ToolCalls(c) => calls = c,
            Event::Error(e) => return Err(ApiError::internal(e)),
            Event::StructureIncomplete(usage) => return Err(ApiError::structure_incomplete(&usage)),
            Event::Done { finish_reason, usage } => {
                let mut message = json!({"role": "assistant", "content": text});
                if !calls.is_empty() {
                    message["tool_calls"] = tool_calls_json(&calls, false);
                    if text.is_empty() {
                        message["content"] = Value::Null;
                    }
                }
                return Ok(Json(json!({
                    "id": id, "object": "chat.completion", "created": now_secs(), "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": null,
                                 "finish_reason": finish_reason.as_str()}],
                    "usage": usage_json(&usage),
                })));
            }
        }
    }
    Err(ApiError::internal("the engine dropped the request"))
}

fn stream_response(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    id: String,
    model: String,
    include_usage: bool,
) -> Sse<tokio_stream::wrappers::ReceiverStream<Result<SseEvent, Infallible>>> {
    let (tx, out) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let created = now_secs();
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Option<FinishReason>| {
            let mut c = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish.map(FinishReason::as_str)}],
            });
            if include_usage {
                c["usage"] = Value::Null;
            }
            SseEvent::default().data(c.to_string())
        };
        if tx.send(Ok(chunk(json!({"role": "assistant", "content": ""}), None))).await.is_err() {
            return;
        }
        // A send error means the client left: returning drops `rx`, which cancels the sequence.
        while let Some(ev) = rx.recv().await {
            let sse = match ev {
                Event::Content(t) => chunk(json!({"content": t}), None),
                Event::ToolCalls(calls) => chunk(json!({"tool_calls": tool_calls_json(&calls, true)}), None),
                Event::Error(e) => {
                    let err = ApiError::internal(e).body();
                    let _ = tx.send(Ok(SseEvent::default().data(err.to_string()))).await;
                    return;
                }
                Event::StructureIncomplete(usage) => {
                    let err = ApiError::structure_incomplete(&usage).body();
                    let _ = tx.send(Ok(SseEvent::default().data(err.to_string()))).await;
                    return;
                }
                Event::Done { finish_reason, usage } => {
                    if tx.send(Ok(chunk(json!({}), Some(finish_reason)))).await.is_err() {
                        return;
                    }
                    if include_usage {
                        let u = json!({"id": id, "object": "chat.completion.chunk", "created": created,
                                       "model": model, "choices": [], "usage": usage_json(&usage)});
                        let _ = tx.send(Ok(SseEvent::default().data(u.to_string()))).await;
                    }
                    let _ = tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
                    return;
                }
            };
            if tx.send(Ok(sse)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(out))
}
