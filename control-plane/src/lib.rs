//! The TRACEFLOW control plane: the cloud end of the runner ⇄ control plane link (see `PROTOCOL.md`).
//!
//! In the data flow it is the last hop. [`data_dir`] creates and loads what `traceflow-cp init` makes (the CA, the
//! server certificate, the policy-signing key, the first tenant and admin token); [`enroll`] turns enrollment
//! tokens and runner CSRs into client certificates (and renews them); [`runners`] identifies runners by their
//! certificate and records their check-ins; [`receiver`] verifies uploaded chunks and stores their batches
//! exactly once with a group-commit flush before answering; [`admin`] serves sessions, runners, enrollment tokens
//! and the audit log to admins; [`policies`] keeps each runner group's signed policy revisions and rollout (stable
//! and canary) and pushes them to runners through their long-poll check-ins. [`server`] puts these behind one TLS
//! 1.3 listener and maps each layer's errors to answers once ([`error`]); [`store`] keeps the control plane's records in
//! `traceflow_store`, the storage layer the runner uses too. [`admin_client`] is the admin CLI's side of the admin API.

pub mod admin;
pub mod admin_client;
pub mod data_dir;
pub mod enroll;
pub mod error;
pub mod metrics;
pub mod policies;
pub mod receiver;
pub mod runners;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod throttle;

pub use data_dir::{init, InitOptions, InitReport};
pub use server::{ServeOptions, Server};

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `prefix` + lowercase base32 of `bytes` random bytes: enrollment and admin tokens (20 bytes, 32 characters),
/// runner ids (10 bytes, 16 characters).
pub(crate) fn random_id(prefix: &str, bytes: usize) -> Result<String, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut random = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut random)?;
    let mut out = String::from(prefix);
    traceflow_pii::base32_into(&random, &mut out);
    Ok(out)
}

/// SHA-256 of a secret; secrets are stored and compared only in this form.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Tenants, runner groups and projects: 1 to 64 characters of `[A-Za-z0-9._-]` (they appear in URIs and keys).
pub fn is_entity_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
