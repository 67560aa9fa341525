//! The buffer's records in the runner's database (see `traceflow_store`). Key layout of the `buffer` tree:
//!
//! ```text
//! 'F' chunk_seq u64 BE, frame_index u16 BE  -> frame (traceflow_protocol::frame)
//! 'D' session key [16]                       -> SeenSeqs (dedup index)
//! 'M' "state"                                -> next_seq u64 | live_bytes u64 | depth u64 (LE)
//! ```
//!
//! Frames, dedup entries and the state record of one group commit go in one atomic batch, so after a
//! crash the three always agree. Big-endian sequence numbers make key order equal chunk order.

use std::path::Path;

use traceflow_protocol::frame::Scan;
use traceflow_store::{Batch, Db, Iter, Options, Tree, Value};

pub(crate) const FRAME_PREFIX: u8 = b'F';
pub(crate) const DEDUP_PREFIX: u8 = b'D';
pub(crate) const STATE_KEY: &[u8] = b"Mstate";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data dir {0} is in use by another process (is a runner running on it?)")]
    Locked(String),
    #[error(transparent)]
    Storage(traceflow_store::Error),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<traceflow_store::Error> for StoreError {
    fn from(error: traceflow_store::Error) -> StoreError {
        match error {
            traceflow_store::Error::Locked(dir) => StoreError::Locked(dir),
            other => StoreError::Storage(other),
        }
    }
}

/// Counters kept in the state record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub next_seq: u64,
    pub live_bytes: u64,
    pub depth: u64,
}

impl State {
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..8].copy_from_slice(&self.next_seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.live_bytes.to_le_bytes());
        out[16..].copy_from_slice(&self.depth.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<State> {
        let word = |i: usize| bytes.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        Some(State { next_seq: word(0)?, live_bytes: word(8)?, depth: word(16)? })
    }
}

pub(super) fn frame_key(chunk_seq: u64, index: u16) -> [u8; 11] {
    let mut key = [0; 11];
    key[0] = FRAME_PREFIX;
    key[1..9].copy_from_slice(&chunk_seq.to_be_bytes());
    key[9..].copy_from_slice(&index.to_be_bytes());
    key
}

fn parse_frame_key(key: &[u8]) -> Option<(u64, u16)> {
    if key.len() != 11 || key[0] != FRAME_PREFIX {
        return None;
    }
    Some((u64::from_be_bytes(key[1..9].try_into().ok()?), u16::from_be_bytes([key[9], key[10]])))
}

pub(super) fn dedup_key(session: &[u8; 16]) -> [u8; 17] {
    let mut key = [0; 17];
    key[0] = DEDUP_PREFIX;
    key[1..].copy_from_slice(session);
    key
}

/// The runner's database (`DATA_DIR/db`) and its `buffer` tree; the other trees (vault, policy, upload state,
/// dead letters, quarantine) live in the same database.
#[derive(Clone)]
pub struct BufferStore {
    pub db: Db,
    pub tree: Tree,
}

impl BufferStore {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<BufferStore, StoreError> {
        // Durability comes from the group commit's explicit syncs, not from a timer.
        let options = Options { cache_bytes, flush_every_ms: None };
        let db = Db::open(&dir.join("db"), options).map_err(|e| match e {
            traceflow_store::Error::Locked(_) => StoreError::Locked(dir.display().to_string()),
            other => StoreError::from(other),
        })?;
        let tree = db.tree("buffer")?;
        Ok(BufferStore { db, tree })
    }

    /// The buffer in a database already open.
    pub fn from_db(db: Db) -> Result<BufferStore, StoreError> {
        let tree = db.tree("buffer")?;
        Ok(BufferStore { db, tree })
    }

    /// Opens a stopped runner's database for an offline command, writing nothing under `dir` (see
    /// [`Db::open_read_only`]).
    pub fn open_read_only(dir: &Path, cache_bytes: u64) -> Result<BufferStore, StoreError> {
        let options = Options { cache_bytes, flush_every_ms: None };
        let db = Db::open_read_only(&dir.join("db"), options).map_err(|e| match e {
            traceflow_store::Error::Locked(_) => StoreError::Locked(dir.display().to_string()),
            other => StoreError::from(other),
        })?;
        let tree = db.tree("buffer")?;
        Ok(BufferStore { db, tree })
    }

