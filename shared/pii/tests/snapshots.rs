//! Snapshots of scrubbed batches: what the engine writes (shown as pretty JSON) for hand-written rrweb recordings and
//! analytics events (a checkout form's full snapshot, mutations, typing into sensitive fields in a later batch,
//! console and network payloads, custom events). They pin the engine's output while its code is reorganised; a
//! change in them is a change in what reaches the buffer, and is reviewed as such (`cargo insta review`).

mod support;

use serde_json::{json, Value};
use support::TestTokens;
use traceflow_pii::{Engine, ReplayNodes};

/// Scrubs `batches` of one session in order, as the runner does, and shows each output as pretty JSON.
fn scrub_session(batches: &[Value]) -> String {
    let engine = Engine::default();
    let mut nodes = ReplayNodes::default();
    let mut tokens = TestTokens::default();
    let mut shown = String::new();
    for (index, batch) in batches.iter().enumerate() {
        let mut out = Vec::new();
        engine.scrub_session_json(&serde_json::to_vec(batch).unwrap(), &mut nodes, &mut tokens, &mut out).unwrap();
        let value: Value = serde_json::from_slice(&out).expect("scrubbed output is JSON");
        shown.push_str(&format!("--- batch {}\n{}\n", index + 1, serde_json::to_string_pretty(&value).unwrap()));
    }
    shown
}

fn element(id: u64, tag: &str, attributes: Value, children: Vec<Value>) -> Value {
    json!({"type": 2, "id": id, "tagName": tag, "attributes": attributes, "childNodes": children})
}

fn text(id: u64, content: &str) -> Value {
    json!({"type": 3, "id": id, "textContent": content})
}

/// A checkout page: a full snapshot with a form, then typing into its fields in the session's next batch.
#[test]
fn checkout_form_snapshot_then_typing() {
    let form = element(
        10,
        "form",
        json!({"action": "/checkout?email=asha.rao@example.in", "method": "post"}),
        vec![
            element(11, "input", json!({"type": "email", "name": "email", "value": "asha.rao@example.in"}), vec![]),
            element(12, "input", json!({"type": "password", "name": "pw", "value": "hunter2-Secret!"}), vec![]),
            element(
                13,
                "input",
                json!({"type": "text", "autocomplete": "cc-number", "placeholder": "1234 5678 9012 3456"}),
                vec![],
            ),
            element(14, "input", json!({"type": "tel", "name": "phone", "value": "+91 98765 43210"}), vec![]),
            element(15, "label", json!({"for": "pan"}), vec![text(16, "PAN: ABCPR1234K")]),
        ],
    );
    let page = element(
        2,
        "html",
        json!({}),
        vec![
            element(3, "head", json!({}), vec![element(4, "style", json!({}), vec![text(5, ".card{color:#123456}")])]),
            element(
                6,
                "body",
                json!({"data-user": "asha.rao@example.in", "class": "checkout"}),
                vec![
                    element(7, "h1", json!({}), vec![text(8, "Hello Asha Rao, call us on 022 2345 6789")]),
                    element(9, "a", json!({"href": "mailto:help@example.com"}), vec![text(17, "help@example.com")]),
                    form,
                ],
            ),
        ],
    );
    let first = json!({
        "session_id": "snap-1", "seq": 1,
        "context": {"url": "https://shop.example.in/checkout?token=eyJhbGciOiJIUzI1NiJ9.e30.abc", "user_agent": "Mozilla/5.0"},
        "replay": [
            {"type": 4, "timestamp": 1, "data": {"href": "https://shop.example.in/checkout?email=asha.rao@example.in", "width": 1280, "height": 720}},
            {"type": 2, "timestamp": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": [page]}, "initialOffset": {"top": 0, "left": 0}}}
        ]
    });
    let second = json!({
        "session_id": "snap-1", "seq": 2,
        "replay": [
            {"type": 3, "timestamp": 3, "data": {"source": 5, "id": 12, "text": "correct horse battery", "isChecked": false}},
            {"type": 3, "timestamp": 4, "data": {"source": 5, "id": 13, "text": "4111 1111 1111 1111", "isChecked": false}},
            {"type": 3, "timestamp": 5, "data": {"source": 5, "id": 14, "text": "+91 91234 56789", "isChecked": false}},
            {"type": 3, "timestamp": 6, "data": {"source": 0, "texts": [{"id": 8, "value": "Welcome back, ravi.k@example.org"}],
                "attributes": [{"id": 6, "attributes": {"data-user": "ravi.k@example.org", "class": "checkout done"}}],
                "removes": [], "adds": [{"parentId": 6, "nextId": null, "node": {"type": 3, "id": 18, "textContent": "Order for Aadhaar 2345 6789 0124 confirmed"}}]}},
            {"type": 3, "timestamp": 7, "data": {"source": 2, "type": 2, "id": 11, "x": 10, "y": 20}}
        ]
    });
    insta::assert_snapshot!(scrub_session(&[first, second]));
}

/// Analytics events, console and network recordings and a custom event carrying PII in values and URLs.
#[test]
fn events_console_network_and_custom_payloads() {
    let batch = json!({
        "session_id": "snap-2", "seq": 1, "visitor_id": "v-123",
        "context": {"url": "https://bank.example.com/profile", "screen": "1920x1080", "sdk": "traceflow-web/0.1"},
        "events": [
            {"type": "pageview", "ts": 1, "url": "https://bank.example.com/profile?user=jane.doe@example.com&tab=2"},
            {"type": "click", "ts": 2, "selector": "#pay", "text": "Pay to IBAN GB82 WEST 1234 5698 7654 32"},
            {"type": "error", "ts": 3, "message": "Card 5555 5555 5555 4444 declined for jane.doe@example.com", "stack": "at pay (app.js:10:5)"},
            {"type": "network", "ts": 4, "method": "POST", "url": "https://api.example.com/v1/users/jane.doe@example.com?api_key=sk_live_abcdef123456", "status": 200},
            {"type": "custom", "ts": 5, "name": "signup", "props": {"email": "jane.doe@example.com", "ssn": "078-05-1120", "plan": "gold", "ip": "203.0.113.7"}}
        ],
        "replay": [
            {"type": 6, "timestamp": 6, "data": {"plugin": "rrweb/console@1", "payload": {"level": "log", "payload": ["\"user jane.doe@example.com logged in from 198.51.100.23\""], "trace": ["app.js:1:1"]}}},
            {"type": 5, "timestamp": 7, "data": {"tag": "identify", "payload": {"name": "Jane Doe", "phone": "+1 415 555 0132", "company": "Example Inc"}}}
        ]
    });
    insta::assert_snapshot!(scrub_session(&[batch]));
}
