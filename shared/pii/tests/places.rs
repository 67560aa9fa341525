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
        (
            "https://bank.example/api/customers/priya.raghavan%40example.com/profile".into(),
            "priya.raghavan%40example.com".into(),
            "email",
        ),
        (format!("https://bank.example/search?q={spaced}&page=2"), spaced.clone(), "aadhaar"),
        (format!("/verify?aadhaar_no={a}"), a.clone(), "aadhaar"),
        ("mailto:priya.raghavan@example.com?subject=Statement".into(), "priya.raghavan@example.com".into(), "email"),
        ("tel:+4915112345678".into(), "+4915112345678".into(), "phone"),
        ("https://svc:s3cr3tPa55@api.bank.example/v1/".into(), "svc:s3cr3tPa55".into(), "url_credential"),
        (
            "https://app.example/cb#access_token=ya29.a0AfH6SMBx&state=xyz".into(),
            "ya29.a0AfH6SMBx".into(),
            "url_credential",
        ),
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

/// rrweb's console plugin (`rrweb/console@1`: level, stack trace, each argument serialized with its `stringify`)
/// and posthog-js's network plugin (`rrweb/network@1`: `requests` of PerformanceEntry-like records with `name` as
/// the URL, headers and bodies as strings), as their record code writes them.
#[test]
fn plugin_events_and_network_payloads_are_walked_like_page_data() {
    let engine = engine();
    let body = json!({"customer": {"email": "priya.raghavan@example.com", "mobile": "9876543210", "pan": "ABCPE1234F"},
        "amount": 2500, "currency": "INR", "requestId": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    .to_string();
    let response =
        json!([{"accountNumber": "50100123456789", "holder": {"firstName": "Priya", "lastName": "Raghavan"}}])
            .to_string();
    let console = json!({"type": 6, "timestamp": 2, "data": {"plugin": "rrweb/console@1", "payload": {
        "level": "error",
        "trace": ["submitKyc (https://bank.example/static/app.3f2a1b9c.js:1:2045)"],
        "payload": [json!("KYC failed for priya.raghavan@example.com").to_string(), body.clone()]
    }}});
    let network = json!({"type": 6, "timestamp": 3, "data": {"plugin": "rrweb/network@1", "payload": {"requests": [{
        "name": "https://bank.example/api/kyc?mobile=9876543210&step=2",
        "method": "POST", "initiatorType": "fetch", "status": 200, "startTime": 1021.5, "endTime": 1180.2,
        "requestHeaders": {"content-type": "application/json", "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
            "Cookie": "sid=8f14e45fceea167a5a36dedd4bea2543"},
        "requestBody": body,
        "responseHeaders": {"Set-Cookie": "sid=c9f0f895fb98ab9159f51fd0297e236d; HttpOnly"},
        "responseBody": response
    }, {
        "name": "https://bank.example/api/otp", "method": "POST", "initiatorType": "xmlhttprequest", "status": 204,
        "requestHeaders": {"content-type": "application/x-www-form-urlencoded"},
        "requestBody": "email=priya.raghavan%40example.com&phone=%2B919876543210&consent=yes"
    }]}}});
    let batch = json!({"session_id": "s", "seq": 1, "events": [], "replay": [console, network]});
    let out = scrub(&engine, &batch);
    let text = out.to_string();
    for raw in [
        "priya.raghavan",
        "9876543210",
        "ABCPE1234F",
        "50100123456789",
        "Raghavan",
        "eyJhbGciOiJIUzI1NiJ9",
        "8f14e45fceea",
        "c9f0f895fb98",
    ] {
        assert!(!text.contains(raw), "{raw} raw in {text}");
    }
    // What is not PII is as it was, and the bodies are still JSON with their keys.
    let request = &out["replay"][1]["data"]["payload"]["requests"][0];
    assert_eq!(
        request["name"],
        "https://bank.example/api/kyc?mobile=".to_string()
            + request["name"].as_str().unwrap().split("mobile=").nth(1).unwrap()
    );
    assert!(request["name"].as_str().unwrap().ends_with("&step=2"));
    let body: Value = serde_json::from_str(request["requestBody"].as_str().unwrap()).unwrap();
    assert_eq!(body["amount"], 2500);
    assert_eq!(body["requestId"], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert!(body["customer"]["email"].as_str().unwrap().starts_with("tok_email_"));
    let response: Value = serde_json::from_str(request["responseBody"].as_str().unwrap()).unwrap();
    assert!(response[0]["holder"]["lastName"].as_str().unwrap().starts_with("tok_name_"));
    let trace = &out["replay"][0]["data"]["payload"]["trace"][0];
    assert_eq!(trace, "submitKyc (https://bank.example/static/app.3f2a1b9c.js:1:2045)");
    let form = out["replay"][1]["data"]["payload"]["requests"][1]["requestBody"].as_str().unwrap();
    assert!(form.ends_with("&consent=yes") && form.starts_with("email=tok_email_"), "{form}");
}

/// A string holding serialized JSON (a custom event property) is walked as JSON: its keys are field names.
#[test]
fn json_inside_a_string_is_walked_with_its_keys() {
    let engine = engine();
    let inner =
        json!({"first_name": "Wladimir", "surname": "Niemeier", "telefon": "07426 453582", "sku": "SKU-2024-0042",
        "nested": json!({"email": "w.niemeier@example.de"}).to_string()})
        .to_string();
    let batch = json!({"session_id": "s", "seq": 1, "events": [{"type": "track", "name": "profile_saved", "ts": 1,
        "props": {"snapshot": inner, "note": "[1, 2, 3]"}}]});
    let out = scrub(&engine, &batch);
    let props = &out["events"][0]["props"];
    assert_eq!(props["note"], "[1, 2, 3]");
    let inner: Value = serde_json::from_str(props["snapshot"].as_str().unwrap()).unwrap();
    for key in ["first_name", "surname", "telefon"] {
        assert!(inner[key].as_str().unwrap().starts_with("tok_"), "{key}: {}", inner[key]);
    }
    assert_eq!(inner["sku"], "SKU-2024-0042");
    let nested: Value = serde_json::from_str(inner["nested"].as_str().unwrap()).unwrap();
    assert!(nested["email"].as_str().unwrap().starts_with("tok_email_"), "{nested}");
}

/// Every entity's formats at the edges of a sentence, in the punctuation of the supported languages, at the
/// start and the end of a string; IPv6 in the RFC 5952 forms; PANs in lower case.
#[test]
fn every_entity_at_the_edges_of_a_sentence() {
    let engine = engine();
    let a = aadhaar("23630000000");
    let aadhaar_grouped = format!("{} {} {}", &a[..4], &a[4..8], &a[8..]);
    let values: Vec<(Entity, String)> = vec![
        (Entity::Email, "priya.raghavan@example.co.in".into()),
        (Entity::Phone, "+91 98765 43210".into()),
        (Entity::Phone, "+49 151 12345678".into()),
        (Entity::Card, "4111 1111 1111 1111".into()),
        (Entity::Card, "2200000000000004".into()),
        (Entity::Iban, "DE89370400440532013000".into()),
        (Entity::Ssn, "123-45-6789".into()),
        (Entity::Aadhaar, aadhaar_grouped),
        (Entity::Pan, "ABCPE1234F".into()),
        (Entity::Gstin, "27AAPFU0939F1ZV".into()),
        (Entity::Upi, "priya@okhdfcbank".into()),
        (Entity::Ip, "203.0.113.77".into()),
        (Entity::Ip, "2001:db8:85a3::8a2e:370:7334".into()),
        (Entity::Ip, "2001:db8::1".into()),
        (Entity::Ip, "fe80::1ff:fe23:4567:890a".into()),
        (Entity::Ip, "::ffff:192.0.2.128".into()),
        (Entity::Mac, "00:1a:2b:3c:4d:5e".into()),
    ];
    let edges = [".", ",", ";", ":", "!", "?", ")", "]", "\"", "'", "»", "」", "।"];
    let mut failures = Vec::new();
    for (entity, value) in &values {
        let mut texts = vec![value.clone(), format!("{value} is on file"), format!("On file: {value}")];
        for edge in edges {
            texts.push(format!("Details: {value}{edge}"));
            texts.push(format!("Details: {value}{edge} Thanks"));
        }
        for (open, close) in [("(", ")"), ("[", "]"), ("\"", "\""), ("«", "»"), ("「", "」"), ("'", "'")] {
            texts.push(format!("See {open}{value}{close} above"));
        }
        for text in texts {
            let found = entities(&engine, &text);
            if !found.iter().any(|(e, v)| e == entity && v == value) {
                failures.push(format!("{entity:?} in {text:?} -> {found:?}"));
            }
        }
    }
    for (text, value) in [("pan: abcpe1234f.", "abcpe1234f"), ("My PAN is abcpe1234f", "abcpe1234f")] {
        let found = entities(&engine, text);
        if !found.contains(&(Entity::Pan, value.to_string())) {
            failures.push(format!("Pan in {text:?} -> {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{} misses:\n{}", failures.len(), failures.join("\n"));
}

/// Names on pages in French, Spanish, Italian, Dutch, Portuguese, German and Hinglish: greetings and titles of
/// each language (a title after a greeting too), accented letters, particles, "Surname, Given" and initials.
#[test]
fn names_without_english() {
    let engine = engine();
    for (text, name) in [
        ("Bonjour Hélène Lefèvre, votre relevé est disponible.", "Hélène Lefèvre"),
        ("Bienvenue, Jean-Pierre Dubois !", "Jean-Pierre Dubois"),
        ("Cher Monsieur Dupont,", "Dupont"),
        ("Chère Mme Élodie Girard", "Élodie Girard"),
        ("Hola, María José Fernández. Su cuenta está lista.", "María José Fernández"),
        ("Bienvenido de nuevo, Alejandro Gómez", "Alejandro Gómez"),
        ("Estimado Sr. Rodríguez:", "Rodríguez"),
        ("Buongiorno Giuseppe Esposito, il suo estratto conto", "Giuseppe Esposito"),
        ("Gentile Sig.ra Bianchi", "Bianchi"),
        ("Welkom terug, Daan de Vries", "Daan de Vries"),
        ("Geachte heer Van den Berg", "Van den Berg"),
        ("Olá, João Silva! A sua conta", "João Silva"),
        ("Prezado Sr. Carlos Souza", "Carlos Souza"),
        ("Sehr geehrte Frau Müller,", "Müller"),
        ("Willkommen zurück, Jürgen Schäfer", "Jürgen Schäfer"),
        ("Namaste Rajesh ji, aapka account", "Rajesh"),
        ("Account holder: Raghavan, Priya", "Raghavan, Priya"),
        ("Customer: P. Raghavan", "P. Raghavan"),
        ("Payment from Anjali Deshpande received", "Anjali Deshpande"),
        ("Titular: Sofía Castro", "Sofía Castro"),
    ] {
        let found = entities(&engine, text);
        assert!(found.contains(&(Entity::Name, name.to_string())), "{text:?} -> {found:?}");
    }
    for text in ["Bonjour, votre relevé est prêt", "Hola, bienvenido", "Sehr geehrte Damen und Herren", "Welkom terug"]
    {
        let found = entities(&engine, text);
        assert!(found.is_empty(), "{text:?} -> {found:?}");
    }
}
