//! The ready policy documents in `policies/` parse and validate, claim the profile their name says, and the
//! committed JSON Schema is the one generated from the Rust types (regenerate with
//! `TRACEFLOW_WRITE_SCHEMA=1 cargo test -p traceflow-protocol --test policies`, or
//! `traceflow-cp policy schema > policies/policy.schema.json`).

use std::path::PathBuf;

use traceflow_protocol::policy::{json_schema, Compliance, Format, Policy};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

#[test]
fn every_ready_document_is_valid_and_claims_its_profile() {
    let expected = [
        ("default.toml", Compliance::None),
        ("bfsi-india.toml", Compliance::BfsiIndia),
        ("pci.toml", Compliance::Pci),
        ("hipaa.toml", Compliance::Hipaa),
        ("gdpr.toml", Compliance::Gdpr),
    ];
    for (name, profile) in expected {
        let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let policy = Policy::parse(&text, Format::Toml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(policy.compliance, profile, "{name}");
    }
    let default = std::fs::read_to_string(dir().join("default.toml")).unwrap();
    assert_eq!(
        Policy::parse(&default, Format::Toml).unwrap(),
        Policy::default(),
        "default.toml spells out the defaults"
    );
}

#[test]
fn the_committed_schema_is_generated_from_the_types() {
    let path = dir().join("policy.schema.json");
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    if std::env::var_os("TRACEFLOW_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "policies/policy.schema.json is out of date: run TRACEFLOW_WRITE_SCHEMA=1 cargo test -p traceflow-protocol --test policies"
    );
}
