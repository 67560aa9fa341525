//! The token vault: where the originals of tokenized values are kept, encrypted, on the runner's own disk.
//!
//! The PII engine replaces each value with a convergent token (`traceflow_pii::token_text` under the
//! tenant's token key) through a per-request [`VaultSession`], which stores the original as an AES-256-GCM
//! entry keyed by the token (layout in `entry.rs`). Nothing else in the runner ever sees the original.
//!
//! **Durability ordering.** Entries live in the `vault` tree of the *same* sled `Db` as the buffer, and are
//! written without a flush. A request tokenizes its whole batch first and appends the scrubbed batch to the
//! buffer only afterwards; the buffer's group commit then calls `Db::flush`, which covers every tree. So the
//! entries a batch's tokens point to are durable no later than the batch itself, before its 202. If an entry
//! could not be written, [`VaultSession::finish`] fails and the request must answer 503 without appending.
//! The in-memory map of recent tokens (by a keyed hash of the value) records a token only after its entry is in
//! the tree, so a later request that takes the token from it is still covered: its own flush comes after that
//! write.
//!
//! **Keys** are in a separate file (`keys.rs`). New entries use the current encryption key version; older
//! versions stay readable until destroyed. Destroying a version makes its entries unreadable (crypto-shredding);
//! a value seen again later is stored anew under the current key. Erasing a token replaces its entry with a
//! tombstone; erasure is sticky (the token keeps being produced, so analytics still joins, but that value is
//! never stored again). The erased ciphertext may linger in the engine's log until its space is reused, so only
//! destroying the key version guarantees that nothing can bring it back.
//!
//! **Operations** (detokenize, erase, rotate, destroy-key, stats) are local and audited: each appends a line to
//! the audit log (`audit.rs`) before its result is returned. Run offline, they need the runner stopped: sled
//! locks the `Db`, and that lock also keeps key-file changes from racing the runner that uses the keys.

mod audit;
mod entry;
mod keys;
mod recent;
mod session;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::rand::SystemRandom;
use serde::Serialize;
use traceflow_pii::is_token;

pub use audit::{AuditLog, AuditOutcome, AuditRecord};
pub use session::{VaultSession, VaultStats};

use traceflow_store::{Db, Tree};

use crate::buffer::{BufferStore, StoreError};
use crate::config::{RunnerConfig, VaultConfig};
use crate::metrics::{Metrics, Outcome, OutcomeLabel};
use entry::Entry;
use keys::{KeyRing, KeyState};
use recent::RecentTokens;

/// The tree holding token → entry.
const ENTRIES_TREE: &str = "vault";
/// The tree holding the vault's own records (the key id).
const META_TREE: &str = "vault_meta";
/// Identifies the token key the entries were made with, so a wrong key file is refused rather than used.
const KEY_ID: &[u8] = b"key_id";
/// Page cache for offline commands.
const OFFLINE_CACHE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the argument is not a token (expected tok_<entity>_<32 base32 characters>)")]
    NotAToken,
    #[error("entity name `{0}` cannot form a token (use a-z, 0-9 and _)")]
    BadEntity(String),
    #[error("unknown token {0}")]
    UnknownToken(String),
    #[error("token {0} was erased")]
    Erased(String),
    #[error("token {token} was encrypted with key version {version}, which has been destroyed")]
    KeyDestroyed { token: String, version: u32 },
    #[error("the entry of token {token} names key version {version}, which this key file never had (wrong key file or tampered entry)")]
    UnknownKeyVersion { token: String, version: u32 },
    #[error("the entry of token {0} failed authentication (tampered with, or moved from another token)")]
    Tampered(String),
    #[error("key version {0} is the current one and cannot be destroyed; rotate first")]
    CurrentKey(u32),
    #[error("there is no key version {0}")]
    NoSuchKeyVersion(u32),
    #[error("key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("key file {} is accessible by group or others (mode {mode:04o}); refusing to use it. Run: chmod 600 {}", path.display(), path.display())]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("key file {} does not exist; restore it, or set vault.create_key_file = true to create a new one", path.display())]
    KeyFileMissing { path: PathBuf },
    #[error("the vault holds entries but its key file {} is missing; restore it from a backup or point vault.key_file at it (a new key would orphan them and change every token)", path.display())]
    KeysLost { path: PathBuf },
    #[error("key file {} does not belong to this vault (its token key is not the one the entries were made with)", path.display())]
    WrongKeyFile { path: PathBuf },
    #[error("{} holds no runner data", .0.display())]
    NoData(PathBuf),
    #[error("the data dir {} is in use by a running runner ({})? Stop it first", dir.display(), pid.map_or("pid unknown".to_string(), |pid| format!("pid {pid}")))]
    InUse { dir: PathBuf, pid: Option<u32> },
    #[error("cannot open the data dir: {0}")]
    Open(StoreError),
    #[error("cannot make the vault's writes durable: {0}")]
    Sync(traceflow_store::Error),
    #[error("{failed} original value(s) could not be stored in the vault: {reason}")]
    Incomplete { failed: usize, reason: String },
    #[error("vault storage error: {0}")]
    Storage(#[from] traceflow_store::Error),
    #[error("cannot write the audit log {}: {reason}{}", path.display(), if *applied { " (the change itself was made)" } else { " (result withheld)" })]
    Audit { path: PathBuf, reason: String, applied: bool },
    #[error("the system random generator or the cipher failed")]
    Crypto,
}

