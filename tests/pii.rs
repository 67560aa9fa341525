//! End to end through the running binary: planted PII canaries are tokenized before anything is persisted.
//! They appear nowhere in the data dir (buffer stored uncompressed here, so a byte search is meaningful) nor in
//! the logs, except encrypted in the vault; `vault detokenize` brings each one back; the replay recording keeps
//! its structure (node ids, tags, CSS) so it still replays.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{binary, dumped, Runner, TempDir};

const EMAIL: &str = "canary.alice.7731@example.org";
const CARD: &str = "4111 1111 1111 1111";
const PHONE: &str = "+91 98765 43210";
const IBAN: &str = "DE89370400440532013000";
const PASSWORD: &str = "hunter2-Canary!";
const SSN: &str = "536-22-8145";
/// Typed into the password field in a later batch than the snapshot that says it is one; no pattern finds it.
const TYPED_LATER: &str = "correct horse Canary staple";

fn canaries() -> [&'static str; 7] {
    [EMAIL, CARD, PHONE, IBAN, PASSWORD, SSN, TYPED_LATER]
}

/// A batch with analytics events and an rrweb full snapshot of a form, carrying every canary.
fn batch_with_canaries() -> serde_json::Value {
    let node = |id: u64, tag: &str, attributes: serde_json::Value, children: serde_json::Value| serde_json::json!({"type": 2, "id": id, "tagName": tag, "attributes": attributes, "childNodes": children});
    let text = |id: u64, text: &str| serde_json::json!({"type": 3, "id": id, "textContent": text});
    let style = serde_json::json!({"type": 3, "id": 5, "textContent": "input[type=password]{border:1px solid #4111} .card-number{color:red}", "isStyle": true});
    let snapshot = serde_json::json!({"type": 0, "id": 1, "childNodes": [
        node(2, "html", serde_json::json!({}), serde_json::json!([
            node(3, "head", serde_json::json!({}), serde_json::json!([node(4, "style", serde_json::json!({}), serde_json::json!([style]))])),
            node(6, "body", serde_json::json!({"class": "checkout"}), serde_json::json!([
                node(7, "p", serde_json::json!({}), serde_json::json!([text(8, &format!("Contact {EMAIL} or call {PHONE}"))])),
                node(9, "input", serde_json::json!({"type": "text", "name": "iban", "value": IBAN}), serde_json::json!([])),
                node(10, "input", serde_json::json!({"type": "password", "name": "pwd", "value": PASSWORD}), serde_json::json!([])),
                node(11, "input", serde_json::json!({"type": "text", "placeholder": "Card", "value": CARD}), serde_json::json!([])),
            ])),
        ])),
    ]});
    serde_json::json!({
        "session_id": "pii-e2e", "visitor_id": "v-1", "seq": 1, "sent_at": 1732265000000u64,
        "context": {"url": "https://bank.test/apply", "user_agent": "Mozilla/5.0", "sdk": "traceflow-web/0.1"},
        "events": [
            {"type": "custom", "ts": 1732265000000u64, "name": "signup", "props": {"email": EMAIL, "ssn": SSN}},
            {"type": "input", "ts": 1732265000100u64, "field": "card", "value": CARD}
        ],
        "replay": [
            {"type": 4, "data": {"href": "https://bank.test/apply", "width": 1280, "height": 720}, "timestamp": 1732265000000u64},
            {"type": 2, "data": {"node": snapshot, "initialOffset": {"left": 0, "top": 0}}, "timestamp": 1732265000001u64},
            {"type": 3, "data": {"source": 5, "id": 9, "text": IBAN, "isChecked": false}, "timestamp": 1732265000200u64}
        ]
    })
}

/// The session's next batch: what is typed into the password field (node 10) after the snapshot's batch.
fn typing_batch() -> serde_json::Value {
    serde_json::json!({
        "session_id": "pii-e2e", "visitor_id": "v-1", "seq": 2, "sent_at": 1732265002000u64,
        "replay": [
            {"type": 3, "data": {"source": 5, "id": 10, "text": TYPED_LATER, "isChecked": false}, "timestamp": 1732265001000u64}
        ]
    })
}

/// Starts a runner on a random port with `extra` appended to its config, its logs written to a file in `dir`;
/// returns it with its data dir and log path.
fn start_logging(dir: &TempDir, extra: &str) -> (Runner, PathBuf, PathBuf) {
    let data = dir.path().join("runner");
    let log = dir.path().join("runner.log");
    let config = dir.path().join("runner.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nproject_keys = [\"{}\"]\n{extra}",
        data.display().to_string(),
        common::KEY
    );
    std::fs::write(&config, text).unwrap();
    (Runner::start_logging(&config, &data, &log), data, log)
}

