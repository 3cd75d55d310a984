//! Tool-call parsing for the formats models emit, into OpenAI tool calls (arguments as a JSON string):
//! Qwen/Hermes `<tool_call>{...}</tool_call>`, Llama 3.x bare JSON or `<|python_tag|>`, Mistral `[TOOL_CALLS]`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// A JSON object, serialized, as OpenAI sends it.
    pub arguments: String,
}

const MARKERS: [&str; 3] = ["<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"];

fn call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut r = crate::models::random::Rng::new(t ^ n.rotate_left(32));
    format!("call_{:016x}", r.next_u64())
}

fn to_call(v: &Value) -> Option<ToolCall> {
    let obj = v.as_object()?;
    let (name, args) = if let Some(f) = obj.get("function").and_then(Value::as_object) {
        (f.get("name")?, f.get("arguments").or_else(|| f.get("parameters")))
    } else {
        (obj.get("name")?, obj.get("arguments").or_else(|| obj.get("parameters")))
    };
    let arguments = match args {
        None => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    Some(ToolCall { id: call_id(), name: name.as_str()?.to_string(), arguments })
}

/// Parses consecutive JSON values separated by whitespace, `;` or `,`; stops at the first non-JSON text.
fn json_values(mut s: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == ';' || c == ',');
        if s.is_empty() {
            break;
        }
        let mut it = serde_json::Deserializer::from_str(s).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) => {
                let used = it.byte_offset();
                out.push(v);
                s = &s[used..];
            }
            _ => break,
        }
    }
    out
}

fn calls_from_values(vals: Vec<Value>) -> Vec<ToolCall> {
    vals.iter()
        .flat_map(|v| match v {
            Value::Array(a) => a.iter().filter_map(to_call).collect::<Vec<_>>(),
            v => to_call(v).into_iter().collect(),
        })
        .collect()
}

/// Parses a complete model output. Returns (content before the calls, calls); no calls -> None.
pub fn parse_tool_calls(text: &str) -> Option<(String, Vec<ToolCall>)> {
    // Qwen / Hermes.
    if let Some(start) = text.find("<tool_call>") {
        let content = text[..start].trim_end().to_string();
        let mut calls = Vec::new();
        for part in text[start..].split("<tool_call>").skip(1) {
            let body = part.split("</tool_call>").next().unwrap_or("");
            calls.extend(calls_from_values(json_values(body)));
        }
        return (!calls.is_empty()).then_some((content, calls));
    }
    // Mistral: `[TOOL_CALLS] [{"name":..,"arguments":..}]` or `[TOOL_CALLS]name[ARGS]{...}` (newer tokenizers).
    if let Some(start) = text.find("[TOOL_CALLS]") {
        let content = text[..start].trim_end().to_string();
        let rest = &text[start + "[TOOL_CALLS]".len()..];
        let mut calls = Vec::new();
        if rest.contains("[ARGS]") {
            for seg in rest.split("[TOOL_CALLS]") {
                if let Some((name, args)) = seg.split_once("[ARGS]") {
                    if let Some(v) = json_values(args).into_iter().next() {
                        calls.push(ToolCall { id: call_id(), name: name.trim().to_string(), arguments: v.to_string() });
                    }
                }
            }
        } else {
            calls = calls_from_values(json_values(rest));
        }
        return (!calls.is_empty()).then_some((content, calls));
    }
    // Llama 3.x: `<|python_tag|>{...}` or a bare JSON object `{"name": .., "parameters": ..}`.
    let (content, body) = match text.find("<|python_tag|>") {
        Some(i) => (text[..i].trim_end().to_string(), &text[i + "<|python_tag|>".len()..]),
        None => (String::new(), text),
    };
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let calls = calls_from_values(json_values(trimmed));
        if !calls.is_empty() {
            return Some((content, calls));
        }
    }
    None
}

/// Streaming side: passes content through until a tool-call marker (or a leading `{`) appears, then buffers the
/// rest to parse at the end of the sequence.
pub struct ToolStream {
    enabled: bool,
    pending: String,
    buffering: bool,
    emitted_any: bool,
}

