//! `fastllm serve`: binds first (so /health can say 503 while loading), then loads models on a plain thread.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use crate::engine::{ChatHandle, ChatModel, EmbedHandle, EngineConfig};
use crate::http::{self, AppState, Loaded};
use crate::metrics::Metrics;
use crate::models::{self, device::device_name, DeviceChoice, DtypeChoice, Embedder, LoadError, ModelFiles, ModelKind};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub model: Option<String>,
    /// The id `model` is served as (answers, /v1/models); its argument and folder name still name it.
    pub served_model_name: Option<String>,
    pub embedding_model: Option<String>,
    pub device: DeviceChoice,
    pub dtype: DtypeChoice,
    pub host: String,
    pub port: u16,
    pub engine: EngineConfig,
    /// Caps the context below config.json's max_position_embeddings (memory per sequence).
    pub max_context: Option<usize>,
    /// Test hook: hold the loaded models back this long, so tests can observe /health = 503.
    pub load_delay_ms: u64,
}

/// Checks the folders before anything binds: a broken folder fails fast with the file and field named.
fn open_all(cfg: &ServeConfig) -> Result<(Option<ModelFiles>, Option<ModelFiles>), LoadError> {
    let main = cfg.model.as_deref().map(ModelFiles::open).transpose()?.map(|f| f.served_as(cfg.served_model_name.as_deref()));
    let emb = cfg.embedding_model.as_deref().map(ModelFiles::open).transpose()?;
    if let Some(e) = &emb {
        if e.kind != ModelKind::Embedding {
            return Err(LoadError(format!("--embedding-model {}: {} is not a BERT-family model", e.id, e.config_path().display())));
        }
    }
    if main.is_none() && emb.is_none() {
        return Err(LoadError("give --model and/or --embedding-model".into()));
    }
    // Parse configs now so that a missing field is reported before the server starts.
    for f in main.iter().chain(emb.iter()) {
        models::random::shapes_for(f)?;
    }
    Ok((main, emb))
}

fn load_all(cfg: &ServeConfig, main: Option<ModelFiles>, emb: Option<ModelFiles>, metrics: Arc<Metrics>) -> Result<Loaded, LoadError> {
    let device = models::select_device(cfg.device).map_err(LoadError)?;
    let dtype = models::select_dtype(cfg.dtype, &device);
    tracing::info!(device = device_name(&device), ?dtype, "selected device");
    let mut loaded = Loaded { chat: None, embed: None };
    let queue = cfg.engine.max_waiting + cfg.engine.max_running;
    for files in main.into_iter().chain(emb) {
        let t0 = std::time::Instant::now();
        match files.kind {
            ModelKind::Chat(arch) => {
                let model = ChatModel::load(files, &device, dtype, cfg.max_context)?;
                cfg.engine.kv_capacity(model.model.max_context).map_err(LoadError)?;
                tracing::info!(arch = arch.name(), id = %model.files.id, context = model.model.max_context, secs = t0.elapsed().as_secs_f64(), "chat model loaded");
                loaded.chat = Some(ChatHandle::spawn(model, &cfg.engine, metrics.clone()));
            }
            ModelKind::Embedding => {
                let e = Embedder::load(&files, &device)?;
                tracing::info!(id = %files.id, dim = e.dim, secs = t0.elapsed().as_secs_f64(), "embedding model loaded");
                loaded.embed = Some(EmbedHandle::spawn(e, files.id.clone(), files.aliases(), queue, metrics.clone()));
            }
        }
    }
    Ok(loaded)
}

pub async fn run(cfg: ServeConfig) -> anyhow::Result<()> {
    let (main, emb) = open_all(&cfg)?;
    let metrics = Arc::new(Metrics::default());
    let state = Arc::new(AppState { loaded: OnceLock::new(), metrics: metrics.clone() });
    let addr: SocketAddr = format!("{}:{}", cfg.host, cfg.port).parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening; loading models");
    let st = state.clone();
    let c = cfg.clone();
    std::thread::spawn(move || {
        match load_all(&c, main, emb, metrics) {
            Ok(l) => {
                std::thread::sleep(std::time::Duration::from_millis(c.load_delay_ms));
                let _ = st.loaded.set(l);
                tracing::info!("ready");
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    });
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
