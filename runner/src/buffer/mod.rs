//! The durable buffer: where accepted batches wait, compressed and checksummed, until they are uploaded.
//!
//! Request handlers compress their batch into a [`Record`] and hand it to [`Buffer::append`]. One writer thread
//! takes everything queued, drops retries it has already stored (per-session `seq` index), writes the rest as
//! one chunk of 4 KiB frames in one atomic batch, and makes it durable with one [`Db::sync`]: a group commit.
//! Each request's future resolves only after the sync that covers it, which is when the API may answer 202.
//! A crash at any moment leaves either the whole chunk or none of it; on open the newest chunks are checked
//! again and a damaged one is moved aside, never fatal.

mod dedup;
pub mod inspect;
mod store;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use traceflow_store::space::SpaceGuard;

use tokio::sync::{mpsc, oneshot};
use traceflow_protocol::frame::{self, Damage};
use traceflow_protocol::{Chunk, Codec, Record};

pub use dedup::{session_key, SeenSeqs};
pub use store::{BufferStore, ReadError, State, StoreError};
pub use traceflow_store::Db;

use crate::config::BufferConfig;
use crate::metrics::Metrics;
use writer::{Command, Writer};

/// Newest chunks re-verified when the buffer opens; older ones are verified when read.
const TAIL_CHUNKS_CHECKED: usize = 8;
/// Appends waiting for the writer; beyond it handlers wait, which bounds memory.
const QUEUE_LEN: usize = 4096;

/// How the buffer stores and bounds data.
#[derive(Clone, Debug)]
pub struct BufferOptions {
    pub codec: Codec,
    pub level: i32,
    pub max_chunk_bytes: usize,
    pub disk_budget_bytes: u64,
    pub dedup_window_ms: u64,
    pub cache_bytes: u64,
    /// Longest a group commit waits for requests already on their way before flushing.
    pub commit_delay: std::time::Duration,
    /// Free bytes kept on the filesystem (`storage.min_free_bytes`); `None`: the guard's default.
    pub min_free_bytes: Option<u64>,
}

impl From<&BufferConfig> for BufferOptions {
    fn from(config: &BufferConfig) -> Self {
        BufferOptions {
            codec: config.compression,
            level: config.zstd_level,
            max_chunk_bytes: config.max_chunk_bytes,
            disk_budget_bytes: config.disk_budget_bytes,
            dedup_window_ms: config.dedup_window_secs.saturating_mul(1000),
            cache_bytes: config.cache_bytes,
            commit_delay: std::time::Duration::from_micros(config.commit_delay_us),
            min_free_bytes: None,
        }
    }
}

