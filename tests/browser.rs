//! A real browser sends a real rrweb recording to a real runner: Debian's Chromium (headless, driven by
//! playwright-core from `tests/browser/`) types PII key by key into a bank form, with and without hints, and the
//! page echoes the customer's name into an error message. What the runner stored holds no typed value and no
//! recoverable prefix of one (at most 4 digits of a number), and the page's script, served from an IP-addressed
//! host, keeps its URL (as does the page's own address) so the replay can load it.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/run` does all three). Elsewhere the test
//! says what is missing and checks nothing; under `CI=true` that is a failure.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Runner, TempDir, KEY};

/// Every string in `value`.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Longest run of digits in `text`, single spaces and dashes between them ignored; tokens (whose base32 has
/// digits) are left out.
fn longest_digit_run(text: &str) -> usize {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.contains("tok_") && !w.contains("hash_")).collect();
    let text = words.join(" ");
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        if c.is_ascii_digit() {
            run += 1;
            best = best.max(run);
        } else if c != ' ' && c != '-' {
            run = 0;
        }
    }
    best
}

/// Says what a browser test lacks (a failure under `CI=true`); false, so the test checks nothing.
fn missing(what: &str) -> bool {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{what}, but CI must have it");
    eprintln!("{what}: nothing checked");
    false
}

/// `tests/browser`, when Chromium, node and the npm packages the browser tests need are there.
fn browser_dir() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = (Path::new("/usr/bin/chromium").exists() || missing("no /usr/bin/chromium"))
        && (dir.join("node_modules/playwright-core").exists() || missing("tests/browser has no node_modules"))
        && (Command::new("node").arg("--version").output().is_ok() || missing("no node"));
    ready.then_some(dir)
}

#[test]
fn keystrokes_in_chromium_leave_no_value_or_prefix_in_the_buffer() {
    let Some(browser_dir) = browser_dir() else { return };
    let dir = TempDir::new("browser");
    let data = dir.path().join("data");
    let runner = Runner::start(&data, "");
    let out = Command::new("node")
        .arg(browser_dir.join("keystrokes.mjs"))
        .env("TRACEFLOW_RUNNER", format!("http://{}", runner.addr))
        .env("TRACEFLOW_KEY", KEY)
        .output()
        .expect("run node");
    assert!(out.status.success(), "the browser run failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the browser run's report");
    let inputs = report["inputEvents"].as_u64().unwrap();
    assert!(inputs > 60, "rrweb recorded {inputs} input events: keystrokes were not recorded one by one");
    assert_eq!(runner.stop().code(), Some(0));

    let stored = common::dumped(&data);
    assert_eq!(stored.len(), 1, "one batch");
    // The session id and other ids carry timestamps; what was typed and shown lives in the replay.
    let mut texts = Vec::new();
    strings(&stored[0]["batch"]["replay"], &mut texts);
    let typed = &report["typed"];
    for text in &texts {
        // Port numbers in the page's URLs are not typed values.
        if !text.starts_with("http") {
            assert!(longest_digit_run(text) <= 4, "more than 4 digits of a number raw: {text:?}");
        }
        for value in typed.as_object().unwrap().values() {
            let value = value.as_str().unwrap();
            assert!(!text.contains(value), "a typed value is stored raw: {text:?}");
        }
        assert!(!text.contains("@example.co"), "an address being typed is stored: {text:?}");
        assert!(!text.contains("Raghavan"), "the customer's name is stored: {text:?}");
    }
    let asset = report["asset"].as_str().unwrap();
    let near: Vec<&String> = texts.iter().filter(|t| t.contains("app.css") || t.contains("127.0.0")).collect();
    assert!(texts.iter().any(|t| t == asset), "the script URL {asset} on an IP host was changed: {near:?}");
    let page = report["page"].as_str().unwrap();
    assert!(texts.iter().any(|t| t == page), "the page URL {page} was changed: {near:?}");
    assert!(texts.iter().any(|t| t.contains("Payment failed for")), "the error message was recorded");
}

