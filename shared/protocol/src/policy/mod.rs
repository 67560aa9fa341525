//! Policies: what admins set in the control plane and runners enforce. One type tree ([`Policy`]) with a default
//! for every field, parsed from TOML or JSON with unknown fields refused, validated with the path of every
//! problem ([`Policy::validate`]), hashed over its canonical JSON form ([`Policy::hash`]), signed into bundles
//! ([`bundle`]) and compared field by field ([`diff`]). The runner's local [`Floor`] is applied here too, so
//! both sides agree on what a policy means.
//!
//! ```toml
//! compliance = "pci"
//! [pii]
//! entities = { card = "mask" }
//! [sampling]
//! session_rate = 0.5
//! [[projects]]
//! name = "web"
//! key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! rate_limit = { events_per_second = 500, burst = 2000, daily_quota_events = 10000000 }
//! [features]
//! replay = true
//! ```

pub mod bundle;
pub mod diff;
mod floor;
mod report;
mod sampling;
mod validate;

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Codec;
use traceflow_pii::{Action, PiiConfig};

pub use bundle::{BundleBody, BundleError, SignedBundle};
pub use diff::{diff, Change};
pub use floor::{strength, Floor};
pub use report::ReportState;
pub use sampling::{fnv1a64, in_canary, keep_session};
pub use validate::{Format, PolicyError, PolicyErrors};

/// Most projects one policy names.
pub const MAX_PROJECTS: usize = 1000;
/// Highest events-per-second rate or burst a policy may set.
pub const MAX_EVENTS_PER_SECOND: u64 = 10_000_000;
/// Smallest disk budget a policy may set (below it a runner could not hold one chunk).
pub const MIN_DISK_BUDGET_BYTES: u64 = 16 * 1024 * 1024;
/// Longest retention of buffered data a policy may set: 90 days.
pub const MAX_RETENTION_HOURS: u64 = 90 * 24;
/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// A runner group's policy. Every field has a default (the default policy tokenizes all PII, keeps every
/// session and leaves the runner's own settings in charge); unknown fields are errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Compliance profile this policy claims. Validation refuses a policy that is weaker than its profile
    /// requires (e.g. `pci` with `card = "allow"`). Default: `none`.
    pub compliance: Compliance,
    /// PII detection and the action per entity and per field. Default: tokenize everything detected.
    pub pii: PiiConfig,
    /// Which sessions are kept.
    pub sampling: Sampling,
    /// Project keys the runners accept (stored as SHA-256, never in clear) with their limits. When empty, the
    /// runners keep the project keys of their own configuration. When not empty, runners accept exactly these.
    pub projects: Vec<ProjectPolicy>,
    /// Rate limit of projects that do not set their own.
    pub rate_limit: RateLimit,
    /// Kinds of data collected at all.
    pub features: Features,
    /// The runners' durable buffer.
    pub buffer: BufferPolicy,
    /// How runners store and upload data.
    pub upload: UploadPolicy,
}

/// A compliance profile: a named set of minimums a policy must meet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    /// No minimums beyond the defaults.
    #[default]
    None,
    /// Indian banking (RBI, DPDP): Aadhaar, PAN, UPI, IFSC, GSTIN, cards, accounts, phones and emails protected.
    BfsiIndia,
    /// PCI DSS: card numbers protected (masking to the last 4 digits is allowed) and secrets never kept.
    Pci,
    /// HIPAA Safe Harbor identifiers: names, contacts, addresses, dates of birth, SSNs, IPs protected.
    Hipaa,
    /// GDPR personal data: names, contacts, addresses, dates of birth, IPs and online identifiers protected.
    Gdpr,
}

impl Compliance {
    /// Entities this profile requires to be replaced (any action but `allow`).
    pub fn protected_entities(self) -> &'static [&'static str] {
        match self {
            Compliance::None => &[],
            Compliance::BfsiIndia => {
                &["aadhaar", "pan", "upi", "ifsc", "gstin", "card", "account", "iban", "phone", "email", "secret"]
            }
            Compliance::Pci => &["card", "secret", "jwt", "url_credential"],
            Compliance::Hipaa => {
                &["name", "email", "phone", "address", "dob", "ssn", "ip", "postal_code", "account", "id_number"]
            }
            Compliance::Gdpr => {
                &["name", "email", "phone", "address", "dob", "ip", "iban", "card", "postal_code", "id_number"]
            }
        }
    }
}

/// Session sampling: a session is kept when a hash of its id falls under the rate, so every batch of a session
/// gets the same answer on every runner ([`keep_session`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Sampling {
    /// Share of sessions kept, 0.0 to 1.0. Default: 1.0 (all).
    pub session_rate: f64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { session_rate: 1.0 }
    }
}

