//! Policy revisions and rollouts as stored. A revision is written once and never changed; a group's rollout (which
//! revision is stable, which one is a canary) lives in `meta` under `rollout/<tenant>/<group>`. A change writes its
//! revision (if any), the new rollout and its audit entry in one transaction, so after a crash they always agree.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use traceflow_protocol::policy::{Policy, SignedBundle};

use traceflow_store::Batch;

use super::{decode, encode, get_json, keys, AuditEntry, Store, StoreError};

/// How a revision came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionSource {
    /// An admin applied a document.
    Apply,
    /// A copy of an older revision's content.
    Rollback,
    /// A canary was aborted: a copy of the stable content, so the canary's runners move forward to it.
    Abort,
}

/// One immutable policy revision of a runner group (`policies` tree).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyRevision {
    pub group: String,
    /// Monotonic per group, from 1.
    pub revision: u64,
    /// [`Policy::hash`] of `policy`.
    pub hash: String,
    pub author: String,
    pub message: String,
    pub created_at_ms: u64,
    pub source: RevisionSource,
    /// Set when the revision was applied as a canary.
    pub canary_percent: Option<u8>,
    /// The revision whose content a rollback or abort copied.
    #[serde(default)]
    pub copied_from: Option<u64>,
    pub policy: Policy,
    /// Signed once at creation, so every runner gets the same bytes.
    pub bundle: SignedBundle,
}

/// Whether a canary is still being pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryStatus {
    Active,
    /// A cohort runner reported the revision failed; pushing it stopped.
    Halted,
}

/// A revision being tried on a share of a group's runners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub revision: u64,
    /// Share of runners, 1 to 99 (`traceflow_protocol::policy::in_canary`).
    pub percent: u8,
    pub status: CanaryStatus,
    /// The runner whose failure halted the canary, and its reported error.
    pub halted_by: Option<String>,
    pub halted_error: Option<Value>,
    #[serde(default)]
    pub halted_at_ms: Option<u64>,
}

/// Which revisions a group's runners should run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// What every runner outside an active canary's cohort runs; none before the first apply.
    pub stable: Option<u64>,
    pub canary: Option<Canary>,
}

fn rollout_key(tenant: &str, group: &str) -> String {
    format!("rollout/{tenant}/{group}")
}

impl Store {
    /// Whether the runner group exists (created by `init` and by enrollment tokens).
    pub fn group_exists(&self, tenant: &str, group: &str) -> Result<bool, StoreError> {
        Ok(self.meta.contains_key(super::entity_key("group", tenant, Some(group)))?)
    }

    /// The group's rollout; the empty one before any policy was applied.
    pub fn rollout(&self, tenant: &str, group: &str) -> Result<Rollout, StoreError> {
        Ok(get_json(&self.meta, "meta", rollout_key(tenant, group).as_bytes())?.unwrap_or_default())
    }

    pub fn policy_revision(
        &self,
        tenant: &str,
        group: &str,
        revision: u64,
    ) -> Result<Option<PolicyRevision>, StoreError> {
        get_json(&self.policies, "policies", &keys::policy_key(tenant, group, revision))
    }

    /// The highest revision number of the group, 0 if none.
    pub fn latest_policy_revision(&self, tenant: &str, group: &str) -> Result<u64, StoreError> {
        let prefix = keys::policy_prefix(tenant, group);
        match self.policies.scan_prefix(&prefix).keys().next_back() {
            Some(key) => keys::policy_revision(&key?, prefix.len())
                .ok_or_else(|| StoreError::Corrupt { tree: "policies", reason: "bad key".into() }),
            None => Ok(0),
        }
    }

    /// The group's revisions, newest first, at most `limit`.
    pub fn policy_revisions(&self, tenant: &str, group: &str, limit: usize) -> Result<Vec<PolicyRevision>, StoreError> {
        let mut revisions = Vec::new();
        for entry in self.policies.scan_prefix(keys::policy_prefix(tenant, group)).values().rev().take(limit) {
            revisions.push(decode("policies", &entry?)?);
        }
        Ok(revisions)
    }

    /// Writes a new revision (if any), the group's new rollout and the audit entry in one transaction. Durable only
    /// after the caller's [`Store::sync`].
    pub fn commit_policy_change(
        &self,
        tenant: &str,
        group: &str,
        revision: Option<&PolicyRevision>,
        rollout: &Rollout,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let revision = revision.map(|r| (keys::policy_key(tenant, group, r.revision), encode(r)));
        let (rollout_key, rollout) = (rollout_key(tenant, group), encode(rollout));
        let audit = encode(audit);
        let (mut policies, mut meta, mut log) = (Batch::default(), Batch::default(), Batch::default());
        if let Some((key, value)) = &revision {
            policies.insert(key, value);
        }
        meta.insert(rollout_key.as_bytes(), rollout);
        log.insert(self.db.generate_id()?.to_be_bytes(), audit);
        self.db.apply_atomic(&[(&self.policies, &policies), (&self.meta, &meta), (&self.audit, &log)])?;
        Ok(())
    }

    /// The tenant's audit entries, newest first, at most `limit`.
    pub fn audit_entries(&self, tenant: &str, limit: usize) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let mut entries = Vec::new();
        for entry in self.audit.iter().rev() {
            if entries.len() == limit {
                break;
            }
            let (key, value) = entry?;
            let entry: AuditEntry = decode("audit", &value)?;
            if entry.tenant == tenant {
                let id = <[u8; 8]>::try_from(key.as_ref()).map_or(0, u64::from_be_bytes);
                entries.push((id, entry));
            }
        }
        Ok(entries)
    }
}
