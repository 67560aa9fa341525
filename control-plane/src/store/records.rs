//! The JSON records the store keeps. Field names are those of the admin API, so most answers are these records.

use serde::{Deserialize, Serialize};

/// A tenant, runner group or project (`meta` tree).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entity {
    pub name: String,
    pub created_at_ms: u64,
}

/// An admin token's record, keyed by the token's SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminToken {
    pub tenant: String,
    pub created_at_ms: u64,
}

/// An enrollment token's record, keyed by the token's SHA-256 (the token itself is never stored).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Public handle for listings: the first 16 hex characters of the token's SHA-256.
    pub id: String,
    pub tenant: String,
    pub group: String,
    /// Enrollments allowed in total.
    pub uses: u32,
    /// Enrollments made so far.
    pub used: u32,
    pub expires_at_ms: u64,
    pub created_at_ms: u64,
}

/// An enrolled runner.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunnerRecord {
    pub runner_id: String,
    pub tenant: String,
    pub group: String,
    pub hostname: String,
    pub version: String,
    pub enrolled_at_ms: u64,
    pub last_seen_ms: Option<u64>,
    /// The last check-in's `buffer`, `outcomes`, `upload` and `policy` objects, as the runner sent them.
    pub buffer: serde_json::Value,
    pub outcomes: serde_json::Value,
    pub upload: serde_json::Value,
    pub policy: serde_json::Value,
    /// Expiry of the newest certificate issued to the runner (or the one it reported in its last check-in).
    pub cert_not_after_ms: u64,
    pub revoked: bool,
    pub revoked_at_ms: Option<u64>,
}

/// A certificate the control plane issued, keyed by its fingerprint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertRecord {
    pub runner_id: String,
    pub tenant: String,
    pub issued_at_ms: u64,
    pub not_after_ms: u64,
}

/// An uploaded chunk, keyed by its id; its presence is what makes uploads idempotent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRecord {
    pub runner_id: String,
    pub received_at_ms: u64,
    /// Records in the chunk.
    pub records: u32,
    /// Records that were new (the rest were already stored from another chunk).
    pub stored: u32,
    /// Chunk size as uploaded (after any Content-Encoding was removed).
    pub bytes: u64,
}

/// Per-session totals over the batches stored for it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionSummary {
    pub batches: u64,
    pub events: u64,
    pub replay: u64,
    pub first_received_ms: u64,
    pub last_received_ms: u64,
}

/// One line of the audit log: who did what to what.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: u64,
    pub tenant: String,
    /// `admin:<first 16 hex digits of the admin token's SHA-256>` (older entries: `admin`), `runner:<id>`, or
    /// `enrollment:<token id>`.
    pub actor: String,
    pub action: String,
    pub target: String,
    /// What changed, by action (for policy changes: revision, hash, message, author and the diff); null when
    /// there is nothing to add. Entries written before it existed read as null.
    #[serde(default)]
    pub detail: serde_json::Value,
}
