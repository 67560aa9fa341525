//! The policy state a runner reports in each check-in (`policy.state`).

use serde::{Deserialize, Serialize};

/// The state a runner reports for its latest policy revision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// No remote policy yet: the runner runs on its local configuration.
    #[default]
    None,
    /// `revision` runs.
    Applied,
    /// `revision` was refused (or the control plane's answer could not be read); `active_revision` still runs.
    Failed,
}

impl ReportState {
    /// The text on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::None => "none",
            ReportState::Applied => "applied",
            ReportState::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_wire_names() {
        for state in [ReportState::None, ReportState::Applied, ReportState::Failed] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }
}
