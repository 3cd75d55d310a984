//! The bundled demo model, loaded from the repo by the real binary: it chats and stops on its own, calls tools
//! when tools fit, and with constrained decoding answers JSON that validates (DeepFabric-shaped schemas too).

mod common;

use common::{assert_valid, chat_body, Server};
use serde_json::{json, Value};

fn demo() -> Server {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/demo-model/heddle-demo");
    Server::start(&["--model", dir])
}

const WEATHER: &str = r#"[{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"]}}}]"#;

#[test]
fn plain_chat_answers_text_and_stops_before_max_tokens() {
    let s = demo();
    let (st, v) = s.post("/v1/chat/completions", &chat_body("Hello! How are you?", json!({"max_tokens": 200, "temperature": 0})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    assert!(!v["choices"][0]["message"]["content"].as_str().unwrap().trim().is_empty(), "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() < 200);
}

#[test]
fn a_tools_request_gets_a_tool_call_on_its_own_and_when_forced() {
    let s = demo();
    let tools: Value = serde_json::from_str(WEATHER).unwrap();
    for choice in [json!("auto"), json!("required"), json!({"type": "function", "function": {"name": "get_weather"}})] {
        let body = chat_body("What is the weather in Paris?", json!({"max_tokens": 200, "temperature": 0, "tools": tools, "tool_choice": choice}));
        let (st, v) = s.post("/v1/chat/completions", &body);
        assert_eq!(st, 200, "{choice}: {v}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{choice}: {v}");
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather", "{choice}: {v}");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_valid(&tools[0]["function"]["parameters"], &args, &format!("{choice}"));
    }
}

#[test]
fn json_schema_requests_get_valid_json_deepfabric_shapes_included() {
    let s = demo();
    let schemas = [
        json!({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"],
               "additionalProperties": false}),
        // DeepFabric's topic and conversation models: $defs/$ref, nullable anyOf, enums, min/max items.
        json!({"type": "object", "title": "Subtopics", "properties": {"subtopics": {"type": "array", "items": {"type": "string"},
               "minItems": 2, "maxItems": 2}}, "required": ["subtopics"], "additionalProperties": false}),
        json!({"$defs": {"Message": {"type": "object", "properties": {
                   "role": {"type": "string", "enum": ["user", "assistant"]}, "content": {"type": "string"}},
                   "required": ["role", "content"], "additionalProperties": false}},
               "type": "object", "properties": {
                   "messages": {"type": "array", "items": {"$ref": "#/$defs/Message"}, "minItems": 2, "maxItems": 2},
                   "reasoning": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
               "required": ["messages", "reasoning"], "additionalProperties": false}),
    ];
    for schema in schemas {
        let body = chat_body(
            "Write a short conversation about saving money, as JSON.",
            json!({"max_tokens": 400, "temperature": 0.7, "seed": 7,
                   "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": true}}}),
        );
        let (st, v) = s.post("/v1/chat/completions", &body);
        assert_eq!(st, 200, "{schema}: {v}");
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
        let text = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert_valid(&schema, &serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}")), "demo json_schema");
    }
}
