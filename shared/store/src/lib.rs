//! TRACEFLOW's storage layer: the one interface to the embedded storage engine, used by both services.
//!
//! In the data flow the runner keeps its durable buffer, dedup index, vault, policies and upload state here, and the
//! control plane its runners, uploads, sessions, policies and audit log. Neither names the engine: they open a
//! [`Db`], take named [`Tree`]s from it, write with [`Tree::insert`] or atomically with a [`Batch`] (across trees
//! with [`Db::apply_atomic`]), and make writes durable with [`Db::sync`]. The engine behind it is sled 0.34; this
//! crate is the only one that depends on it, so replacing it (or adding a fault-injecting or Redis backend behind
//! the same interface) changes no caller.
//!
//! # Invariants
//!
//! - **Nothing is durable until [`Db::sync`] returns.** sled's own `flush` is not enough, see [`Db::sync`]. Both
//!   services answer a write that must survive a power cut (a runner's 202, a control plane's upload, enrollment or
//!   policy change) only after `sync` returned `Ok`.
//! - **A [`Batch`] applies whole or not at all**, also after a crash; so does [`Db::apply_atomic`] across trees.
//! - Keys are ordered bytewise, so big-endian integers in keys iterate in numeric order.
//! - One process holds a data dir at a time: opening one that another process holds fails with [`Error::Locked`].

#![forbid(unsafe_code)]

pub mod private;
pub mod space;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::ops::{Deref, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// Everything a storage operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the data dir.
    #[error("the data dir {0} is in use by another process")]
    Locked(String),
    /// The engine reported an error (I/O underneath, corruption, or an unsupported operation).
    #[error("storage error: {0}")]
    Engine(String),
    /// A file operation of the durable sync failed.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sled::Error> for Error {
    fn from(error: sled::Error) -> Error {
        match error {
            sled::Error::Io(io) => Error::Io(io),
            other => Error::Engine(other.to_string()),
        }
    }
}

/// How a [`Db`] is opened.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Bytes of page cache the engine may hold.
    pub cache_bytes: u64,
    /// A background flush every this many milliseconds (not durable: see [`Db::sync`]); `None` leaves every flush
    /// to the caller's [`Db::sync`], as a group commit wants.
    pub flush_every_ms: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options { cache_bytes: 64 << 20, flush_every_ms: None }
    }
}

/// A stored key or value: cheap to clone, read as bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value(sled::IVec);

