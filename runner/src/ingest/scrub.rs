//! PII tokenization on threads of its own.
//!
//! The scrubber's working set (the candidate regex's lazy DFA, the keyword automata, the walker's tables and
//! branch history) is evicted when validation, zstd and the network stack run between two scrubs on the same
//! core: `PII_BENCH_EVICT=1` in the `pii_scan` bench shows the scan 20–35 % slower that way. A request therefore
//! hands its batch to a scrub thread, which runs one scrub after another while the async workers read, validate
//! and answer. Batches of one session always go to the same thread.
//!
//! The thread also compresses what it scrubbed into the record the buffer stores: the scrubbed text is still in
//! its cache then, and its buffer is reused for the next batch instead of being allocated here and freed by an
//! async worker (runner CPU with tokenization on: 29.4 ms per MB against 30.1, averages of six bench runs).
//!
//! Bounded: a request holds its in-flight memory permits while it waits here, so the queues hold at most the
//! ingest's `max_inflight_bytes`. The threads end when the ingest is dropped, after the jobs already queued.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use traceflow_pii::{Engine, Entity};
use traceflow_protocol::{Codec, Record, RecordMeta};

use super::replay::{self, ReplaySessions};
use super::IngestError;
use crate::metrics::{EntityLabel, Metrics};
use crate::vault::Vault;

/// Scrub threads when the configuration leaves it to the runner: half the cores, at least two. A single thread
/// takes the batches one at a time, so on two cores it held ingest back while the other core waited (`traceflow
/// bench --pii compare` kept 67–69 % with one thread, 69–72 % with two).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| (n.get() / 2).max(2))
}

struct Job {
    pii: Arc<Engine>,
    json: Bytes,
    session: [u8; 16],
    store: RecordPlan,
    reply: oneshot::Sender<Result<Record, IngestError>>,
}

/// How a batch is stored: its record's meta and compression.
pub struct RecordPlan {
    pub meta: RecordMeta,
    pub codec: Codec,
    pub level: i32,
    /// The body limit, reported when a batch is too large for a record.
    pub max_body_bytes: usize,
}

impl RecordPlan {
    /// Compresses `json` into the record to store.
    pub fn record(self, json: &[u8]) -> Result<Record, IngestError> {
        Record::new(self.meta, self.codec, self.level, json).map_err(|_| IngestError::BodyTooLarge(self.max_body_bytes))
    }
}

/// What every scrub thread uses.
struct Shared {
    vault: Arc<Vault>,
    replay: ReplaySessions,
    metrics: Arc<Metrics>,
    retry_after: u64,
}

/// Capacity above which a thread does not keep its scrub buffer for the next batch.
const KEEP_BYTES: usize = 4 << 20;

pub struct Scrubbers {
    /// One queue per thread.
    queues: Vec<Sender<Job>>,
    retry_after: u64,
}

impl Scrubbers {
    /// Starts `threads` scrub threads (at least one).
    pub fn start(
        threads: usize,
        vault: Arc<Vault>,
        replay: ReplaySessions,
        metrics: Arc<Metrics>,
        retry_after: u64,
    ) -> std::io::Result<Scrubbers> {
        let shared = Arc::new(Shared { vault, replay, metrics, retry_after });
        let mut queues = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = channel::<Job>();
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("scrub-{i}")).spawn(move || {
                let mut scrubbed = Vec::new();
                while let Ok(job) = rx.recv() {
                    shared.run(job, &mut scrubbed);
                    if scrubbed.capacity() > KEEP_BYTES {
                        scrubbed = Vec::new();
                    }
                }
            })?;
            queues.push(tx);
        }
        Ok(Scrubbers { queues, retry_after })
    }

    /// Replaces PII in the batch on the session's scrub thread, and compresses the result into the record to
    /// store; the originals of tokenized values go to the vault (flushed with the batch). `session` (the
    /// buffer's session key) finds what the session's earlier batches told about its inputs.
    pub async fn scrub(
        &self,
        pii: Arc<Engine>,
        json: Bytes,
        session: [u8; 16],
        store: RecordPlan,
    ) -> Result<Record, IngestError> {
        // The thread is gone only when the ingest is: the runner is stopping.
        let gone = || IngestError::ShuttingDown { retry_after: self.retry_after };
        let (reply, answer) = oneshot::channel();
        let queue = &self.queues[usize::from(session[0]) % self.queues.len()];
        queue.send(Job { pii, json, session, store, reply }).map_err(|_| gone())?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }
}

impl Shared {
    fn run(&self, job: Job, scrubbed: &mut Vec<u8>) {
        let Job { pii, json, session, store, reply } = job;
        let result = catch_unwind(AssertUnwindSafe(|| {
            scrubbed.clear();
            self.tokenize(&pii, &json, &session, scrubbed)?;
            store.record(scrubbed)
        }))
        .unwrap_or_else(|_| {
            // The thread lives on for the other sessions; the client retries after the 503.
            tracing::error!("the PII scrubber panicked on a batch; it was refused");
            Err(IngestError::Unavailable { retry_after: self.retry_after })
        });
        // The request may have given up waiting (its client went away); nothing was appended then.
        let _ = reply.send(result);
    }

