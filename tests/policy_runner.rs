//! The runner's side of signed policies, against a scripted control plane that signs what the tests ask for:
//! bundles are verified with the key pinned at enrollment (tampered, foreign-key, replayed and misdirected ones
//! are refused and reported with their error, the active policy staying in force), the last-known-good policy
//! survives a restart without any control plane, and every policy field changes what the runner does.

mod common;

use common::fake_cp::{new_key, with_project, FakeCp, GROUP, UPLOAD};
use common::{batch, Runner, TempDir, KEY};
use traceflow_protocol::policy::keep_session;
use traceflow_protocol::Codec;

const OTHER_KEY: &str = "policy-project-key-2";

fn post_as(runner: &Runner, key: &str, body: &[u8]) -> common::Response {
    runner.post(body, &[("authorization", &format!("Bearer {key}"))])
}

fn started(tag: &str, extra: &str) -> (TempDir, std::sync::Arc<FakeCp>, Runner) {
    let dir = TempDir::new(tag);
    let fake = FakeCp::start();
    let data = dir.path().join("runner");
    fake.enroll(&data);
    let runner = Runner::start(&data, &format!("{UPLOAD}{extra}"));
    (dir, fake, runner)
}

#[test]
fn bundles_are_verified_and_bad_ones_refused_with_the_active_policy_kept() {
    let (_dir, fake, runner) = started("policy-verify", "");
    let first = fake.push_and_wait(fake.bundle(1, &with_project(OTHER_KEY, "")), 1);
    assert_eq!((first["state"].as_str(), first["active_revision"].as_u64()), (Some("applied"), Some(1)), "{first}");
    assert_eq!(runner.get("/readyz").json()["policy"]["revision"], 1);
    assert_eq!(runner.metric("traceflow_runner_policy_revision"), 1.0);

    let refused = |report: serde_json::Value, code: &str| {
        assert_eq!(report["state"], "failed", "{report}");
        assert_eq!(report["error"]["code"], code, "{report}");
        assert_eq!(report["active_revision"], 1, "the active policy stays: {report}");
        assert_eq!(post_as(&runner, OTHER_KEY, &batch("still-r1", 1, 1)).status, 202, "revision 1 still rules");
    };
    // Tampered: the signed text changed after signing.
    let mut tampered = fake.bundle(2, &with_project(OTHER_KEY, "[sampling]\nsession_rate = 1.0"));
    tampered.bundle = tampered.bundle.replace("\"session_rate\":1.0", "\"session_rate\":0.0");
    refused(fake.push_and_wait(tampered, 2), "bad_signature");
    // Signed by a key this runner never pinned.
    let foreign = fake.bundle_with(3, &with_project(OTHER_KEY, ""), GROUP, &new_key());
    refused(fake.push_and_wait(foreign, 3), "bad_signature");
    // A replay of an older (or the same) revision, validly signed.
    refused(fake.push_and_wait(fake.bundle(1, &with_project(KEY, "")), 1), "replayed_revision");
    // Meant for another group.
    refused(fake.push_and_wait(fake.bundle_with(4, &with_project(KEY, ""), "other", &fake.key), 4), "wrong_target");

    let next = fake.push_and_wait(fake.bundle(5, &with_project(KEY, "")), 5);
    assert_eq!(next["state"], "applied", "{next}");
    assert_eq!(post_as(&runner, KEY, &batch("r5", 1, 1)).status, 202);
    assert_eq!(post_as(&runner, OTHER_KEY, &batch("r5", 2, 1)).status, 401);
    assert_eq!(runner.metric("traceflow_runner_policy_applies_total{outcome=\"failed\"}"), 4.0);
    assert_eq!(runner.stop().code(), Some(0));
}

#[test]
fn an_unreadable_checkin_answer_is_counted_and_reported_as_a_failed_state() {
    let (_dir, fake, runner) = started("policy-bad-answer", "");
    let first = fake.push_and_wait(fake.bundle(1, &with_project(KEY, "")), 1);
    assert_eq!(first["state"], "applied", "{first}");
    let seen = fake.reports_seen();
    fake.bad_answers.store(1, std::sync::atomic::Ordering::SeqCst);
    let failed = fake.wait_report(seen, |r| r["state"] == "failed");
    assert_eq!(failed["error"]["code"], "bad_checkin_answer", "{failed}");
    assert_eq!(failed["active_revision"], 1, "the active policy stays: {failed}");
    assert!(runner.metric("traceflow_runner_checkin_bad_answers_total") >= 1.0);
    assert_eq!(post_as(&runner, KEY, &batch("after-bad-answer", 1, 1)).status, 202);
    // The next readable answer clears it, and policies still arrive.
    let next = fake.push_and_wait(fake.bundle(2, &with_project(KEY, "")), 2);
    assert_eq!(next["state"], "applied", "{next}");
    assert_eq!(runner.stop().code(), Some(0));
}

#[test]
fn restarts_without_a_control_plane_on_the_last_known_good_policy() {
    let (_dir, fake, runner) = started("policy-lkg", "");
    fake.push_and_wait(fake.bundle(7, &with_project(OTHER_KEY, "")), 7);
    let data = runner.data_dir.clone();
    assert_eq!(runner.stop().code(), Some(0));

    // The control plane is unreachable from now on.
    let offline = format!("{UPLOAD}control_plane_url = \"https://127.0.0.1:9\"\n");
    let runner = Runner::start(&data, &offline);
    assert_eq!(runner.get("/readyz").json()["policy"]["revision"], 7);
    assert_eq!(post_as(&runner, OTHER_KEY, &batch("offline", 1, 2)).status, 202, "the policy's key works");
    assert_eq!(post_as(&runner, KEY, &batch("offline", 2, 2)).status, 401, "the local key was replaced");
    assert_eq!(runner.stop().code(), Some(0));
}

