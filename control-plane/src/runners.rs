//! Runner identity on `/v1/runner/*` (the peer certificate's fingerprint, then the runner's revocation state) and
//! the check-in that keeps the runner's status current for admins.

use serde::Deserialize;
use serde_json::Value;

use crate::enroll::MAX_LABEL_LEN;
use crate::error::ApiError;
use crate::now_ms;
use crate::policies::checkin::PolicyReport;
use crate::store::{RunnerRecord, Store};

/// The runner a `/v1/runner/*` call comes from, by the SHA-256 fingerprint of its client certificate.
pub fn identify(store: &Store, fingerprint: Option<&str>) -> Result<RunnerRecord, ApiError> {
    let fingerprint = fingerprint.ok_or(ApiError::ClientCertificateRequired)?;
    let cert = store.cert(fingerprint)?.ok_or(ApiError::UnknownCertificate)?;
    let runner = store.runner(&cert.runner_id)?.ok_or(ApiError::UnknownCertificate)?;
    if runner.revoked {
        return Err(ApiError::RunnerRevoked);
    }
    Ok(runner)
}

#[derive(Default, Deserialize)]
struct Checkin {
    version: Option<String>,
    hostname: Option<String>,
    cert_not_after_ms: Option<u64>,
    buffer: Option<Value>,
    outcomes: Option<Value>,
    upload: Option<Value>,
    policy: Option<Value>,
    #[serde(default)]
    wait_ms: u64,
}

/// What a check-in asks of the policy push.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckinRequest {
    /// How long the runner is willing to wait for a newer policy (bounded by the server's poll timeout).
    pub wait_ms: u64,
    /// Its policy report (the last one when it sent none).
    pub policy: PolicyReport,
}

/// `POST /v1/runner/checkin`, first half: records what the runner reports (its status for admins, its policy
/// report for the rollout status) and returns what the long poll needs.
pub fn checkin(store: &Store, runner: &RunnerRecord, body: &[u8]) -> Result<CheckinRequest, ApiError> {
    let report: Checkin = if body.iter().all(u8::is_ascii_whitespace) {
        Checkin::default()
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidRequest(format!("invalid check-in: {e}")))?
    };
    for text in [&report.version, &report.hostname].into_iter().flatten() {
        if text.len() > MAX_LABEL_LEN {
            return Err(ApiError::InvalidRequest(format!("hostname and version are at most {MAX_LABEL_LEN} bytes")));
        }
    }
    for (name, value) in [
        ("buffer", &report.buffer),
        ("outcomes", &report.outcomes),
        ("upload", &report.upload),
        ("policy", &report.policy),
    ] {
        if value.as_ref().is_some_and(|v| !v.is_object()) {
            return Err(ApiError::InvalidRequest(format!("`{name}` must be an object")));
        }
    }
    let policy = match &report.policy {
        Some(policy) => serde_json::from_value(policy.clone())
            .map_err(|e| ApiError::InvalidRequest(format!("invalid `policy` report: {e}")))?,
        // A check-in without a report keeps the last one.
        None => serde_json::from_value(runner.policy.clone()).unwrap_or_default(),
    };
    let now = now_ms();
    store.update_runner(&runner.runner_id, |r| {
        r.last_seen_ms = Some(now);
        if let Some(version) = &report.version {
            r.version.clone_from(version);
        }
        if let Some(hostname) = &report.hostname {
            r.hostname.clone_from(hostname);
        }
        if let Some(not_after) = report.cert_not_after_ms {
            r.cert_not_after_ms = not_after;
        }
        for (field, value) in [
            (&mut r.buffer, &report.buffer),
            (&mut r.outcomes, &report.outcomes),
            (&mut r.upload, &report.upload),
            (&mut r.policy, &report.policy),
        ] {
            if let Some(value) = value {
                field.clone_from(value);
            }
        }
    })?;
    Ok(CheckinRequest { wait_ms: report.wait_ms, policy })
}
