//! The only module that knows the storage engine: one sled `Db` in `DATA_DIR/db` with a tree per kind of record.
//!
//! ```text
//! meta      "tenant/<t>", "group/<t>/<g>", "project/<t>/<p>"       -> JSON
//! tokens    "adm/" sha256(admin token), "enr/" sha256(enrollment)   -> AdminToken / EnrollmentToken JSON
//! runners   runner_id                                               -> RunnerRecord JSON
//! certs     certificate fingerprint (hex)                          -> CertRecord JSON
//! chunks    chunk id "<runner_id>/<seq>"                           -> ChunkRecord JSON (dedup of uploads)
//! batches   tenant|project|session|seq u64 BE|part u16 BE            -> stored batch (see `batch`)
//! sessions  tenant|session|project                                 -> SessionSummary JSON
//! recent    tenant|scope|inverted last_received_ms|project|session  -> "" (newest-first session listing)
//! audit     id u64 BE                                              -> AuditEntry JSON
//! policies  tenant|group|revision u64 BE                           -> PolicyRevision JSON (immutable)
//! ```
//! (`|` joins length-prefixed components, see [`keys`].) What one upload writes to `chunks`, `batches`,
//! `sessions` and `recent` goes in one sled transaction, so after a crash they always agree. `meta` also holds
//! each group's policy rollout under `rollout/<tenant>/<group>` (see [`policies`]).

pub mod batch;
pub mod keys;
pub mod policies;
pub mod records;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use policies::{Canary, CanaryStatus, PolicyRevision, RevisionSource, Rollout};
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {0} is in use by another process (is a control plane running on it?)")]
    Locked(String),
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in `{tree}`: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("group commit failed: {0}")]
    Commit(String),
    #[error("the storage writer has stopped")]
    WriterStopped,
    #[error("a flush was interrupted")]
    FlushInterrupted,
}

impl<E: Into<StoreError>> From<sled::transaction::TransactionError<E>> for StoreError {
    fn from(error: sled::transaction::TransactionError<E>) -> Self {
        match error {
            sled::transaction::TransactionError::Abort(e) => e.into(),
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

pub struct Store {
    pub db: sled::Db,
    pub meta: sled::Tree,
    pub tokens: sled::Tree,
    pub runners: sled::Tree,
    pub certs: sled::Tree,
    pub chunks: sled::Tree,
    pub batches: sled::Tree,
    pub sessions: sled::Tree,
    pub recent: sled::Tree,
    pub audit: sled::Tree,
    pub policies: sled::Tree,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // Uploads, enrollments and admin changes flush explicitly before answering; the timer only bounds how
            // much soft state (check-in statistics) a crash can lose.
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(path.display().to_string())
                }
                other => StoreError::Sled(other),
            })?;
        Ok(Store {
            meta: db.open_tree("meta")?,
            tokens: db.open_tree("tokens")?,
            runners: db.open_tree("runners")?,
            certs: db.open_tree("certs")?,
            chunks: db.open_tree("chunks")?,
            batches: db.open_tree("batches")?,
            sessions: db.open_tree("sessions")?,
            recent: db.open_tree("recent")?,
            audit: db.open_tree("audit")?,
            policies: db.open_tree("policies")?,
            db,
        })
    }

    /// Makes every write so far durable. The blocking flush runs on tokio's blocking pool: sled 0.34's
    /// `flush_async` deadlocks when several run at once (sled issue #1308, fixed only after that release), which
    /// concurrent enrollments hit.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush()).await.map_err(|_| StoreError::FlushInterrupted)??;
        Ok(())
    }

    /// Appends an audit entry (made durable by the caller's next flush).
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        self.audit.insert(id.to_be_bytes(), encode(entry))?;
        Ok(())
    }

    pub fn runner(&self, runner_id: &str) -> Result<Option<RunnerRecord>, StoreError> {
        get_json(&self.runners, "runners", runner_id.as_bytes())
    }

    /// Applies `change` to a runner record atomically (retrying if a concurrent change won); `None` if unknown.
    pub fn update_runner(
        &self,
        runner_id: &str,
        change: impl Fn(&mut RunnerRecord),
    ) -> Result<Option<RunnerRecord>, StoreError> {
        loop {
            let Some(old) = self.runners.get(runner_id)? else { return Ok(None) };
            let mut record: RunnerRecord = decode("runners", &old)?;
            change(&mut record);
            let new = encode(&record);
            if self.runners.compare_and_swap(runner_id, Some(&old), Some(new))?.is_ok() {
                return Ok(Some(record));
            }
        }
    }

    pub fn runners_of(&self, tenant: &str) -> Result<Vec<RunnerRecord>, StoreError> {
        let mut runners = Vec::new();
        for entry in self.runners.iter() {
            let (_, value) = entry?;
            let record: RunnerRecord = decode("runners", &value)?;
            if record.tenant == tenant {
                runners.push(record);
            }
        }
        runners.sort_by(|a, b| (a.enrolled_at_ms, &a.runner_id).cmp(&(b.enrolled_at_ms, &b.runner_id)));
        Ok(runners)
    }

    pub fn cert(&self, fingerprint: &str) -> Result<Option<CertRecord>, StoreError> {
        get_json(&self.certs, "certs", fingerprint.as_bytes())
    }

    pub fn chunk_seen(&self, chunk_id: &str) -> Result<bool, StoreError> {
        Ok(self.chunks.contains_key(chunk_id)?)
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs into memory cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { tree, reason: e.to_string() })
}

pub(crate) fn get_json<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|v| decode(name, &v)).transpose()
}

/// Key of a tenant, group or project in the `meta` tree: `tenant/<t>`, `group/<t>/<g>`, `project/<t>/<p>`.
pub fn entity_key(kind: &str, tenant: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{kind}/{tenant}/{name}"),
        None => format!("{kind}/{tenant}"),
    }
}

/// Prefix of admin token records in the `tokens` tree (followed by the token's SHA-256).
pub const ADMIN_TOKEN_PREFIX: &[u8] = b"adm/";
/// Prefix of enrollment token records in the `tokens` tree (followed by the token's SHA-256).
pub const ENROLLMENT_TOKEN_PREFIX: &[u8] = b"enr/";

pub fn token_key(prefix: &[u8], hash: &[u8; 32]) -> Vec<u8> {
    [prefix, hash.as_slice()].concat()
}

impl Store {
    /// Creates a tenant, group or project record unless it exists; true if it was created.
    pub fn ensure_entity(&self, key: &str, name: &str, now_ms: u64) -> Result<bool, StoreError> {
        let entity = Entity { name: name.to_string(), created_at_ms: now_ms };
        Ok(self.meta.compare_and_swap(key, None as Option<&[u8]>, Some(encode(&entity)))?.is_ok())
    }
}
