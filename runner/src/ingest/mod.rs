//! The ingest chain for `POST /v1/batch`, one layer per step, each testable alone:
//! origin ([`cors`]) → authenticate ([`auth`]) → media type and size → decode ([`decode`]) → validate
//! (`traceflow_protocol::batch`) → sampling → traffic control ([`ratelimit`]) → features ([`features`]) → PII
//! tokenization (`traceflow_pii` on a [`scrub`] thread, originals to the [`Vault`]) → compress → append to
//! the durable buffer.
//! Keys, sampling, limits, features, PII rules and compression come from the active policy ([`Policies`]),
//! taken once when a request starts, so a policy swap never changes the rules under a request in flight. Nothing raw goes past the tokenizer:
//! the buffer, the uploader, logs, metrics and error messages only ever see tokenized text.
//! Every failure is an [`IngestError`], turned into an HTTP answer in one place by the server.

pub mod cors;
pub mod decode;
pub mod error;
pub mod features;
pub mod replay;
pub mod scrub;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::Request;
use tokio::sync::Semaphore;
use traceflow_pii::{Engine, Tokens};
use traceflow_protocol::policy::keep_session;
use traceflow_protocol::{batch, Limits, RecordMeta};

use crate::buffer::{session_key, Appended, Buffer, BufferError, Pending};
use crate::config::RunnerConfig;
use crate::metrics::Metrics;
use crate::policy::{Active, Policies};
use crate::traffic::{projects, ratelimit};
use crate::vault::Vault;
pub use error::IngestError;

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a refused request's body is read before the connection is closed anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a successful request gets back.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Events stored (or already stored, for a duplicate).
    pub events: usize,
    pub duplicate: bool,
    /// Events dropped by sampling or switched-off features (counted as `filtered`).
    pub filtered: usize,
    /// Values over `limits.max_string_bytes` replaced (the batch kept without them).
    pub dropped_values: usize,
}

/// What the CPU-heavy middle of the chain decided.
enum Prepared {
    Store {
        events: usize,
        filtered: usize,
        dropped_values: usize,
        meta: RecordMeta,
        /// The batch to store once tokenized: the body, or what the feature filter left of it.
        json: Bytes,
        session: [u8; 16],
    },
    /// Nothing of the batch is kept.
    Filtered { events: usize },
}

pub struct Ingest {
    limits: Limits,
    pub cors: cors::Cors,
    buffer: Arc<Buffer>,
    policies: Arc<Policies>,
    metrics: Arc<Metrics>,
    retry_after: u64,
    /// Tokenization, with the vault (whose writes the buffer's flush makes durable) and the sensitive replay inputs
    /// of recent sessions.
    scrubbers: scrub::Scrubbers,
    /// Permits are KiB of decompressed body held by in-flight requests.
    inflight: Semaphore,
    inflight_kib: usize,
    shutting_down: AtomicBool,
}

