//! The uploader: drains the durable buffer to the control plane over mTLS, exactly once end to end.
//!
//! Chunks are read in sequence order and sent as `POST /v1/runner/upload` with the chunk id
//! `<runner_id>/<chunk_seq>`, or, when a backlog lets several consecutive chunks go as one upload,
//! `<runner_id>/<first>-<last>`. A chunk leaves the buffer only after a 2xx, and the control plane deduplicates by
//! chunk id and by batch, so a crash between the answer and the removal only sends it again. Concurrency adapts (AIMD on
//! latency and on 429/503/timeouts) and the limit is remembered across restarts; transient failures pause the
//! whole uploader with exponential backoff and full jitter (honouring `Retry-After`), because an outage or an
//! overloaded receiver concerns every chunk alike. A permanent 4xx moves the chunk to the dead-letter tree with
//! its reason; chunks older than the policy's retention go there too (reason `expired`). Alongside, a check-in
//! task long-polls `POST /v1/runner/checkin` with the runner's status and policy state, and applies the signed
//! policies it gets back; a renewal task replaces the client certificate at two thirds of its lifetime,
//! switching only after a call with the new one succeeded.
//!
//! A file per loop: [`delivery`] (uploads), [`checkin`] (status and policies), [`renewal`] (certificates);
//! [`pacing`] is how fast delivery goes (AIMD concurrency, backoff).

mod checkin;
mod delivery;
pub mod dlq;
pub mod pacing;
mod renewal;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::buffer::Buffer;
use crate::config::UploadConfig;
use crate::identity::{Identity, IdentityError};
use crate::link::Link;
use crate::metrics::Metrics;
use crate::policy::Policies;

use crate::clock::now_ms;

/// Upload figures for status reports and metrics.
#[derive(Debug, Default)]
pub struct UploadStats {
    pub chunks: AtomicU64,
    pub bytes: AtomicU64,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub concurrency: AtomicU64,
    /// Receive time (epoch ms) of the oldest batch not yet uploaded; 0 when the buffer is drained.
    pub oldest_pending_ms: AtomicU64,
}

impl UploadStats {
    pub fn lag_ms(&self) -> u64 {
        match self.oldest_pending_ms.load(Ordering::Relaxed) {
            0 => 0,
            oldest => now_ms().saturating_sub(oldest),
        }
    }
}

/// The identity in use and its generation (incremented by each renewal).
#[derive(Clone)]
struct Current {
    generation: u64,
    identity: Arc<Identity>,
    /// Calls with `identity`'s certificate.
    link: Link,
}

/// Everything the background tasks share.
struct Shared {
    buffer: Arc<Buffer>,
    metrics: Arc<Metrics>,
    policies: Arc<Policies>,
    stats: Arc<UploadStats>,
    config: UploadConfig,
    data_dir: PathBuf,
    url: String,
    /// The current identity; renewal publishes a new one here.
    identity: watch::Sender<Current>,
    state: traceflow_store::Tree,
}

/// The running uploader; [`UploaderHandle::stop`] ends it, leaving unsent chunks in the buffer.
pub struct UploaderHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    pub stats: Arc<UploadStats>,
}

impl UploaderHandle {
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts uploading, reporting status and renewing the certificate of the identity in `data_dir`.
pub fn start(
    buffer: Arc<Buffer>,
    metrics: Arc<Metrics>,
    policies: Arc<Policies>,
    identity: Identity,
    config: UploadConfig,
    data_dir: PathBuf,
) -> Result<UploaderHandle, IdentityError> {
    let state = buffer
        .store()
        .db
        .tree("state")
        .map_err(|e| IdentityError::Io { path: data_dir.clone(), source: std::io::Error::other(e) })?;
    let url = identity.url(config.control_plane_url.as_deref());
    let link = Link::new(identity.tls.clone(), &url)
        .map_err(|e| IdentityError::Invalid { path: data_dir.clone(), message: e.to_string() })?;
    let stats = Arc::new(UploadStats::default());
    let shared = Arc::new(Shared {
        buffer,
        metrics,
        policies,
        stats: stats.clone(),
        config,
        data_dir,
        url,
        identity: watch::channel(Current { generation: 0, identity: Arc::new(identity), link }).0,
        state,
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(delivery::upload_loop(shared.clone(), stop_rx.clone()));
    tasks.spawn(checkin::status_loop(shared.clone(), stop_rx.clone()));
    tasks.spawn(renewal::renew_loop(shared, stop_rx));
    Ok(UploaderHandle { stop, tasks, stats })
}