#[test]
fn keys_sampling_limits_and_features_follow_the_policy() {
    let (_dir, fake, runner) = started("policy-fields", "");
    // Sampling: half the sessions, chosen by the session id's hash.
    fake.push_and_wait(fake.bundle(1, &with_project(KEY, "[sampling]\nsession_rate = 0.5")), 1);
    let kept = (0..100).map(|i| format!("s-{i}")).find(|s| keep_session(s, 0.5)).unwrap();
    let dropped = (0..100).map(|i| format!("s-{i}")).find(|s| !keep_session(s, 0.5)).unwrap();
    let answer = runner.post(&batch(&dropped, 1, 3), &[]);
    assert_eq!(
        (answer.status, answer.json()["accepted"].as_u64(), answer.json()["filtered"].as_u64()),
        (202, Some(0), Some(4))
    );
    let answer = runner.post(&batch(&kept, 1, 3), &[]);
    assert_eq!((answer.status, answer.json()["accepted"].as_u64()), (202, Some(4)));
    assert_eq!(runner.metric("traceflow_runner_events_total{outcome=\"filtered\"}"), 4.0);
    fake.wait_record(&kept);
    assert!(fake.records().iter().all(|r| r.meta.session_id != dropped), "a sampled-out session was stored");

    // Rate limit: a bucket of 5 events, then 429 with Retry-After; then a daily quota.
    fake.push_and_wait(fake.bundle(2, &with_project(KEY, "[rate_limit]\nevents_per_second = 1\nburst = 5")), 2);
    assert_eq!(runner.post(&batch("rl", 1, 4), &[]).status, 202);
    let limited = runner.post(&batch("rl", 2, 4), &[]);
    assert_eq!((limited.status, limited.code().as_str()), (429, "rate_limited"));
    assert!(limited.header("retry-after").is_some());
    fake.push_and_wait(fake.bundle(3, &with_project(KEY, "[rate_limit]\ndaily_quota_events = 100")), 3);
    assert_eq!(runner.post(&batch("quota", 1, 60), &[]).status, 202);
    let over = runner.post(&batch("quota", 2, 60), &[]);
    assert_eq!((over.status, over.code().as_str()), (429, "quota_exceeded"));

    // Features: replay off drops the replay array (counted), analytics events stay.
    fake.push_and_wait(fake.bundle(4, &with_project(KEY, "[features]\nreplay = false")), 4);
    let answer = runner.post(&batch("no-replay", 1, 2), &[]);
    assert_eq!((answer.json()["accepted"].as_u64(), answer.json()["filtered"].as_u64()), (Some(2), Some(1)));
    let (record, json) = fake.wait_record("no-replay");
    assert!(json.get("replay").is_none(), "{json}");
    assert_eq!((record.meta.events, record.meta.replay), (2, 0));

    // Disk budget (capped by the configuration) and upload compression.
    let text = "[buffer]\ndisk_budget_bytes = 33554432\n[upload]\ncompression = \"lz4\"";
    fake.push_and_wait(fake.bundle(5, &with_project(KEY, text)), 5);
    assert_eq!(runner.metric("traceflow_runner_buffer_disk_budget_bytes"), 33554432.0);
    assert_eq!(runner.post(&batch("lz4", 1, 2), &[]).status, 202);
    assert_eq!(fake.wait_record("lz4").0.codec, Codec::Lz4);
    fake.push_and_wait(fake.bundle(6, &with_project(KEY, "[upload]\ncompression = \"none\"")), 6);
    assert_eq!(runner.post(&batch("plain", 1, 2), &[]).status, 202);
    assert_eq!(fake.wait_record("plain").0.codec, Codec::None);
    assert_eq!(runner.stop().code(), Some(0));
}

#[test]
fn pii_rules_come_from_the_policy_within_the_local_floor() {
    let (_dir, fake, runner) =
        started("policy-pii", "[floor]\nmin_pii_action = \"tokenize\"\nmax_sampling_drop = 0.5\n");
    let event = |session: &str| {
        serde_json::to_vec(&serde_json::json!({
            "session_id": session, "seq": 1,
            "events": [{"type": "custom", "ts": 1732265000000u64,
                "note": "mail jane.doe@example.com about EMP-123456 from 10.1.2.3"}]
        }))
        .unwrap()
    };
    let policy = r#"
        [sampling]
        session_rate = 0.0
        [pii]
        entities = { email = "redact", ip = "allow" }
        custom_patterns = [{ name = "employee_id", regex = "EMP-[0-9]{6}" }]
    "#;
    let report = fake.push_and_wait(fake.bundle(1, &with_project(KEY, policy)), 1);
    let floored: Vec<&str> = report["floored"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(floored, ["pii.entities.ip", "sampling.session_rate"], "{report}");

    let kept = (0..100).map(|i| format!("p-{i}")).find(|s| keep_session(s, 0.5)).unwrap();
    assert_eq!(runner.post(&event(&kept), &[]).status, 202);
    let (_, json) = fake.wait_record(&kept);
    let note = json["events"][0]["note"].as_str().unwrap().to_string();
    assert!(note.contains("[redacted:email]"), "{note}");
    assert!(note.contains("tok_employee_id_") && !note.contains("EMP-123456"), "{note}");
    assert!(note.contains("tok_ip_") && !note.contains("10.1.2.3"), "the floor keeps IPs tokenized: {note}");
    assert_eq!(runner.stop().code(), Some(0));
}