impl Deref for Value {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Value> for Vec<u8> {
    fn from(value: Value) -> Vec<u8> {
        value.0.to_vec()
    }
}

/// The database: one per data dir, holding named trees.
///
/// Made durable by [`Db::sync`], never by the engine's `flush` alone. sled 0.34's `flush` writes its log file with
/// `pwrite` and `sync_file_range`. That puts the pages on the device but neither records the file's new length,
/// which grows as the log does, nor flushes the device's write cache: a killed process loses nothing that was
/// flushed, a power cut can. And a log record bigger than a quarter of a segment (128 KiB: a tree node holding
/// that much, e.g. several large values) goes to a file of its own under `blobs/`, written with no sync at all.
/// `sync` adds what is missing: an `fsync` of every blob file not yet synced and of their directory, then an
/// `fdatasync` of the log file.
#[derive(Clone)]
pub struct Db {
    sled: sled::Db,
    path: PathBuf,
    log: Arc<File>,
    blobs: Arc<Blobs>,
    syncs: Arc<AtomicU64>,
}

/// sled's blob directory and the files in it already synced.
struct Blobs {
    dir: PathBuf,
    synced: Mutex<HashSet<OsString>>,
}

impl Db {
    /// Opens (or creates) the database in the directory `path`.
    pub fn open(path: &Path, options: Options) -> Result<Db, Error> {
        std::fs::create_dir_all(path)?;
        // Only while no process holds the database: a running one may be writing its snapshot right now.
        if Db::lock_holder(path).is_none() {
            remove_unfinished_snapshots(path)?;
        }
        let sled = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(options.flush_every_ms)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    Error::Locked(path.display().to_string())
                }
                other => Error::from(other),
            })?;
        // sled keeps its log in `<path>/db`, which it only ever grows, truncates or overwrites in place.
        let log = File::open(path.join("db"))?;
        let blobs = Blobs { dir: path.join("blobs"), synced: Mutex::new(HashSet::new()) };
        let db = Db {
            sled,
            path: path.to_path_buf(),
            log: Arc::new(log),
            blobs: Arc::new(blobs),
            syncs: Arc::new(AtomicU64::new(0)),
        };
        // Whatever is there from before, and the directory entries made on first start.
        db.blobs.sync()?;
        File::open(path)?.sync_all()?;
        Ok(db)
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tree called `name`, created empty if it does not exist.
    pub fn tree(&self, name: &str) -> Result<Tree, Error> {
        Ok(Tree(self.sled.open_tree(name)?))
    }

    /// Makes every write so far durable: on the device, with the log's length, and in its blob files.
    pub fn sync(&self) -> Result<(), Error> {
        self.sled.flush()?;
        self.blobs.sync()?;
        self.log.sync_data()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many [`Db::sync`] calls have completed on this database (by any clone) since it was opened.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Bytes the database takes on disk (0 if they cannot be read).
    pub fn size_on_disk(&self) -> u64 {
        self.sled.size_on_disk().unwrap_or(0)
    }

    /// A number never returned before by this database, also across restarts; increasing, with gaps.
    pub fn generate_id(&self) -> Result<u64, Error> {
        Ok(self.sled.generate_id()?)
    }

    /// Applies each batch to its tree in one transaction: after a crash either all of them are there or none.
    pub fn apply_atomic(&self, writes: &[(&Tree, &Batch)]) -> Result<(), Error> {
        let trees: Vec<&sled::Tree> = writes.iter().map(|(tree, _)| &tree.0).collect();
        trees
            .as_slice()
            .transaction(|views| {
                for (view, (_, batch)) in views.iter().zip(writes) {
                    view.apply_batch(&batch.0)?;
                }
                Ok::<(), ConflictableTransactionError<Error>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => Error::from(e),
            })
    }

    /// Process holding the engine's lock on the database in `path` (read from Linux's `/proc/locks`), when it can
    /// be found; lets offline commands name the process that is using a data dir.
    pub fn lock_holder(path: &Path) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        // sled takes an exclusive flock on `<path>/db`.
        let meta = std::fs::metadata(path.join("db")).ok()?;
        let id = format!("{:02x}:{:02x}:{}", libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        // Lines look like `1: FLOCK  ADVISORY  WRITE 1579 fe:00:10010707 0 EOF`; the pid precedes the file id.
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|field| *field == id)?;
            fields.get(at.checked_sub(1)?)?.parse().ok()
        })
    }
}

/// Removes the snapshot files sled was still writing when it stopped (`snap.<lsn>.generating`). sled renames a
/// snapshot to `snap.<lsn>` once it is whole, and on open it takes the snapshot file that sorts last, which is a
/// leftover `.generating` one when present: a half-written file that fails its checksum and makes every open fail
/// (sled issue #1527, left behind by a full disk or a crash). Without it, sled opens from the last whole snapshot
/// and replays the log after it, so nothing written is lost.
fn remove_unfinished_snapshots(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %entry.path().display(), "removing a snapshot the storage engine never finished");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
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
                    // The engine removed it meanwhile: nothing to make durable.
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

/// A named, ordered map of byte keys to byte values inside a [`Db`].
#[derive(Clone)]
pub struct Tree(sled::Tree);

impl Tree {
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        Ok(self.0.get(key)?.map(Value))
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(self.0.contains_key(key)?)
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        Ok(self.0.insert(key.as_ref(), value.as_ref())?.map(Value))
    }

    /// Removes `key`; returns the value it had.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        Ok(self.0.remove(key)?.map(Value))
    }

    /// Sets `key` to `new` (or removes it for `None`) only if its value is `old` (`None`: absent). True if it did.
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error> {
        Ok(self.0.compare_and_swap(key, old, new)?.is_ok())
    }

    /// Applies every write of `batch` atomically.
    pub fn apply(&self, batch: Batch) -> Result<(), Error> {
        Ok(self.0.apply_batch(batch.0)?)
    }

    /// Entries with keys in `range`, in key order (or reversed with `.rev()`).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        Iter(self.0.range(range))
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Iter(self.0.scan_prefix(prefix))
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter {
        Iter(self.0.iter())
    }

    /// Number of entries (counts them: linear in the tree's size).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Entries of a [`Tree`] in key order; a storage error is returned in place of an entry.
pub struct Iter(sled::Iter);

impl Iter {
    /// The keys alone.
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Value, Error>> {
        self.map(|entry| entry.map(|(key, _)| key))
    }

    /// The values alone.
    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<Value, Error>> {
        self.map(|entry| entry.map(|(_, value)| value))
    }
}