/// A project whose key runners accept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPolicy {
    /// Project name (letters, digits, `.`, `_`, `-`; at most 64).
    pub name: String,
    /// SHA-256 of the project key, 64 lowercase hex digits (`printf %s KEY | sha256sum`).
    pub key_sha256: String,
    /// This project's rate limit; default: the policy's `rate_limit`.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

/// A token bucket on events (analytics plus replay) and a daily quota, per project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Sustained events per second; 0 turns the bucket off. Default: 0.
    pub events_per_second: u64,
    /// Bucket size; 0 means one second's worth. Default: 0.
    pub burst: u64,
    /// Events accepted per UTC day; 0 means no quota. Default: 0.
    pub daily_quota_events: u64,
}

/// What SDK data is collected at all; what is off is dropped at the runner and counted as filtered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Features {
    /// rrweb session replay (`replay` arrays). Default: true.
    pub replay: bool,
    /// Console logs (rrweb console plugin events). Default: true.
    pub console_logs: bool,
    /// Network capture (`network` events and rrweb network plugin events). Default: true.
    pub network_capture: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features { replay: true, console_logs: true, network_capture: true }
    }
}

/// The runners' durable buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BufferPolicy {
    /// Disk budget in bytes (at least 16 MiB). A runner never exceeds its own configured budget: the smaller of
    /// the two applies. Default: none (the runner's configuration decides).
    pub disk_budget_bytes: Option<u64>,
    /// Hours buffered data may wait for upload before it is moved to the dead-letter tree (reason `expired`);
    /// 0 keeps it until uploaded. At most 2160 (90 days). Default: 0.
    pub retention_hours: u64,
}

/// How runners store and upload data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UploadPolicy {
    /// Compression of stored and uploaded batches: `zstd`, `lz4` or `none`. Default: none set (the runner's
    /// configuration decides).
    pub compression: Option<Codec>,
    /// zstd level, 1 to 19. Default: none set.
    pub zstd_level: Option<i32>,
    /// How often an idle uploader looks for new data, in milliseconds (10 to 60000). Default: 50.
    pub interval_ms: u64,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy { compression: None, zstd_level: None, interval_ms: 50 }
    }
}

/// Whether `name` is a valid project name (the control plane's entity names).
pub fn is_project_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `sha256:<hex>`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex = hex::encode(digest.as_ref());
    format!("sha256:{hex}")
}

