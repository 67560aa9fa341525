//! Signed policies end to end with real processes: `traceflow-cp policy …` against a real control plane, real
//! runners enrolled to it and long-polling. An applied revision is pushed to every runner of the group and drives
//! it (their check-ins are held for five minutes, so only the push can bring it within a test's deadline); invalid documents are refused with the field path; rollback publishes the old content as a
//! new revision; a canary reaches exactly its cohort, promotion reaches everyone, and a canary runner that
//! cannot apply the revision (its pinned key no longer matches) halts the rollout.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::cp::ControlPlane;
use common::{batch, binary, Runner, TempDir};
use traceflow_protocol::policy::fnv1a64;

const UPLOAD: &str = "[upload]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\nstatus_interval_secs = 300\n";
/// Far below the check-ins' five minutes: a revision seen within it was pushed.
const PUSHED_WITHIN: Duration = Duration::from_secs(30);
const OTHER_KEY: &str = "policy-project-key-2";

fn sha256_hex(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

fn policy_cli(cp: &ControlPlane, args: &[&str]) -> Output {
    Command::new(binary("traceflow-cp"))
        .arg("policy")
        .args(args)
        .env("TRACEFLOW_ADMIN_URL", cp.url())
        .env("TRACEFLOW_ADMIN_TOKEN", &cp.admin_token)
        .env("TRACEFLOW_CA", cp.ca_path())
        .output()
        .expect("run traceflow-cp policy")
}

fn policy_json(cp: &ControlPlane, args: &[&str]) -> serde_json::Value {
    let out = policy_cli(cp, args);
    assert!(out.status.success(), "policy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("policy {args:?} --json: {e}"))
}

fn write_policy(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write policy");
    path.display().to_string()
}

fn revision_of(runner: &Runner) -> u64 {
    runner.get("/readyz").json()["policy"]["revision"].as_u64().unwrap_or(0)
}

/// Waits until every runner runs `revision`; returns how long it took.
fn wait_revision(runners: &[&Runner], revision: u64, within: Duration) -> Duration {
    let started = Instant::now();
    while runners.iter().any(|r| revision_of(r) != revision) {
        let seen: Vec<u64> = runners.iter().map(|r| revision_of(r)).collect();
        assert!(started.elapsed() < within, "runners at {seen:?}, not {revision} after {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

fn start_runners(cp: &ControlPlane, dir: &TempDir, count: usize) -> Vec<Runner> {
    (0..count)
        .map(|i| {
            let data = dir.path().join(format!("runner-{i}"));
            cp.enroll(&data);
            Runner::start(&data, UPLOAD)
        })
        .collect()
}

fn runner_id(runner: &Runner) -> String {
    let info = std::fs::read_to_string(runner.data_dir.join("identity/runner.json")).expect("runner.json");
    serde_json::from_str::<serde_json::Value>(&info).expect("json")["runner_id"].as_str().expect("id").to_string()
}

/// The canary bucket of a runner (`in_canary` is `bucket < percent`).
fn bucket(runner: &Runner) -> u64 {
    fnv1a64(format!("canary:{}", runner_id(runner)).as_bytes()) % 100
}

#[test]
fn applied_revisions_are_pushed_to_runners_and_rollback_publishes_old_content() {
    let dir = TempDir::new("policy-e2e");
    let cp = ControlPlane::start(&dir.path().join("cp"), &["--poll-timeout", "10m"]);
    let runners = start_runners(&cp, &dir, 2);
    let all: Vec<&Runner> = runners.iter().collect();
    // Both are long-polling before the change.
    common::wait_until("both runners long-polling", PUSHED_WITHIN, || {
        cp.metric("traceflow_cp_checkins_waiting") >= 2.0
    });

    let first = write_policy(
        dir.path(),
        "keys.toml",
        &format!("[[projects]]\nname = \"web\"\nkey_sha256 = \"{}\"\n", sha256_hex(OTHER_KEY)),
    );
    let applied = Instant::now();
    let revision = policy_json(&cp, &["apply", &first, "--group", "default", "-m", "policy keys", "--json"]);
    assert_eq!(revision["revision"], 1, "{revision}");
    let took = wait_revision(&all, 1, PUSHED_WITHIN);
    eprintln!(
        "revision 1 on both runners {:?} after the apply command started ({took:?} after it returned)",
        applied.elapsed()
    );
    for runner in &runners {
        let header = [("authorization", format!("Bearer {OTHER_KEY}"))];
        let refs: Vec<(&str, &str)> = header.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(runner.post(&batch("k", 1, 1), &refs).status, 202);
        assert_eq!(runner.post(&batch("k", 2, 1), &[]).status, 401, "the local key is no longer accepted");
    }

    // An invalid document is refused by the control plane with the field path; nothing is published.
    let invalid = write_policy(dir.path(), "bad.toml", "[[pii.custom_patterns]]\nname = \"x\"\nregex = \"EMP-[0-9\"\n");
    let out = policy_cli(&cp, &["apply", &invalid, "--group", "default", "-m", "broken"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_policy") && stderr.contains("pii.custom_patterns[0].regex"), "{stderr}");

    let second = write_policy(dir.path(), "local.toml", "[sampling]\nsession_rate = 1.0\n[features]\nreplay = false\n");
    policy_json(&cp, &["apply", &second, "--group", "default", "-m", "back to local keys", "--json"]);
    wait_revision(&all, 2, PUSHED_WITHIN);
    assert_eq!(runners[0].post(&batch("local", 1, 1), &[]).status, 202);

    let rollback = policy_json(&cp, &["rollback", "1", "--group", "default", "-m", "undo", "--json"]);
    assert_eq!(
        (rollback["revision"].as_u64(), rollback["hash"].clone()),
        (Some(3), revision["hash"].clone()),
        "{rollback}"
    );
    wait_revision(&all, 3, PUSHED_WITHIN);
    assert_eq!(runners[1].post(&batch("rolled", 1, 1), &[]).status, 401, "revision 1's keys are back");

    let history = policy_json(&cp, &["history", "--group", "default", "--json"]);
    let revisions: Vec<u64> =
        history["revisions"].as_array().expect("revisions").iter().filter_map(|r| r["revision"].as_u64()).collect();
    assert_eq!(revisions, [3, 2, 1], "{history}");

    // Status shows each runner on the revision it applied.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = policy_json(&cp, &["status", "--group", "default", "--json"]);
        let rows = status["runners"].as_array().cloned().unwrap_or_default();
        if rows.len() == 2 && rows.iter().all(|r| r["revision"] == 3 && r["state"] == "applied") {
            break;
        }
        assert!(Instant::now() < deadline, "status never showed both runners applied: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for runner in runners {
        assert_eq!(runner.stop().code(), Some(0));
    }
}

#[test]
fn a_canary_reaches_exactly_its_cohort_and_a_failing_canary_runner_halts_it() {
    let dir = TempDir::new("policy-canary");
    let cp = ControlPlane::start(&dir.path().join("cp"), &["--poll-timeout", "10m"]);
    let mut runners = start_runners(&cp, &dir, 4);
    runners.sort_by_key(bucket);
    let (low, high) = (bucket(&runners[0]), bucket(&runners[3]));
    assert!(low < high, "four runner ids in one bucket");
    // The cohort is every runner whose bucket is below the percent: here at least the first, never the last.
    let percent = low + 1;
    let cohort: Vec<bool> = runners.iter().map(|r| bucket(r) < percent).collect();
    common::wait_until("the four runners long-polling", PUSHED_WITHIN, || {
        cp.metric("traceflow_cp_checkins_waiting") >= 4.0
    });

    let file = write_policy(dir.path(), "canary.toml", "[features]\nconsole_logs = false\n");
    let canary = policy_json(
        &cp,
        &["apply", &file, "--group", "default", "-m", "canary", "--canary", &percent.to_string(), "--json"],
    );
    let revision = canary["revision"].as_u64().expect("revision");
    let members: Vec<&Runner> = runners.iter().zip(&cohort).filter(|(_, c)| **c).map(|(r, _)| r).collect();
    wait_revision(&members, revision, PUSHED_WITHIN);
    // Every held check-in was looked at when the canary was applied: the bundles sent are the cohort's alone.
    common::wait_until("the canary's pushes", PUSHED_WITHIN, || {
        cp.metric("traceflow_cp_policy_pushes_total") >= members.len() as f64
    });
    assert_eq!(cp.metric("traceflow_cp_policy_pushes_total"), members.len() as f64, "pushed outside the cohort");
    for (runner, member) in runners.iter().zip(&cohort) {
        assert_eq!(revision_of(runner), if *member { revision } else { 0 }, "cohort {cohort:?}");
    }
    let status = policy_json(&cp, &["status", "--group", "default", "--json"]);
    assert_eq!(status["canary"]["revision"], revision, "{status}");

    policy_json(&cp, &["promote", "--group", "default", "--json"]);
    wait_revision(&runners.iter().collect::<Vec<_>>(), revision, PUSHED_WITHIN);

    // Inject a failure: the first runner (always in the next cohort) pins a key that is not the control plane's.
    let broken = runners.remove(0);
    let data = broken.data_dir.clone();
    assert_eq!(broken.stop().code(), Some(0));
    let info_path = data.join("identity/runner.json");
    let mut info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&info_path).unwrap()).unwrap();
    info["policy_public_key"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    std::fs::write(&info_path, serde_json::to_vec(&info).unwrap()).unwrap();
    let broken = Runner::start(&data, UPLOAD);
    assert_eq!(revision_of(&broken), 0, "its last-known-good no longer verifies either");

    let next = write_policy(dir.path(), "next.toml", "[features]\nconsole_logs = false\nnetwork_capture = false\n");
    let halted = policy_json(
        &cp,
        &["apply", &next, "--group", "default", "-m", "second canary", "--canary", &percent.to_string(), "--json"],
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let status = policy_json(&cp, &["status", "--group", "default", "--json"]);
        if status["canary"]["status"] == "halted" {
            break status;
        }
        assert!(Instant::now() < deadline, "the canary was not halted: {status}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["canary"]["revision"], halted["revision"], "{status}");
    let out = policy_cli(&cp, &["promote", "--group", "default"]);
    assert!(!out.status.success(), "a halted canary cannot be promoted");
    assert!(String::from_utf8_lossy(&out.stderr).contains("canary_halted"));
    // Runners outside the cohort never got the halted revision.
    for runner in runners.iter().zip(&cohort[1..]).filter(|(_, c)| !**c).map(|(r, _)| r) {
        assert_eq!(revision_of(runner), revision);
    }
    assert_eq!(broken.stop().code(), Some(0));
    for runner in runners {
        assert_eq!(runner.stop().code(), Some(0));
    }
}
