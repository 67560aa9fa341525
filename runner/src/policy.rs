//! Signed policies in the runner: verify, validate, compile, swap, persist, report.
//!
//! What ingest runs on is one immutable [`Active`] value (project keys, limits, sampling, features, the compiled
//! PII engine, compression). A request takes the current one when it starts and keeps it to the end, so a swap
//! never changes the rules under a request in flight. Until a signed policy arrives, [`Active`] comes from the
//! local configuration.
//!
//! A bundle from the control plane is applied only if its Ed25519 signature verifies with the key pinned at
//! enrollment, it names this runner's tenant and group, its revision is newer than the active one (replays of
//! older bundles are refused), its hash matches, it validates, and it compiles. Then the runner's local
//! [`Floor`] is applied (a remote policy cannot weaken it), the bundle is persisted as last-known-good (with
//! the previous few) in the `policy` tree and flushed, and only then swapped in. Any failure leaves the active
//! policy as it was and is reported with a structured error. On start the last-known-good bundle is verified
//! again and applied, so a runner that cannot reach its control plane runs on it indefinitely.
//!
//! ```text
//! policy tree:  "lkg"              -> SignedBundle JSON of the active revision
//!               "rev/" u64 BE      -> SignedBundle JSON, the last KEEP_REVISIONS applied
//!               "report"           -> the last Report JSON
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use traceflow_pii::Engine;
use traceflow_protocol::policy::{BundleBody, BundleError, Features, Policy, ReportState, SignedBundle};
use traceflow_protocol::Codec;

use crate::buffer::{Buffer, StoreError};
use crate::config::RunnerConfig;
use crate::identity::IdentityInfo;
use crate::metrics::{Metrics, Outcome, OutcomeLabel};
use crate::traffic::projects::{Project, Projects};
use crate::traffic::ratelimit::{Limit, RateLimiter};

/// Applied revisions kept in the `policy` tree (the active one included).
pub const KEEP_REVISIONS: usize = 5;
const LKG_KEY: &[u8] = b"lkg";
const REPORT_KEY: &[u8] = b"report";
const REVISION_PREFIX: &[u8] = b"rev/";
/// The error code of a failed state reported for a check-in answer that could not be read.
const BAD_ANSWER: &str = "bad_checkin_answer";

/// The rules ingest runs on.
pub struct Active {
    /// 0 for the local configuration.
    pub revision: u64,
    pub hash: Option<String>,
    pub projects: Projects,
    pub default_limit: Limit,
    /// Limits of policy projects that set their own, by project name.
    pub project_limits: HashMap<String, Limit>,
    pub sampling_rate: f64,
    pub features: Features,
    pub pii: Arc<Engine>,
    pub codec: Codec,
    pub level: i32,
    /// Policy fields the local floor raised.
    pub floored: Vec<String>,
}

/// Every PII action `allow` means batches are buffered and uploaded as the SDKs sent them: say so loudly.
fn warn_if_scrubbing_off(pii: &Engine, source: &str) {
    if pii.replaces_nothing() {
        tracing::warn!(source, "every PII action is `allow`: batches are stored and uploaded without tokenization");
    }
}

impl Active {
    /// The rules of the local configuration alone.
    fn local(config: &RunnerConfig) -> Result<Active, String> {
        let pii = Engine::new(&config.pii).map_err(|e| format!("invalid [pii] configuration: {e}"))?;
        warn_if_scrubbing_off(&pii, "the local [pii] configuration");
        Ok(Active {
            revision: 0,
            hash: None,
            projects: Projects::new(&config.project_keys),
            default_limit: Limit {
                events_per_second: config.rate_limit.events_per_second,
                burst: config.rate_limit.burst,
                daily_quota: 0,
            },
            project_limits: HashMap::new(),
            sampling_rate: 1.0,
            features: Features::default(),
            pii: Arc::new(pii),
            codec: config.buffer.compression,
            level: config.buffer.zstd_level,
            floored: Vec::new(),
        })
    }

