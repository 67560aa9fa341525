//! Delivery: reads chunks in sequence order, uploads them (several at once, paced by [`super::pacing`]) and
//! removes each from the buffer once the control plane answered 2xx; permanent refusals and expired chunks go to
//! the dead letters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::pacing::{Aimd, Backoff, Signal};
use super::{dlq, now_ms, Current, Shared};
use crate::link::{self, Reply, TimeoutExt};
use crate::metrics::{Outcome as Counted, OutcomeLabel};

/// Key of the remembered concurrency limit in the `state` tree.
const AIMD_KEY: &[u8] = b"upload.concurrency";

/// How one attempt ended.
enum Outcome {
    Delivered {
        duplicate: bool,
        latency: Duration,
    },
    /// Worth retrying later: network errors, timeouts, 408/429/5xx.
    Transient {
        overload: bool,
        retry_after: Option<Duration>,
        reason: String,
    },
    /// This runner's identity was refused (revoked, unknown certificate): nothing will pass until an operator acts.
    Refused {
        reason: String,
    },
    /// The control plane will never take this chunk.
    Permanent {
        status: u16,
        code: String,
        message: String,
    },
}

fn classify(result: Result<Reply, link::TransportError>, latency: Duration) -> Outcome {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return Outcome::Transient { overload: e.is_timeout(), retry_after: None, reason: e.to_string() },
    };
    let (code, message) = reply.error();
    match reply.status {
        200..=299 => Outcome::Delivered { duplicate: reply.json_bool("duplicate"), latency },
        408 | 429 | 500..=599 => Outcome::Transient {
            overload: matches!(reply.status, 429 | 503),
            retry_after: reply.retry_after,
            reason: reply.describe(),
        },
        401 => Outcome::Refused { reason: reply.describe() },
        403 if code != "chunk_id_mismatch" => Outcome::Refused { reason: reply.describe() },
        status => Outcome::Permanent { status, code, message },
    }
}

struct Attempt {
    upload: Upload,
    outcome: Outcome,
}

/// Buffered chunks sent in one request. Consecutive chunks read together are joined, up to about
/// `upload.max_upload_bytes`, so a backlog drains in few large requests while a live stream still sends each
/// chunk as it comes.
struct Upload {
    /// Sequence numbers and bytes of the buffered chunks, in order.
    parts: Vec<(u64, Bytes)>,
    /// What is sent: the parts joined into one chunk (or the only part as it is).
    body: Bytes,
}

impl Upload {
    fn single(seq: u64, chunk: Bytes) -> Upload {
        Upload { body: chunk.clone(), parts: vec![(seq, chunk)] }
    }

    fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.parts.iter().map(|(seq, _)| *seq)
    }

    /// `<runner_id>/<seq>` for one chunk, `<runner_id>/<first>-<last>` for several. The id never names more
    /// chunks than it did the first time it was used: within a run, uploads cover disjoint ranges and a retry
    /// resends the same parts; chunk sequence numbers are never reused, so the chunks of a range only ever
    /// leave the buffer. A later upload with the same id is thus covered by the first, and the control plane's
    /// answer "duplicate" is true of all its parts. Uploads cut differently after a restart get other ids; the
    /// control plane then keeps each batch once by its (project, session, seq).
    fn id(&self, runner_id: &str) -> String {
        let (first, last) = (self.parts[0].0, self.parts[self.parts.len() - 1].0);
        if first == last {
            format!("{runner_id}/{first}")
        } else {
            format!("{runner_id}/{first}-{last}")
        }
    }
}

/// Where the upload loop is: what it has read, sent and delivered.
#[derive(Default)]
struct Progress {
    /// The next chunk sequence number to read from the buffer.
    cursor: u64,
    /// Uploads to send again, by first chunk, each with the same parts (and so the same id) as before.
    retry: BTreeMap<u64, Upload>,
    /// Chunks of the uploads on their way.
    in_flight: BTreeSet<u64>,
    /// Receive time of each chunk's first batch, for chunks read and not yet delivered (the upload lag).
    pending_since: BTreeMap<u64, u64>,
    /// Chunks done with (delivered, dead-lettered or expired), to remove from the buffer.
    delivered: Vec<u64>,
}

