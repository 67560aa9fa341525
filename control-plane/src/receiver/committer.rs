//! The committer thread: the only code that writes uploads to the store, so deduplication (by chunk id, then by
//! tenant/project/session/seq) never races. Uploads that arrive while a flush runs queue up and share the next
//! one: a transaction plus a flush per group, not per upload, is what keeps up with many concurrent runners.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use traceflow_protocol::Record;
use traceflow_store::Batch;

use crate::metrics::Metrics;
use crate::store::{batch, decode, encode, keys, ChunkRecord, SessionSummary, Store, StoreError};

/// Most uploads in one group commit.
const MAX_GROUP: usize = 256;
/// Most compressed bytes in one group commit.
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;
const QUEUE: usize = 256;

/// A verified chunk on its way to the store.
pub struct Upload {
    pub tenant: String,
    pub runner_id: String,
    pub chunk_id: String,
    pub received_at_ms: u64,
    /// Chunk size as uploaded (after removing any Content-Encoding).
    pub bytes: u64,
    /// Empty when the chunk id was already known on arrival: the committer then only confirms durability.
    pub records: Vec<Record>,
    /// The chunk id was known on arrival, so `records` was left empty.
    pub known: bool,
}

/// What one upload changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The chunk id was already stored; nothing was written.
    pub duplicate: bool,
    /// Records newly stored.
    pub records: u32,
    /// Records of the chunk already stored from another chunk.
    pub duplicate_records: u32,
    /// Compressed and uncompressed bytes of the newly stored records.
    pub bytes: u64,
    pub raw_bytes: u64,
}

type Reply = oneshot::Sender<Result<Stored, StoreError>>;

enum Command {
    Commit(Upload, Reply),
    Shutdown(oneshot::Sender<()>),
}

pub struct Committer {
    tx: mpsc::Sender<Command>,
    alive: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Committer {
    pub fn start(store: Arc<Store>, metrics: Arc<Metrics>) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let alive = Arc::new(AtomicBool::new(true));
        let writer = Writer { store, metrics, dirty: false, alive: alive.clone(), failures: 0 };
        let thread = std::thread::Builder::new().name("cp-committer".into()).spawn(move || writer.run(rx))?;
        Ok(Committer { tx, alive, thread: Mutex::new(Some(thread)) })
    }

    /// Stores `upload` and returns once that is durable.
    pub async fn commit(&self, upload: Upload) -> Result<Stored, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Command::Commit(upload, reply)).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Commits what is queued, flushes, and stops the thread.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

struct Writer {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Applied but not yet flushed (a flush failed); answers wait for a successful flush.
    dirty: bool,
    alive: Arc<AtomicBool>,
    /// Group commits failed in a row: the first is logged, the rest only counted, and each waits a little longer
    /// before the next group, so a failing disk is a state and not a flood of errors.
    failures: u32,
}

/// The longest pause after a failed group commit.
const MAX_FAILURE_PAUSE: Duration = Duration::from_secs(2);

/// A session summary being changed by this group, and the `last_received_ms` its listing keys were written with.
struct SessionChange {
    tenant: String,
    project: String,
    session: String,
    listed_at: Option<u64>,
    summary: SessionSummary,
}