impl Ingest {
    pub fn new(
        config: &RunnerConfig,
        buffer: Arc<Buffer>,
        vault: Arc<Vault>,
        policies: Arc<Policies>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Ingest> {
        let inflight_kib = config.buffer.max_inflight_bytes / 1024;
        let threads = if config.scrub_threads == 0 { scrub::default_threads() } else { config.scrub_threads };
        let replay = replay::ReplaySessions::new(config.replay_sessions);
        let scrubbers = scrub::Scrubbers::start(threads, vault, replay, metrics.clone(), config.retry_after_secs)?;
        Ok(Ingest {
            limits: config.limits.clone(),
            scrubbers,
            cors: cors::Cors::new(&config.cors),
            buffer,
            policies,
            metrics,
            retry_after: config.retry_after_secs,
            inflight: Semaphore::new(inflight_kib),
            inflight_kib,
            shutting_down: AtomicBool::new(false),
        })
    }

    /// From now on every batch gets 503 `shutting_down`.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Runs the whole chain for one request. CORS is checked by the caller, which also decorates the answer.
    pub async fn handle(&self, request: Request<Incoming>) -> Result<Accepted, IngestError> {
        let (head, body) = request.into_parts();
        // The rules this request runs under, whatever policy arrives meanwhile.
        let active = self.policies.active();
        let project = match self.check_head(&head, &active) {
            Ok(project) => project,
            Err(error) => {
                // Answering before the body is read would close the connection under a client still sending,
                // which then sees a broken pipe instead of this answer and its Retry-After.
                self.drain(body).await;
                return Err(error);
            }
        };
        let preparing = self.buffer.preparing();
        let generation = self.buffer.store().db.generation();
        let request = Request::from_parts(head, body);
        let retry_after = self.retry_after;
        let encoding_header = request.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes().to_vec());
        let body = self.read_body(request.into_body()).await?;
        self.metrics.bytes_received.inc_by(body.len() as u64);
        let encoding = decode::Encoding::detect(encoding_header.as_deref(), &body)?;
        let json = decode::decode(encoding, body, &self.limits)?;
        self.metrics.bytes_decoded.inc_by(json.len() as u64);
        // Hold memory permits while waiting for the flush, which is where requests pile up under load.
        let kib = (json.len() / 1024).clamp(1, self.inflight_kib) as u32;
        let _permit = self.inflight.acquire_many(kib).await.map_err(|_| IngestError::ShuttingDown { retry_after })?;
        let (events, filtered, dropped_values, meta, json, session) = match self.prepare(&active, project, json)? {
            Prepared::Store { events, filtered, dropped_values, meta, json, session } => {
                (events, filtered, dropped_values, meta, json, session)
            }
            Prepared::Filtered { events } => {
                return Ok(Accepted { events: 0, duplicate: false, filtered: events, dropped_values: 0 })
            }
        };
        // With every PII action `allow` the scrub could only copy the batch, so it is skipped.
        let store = scrub::RecordPlan {
            meta,
            codec: active.codec,
            level: active.level,
            max_body_bytes: self.limits.max_body_bytes,
        };
        let record = if active.pii.replaces_nothing() {
            let record = store.record(&json);
            drop(json);
            record?
        } else {
            self.scrubbers.scrub(active.pii.clone(), json, session, store).await?
        };
        match self.buffer.append(Pending { record, session, generation }, preparing).await {
            Ok(Appended::Stored { .. }) => Ok(Accepted { events, duplicate: false, filtered, dropped_values }),
            Ok(Appended::Duplicate) => Ok(Accepted { events, duplicate: true, filtered, dropped_values }),
            Err(BufferError::Closed) => Err(IngestError::ShuttingDown { retry_after }),
            Err(BufferError::Storage(reason)) => {
                tracing::error!(%reason, "buffer write failed");
                Err(IngestError::Unavailable { retry_after })
            }
        }
    }

    /// Validation, sampling, traffic control and features: the part of the CPU-heavy middle before tokenization.
    fn prepare(&self, active: &Active, project: projects::Project, json: Bytes) -> Result<Prepared, IngestError> {
        let summary = batch::validate(&json, &self.limits).map_err(|e| IngestError::Batch(redact(&active.pii, e)))?;
        let mut events = summary.total_events();
        if !keep_session(&summary.session_id, active.sampling_rate) {
            return Ok(Prepared::Filtered { events });
        }
        // Values over the string limit are replaced and counted; the rest of the batch is kept.
        let (json, dropped_values) = if summary.oversized > 0 {
            let (cut, n) = batch::cut_oversized(&json, self.limits.max_string_bytes);
            self.metrics.values_dropped.inc_by(n as u64);
            tracing::warn!(values = n, max = self.limits.max_string_bytes, "values over the string limit dropped");
            (Bytes::from(cut), n)
        } else {
            (json, 0)
        };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.policies
            .limiter
            .take(active.limit_for(&project), &project.fingerprint, events, Instant::now(), now_ms)
            .map_err(|refusal| match refusal {
                ratelimit::Refusal::RateLimited(retry_after) => IngestError::RateLimited { retry_after },
                ratelimit::Refusal::QuotaExceeded(retry_after) => IngestError::QuotaExceeded { retry_after },
            })?;
        let filtered_json = features::apply(&json, &active.features).map_err(|e| {
            tracing::error!(error = %e, "feature filter refused a validated batch");
            IngestError::Batch(traceflow_protocol::BatchError {
                kind: traceflow_protocol::BatchErrorKind::Syntax,
                message: "the batch could not be filtered".into(),
                path: "$".into(),
            })
        })?;
        let (json, filtered, filtered_replay) = match filtered_json {
            Some(out) if out.empty => return Ok(Prepared::Filtered { events }),
            Some(out) => (Bytes::from(out.json), out.dropped, out.dropped_replay),
            None => (json, 0, 0),
        };
        events -= filtered;
        let session = session_key(&project.fingerprint, &summary.session_id);
        let meta = RecordMeta {
            project: project.fingerprint,
            session_id: summary.session_id,
            seq: summary.seq,
            received_at_ms: now_ms,
            events: (summary.events - (filtered - filtered_replay)) as u32,
            replay: (summary.replay - filtered_replay) as u32,
        };
        Ok(Prepared::Store { events, filtered, dropped_values, meta, json, session })
    }