    /// The rules of a verified policy, after the local floor.
    fn from_policy(config: &RunnerConfig, body: &BundleBody) -> Result<Active, ApplyError> {
        let (policy, floored) = body.policy.with_floor(&config.floor);
        let pii = Engine::new(&policy.pii).map_err(|e| {
            ApplyError::new("compile_failed", format!("the PII rules do not compile: {e}"), Some("pii"))
        })?;
        warn_if_scrubbing_off(&pii, "the policy");
        let projects = if policy.projects.is_empty() {
            Projects::new(&config.project_keys)
        } else {
            Projects::from_policy(&policy.projects)
        };
        let project_limits = policy
            .projects
            .iter()
            .filter_map(|p| p.rate_limit.as_ref().map(|limit| (p.name.clone(), Limit::from(limit))))
            .collect();
        Ok(Active {
            revision: body.revision,
            hash: Some(body.hash.clone()),
            projects,
            default_limit: Limit::from(&policy.rate_limit),
            project_limits,
            sampling_rate: policy.sampling.session_rate,
            features: policy.features.clone(),
            pii: Arc::new(pii),
            codec: policy.upload.compression.unwrap_or(config.buffer.compression),
            level: policy.upload.zstd_level.unwrap_or(config.buffer.zstd_level),
            floored,
        })
    }

    pub fn limit_for(&self, project: &Project) -> &Limit {
        project.name.as_ref().and_then(|name| self.project_limits.get(name)).unwrap_or(&self.default_limit)
    }
}

/// Why a bundle was not applied; sent to the control plane as `{code, message, path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ApplyError {
    fn new(code: &str, message: String, path: Option<&str>) -> ApplyError {
        ApplyError { code: code.into(), message, path: path.map(str::to_string) }
    }
}

impl From<BundleError> for ApplyError {
    fn from(error: BundleError) -> ApplyError {
        ApplyError::new(error.code(), error.to_string(), error.path())
    }
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The runner's policy state as check-ins carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The revision this report is about: the active one, or the one that just failed.
    pub revision: u64,
    pub hash: Option<String>,
    pub state: ReportState,
    pub error: Option<ApplyError>,
    /// The revision in force.
    pub active_revision: u64,
    pub floored: Vec<String>,
}

impl Report {
    fn of(active: &Active) -> Report {
        Report {
            revision: active.revision,
            hash: active.hash.clone(),
            state: if active.revision == 0 { ReportState::None } else { ReportState::Applied },
            error: None,
            active_revision: active.revision,
            floored: active.floored.clone(),
        }
    }
}

/// The signature key and target pinned at enrollment.
struct Pin {
    tenant: String,
    group: String,
    public_key: Vec<u8>,
}

pub struct Policies {
    active: RwLock<Arc<Active>>,
    config: RunnerConfig,
    tree: traceflow_store::Tree,
    pin: Option<Pin>,
    report: Mutex<Report>,
    /// One apply at a time.
    applying: Mutex<()>,
    buffer: Arc<Buffer>,
    metrics: Arc<Metrics>,
    upload_interval_ms: AtomicU64,
    retention_ms: AtomicU64,
    /// Token buckets and daily counters; they outlive policy changes.
    pub limiter: RateLimiter,
}

impl Policies {
    /// Starts on the local configuration, then on the last-known-good signed policy if the runner is enrolled
    /// and has one that still verifies.
    pub fn open(
        config: &RunnerConfig,
        buffer: Arc<Buffer>,
        metrics: Arc<Metrics>,
        identity: Option<&IdentityInfo>,
    ) -> Result<Policies, String> {
        let tree = buffer.store().db.tree("policy").map_err(|e| format!("cannot open the policy store: {e}"))?;
        let pin = match identity {
            Some(info) => {
                let public_key = base64::engine::general_purpose::STANDARD
                    .decode(info.policy_public_key.trim())
                    .map_err(|e| format!("the pinned policy key in runner.json is not base64: {e}"))?;
                Some(Pin { tenant: info.tenant.clone(), group: info.group.clone(), public_key })
            }
            None => None,
        };
        let active = Active::local(config)?;
        metrics.buffer_disk_budget.set(buffer.disk_budget() as i64);
        let policies = Policies {
            report: Mutex::new(Report::of(&active)),
            active: RwLock::new(Arc::new(active)),
            config: config.clone(),
            tree,
            pin,
            applying: Mutex::new(()),
            buffer,
            metrics,
            upload_interval_ms: AtomicU64::new(50),
            retention_ms: AtomicU64::new(0),
            limiter: RateLimiter::default(),
        };
        policies.restore();
        Ok(policies)
    }