impl Progress {
    /// The next upload: a retry, or the next chunks of the buffer joined up to `max_upload_bytes`.
    fn next_upload(&mut self, shared: &Shared) -> Option<Upload> {
        if let Some((_, upload)) = self.retry.pop_first() {
            return Some(upload);
        }
        let limit = shared.config.max_upload_bytes as usize;
        let mut parts: Vec<(u64, Bytes)> = Vec::new();
        let mut size = 0usize;
        while parts.is_empty() || size < limit {
            let next = next_chunk(shared, &mut self.cursor, &self.in_flight).unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading the buffer failed");
                None
            });
            let Some((seq, chunk)) = next else { break };
            let received_at = traceflow_protocol::Chunk::first_received_at_ms(&chunk).unwrap_or_else(now_ms);
            if expired(shared, seq, &chunk, received_at) {
                self.pending_since.remove(&seq);
                self.delivered.push(seq);
                continue;
            }
            self.pending_since.entry(seq).or_insert(received_at);
            if traceflow_protocol::Chunk::count(&chunk).is_none() {
                // Not joinable: it goes alone, and the control plane's answer decides its fate.
                self.retry.insert(seq, Upload::single(seq, chunk));
                break;
            }
            size += chunk.len();
            parts.push((seq, chunk));
        }
        if parts.is_empty() {
            return self.retry.pop_first().map(|(_, upload)| upload);
        }
        if let [(seq, chunk)] = parts.as_slice() {
            return Some(Upload::single(*seq, chunk.clone()));
        }
        let slices: Vec<&[u8]> = parts.iter().map(|(_, chunk)| chunk.as_ref()).collect();
        match traceflow_protocol::Chunk::concat(&slices) {
            Ok(joined) => Some(Upload { parts, body: Bytes::from(joined) }),
            Err(e) => {
                tracing::error!(error = %e, "cannot join chunks; sending them one by one");
                self.split(Upload { parts, body: Bytes::new() });
                self.retry.pop_first().map(|(_, upload)| upload)
            }
        }
    }

    /// Sends the chunks of a refused joined upload again one by one, so only the offending one is dead-lettered.
    fn split(&mut self, upload: Upload) {
        for (seq, chunk) in upload.parts {
            self.retry.insert(seq, Upload::single(seq, chunk));
        }
    }
}