    /// Everything decided from the request head: shutdown, key, media type, declared size, buffer space.
    fn check_head(
        &self,
        head: &hyper::http::request::Parts,
        active: &Active,
    ) -> Result<projects::Project, IngestError> {
        let retry_after = self.retry_after;
        if self.is_shutting_down() {
            return Err(IngestError::ShuttingDown { retry_after });
        }
        let project = active.projects.authenticate(&head.headers, head.uri.query())?.clone();
        check_media_type(&head.headers)?;
        let declared =
            head.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes as u64) {
            return Err(IngestError::BodyTooLarge(self.limits.max_body_bytes));
        }
        if self.buffer.is_full() {
            return Err(IngestError::BufferFull { retry_after });
        }
        if self.buffer.is_disk_low() {
            return Err(IngestError::DiskFull { retry_after });
        }
        Ok(project)
    }

    /// What a browser SDK needs to know at start (`GET /v1/config?key=`): which kinds of data the active policy
    /// collects and the session sampling rate, so that a sampled-out session never starts recording.
    pub fn sdk_config(&self, head: &hyper::http::request::Parts) -> Result<serde_json::Value, IngestError> {
        let active = self.policies.active();
        active.projects.authenticate(&head.headers, head.uri.query())?;
        Ok(serde_json::json!({
            "revision": active.revision,
            "features": {
                "replay": active.features.replay,
                "console_logs": active.features.console_logs,
                "network_capture": active.features.network_capture,
            },
            "sampling": { "session_rate": active.sampling_rate, "hash": "fnv1a64" },
            "batch": { "max_bytes": self.limits.max_body_bytes },
        }))
    }

    /// Reads and discards the body of a request refused by the caller (e.g. a denied origin).
    pub async fn discard(&self, request: Request<Incoming>) {
        self.drain(request.into_body()).await;
    }

    /// Reads and discards a refused request's body, up to four times the body limit and a short timeout;
    /// beyond that the connection is closed under the client.
    async fn drain(&self, body: Incoming) {
        let limited = Limited::new(body, self.limits.max_body_bytes.saturating_mul(4));
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, limited.collect()).await;
    }

    async fn read_body(&self, body: Incoming) -> Result<Bytes, IngestError> {
        let limited = Limited::new(body, self.limits.max_body_bytes);
        match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
            Err(_) => Err(IngestError::Timeout),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                Err(IngestError::BodyTooLarge(self.limits.max_body_bytes))
            }
            Ok(Err(_)) => Err(IngestError::BodyRead),
        }
    }
}

/// Replaces every value by `[redacted:<entity>]`, keeping nothing: for text that is never stored.
struct Redact;

impl Tokens for Redact {
    fn tokenize(&mut self, entity: &str, _: &str) -> String {
        format!("[redacted:{entity}]")
    }

    fn hash(&mut self, entity: &str, _: &str) -> String {
        format!("[redacted:{entity}]")
    }
}

/// A validation error with any PII in its message or path replaced, since errors go back to the client
/// and into logs.
fn redact(pii: &Engine, mut error: traceflow_protocol::BatchError) -> traceflow_protocol::BatchError {
    for text in [&mut error.message, &mut error.path] {
        let mut out = String::with_capacity(text.len());
        let stats = pii.scrub_text(text, &mut Redact, &mut out);
        if stats.total_replaced() > 0 {
            *text = out;
        }
    }
    error
}

fn check_media_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/plain" => Ok(()),
        _ => Err(IngestError::UnsupportedMediaType),
    }
}
