//! Finds a model's files: a local HuggingFace-layout folder or a snapshot in the offline HF cache.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ChatArch, LoadError, LoadResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat(ChatArch),
    Embedding,
}

#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    /// The model argument as given (a folder or an HF id).
    pub arg: String,
    /// The id answers and /v1/models carry: the argument, or the name it is served as (`served_as`).
    pub id: String,
    pub kind: ModelKind,
    pub config: Value,
    pub tokenizer: PathBuf,
    /// Null when the folder has no tokenizer_config.json / generation_config.json.
    pub tokenizer_config: Value,
    pub generation_config: Value,
}

fn err(msg: impl Into<String>) -> LoadError {
    LoadError(msg.into())
}

pub fn read_json(path: &Path) -> LoadResult<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("{}: cannot read: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| err(format!("{}: invalid JSON: {e}", path.display())))
}

fn read_optional_json(path: &Path) -> LoadResult<Value> {
    if path.exists() {
        read_json(path)
    } else {
        Ok(Value::Null)
    }
}

/// HF cache root, honouring HF_HUB_CACHE and HF_HOME like the Python client.
fn hf_cache_root() -> PathBuf {
    if let Ok(p) = std::env::var("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Ok(p) = std::env::var("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".cache/huggingface/hub")
}

/// `org/name` -> `<cache>/models--org--name/snapshots/<rev>`, the revision refs/main points at when present.
pub fn resolve_model_dir(arg: &str) -> LoadResult<PathBuf> {
    let p = Path::new(arg);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    let repo = hf_cache_root().join(format!("models--{}", arg.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
        let d = snapshots.join(rev.trim());
        if d.is_dir() {
            return Ok(d);
        }
    }
    if let Ok(entries) = std::fs::read_dir(&snapshots) {
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        if let Some(d) = dirs.pop() {
            return Ok(d);
        }
    }
    Err(err(format!(
        "model `{arg}`: not a local folder and not in the HuggingFace cache ({}); downloading is not available \
         (this node runs offline): fetch it with `huggingface-cli download {arg}` on a connected machine",
        snapshots.display()
    )))
}

pub fn detect_kind(config: &Value, config_path: &Path) -> LoadResult<ModelKind> {
    let archs: Vec<&str> = config
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or("");
    for a in &archs {
        match *a {
            "LlamaForCausalLM" => return Ok(ModelKind::Chat(ChatArch::Llama)),
            "MistralForCausalLM" => return Ok(ModelKind::Chat(ChatArch::Mistral)),
            "Qwen2ForCausalLM" => return Ok(ModelKind::Chat(ChatArch::Qwen2)),
            a if a.starts_with("Bert") => return Ok(ModelKind::Embedding),
            _ => {}
        }
    }
    match model_type {
        "llama" => Ok(ModelKind::Chat(ChatArch::Llama)),
        "mistral" => Ok(ModelKind::Chat(ChatArch::Mistral)),
        "qwen2" => Ok(ModelKind::Chat(ChatArch::Qwen2)),
        "bert" => Ok(ModelKind::Embedding),
        _ => Err(err(format!(
            "{}: unsupported architecture: field `architectures` = {:?}, field `model_type` = {:?}; supported: \
             LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (chat), Bert* (embeddings)",
            config_path.display(),
            archs,
            model_type
        ))),
    }
}

/// The safetensors shards: from model.safetensors.index.json when present, else every *.safetensors.
pub fn weight_files(dir: &Path) -> LoadResult<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let v = read_json(&index)?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| err(format!("{}: field `weight_map` missing or not an object", index.display())))?;
        let mut files: Vec<PathBuf> = map.values().filter_map(Value::as_str).map(|f| dir.join(f)).collect();
        files.sort();
        files.dedup();
        for f in &files {
            if !f.exists() {
                return Err(err(format!("{}: names shard {} which is missing", index.display(), f.display())));
            }
        }
        return Ok(files);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(format!(
            "{}: no *.safetensors weights (pytorch_model.bin is not supported; convert to safetensors)",
            dir.display()
        )));
    }
    Ok(files)
}

impl ModelFiles {
    pub fn open(arg: &str) -> LoadResult<Self> {
        Self::open_inner(arg, true)
    }

    /// For benchmarks of random weights: config.json is enough.
    pub fn open_config_only(arg: &str) -> LoadResult<Self> {
        Self::open_inner(arg, false)
    }

    fn open_inner(arg: &str, need_tokenizer: bool) -> LoadResult<Self> {
        let dir = resolve_model_dir(arg)?;
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            return Err(err(format!("{}: missing (every model folder needs config.json)", config_path.display())));
        }
        let config = read_json(&config_path)?;
        let kind = detect_kind(&config, &config_path)?;
        let tokenizer = dir.join("tokenizer.json");
        if need_tokenizer && !tokenizer.exists() {
            return Err(err(format!("{}: missing (a fast tokenizer file is required)", tokenizer.display())));
        }
        Ok(Self {
            tokenizer_config: read_optional_json(&dir.join("tokenizer_config.json"))?,
            generation_config: read_optional_json(&dir.join("generation_config.json"))?,
            dir,
            arg: arg.to_string(),
            id: arg.to_string(),
            kind,
            config,
            tokenizer,
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Deserialize config.json into `T`, naming the file and field on failure.
    pub fn parse_config<T: serde::de::DeserializeOwned>(&self) -> LoadResult<T> {
        serde_path_to_error::deserialize(&self.config)
            .map_err(|e| err(format!("{}: field `{}`: {}", self.config_path().display(), e.path(), e.inner())))
    }

    /// Serves the model under `name` (--served-model-name): answers carry it, and it names the model besides the
    /// argument and the folder's name. A gateway that routes an alias to this node then gets its own id back, not
    /// the path the node happened to be started with.
    pub fn served_as(mut self, name: Option<&str>) -> Self {
        if let Some(name) = name {
            self.id = name.to_string();
        }
        self
    }

    /// Names clients may use for this model (besides "default"): the id, the argument, the folder's last component.
    pub fn aliases(&self) -> Vec<String> {
        let mut v = vec![self.id.clone()];
        let folder = Path::new(self.arg.trim_end_matches('/')).file_name().and_then(|s| s.to_str());
        for name in [Some(self.arg.as_str()), folder].into_iter().flatten() {
            if !v.iter().any(|a| a == name) {
                v.push(name.to_string());
            }
        }
        v
    }
}