/// The JSON Schema of policy documents, generated from these types (`policies/policy.schema.json`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Policy);
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str, format: Format) -> Vec<String> {
        match Policy::parse(text, format) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn empty_documents_are_the_default_policy() {
        assert_eq!(Policy::parse("", Format::Toml).unwrap(), Policy::default());
        assert_eq!(Policy::parse("{}", Format::Json).unwrap(), Policy::default());
        assert_eq!(Format::detect("  {\"a\":1}"), Format::Json);
        assert_eq!(Format::detect("[pii]"), Format::Toml);
    }

    #[test]
    fn the_hash_ignores_format_order_comments_and_spelled_out_defaults() {
        let toml = "# comment\n[sampling]\nsession_rate = 0.5\n[pii]\nentities = { ip = \"allow\", card = \"mask\" }\n";
        let json = r#"{"pii":{"entities":{"card":"mask","ip":"allow"},"builtin_fields":true},"sampling":{"session_rate":0.5}}"#;
        let a = Policy::parse(toml, Format::Toml).unwrap();
        let b = Policy::parse(json, Format::Json).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert!(a.hash().starts_with("sha256:") && a.hash().len() == 71);
        assert_ne!(a.hash(), Policy::default().hash());
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_their_path() {
        let found = errors("[pii]\nentities = { card = \"mask\" }\nbogus = 1\n", Format::Toml);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("pii.bogus: unknown field `bogus`"), "{found:?}");
        let found = errors(r#"{"sampling":{"session_rate":"half"}}"#, Format::Json);
        assert!(found[0].starts_with("sampling.session_rate: invalid type"), "{found:?}");
        let found = errors("[pii.entities]\ncard = \"scramble\"\n", Format::Toml);
        assert!(found[0].starts_with("pii.entities.card: unknown variant `scramble`"), "{found:?}");
        let found = errors("[features\n", Format::Toml);
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn bounds_regexes_and_names_are_checked_with_paths() {
        let text = r#"
            [sampling]
            session_rate = 1.5
            [rate_limit]
            burst = 10
            [buffer]
            disk_budget_bytes = 1000
            retention_hours = 99999
            [upload]
            zstd_level = 22
            interval_ms = 1
            [pii]
            custom_patterns = [
                { name = "broken", regex = "EMP-[0-9" },
                { name = "blowup", regex = "(a|b)*a(a|b){20}" },
                { name = "unicode_word", regex = "\\bfoo\\w+" },
            ]
            [[projects]]
            name = "web"
            key_sha256 = "ABC"
            [[projects]]
            name = "web"
            key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        "#;
        let found = errors(text, Format::Toml);
        let paths: Vec<&str> = found.iter().map(|e| e.split(": ").next().unwrap()).collect();
        for expected in [
            "pii.custom_patterns[0].regex",
            "pii.custom_patterns[1].regex",
            "pii.custom_patterns[2].regex",
            "sampling.session_rate",
            "rate_limit.burst",
            "projects[0].key_sha256",
            "projects[1].name",
            "buffer.disk_budget_bytes",
            "buffer.retention_hours",
            "upload.zstd_level",
            "upload.interval_ms",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {found:#?}");
        }
        assert!(found.iter().any(|e| e.contains("[1].regex: regex scans too slowly")), "{found:#?}");
        assert!(found.iter().any(|e| e.contains("[2].regex: regex scans too slowly")), "{found:#?}");
    }

    #[test]
    fn ordinary_custom_patterns_pass_the_speed_check() {
        for regex in ["EMP-[0-9]{6}", "(?i)acct[ _-]?[0-9]{8,12}", "(?-u:\\b)[A-Z]{3}[0-9]{7}(?-u:\\b)"] {
            let text = format!("[pii]\ncustom_patterns = [{{ name = \"p\", regex = '{regex}' }}]\n");
            assert_eq!(errors(&text, Format::Toml), Vec::<String>::new(), "{regex}");
        }
    }

    #[test]
    fn compliance_profiles_refuse_weaker_settings() {
        let text = "compliance = \"pci\"\n[pii]\nentities = { card = \"allow\", ip = \"allow\" }\n";
        let found = errors(text, Format::Toml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("pii.entities.card: `allow` is not permitted"), "{found:?}");
        assert!(errors("compliance = \"pci\"\n[pii]\nentities = { card = \"mask\" }\n", Format::Toml).is_empty());
        let found = errors("compliance = \"gdpr\"\n[pii]\ndefault_action = \"allow\"\n", Format::Toml);
        assert!(found[0].starts_with("pii.default_action"), "{found:?}");
        let found = errors("compliance = \"sox\"\n", Format::Toml);
        assert!(found[0].starts_with("compliance: unknown variant"), "{found:?}");
    }

    #[test]
    fn the_floor_raises_weaker_actions_and_sampling() {
        let text = r#"
            [sampling]
            session_rate = 0.1
            [pii]
            default_action = "mask"
            builtin_fields = false
            entities = { card = "allow", email = "redact" }
            fields = { comment = { action = "allow" } }
        "#;
        let policy = Policy::parse(text, Format::Toml).unwrap();
        let floor = Floor { min_pii_action: Action::Tokenize, max_sampling_drop: 0.5 };
        let (floored, raised) = policy.with_floor(&floor);
        assert_eq!(floored.pii.default_action, Action::Tokenize);
        assert_eq!(floored.pii.entities["card"], Action::Tokenize);
        assert_eq!(floored.pii.entities["email"], Action::Redact, "stronger actions stay");
        assert_eq!(floored.pii.fields["comment"].action, Some(Action::Tokenize));
        assert!(floored.pii.builtin_fields);
        assert_eq!(floored.sampling.session_rate, 0.5);
        assert_eq!(raised.len(), 5, "{raised:?}");
        let (same, none) = policy.with_floor(&Floor::default());
        assert_eq!((same, none.len()), (policy, 0));
    }

    #[test]
    fn sampling_and_cohorts_are_deterministic_and_proportional() {
        let kept = (0..10_000).filter(|i| keep_session(&format!("session-{i}"), 0.25)).count();
        assert!((2200..2800).contains(&kept), "{kept}");
        assert!(keep_session("x", 1.0) && !keep_session("x", 0.0));
        assert_eq!(keep_session("abc", 0.5), keep_session("abc", 0.5));
        let canary = (0..1000).filter(|i| in_canary(&format!("r-{i}"), 10)).count();
        assert!((60..140).contains(&canary), "{canary}");
        assert!((0..100).all(|i| !in_canary(&format!("r-{i}"), 0) && in_canary(&format!("r-{i}"), 100)));
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_schema_describes_the_types() {
        let schema = json_schema();
        let properties = &schema["properties"];
        for field in ["compliance", "pii", "sampling", "projects", "rate_limit", "features", "buffer", "upload"] {
            assert!(properties.get(field).is_some(), "{field}");
        }
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["definitions"]["PiiConfig"]["properties"]["custom_patterns"].is_object());
    }
}