impl VaultError {
    /// The `outcome` label of the detokenize metric.
    fn outcome(&self) -> Outcome {
        match self {
            VaultError::NotAToken => Outcome::NotAToken,
            VaultError::UnknownToken(_) => Outcome::Unknown,
            VaultError::Erased(_) => Outcome::Erased,
            VaultError::KeyDestroyed { .. } => Outcome::KeyDestroyed,
            VaultError::UnknownKeyVersion { .. } | VaultError::Tampered(_) => Outcome::Tampered,
            _ => Outcome::Error,
        }
    }
}

/// Where the vault keeps its keys and audit log; see [`VaultConfig`].
#[derive(Clone, Debug)]
pub struct VaultOptions {
    pub key_file: PathBuf,
    /// Create `key_file` when it does not exist (always for the default location).
    pub create_key_file: bool,
    pub audit_log: PathBuf,
    pub recent_tokens: usize,
}

impl VaultOptions {
    /// `<data_dir>/vault.keys` unless the config names a key file; the audit log is `<data_dir>/vault-audit.log`.
    pub fn new(data_dir: &Path, config: &VaultConfig) -> VaultOptions {
        VaultOptions {
            key_file: config.key_file.clone().unwrap_or_else(|| data_dir.join("vault.keys")),
            create_key_file: config.key_file.is_none() || config.create_key_file,
            audit_log: data_dir.join("vault-audit.log"),
            recent_tokens: config.recent_tokens,
        }
    }
}

/// Entries and keys, as `vault stats` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VaultSummary {
    /// Tokens with an entry, erased ones included.
    pub entries: u64,
    pub erased: u64,
    /// Entries per encryption key version (destroyed versions included: those entries are unreadable).
    pub by_key_version: BTreeMap<u32, u64>,
    /// Values that do not parse as entries.
    pub malformed: u64,
    pub current_key_version: u32,
    pub live_key_versions: Vec<u32>,
    pub destroyed_key_versions: Vec<u32>,
}

pub struct Vault {
    db: Db,
    entries: Tree,
    keys: KeyRing,
    key_file: PathBuf,
    rng: SystemRandom,
    recent: RecentTokens,
    audit: AuditLog,
    metrics: Arc<Metrics>,
    #[cfg(test)]
    fail_writes: std::sync::atomic::AtomicBool,
}

pub(crate) use crate::clock::now_ms;

fn key_id(token_key: &[u8; 32]) -> [u8; 16] {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token_key), b"traceflow vault key id");
    let mut id = [0; 16];
    id.copy_from_slice(&tag.as_ref()[..16]);
    id
}