/// The writes of one group, applied in one transaction.
#[derive(Default)]
struct Group {
    chunks: Batch,
    batches: Batch,
    sessions: Batch,
    recent: Batch,
    chunk_ids: HashSet<String>,
    records: HashSet<Vec<u8>>,
    changes: HashMap<Vec<u8>, SessionChange>,
    writes: bool,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut shutdown = None;
        while let Some(command) = rx.blocking_recv() {
            let mut jobs = Vec::new();
            let mut bytes = 0usize;
            let mut next = Some(command);
            // Everything that queued up during the previous flush joins this group.
            while let Some(command) = next.take() {
                match command {
                    Command::Commit(upload, reply) => {
                        bytes += upload.records.iter().map(|r| r.data.len()).sum::<usize>();
                        jobs.push((upload, reply));
                    }
                    Command::Shutdown(reply) => {
                        shutdown = Some(reply);
                        break;
                    }
                }
                if jobs.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            if !jobs.is_empty() {
                self.commit(jobs);
            }
            if shutdown.is_some() {
                break;
            }
        }
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
        self.alive.store(false, Ordering::SeqCst);
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    fn commit(&mut self, jobs: Vec<(Upload, Reply)>) {
        let count = jobs.len();
        let mut group = Group::default();
        let staged: Result<Vec<Stored>, StoreError> =
            jobs.iter().map(|(upload, _)| self.stage(&mut group, upload)).collect();
        let result = staged.and_then(|stored| {
            self.apply(group)?;
            self.flush()?;
            Ok(stored)
        });
        self.metrics.group_uploads.observe(count as f64);
        match result {
            Ok(stored) => {
                if self.failures > 0 {
                    tracing::info!(failed_in_a_row = self.failures, "group commits succeed again");
                    self.failures = 0;
                }
                for ((_, reply), stored) in jobs.into_iter().zip(stored) {
                    let _ = reply.send(Ok(stored));
                }
            }
            Err(e) => {
                if self.failures == 0 {
                    tracing::error!(error = %e, uploads = count, "group commit failed; uploads get 503 until it succeeds");
                } else {
                    tracing::debug!(error = %e, uploads = count, "group commit failed again");
                }
                self.failures = self.failures.saturating_add(1);
                self.metrics.commit_failures.inc();
                for (_, reply) in jobs {
                    let _ = reply.send(Err(StoreError::Commit(e.to_string())));
                }
                std::thread::sleep(failure_pause(self.failures));
            }
        }
    }

    /// Adds one upload's writes to `group`, skipping what is already stored or staged.
    fn stage(&self, group: &mut Group, upload: &Upload) -> Result<Stored, StoreError> {
        if group.chunk_ids.contains(&upload.chunk_id) || self.store.chunk_seen(&upload.chunk_id)? {
            return Ok(Stored { duplicate: true, ..Stored::default() });
        }
        if upload.known {
            // Known on arrival, gone now: it was never synced, and a failed sync reopened the store without it.
            return Err(StoreError::Commit(format!(
                "chunk {} was lost with a failed write; upload it again",
                upload.chunk_id
            )));
        }
        group.chunk_ids.insert(upload.chunk_id.clone());
        let mut stored = Stored::default();
        for record in &upload.records {
            let meta = &record.meta;
            let first_key = keys::batch_key(&upload.tenant, &meta.project, &meta.session_id, meta.seq, 0);
            if group.records.contains(&first_key) || self.store.batches.contains_key(&first_key)? {
                stored.duplicate_records += 1;
                continue;
            }
            for (part, value) in batch::encode_parts(record, &upload.runner_id).into_iter().enumerate() {
                let key = keys::batch_key(&upload.tenant, &meta.project, &meta.session_id, meta.seq, part as u16);
                group.batches.insert(key, value);
            }
            group.records.insert(first_key);
            self.count_in_session(group, &upload.tenant, record)?;
            stored.records += 1;
            stored.bytes += record.data.len() as u64;
            stored.raw_bytes += u64::from(record.raw_len);
        }
        let chunk = ChunkRecord {
            runner_id: upload.runner_id.clone(),
            received_at_ms: upload.received_at_ms,
            records: upload.records.len() as u32,
            stored: stored.records,
            bytes: upload.bytes,
        };
        group.chunks.insert(upload.chunk_id.as_bytes(), encode(&chunk));
        group.writes = true;
        Ok(stored)
    }

    fn count_in_session(&self, group: &mut Group, tenant: &str, record: &Record) -> Result<(), StoreError> {
        let meta = &record.meta;
        let key = keys::session_key(tenant, &meta.session_id, &meta.project);
        let change = match group.changes.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let existing: Option<SessionSummary> =
                    self.store.sessions.get(entry.key())?.map(|v| decode("sessions", &v)).transpose()?;
                entry.insert(SessionChange {
                    tenant: tenant.to_string(),
                    project: meta.project.clone(),
                    session: meta.session_id.clone(),
                    listed_at: existing.as_ref().map(|s| s.last_received_ms),
                    summary: existing.unwrap_or_default(),
                })
            }
        };
        let summary = &mut change.summary;
        let at = meta.received_at_ms;
        if summary.batches == 0 {
            summary.first_received_ms = at;
            summary.last_received_ms = at;
        }
        summary.batches += 1;
        summary.events += u64::from(meta.events);
        summary.replay += u64::from(meta.replay);
        summary.first_received_ms = summary.first_received_ms.min(at);
        summary.last_received_ms = summary.last_received_ms.max(at);
        Ok(())
    }

    fn apply(&mut self, mut group: Group) -> Result<(), StoreError> {
        if !group.writes {
            return Ok(());
        }
        for (key, change) in &group.changes {
            let SessionChange { tenant, project, session, listed_at, summary } = change;
            group.sessions.insert(key.as_slice(), encode(summary));
            if *listed_at != Some(summary.last_received_ms) {
                for scope in ["", project.as_str()] {
                    if let Some(old) = listed_at {
                        group.recent.remove(keys::recent_key(tenant, scope, *old, project, session));
                    }
                    group
                        .recent
                        .insert(keys::recent_key(tenant, scope, summary.last_received_ms, project, session), b"");
                }
            }
        }
        let store = &self.store;
        store.db.apply_atomic(&[
            (&store.chunks, &group.chunks),
            (&store.batches, &group.batches),
            (&store.sessions, &group.sessions),
            (&store.recent, &group.recent),
        ])?;
        self.dirty = true;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        let started = Instant::now();
        self.store.db.sync()?;
        self.metrics.flush_seconds.observe(started.elapsed().as_secs_f64());
        self.dirty = false;
        Ok(())
    }
}

