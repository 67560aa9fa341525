//! TRACEFLOW's storage layer: the one interface to the embedded storage engine, used by both services.
//!
//! In the data flow the runner keeps its durable buffer, dedup index, vault, policies and upload state here, and the
//! control plane its runners, uploads, sessions, policies and audit log. Neither names the engine: they open a
//! [`Db`], take named [`Tree`]s from it, write with [`Tree::insert`] or atomically with a [`Batch`] (across trees
//! with [`Db::apply_atomic`]), and make writes durable with [`Db::sync`]. The engine behind it is redb 5 (a
//! copy-on-write B-tree in one file, `traceflow.redb`); this crate is the only one that names it. The reasons for
//! the engine, and the evidence against sled which stored data dirs before, are in `docs/decisions.md`.
//!
//! # Invariants
//!
//! - **Nothing is durable until [`Db::sync`] returns.** Every write is a transaction of its own, committed without
//!   an fsync; `sync` commits durably, which makes it and every write before it survive a power cut. Both services
//!   answer a write that must survive (a runner's 202, a control plane's upload, enrollment or policy change) only
//!   after `sync` returned `Ok`.
//! - **A [`Batch`] applies whole or not at all**, also after a crash; so does [`Db::apply_atomic`] across trees.
//! - **The store always opens.** A crash, ENOSPC or EIO at any write or sync leaves a file that opens with every
//!   synced write ([`testing`] proves it for every write position of a run). After an I/O error the open database
//!   is fenced off and reopened from the file on the next call, so a service recovers without a restart once the
//!   disk works again; [`Db::generation`] tells callers that caches of unsynced state must be dropped.
//! - **Read-only opens write nothing** ([`Db::open_read_only`]): a file left by a crash is recovered in memory.
//! - Keys are ordered bytewise, so big-endian integers in keys iterate in numeric order.
//! - One process writes a data dir at a time: opening one that another process holds fails with
//!   [`Error::Locked`].
//! - A data dir written by a release that stored it with sled is imported once, on the first writable open
//!   (`legacy`), and every entry in it is kept.

#![forbid(unsafe_code)]

mod disk;
mod legacy;
pub mod private;
pub mod space;
pub mod testing;

use std::fs::File;
use std::ops::{Bound, Deref, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use redb::{Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

/// The engine's file inside the data dir's database directory.
pub const FILE_NAME: &str = "traceflow.redb";
/// The lock file inside the database directory: an exclusive `flock` by the one writer, shared ones by readers.
const LOCK_NAME: &str = "lock";
/// The table holding this layer's own records (the id counter).
const META_TABLE: &str = "__traceflow_store";
const NEXT_ID_KEY: &[u8] = b"next_id";

type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Everything a storage operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the data dir.
    #[error("the data dir {0} is in use by another process")]
    Locked(String),
    /// A write on a database opened with [`Db::open_read_only`].
    #[error("the database is open read-only")]
    ReadOnly,
    /// The data dir was written by an earlier release and has not been imported yet; only a writable open does it.
    #[error(
        "the data dir {0} is in the storage format of an earlier release: start the service on it once, or run its `upgrade` command, to import it"
    )]
    NeedsImport(String),
    /// The engine reported an error (corruption, or an unsupported operation).
    #[error("storage error: {0}")]
    Engine(String),
    /// The file underneath failed (ENOSPC, EIO, ...). The database reopens itself on the next call.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<redb::Error> for Error {
    fn from(error: redb::Error) -> Error {
        match error {
            redb::Error::Io(io) => Error::Io(io),
            redb::Error::DatabaseAlreadyOpen => Error::Locked("(the engine's lock)".into()),
            other => Error::Engine(other.to_string()),
        }
    }
}

/// An engine error that says the file underneath failed: the open database must be fenced off and reopened.
fn is_io_failure(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Corrupted(_))
}

