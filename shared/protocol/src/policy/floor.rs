//! The runner's local floor: what its own configuration guarantees whatever policy arrives.

use super::*;

/// How strongly an action protects a value: allow < mask < tokenize < hash < redact.
pub fn strength(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Mask => 1,
        Action::Tokenize => 2,
        Action::Hash => 3,
        Action::Redact => 4,
    }
}

/// What a runner's own configuration guarantees whatever policy arrives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Floor {
    /// The weakest PII action a policy may set; weaker ones are raised to it
    /// (allow < mask < tokenize < hash < redact). Default: `allow` (no floor).
    pub min_pii_action: Action,
    /// The largest share of sessions a policy may sample out, 0.0 to 1.0; a lower `session_rate` is raised to
    /// `1 - max_sampling_drop`. Default: 1.0 (no floor).
    pub max_sampling_drop: f64,
}

impl Default for Floor {
    fn default() -> Self {
        Floor { min_pii_action: Action::Allow, max_sampling_drop: 1.0 }
    }
}
