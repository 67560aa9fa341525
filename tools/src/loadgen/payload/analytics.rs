//! Analytics events of all types, each about a different user, as an SDK batches them.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EventKind {
    Pageview,
    Click,
    Scroll,
    Input,
    Error,
    Network,
    Custom,
}

pub(super) const EVENT_KINDS: [EventKind; 7] = [
    EventKind::Pageview,
    EventKind::Click,
    EventKind::Scroll,
    EventKind::Input,
    EventKind::Error,
    EventKind::Network,
    EventKind::Custom,
];

impl EventKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            EventKind::Pageview => "pageview",
            EventKind::Click => "click",
            EventKind::Scroll => "scroll",
            EventKind::Input => "input",
            EventKind::Error => "error",
            EventKind::Network => "network",
            EventKind::Custom => "custom",
        }
    }
}

pub(super) fn analytics_event(rng: &mut Rng, kind: EventKind, ts: u64, p: &Person, url: &str) -> Value {
    let mut event = match kind {
        EventKind::Pageview => pageview_fields(rng, p, url),
        EventKind::Click => click_fields(rng, p),
        EventKind::Scroll => scroll_fields(rng),
        EventKind::Input => input_fields(rng, p),
        EventKind::Error => error_fields(rng, p),
        EventKind::Network => network_fields(rng, p),
        EventKind::Custom => custom_fields(rng, p),
    };
    set_field(&mut event, "type", kind.name().into());
    set_field(&mut event, "ts", ts.into());
    event
}

pub(super) const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://mail.google.com/",
    "https://www.bing.com/search?q=open+savings+account+online",
    "",
    "https://t.co/x1Yz9Qa",
    "android-app://com.google.android.gm/",
];

pub(super) fn pageview_fields(rng: &mut Rng, p: &Person, url: &str) -> Value {
    let title = format!("Open an account – {} | Northwind Bank", p.full_name());
    json!({"url": url, "title": title, "referrer": pick(rng, REFERRERS)})
}

pub(super) fn click_fields(rng: &mut Rng, p: &Person) -> Value {
    let (selector, label) = match rng.u8(0..5) {
        0 => ("#account-0-submit".to_owned(), "Continue".to_owned()),
        1 => ("a.nav-link[data-track=statements]".to_owned(), "Statements".to_owned()),
        2 => ("button.btn-primary".to_owned(), format!("Pay {} to {}", money_text(rng, p.locale), upi_id(rng, p))),
        3 => (format!("tr.txn-row[data-txn-id=\"{}\"] > td:nth-child(2)", uuid(rng)), pii_sentence(rng, p)),
        _ => (".user-menu > .user-email".to_owned(), p.email.clone()),
    };
    json!({"selector": selector, "text": label, "x": rng.u32(0..1920), "y": rng.u32(0..6000)})
}

pub(super) fn scroll_fields(rng: &mut Rng) -> Value {
    json!({"y": rng.u32(0..9000), "depth_pct": rng.u8(0..=100)})
}

pub(super) fn input_fields(rng: &mut Rng, p: &Person) -> Value {
    let (name, value) = typed_pii(rng, p);
    json!({"selector": format!("input[name={name}]"), "value": value})
}