/// How a [`Db`] is opened.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Bytes of page cache the engine may hold.
    pub cache_bytes: u64,
    /// A background [`Db::sync`] every this many milliseconds, for stores whose writes need not wait for one;
    /// `None` leaves every sync to the caller, as a group commit wants.
    pub flush_every_ms: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options { cache_bytes: 64 << 20, flush_every_ms: None }
    }
}

/// A stored key or value, read as bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value(Vec<u8>);

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
        value.0
    }
}

/// The database: one per data dir, holding named trees. Clones share it.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    read_only: bool,
    source: disk::Source,
    cache_bytes: u64,
    slot: RwLock<Option<Open>>,
    generation: AtomicU64,
    syncs: AtomicU64,
    /// Trees created by this handle: [`Db::tree`] writes only the first time. (Every write opens its table for
    /// writing too, so a tree lost with unsynced writes is made again when written.)
    created: std::sync::Mutex<std::collections::HashSet<Arc<str>>>,
    /// Holds the `flock` on [`LOCK_NAME`] while the database is open.
    _lock: Option<File>,
}

/// The engine's database as opened from the source, and the fence that retires its backend.
struct Open {
    db: Arc<redb::Database>,
    fence: Arc<AtomicBool>,
}

impl Db {
    /// Opens (or creates) the database in the directory `path` for reading and writing. A data dir written with
    /// sled by an earlier release is imported first.
    pub fn open(path: &Path, options: Options) -> Result<Db, Error> {
        std::fs::create_dir_all(path)?;
        let lock = lock(path, true)?.ok_or_else(|| Error::Locked(path.display().to_string()))?;
        let file = path.join(FILE_NAME);
        if legacy::present(path) {
            legacy::import(path, &file)?;
        }
        let db = Db::with_source(path, disk::Source::File(file), options, false, Some(lock))?;
        if let Some(every) = options.flush_every_ms {
            spawn_background_sync(Arc::downgrade(&db.inner), Duration::from_millis(every.max(1)));
        }
        Ok(db)
    }