impl Iterator for Iter {
    type Item = Result<(Value, Value), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|entry| entry.map(|(k, v)| (Value(k), Value(v))).map_err(Error::from))
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|entry| entry.map(|(k, v)| (Value(k), Value(v))).map_err(Error::from))
    }
}

/// Writes to one tree that apply together ([`Tree::apply`], [`Db::apply_atomic`]).
#[derive(Clone, Default)]
pub struct Batch(sled::Batch);

impl Batch {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.0.insert(key.as_ref(), value.as_ref());
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.remove(key.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Db {
        Db::open(&dir.join("db"), Options::default()).unwrap()
    }

    #[test]
    fn writes_survive_a_reopen_after_sync() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open(dir.path());
            let tree = db.tree("t").unwrap();
            tree.insert(b"k", b"v").unwrap();
            let mut batch = Batch::default();
            batch.insert(b"a", b"1");
            batch.insert(b"b", b"2");
            batch.remove(b"k");
            tree.apply(batch).unwrap();
            db.sync().unwrap();
            assert_eq!(db.sync_count(), 1);
        }
        let db = open(dir.path());
        let tree = db.tree("t").unwrap();
        let keys: Vec<Vec<u8>> = tree.iter().keys().map(|k| k.unwrap().into()).collect();
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(db.sync_count(), 0, "the count is per open database");
    }

    #[test]
    fn an_unfinished_snapshot_left_by_a_crash_or_a_full_disk_does_not_stop_the_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open(dir.path());
            let tree = db.tree("t").unwrap();
            for n in 0u32..200 {
                tree.insert(n.to_be_bytes(), vec![7u8; 100]).unwrap();
            }
            db.sync().unwrap();
        }
        // What a snapshot cut short by ENOSPC leaves: a `.generating` file that sorts after every whole one.
        std::fs::write(dir.path().join("db").join("snap.FFFFFFFFFFFFFFFF.generating"), [1u8; 40]).unwrap();
        let db = open(dir.path());
        assert_eq!(db.tree("t").unwrap().len(), 200, "every synced write is there");
        let left = std::fs::read_dir(dir.path().join("db")).unwrap();
        assert!(left.flatten().all(|e| !e.file_name().to_string_lossy().ends_with(".generating")));
    }

    #[test]
    fn apply_atomic_writes_every_tree() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let (one, two) = (db.tree("one").unwrap(), db.tree("two").unwrap());
        let (mut first, mut second) = (Batch::default(), Batch::default());
        first.insert(b"x", b"1");
        second.insert(b"y", b"2");
        db.apply_atomic(&[(&one, &first), (&two, &second)]).unwrap();
        assert_eq!(one.get(b"x").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(two.get(b"y").unwrap().as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn compare_and_swap_only_swaps_the_expected_value() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let tree = db.tree("t").unwrap();
        assert!(tree.compare_and_swap(b"k", None, Some(b"1")).unwrap());
        assert!(!tree.compare_and_swap(b"k", None, Some(b"2")).unwrap());
        assert!(tree.compare_and_swap(b"k", Some(b"1"), Some(b"2")).unwrap());
        assert_eq!(tree.get(b"k").unwrap().as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn ranges_and_prefixes_iterate_in_key_order_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let tree = db.tree("t").unwrap();
        for n in [3u64, 1, 2, 10] {
            tree.insert([&b"p"[..], &n.to_be_bytes()].concat(), b"").unwrap();
        }
        tree.insert(b"q", b"").unwrap();
        let numbers = |iter: Iter| -> Vec<u64> {
            iter.keys().map(|k| u64::from_be_bytes(k.unwrap()[1..].try_into().unwrap())).collect()
        };
        assert_eq!(numbers(tree.scan_prefix(b"p")), vec![1, 2, 3, 10]);
        let newest: Vec<u64> =
            tree.scan_prefix(b"p").rev().map(|e| u64::from_be_bytes(e.unwrap().0[1..].try_into().unwrap())).collect();
        assert_eq!(newest, vec![10, 3, 2, 1]);
        let from_two = [&b"p"[..], &2u64.to_be_bytes()].concat();
        assert_eq!(numbers(tree.range(from_two.as_slice()..b"q".as_slice())), vec![2, 3, 10]);
    }

    #[test]
    fn a_second_open_of_the_same_dir_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _db = open(dir.path());
        match Db::open(&dir.path().join("db"), Options::default()) {
            Err(Error::Locked(_)) => {}
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a held data dir opened twice"),
        }
        assert_eq!(Db::lock_holder(&dir.path().join("db")), Some(std::process::id()));
    }
}
