//! The embedding actor: one thread owns the BERT model; jobs arrive on a bounded channel with their own reply.

use std::sync::Arc;

use super::SubmitError;
use crate::metrics::Metrics;
use crate::models::Embedder;

type Reply = tokio::sync::oneshot::Sender<Result<(Vec<Vec<f32>>, usize), String>>;

struct Job {
    texts: Vec<String>,
    reply: Reply,
}

#[derive(Clone)]
pub struct EmbedHandle {
    tx: std::sync::mpsc::SyncSender<Job>,
    pub id: String,
    pub aliases: Vec<String>,
    pub dim: usize,
    pub max_tokens: usize,
    metrics: Arc<Metrics>,
}

impl EmbedHandle {
    pub fn spawn(embedder: Embedder, id: String, aliases: Vec<String>, queue: usize, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(queue.max(1));
        let (dim, max_tokens) = (embedder.dim, embedder.max_tokens);
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("fastllm-embedder".into())
            .spawn(move || {
                for job in rx {
                    if job.reply.is_closed() {
                        m.cancelled();
                        continue;
                    }
                    let out = embedder.embed(&job.texts).map_err(|e| e.to_string());
                    if let Ok((_, tokens)) = &out {
                        m.record_embedding(*tokens);
                    }
                    let _ = job.reply.send(out);
                }
            })
            .expect("spawn embedder thread");
        Self { tx, id, aliases, dim, max_tokens, metrics }
    }

    pub fn submit(
        &self,
        texts: Vec<String>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<(Vec<Vec<f32>>, usize), String>>, SubmitError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        match self.tx.try_send(Job { texts, reply }) {
            Ok(()) => Ok(rx),
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                self.metrics.queue_rejected();
                Err(SubmitError::QueueFull(0))
            }
            Err(_) => Err(SubmitError::Stopped),
        }
    }
}