/// 20 ms after the first failure in a row, doubling up to [`MAX_FAILURE_PAUSE`].
fn failure_pause(failures: u32) -> Duration {
    Duration::from_millis(20u64.saturating_mul(1 << failures.saturating_sub(1).min(10))).min(MAX_FAILURE_PAUSE)
}

#[cfg(test)]
mod tests {
    use traceflow_protocol::{Codec, RecordMeta};

    use super::*;
    use crate::store::batch::read_session;

    /// A record of project `p` with the batch `json`.
    fn record_with(session: &str, seq: u64, at: u64, json: &str) -> Record {
        let meta = RecordMeta {
            project: "p".into(),
            session_id: session.into(),
            seq,
            received_at_ms: at,
            events: 2,
            replay: 3,
        };
        Record::new(meta, Codec::Zstd, 1, json.as_bytes()).unwrap()
    }

    fn record(session: &str, seq: u64, at: u64) -> Record {
        record_with(session, seq, at, &format!("{{\"seq\":{seq}}}"))
    }

    fn upload(chunk: &str, records: Vec<Record>) -> Upload {
        Upload {
            tenant: "t".into(),
            runner_id: "r_1".into(),
            chunk_id: chunk.into(),
            received_at_ms: 1,
            bytes: 10,
            records,
            known: false,
        }
    }

    #[test]
    fn pauses_after_failures_grow_and_stay_bounded() {
        assert_eq!(failure_pause(1), Duration::from_millis(20));
        assert_eq!(failure_pause(2), Duration::from_millis(40));
        assert_eq!(failure_pause(50), MAX_FAILURE_PAUSE);
    }