pub(super) async fn upload_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let config = &shared.config;
    let remembered = shared
        .state
        .get(AIMD_KEY)
        .ok()
        .flatten()
        .and_then(|v| v.as_ref().try_into().ok().map(f64::from_le_bytes))
        .unwrap_or(config.initial_concurrency as f64);
    let mut aimd = Aimd::new(
        remembered,
        config.min_concurrency,
        config.max_concurrency,
        Duration::from_millis(config.latency_target_ms),
    );
    let backoff = Backoff {
        base: Duration::from_millis(config.backoff_base_ms),
        max: Duration::from_secs(config.backoff_max_secs),
    };
    let mut progress = Progress::default();
    let mut attempts: JoinSet<Attempt> = JoinSet::new();
    let mut paused_until: Option<Instant> = None;
    let mut failures = 0u32;
    let mut saved_limit = aimd.raw();

    loop {
        if *stop.borrow() {
            break;
        }
        let paused = paused_until.is_some_and(|until| Instant::now() < until);
        // While paused after failures, probe with one upload at a time.
        let limit = if failures > 0 { 1 } else { aimd.limit() };
        shared.stats.concurrency.store(limit as u64, Ordering::Relaxed);
        while !paused && attempts.len() < limit {
            let Some(upload) = progress.next_upload(&shared) else { break };
            progress.in_flight.extend(upload.seqs());
            let shared = shared.clone();
            attempts.spawn(async move {
                let started = Instant::now();
                let result = send_upload(&shared, &upload).await;
                Attempt { upload, outcome: classify(result, started.elapsed()) }
            });
        }
        shared
            .stats
            .oldest_pending_ms
            .store(progress.pending_since.first_key_value().map_or(0, |(_, at)| *at), Ordering::Relaxed);

        let wait = match paused_until {
            Some(until) if until > Instant::now() => until - Instant::now(),
            _ => shared.policies.upload_interval(),
        };
        tokio::select! {
            _ = stop.changed() => break,
            Some(joined) = attempts.join_next(), if !attempts.is_empty() => {
                let Ok(Attempt { upload, outcome }) = joined else { continue };
                for seq in upload.seqs() {
                    progress.in_flight.remove(&seq);
                }
                match outcome {
                    Outcome::Delivered { duplicate, latency } => {
                        aimd.observe(Signal::Success(latency));
                        failures = 0;
                        paused_until = None;
                        let chunks = upload.parts.len() as u64;
                        shared.stats.chunks.fetch_add(chunks, Ordering::Relaxed);
                        shared.stats.bytes.fetch_add(upload.body.len() as u64, Ordering::Relaxed);
                        shared.metrics.uploads.get_or_create(&OutcomeLabel {
                            outcome: if duplicate { Counted::Duplicate } else { Counted::Delivered },
                        }).inc_by(chunks);
                        shared.metrics.upload_bytes.inc_by(upload.body.len() as u64);
                        shared.metrics.upload_seconds.observe(latency.as_secs_f64());
                        for seq in upload.seqs() {
                            progress.pending_since.remove(&seq);
                            progress.delivered.push(seq);
                        }
                    }
                    Outcome::Transient { overload, retry_after, reason } => {
                        if overload {
                            aimd.observe(Signal::Overload);
                        }
                        let delay = backoff.delay(failures, retry_after, fastrand::f64());
                        failures = failures.saturating_add(1);
                        paused_until = Some(Instant::now() + delay);
                        shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                        shared.metrics.uploads.get_or_create(&OutcomeLabel { outcome: Counted::Retry }).inc();
                        tracing::warn!(chunk = upload.parts[0].0, chunks = upload.parts.len(), %reason, retry_in_ms = delay.as_millis() as u64, "upload failed; will retry");
                        progress.retry.insert(upload.parts[0].0, upload);
                    }
                    Outcome::Refused { reason } => {
                        let delay = backoff.delay(failures.max(6), None, fastrand::f64()).max(backoff.max / 2);
                        failures = failures.saturating_add(1);
                        paused_until = Some(Instant::now() + delay);
                        shared.metrics.uploads.get_or_create(&OutcomeLabel { outcome: Counted::Refused }).inc();
                        tracing::error!(%reason, "the control plane refused this runner's identity; uploads paused, nothing is dropped");
                        progress.retry.insert(upload.parts[0].0, upload);
                    }
                    Outcome::Permanent { status, code, .. } if upload.parts.len() > 1 => {
                        tracing::warn!(chunk = upload.parts[0].0, chunks = upload.parts.len(), status, %code, "joined upload refused; sending its chunks one by one");
                        progress.split(upload);
                    }
                    Outcome::Permanent { status, code, message } => {
                        let (seq, chunk) = upload.parts.into_iter().next().unwrap_or_default();
                        let letter = dlq::DeadLetter {
                            chunk_seq: seq,
                            status,
                            code,
                            message,
                            at_ms: now_ms(),
                            bytes: chunk.len() as u64,
                            batches: traceflow_protocol::Chunk::count(&chunk).unwrap_or(0) as u64,
                        };
                        tracing::error!(chunk = letter.chunk_seq, status, code = %letter.code, "chunk refused for good; moved to the dead-letter tree");
                        match dlq::put(shared.buffer.store(), &letter, &chunk) {
                            Ok(()) => {
                                progress.pending_since.remove(&seq);
                                shared.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
                                shared.metrics.uploads.get_or_create(&OutcomeLabel { outcome: Counted::DeadLetter }).inc();
                                progress.delivered.push(seq);
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "cannot write the dead letter; keeping the chunk");
                                progress.retry.insert(seq, Upload::single(seq, chunk));
                                paused_until = Some(Instant::now() + backoff.max);
                            }
                        }
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
        let delivered = &mut progress.delivered;
        if !delivered.is_empty() && (attempts.is_empty() || delivered.len() >= 16) {
            if let Err(e) = shared.buffer.remove(std::mem::take(delivered)).await {
                tracing::error!(error = %e, "removing delivered chunks failed");
            }
        }
        if (aimd.raw() - saved_limit).abs() >= 1.0 {
            saved_limit = aimd.raw();
            let _ = shared.state.insert(AIMD_KEY, saved_limit.to_le_bytes());
        }
    }
    attempts.abort_all();
    if !progress.delivered.is_empty() {
        let _ = shared.buffer.remove(progress.delivered).await;
    }
    let _ = shared.state.insert(AIMD_KEY, aimd.raw().to_le_bytes());
}

/// Moves a chunk older than the policy's retention to the dead-letter tree (reason `expired`); true if it did.
fn expired(shared: &Shared, seq: u64, chunk: &Bytes, received_at_ms: u64) -> bool {
    let Some(retention) = shared.policies.retention() else { return false };
    let Some(age) = past_retention(received_at_ms, now_ms(), retention) else { return false };
    let letter = dlq::DeadLetter {
        chunk_seq: seq,
        status: 0,
        code: "expired".into(),
        message: format!(
            "buffered for {}s, longer than the policy's retention of {}s",
            age.as_secs(),
            retention.as_secs()
        ),
        at_ms: now_ms(),
        bytes: chunk.len() as u64,
        batches: traceflow_protocol::Chunk::count(chunk).unwrap_or(0) as u64,
    };
    match dlq::put(shared.buffer.store(), &letter, chunk) {
        Ok(()) => {
            tracing::warn!(
                chunk = seq,
                age_secs = age.as_secs(),
                "chunk older than the retention; moved to the dead-letter tree"
            );
            shared.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
            shared.metrics.uploads.get_or_create(&OutcomeLabel { outcome: Counted::Expired }).inc();
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot write the dead letter of an expired chunk; keeping it");
            false
        }
    }
}

/// How long ago a chunk was received, if that is longer than `retention`.
fn past_retention(received_at_ms: u64, now_ms: u64, retention: Duration) -> Option<Duration> {
    let age = Duration::from_millis(now_ms.saturating_sub(received_at_ms));
    (age > retention).then_some(age)
}

/// The next chunk at or after `cursor` that is not already on its way; damaged chunks are dead-lettered.
fn next_chunk(
    shared: &Shared,
    cursor: &mut u64,
    in_flight: &BTreeSet<u64>,
) -> Result<Option<(u64, Bytes)>, crate::buffer::StoreError> {
    let (mut chunks, read_error) = shared.buffer.store().chunks(*cursor);
    for item in chunks.by_ref() {
        match item {
            Ok((seq, bytes)) => {
                *cursor = seq + 1;
                if in_flight.contains(&seq) {
                    continue;
                }
                return Ok(Some((seq, Bytes::from(bytes))));
            }
            Err(damage) => {
                *cursor = damage.chunk_seq + 1;
                tracing::error!(chunk = damage.chunk_seq, reason = %damage.reason, "damaged chunk skipped by the uploader");
            }
        }
    }
    if let Some(e) = read_error.get() {
        return Err(crate::buffer::StoreError::Io(std::io::Error::other(e)));
    }
    Ok(None)
}

/// One upload attempt, on a connection of the current identity's pool.
async fn send_upload(shared: &Shared, upload: &Upload) -> Result<Reply, link::TransportError> {
    let Current { identity, link, .. } = shared.identity.borrow().clone();
    let chunk_id = upload.id(&identity.info.runner_id);
    let headers = [("x-traceflow-chunk-id", chunk_id.as_str()), ("content-type", "application/vnd.traceflow.chunk")];
    link.post("/v1/runner/upload", &headers, upload.body.clone(), shared.config.request_timeout()).await
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[test]
    fn chunks_expire_only_past_the_retention() {
        let hour = Duration::from_secs(3600);
        assert_eq!(past_retention(0, 3_600_000, hour), None);
        assert_eq!(past_retention(0, 3_600_001, hour), Some(Duration::from_millis(3_600_001)));
        assert_eq!(past_retention(5_000, 1_000, hour), None, "a clock going back expires nothing");
    }
}
