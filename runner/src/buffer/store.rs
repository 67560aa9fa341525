//! The only module that knows the storage engine (sled). Key layout of the `buffer` tree:
//!
//! ```text
//! 'F' chunk_seq u64 BE, frame_index u16 BE  -> frame (traceflow_shared::frame)
//! 'D' session key [16]                       -> SeenSeqs (dedup index)
//! 'M' "state"                                -> next_seq u64 | live_bytes u64 | depth u64 (LE)
//! ```
//!
//! Frames, dedup entries and the state record of one group commit go in one atomic sled batch, so after a
//! crash the three always agree. Big-endian sequence numbers make key order equal chunk order.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use traceflow_shared::frame::Scan;

pub(crate) const FRAME_PREFIX: u8 = b'F';
pub(crate) const DEDUP_PREFIX: u8 = b'D';
pub(crate) const STATE_KEY: &[u8] = b"Mstate";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data dir {0} is in use by another process (is a runner running on it?)")]
    Locked(String),
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
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

pub fn frame_key(chunk_seq: u64, index: u16) -> [u8; 11] {
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

pub fn dedup_key(session: &[u8; 16]) -> [u8; 17] {
    let mut key = [0; 17];
    key[0] = DEDUP_PREFIX;
    key[1..].copy_from_slice(session);
    key
}

/// The sled database, made durable by [`Db::sync`] (never by sled's `flush` alone).
///
/// sled 0.34's `flush` writes its log file with `pwrite` and `sync_file_range`. That puts the pages on the device
/// but neither records the file's new length, which grows as the log does, nor flushes the device's write cache:
/// a killed process loses nothing that was flushed, a power cut can. And a log record bigger than a quarter of a
/// segment (128 KiB: a tree node holding that much, e.g. several large values) goes to a file of its own under
/// `blobs/`, written with no sync at all. `sync` adds what is missing: an `fsync` of every blob file not yet
/// synced and of their directory, then an `fdatasync` of the log file. The buffer's frames are small enough
/// that its nodes never become blobs (see `traceflow_shared::frame`); a large policy bundle can.
#[derive(Clone)]
pub struct Db {
    sled: sled::Db,
    log: Arc<File>,
    blobs: Arc<Blobs>,
}

/// sled's blob directory and the files in it already synced.
struct Blobs {
    dir: PathBuf,
    synced: Mutex<HashSet<OsString>>,
}

impl Db {
    /// Wraps a database sled opened at `path`.
    pub fn new(sled: sled::Db, path: &Path) -> Result<Db, StoreError> {
        // sled keeps its log in `<path>/db`, which it only ever grows, truncates or overwrites in place.
        let log = File::open(path.join("db"))?;
        let blobs = Blobs { dir: path.join("blobs"), synced: Mutex::new(HashSet::new()) };
        let db = Db { sled, log: Arc::new(log), blobs: Arc::new(blobs) };
        // Whatever is there from before, and the directory entries made on first start.
        db.blobs.sync()?;
        File::open(path)?.sync_all()?;
        Ok(db)
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.sled.flush()?;
        self.blobs.sync()?;
        self.log.sync_data()?;
        Ok(())
    }
}

impl Blobs {
    /// Syncs the blob files written since the last call, and the directory if there were any.
    fn sync(&self) -> std::io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut present = HashSet::with_capacity(synced.len());
        let mut new = false;
        for entry in entries {
            let name = entry?.file_name();
            if !synced.contains(&name) {
                match File::open(self.dir.join(&name)) {
                    Ok(file) => file.sync_all()?,
                    // sled removed it meanwhile: nothing to make durable.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new = true;
            }
            present.insert(name);
        }
        if new {
            File::open(&self.dir)?.sync_all()?;
        }
        *synced = present;
        Ok(())
    }
}

impl Deref for Db {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        &self.sled
    }
}

#[derive(Clone)]
pub struct Store {
    pub db: Db,
    pub tree: sled::Tree,
}

impl Store {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("db");
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // Durability comes from our explicit group-commit flushes, not from a timer.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(dir.display().to_string())
                }
                other => StoreError::Sled(other),
            })?;
        let tree = db.open_tree("buffer")?;
        Ok(Store { db: Db::new(db, &path)?, tree })
    }

    /// Process holding the engine's lock on `dir` (read from Linux's `/proc/locks`), when it can be found; lets
    /// offline commands name the runner that is using a data dir.
    pub fn lock_holder(dir: &Path) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        // sled takes an exclusive flock on `<path>/db`.
        let meta = std::fs::metadata(dir.join("db").join("db")).ok()?;
        let id = format!("{:02x}:{:02x}:{}", libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        // Lines look like `1: FLOCK  ADVISORY  WRITE 1579 fe:00:10010707 0 EOF`; the pid precedes the file id.
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|field| *field == id)?;
            fields.get(at.checked_sub(1)?)?.parse().ok()
        })
    }

    pub fn state(&self) -> Result<Option<State>, StoreError> {
        Ok(self.tree.get(STATE_KEY)?.and_then(|v| State::decode(&v)))
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
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
    pub fn frame_sizes(&self, chunk_seq: u64) -> Result<Vec<(sled::IVec, u64)>, StoreError> {
        let (start, end) = (frame_key(chunk_seq, 0), frame_key(chunk_seq, u16::MAX));
        self.tree
            .range(&start[..]..=&end[..])
            .map(|item| item.map(|(k, v)| (k, v.len() as u64)).map_err(StoreError::from))
            .collect()
    }

    pub fn dedup_entries(&self) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> {
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
    inner: sled::Iter,
    error: ReadError,
}

impl Iterator for Frames {
    type Item = (u64, u16, sled::IVec);

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

impl Store {
    /// Appends an already encoded chunk as the next chunk, for offline tools (`dlq retry`) while no writer
    /// thread runs. Not flushed; the caller flushes.
    pub fn append_chunk(&self, chunk: &[u8], framed_bytes: u64) -> Result<u64, StoreError> {
        let mut state = self.state()?.unwrap_or_default();
        let seq = state.next_seq;
        let frames =
            traceflow_shared::frame::split(seq, chunk).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let mut batch = sled::Batch::default();
        for (index, frame) in frames.into_iter().enumerate() {
            batch.insert(&frame_key(seq, index as u16)[..], frame);
        }
        state.next_seq += 1;
        state.live_bytes += framed_bytes;
        state.depth += 1;
        batch.insert(STATE_KEY, &state.encode()[..]);
        self.tree.apply_batch(batch)?;
        Ok(seq)
    }
}
