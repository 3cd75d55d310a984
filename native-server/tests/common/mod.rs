//! Shared test fixtures: tiny models (committed configs + a tokenizer and seeded random weights written here),
//! and a handle on the real `fastllm` binary serving them on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// Special tokens of all three chat formats; ids 300.. in this order (vocab_size 321 in the fixture configs).
pub const SPECIALS: [&str; 21] = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",
    "<|python_tag|>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]",
];

/// GPT-2's byte -> printable-char table used by byte-level BPE.
fn byte_chars() -> Vec<char> {
    let mut printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut out = vec!['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            out[b as usize] = char::from_u32(256 + extra).unwrap();
            extra += 1;
        } else {
            out[b as usize] = char::from_u32(b).unwrap();
        }
    }
    out
}

/// A real byte-level BPE tokenizer.json: 256 byte tokens, 44 merges, 21 special tokens.
pub fn chat_tokenizer_json() -> Value {
    let bc = byte_chars();
    let mut vocab = Map::new();
    for b in 0..256 {
        vocab.insert(bc[b].to_string(), json!(b));
    }
    let sp = bc[b' ' as usize];
    let mut merges: Vec<(String, String)> = vec![
        (sp.to_string(), "t".into()),
        ("h".into(), "e".into()),
        (format!("{sp}t"), "he".into()),
        (sp.to_string(), "a".into()),
        (sp.to_string(), "w".into()),
        ("i".into(), "n".into()),
    ];
    let letters = "etaoinshrd";
    'outer: for a in letters.chars() {
        for b in letters.chars() {
            if merges.len() == 44 {
                break 'outer;
            }
            let pair = (a.to_string(), b.to_string());
            if a != b && !merges.contains(&pair) {
                merges.push(pair);
            }
        }
    }
    for (i, (a, b)) in merges.iter().enumerate() {
        vocab.insert(format!("{a}{b}"), json!(256 + i));
    }
    assert_eq!(vocab.len(), 300);
    let added: Vec<Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let special = !matches!(*s, "<tool_call>" | "</tool_call>");
            json!({"id": 300 + i, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": special})
        })
        .collect();
    let bl = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added, "normalizer": null,
        "pre_tokenizer": bl, "post_processor": bl, "decoder": bl,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges.iter().map(|(a, b)| format!("{a} {b}")).collect::<Vec<_>>()}
    })
}

pub const BERT_WORDS: [&str; 39] = [
    "the", "an", "cat", "dog", "sat", "on", "mat", "car", "drove", "road", "is", "are", "and", "of", "to", "in",
    "it", "was", "for", "with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by",
    "hot", "word", "but", "what", "some", "we", "can",
];

/// A real WordPiece (BERT) tokenizer.json of 96 tokens.
pub fn bert_tokenizer_json() -> Value {
    let mut vocab = Map::new();
    let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    let mut words: Vec<String> = specials.iter().map(|s| s.to_string()).collect();
    words.extend(('a'..='z').map(|c| c.to_string()));
    words.extend(('a'..='z').map(|c| format!("##{c}")));
    words.extend(BERT_WORDS.iter().map(|s| s.to_string()));
    for (i, w) in words.iter().enumerate() {
        vocab.insert(w.clone(), json!(i));
    }
    assert_eq!(vocab.len(), 96);
    let added: Vec<Value> = specials
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    let st = |s: &str| json!({"SpecialToken": {"id": s, "type_id": 0}});
    let seq = |s: &str, t: u32| json!({"Sequence": {"id": s, "type_id": t}});
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [st("[CLS]"), seq("A", 0), st("[SEP]")],
            "pair": [st("[CLS]"), seq("A", 0), st("[SEP]"), seq("B", 1), {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

pub fn fixture_dir(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(arch)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "fastllm-test-{}-{}-{}",
        name,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Copies a committed fixture folder, adds its tokenizer and seeded random weights: a loadable tiny model.
pub fn tiny_model(arch: &str) -> PathBuf {
    let dir = scratch_dir(arch).join(arch);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixture_dir(arch)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let tok = if arch == "bert" { bert_tokenizer_json() } else { chat_tokenizer_json() };
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_string(&tok).unwrap()).unwrap();
    fastllm::models::random::write_random_weights(&dir, 42).unwrap();
    dir
}

pub struct Server {
    child: Child,
    pub base: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Spawns the real binary; does not wait for readiness.
    pub fn spawn(args: &[&str]) -> Server {
        Self::spawn_env(args, &[])
    }

    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fastllm"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--device", "cpu"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fastllm");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Server { child, base: format!("http://127.0.0.1:{port}"), stderr }
    }

    /// Spawns and waits for /health to answer 200.
    pub fn start(args: &[&str]) -> Server {
        let s = Server::spawn(args);
        s.wait_ready();
        s
    }

    pub fn wait_ready(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = ureq::get(&format!("{}/health", self.base)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("server not ready; stderr:\n{}", self.stderr.lock().unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST JSON; returns (status, parsed body) for 2xx and error statuses alike.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string())
    }

    pub fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let r = ureq::post(&self.url(path)).set("content-type", "application/json").send_string(body);
        match r {
            Ok(resp) => (resp.status(), resp.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("transport error: {e}"),
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        match ureq::get(&self.url(path)).call() {
            Ok(resp) => (resp.status(), resp.into_string().unwrap()),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_string().unwrap()),
            Err(e) => panic!("transport error: {e}"),
        }
    }

    /// POST with stream=true; yields the `data:` payloads as they arrive (including "[DONE]").
    pub fn stream_iter(&self, body: &Value) -> impl Iterator<Item = String> {
        let resp = ureq::post(&self.url("/v1/chat/completions"))
            .set("content-type", "application/json")
            .send_string(&body.to_string())
            .expect("stream request");
        BufReader::new(resp.into_reader())
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("data:").map(|s| s.trim().to_string()))
    }

    /// POST with stream=true; returns the `data:` payloads in order (including "[DONE]").
    pub fn stream(&self, body: &Value) -> Vec<String> {
        let resp = ureq::post(&self.url("/v1/chat/completions"))
            .set("content-type", "application/json")
            .send_string(&body.to_string())
            .expect("stream request");
        assert_eq!(resp.status(), 200);
        assert!(resp.header("content-type").unwrap_or("").starts_with("text/event-stream"));
        let mut text = String::new();
        resp.into_reader().read_to_string(&mut text).unwrap();
        text.lines().filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))).map(|s| s.trim().to_string()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a streamed chunk's delta, if it carries any.
pub fn delta_text(data: &str) -> Option<String> {
    let v: Value = serde_json::from_str(data).ok()?;
    v["choices"][0]["delta"]["content"].as_str().filter(|t| !t.is_empty()).map(String::from)
}

/// A counter or gauge from /metrics text.
pub fn metric(text: &str, name: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

pub fn chat_body(content: &str, extra: Value) -> Value {
    let mut b = json!({"model": "default", "messages": [{"role": "user", "content": content}]});
    if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    b
}

/// Checks `instance` against `schema` with an independent JSON Schema validator (not the node's grammar engine).
pub fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::validator_for(schema).expect("test schema compiles");
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{what}: {instance} does not match its schema: {errors:?}");
}
