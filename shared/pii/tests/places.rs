//! PII where real pages put it: URLs (RFC 3986: path segments, percent-encoded queries, `mailto:`/`tel:`, userinfo,
//! fragments, URLs encoded inside URLs), rrweb plugin events in the formats rrweb's console plugin and posthog-js's
//! network plugin write, JSON serialized into strings, and every entity at the edges of a sentence.

mod support;

use serde_json::{json, Value};
use support::TestTokens;
use traceflow_pii::{checksum, Engine, Entity, PiiConfig};

fn engine() -> Engine {
    Engine::new(&PiiConfig::default()).unwrap()
}

fn scrub(engine: &Engine, value: &Value) -> Value {
    let mut out = Vec::new();
    engine.scrub_json(&serde_json::to_vec(value).unwrap(), &mut TestTokens::default(), &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn entities(engine: &Engine, text: &str) -> Vec<(Entity, String)> {
    engine.scan_text(text).into_iter().map(|d| (d.entity, text[d.start..d.end].to_string())).collect()
}

/// A 12-digit number starting with `prefix` completed with a Verhoeff check digit: an Aadhaar number's shape.
fn aadhaar(prefix: &str) -> String {
    (0..10).map(|d| format!("{prefix}{d}")).find(|n| checksum::verhoeff(n.as_bytes())).unwrap()
}

/// Characters RFC 3986 allows in a URL, unencoded.
fn url_chars_only(url: &str) -> bool {
    url.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b))
}

/// `(url, the raw PII inside it, the entity of its token)`: each form a URL can carry a value in.
fn url_cases() -> Vec<(String, String, &'static str)> {
    let a = aadhaar("31176036036");
    let spaced = format!("{}+{}+{}", &a[..4], &a[4..8], &a[8..]);
    vec![
        ("/kyc/+919065699665/status".into(), "+919065699665".into(), "phone"),
        ("https://bank.example/api/customers/priya.raghavan%40example.com/profile".into(), "priya.raghavan%40example.com".into(), "email"),
        (format!("https://bank.example/search?q={spaced}&page=2"), spaced.clone(), "aadhaar"),
        (format!("/verify?aadhaar_no={a}"), a.clone(), "aadhaar"),
        ("mailto:priya.raghavan@example.com?subject=Statement".into(), "priya.raghavan@example.com".into(), "email"),
        ("tel:+4915112345678".into(), "+4915112345678".into(), "phone"),
        ("https://svc:s3cr3tPa55@api.bank.example/v1/".into(), "svc:s3cr3tPa55".into(), "url_credential"),
        ("https://app.example/cb#access_token=ya29.a0AfH6SMBx&state=xyz".into(), "ya29.a0AfH6SMBx".into(), "url_credential"),
        (
            "https://sso.example/login?next=https%3A%2F%2Fapp.example%2Fu%2Fpriya%40example.com".into(),
            "priya%40example.com".into(),
            "email",
        ),
        ("/customers/phone/9876543210/edit".into(), "9876543210".into(), "phone"),
    ]
}

#[test]
fn urls_are_parsed_and_each_part_is_a_value() {
    let engine = engine();
    for (url, raw, entity) in url_cases() {
        // As a link on the page (the page's own URL: hosts stay), and as a recorded request's URL in an event.
        let batch = json!({"session_id": "s", "seq": 1, "events": [{"type": "network", "ts": 1, "url": url}],
            "replay": [{"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
                {"type": 2, "id": 2, "tagName": "a", "attributes": {"href": url}, "childNodes": []}
            ]}, "initialOffset": {"left": 0, "top": 0}}}]});
        let out = scrub(&engine, &batch);
        let href = out["replay"][0]["data"]["node"]["childNodes"][0]["attributes"]["href"].as_str().unwrap();
        let event_url = out["events"][0]["url"].as_str().unwrap();
        for got in [href, event_url] {
            assert!(!got.contains(&raw), "{url} -> {got}");
            assert!(got.contains(&format!("tok_{entity}_")), "{url} -> {got}");
            assert!(url_chars_only(got), "{got} is not a valid URL");
            // Everything around the value is as it was.
            let at = url.find(&raw).unwrap();
            assert!(got.starts_with(&url[..at]) && got.ends_with(&url[at + raw.len()..]), "{url} -> {got}");
        }
        // And inside free text (an error message quoting the URL); a relative path there is only text.
        if url.starts_with('/') && !raw.starts_with('+') {
            continue;
        }
        let text = format!("GET {url} failed: 502");
        let found = entities(&engine, &text);
        assert!(found.iter().any(|(_, v)| v.contains(raw.trim_start_matches('+'))), "{text:?} -> {found:?}");
    }
}

#[test]
fn urls_without_pii_stay_byte_for_byte() {
    let engine = engine();
    for url in [
        "https://cdn.bank.example/static/app.3f2a1b9c.js?v=1700000000000",
        "/orders/ORD-2024-000123/items?sort=desc&limit=50",
        "https://10.20.30.40:8443/portal/assets/logo.svg",
        "https://bank.example/products/credit-cards#compare",
        "https://maps.example/@19.0760,72.8777,12z",
        "https://bank.example/api/v2/sessions/0f8fad5b-d9cb-469f-a165-70867728950e",
    ] {
        let batch = json!({"session_id": "s", "seq": 1, "events": [], "replay": [{"type": 4, "timestamp": 1,
            "data": {"href": url, "width": 1280, "height": 720}}]});
        let out = scrub(&engine, &batch);
        assert_eq!(out["replay"][0]["data"]["href"], url);
    }
    // A client IP as a URL's host in free text is still an IP address.
    let found = entities(&engine, "Callback to http://203.0.113.77:8080/hook failed");
    assert!(found.contains(&(Entity::Ip, "203.0.113.77".into())), "{found:?}");
}