impl ToolStream {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, pending: String::new(), buffering: false, emitted_any: false }
    }

    /// Returns content that is safe to emit now.
    pub fn push(&mut self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        self.pending.push_str(text);
        if self.buffering {
            return String::new();
        }
        if !self.emitted_any && self.pending.trim_start().starts_with(['{', '[']) {
            self.buffering = true;
            return String::new();
        }
        if let Some(at) = MARKERS.iter().filter_map(|m| self.pending.find(m)).min() {
            let out: String = self.pending.drain(..at).collect();
            self.buffering = true;
            self.emitted_any |= !out.is_empty();
            return out;
        }
        let mut hold = 0;
        for m in MARKERS {
            for i in 1..m.len() {
                if self.pending.ends_with(&m[..i]) {
                    hold = hold.max(i);
                }
            }
        }
        // Leading whitespace stays pending so that a following `{` still counts as the start of the output.
        if !self.emitted_any && self.pending.trim().is_empty() {
            return String::new();
        }
        let cut = self.pending.len() - hold;
        let out: String = self.pending.drain(..cut).collect();
        self.emitted_any |= !out.is_empty();
        out
    }

    /// End of sequence: (remaining content, tool calls).
    pub fn finish(&mut self) -> (String, Vec<ToolCall>) {
        let rest = std::mem::take(&mut self.pending);
        if self.enabled && self.buffering {
            if let Some((content, calls)) = parse_tool_calls(&rest) {
                return (content, calls);
            }
        }
        (rest, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &ToolCall) -> Value {
        serde_json::from_str(&c.arguments).unwrap()
    }

    #[test]
    fn hermes_qwen() {
        let t = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        let (content, calls) = parse_tool_calls(t).unwrap();
        assert_eq!(content, "Let me check.");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "get_weather");
        assert_eq!(args(&calls[0])["city"], "Paris");
        assert_eq!(calls[1].name, "get_time");
        assert!(calls[0].id.starts_with("call_") && calls[0].id != calls[1].id);
    }

    #[test]
    fn llama3_json_and_python_tag() {
        let (_, calls) = parse_tool_calls("{\"name\": \"search\", \"parameters\": {\"q\": \"rust\"}}").unwrap();
        assert_eq!(calls[0].name, "search");
        assert_eq!(args(&calls[0])["q"], "rust");
        let (_, calls) =
            parse_tool_calls("<|python_tag|>{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {}}")
                .unwrap();
        assert_eq!(calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(args(&calls[0])["x"], 1);
    }

    #[test]
    fn mistral_both_forms() {
        let (_, calls) =
            parse_tool_calls("[TOOL_CALLS] [{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}]").unwrap();
        assert_eq!(calls[0].name, "add");
        assert_eq!(args(&calls[0])["b"], 2);
        let (_, calls) = parse_tool_calls("[TOOL_CALLS]add[ARGS]{\"a\": 3}").unwrap();
        assert_eq!((calls[0].name.as_str(), args(&calls[0])["a"].as_i64()), ("add", Some(3)));
    }

    #[test]
    fn plain_text_is_not_a_call() {
        assert!(parse_tool_calls("The answer is 42.").is_none());
        assert!(parse_tool_calls("{not json").is_none());
        assert!(parse_tool_calls("{\"no_name\": 1}").is_none());
    }

    #[test]
    fn streaming_splits_content_and_calls() {
        let mut s = ToolStream::new(true);
        let mut content = String::new();
        for piece in ["Sure", ", one moment.", "\n<tool", "_call>\n{\"name\": \"f\",", " \"arguments\": {\"k\": \"v\"}}", "</tool_call>"] {
            content.push_str(&s.push(piece));
        }
        let (rest, calls) = s.finish();
        assert_eq!(content, "Sure, one moment.\n");
        assert_eq!(rest, "");
        assert_eq!(calls[0].name, "f");
        let mut s = ToolStream::new(true);
        let mut content = String::new();
        for piece in ["Use <to", "ols wisely"] {
            content.push_str(&s.push(piece));
        }
        content.push_str(&s.finish().0);
        assert_eq!(content, "Use <tools wisely");
        // A leading JSON object that is not a call comes back as content.
        let mut s = ToolStream::new(true);
        assert_eq!(s.push("{\"a\": 1}"), "");
        assert_eq!(s.finish(), ("{\"a\": 1}".to_string(), vec![]));
    }
}
