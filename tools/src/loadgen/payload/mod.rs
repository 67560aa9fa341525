//! Realistic synthetic SDK batches for the load generator.
//!
//! `traceflow-bench loadgen` only measures something useful if its traffic costs the daemon what real SDK traffic
//! costs: the size and nesting of rrweb snapshots, the mix of incremental events and, above all, how much PII
//! the redaction stage has to find and where it hides. So the batches built here imitate the web SDK recording
//! a form-heavy banking/checkout page, plus analytics-only batches as a backend SDK sends them.
//!
//! Everything is a pure function of the `fastrand::Rng` passed in and of the session id (which fixes the
//! session's device and user, so all batches of a session agree without the caller carrying that state). A
//! seeded run therefore replays byte-identical traffic. All PII is synthetic: names come from fixed lists, phone
//! numbers use fictional ranges where one exists, card numbers are random apart from a correct Luhn digit and
//! IBANs carry correct mod-97 check digits, so detectors that validate checksums still fire.

mod analytics;
mod dom;
mod forms;
mod incremental;
mod page;
mod people;

use fastrand::Rng;
use serde_json::{json, Value};

use analytics::*;
use dom::*;
use forms::*;
use incremental::*;
use page::*;
use people::*;

/// Kinds of batch an SDK sends during a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchKind {
    /// The first batch of a page: rrweb Meta + FullSnapshot and a pageview.
    FullSnapshot,
    /// Later web SDK batches: incremental rrweb events and a few analytics events.
    Incremental,
    /// Backend SDK batches: analytics events only.
    Analytics,
}

/// A recorded page: ids of the interactive nodes of its full snapshot, so later incremental events refer to real
/// node ids.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    /// URL of the page, repeated in every batch's `context.url`.
    pub url: String,
    /// Ids of `<input>`, `<textarea>` and `<select>` nodes: targets of rrweb Input events.
    pub input_ids: Vec<u64>,
    /// Ids of text nodes (not style or script text): targets of text mutations.
    pub text_ids: Vec<u64>,
    /// Ids of block containers (`div`, `form`, `section`, ...): parents for added nodes, mouse targets.
    pub container_ids: Vec<u64>,
    /// Next unused node id; mutations that add nodes take their ids from here.
    pub next_id: u64,
}

/// First batch of a session: Meta + FullSnapshot of a form-heavy page (the serialized JSON of the whole batch must
/// be between 100 KB and 300 KB; target ~120-250 KB, varying with rng), plus a pageview event.
pub(crate) fn full_snapshot_batch(
    rng: &mut fastrand::Rng,
    session_id: &str,
    visitor_id: &str,
    seq: u64,
    ts_ms: u64,
) -> (Value, Page) {
    let person = session_person(session_id);
    let (_, width, height) = session_device(session_id);
    let url = page_url(rng, &person);
    let mut page = Page { url, input_ids: Vec::new(), text_ids: Vec::new(), container_ids: Vec::new(), next_id: 1 };
    let mut doc = document(rng, &person, ts_ms);
    assign_ids(&mut doc, Role::Other, &mut page, true);

    // The SDK takes the snapshot a few ms after Meta, once the DOM walk is done.
    let snapshot_ts = ts_ms + rng.u64(3..40);
    let meta = json!({"href": page.url, "width": width, "height": height});
    let snapshot = object([("node", doc), ("initialOffset", json!({"left": 0, "top": 0}))]);
    let replay = vec![replay_event(4, meta, ts_ms), replay_event(2, snapshot, snapshot_ts)];
    let events = vec![analytics_event(rng, EventKind::Pageview, ts_ms, &person, &page.url)];
    let sent_at = snapshot_ts + rng.u64(50..800);
    let context = web_context(session_id, &page.url);
    (envelope(session_id, visitor_id, seq, sent_at, context, events, Some(replay)), page)
}

