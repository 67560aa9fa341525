//! What a check-in means for policies, as pure functions: the runner's report, the revision meant for it (its
//! cohort's), whether it should be sent, and whether a report halts a canary.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use traceflow_protocol::policy::in_canary;
pub use traceflow_protocol::policy::ReportState;

use crate::store::{CanaryStatus, Rollout};

/// The `policy` object of a check-in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyReport {
    /// The revision the state is about: the applied one, or the one that failed (0: none).
    pub revision: u64,
    pub hash: Option<String>,
    pub state: ReportState,
    /// `{code, message, path?}` for a failed revision.
    pub error: Option<Value>,
    /// The revision that runs; for `applied`, `revision` when not given.
    pub active_revision: Option<u64>,
    /// Policy fields the runner's local floor raised.
    pub floored: Vec<String>,
}

impl PolicyReport {
    /// The revision the runner runs.
    pub fn active(&self) -> u64 {
        self.active_revision.unwrap_or(if self.state == ReportState::Applied { self.revision } else { 0 })
    }

    /// Whether this report halts the group's canary: it says the active canary's revision failed.
    pub fn halts(&self, rollout: &Rollout) -> bool {
        self.state == ReportState::Failed
            && rollout.canary.as_ref().is_some_and(|c| c.status == CanaryStatus::Active && c.revision == self.revision)
    }
}

/// Which part of a group a runner is in for the current rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    Stable,
    Canary,
}

/// The runner's cohort: `canary` when there is a canary (active or halted) and the runner falls in its share.
pub fn cohort(rollout: &Rollout, runner_id: &str) -> Cohort {
    match &rollout.canary {
        Some(canary) if in_canary(runner_id, canary.percent) => Cohort::Canary,
        _ => Cohort::Stable,
    }
}

/// The revision pushed to the runner: the canary's while it is active and the runner is in its cohort, else the
/// stable one (none before the first apply).
pub fn target(rollout: &Rollout, runner_id: &str) -> Option<u64> {
    match &rollout.canary {
        Some(canary) if canary.status == CanaryStatus::Active && cohort(rollout, runner_id) == Cohort::Canary => {
            Some(canary.revision)
        }
        _ => rollout.stable,
    }
}

/// Whether `target` should be sent to a runner that reported `report`: it must be newer than what runs (runners
/// refuse older revisions), and a revision is never resent to a runner that reported it failed.
pub fn needs(target: u64, report: &PolicyReport) -> bool {
    target > report.active() && !(report.state == ReportState::Failed && report.revision == target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Canary;

    fn report(state: ReportState, revision: u64, active: Option<u64>) -> PolicyReport {
        PolicyReport { revision, state, active_revision: active, ..PolicyReport::default() }
    }

    fn canary(revision: u64, percent: u8, status: CanaryStatus) -> Option<Canary> {
        Some(Canary { revision, percent, status, halted_by: None, halted_error: None, halted_at_ms: None })
    }

    #[test]
    fn newer_revisions_are_sent_once_and_failed_ones_never_again() {
        assert!(needs(1, &PolicyReport::default()));
        assert!(!needs(3, &report(ReportState::Applied, 3, None)));
        assert!(needs(4, &report(ReportState::Applied, 3, None)));
        assert!(!needs(2, &report(ReportState::Applied, 3, Some(3))), "older than what runs");
        assert!(!needs(4, &report(ReportState::Failed, 4, Some(3))), "failed here");
        assert!(needs(5, &report(ReportState::Failed, 4, Some(3))), "a newer one is sent");
    }

    #[test]
    fn cohorts_follow_the_canary_share_and_a_halt_stops_the_push() {
        let ids: Vec<String> = (0..200).map(|i| format!("r_{i}")).collect();
        let (inside, outside): (Vec<&String>, Vec<&String>) = ids.iter().partition(|id| in_canary(id, 30));
        assert!(!inside.is_empty() && !outside.is_empty());
        let mut rollout = Rollout { stable: Some(2), canary: canary(3, 30, CanaryStatus::Active) };
        assert!(inside.iter().all(|id| target(&rollout, id) == Some(3) && cohort(&rollout, id) == Cohort::Canary));
        assert!(outside.iter().all(|id| target(&rollout, id) == Some(2) && cohort(&rollout, id) == Cohort::Stable));
        assert!(report(ReportState::Failed, 3, Some(2)).halts(&rollout));
        assert!(!report(ReportState::Failed, 2, Some(1)).halts(&rollout));
        assert!(!report(ReportState::Applied, 3, None).halts(&rollout));
        rollout.canary = canary(3, 30, CanaryStatus::Halted);
        assert!(inside.iter().all(|id| target(&rollout, id) == Some(2) && cohort(&rollout, id) == Cohort::Canary));
        assert!(!report(ReportState::Failed, 3, Some(2)).halts(&rollout), "already halted");
        assert_eq!(target(&Rollout::default(), "r_1"), None);
    }

    #[test]
    fn reports_parse_leniently_with_defaults() {
        let parsed: PolicyReport = serde_json::from_value(
            serde_json::json!({"revision": 3, "hash": "abc", "state": "applied", "error": null}),
        )
        .unwrap();
        assert_eq!((parsed.active(), parsed.state), (3, ReportState::Applied));
        let failed: PolicyReport = serde_json::from_value(serde_json::json!({
            "revision": 4, "state": "failed", "active_revision": 3,
            "error": {"code": "invalid_policy", "message": "m", "path": "p"}, "floored": ["pii.default_action"]
        }))
        .unwrap();
        assert_eq!((failed.active(), failed.floored.len()), (3, 1));
        assert!(serde_json::from_value::<PolicyReport>(serde_json::json!({"state": "weird"})).is_err());
    }
}