    /// Applies the persisted last-known-good bundle, if any.
    fn restore(&self) {
        let Some(pin) = &self.pin else { return };
        let stored = match self.tree.get(LKG_KEY) {
            Ok(Some(stored)) => stored,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the last-known-good policy; running on the local configuration");
                return;
            }
        };
        let result = serde_json::from_slice::<SignedBundle>(&stored)
            .map_err(|e| ApplyError::new("malformed_bundle", e.to_string(), None))
            .and_then(|signed| Ok(signed.verify(&pin.public_key)?))
            .and_then(|body| {
                body.check_target(&pin.tenant, &pin.group, 0)?;
                Ok((Active::from_policy(&self.config, &body)?, body))
            });
        match result {
            Ok((active, body)) => {
                tracing::info!(revision = body.revision, hash = %body.hash, "running on the last-known-good policy");
                self.swap(active, &body);
                if let Ok(Some(saved)) = self.tree.get(REPORT_KEY) {
                    if let Ok(report) = serde_json::from_slice::<Report>(&saved) {
                        // A later revision that failed stays reported as failed, so it is not sent again.
                        if report.state == ReportState::Failed && report.revision > body.revision {
                            *self.report.lock().unwrap_or_else(|p| p.into_inner()) = report;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "the last-known-good policy does not verify; running on the local configuration")
            }
        }
    }

    /// The rules for a request starting now.
    pub fn active(&self) -> Arc<Active> {
        self.active.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn report(&self) -> Report {
        self.report.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How long an idle uploader waits before looking for new chunks.
    pub fn upload_interval(&self) -> Duration {
        Duration::from_millis(self.upload_interval_ms.load(Ordering::Relaxed))
    }

    /// How long buffered data may wait for upload; `None` for ever.
    pub fn retention(&self) -> Option<Duration> {
        match self.retention_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Verifies, validates, compiles, persists and swaps in a bundle; blocking (storage flush). Both outcomes
    /// are recorded in [`Policies::report`].
    pub fn apply(&self, signed: &SignedBundle) -> Result<u64, ApplyError> {
        let _one = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.try_apply(signed);
        let outcome = if result.is_ok() { Outcome::Applied } else { Outcome::Failed };
        self.metrics.policy_applies.get_or_create(&OutcomeLabel { outcome }).inc();
        match &result {
            Ok(revision) => tracing::info!(revision, "policy applied"),
            Err(error) => {
                // The revision named by an unverified bundle is only used to tell the control plane which one
                // failed (so it is not sent again); nothing else is taken from it.
                let revision = serde_json::from_str::<serde_json::Value>(&signed.bundle)
                    .ok()
                    .and_then(|v| v["revision"].as_u64())
                    .unwrap_or(0);
                tracing::warn!(revision, %error, "policy refused; the active policy stays in force");
                let active = self.active();
                let report = Report {
                    revision,
                    hash: None,
                    state: ReportState::Failed,
                    error: Some(error.clone()),
                    active_revision: active.revision,
                    floored: active.floored.clone(),
                };
                self.save_report(report);
            }
        }
        result
    }

    /// Records that a check-in answer could not be read, as a failed state that the next check-in reports; the
    /// active policy stays. `revision` is the one the answer seemed to carry (0 if none could be read).
    pub fn report_bad_answer(&self, revision: u64, reason: String) {
        let active = self.active();
        self.save_report(Report {
            revision,
            hash: None,
            state: ReportState::Failed,
            error: Some(ApplyError::new(BAD_ANSWER, reason, None)),
            active_revision: active.revision,
            floored: active.floored.clone(),
        });
    }

    /// After a readable check-in answer: a failed state that only [`Policies::report_bad_answer`] set gives way to
    /// the active policy's.
    pub fn answer_read(&self) {
        let bad = self.report().error.is_some_and(|error| error.code == BAD_ANSWER);
        if bad {
            self.save_report(Report::of(&self.active()));
        }
    }

    fn try_apply(&self, signed: &SignedBundle) -> Result<u64, ApplyError> {
        let pin = self
            .pin
            .as_ref()
            .ok_or_else(|| ApplyError::new("not_enrolled", "this runner has no pinned policy key".into(), None))?;
        let body = signed.verify(&pin.public_key)?;
        body.check_target(&pin.tenant, &pin.group, self.active().revision)?;
        let active = Active::from_policy(&self.config, &body)?;
        self.persist(signed, body.revision)
            .map_err(|e| ApplyError::new("storage_failed", format!("cannot persist the policy: {e}"), None))?;
        self.swap(active, &body);
        Ok(body.revision)
    }

    /// Writes the bundle as last-known-good and into the kept revisions, drops older ones, and flushes.
    fn persist(&self, signed: &SignedBundle, revision: u64) -> Result<(), StoreError> {
        let json = serde_json::to_vec(signed).unwrap_or_default();
        let key = [REVISION_PREFIX, &revision.to_be_bytes()].concat();
        self.tree.insert(key, json.as_slice())?;
        self.tree.insert(LKG_KEY, json)?;
        let kept: Vec<traceflow_store::Value> =
            self.tree.scan_prefix(REVISION_PREFIX).keys().collect::<Result<_, _>>()?;
        for old in kept.iter().rev().skip(KEEP_REVISIONS) {
            self.tree.remove(old)?;
        }
        self.buffer.store().db.sync()?;
        Ok(())
    }

    fn swap(&self, active: Active, body: &BundleBody) {
        let policy: &Policy = &body.policy;
        let budget = policy
            .buffer
            .disk_budget_bytes
            .map_or(self.config.buffer.disk_budget_bytes, |b| b.min(self.config.buffer.disk_budget_bytes));
        self.buffer.set_disk_budget(budget);
        self.metrics.buffer_disk_budget.set(budget as i64);
        self.upload_interval_ms.store(policy.upload.interval_ms, Ordering::Relaxed);
        self.retention_ms.store(policy.buffer.retention_hours * 3_600_000, Ordering::Relaxed);
        self.metrics.policy_revision.set(body.revision as i64);
        if !active.floored.is_empty() {
            tracing::warn!(fields = ?active.floored, "the local floor raised fields of the policy");
        }
        let report = Report::of(&active);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(active);
        self.save_report(report);
    }

    fn save_report(&self, report: Report) {
        let _ = self.tree.insert(REPORT_KEY, serde_json::to_vec(&report).unwrap_or_default());
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = report;
    }

    /// The kept revisions, newest first, as `(revision, hash, issued_at_ms, active)`.
    pub fn history(&self) -> Vec<(u64, String, u64, bool)> {
        let active = self.active().revision;
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(REVISION_PREFIX).values().flatten() {
            let body = serde_json::from_slice::<SignedBundle>(&entry)
                .ok()
                .and_then(|signed| serde_json::from_str::<BundleBody>(&signed.bundle).ok());
            if let Some(body) = body {
                out.push((body.revision, body.hash, body.issued_at_ms, body.revision == active));
            }
        }
        out.reverse();
        out
    }
}

/// The last-known-good bundle's body in a data dir's `policy` tree, unverified (for `traceflow-runner policy
/// show`, which runs next to a stopped runner).
pub fn stored_lkg(db: &traceflow_store::Db) -> Result<Option<BundleBody>, String> {
    let tree = db.tree("policy").map_err(|e| e.to_string())?;
    let Some(stored) = tree.get(LKG_KEY).map_err(|e| e.to_string())? else { return Ok(None) };
    let signed: SignedBundle = serde_json::from_slice(&stored).map_err(|e| e.to_string())?;
    serde_json::from_str(&signed.bundle).map(Some).map_err(|e| e.to_string())
}