/// A later batch: 20-80 incremental rrweb events (mouse moves with several positions, scrolls, inputs into
/// `page.input_ids`, mutations that add nodes with new ids from `page.next_id` (updated) and change
/// texts/attributes) plus 1-5 analytics events (click, scroll, input, custom, sometimes error/network).
/// Serialized size typically 5-40 KB.
pub(crate) fn incremental_batch(
    rng: &mut fastrand::Rng,
    page: &mut Page,
    session_id: &str,
    visitor_id: &str,
    seq: u64,
    ts_ms: u64,
) -> Value {
    let person = session_person(session_id);
    let target = rng.usize(20..=80);
    let mut replay = Vec::with_capacity(target);
    let mut toasts = Vec::new();
    let mut t = ts_ms;
    while replay.len() < target {
        t += rng.u64(15..700);
        match rng.u8(0..100) {
            0..=29 => replay.push(incremental(mouse_move(rng, page), t)),
            30..=41 => replay.push(incremental(mouse_interaction(rng, page), t)),
            42..=54 => replay.push(incremental(scroll(rng, page), t)),
            55..=76 => typing(rng, page, &person, &mut t, target - replay.len(), &mut replay),
            77..=93 => replay.push(incremental(mutation(rng, page, &person, &mut toasts), t)),
            94..=96 => replay.push(incremental(viewport_resize(rng), t)),
            _ => replay.push(custom_replay_event(rng, &person, t)),
        }
    }

    let mut events = Vec::new();
    let mut event_ts = ts_ms;
    for _ in 0..rng.usize(1..=5) {
        event_ts += rng.u64(200..4_000);
        let kind = match rng.u8(0..20) {
            0..=5 => EventKind::Click,
            6..=9 => EventKind::Scroll,
            10..=13 => EventKind::Input,
            14..=16 => EventKind::Custom,
            17..=18 => EventKind::Network,
            _ => EventKind::Error,
        };
        events.push(analytics_event(rng, kind, event_ts, &person, &page.url));
    }
    let sent_at = t.max(event_ts) + rng.u64(20..400);
    let context = web_context(session_id, &page.url);
    envelope(session_id, visitor_id, seq, sent_at, context, events, Some(replay))
}

/// An analytics-only batch (no "replay" key): 5-30 events of all types, each about a different user, like a
/// backend SDK flushing its queue.
pub(crate) fn analytics_batch(
    rng: &mut fastrand::Rng,
    session_id: &str,
    visitor_id: &str,
    seq: u64,
    ts_ms: u64,
) -> Value {
    let endpoint = format!("https://api.northwind-bank.in/v2/{}", pick(rng, BACKEND_ROUTES));
    let mut events = Vec::new();
    let mut t = ts_ms;
    for _ in 0..rng.usize(5..=30) {
        t += rng.u64(1..2_000);
        let kind = EVENT_KINDS[rng.usize(..EVENT_KINDS.len())];
        let person = Person::random(rng);
        let url = page_url(rng, &person);
        events.push(analytics_event(rng, kind, t, &person, &url));
    }
    let context = json!({"url": endpoint, "user_agent": SERVER_USER_AGENT, "screen": "0x0", "sdk": SERVER_SDK});
    envelope(session_id, visitor_id, seq, t + rng.u64(5..200), context, events, None)
}

// ---------------------------------------------------------------------------------------------------------------
// Batch envelope and per-session constants
// ---------------------------------------------------------------------------------------------------------------

const WEB_SDK: &str = "traceflow-web/0.1";
const SERVER_SDK: &str = "traceflow-node/0.1";
const SERVER_USER_AGENT: &str = "traceflow-node/0.1 node/20.18.0 linux x64";
const BACKEND_ROUTES: &[&str] = &["events", "orders/webhook", "kyc/callback", "payments/notify", "auth/login"];

/// Browser user agent with the viewport that goes with it, so a phone UA never reports a desktop screen.
const DEVICES: [(&str, u32, u32); 6] = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 1920, 1080),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", 1440, 900),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 1366, 768),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", 390, 844),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", 412, 915),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 1536, 864),
];

