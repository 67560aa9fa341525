//! Policies in the control plane: immutable, signed revisions per runner group, the group's rollout (a stable
//! revision and at most one canary), and the push of the right revision to each runner's long-poll check-in.
//!
//! Every change (apply, rollback, promote, abort, and a canary halted by a runner's failure) runs under one lock,
//! writes its revision, the new rollout and an audit entry in one transaction, flushes, and only then is shown to
//! check-ins: a runner can never hold a revision that a crash could take back. Check-ins read a per-group cache of
//! the rollout and its signed bundles, and wait on a generation counter that every change bumps.
//!
//! [`admin`] is the admin API's side, [`checkin`] decides what a runner gets.

pub mod admin;
pub mod checkin;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};
use tokio::sync::{watch, MutexGuard};
use traceflow_protocol::policy::{diff, BundleBody, Policy, SignedBundle};

use crate::error::ApiError;
use crate::now_ms;
use crate::store::{
    AuditEntry, CanaryStatus, PolicyRevision, RevisionSource, Rollout, RunnerRecord, Store, StoreError,
};

use checkin::PolicyReport;

/// What check-ins of one group are served from: its rollout and the bundles of its stable and canary revisions.
#[derive(Debug, Default)]
pub struct Targets {
    pub rollout: Rollout,
    pub stable: Option<SignedBundle>,
    pub canary: Option<SignedBundle>,
}

impl Targets {
    /// The bundle `runner_id` should get now, if any: the revision meant for it ([`checkin::target`]) when that
    /// is newer than what it runs and is not the revision it reported failed.
    pub fn bundle_for(&self, runner_id: &str, report: &PolicyReport) -> Option<&SignedBundle> {
        let target = checkin::target(&self.rollout, runner_id)?;
        if !checkin::needs(target, report) {
            return None;
        }
        match &self.rollout.canary {
            Some(canary) if canary.revision == target => self.canary.as_ref(),
            _ => self.stable.as_ref(),
        }
    }
}

/// A new revision's content and provenance.
pub struct NewRevision {
    pub policy: Policy,
    pub author: String,
    pub message: String,
    pub source: RevisionSource,
    pub canary_percent: Option<u8>,
    pub copied_from: Option<u64>,
}

/// The policy store and push of a running control plane.
pub struct Policies {
    store: Arc<Store>,
    key: Arc<Ed25519KeyPair>,
    /// Serializes rollout changes, revision numbering and cache fills.
    writer: tokio::sync::Mutex<()>,
    /// Per `tenant/group`.
    targets: Mutex<HashMap<String, Arc<Targets>>>,
    /// Bumped once a change is durable, and at shutdown; held check-ins wait on it.
    generation: watch::Sender<u64>,
    closed: AtomicBool,
}

impl Policies {
    pub fn new(store: Arc<Store>, key: Arc<Ed25519KeyPair>) -> Policies {
        Policies {
            store,
            key,
            writer: tokio::sync::Mutex::new(()),
            targets: Mutex::new(HashMap::new()),
            generation: watch::channel(0).0,
            closed: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Ends every held check-in now (they answer without a policy) and every later one at once.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Refuses a group that does not exist in the tenant.
    pub fn check_group(&self, tenant: &str, group: &str) -> Result<(), ApiError> {
        if crate::is_entity_name(group) && self.store.group_exists(tenant, group)? {
            Ok(())
        } else {
            Err(ApiError::GroupNotFound)
        }
    }

    /// The group's check-in targets, from the cache or (once per change) the store.
    pub async fn targets(&self, tenant: &str, group: &str) -> Result<Arc<Targets>, ApiError> {
        let key = format!("{tenant}/{group}");
        if let Some(targets) = self.cached(&key) {
            return Ok(targets);
        }
        // Filled under the writer lock, so a fill never races a change that is not yet durable.
        let _writer = self.writer.lock().await;
        if let Some(targets) = self.cached(&key) {
            return Ok(targets);
        }
        let rollout = self.store.rollout(tenant, group)?;
        let targets = Arc::new(self.load_targets(tenant, group, rollout)?);
        self.cache(key, targets.clone());
        Ok(targets)
    }

    fn cached(&self, key: &str) -> Option<Arc<Targets>> {
        self.targets.lock().ok()?.get(key).cloned()
    }

    fn cache(&self, key: String, targets: Arc<Targets>) {
        if let Ok(mut cache) = self.targets.lock() {
            cache.insert(key, targets);
        }
    }

    fn load_targets(&self, tenant: &str, group: &str, rollout: Rollout) -> Result<Targets, StoreError> {
        let bundle = |revision: Option<u64>| -> Result<Option<SignedBundle>, StoreError> {
            match revision {
                Some(revision) => Ok(self.store.policy_revision(tenant, group, revision)?.map(|r| r.bundle)),
                None => Ok(None),
            }
        };
        let stable = bundle(rollout.stable)?;
        let canary = bundle(rollout.canary.as_ref().map(|c| c.revision))?;
        Ok(Targets { rollout, stable, canary })
    }

    /// Waits up to `wait` for a bundle `runner` should get; `None` when the wait ends without one.
    pub async fn next_bundle(
        &self,
        runner: &RunnerRecord,
        report: &PolicyReport,
        wait: Duration,
    ) -> Result<Option<SignedBundle>, ApiError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribed before the first look, so a change between the look and the wait still wakes it.
        let mut changes = self.generation.subscribe();
        loop {
            let targets = self.targets(&runner.tenant, &runner.group).await?;
            if let Some(bundle) = targets.bundle_for(&runner.runner_id, report) {
                return Ok(Some(bundle.clone()));
            }
            if self.closed.load(Ordering::SeqCst) {
                return Ok(None);
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return Ok(None) },
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
            }
        }
    }