/// One batch on its way into the buffer.
pub struct Pending {
    pub record: Record,
    /// [`session_key`] of the batch's project and session.
    pub session: [u8; 16],
    /// The store's [`traceflow_store::Db::generation`] read before the batch was tokenized. If the store was
    /// reopened since, vault entries its tokens point to may be gone, so the batch is refused (503) rather than
    /// stored without them.
    pub generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored, and durable, in this chunk.
    Stored { chunk_seq: u64 },
    /// The same project, session and `seq` were stored before; nothing new was written.
    Duplicate,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum BufferError {
    #[error("the buffer is closed")]
    Closed,
    #[error("the buffer could not write: {0}")]
    Storage(String),
}

/// Figures the ingest path reads without locking.
#[derive(Debug, Default)]
pub struct Gauges {
    pub live_bytes: AtomicU64,
    pub depth: AtomicU64,
    pub disk_bytes: AtomicU64,
    pub next_seq: AtomicU64,
    pub writer_alive: AtomicBool,
    /// Requests past authentication that will append soon (reading, decoding, validating).
    pub preparing: AtomicUsize,
}

/// Counts a request in [`Gauges::preparing`] until it appends or gives up.
pub struct Preparing(Arc<Gauges>);

impl Drop for Preparing {
    fn drop(&mut self) {
        self.0.preparing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What opening the buffer found.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    pub state: State,
    /// Damaged chunks moved to the `quarantine` tree.
    pub damaged: Vec<Damage>,
}

pub struct Buffer {
    store: BufferStore,
    tx: mpsc::Sender<Command>,
    gauges: Arc<Gauges>,
    /// The smaller of the configured budget and the active policy's.
    disk_budget_bytes: AtomicU64,
    /// Free space of the data dir's filesystem against `storage.min_free_bytes`.
    space: SpaceGuard,
    metrics: Arc<Metrics>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Buffer {
    /// Opens (or creates) the buffer in `dir`, repairs a damaged tail, and starts the writer thread.
    pub fn open(dir: &Path, options: BufferOptions, metrics: Arc<Metrics>) -> Result<(Buffer, Recovery), StoreError> {
        std::fs::create_dir_all(dir)?;
        let store = BufferStore::open(dir, options.cache_bytes)?;
        Buffer::open_on(dir, store, options, metrics)
    }

    /// [`Buffer::open`] on a store already open (the fault-injection tests open it on a simulated disk); `dir` is
    /// the data dir whose filesystem the free-space guard watches.
    pub fn open_on(
        dir: &Path,
        store: BufferStore,
        options: BufferOptions,
        metrics: Arc<Metrics>,
    ) -> Result<(Buffer, Recovery), StoreError> {
        let space = SpaceGuard::new(dir, options.min_free_bytes)?;
        let recovery = recover(&store)?;
        let gauges = Arc::new(Gauges::default());
        gauges.writer_alive.store(true, Ordering::SeqCst);
        metrics.damaged_chunks.inc_by(recovery.damaged.len() as u64);
        let (tx, rx) = mpsc::channel(QUEUE_LEN);
        let writer = Writer::new(store.clone(), recovery.state, gauges.clone(), metrics.clone(), options.clone());
        let handle = std::thread::Builder::new().name("buffer-writer".into()).spawn(move || writer.run(rx))?;
        let buffer = Buffer {
            store,
            tx,
            gauges,
            disk_budget_bytes: AtomicU64::new(options.disk_budget_bytes),
            space,
            metrics,
            writer: Mutex::new(Some(handle)),
        };
        buffer.publish_space();
        Ok((buffer, recovery))
    }

    /// Announces a request that will append soon, so a group commit can wait for it.
    pub fn preparing(&self) -> Preparing {
        self.gauges.preparing.fetch_add(1, Ordering::SeqCst);
        Preparing(self.gauges.clone())
    }

    /// Stores one batch; resolves once it is durable (or known to be stored already).
    pub async fn append(&self, pending: Pending, preparing: Preparing) -> Result<Appended, BufferError> {
        let (reply, answer) = oneshot::channel();
        // Queued before it stops counting as preparing, so the writer never misses it in between.
        let sent = self.tx.send(Command::Append(pending, reply)).await;
        drop(preparing);
        sent.map_err(|_| BufferError::Closed)?;
        answer.await.map_err(|_| BufferError::Closed)?
    }

    /// Removes chunks once delivered. Durable with the next flush; a crash before it only means the chunks are
    /// delivered again, which the receiver deduplicates by chunk id.
    pub async fn remove(&self, chunk_seqs: Vec<u64>) -> Result<(), BufferError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Command::Remove(chunk_seqs, reply)).await.map_err(|_| BufferError::Closed)?;
        answer.await.map_err(|_| BufferError::Closed)?
    }

    /// Refreshes the disk figures and prunes the dedup index; the server calls it every second.
    pub async fn tick(&self) {
        self.refresh_space();
        let _ = self.tx.send(Command::Tick).await;
    }

    /// Reads the filesystem's free space again, logging once when the guard's state changes.
    fn refresh_space(&self) {
        self.space.watch("batches");
        self.publish_space();
    }

    fn publish_space(&self) {
        self.metrics.storage_free_bytes.set(i64::try_from(self.space.free_bytes()).unwrap_or(i64::MAX));
        self.metrics.storage_low.set(i64::from(self.space.is_low()));
    }

    /// True while the data dir's filesystem has less free space than `storage.min_free_bytes`.
    pub fn is_disk_low(&self) -> bool {
        self.space.is_low()
    }

