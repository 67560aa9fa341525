//! Policies on a real `traceflow-cp` over TLS on loopback: apply, history, show, diff, rollback, refused documents,
//! canary cohorts and their automatic halt, promote and abort, the long-poll push (and its end at shutdown), the
//! audit log, and the `policy` and `audit` commands.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use traceflow_protocol::policy::{Format, Policy, SignedBundle};

const GROUP: &str = "/v1/admin/groups/default/policy";
const HALF: &str = "[sampling]\nsession_rate = 0.5\n";
const QUARTER: &str = "[sampling]\nsession_rate = 0.25\n";
const BROKEN_REGEX: &str = "[pii]\ncustom_patterns = [{ name = \"employee\", regex = \"EMP-[0-9\" }]\n";

fn hash_of(document: &str) -> String {
    Policy::parse(document, Format::detect(document)).unwrap().hash()
}

/// A check-in that reports `revision` in `state` while `active` runs, and waits up to `wait_ms`.
fn report(revision: u64, state: &str, active: u64, wait_ms: u64) -> Value {
    json!({
        "wait_ms": wait_ms,
        "policy": {"revision": revision, "hash": null, "state": state, "error": null, "active_revision": active,
                   "floored": []},
    })
}

fn applied(revision: u64, wait_ms: u64) -> Value {
    report(revision, if revision == 0 { "none" } else { "applied" }, revision, wait_ms)
}

/// The verified body of the bundle in a check-in answer, if any.
fn bundle_of(runner: &Runner, answer: &Value) -> Option<traceflow_protocol::policy::BundleBody> {
    let bundle: SignedBundle = serde_json::from_value(answer.get("policy")?.clone()).unwrap();
    let key = runner.enroll["policy_public_key"].as_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD.decode(key).unwrap();
    Some(bundle.verify(&key).expect("the bundle verifies with the enrollment's key"))
}

async fn checkin_answer(runner: &Runner, body: Value) -> Value {
    let response = runner.checkin(body).await;
    let answer = json_of(&response);
    assert_eq!(response.status, 200, "{answer}");
    answer
}