    /// Takes the change lock; every function that changes a rollout holds it through [`Policies::commit`].
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// The next revision of the group, signed. Call with the change lock held (it numbers the revision).
    pub fn create_revision(
        &self,
        _writer: &MutexGuard<'_, ()>,
        tenant: &str,
        group: &str,
        new: NewRevision,
    ) -> Result<PolicyRevision, ApiError> {
        let revision = self.store.latest_policy_revision(tenant, group)? + 1;
        let created_at_ms = now_ms();
        let hash = new.policy.hash();
        let body = BundleBody {
            tenant: tenant.to_string(),
            group: group.to_string(),
            revision,
            issued_at_ms: created_at_ms,
            hash: hash.clone(),
            policy: new.policy,
        };
        let bundle = SignedBundle::sign(&body, &self.key);
        Ok(PolicyRevision {
            group: group.to_string(),
            revision,
            hash,
            author: new.author,
            message: new.message,
            created_at_ms,
            source: new.source,
            canary_percent: new.canary_percent,
            copied_from: new.copied_from,
            policy: body.policy,
            bundle,
        })
    }

    /// Makes a change durable (revision, rollout, audit entry in one transaction, then a flush), then shows it to
    /// check-ins.
    pub async fn commit(
        &self,
        _writer: &MutexGuard<'_, ()>,
        tenant: &str,
        group: &str,
        revision: Option<&PolicyRevision>,
        rollout: Rollout,
        audit: AuditEntry,
    ) -> Result<(), ApiError> {
        let key = format!("{tenant}/{group}");
        let result = async {
            self.store.commit_policy_change(tenant, group, revision, &rollout, &audit)?;
            self.store.sync().await?;
            self.load_targets(tenant, group, rollout)
        }
        .await;
        match result {
            Ok(targets) => self.cache(key, Arc::new(targets)),
            Err(error) => {
                // The change may be in the store without being durable; the next check-in reloads.
                if let Ok(mut cache) = self.targets.lock() {
                    cache.remove(&key);
                }
                return Err(error.into());
            }
        }
        self.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    /// The policy of the group's stable revision (the default policy before the first one) and its number.
    pub fn stable_policy(
        &self,
        tenant: &str,
        group: &str,
        rollout: &Rollout,
    ) -> Result<(Option<u64>, Policy), ApiError> {
        match rollout.stable {
            Some(revision) => {
                let record = self.store.policy_revision(tenant, group, revision)?.ok_or_else(|| {
                    StoreError::Corrupt { tree: "policies", reason: format!("stable revision {revision} is missing") }
                })?;
                Ok((Some(revision), record.policy))
            }
            None => Ok((None, Policy::default())),
        }
    }

    /// A runner reported its policy state. A failure of the active canary's revision halts the canary: it is
    /// pushed no further, and `promote` is refused until an admin applies, rolls back or aborts.
    pub async fn report(&self, runner: &RunnerRecord, report: &PolicyReport) -> Result<(), ApiError> {
        if !report.halts(&self.targets(&runner.tenant, &runner.group).await?.rollout) {
            return Ok(());
        }
        let writer = self.lock().await;
        let (tenant, group) = (runner.tenant.as_str(), runner.group.as_str());
        let mut rollout = self.store.rollout(tenant, group)?;
        if !report.halts(&rollout) {
            return Ok(());
        }
        let now = now_ms();
        let error = report.error.clone().unwrap_or(Value::Null);
        let Some(canary) = rollout.canary.as_mut() else { return Ok(()) };
        canary.status = CanaryStatus::Halted;
        canary.halted_by = Some(runner.runner_id.clone());
        canary.halted_error = Some(error.clone());
        canary.halted_at_ms = Some(now);
        let revision = canary.revision;
        let audit = AuditEntry {
            at_ms: now,
            tenant: tenant.to_string(),
            actor: format!("runner:{}", runner.runner_id),
            action: "policy_canary_halted".into(),
            target: group.to_string(),
            detail: json!({ "revision": revision, "hash": report.hash, "error": error }),
        };
        self.commit(&writer, tenant, group, None, rollout, audit).await?;
        tracing::warn!(runner_id = runner.runner_id, group, revision, "canary halted: a cohort runner reported failed");
        Ok(())
    }
}

/// The audit detail of a change: the revision it made stable (or tried), and what changed against the stable
/// policy before it.
pub fn change_detail(revision: &PolicyRevision, author: &str, message: &str, previous: &Policy) -> Value {
    let old = serde_json::to_value(previous).unwrap_or_default();
    let new = serde_json::to_value(&revision.policy).unwrap_or_default();
    json!({
        "revision": revision.revision,
        "hash": revision.hash,
        "message": message,
        "author": author,
        "diff": diff(&old, &new),
    })
}