    /// True while new batches must be refused for lack of disk.
    ///
    /// The engine's files shrink only when new writes reuse the space that deletes freed (measured: 213 MB of
    /// files for 0 live bytes, 66 MB after 12 MB more writes), so "files at the budget" alone would refuse
    /// writes forever after an outage drained. The buffer is full when its files have reached the budget and at
    /// least half of the budget is still live data; below that, writes go on and reuse the freed space.
    pub fn is_full(&self) -> bool {
        let disk = self.gauges.disk_bytes.load(Ordering::Relaxed);
        let live = self.gauges.live_bytes.load(Ordering::Relaxed);
        let budget = self.disk_budget();
        disk >= budget && live >= budget / 2
    }

    pub fn disk_budget(&self) -> u64 {
        self.disk_budget_bytes.load(Ordering::Relaxed)
    }

    /// Changes the disk budget (a policy's, capped by the configuration by the caller).
    pub fn set_disk_budget(&self, bytes: u64) {
        self.disk_budget_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn is_writable(&self) -> bool {
        self.gauges.writer_alive.load(Ordering::SeqCst) && !self.tx.is_closed()
    }

    pub fn gauges(&self) -> &Gauges {
        &self.gauges
    }

    pub fn store(&self) -> &BufferStore {
        &self.store
    }

    /// Writes what is queued, flushes, and stops the writer thread.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
        let handle = self.writer.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Bytes a chunk of `chunk_len` bytes takes once framed.
pub fn framed_len(chunk_len: usize) -> u64 {
    let frames = chunk_len.div_ceil(frame::FRAME_PAYLOAD).max(1);
    (chunk_len + frames * frame::FRAME_HEADER_LEN) as u64
}

/// Checks the newest chunks (all of them if the state record is missing), moves damaged ones to the
/// `quarantine` tree, and returns counters that match what is stored.
fn recover(store: &BufferStore) -> Result<Recovery, StoreError> {
    let saved = store.state()?;
    let from = match saved {
        Some(_) => store.tail_start(TAIL_CHUNKS_CHECKED)?,
        None => 0,
    };
    let mut counted = State::default();
    let mut damaged = Vec::new();
    let mut highest = None;
    let (chunks, read_error) = store.chunks(from);
    for item in chunks {
        match item {
            Ok((seq, bytes)) => {
                highest = Some(seq);
                match Chunk::decode(&bytes) {
                    Ok(_) => {
                        counted.live_bytes += framed_len(bytes.len());
                        counted.depth += 1;
                    }
                    Err(e) => damaged.push(Damage { chunk_seq: seq, reason: e.to_string() }),
                }
            }
            Err(damage) => {
                highest = highest.max(Some(damage.chunk_seq));
                damaged.push(damage);
            }
        }
    }
    if let Some(e) = read_error.get() {
        return Err(StoreError::Io(std::io::Error::other(e)));
    }
    let mut state = saved.unwrap_or(counted);
    state.next_seq = state.next_seq.max(highest.map_or(0, |seq| seq + 1));
    if !damaged.is_empty() {
        let quarantine = store.db.tree("quarantine")?;
        for damage in &damaged {
            tracing::error!(chunk = damage.chunk_seq, reason = %damage.reason, "damaged chunk moved to quarantine");
            let frames = store.frame_sizes(damage.chunk_seq)?;
            let mut batch = traceflow_store::Batch::default();
            for (key, size) in &frames {
                if let Some(value) = store.tree.get(key)? {
                    quarantine.insert(key, value)?;
                }
                batch.remove(key);
                // Only a saved state counted this chunk; a recount never did.
                if saved.is_some() {
                    state.live_bytes = state.live_bytes.saturating_sub(*size);
                }
            }
            if saved.is_some() {
                state.depth = state.depth.saturating_sub(1);
            }
            batch.insert(store::STATE_KEY, &state.encode()[..]);
            store.tree.apply(batch)?;
        }
    }
    store.tree.insert(store::STATE_KEY, &state.encode()[..])?;
    store.db.sync()?;
    Ok(Recovery { state, damaged })
}