    /// Opens the database in `path` without writing anything under it: the file is read as it is, and a file left
    /// by a crash is recovered in memory only. Writes return [`Error::ReadOnly`]. Fails with [`Error::Locked`]
    /// while a process has it open for writing.
    pub fn open_read_only(path: &Path, options: Options) -> Result<Db, Error> {
        let file = path.join(FILE_NAME);
        if !file.exists() {
            if legacy::present(path) {
                return Err(Error::NeedsImport(path.display().to_string()));
            }
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no database in {}", path.display()),
            )));
        }
        let lock = match lock(path, false)? {
            Some(lock) => lock,
            None => return Err(Error::Locked(path.display().to_string())),
        };
        Db::with_source(path, disk::Source::Overlay(file), options, true, Some(lock))
    }

    fn with_source(
        path: &Path,
        source: disk::Source,
        options: Options,
        read_only: bool,
        lock: Option<File>,
    ) -> Result<Db, Error> {
        let inner = Inner {
            path: path.to_path_buf(),
            read_only,
            source,
            cache_bytes: options.cache_bytes,
            slot: RwLock::new(None),
            generation: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            created: Default::default(),
            _lock: lock,
        };
        let db = Db { inner: Arc::new(inner) };
        db.database()?;
        if !read_only {
            // Everything from before is made durable, and the file's directory entry with it.
            db.sync()?;
            if let disk::Source::File(_) = db.inner.source {
                File::open(path)?.sync_all()?;
            }
        }
        Ok(db)
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The tree called `name`, created empty if it does not exist (on a read-only database it reads as empty).
    pub fn tree(&self, name: &str) -> Result<Tree, Error> {
        let tree = Tree { db: self.clone(), name: Arc::from(name) };
        let created = self.inner.created.lock().unwrap_or_else(|e| e.into_inner()).contains(name);
        if !self.inner.read_only && !created {
            let definition = tree.definition();
            self.write(|txn| {
                txn.open_table(definition)?;
                Ok(())
            })?;
            self.inner.created.lock().unwrap_or_else(|e| e.into_inner()).insert(tree.name.clone());
        }
        Ok(tree)
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<(), Error> {
        if self.inner.read_only {
            return Ok(());
        }
        self.transact(Durability::Immediate, |_| Ok(()))?;
        self.inner.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many [`Db::sync`] calls have completed on this database (by any clone) since it was opened.
    pub fn sync_count(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// How many times the database was reopened after an I/O error. Writes not synced before a reopen may be gone,
    /// so a cache of what was written must be dropped when this changes.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Bytes the database takes on disk (0 if they cannot be read).
    pub fn size_on_disk(&self) -> u64 {
        self.inner.source.size()
    }

    /// A number never returned before by this database, also across restarts; increasing.
    pub fn generate_id(&self) -> Result<u64, Error> {
        self.write(|txn| {
            let mut table = txn.open_table(Table::new(META_TABLE))?;
            let next = table.get(NEXT_ID_KEY)?.map(|v| decode_u64(v.value())).unwrap_or(0);
            table.insert(NEXT_ID_KEY, &(next + 1).to_be_bytes()[..])?;
            Ok(next)
        })
    }

    /// Applies each batch to its tree in one transaction: after a crash either all of them are there or none.
    pub fn apply_atomic(&self, writes: &[(&Tree, &Batch)]) -> Result<(), Error> {
        self.write(|txn| {
            for (tree, batch) in writes {
                batch.apply_to(txn, tree.definition())?;
            }
            Ok(())
        })
    }

    /// Process holding the data dir's database in `path` for writing, when it can be found (read from Linux's
    /// `/proc/locks`); lets offline commands name the process that is using a data dir.
    pub fn lock_holder(path: &Path) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path.join(LOCK_NAME)).ok()?;
        let id = format!("{:02x}:{:02x}:{}", libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        // Lines look like `1: FLOCK  ADVISORY  WRITE 1579 fe:00:10010707 0 EOF`; the pid precedes the file id.
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|field| *field == id)?;
            if !fields.contains(&"WRITE") {
                return None;
            }
            fields.get(at.checked_sub(1)?)?.parse().ok()
        })
    }

    /// The engine's database, reopened from the source when the last one was fenced off after an I/O error.
    fn database(&self) -> Result<Arc<redb::Database>, Error> {
        if let Some(open) = self.inner.slot.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(open.db.clone());
        }
        let mut slot = self.inner.slot.write().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = slot.as_ref() {
            return Ok(open.db.clone());
        }
        let fence = Arc::new(AtomicBool::new(false));
        let backend = self.inner.source.backend(fence.clone())?;
        let mut builder = redb::Builder::new();
        builder.set_cache_size(usize::try_from(self.inner.cache_bytes).unwrap_or(usize::MAX));
        let db = builder.create_with_backend(backend).map_err(|e| Error::from(redb::Error::from(e)))?;
        let db = Arc::new(db);
        *slot = Some(Open { db: db.clone(), fence });
        Ok(db)
    }

    /// Fences off `db` after an I/O error: its backend refuses every further write, and the next call reopens.
    fn fence(&self, db: &Arc<redb::Database>) {
        let mut slot = self.inner.slot.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|open| Arc::ptr_eq(&open.db, db)) {
            if let Some(open) = slot.take() {
                open.fence.store(true, Ordering::Release);
            }
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(dir = %self.inner.path.display(), "storage I/O failed; the database reopens from disk on next use");
        }
    }

    fn write<T>(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>) -> Result<T, Error> {
        self.transact(Durability::None, f)
    }

    fn transact<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, Error> {
        if self.inner.read_only {
            return Err(Error::ReadOnly);
        }
        let db = self.database()?;
        let result = (|| {
            let mut txn = db.begin_write().map_err(redb::Error::from)?;
            txn.set_durability(durability).map_err(redb::Error::from)?;
            let out = f(&txn)?;
            txn.commit().map_err(redb::Error::from)?;
            Ok(out)
        })();
        result.map_err(|error: redb::Error| {
            if is_io_failure(&error) {
                self.fence(&db);
            }
            Error::from(error)
        })
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>) -> Result<T, Error> {
        let db = self.database()?;
        let result = db.begin_read().map_err(redb::Error::from).and_then(|txn| f(&txn));
        result.map_err(|error| {
            if is_io_failure(&error) && !self.inner.read_only {
                self.fence(&db);
            }
            Error::from(error)
        })
    }
}