fn first_dumped(data: &Path) -> serde_json::Value {
    dumped(data).swap_remove(0)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Node ids, tags and style text of an rrweb node tree, to compare structure.
fn shape(node: &serde_json::Value, out: &mut Vec<String>) {
    let style = if node["isStyle"] == true { node["textContent"].to_string() } else { String::new() };
    out.push(format!("{}:{}:{}:{style}", node["id"], node["type"], node["tagName"]));
    for child in node["childNodes"].as_array().into_iter().flatten() {
        shape(child, out);
    }
}

#[test]
fn canaries_are_tokenized_before_anything_is_stored_and_detokenize_locally() {
    let dir = TempDir::new("pii");
    let (runner, data, log) = start_logging(&dir, "[buffer]\ncompression = \"none\"\n[log]\nlevel = \"debug\"\n");
    let sent = batch_with_canaries();
    let response = runner.post(&serde_json::to_vec(&sent).unwrap(), &[]);
    assert_eq!(response.status, 202, "{}", response.text());
    let response = runner.post(&serde_json::to_vec(&typing_batch()).unwrap(), &[]);
    assert_eq!(response.status, 202, "{}", response.text());
    // An invalid batch whose error would quote a canary.
    let bad = format!(r#"{{"session_id":"pii-e2e","seq":"{EMAIL}","events":[]}}"#);
    let refused = runner.post(bad.as_bytes(), &[]);
    assert_eq!(refused.status, 400);
    assert!(!contains(&refused.body, EMAIL), "error answer leaks: {}", refused.text());
    let metrics = runner.get("/metrics").body;
    assert_eq!(runner.stop().code(), Some(0));

    // Nothing raw in any file of the data dir, in the logs or in the metrics.
    assert!(std::fs::metadata(&log).unwrap().len() > 0, "the runner logged at debug level");
    let mut all = Vec::new();
    files(&data, &mut all);
    all.push(log.clone());
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        for canary in canaries() {
            assert!(!contains(&bytes, canary), "{canary} found in {}", path.display());
        }
    }
    for canary in canaries() {
        assert!(!contains(&metrics, canary));
    }

    // The stored batches carry tokens where the canaries were, and the same structure.
    let lines = dumped(&data);
    assert_eq!(lines.len(), 2);
    let stored = &lines[0]["batch"];
    let text = format!("{stored} {}", lines[1]["batch"]);
    let tokens: BTreeSet<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| traceflow_pii::is_token(word))
        .map(str::to_string)
        .collect();
    assert!(tokens.len() >= canaries().len(), "tokens found: {tokens:?} in {text}");
    let (mut before, mut after) = (Vec::new(), Vec::new());
    shape(&sent["replay"][1]["data"]["node"], &mut before);
    shape(&stored["replay"][1]["data"]["node"], &mut after);
    assert_eq!(before, after, "the replay keeps node ids, tags and CSS");
    assert_eq!(stored["replay"][2]["data"]["id"], 9);
    assert_eq!(stored["events"][0]["ts"], 1732265000000u64);

    // Each token comes back through the local, audited vault CLI.
    let mut recovered = BTreeSet::new();
    for token in &tokens {
        let out = Command::new(binary("traceflow-runner"))
            .args(["vault", "detokenize", token, "--data-dir"])
            .arg(&data)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "detokenize {token}");
        recovered.insert(String::from_utf8(out.stdout).unwrap().trim_end().to_string());
    }
    for canary in canaries() {
        assert!(
            recovered.iter().any(|original| original.contains(canary)),
            "{canary} not recovered; got {recovered:?}"
        );
    }
    let audit = std::fs::read(data.join("vault-audit.log")).unwrap();
    assert_eq!(audit.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), tokens.len());
    for canary in canaries() {
        assert!(!contains(&audit, canary), "the audit log never holds originals");
    }
}

/// Tokenization is off only when the operator says every action is `allow`: the runner then stores batches as
/// sent (the benchmark's `--pii off`) and says so in its log at startup.
#[test]
fn an_allow_everything_configuration_stores_batches_as_sent_and_warns() {
    let dir = TempDir::new("pii-off");
    let (runner, data, log) = start_logging(&dir, "[log]\nlevel = \"warn\"\n[pii]\ndefault_action = \"allow\"\n");
    let sent = serde_json::to_vec(&batch_with_canaries()).unwrap();
    assert_eq!(runner.post(&sent, &[]).status, 202);
    let scanned = runner.get("/metrics").text();
    assert!(scanned.contains("\ntraceflow_runner_pii_strings_scanned_total 0\n"), "nothing was scanned: {scanned}");
    assert_eq!(runner.stop().code(), Some(0));
    let line = first_dumped(&data);
    assert_eq!(line["batch"], batch_with_canaries(), "stored as sent");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("without tokenization"), "{logged}");
}