    #[tokio::test]
    async fn an_upload_is_answered_only_after_the_durable_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), 8 << 20).unwrap());
        let committer = Committer::start(store.clone(), Arc::new(Metrics::new())).unwrap();
        let before = store.db.sync_count();
        let stored = committer.commit(upload("r_1/1", vec![record("s", 1, 100)])).await.unwrap();
        assert_eq!(stored.records, 1);
        // `Db::sync` (the runner's group commit uses the same one) ran for this upload before its answer: the
        // engine's own flush alone leaves the log's length and the device cache unsynced.
        assert!(store.db.sync_count() > before, "the upload was answered without a durable sync");
        committer.shutdown().await;
    }

    #[tokio::test]
    async fn stores_once_and_counts_once() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let store = Arc::new(Store::open(&dir, 8 << 20).unwrap());
        let committer = Committer::start(store.clone(), Arc::new(Metrics::new())).unwrap();
        let first = committer.commit(upload("r_1/1", vec![record("s", 1, 100), record("s", 2, 200)])).await.unwrap();
        assert_eq!((first.duplicate, first.records), (false, 2));
        // Same chunk again: duplicate. A new chunk repeating seq 2: stored once.
        let again = committer.commit(upload("r_1/1", vec![record("s", 1, 100)])).await.unwrap();
        assert!(again.duplicate);
        let overlap = committer.commit(upload("r_1/2", vec![record("s", 2, 200), record("s", 3, 50)])).await.unwrap();
        assert_eq!((overlap.records, overlap.duplicate_records), (1, 1));
        // Concurrent uploads of the same chunk id: exactly one stores it.
        let (a, b) = tokio::join!(
            committer.commit(upload("r_1/3", vec![record("s", 4, 300)])),
            committer.commit(upload("r_1/3", vec![record("s", 4, 300)]))
        );
        assert_eq!([a.unwrap().duplicate, b.unwrap().duplicate].iter().filter(|d| **d).count(), 1);

        let summary: SessionSummary =
            decode("sessions", &store.sessions.get(keys::session_key("t", "s", "p")).unwrap().unwrap()).unwrap();
        assert_eq!(
            summary,
            SessionSummary { batches: 4, events: 8, replay: 12, first_received_ms: 50, last_received_ms: 300 }
        );
        let (batches, _) = read_session(&store.batches, "t", "p", "s", None, 10).unwrap();
        assert_eq!(batches.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        // One listing entry per scope, at the latest time.
        let listed: Vec<Vec<u8>> = store.recent.iter().keys().map(|k| k.unwrap().to_vec()).collect();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&keys::recent_key("t", "", 300, "p", "s")));
        committer.shutdown().await;
        assert!(!committer.is_alive());
        assert!(committer.commit(upload("r_1/9", vec![])).await.is_err());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A record whose stored size is realistic: `kib` KiB of incompressible text.
    fn sized_record(session: &str, seq: u64, kib: usize) -> Record {
        let mut state = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let noise: String = (0..kib * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        record_with(session, seq, seq, &format!("{{\"seq\":{seq},\"dom\":\"{noise}\"}}"))
    }

    /// Uploads acknowledged by a run of 16 uploads on `disk` (stops at the first refusal, as a runner backs off).
    fn upload_run(
        disk: &traceflow_store::testing::SimDisk,
        fail: Option<(u64, traceflow_store::testing::Fault)>,
    ) -> Vec<u64> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Ok(db) = traceflow_store::testing::open(disk, traceflow_store::Options::default()) else {
            return Vec::new();
        };
        let store = Arc::new(Store::from_db(db).unwrap());
        let committer = Committer::start(store, Arc::new(Metrics::new())).unwrap();
        if let Some((at, fault)) = fail {
            disk.fail_at(at, fault);
        }
        runtime.block_on(async {
            let mut acked = Vec::new();
            for n in 0..16u64 {
                let records = vec![sized_record("s", 2 * n, 2 + n as usize), sized_record("s", 2 * n + 1, 1)];
                match committer.commit(upload(&format!("r_1/{n}"), records)).await {
                    Ok(stored) => {
                        assert_eq!(stored.records, 2);
                        acked.extend([2 * n, 2 * n + 1]);
                    }
                    Err(_) => break,
                }
            }
            committer.shutdown().await;
            acked
        })
    }

    #[test]
    fn enospc_or_eio_at_any_write_or_sync_of_a_run_keeps_every_acknowledged_upload() {
        use traceflow_store::testing::{Crash, Fault, SimDisk};
        let total = {
            let disk = SimDisk::new();
            assert_eq!(upload_run(&disk, None).len(), 32);
            disk.ops()
        };
        eprintln!("control-plane fault injection: {total} disk operations per run, each failed with ENOSPC and EIO");
        let mut refused = 0;
        for fault in [Fault::NoSpace, Fault::Io] {
            for at in 1..=total {
                let disk = SimDisk::new();
                let acked = upload_run(&disk, Some((at, fault)));
                refused += u64::from(acked.len() < 32);
                for crash in [Crash::Process, Crash::PowerLoss] {
                    let context = format!("{fault:?} at operation {at} of {total}, then {crash:?}");
                    let db = traceflow_store::testing::open(&disk.crash(crash), traceflow_store::Options::default())
                        .unwrap_or_else(|e| panic!("{context}: the store does not open: {e}"));
                    let store = Store::from_db(db).unwrap();
                    let (batches, _) = read_session(&store.batches, "t", "p", "s", None, 100).unwrap();
                    let held: Vec<u64> = batches.iter().map(|b| b.seq).collect();
                    for seq in &acked {
                        assert!(held.contains(seq), "{context}: acknowledged batch {seq} is gone (held {held:?})");
                    }
                }
            }
        }
        assert!(refused >= total, "the faults stopped the runs ({refused} of {})", 2 * total);
    }
}