/// Takes the data dir's lock: exclusive for the writer (creating the file), shared for a reader (which creates
/// nothing: without a lock file no writer ever ran on this layout). `None` when another process holds it.
fn lock(path: &Path, exclusive: bool) -> Result<Option<File>, Error> {
    let at = path.join(LOCK_NAME);
    let file = if exclusive {
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&at)?
    } else {
        match File::open(&at) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(File::open(path)?)),
            Err(e) => return Err(e.into()),
        }
    };
    let taken = if exclusive { file.try_lock() } else { file.try_lock_shared() };
    match taken {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Syncs every `every` while the database is open, logging a failure once per run of failures.
fn spawn_background_sync(inner: Weak<Inner>, every: Duration) {
    let spawned = std::thread::Builder::new().name("store-sync".into()).spawn(move || {
        let mut failing = false;
        loop {
            std::thread::sleep(every);
            let Some(inner) = inner.upgrade() else {
                return;
            };
            match (Db { inner }).sync() {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("background sync works again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "background sync failed");
                }
                Err(_) => {}
            }
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the background sync; writes wait for an explicit sync");
    }
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn table_missing(error: &redb::TableError) -> bool {
    matches!(error, redb::TableError::TableDoesNotExist(_))
}

/// A named, ordered map of byte keys to byte values inside a [`Db`].
#[derive(Clone)]
pub struct Tree {
    db: Db,
    name: Arc<str>,
}

impl Tree {
    fn definition(&self) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
        TableDefinition::new(&self.name)
    }

    /// Runs `f` on the tree as of now; `None` when the tree does not exist yet (only on a read-only database).
    fn read<T>(
        &self,
        f: impl FnOnce(redb::ReadOnlyTable<&'static [u8], &'static [u8]>) -> Result<T, redb::Error>,
    ) -> Result<Option<T>, Error> {
        self.db.read(|txn| match txn.open_table(self.definition()) {
            Ok(table) => f(table).map(Some),
            Err(e) if table_missing(&e) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        Ok(self.read(|table| Ok(table.get(key.as_ref())?.map(|v| Value(v.value().to_vec()))))?.flatten())
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(self.get(key)?.is_some())
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        self.db.write(|txn| {
            let mut table = txn.open_table(self.definition())?;
            let old = table.insert(key.as_ref(), value.as_ref())?.map(|v| Value(v.value().to_vec()));
            Ok(old)
        })
    }

    /// Removes `key`; returns the value it had.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        self.db.write(|txn| {
            let mut table = txn.open_table(self.definition())?;
            let old = table.remove(key.as_ref())?.map(|v| Value(v.value().to_vec()));
            Ok(old)
        })
    }

    /// Sets `key` to `new` (or removes it for `None`) only if its value is `old` (`None`: absent). True if it did.
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, Error> {
        let key = key.as_ref();
        self.db.write(|txn| {
            let mut table = txn.open_table(self.definition())?;
            let matches = {
                let current = table.get(key)?;
                current.as_ref().map(|v| v.value()) == old
            };
            if matches {
                match new {
                    Some(new) => drop(table.insert(key, new)?),
                    None => drop(table.remove(key)?),
                }
            }
            Ok(matches)
        })
    }

    /// Runs `f` in one write transaction on this tree: what it reads and writes applies together, and a whole
    /// set of read-then-write steps costs one commit instead of one each.
    pub fn update<T>(&self, f: impl FnOnce(&mut TreeTxn<'_>) -> Result<T, TxnError>) -> Result<T, Error> {
        self.db.write(|txn| {
            let table = txn.open_table(self.definition())?;
            let mut view = TreeTxn { table };
            f(&mut view).map_err(|e| e.0)
        })
    }

    /// Applies every write of `batch` atomically.
    pub fn apply(&self, batch: Batch) -> Result<(), Error> {
        self.db.write(|txn| batch.apply_to(txn, self.definition()))
    }

    /// Entries with keys in `range`, in key order (or reversed with `.rev()`), as of the call.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let bound = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.iter_bounds(bound(range.start_bound()), bound(range.end_bound()))
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let prefix = prefix.as_ref().to_vec();
        let end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
        self.iter_bounds(Bound::Included(prefix), end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter {
        self.iter_bounds(Bound::Unbounded, Bound::Unbounded)
    }

    fn iter_bounds(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Iter {
        let empty = matches!((&start, &end), (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) if s > e);
        if empty {
            return Iter(IterState::Empty);
        }
        let bounds = (start.as_ref().map(|k| k.as_slice()), end.as_ref().map(|k| k.as_slice()));
        match self.read(|table| Ok(table.range_owned(bounds)?)) {
            Ok(Some(range)) => Iter(IterState::Range(Box::new(range))),
            Ok(None) => Iter(IterState::Empty),
            Err(error) => Iter(IterState::Failed(Some(error))),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read(|table| Ok(table.len()?)).ok().flatten().map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A tree inside the write transaction of [`Tree::update`].
pub struct TreeTxn<'t> {
    table: redb::Table<'t, &'static [u8], &'static [u8]>,
}

/// A storage error inside [`Tree::update`]; returned from its closure, it aborts the transaction.
#[derive(Debug)]
pub struct TxnError(redb::Error);

impl TreeTxn<'_> {
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, TxnError> {
        let value = self.table.get(key.as_ref()).map_err(|e| TxnError(e.into()))?;
        Ok(value.map(|v| Value(v.value().to_vec())))
    }

    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxnError> {
        self.table.insert(key.as_ref(), value.as_ref()).map_err(|e| TxnError(e.into()))?;
        Ok(())
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key, the prefix is all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Entries of a [`Tree`] in key order, from a snapshot taken when it was made; a storage error is returned in
/// place of an entry.
pub struct Iter(IterState);

enum IterState {
    Range(Box<redb::OwnedRange<&'static [u8], &'static [u8]>>),
    Empty,
    Failed(Option<Error>),
}

impl Iter {
    /// The keys alone.
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Value, Error>> {
        self.map(|entry| entry.map(|(key, _)| key))
    }

    /// The values alone.
    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<Value, Error>> {
        self.map(|entry| entry.map(|(_, value)| value))
    }

    fn step(&mut self, back: bool) -> Option<Result<(Value, Value), Error>> {
        match &mut self.0 {
            IterState::Range(range) => {
                let entry = if back { range.next_back() } else { range.next() }?;
                Some(
                    entry
                        .map(|(k, v)| (Value(k.value().to_vec()), Value(v.value().to_vec())))
                        .map_err(|e| Error::from(redb::Error::from(e))),
                )
            }
            IterState::Empty => None,
            IterState::Failed(error) => error.take().map(Err),
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Value, Value), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

/// Writes to one tree that apply together ([`Tree::apply`], [`Db::apply_atomic`]), in the order given.
#[derive(Clone, Default)]
pub struct Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Batch {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.0.push((key.as_ref().to_vec(), Some(value.as_ref().to_vec())));
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.push((key.as_ref().to_vec(), None));
    }

    fn apply_to(
        &self,
        txn: &redb::WriteTransaction,
        definition: TableDefinition<'_, &'static [u8], &'static [u8]>,
    ) -> Result<(), redb::Error> {
        let mut table = txn.open_table(definition)?;
        for (key, value) in &self.0 {
            match value {
                Some(value) => drop(table.insert(key.as_slice(), value.as_slice())?),
                None => drop(table.remove(key.as_slice())?),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