/// The web SDK, loaded from the runner with one script tag in a real browser: a bank form with ten kinds of PII
/// typed key by key, a click, a scroll, a script error and a page unload (the last batch by beacon). The runner
/// stored pageviews, clicks, the error and the recording, no typed value anywhere, and the stored recording
/// replays in rrweb's Replayer to the form with its text and no raw value.
#[test]
fn the_web_sdk_served_by_the_runner_records_a_form_and_nothing_raw_is_stored() {
    let Some(browser_dir) = browser_dir() else { return };
    let dir = TempDir::new("browser-sdk");
    let data = dir.path().join("data");
    let runner = Runner::start(&data, "");
    let out = Command::new("node")
        .arg(browser_dir.join("sdk.mjs"))
        .arg("record")
        .env("TRACEFLOW_RUNNER", format!("http://{}", runner.addr))
        .env("TRACEFLOW_KEY", KEY)
        .output()
        .expect("run node");
    assert!(out.status.success(), "the browser run failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the browser run's report");
    assert_eq!(report["failures"], serde_json::json!([]), "the runner refused SDK requests");
    assert_eq!(runner.stop().code(), Some(0));

    let stored = common::dumped(&data);
    assert!(!stored.is_empty(), "the SDK's batches were stored");
    let batches: Vec<&serde_json::Value> = stored.iter().map(|s| &s["batch"]).collect();
    let sessions: std::collections::HashSet<&str> = batches.iter().map(|b| b["session_id"].as_str().unwrap()).collect();
    assert_eq!(sessions.len(), 1, "one session: {sessions:?}");
    let events: Vec<&serde_json::Value> = batches.iter().flat_map(|b| b["events"].as_array().unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in ["pageview", "click", "error"] {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
    assert!(batches.iter().all(|b| b["context"]["sdk"] == "traceflow-web/0.1.0"));
    // Nothing typed is stored, in any form: not the value (a short one as a word of its own: "737" is also part of
    // many timestamps), not its digits without spaces.
    let all = serde_json::to_string(&batches).unwrap();
    let mut texts = Vec::new();
    strings(&serde_json::Value::Array(batches.iter().map(|b| (*b).clone()).collect()), &mut texts);
    for value in report["typed"].as_object().unwrap().values() {
        let value = value.as_str().unwrap();
        if value.len() < 6 {
            let word = |t: &str| t.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == value);
            let found: Vec<&String> = texts.iter().filter(|t| word(t)).collect();
            assert!(found.is_empty(), "a typed value is stored raw: {value} in {found:?}");
            continue;
        }
        assert!(!all.contains(value), "a typed value is stored raw: {value}");
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 6 {
            assert!(!all.contains(&digits), "the digits of a typed value are stored: {digits}");
        }
    }
    assert!(!all.contains("Raghavan"), "the customer's name is stored");
    // The recording, in order, replays to the form.
    let mut replay: Vec<serde_json::Value> =
        batches.iter().flat_map(|b| b["replay"].as_array().unwrap().iter().cloned()).collect();
    replay.sort_by_key(|e| e["timestamp"].as_u64().unwrap_or(0));
    assert!(replay.iter().any(|e| e["type"] == 2), "a full snapshot was recorded");
    let file = dir.path().join("replay.json");
    std::fs::write(&file, serde_json::to_vec(&replay).unwrap()).unwrap();
    let out = Command::new("node").arg(browser_dir.join("sdk.mjs")).arg("replay").arg(&file).output().expect("node");
    assert!(out.status.success(), "the replay failed: {}", String::from_utf8_lossy(&out.stderr));
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the replay's report");
    let text = replayed["text"].as_str().unwrap();
    for label in ["Open a savings account", "Mobile number", "Date of birth", "Terms and conditions apply."] {
        assert!(text.contains(label), "the replayed page lost {label:?}: {text}");
    }
    assert!(text.contains("Thank you, tok_name_"), "the status message, its name tokenized: {text}");
    let inputs = replayed["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 10, "the form's inputs: {inputs:?}");
    for input in inputs {
        let value = input["value"].as_str().unwrap();
        for typed in report["typed"].as_object().unwrap().values() {
            assert_ne!(value, typed.as_str().unwrap(), "a raw value in the replayed form");
        }
    }
    let errors: Vec<&str> = replayed["errors"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(errors.iter().all(|e| !e.contains("rrweb")), "rrweb replay errors: {errors:?}");
}

/// The SDK follows the runner's active signed policy, read at every page load: a session the policy samples out
/// sends nothing at all (no rrweb either), and with `replay = false` the next page load sends its events without
/// recording anything.
#[test]
fn the_web_sdk_follows_the_policy_sampled_out_sends_nothing_and_replay_off_records_nothing() {
    use common::fake_cp::{with_project, FakeCp, UPLOAD};
    let Some(browser_dir) = browser_dir() else { return };
    let dir = TempDir::new("browser-policy");
    let fake = FakeCp::start();
    let data = dir.path().join("runner");
    fake.enroll(&data);
    let runner = Runner::start(&data, UPLOAD);
    let visit = || -> serde_json::Value {
        let out = Command::new("node")
            .arg(browser_dir.join("sdk.mjs"))
            .arg("visit")
            .env("TRACEFLOW_RUNNER", format!("http://{}", runner.addr))
            .env("TRACEFLOW_KEY", KEY)
            .output()
            .expect("run node");
        assert!(out.status.success(), "the browser run failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("the browser run's report")
    };

    fake.push_and_wait(fake.bundle(1, &with_project(KEY, "[sampling]\nsession_rate = 0.0")), 1);
    let sampled_out = visit();
    assert_eq!(sampled_out["configs"], 1, "the SDK read the policy");
    assert_eq!(sampled_out["batches"], serde_json::json!([]), "a sampled-out session sent batches");

    fake.push_and_wait(fake.bundle(2, &with_project(KEY, "[features]\nreplay = false")), 2);
    let no_replay = visit();
    let batches = no_replay["batches"].as_array().unwrap();
    assert!(!batches.is_empty(), "events are still sent");
    let kinds: Vec<&str> =
        batches.iter().flat_map(|b| b["events"].as_array().unwrap()).filter_map(|e| e.as_str()).collect();
    assert!(kinds.contains(&"pageview") && kinds.contains(&"click"), "{kinds:?}");
    assert!(batches.iter().all(|b| b["replay"] == 0), "rrweb recorded with replay off: {batches:?}");

    // The same visit under a policy that allows replay does record (so the zero above is the policy's doing).
    fake.push_and_wait(fake.bundle(3, &with_project(KEY, "")), 3);
    let recorded = visit();
    let replayed: u64 = recorded["batches"].as_array().unwrap().iter().map(|b| b["replay"].as_u64().unwrap()).sum();
    assert!(replayed > 0, "no rrweb events with replay on: {recorded}");
    assert_eq!(runner.stop().code(), Some(0));
}