pub(super) fn error_fields(rng: &mut Rng, p: &Person) -> Value {
    let (message, function) = match rng.u8(0..5) {
        0 => ("TypeError: Cannot read properties of undefined (reading 'ifsc')".to_owned(), "validateStep"),
        1 => (format!("ValidationError: PAN {} does not match name {}", pan(rng, p.last), p.full_name()), "submitKyc"),
        2 => (format!("PaymentError: card {} declined (code 05) for {}", card_number(rng), p.email), "chargeCard"),
        3 => (
            format!("Error: Request failed with status code 502: /api/v2/customers?email={}", url_encode(&p.email)),
            "fetchJson",
        ),
        _ => ("ChunkLoadError: Loading chunk 7281 failed.".to_owned(), "loadChunk"),
    };
    let filename = format!("https://cdn.northwind-bank.in/static/js/app.{}.js", hex(rng, 8));
    let (lineno, colno) = (rng.u32(1..4_000), rng.u32(1..200));
    let stack = format!(
        "{message}\n    at {function} ({filename}:{lineno}:{colno})\n    \
         at HTMLFormElement.onSubmit ({filename}:{}:{})\n    \
         at invokeGuardedCallback (https://cdn.northwind-bank.in/static/js/vendor.{}.js:{}:{})",
        rng.u32(1..4_000),
        rng.u32(1..200),
        hex(rng, 8),
        rng.u32(1..90_000),
        rng.u32(1..200)
    );
    json!({"message": message, "stack": stack, "filename": filename, "lineno": lineno, "colno": colno})
}

pub(super) const STATUSES: &[u16] = &[200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 422, 500, 502, 503];

pub(super) fn network_fields(rng: &mut Rng, p: &Person) -> Value {
    let api = "https://api.northwind-bank.in";
    let (method, url) = match rng.u8(0..6) {
        0 => {
            ("GET", format!("{api}/v2/customers/lookup?email={}&mobile={}", url_encode(&p.email), url_encode(&p.phone)))
        }
        1 => ("POST", format!("{api}/v2/kyc/verify-pan")),
        2 => ("POST", format!("{api}/v2/payments/upi/collect?vpa={}", url_encode(&upi_id(rng, p)))),
        3 => (
            "GET",
            format!(
                "{api}/v2/accounts/{}/transactions?from={}&limit=50",
                digits(rng, 12),
                rng.u64(1_700_000_000_000..1_740_000_000_000)
            ),
        ),
        4 => ("PUT", format!("{api}/v2/addresses/{}", uuid(rng))),
        _ => (
            "GET",
            format!(
                "https://maps.example-geo.com/v1/reverse?lat={}&lng={}",
                coordinate(rng, 90.0),
                coordinate(rng, 180.0)
            ),
        ),
    };
    let status = rng.choice(STATUSES.iter().copied()).unwrap_or(200);
    json!({"method": method, "url": url, "status": status, "duration_ms": rng.u32(8..2_400), "request_id": uuid(rng)})
}

pub(super) const CUSTOM_EVENTS: &[&str] =
    &["checkout_started", "kyc_submitted", "otp_requested", "beneficiary_added", "card_saved", "loan_quote_viewed"];

pub(super) fn custom_fields(rng: &mut Rng, p: &Person) -> Value {
    let name = pick(rng, CUSTOM_EVENTS);
    let detail = match rng.u8(0..5) {
        0 => json!({"customer": {
            "name": p.full_name(),
            "email": p.email,
            "phone": p.phone,
            "dob": date_of_birth(rng, p.locale),
        }}),
        1 => json!({"payment": {"card": card_number(rng), "upi": upi_id(rng, p), "ifsc": ifsc(rng)}}),
        2 => json!({"kyc": {
            "pan": pan(rng, p.last),
            "aadhaar": aadhaar(rng),
            "address": address(rng, p.locale).one_line(),
        }}),
        3 => json!({"geo": {"lat": coordinate(rng, 90.0), "lng": coordinate(rng, 180.0), "ip": ipv4(rng)}}),
        _ => json!({"beneficiary": {
            "iban": iban(rng),
            "account": digits(rng, 12),
            "name": Person::random(rng).full_name(),
        }}),
    };
    let mut props = json!({
        "order_id": order_id(rng),
        "amount": money_value(rng),
        "currency": p.locale.currency(),
        "experiment_id": uuid(rng),
        "items": rng.u8(1..=6),
    });
    if let (Some(props), Value::Object(detail)) = (props.as_object_mut(), detail) {
        props.extend(detail);
    }
    object([("name", name.into()), ("props", props)])
}