/// FNV-1a of the session id: lets every batch of a session agree on device and user without the caller having
/// to carry that state from batch to batch.
fn session_hash(session_id: &str) -> u64 {
    session_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn session_device(session_id: &str) -> (&'static str, u32, u32) {
    DEVICES[(session_hash(session_id) % DEVICES.len() as u64) as usize]
}

/// The signed-in user of a session. Seeded from the session id rather than drawn from the caller's rng, so the
/// same person shows up in the snapshot and in every later batch of the session.
fn session_person(session_id: &str) -> Person {
    Person::random(&mut Rng::with_seed(session_hash(session_id).rotate_left(29)))
}

fn web_context(session_id: &str, url: &str) -> Value {
    let (user_agent, width, height) = session_device(session_id);
    json!({"url": url, "user_agent": user_agent, "screen": format!("{width}x{height}"), "sdk": WEB_SDK})
}

fn envelope(
    session_id: &str,
    visitor_id: &str,
    seq: u64,
    sent_at: u64,
    context: Value,
    events: Vec<Value>,
    replay: Option<Vec<Value>>,
) -> Value {
    let mut batch = object([
        ("session_id", session_id.into()),
        ("visitor_id", visitor_id.into()),
        ("seq", seq.into()),
        ("sent_at", sent_at.into()),
        ("context", context),
        ("events", Value::Array(events)),
    ]);
    if let (Some(replay), Some(fields)) = (replay, batch.as_object_mut()) {
        fields.insert("replay".to_owned(), Value::Array(replay));
    }
    batch
}

/// Builds an object by moving the values in. `json!` would serialize (deep-copy) every interpolated `Value`,
/// which for a snapshot tree means copying it once per nesting level.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
}

fn replay_event(kind: u64, data: Value, ts: u64) -> Value {
    object([("type", kind.into()), ("data", data), ("timestamp", ts.into())])
}

