//! Reads `response_format`, `tools` and `tool_choice` into the grammar the output must follow, with OpenAI-style
//! errors that name the field at fault.

use serde_json::Value;

use super::errors::ApiError;
use crate::engine::grammar::{GrammarSpec, ToolSpec};

/// What `tool_choice` asks of the model.
#[derive(Debug, PartialEq)]
pub enum ToolChoice {
    None,
    Auto,
    Required,
    Named(String),
}

pub fn tool_choice(v: Option<&Value>) -> Result<ToolChoice, ApiError> {
    let bad = || {
        ApiError::invalid(
            "tool_choice",
            "`tool_choice` must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
        )
    };
    match v {
        None | Some(Value::Null) => Ok(ToolChoice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Some(Value::Object(o)) => {
            let name = o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str).ok_or_else(bad)?;
            Ok(ToolChoice::Named(name.to_string()))
        }
        Some(_) => Err(bad()),
    }
}

/// The function tools of the request, each with its parameter schema.
fn tool_specs(tools: &[Value]) -> Result<Vec<ToolSpec>, ApiError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let f = t.get("function").ok_or_else(|| ApiError::invalid(format!("tools[{i}].function"), "missing `function`"))?;
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::invalid(format!("tools[{i}].function.name"), "missing `name`"))?;
            let parameters = match f.get("parameters") {
                None | Some(Value::Null) => Value::Null,
                Some(p @ Value::Object(_)) => p.clone(),
                Some(_) => {
                    return Err(ApiError::invalid(format!("tools[{i}].function.parameters"), "`parameters` must be a JSON Schema object"))
                }
            };
            Ok(ToolSpec { name: name.to_string(), parameters })
        })
        .collect()
}

/// The schema `response_format` asks for: Some(None) for any JSON object, None for free text.
fn json_format(v: Option<&Value>) -> Result<Option<Option<Value>>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    match v.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(None)),
        Some("json_schema") => match v.get("json_schema").and_then(|j| j.get("schema")) {
            None | Some(Value::Null) => Ok(Some(None)),
            Some(s @ (Value::Object(_) | Value::Bool(_))) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(ApiError::invalid("response_format.json_schema.schema", "`schema` must be a JSON Schema object")),
        },
        _ => Err(ApiError::invalid(
            "response_format.type",
            "`response_format.type` must be \"text\", \"json_object\" or \"json_schema\"",
        )),
    }
}

/// The grammar for this request, if it needs one. `tools` is None when tool_choice is "none" or none are given;
/// `parallel` is `parallel_tool_calls` (default true): whether a forced answer may hold several calls.
pub fn grammar_spec(
    response_format: Option<&Value>,
    tools: Option<&[Value]>,
    choice: &ToolChoice,
    parallel: bool,
) -> Result<Option<GrammarSpec>, ApiError> {
    let specs = tool_specs(tools.unwrap_or_default())?;
    let forced = match choice {
        ToolChoice::Required => Some(specs.clone()),
        ToolChoice::Named(name) => {
            let named: Vec<ToolSpec> = specs.iter().filter(|t| &t.name == name).cloned().collect();
            if named.is_empty() {
                return Err(ApiError::invalid("tool_choice", format!("`tool_choice` names `{name}`, which is not among `tools`")));
            }
            Some(named)
        }
        ToolChoice::None | ToolChoice::Auto => None,
    };
    if let Some(tools) = forced {
        if tools.is_empty() {
            return Err(ApiError::invalid("tool_choice", "`tool_choice` forces a tool call but `tools` is empty"));
        }
        let single = matches!(choice, ToolChoice::Named(_)) || !parallel;
        return Ok(Some(GrammarSpec::ToolCalls { tools, single }));
    }
    Ok(json_format(response_format)?.map(|schema| GrammarSpec::Json { schema, tools: specs }))
}