    /// Process holding the data dir `dir` (see [`Db::lock_holder`]), when it can be found.
    pub fn lock_holder(dir: &Path) -> Option<u32> {
        Db::lock_holder(&dir.join("db"))
    }

    pub fn state(&self) -> Result<Option<State>, StoreError> {
        Ok(self.tree.get(STATE_KEY)?.and_then(|v| State::decode(&v)))
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk()
    }

    /// Frames from `from_seq` on, in order; a read error ends the stream and is kept in the returned slot.
    fn frames(&self, from_seq: u64) -> Frames {
        let start = frame_key(from_seq, 0);
        let end: &[u8] = &[FRAME_PREFIX + 1];
        Frames { inner: self.tree.range(&start[..]..end), error: ReadError::default() }
    }

    /// Sequence number of the oldest of the last `chunks` chunks (0 when the buffer is empty).
    pub fn tail_start(&self, chunks: usize) -> Result<u64, StoreError> {
        let mut seen = 0;
        let mut last = None;
        let (start, end): (&[u8], &[u8]) = (&[FRAME_PREFIX], &[FRAME_PREFIX + 1]);
        for item in self.tree.range(start..end).rev() {
            let (key, _) = item?;
            let Some((seq, _)) = parse_frame_key(&key) else {
                continue;
            };
            if last != Some(seq) {
                seen += 1;
                if seen > chunks {
                    break;
                }
                last = Some(seq);
            }
        }
        Ok(last.unwrap_or(0))
    }

    /// Chunks from `from_seq` on, reassembled and checked; damage is reported in place of a chunk.
    /// Returns the slot where a storage read error that ended the scan early is kept.
    pub fn chunks(&self, from_seq: u64) -> (Scan<Frames>, ReadError) {
        let frames = self.frames(from_seq);
        let error = frames.error.clone();
        (Scan::new(frames), error)
    }

    /// Keys and value sizes of one chunk's frames.
    pub fn frame_sizes(&self, chunk_seq: u64) -> Result<Vec<(Value, u64)>, StoreError> {
        let (start, end) = (frame_key(chunk_seq, 0), frame_key(chunk_seq, u16::MAX));
        self.tree
            .range(&start[..]..=&end[..])
            .map(|item| item.map(|(k, v)| (k, v.len() as u64)).map_err(StoreError::from))
            .collect()
    }

    pub fn dedup_entries(&self) -> Iter {
        self.tree.scan_prefix([DEDUP_PREFIX])
    }
}

/// Where a scan leaves the storage error that stopped it, if any.
#[derive(Clone, Default)]
pub struct ReadError(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl ReadError {
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|slot| slot.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

/// Key-ordered frames as `(chunk_seq, index, value)`.
pub struct Frames {
    inner: Iter,
    error: ReadError,
}

impl Iterator for Frames {
    type Item = (u64, u16, Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self.inner.next()? {
            Ok((key, value)) => {
                // Keys under the frame prefix are only ever written by frame_key.
                let (seq, index) = parse_frame_key(&key).unwrap_or((u64::MAX, 0));
                Some((seq, index, value))
            }
            Err(e) => {
                if let Ok(mut slot) = self.error.0.lock() {
                    *slot = Some(e.to_string());
                }
                None
            }
        }
    }
}

impl BufferStore {
    /// Appends an already encoded chunk as the next chunk, for offline tools (`dlq retry`) while no writer
    /// thread runs. Not flushed; the caller flushes.
    pub fn append_chunk(&self, chunk: &[u8], framed_bytes: u64) -> Result<u64, StoreError> {
        let mut state = self.state()?.unwrap_or_default();
        let seq = state.next_seq;
        let frames =
            traceflow_protocol::frame::split(seq, chunk).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let mut batch = Batch::default();
        for (index, frame) in frames.into_iter().enumerate() {
            batch.insert(&frame_key(seq, index as u16)[..], frame);
        }
        state.next_seq += 1;
        state.live_bytes += framed_bytes;
        state.depth += 1;
        batch.insert(STATE_KEY, &state.encode()[..]);
        self.tree.apply(batch)?;
        Ok(seq)
    }
}