fn incremental(data: Value, ts: u64) -> Value {
    replay_event(3, data, ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const TS: u64 = 1_732_265_000_000;
    const ALLOWED: [&str; 7] = ["pageview", "click", "scroll", "input", "error", "network", "custom"];

    /// Luhn in its other textbook form (check digit = 9 x weighted payload sum, mod 10), so the test does not
    /// just repeat the implementation under test.
    fn luhn_valid(number: &str) -> bool {
        let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
        let Some((&check, payload)) = digits.split_last() else { return false };
        let doubled: u32 = payload.iter().rev().step_by(2).map(|&d| d * 2 / 10 + d * 2 % 10).sum();
        let plain: u32 = payload.iter().rev().skip(1).step_by(2).sum();
        payload.len() >= 11 && (doubled + plain) * 9 % 10 == check
    }

    fn collect_ids(node: &Value, ids: &mut Vec<u64>) {
        if let Some(id) = node.get("id").and_then(Value::as_u64) {
            ids.push(id);
        }
        if let Some(children) = node.get("childNodes").and_then(Value::as_array) {
            for child in children {
                collect_ids(child, ids);
            }
        }
    }

    fn snapshot_node(batch: &Value) -> &Value {
        &batch["replay"][1]["data"]["node"]
    }

    fn check_events(batch: &Value) {
        let events = batch["events"].as_array().expect("events array");
        for event in events {
            let kind = event["type"].as_str().expect("string type");
            assert!(ALLOWED.contains(&kind), "unexpected event type {kind}");
            assert!(event["ts"].is_u64(), "ts must be an integer: {event}");
        }
    }

    #[test]
    fn full_snapshot_size_in_range() {
        for seed in 0..20 {
            let mut rng = Rng::with_seed(seed);
            let (batch, _) = full_snapshot_batch(&mut rng, &format!("sess-{seed}"), "visitor-1", 0, TS);
            let size = batch.to_string().len();
            assert!((100_000..=300_000).contains(&size), "seed {seed}: {size} bytes");
        }
    }

    #[test]
    fn snapshot_node_ids_are_unique_and_recorded() {
        for seed in 0..5 {
            let mut rng = Rng::with_seed(seed);
            let (batch, page) = full_snapshot_batch(&mut rng, "sess-a", "visitor-a", 0, TS);
            assert_eq!(batch["replay"][0]["type"], 4);
            assert_eq!(batch["replay"][1]["type"], 2);
            let root = snapshot_node(&batch);
            assert_eq!(root["id"], 1);
            let mut ids = Vec::new();
            collect_ids(root, &mut ids);
            let unique: HashSet<u64> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len(), "duplicate node ids");
            assert_eq!(page.next_id, ids.len() as u64 + 1);
            assert!(!page.input_ids.is_empty() && !page.text_ids.is_empty() && !page.container_ids.is_empty());
            for id in page.input_ids.iter().chain(&page.text_ids).chain(&page.container_ids) {
                assert!(unique.contains(id), "page refers to unknown id {id}");
            }
        }
    }

    #[test]
    fn analytics_events_use_contract_types_and_integer_ts() {
        for seed in 0..20 {
            let mut rng = Rng::with_seed(seed);
            let (full, mut page) = full_snapshot_batch(&mut rng, "sess-b", "visitor-b", 0, TS);
            check_events(&full);
            let inc = incremental_batch(&mut rng, &mut page, "sess-b", "visitor-b", 1, TS + 5_000);
            check_events(&inc);
            let analytics = analytics_batch(&mut rng, "sess-c", "visitor-c", 0, TS);
            check_events(&analytics);
            let count = analytics["events"].as_array().map_or(0, Vec::len);
            assert!((5..=30).contains(&count));
            assert!(analytics.get("replay").is_none());
        }
    }

    #[test]
    fn incremental_events_target_recorded_nodes() {
        let mut rng = Rng::with_seed(7);
        let (full, mut page) = full_snapshot_batch(&mut rng, "sess-d", "visitor-d", 0, TS);
        let mut ids = Vec::new();
        collect_ids(snapshot_node(&full), &mut ids);
        let mut known: HashSet<u64> = ids.into_iter().collect();
        for seq in 1..30 {
            let first_new = page.next_id;
            let batch = incremental_batch(&mut rng, &mut page, "sess-d", "visitor-d", seq, TS + seq * 10_000);
            let replay = batch["replay"].as_array().expect("replay array");
            assert!((20..=80).contains(&replay.len()));
            let events = batch["events"].as_array().map_or(0, Vec::len);
            assert!((1..=5).contains(&events));
            for event in replay {
                let data = &event["data"];
                if event["type"] != 3 {
                    continue;
                }
                if data["source"] == 5 {
                    let id = data["id"].as_u64().expect("input id");
                    assert!(page.input_ids.contains(&id), "input into unknown node {id}");
                }
                if data["source"] == 0 {
                    for add in data["adds"].as_array().expect("adds") {
                        let id = add["node"]["id"].as_u64().expect("added id");
                        assert!(id >= first_new && id < page.next_id, "added id {id} not freshly allocated");
                        assert!(known.insert(id), "added id {id} reused");
                    }
                }
            }
        }
    }

    #[test]
    fn generated_cards_are_luhn_valid() {
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        let mut rng = Rng::with_seed(42);
        for _ in 0..1_000 {
            let card = card_number(&mut rng);
            assert!(luhn_valid(&card), "{card} fails Luhn");
        }
    }

    #[test]
    fn ibans_have_valid_check_digits() {
        assert_eq!(iban_check_digits("DE", "370400440532013000"), 89);
        assert_eq!(iban_check_digits("GB", "NWBK60161331926819"), 29);
    }

    #[test]
    fn datetime_matches_epoch() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(TS), "2024-11-22 08:43:20");
    }

    #[test]
    fn same_seed_same_batches() {
        let build = || {
            let mut rng = Rng::with_seed(99);
            let (full, mut page) = full_snapshot_batch(&mut rng, "sess-e", "visitor-e", 0, TS);
            let inc = incremental_batch(&mut rng, &mut page, "sess-e", "visitor-e", 1, TS + 1_000);
            (full.to_string(), inc.to_string(), analytics_batch(&mut rng, "sess-e", "v", 2, TS).to_string())
        };
        assert_eq!(build(), build());
    }
}