impl Vault {
    /// Opens the vault in `db` (the buffer's `Db`), loading its key file or creating it on first start.
    ///
    /// Refuses a key file that the group or others may access, a configured key file that is missing (unless
    /// `create_key_file`), a missing key file when entries exist, and a key file whose token key is not the one
    /// the entries were made with.
    pub fn open(db: &Db, options: VaultOptions, metrics: Arc<Metrics>) -> Result<Vault, VaultError> {
        let entries = db.tree(ENTRIES_TREE)?;
        let meta = db.tree(META_TREE)?;
        let known_id = meta.get(KEY_ID)?;
        let rng = SystemRandom::new();
        let path = options.key_file.clone();
        let exists =
            path.try_exists().map_err(|e| VaultError::KeyFile { path: path.clone(), reason: e.to_string() })?;
        let keys = if exists {
            KeyRing::load(&path)?
        } else if !options.create_key_file {
            return Err(VaultError::KeyFileMissing { path });
        } else if known_id.is_some() || !entries.is_empty() {
            return Err(VaultError::KeysLost { path });
        } else {
            let keys = KeyRing::generate(&rng)?;
            keys.save(&path)?;
            tracing::info!(path = %path.display(), "created the vault key file");
            keys
        };
        let id = key_id(keys.token_key());
        match known_id {
            Some(known) if known[..] != id[..] => return Err(VaultError::WrongKeyFile { path }),
            Some(_) => {}
            None => {
                meta.insert(KEY_ID, &id[..])?;
                db.sync().map_err(VaultError::Sync)?;
            }
        }
        Ok(Vault {
            db: db.clone(),
            entries,
            keys,
            key_file: path,
            rng,
            recent: RecentTokens::new(options.recent_tokens),
            audit: AuditLog::new(options.audit_log),
            metrics,
            #[cfg(test)]
            fail_writes: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Opens the vault of a stopped runner for an offline command; a running runner holds the data dir's lock.
    /// If it cannot be opened, `attempt` is audited as failed (when `data_dir` is a runner's), so refused
    /// attempts leave a trace too. `read_only` opens the store without writing anything under the data dir.
    pub fn open_offline(config: &RunnerConfig, attempt: AuditRecord, read_only: bool) -> Result<Vault, VaultError> {
        let dir = &config.data_dir;
        let options = VaultOptions::new(dir, &config.vault);
        if !dir.join("db").exists() {
            return Err(VaultError::NoData(dir.clone()));
        }
        let store = if read_only {
            BufferStore::open_read_only(dir, OFFLINE_CACHE_BYTES)
        } else {
            BufferStore::open(dir, OFFLINE_CACHE_BYTES)
        };
        let opened = store
            .map_err(|e| match e {
                StoreError::Locked(_) => VaultError::InUse { dir: dir.clone(), pid: BufferStore::lock_holder(dir) },
                other => VaultError::Open(other),
            })
            .and_then(|store| Vault::open(&store.db, options.clone(), Arc::new(Metrics::new())));
        if let Err(error) = &opened {
            let mut attempt = attempt;
            attempt.outcome = AuditOutcome::Failed;
            attempt.reason = Some(error.to_string());
            if let Err(e) = AuditLog::new(options.audit_log).append(&attempt) {
                tracing::warn!(error = %e, "cannot audit the failed attempt");
            }
        }
        opened
    }

    /// A session for one request's batch.
    pub fn session(&self) -> VaultSession<'_> {
        VaultSession::new(self)
    }

    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    pub fn audit_log(&self) -> &Path {
        self.audit.path()
    }

    /// Makes everything written so far durable (the buffer's group commit does this on the ingest path).
    pub fn flush(&self) -> Result<(), VaultError> {
        self.db.sync().map_err(VaultError::Sync)?;
        Ok(())
    }

    /// Stores each `(token, original)` without an entry, in one transaction; returns how many it wrote. An entry
    /// that exists (live, erased, or malformed) is left alone; one sealed under a destroyed key is replaced.
    fn store_many(&self, items: &[(String, String)]) -> Result<usize, VaultError> {
        #[cfg(test)]
        if self.fail_writes.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(VaultError::Storage(traceflow_store::Error::Engine("injected write failure".into())));
        }
        let (version, key) = self.keys.sealing();
        let mut sealed = Vec::with_capacity(items.len());
        for (token, original) in items {
            let value = entry::seal(key, version, token, original, &self.rng).map_err(|_| VaultError::Crypto)?;
            sealed.push((token.as_str(), value));
        }
        let written = self.entries.update(|tree| {
            let mut written = 0;
            for (token, value) in &sealed {
                if let Some(existing) = tree.get(token)? {
                    let destroyed = matches!(
                        Entry::parse(&existing),
                        Some(Entry::Sealed { version, .. }) if matches!(self.keys.state(version), KeyState::Destroyed)
                    );
                    if !destroyed {
                        continue;
                    }
                }
                tree.insert(token, value)?;
                written += 1;
            }
            Ok(written)
        })?;
        self.metrics.vault_entries_written.inc_by(written as u64);
        Ok(written)
    }

    /// The original value behind `token`. Audited; the value is returned only once the audit line is on disk.
    pub fn detokenize(&self, token: &str) -> Result<String, VaultError> {
        let result = self.read(token);
        let outcome = result.as_ref().err().map_or(Outcome::Ok, VaultError::outcome);
        self.metrics.vault_detokenize.get_or_create(&OutcomeLabel { outcome }).inc();
        self.audited(AuditRecord::new("detokenize", Some(token), None), result, false)
    }

    fn read(&self, token: &str) -> Result<String, VaultError> {
        if !is_token(token) {
            return Err(VaultError::NotAToken);
        }
        let value = self.entries.get(token)?.ok_or_else(|| VaultError::UnknownToken(token.into()))?;
        match Entry::parse(&value) {
            None => Err(VaultError::Tampered(token.into())),
            Some(Entry::Erased { .. }) => Err(VaultError::Erased(token.into())),
            Some(Entry::Sealed { version, nonce, sealed }) => match self.keys.state(version) {
                KeyState::Live(key) => {
                    entry::open(key, token, nonce, sealed).ok_or_else(|| VaultError::Tampered(token.into()))
                }
                KeyState::Destroyed => Err(VaultError::KeyDestroyed { token: token.into(), version }),
                KeyState::Unknown => Err(VaultError::UnknownKeyVersion { token: token.into(), version }),
            },
        }
    }

    /// Replaces `token`'s entry with a tombstone, durably. True if it was erased now, false if it already was.
    pub fn erase(&self, token: &str) -> Result<bool, VaultError> {
        let result = self.erase_entry(token);
        let mut record = AuditRecord::new("erase", Some(token), None);
        if let Ok(false) = result {
            record.reason = Some("already erased".into());
        }
        let applied = matches!(result, Ok(true));
        self.audited(record, result, applied)
    }

    fn erase_entry(&self, token: &str) -> Result<bool, VaultError> {
        if !is_token(token) {
            return Err(VaultError::NotAToken);
        }
        let value = self.entries.get(token)?.ok_or_else(|| VaultError::UnknownToken(token.into()))?;
        if let Some(Entry::Erased { .. }) = Entry::parse(&value) {
            return Ok(false);
        }
        self.entries.insert(token, &entry::tombstone(now_ms())[..])?;
        self.db.sync().map_err(VaultError::Sync)?;
        Ok(true)
    }

    /// Adds an encryption key version and makes it current; returns it. Older versions stay readable.
    pub fn rotate(&mut self) -> Result<u32, VaultError> {
        let result = self.keys.rotated(&self.rng).and_then(|next| {
            next.save(&self.key_file)?;
            let version = next.current();
            self.keys = next;
            Ok(version)
        });
        let version = result.as_ref().ok().copied();
        let applied = result.is_ok();
        self.audited(AuditRecord::new("rotate", None, version), result, applied)
    }

    /// Destroys encryption key `version` (never the current one): its entries become unreadable for good.
    /// Returns how many entries that made unreadable.
    pub fn destroy_key(&mut self, version: u32) -> Result<u64, VaultError> {
        let result = self.keys.without(version).and_then(|next| {
            let unreadable = self.count_version(version)?;
            next.save(&self.key_file)?;
            self.keys = next;
            // Their values, when seen again, must be stored anew rather than skipped as already stored.
            self.recent.clear();
            Ok(unreadable)
        });
        let mut record = AuditRecord::new("destroy_key", None, Some(version));
        if let Ok(count) = result {
            record.reason = Some(format!("{count} entries made unreadable"));
        }
        let applied = result.is_ok();
        self.audited(record, result, applied)
    }

    fn count_version(&self, version: u32) -> Result<u64, VaultError> {
        let mut count = 0;
        for item in self.entries.iter() {
            let (_, value) = item?;
            if matches!(Entry::parse(&value), Some(Entry::Sealed { version: v, .. }) if v == version) {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Counts entries by key version. Audited like every operation.
    pub fn stats(&self) -> Result<VaultSummary, VaultError> {
        let result = self.summary();
        self.audited(AuditRecord::new("stats", None, None), result, false)
    }

    fn summary(&self) -> Result<VaultSummary, VaultError> {
        let mut summary = VaultSummary {
            current_key_version: self.keys.current(),
            live_key_versions: self.keys.live_versions(),
            destroyed_key_versions: self.keys.destroyed_versions(),
            ..VaultSummary::default()
        };
        for item in self.entries.iter() {
            let (_, value) = item?;
            summary.entries += 1;
            match Entry::parse(&value) {
                Some(Entry::Sealed { version, .. }) => *summary.by_key_version.entry(version).or_default() += 1,
                Some(Entry::Erased { .. }) => summary.erased += 1,
                None => summary.malformed += 1,
            }
        }
        Ok(summary)
    }

    /// Appends `record` with `result`'s outcome; an audit failure replaces the result.
    fn audited<T>(
        &self,
        mut record: AuditRecord,
        result: Result<T, VaultError>,
        applied: bool,
    ) -> Result<T, VaultError> {
        if let Err(e) = &result {
            record.outcome = AuditOutcome::Failed;
            record.reason = Some(e.to_string());
        }
        match self.audit.append(&record) {
            Ok(()) => result,
            Err(e) => Err(VaultError::Audit { path: self.audit.path().to_path_buf(), reason: e.to_string(), applied }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

/// Request handlers share one vault across threads.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Vault>();
};
