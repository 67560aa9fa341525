//! The control plane's records: one `traceflow_store::Db` in `DATA_DIR/db` with a tree per kind of record.
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
//! `sessions` and `recent` goes in one atomic write, so after a crash they always agree. `meta` also holds
//! each group's policy rollout under `rollout/<tenant>/<group>` (see [`policies`]).

pub mod batch;
pub mod keys;
pub mod policies;
pub mod records;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use traceflow_store::{Db, Options, Tree};

pub use policies::{Canary, CanaryStatus, PolicyRevision, RevisionSource, Rollout};
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {0} is in use by another process (is a control plane running on it?)")]
    Locked(String),
    #[error("storage error: {0}")]
    Storage(traceflow_store::Error),
    #[error("corrupt record in `{tree}`: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("group commit failed: {0}")]
    Commit(String),
    #[error("the storage writer has stopped")]
    WriterStopped,
    #[error("a flush was interrupted")]
    FlushInterrupted,
}

impl From<traceflow_store::Error> for StoreError {
    fn from(error: traceflow_store::Error) -> StoreError {
        match error {
            traceflow_store::Error::Locked(path) => StoreError::Locked(path),
            other => StoreError::Storage(other),
        }
    }
}

pub struct Store {
    pub db: Db,
    pub meta: Tree,
    pub tokens: Tree,
    pub runners: Tree,
    pub certs: Tree,
    pub chunks: Tree,
    pub batches: Tree,
    pub sessions: Tree,
    pub recent: Tree,
    pub audit: Tree,
    pub policies: Tree,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        // Uploads, enrollments and admin changes sync explicitly before answering; the timer only bounds how much
        // soft state (check-in statistics) a crash can lose.
        let db = Db::open(path, Options { cache_bytes, flush_every_ms: Some(1000) })?;
        Store::from_db(db)
    }

    /// The store in a database already open (the fault-injection tests open one on a simulated disk).
    pub fn from_db(db: Db) -> Result<Store, StoreError> {
        Ok(Store {
            meta: db.tree("meta")?,
            tokens: db.tree("tokens")?,
            runners: db.tree("runners")?,
            certs: db.tree("certs")?,
            chunks: db.tree("chunks")?,
            batches: db.tree("batches")?,
            sessions: db.tree("sessions")?,
            recent: db.tree("recent")?,
            audit: db.tree("audit")?,
            policies: db.tree("policies")?,
            db,
        })
    }

    /// Makes every write so far durable ([`Db::sync`], the same durable sync as the runner's group commit). It
    /// blocks, so it runs on tokio's blocking pool.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.sync()).await.map_err(|_| StoreError::FlushInterrupted)??;
        Ok(())
    }

    /// Appends an audit entry (made durable by the caller's next sync).
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
            if self.runners.compare_and_swap(runner_id, Some(&old), Some(&new))? {
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
    tree: &Tree,
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
        Ok(self.meta.compare_and_swap(key, None, Some(&encode(&entity)))?)
    }
}
