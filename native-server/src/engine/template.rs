//! The model's own chat template (tokenizer_config.json `chat_template`), rendered with minijinja and Python
//! string methods, tools included.

use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value;

pub struct ChatTemplate {
    env: Environment<'static>,
    pub source: String,
    bos: String,
    eos: String,
}

/// Used only when a folder has no template: plain ChatML.
const FALLBACK: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// A token entry in tokenizer_config.json is either a string or `{"content": ...}`.
pub fn token_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    }
}

/// `chat_template` is a string or a list of `{name, template}`; "default" (or the first) is used for chat.
pub fn template_source(tokenizer_config: &Value) -> Option<String> {
    match tokenizer_config.get("chat_template")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => {
            let named = |n: &str| {
                a.iter().find(|t| t.get("name").and_then(Value::as_str) == Some(n)).and_then(|t| t.get("template"))
            };
            named("default").or_else(|| a.first().and_then(|t| t.get("template"))).and_then(Value::as_str).map(String::from)
        }
        _ => None,
    }
}

/// strftime_now for the formats templates use (Llama 3.1: "%d %b %Y"), from the system clock in UTC.
fn strftime_now(fmt: String) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const FULL: [&str; 12] = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
        "December",
    ];
    fmt.replace("%d", &format!("{d:02}"))
        .replace("%b", MONTHS[(m - 1) as usize])
        .replace("%B", FULL[(m - 1) as usize])
        .replace("%m", &format!("{m:02}"))
        .replace("%Y", &y.to_string())
}

impl ChatTemplate {
    pub fn new(tokenizer_config: &Value) -> Result<Self, String> {
        let source = template_source(tokenizer_config).unwrap_or_else(|| FALLBACK.to_string());
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        minijinja_contrib::add_to_environment(&mut env);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned("chat", source.clone())
            .map_err(|e| format!("tokenizer_config.json: field `chat_template` does not compile: {e}"))?;
        Ok(Self {
            env,
            source,
            bos: token_text(tokenizer_config.get("bos_token")),
            eos: token_text(tokenizer_config.get("eos_token")),
        })
    }

    /// Renders OpenAI-shaped messages (and tools) into the prompt text, ending with the assistant header.
    pub fn render(&self, messages: &[Value], tools: Option<&[Value]>) -> Result<String, String> {
        let tmpl = self.env.get_template("chat").map_err(|e| e.to_string())?;
        let ctx = minijinja::context! {
            messages => minijinja::Value::from_serialize(messages),
            tools => tools.map(minijinja::Value::from_serialize),
            add_generation_prompt => true,
            bos_token => self.bos.clone(),
            eos_token => self.eos.clone(),
        };
        tmpl.render(ctx).map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            msg
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_methods_and_tools_render() {
        let cfg = json!({
            "bos_token": {"content": "<s>"},
            "chat_template": "{{ bos_token }}{% if tools %}TOOLS:{{ tools | tojson }}\n{% endif %}{% for m in messages %}{{ m.role.upper() }}: {{ m.content.strip() }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
        });
        let t = ChatTemplate::new(&cfg).unwrap();
        let out = t.render(&[json!({"role": "user", "content": "  hi  "})], None).unwrap();
        assert_eq!(out, "<s>USER: hi\nASSISTANT:");
        let tools = [json!({"type": "function", "function": {"name": "f"}})];
        assert!(t.render(&[json!({"role": "user", "content": "x"})], Some(&tools)).unwrap().contains("\"name\":\"f\""));
    }

    #[test]
    fn raise_exception_surfaces() {
        let t = ChatTemplate::new(&json!({"chat_template": "{{ raise_exception('roles must alternate') }}"})).unwrap();
        assert!(t.render(&[], None).unwrap_err().contains("roles must alternate"));
        assert!(strftime_now("%d %b %Y".into()).len() == 11);
    }
}
