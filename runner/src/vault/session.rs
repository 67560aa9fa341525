//! One request's use of the vault: the [`Tokens`] the PII engine calls while scrubbing a batch.
//!
//! A token is always returned, never the raw value, even when its original cannot be stored; the failure is
//! kept, and [`VaultSession::finish`] reports it so the request answers 503 instead of appending a batch whose
//! tokens would point nowhere.

use traceflow_pii::{is_token, token_text, Tokens};

use std::collections::HashSet;

use super::recent::Value;
use super::{Vault, VaultError};

/// What one session did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VaultStats {
    /// Values replaced by a token.
    pub tokenized: usize,
    /// Values replaced by a keyed hash.
    pub hashed: usize,
    /// New entries written (the rest were already in the vault).
    pub written: usize,
}

pub struct VaultSession<'a> {
    vault: &'a Vault,
    stats: VaultStats,
    failed: usize,
    first_failure: Option<VaultError>,
    /// Tokens not remembered as stored, with their originals and cache keys: written together by `finish`, in one
    /// transaction, before the batch is appended.
    pending: Vec<(String, String)>,
    pending_values: Vec<Value>,
    staged: HashSet<String>,
}

impl<'a> VaultSession<'a> {
    pub(super) fn new(vault: &'a Vault) -> VaultSession<'a> {
        VaultSession {
            vault,
            stats: VaultStats::default(),
            failed: 0,
            first_failure: None,
            pending: Vec::new(),
            pending_values: Vec::new(),
            staged: HashSet::new(),
        }
    }

    /// Stores the originals of the session's new tokens; then what the session did, or why some originals were not
    /// stored (the request must then answer 503).
    pub fn finish(mut self) -> Result<VaultStats, VaultError> {
        if !self.pending.is_empty() {
            // Read before the write: if the store is reopened after it, the cache entries are never served.
            let generation = self.vault.db.generation();
            match self.vault.store_many(&self.pending) {
                Ok(written) => {
                    self.stats.written += written;
                    for ((token, _), value) in self.pending.iter().zip(&self.pending_values) {
                        self.vault.recent.insert(*value, token, generation);
                    }
                }
                Err(e) => {
                    // Every original of the transaction went unstored.
                    let unstored = self.pending.len();
                    self.vault.metrics.vault_store_errors.inc_by(unstored as u64 - 1);
                    self.failed += unstored - 1;
                    self.fail(e);
                }
            }
        }
        match self.first_failure {
            None => Ok(self.stats),
            Some(first) => Err(VaultError::Incomplete { failed: self.failed, reason: first.to_string() }),
        }
    }

    fn fail(&mut self, error: VaultError) {
        self.vault.metrics.vault_store_errors.inc();
        self.failed += 1;
        if self.first_failure.is_none() {
            tracing::error!(error = %error, "vault could not store an original");
            self.first_failure = Some(error);
        }
    }
}

impl Tokens for VaultSession<'_> {
    fn tokenize(&mut self, entity: &str, original: &str) -> String {
        self.stats.tokenized += 1;
        self.vault.metrics.vault_tokens.inc();
        let recent = &self.vault.recent;
        let value = recent.value(entity, original);
        let generation = self.vault.db.generation();
        if let Some(token) = recent.token(value, "tok", entity, generation) {
            return token;
        }
        let token = token_text(self.vault.keys.token_mac(), "tok", entity, original);
        if !is_token(&token) {
            // Detokenize could never accept it; make the policy error loud rather than lose the original.
            self.fail(VaultError::BadEntity(entity.into()));
            return token;
        }
        if self.staged.insert(token.clone()) {
            self.pending.push((token.clone(), original.to_string()));
            self.pending_values.push(value);
        }
        token
    }

    fn hash(&mut self, entity: &str, original: &str) -> String {
        self.stats.hashed += 1;
        token_text(self.vault.keys.hash_mac(), "hash", entity, original)
    }
}