async fn apply(cp: &ControlPlane, document: &str, message: &str) -> Value {
    let (status, answer) = cp.admin("POST", GROUP, json!({"document": document, "message": message})).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

#[tokio::test]
async fn apply_history_show_diff_rollback_and_audit() {
    let cp = ControlPlane::start("policy-apply");
    let (status, rollout) = cp.admin("GET", GROUP, Value::Null).await;
    assert_eq!((status, rollout), (200, json!({"group": "default", "stable": null, "canary": null})));

    let (status, first) =
        cp.admin("POST", GROUP, json!({"document": HALF, "message": "half the sessions", "author": "ann"})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!((first["revision"].as_u64(), first["group"].as_str()), (Some(1), Some("default")));
    assert_eq!(first["hash"].as_str(), Some(hash_of(HALF).as_str()));
    assert_eq!((first["author"].as_str(), first["message"].as_str()), (Some("ann"), Some("half the sessions")));
    assert_eq!((first["source"].as_str(), first["canary_percent"].clone()), (Some("apply"), Value::Null));
    assert_eq!(first["policy"]["sampling"]["session_rate"], 0.5);
    assert!(first.get("bundle").is_none() && first["created_at_ms"].is_u64());
    let json_document = r#"{"sampling": {"session_rate": 0.25}}"#;
    let second = apply(&cp, json_document, "a quarter").await;
    assert_eq!((second["revision"].as_u64(), second["author"].as_str()), (Some(2), Some("admin")));
    assert_eq!(second["hash"].as_str(), Some(hash_of(QUARTER).as_str()), "TOML and JSON mean the same policy");

    // Refused requests change nothing.
    for (body, code) in [
        (json!({"document": HALF}), "invalid_request"),
        (json!({"document": HALF, "message": "  "}), "invalid_request"),
        (json!({"document": HALF, "message": "m", "canary": 5}), "invalid_request"),
        (json!({"document": HALF, "message": "m", "canary_percent": 100}), "invalid_request"),
        (json!({"document": HALF, "message": "m", "canary_percent": 0}), "invalid_request"),
    ] {
        let (status, answer) = cp.admin("POST", GROUP, body.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (status, answer) =
        cp.admin("POST", "/v1/admin/groups/nope/policy", json!({"document": HALF, "message": "m"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("group_not_found")));
    let (status, _) = cp.admin("DELETE", GROUP, Value::Null).await;
    assert_eq!(status, 405);

    let (status, history) = cp.admin("GET", &format!("{GROUP}/revisions"), Value::Null).await;
    assert_eq!(status, 200);
    let revisions = history["revisions"].as_array().unwrap();
    assert_eq!(revisions.iter().map(|r| r["revision"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    assert!(revisions.iter().all(|r| r.get("policy").is_none() && r.get("bundle").is_none() && r["hash"].is_string()));
    let (_, page) = cp.admin("GET", &format!("{GROUP}/revisions?limit=1"), Value::Null).await;
    assert_eq!(page["revisions"].as_array().unwrap().len(), 1);
    let (status, shown) = cp.admin("GET", &format!("{GROUP}/revisions/1"), Value::Null).await;
    assert_eq!((status, &shown), (200, &first));
    for missing in ["9", "x"] {
        let (status, answer) = cp.admin("GET", &format!("{GROUP}/revisions/{missing}"), Value::Null).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("revision_not_found")));
    }

    let (status, diff) = cp.admin("POST", &format!("{GROUP}/diff"), json!({"from": 1, "to": 2})).await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["changes"], json!([{"path": "sampling.session_rate", "old": 0.5, "new": 0.25}]));
    assert_eq!(
        (diff["from_hash"].as_str(), diff["to_hash"].as_str()),
        (first["hash"].as_str(), second["hash"].as_str())
    );
    let (_, to_default) = cp.admin("POST", &format!("{GROUP}/diff"), json!({"from": 2, "to": {"document": ""}})).await;
    assert_eq!(to_default["changes"], json!([{"path": "sampling.session_rate", "old": 0.25, "new": 1.0}]));
    let (status, answer) =
        cp.admin("POST", &format!("{GROUP}/diff"), json!({"from": 1, "to": {"document": BROKEN_REGEX}})).await;
    assert_eq!((status, answer["error"]["path"].as_str()), (400, Some("pii.custom_patterns[0].regex")));

    // Rollback: a new revision with the old content.
    let (status, rolled) =
        cp.admin("POST", &format!("{GROUP}/rollback"), json!({"revision": 1, "message": "back to half"})).await;
    assert_eq!(status, 201, "{rolled}");
    assert_eq!((rolled["revision"].as_u64(), rolled["source"].as_str()), (Some(3), Some("rollback")));
    assert_eq!((rolled["hash"].clone(), rolled["copied_from"].as_u64()), (first["hash"].clone(), Some(1)));
    let (status, answer) = cp.admin("POST", &format!("{GROUP}/rollback"), json!({"revision": 42})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("revision_not_found")));
    let (_, rollout) = cp.admin("GET", GROUP, Value::Null).await;
    assert_eq!(rollout, json!({"group": "default", "stable": 3, "canary": null}));

    // A runner gets the stable revision, signed for its tenant and group.
    let runner = cp.enroll().await;
    let answer = checkin_answer(&runner, applied(0, 0)).await;
    let body = bundle_of(&runner, &answer).expect("a bundle");
    assert_eq!((body.tenant.as_str(), body.group.as_str(), body.revision), ("default", "default", 3));
    assert_eq!(Some(body.hash.as_str()), first["hash"].as_str());
    assert_eq!(body.issued_at_ms, rolled["created_at_ms"].as_u64().unwrap());
    assert!(bundle_of(&runner, &checkin_answer(&runner, applied(3, 0)).await).is_none());

    // The audit log: who, what, when, and the diff against the stable policy before.
    let (status, audit) = cp.admin("GET", "/v1/admin/audit?limit=100", Value::Null).await;
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    let policy: Vec<&Value> = entries.iter().filter(|e| e["action"].as_str().unwrap().starts_with("policy_")).collect();
    assert_eq!(
        policy.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["policy_rollback", "policy_apply", "policy_apply"],
        "newest first"
    );
    let actor = policy[0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("admin:") && actor.len() == 22, "{actor}");
    assert_eq!(policy[0]["target"], "default");
    assert!(policy[0]["at_ms"].is_u64());
    assert_eq!(policy[0]["detail"]["revision"], 3);
    assert_eq!(policy[0]["detail"]["message"], "back to half");
    assert_eq!(policy[0]["detail"]["diff"], json!([{"path": "sampling.session_rate", "old": 0.25, "new": 0.5}]));
    assert_eq!(
        (policy[2]["detail"]["author"].as_str(), policy[2]["detail"]["hash"].as_str()),
        (Some("ann"), first["hash"].as_str())
    );
    assert_eq!(policy[2]["detail"]["diff"], json!([{"path": "sampling.session_rate", "old": 1.0, "new": 0.5}]));
    assert!(entries.iter().any(|e| e["action"] == "create_enrollment_token" && e["actor"] == actor));
    assert!(entries.iter().any(|e| e["action"] == "enroll"));
    let (status, _) = cp.admin("GET", "/v1/admin/audit?limit=0", Value::Null).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn invalid_policies_are_refused_with_the_field_path() {
    let cp = ControlPlane::start("policy-invalid");
    let (status, answer) = cp.admin("POST", GROUP, json!({"document": BROKEN_REGEX, "message": "m"})).await;
    assert_eq!(status, 400, "{answer}");
    let error = &answer["error"];
    assert_eq!(
        (error["code"].as_str(), error["path"].as_str()),
        (Some("invalid_policy"), Some("pii.custom_patterns[0].regex"))
    );
    assert!(error["message"].as_str().unwrap().starts_with("pii.custom_patterns[0].regex: "), "{error}");
    assert_eq!(error["errors"][0]["path"], "pii.custom_patterns[0].regex");

    let several = "[sampling]\nsession_rate = 2.0\n[upload]\nzstd_level = 40\n";
    let (_, answer) = cp.admin("POST", GROUP, json!({"document": several, "message": "m"})).await;
    let paths: Vec<&str> =
        answer["error"]["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["sampling.session_rate", "upload.zstd_level"]);
    assert!(answer["error"]["message"].as_str().unwrap().contains("; upload.zstd_level: "));
    let (_, answer) = cp
        .admin("POST", GROUP, json!({"document": r#"{"features": {"replay": true, "video": 1}}"#, "message": "m"}))
        .await;
    assert_eq!(
        (answer["error"]["code"].as_str(), answer["error"]["path"].as_str()),
        (Some("invalid_policy"), Some("features.video"))
    );

    // The policy endpoints read bodies far over the usual 64 KiB; documents over 4 MiB are refused.
    let big = format!("# {}\n", "x".repeat(5 << 20));
    let (status, answer) = cp.admin("POST", GROUP, json!({"document": big, "message": "m"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_policy")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("over 4194304 bytes"), "{answer}");

    let (_, history) = cp.admin("GET", &format!("{GROUP}/revisions"), Value::Null).await;
    assert_eq!(history["revisions"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_canary_reaches_exactly_its_cohort_and_a_failure_halts_it() {
    let cp = ControlPlane::start("policy-canary");
    apply(&cp, HALF, "base").await;
    // Enough runners for two on each side of a 50 % canary.
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        let runner = cp.enroll().await;
        if traceflow_protocol::policy::in_canary(&runner.id, 50) {
            inside.push(runner);
        } else {
            outside.push(runner);
        }
        if inside.len() >= 2 && outside.len() >= 2 {
            break;
        }
    }
    assert!(inside.len() >= 2 && outside.len() >= 2, "40 runners did not give two on each side");
    for runner in inside.iter().chain(&outside) {
        let answer = checkin_answer(runner, applied(0, 0)).await;
        assert_eq!(bundle_of(runner, &answer).unwrap().revision, 1);
    }

    let (status, canary) =
        cp.admin("POST", GROUP, json!({"document": QUARTER, "message": "try a quarter", "canary_percent": 50})).await;
    assert_eq!(status, 201, "{canary}");
    assert_eq!((canary["revision"].as_u64(), canary["canary_percent"].as_u64()), (Some(2), Some(50)));
    let (_, rollout) = cp.admin("GET", GROUP, Value::Null).await;
    assert_eq!(rollout["stable"], 1);
    assert_eq!(
        (rollout["canary"]["revision"].as_u64(), rollout["canary"]["status"].as_str()),
        (Some(2), Some("active"))
    );

    for runner in &inside {
        let answer = checkin_answer(runner, applied(1, 0)).await;
        assert_eq!(bundle_of(runner, &answer).map(|b| b.revision), Some(2), "cohort member {}", runner.id);
    }
    for runner in &outside {
        let answer = checkin_answer(runner, applied(1, 0)).await;
        assert!(answer.get("policy").is_none(), "{} is outside the cohort: {answer}", runner.id);
    }
    let (_, status) = cp.admin("GET", &format!("{GROUP}/status"), Value::Null).await;
    assert_eq!(status["cohorts"]["canary"]["runners"].as_u64(), Some(inside.len() as u64));
    assert_eq!(status["cohorts"]["stable"]["applied"].as_u64(), Some(outside.len() as u64));
    assert_eq!(status["cohorts"]["canary"]["pending"].as_u64(), Some(inside.len() as u64), "{status}");

    // One cohort runner fails the revision: the canary halts, and that runner is not sent it again.
    let (failing, healthy) = (&inside[0], &inside[1]);
    let mut failed = report(2, "failed", 1, 500);
    failed["policy"]["error"] =
        json!({"code": "invalid_policy", "message": "regex too slow", "path": "pii.custom_patterns[0].regex"});
    let started = Instant::now();
    let answer = checkin_answer(failing, failed.clone()).await;
    assert!(answer.get("policy").is_none(), "a failed revision is never resent: {answer}");
    assert!(started.elapsed() >= Duration::from_millis(400), "held for its wait_ms");
    let (_, rollout) = cp.admin("GET", GROUP, Value::Null).await;
    let halted = &rollout["canary"];
    assert_eq!((halted["status"].as_str(), halted["halted_by"].as_str()), (Some("halted"), Some(failing.id.as_str())));
    assert_eq!(halted["halted_error"]["path"], "pii.custom_patterns[0].regex");
    let answer = checkin_answer(healthy, applied(1, 0)).await;
    assert!(answer.get("policy").is_none(), "a halted canary is pushed no further: {answer}");

    let (status, refused) = cp.admin("POST", &format!("{GROUP}/promote"), Value::Null).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("canary_halted")));
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&failing.id) && message.contains("regex too slow"), "{message}");
    let (_, status) = cp.admin("GET", &format!("{GROUP}/status"), Value::Null).await;
    assert_eq!(status["canary"]["status"], "halted");
    assert_eq!(status["cohorts"]["canary"]["failed"], 1, "{status}");
    let row = status["runners"].as_array().unwrap().iter().find(|r| r["runner_id"] == failing.id.as_str()).unwrap();
    assert_eq!(
        (row["cohort"].as_str(), row["state"].as_str(), row["target_revision"].as_u64()),
        (Some("canary"), Some("failed"), Some(2))
    );
    assert_eq!((row["revision"].as_u64(), row["active_revision"].as_u64()), (Some(2), Some(1)));
    let (_, audit) = cp.admin("GET", "/v1/admin/audit", Value::Null).await;
    let halt = &audit["entries"][0];
    assert_eq!(
        (halt["action"].as_str(), halt["actor"].as_str()),
        (Some("policy_canary_halted"), Some(format!("runner:{}", failing.id).as_str()))
    );
    assert_eq!(halt["detail"]["revision"], 2);

    // Abort: a new revision with the stable content moves the cohort forward to it.
    let (status, aborted) = cp.admin("POST", &format!("{GROUP}/abort"), Value::Null).await;
    assert_eq!(status, 201, "{aborted}");
    assert_eq!(
        (aborted["revision"].as_u64(), aborted["source"].as_str(), aborted["copied_from"].as_u64()),
        (Some(3), Some("abort"), Some(1))
    );
    assert_eq!(aborted["hash"].as_str(), Some(hash_of(HALF).as_str()));
    let answer = checkin_answer(failing, failed).await;
    assert_eq!(bundle_of(failing, &answer).map(|b| b.revision), Some(3));
    let answer = checkin_answer(outside.first().unwrap(), applied(1, 0)).await;
    assert_eq!(bundle_of(&outside[0], &answer).map(|b| b.revision), Some(3));
    for action in ["promote", "abort"] {
        let (status, answer) = cp.admin("POST", &format!("{GROUP}/{action}"), Value::Null).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("no_canary")), "{action}");
    }

    // A healthy canary is promoted: everyone gets it.
    cp.admin("POST", GROUP, json!({"document": QUARTER, "message": "again", "canary_percent": 50})).await;
    let (status, promoted) = cp.admin("POST", &format!("{GROUP}/promote"), json!({"message": "looks good"})).await;
    assert_eq!((status, promoted), (200, json!({"group": "default", "stable": 4, "canary": null})));
    let answer = checkin_answer(&outside[1], applied(1, 0)).await;
    assert_eq!(bundle_of(&outside[1], &answer).map(|b| b.revision), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_checkins_return_on_apply_and_at_shutdown() {
    let mut cp = ControlPlane::start_with("policy-poll", &["--poll-after-ms", "200", "--poll-timeout", "10m"]);
    let runner = Arc::new(cp.enroll().await);
    // Nothing newer: held for wait_ms, then answered without a policy.
    let started = Instant::now();
    let answer = checkin_answer(&runner, applied(0, 300)).await;
    assert_eq!(answer, json!({"poll_after_ms": 200}));
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Held for up to ten minutes: an answer within the test's 30 s is the push, not the end of the wait.
    let held = {
        let runner = runner.clone();
        tokio::spawn(async move { checkin_answer(&runner, applied(0, 600_000)).await })
    };
    cp.wait_metric("traceflow_cp_checkins_waiting", |n| n == 1.0).await;
    assert!(!held.is_finished(), "the check-in is held");
    apply(&cp, HALF, "push me").await;
    let answer =
        tokio::time::timeout(Duration::from_secs(30), held).await.expect("the apply answers the held check-in");
    let answer = answer.unwrap();
    assert_eq!(bundle_of(&runner, &answer).map(|b| b.revision), Some(1));
    assert_eq!(answer["poll_after_ms"], 200);

    // Shutdown ends held check-ins at once, with an ordinary answer.
    let held = {
        let runner = runner.clone();
        tokio::spawn(async move { checkin_answer(&runner, applied(1, 600_000)).await })
    };
    cp.wait_metric("traceflow_cp_checkins_waiting", |n| n == 1.0).await;
    let metrics =
        cp.call("GET", "/metrics", &[("authorization", &format!("Bearer {}", cp.admin_token))], Value::Null).await;
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(metrics.contains("traceflow_cp_checkins_waiting 1\n"), "{metrics}");
    assert!(metrics.contains("traceflow_cp_policy_pushes_total 1\n"), "{metrics}");
    let code = tokio::task::spawn_blocking(move || cp.terminate()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), held).await.expect("shutdown answers held check-ins");
    assert_eq!(answer.unwrap(), json!({"poll_after_ms": 200}));
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn policy_and_audit_commands() {
    let cp = ControlPlane::start("policy-cli");
    let ca_path = cp.dir.join("ca.pem");
    let run = |args: &[&str]| {
        cp_command()
            .args(args)
            .env("TRACEFLOW_ADMIN_URL", &cp.url)
            .env("TRACEFLOW_ADMIN_TOKEN", &cp.admin_token)
            .env("TRACEFLOW_CA", &ca_path)
            .output()
            .unwrap()
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let errors = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let half = cp.dir.join("half.toml");
    let quarter = cp.dir.join("quarter.json");
    let broken = cp.dir.join("broken.toml");
    std::fs::write(&half, HALF).unwrap();
    std::fs::write(&quarter, r#"{"sampling": {"session_rate": 0.25}}"#).unwrap();
    std::fs::write(&broken, BROKEN_REGEX).unwrap();
    let (half, quarter, broken) = (half.to_str().unwrap(), quarter.to_str().unwrap(), broken.to_str().unwrap());

    // Local commands need no control plane.
    let ok = cp_command().args(["policy", "validate", half]).output().unwrap();
    assert!(ok.status.success());
    assert_eq!(text(&ok).trim(), format!("ok {}", hash_of(HALF)));
    let bad = cp_command().args(["policy", "validate", broken]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(errors(&bad).starts_with("pii.custom_patterns[0].regex: "), "{}", errors(&bad));
    let schema = cp_command().args(["policy", "schema"]).output().unwrap();
    let schema: Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema["properties"]["sampling"].is_object());

    let out = run(&["policy", "apply", half, "-m", "half", "--author", "ann", "--json"]);
    assert!(out.status.success(), "{}", errors(&out));
    let first: Value = serde_json::from_str(&text(&out)).unwrap();
    assert_eq!((first["revision"].as_u64(), first["author"].as_str()), (Some(1), Some("ann")));
    let out = run(&["policy", "apply", quarter, "--group", "default", "-m", "quarter"]);
    assert!(text(&out).starts_with("revision 2 of group default (sha256:"), "{}", text(&out));
    let out = run(&["policy", "apply", broken, "-m", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(errors(&out).starts_with("error: 400 invalid_policy: pii.custom_patterns[0].regex: "), "{}", errors(&out));

    let out = run(&["policy", "history"]);
    let lines: Vec<String> = text(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[1].trim_start().starts_with("2 ") && lines[1].ends_with("quarter"), "{lines:?}");
    let out = run(&["policy", "show", "1"]);
    assert!(text(&out).starts_with("revision  1\n"), "{}", text(&out));
    assert!(text(&out).contains("\"session_rate\": 0.5"));
    let shown: Value = serde_json::from_str(&text(&run(&["policy", "show", "1", "--json"]))).unwrap();
    assert_eq!(shown, first);

    let out = run(&["policy", "diff", half]);
    assert_eq!(
        text(&out),
        format!(
            "--- revision 2 (stable) ({})\n+++ {half} ({})\n~ sampling.session_rate: 0.25 -> 0.5\n",
            hash_of(QUARTER),
            hash_of(HALF)
        )
    );
    let out = run(&["policy", "diff", "1", "2", "--json"]);
    let diff: Value = serde_json::from_str(&text(&out)).unwrap();
    assert_eq!(diff["changes"], json!([{"path": "sampling.session_rate", "old": 0.25, "new": 0.5}]));
    let out = run(&["policy", "diff", "no-such-file"]);
    assert_eq!(out.status.code(), Some(1));

    let out = run(&["policy", "rollback", "1", "-m", "back", "--json"]);
    let rolled: Value = serde_json::from_str(&text(&out)).unwrap();
    assert_eq!((rolled["revision"].as_u64(), rolled["hash"].clone()), (Some(3), first["hash"].clone()));
    let out = run(&["policy", "promote"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(errors(&out).starts_with("error: 409 no_canary: "), "{}", errors(&out));
    let out = run(&["policy", "apply", quarter, "-m", "try", "--canary", "10"]);
    assert!(text(&out).contains("canary for 10% of the runners"), "{}", text(&out));
    let out = run(&["policy", "apply", quarter, "-m", "try", "--canary", "100"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses it");

    let runner = cp.enroll().await;
    checkin_answer(&runner, applied(3, 0)).await;
    let status: Value = serde_json::from_str(&text(&run(&["policy", "status", "--json"]))).unwrap();
    assert_eq!((status["stable"].as_u64(), status["canary"]["revision"].as_u64()), (Some(3), Some(4)));
    let row = &status["runners"][0];
    assert_eq!((row["runner_id"].as_str(), row["active_revision"].as_u64()), (Some(runner.id.as_str()), Some(3)));
    let table = text(&run(&["policy", "status"]));
    assert!(table.starts_with("group default: stable revision 3, canary revision 4 for 10% (active)\n"), "{table}");
    assert!(table.contains(&runner.id));
    let out = run(&["policy", "abort", "-m", "not now"]);
    assert!(text(&out).starts_with("revision 5 of group default"), "{}", text(&out));

    let audit: Value = serde_json::from_str(&text(&run(&["audit", "list", "--json"]))).unwrap();
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], ["policy_abort", "enroll", "create_enrollment_token"]);
    let table = text(&run(&["audit", "list", "--limit", "20"]));
    assert!(table.contains("policy_rollback") && table.contains("~ sampling.session_rate: 0.25 -> 0.5"), "{table}");
}