    fn tokenize(
        &self,
        pii: &Engine,
        json: &[u8],
        session: &[u8; 16],
        scrubbed: &mut Vec<u8>,
    ) -> Result<(), IngestError> {
        let poisoned = |e: replay::Poisoned| {
            tracing::error!(error = %e, "batch refused: cannot tell which of its session's inputs are sensitive");
            IngestError::Unavailable { retry_after: self.retry_after }
        };
        let mut nodes = self.replay.get(session).map_err(poisoned)?;
        let mut vault = self.vault.session();
        scrubbed.reserve(json.len() + json.len() / 16);
        let stats = pii.scrub_session_json(json, &mut nodes, &mut vault, scrubbed).map_err(|e| {
            // The validator accepted this batch, so the scrubber refusing it means the two disagree.
            tracing::error!(error = %e, "PII scrubber refused a validated batch");
            IngestError::Batch(traceflow_protocol::BatchError {
                kind: traceflow_protocol::BatchErrorKind::Syntax,
                message: e.to_string(),
                path: "$".into(),
            })
        })?;
        vault.finish().map_err(|e| {
            tracing::error!(error = %e, "vault write failed; batch refused");
            IngestError::Unavailable { retry_after: self.retry_after }
        })?;
        self.replay.put(*session, nodes).map_err(poisoned)?;
        for (index, count) in stats.replaced.iter().enumerate() {
            if *count > 0 {
                let entity = Entity::BUILTIN[index].builtin_name().unwrap_or("custom");
                self.metrics.pii_replaced.get_or_create(&EntityLabel { entity }).inc_by(*count);
            }
        }
        if stats.custom_replaced > 0 {
            self.metrics.pii_replaced.get_or_create(&EntityLabel { entity: "custom" }).inc_by(stats.custom_replaced);
        }
        self.metrics.pii_strings_scanned.inc_by(stats.strings_scanned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::tests::Fixture;

    /// A batch of session `sid`: a full snapshot with a password input (id 5) when `snapshot`, then typing `typed`
    /// into it.
    fn batch(sid: &str, seq: u32, snapshot: bool, typed: &str) -> Bytes {
        let snapshot = if snapshot {
            r#"{"type":2,"timestamp":1,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"tagName":"input",
            "id":5,"attributes":{"type":"password"},"childNodes":[]}]}}},"#
        } else {
            ""
        };
        let json = format!(
            r#"{{"session_id":"{sid}","seq":{seq},"replay":[{snapshot}{{"type":3,"timestamp":2,"data":{{"source":5,
            "id":5,"text":"{typed}","isChecked":false}}}}]}}"#
        );
        Bytes::from(json)
    }

    /// How the test stores batch `seq` of session `sid`: compressed, so the thread's compression is checked too.
    fn store(sid: &str, seq: u64) -> RecordPlan {
        let meta =
            RecordMeta { project: "p".into(), session_id: sid.into(), seq, received_at_ms: 1, events: 0, replay: 1 };
        RecordPlan { meta, codec: Codec::Zstd, level: 3, max_body_bytes: 1 << 20 }
    }

    #[test]
    fn every_thread_tokenizes_what_a_session_types_after_its_snapshot() {
        let fixture = Fixture::new("scrub-threads");
        let vault = Arc::new(fixture.vault());
        let scrubbers =
            Scrubbers::start(3, vault.clone(), ReplaySessions::new(64), Arc::new(Metrics::new()), 5).unwrap();
        let pii = Arc::new(Engine::default());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            // Sessions whose keys start differently land on different threads.
            for first in 0..6u8 {
                let session = [first; 16];
                let sid = format!("s{first}");
                let typed = format!("Zq8vLx2pWm{first}");
                scrubbers.scrub(pii.clone(), batch(&sid, 1, true, "x"), session, store(&sid, 1)).await.unwrap();
                let record =
                    scrubbers.scrub(pii.clone(), batch(&sid, 2, false, &typed), session, store(&sid, 2)).await.unwrap();
                assert_eq!(record.meta, store(&sid, 2).meta);
                let out = String::from_utf8(record.json().unwrap()).unwrap();
                assert_eq!(record.raw_len as usize, out.len());
                assert!(!out.contains(&typed), "typed into the password field in a later batch: {out}");
                let value: serde_json::Value = serde_json::from_str(&out).unwrap();
                let token = value["replay"][0]["data"]["text"].as_str().unwrap();
                assert_eq!(vault.detokenize(token).unwrap(), typed);
            }
        });
        drop(scrubbers);
    }
}
