//! Check-in: long-polls the control plane with the runner's status and policy state, and applies the signed
//! policies it answers with.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::watch;

use super::pacing::Backoff;
use super::{Current, Shared};
use crate::identity::{self, Identity};
use crate::link::Link;
use crate::metrics::{Outcome, OutcomeLabel};

/// Longest a check-in answer may take beyond the long-poll wait it asked for.
const CHECKIN_SLACK: Duration = Duration::from_secs(15);

#[derive(Serialize)]
struct Checkin<'a> {
    version: &'a str,
    hostname: String,
    cert_not_after_ms: u64,
    buffer: serde_json::Value,
    outcomes: serde_json::Value,
    upload: serde_json::Value,
    policy: crate::policy::Report,
    /// How long the control plane may hold this check-in when it has nothing new (long poll).
    wait_ms: u64,
}

/// What a check-in answer says.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct CheckinAnswer {
    /// The most to wait (with jitter) before the next check-in.
    #[serde(default)]
    poll_after_ms: u64,
    /// A newer signed policy for this runner.
    #[serde(default)]
    policy: Option<traceflow_protocol::policy::SignedBundle>,
}

fn checkin_body(shared: &Shared, identity: &Identity, wait: Duration) -> Bytes {
    let gauges = shared.buffer.gauges();
    let outcome = |outcome: Outcome| shared.metrics.batches.get_or_create(&OutcomeLabel { outcome }).get();
    let stats = &shared.stats;
    let body = Checkin {
        version: env!("CARGO_PKG_VERSION"),
        hostname: identity::hostname(),
        cert_not_after_ms: identity.info.not_after_ms,
        buffer: serde_json::json!({
            "depth": gauges.depth.load(Ordering::Relaxed),
            "live_bytes": gauges.live_bytes.load(Ordering::Relaxed),
            "disk_bytes": gauges.disk_bytes.load(Ordering::Relaxed),
        }),
        outcomes: serde_json::json!({
            "accepted": outcome(Outcome::Accepted),
            "duplicate": outcome(Outcome::Duplicate),
            "invalid": outcome(Outcome::Invalid),
            "unauthorized": outcome(Outcome::Unauthorized),
            "rate_limited": outcome(Outcome::RateLimited),
            "unavailable": outcome(Outcome::Unavailable),
            "filtered": outcome(Outcome::Filtered),
        }),
        upload: serde_json::json!({
            "lag_ms": stats.lag_ms(),
            "chunks": stats.chunks.load(Ordering::Relaxed),
            "bytes": stats.bytes.load(Ordering::Relaxed),
            "retries": stats.retries.load(Ordering::Relaxed),
            "dead_letters": stats.dead_letters.load(Ordering::Relaxed),
            "concurrency": stats.concurrency.load(Ordering::Relaxed),
        }),
        policy: shared.policies.report(),
        wait_ms: wait.as_millis() as u64,
    };
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// Why a check-in did not give an answer to act on.
pub(super) enum CheckinFailure {
    /// No answer, or a non-2xx one.
    Failed(String),
    /// A 2xx answer that is not a check-in answer; `revision` is the policy revision it seemed to carry.
    BadAnswer { revision: u64, reason: String },
}

impl std::fmt::Display for CheckinFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckinFailure::Failed(reason) | CheckinFailure::BadAnswer { reason, .. } => f.write_str(reason),
        }
    }
}

/// One check-in with `identity`, held by the control plane up to `wait` when it has nothing new.
pub(super) async fn checkin(
    shared: &Shared,
    identity: &Identity,
    link: &Link,
    wait: Duration,
) -> Result<CheckinAnswer, CheckinFailure> {
    let body = checkin_body(shared, identity, wait);
    let headers = [("content-type", "application/json")];
    let reply = link
        .post("/v1/runner/checkin", &headers, body, wait + CHECKIN_SLACK)
        .await
        .map_err(|e| CheckinFailure::Failed(e.to_string()))?;
    shared.metrics.checkins.get_or_create(&crate::metrics::StatusLabel { status: reply.status }).inc();
    if (200..300).contains(&reply.status) {
        read_answer(&reply.body)
    } else {
        Err(CheckinFailure::Failed(reply.describe()))
    }
}

/// Parses a 2xx check-in answer. One that does not parse is never taken as "nothing new": it is reported.
fn read_answer(body: &[u8]) -> Result<CheckinAnswer, CheckinFailure> {
    serde_json::from_slice(body).map_err(|e| {
        // Only to tell the control plane which revision the unreadable answer was about; nothing else is used.
        let revision = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|answer| {
                let bundle = answer["policy"]["bundle"].as_str()?.to_string();
                serde_json::from_str::<serde_json::Value>(&bundle).ok()?["revision"].as_u64()
            })
            .unwrap_or(0);
        CheckinFailure::BadAnswer { revision, reason: format!("the check-in answer could not be read: {e}") }
    })
}

/// Long-polls the control plane with the runner's status and policy state; applies the policies it pushes.
/// Each answer is followed at once by the next check-in (after a policy, to report it) or after a jittered
/// pause of at most `poll_after_ms`; failures back off exponentially with full jitter.
pub(super) async fn status_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let wait = Duration::from_secs(shared.config.status_interval_secs.max(1));
    let backoff = Backoff { base: Duration::from_millis(500), max: Duration::from_secs(60) };
    let mut failures = 0u32;
    loop {
        let Current { identity, link, .. } = shared.identity.borrow().clone();
        let pause = tokio::select! {
            _ = stop.changed() => return,
            result = checkin(&shared, &identity, &link, wait) => match result {
                Ok(answer) => {
                    failures = 0;
                    shared.policies.answer_read();
                    match answer.policy {
                        Some(bundle) => {
                            let policies = shared.policies.clone();
                            let _ = tokio::task::spawn_blocking(move || policies.apply(&bundle)).await;
                            Duration::ZERO
                        }
                        None => Duration::from_millis(answer.poll_after_ms.min(60_000)).mul_f64(fastrand::f64()),
                    }
                }
                Err(failure) => {
                    failures = failures.saturating_add(1);
                    let delay = backoff.delay(failures, None, fastrand::f64());
                    match failure {
                        CheckinFailure::Failed(reason) => {
                            tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "check-in failed");
                        }
                        CheckinFailure::BadAnswer { revision, reason } => {
                            tracing::error!(%reason, revision, retry_in_ms = delay.as_millis() as u64, "check-in answer unreadable; reported as a failed policy state");
                            shared.metrics.checkin_bad_answers.inc();
                            shared.policies.report_bad_answer(revision, reason);
                        }
                    }
                    delay
                }
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    #[test]
    fn an_unreadable_answer_is_a_failure_naming_the_revision_it_seemed_to_carry() {
        assert!(read_answer(br#"{"poll_after_ms":50}"#).is_ok());
        let bad = |body: &[u8]| match read_answer(body) {
            Err(CheckinFailure::BadAnswer { revision, reason }) => (revision, reason),
            other => panic!("expected a bad answer, got {:?}", other.ok()),
        };
        assert_eq!(bad(br#"{"poll_after_ms":"soon"}"#).0, 0);
        assert_eq!(bad(b"<html>proxy error</html>").0, 0);
        let (revision, reason) = bad(br#"{"policy":{"bundle":"{\"revision\":7}","signature":5}}"#);
        assert_eq!(revision, 7);
        assert!(reason.starts_with("the check-in answer could not be read"), "{reason}");
    }
}
