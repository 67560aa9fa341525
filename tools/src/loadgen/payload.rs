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

use fastrand::Rng;
use serde_json::{json, Value};

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

// ---------------------------------------------------------------------------------------------------------------
// Synthetic people and PII
// ---------------------------------------------------------------------------------------------------------------

const IN_FIRST: &[&str] = &[
    "Aarav",
    "Priya",
    "Rohan",
    "Ananya",
    "Vikram",
    "Sneha",
    "Arjun",
    "Kavya",
    "Rahul",
    "Deepika",
    "Siddharth",
    "Meera",
    "Aditya",
    "Ishita",
    "Karthik",
    "Lakshmi",
    "Nikhil",
    "Pooja",
];
const IN_LAST: &[&str] = &[
    "Sharma",
    "Patel",
    "Iyer",
    "Reddy",
    "Nair",
    "Gupta",
    "Menon",
    "Singh",
    "Mukherjee",
    "Desai",
    "Kulkarni",
    "Chatterjee",
    "Rao",
    "Joshi",
    "Banerjee",
    "Agarwal",
];
const US_FIRST: &[&str] = &[
    "James",
    "Emily",
    "Michael",
    "Olivia",
    "David",
    "Sophia",
    "Daniel",
    "Madison",
    "Christopher",
    "Ashley",
    "Matthew",
    "Jessica",
    "Tyler",
    "Hannah",
];
const US_LAST: &[&str] = &[
    "Johnson",
    "Williams",
    "Brown",
    "Miller",
    "Davis",
    "Garcia",
    "Rodriguez",
    "Wilson",
    "Anderson",
    "Thompson",
    "Martinez",
    "Moore",
];
const UK_FIRST: &[&str] =
    &["Oliver", "Amelia", "George", "Isla", "Harry", "Poppy", "Jack", "Freya", "Charlie", "Imogen", "Alfie", "Eleanor"];
const UK_LAST: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Evans",
    "Davies",
    "Hughes",
    "Wright",
    "Walker",
    "Roberts",
    "Clarke",
    "Whitfield",
    "Pemberton",
];
const DE_FIRST: &[&str] =
    &["Lukas", "Anna", "Jürgen", "Lena", "Maximilian", "Sophie", "Felix", "Marie", "Jonas", "Katrin", "Tobias", "Jörg"];
const DE_LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schäfer",
    "Hoffmann",
    "Koch",
    "Groß",
];

const UPI_HANDLES: &[&str] = &["okhdfcbank", "okicici", "oksbi", "okaxis", "ybl", "paytm", "ibl", "axl"];
const IFSC_BANKS: &[&str] = &["HDFC", "ICIC", "SBIN", "UTIB", "KKBK", "PUNB", "BARB", "YESB"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Locale {
    India,
    Us,
    Uk,
    Germany,
}

impl Locale {
    /// India is weighted up: PAN, Aadhaar, UPI and IFSC make its pages the densest PII mix.
    fn random(rng: &mut Rng) -> Self {
        match rng.u8(0..10) {
            0..=3 => Locale::India,
            4..=5 => Locale::Us,
            6..=7 => Locale::Uk,
            _ => Locale::Germany,
        }
    }

    fn first_names(self) -> &'static [&'static str] {
        match self {
            Locale::India => IN_FIRST,
            Locale::Us => US_FIRST,
            Locale::Uk => UK_FIRST,
            Locale::Germany => DE_FIRST,
        }
    }

    fn last_names(self) -> &'static [&'static str] {
        match self {
            Locale::India => IN_LAST,
            Locale::Us => US_LAST,
            Locale::Uk => UK_LAST,
            Locale::Germany => DE_LAST,
        }
    }

    fn email_domains(self) -> &'static [&'static str] {
        match self {
            Locale::India => &["gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com", "hotmail.com"],
            Locale::Us => &["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"],
            Locale::Uk => &["gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com", "yahoo.co.uk"],
            Locale::Germany => &["gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"],
        }
    }

    fn country(self) -> &'static str {
        match self {
            Locale::India => "India",
            Locale::Us => "United States",
            Locale::Uk => "United Kingdom",
            Locale::Germany => "Germany",
        }
    }

    fn currency(self) -> &'static str {
        match self {
            Locale::India => "INR",
            Locale::Us => "USD",
            Locale::Uk => "GBP",
            Locale::Germany => "EUR",
        }
    }
}

/// A synthetic person. Contact details are fixed at creation so a page shows one consistent identity.
struct Person {
    first: &'static str,
    last: &'static str,
    locale: Locale,
    email: String,
    phone: String,
}

impl Person {
    fn random(rng: &mut Rng) -> Self {
        let locale = Locale::random(rng);
        let first = pick(rng, locale.first_names());
        let last = pick(rng, locale.last_names());
        let email = email_address(rng, first, last, locale);
        let phone = phone_number(rng, locale);
        Person { first, last, locale, email, phone }
    }

    fn full_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// A postal address split the way address forms ask for it.
struct Address {
    line1: String,
    city: &'static str,
    region: &'static str,
    postal: String,
    country: &'static str,
}

impl Address {
    fn one_line(&self) -> String {
        format!("{}, {}, {} {}, {}", self.line1, self.city, self.region, self.postal, self.country)
    }
}

fn pick<T: Copy + Default>(rng: &mut Rng, items: &[T]) -> T {
    rng.choice(items.iter().copied()).unwrap_or_default()
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.digit(10)).collect()
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.digit(16)).collect()
}

fn upper(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.uppercase()).collect()
}

/// Emails and UPI handles are ASCII, so umlauts get their usual German transliteration.
fn ascii_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len() + 2);
    for c in name.chars() {
        match c {
            'ä' | 'Ä' => slug.push_str("ae"),
            'ö' | 'Ö' => slug.push_str("oe"),
            'ü' | 'Ü' => slug.push_str("ue"),
            'ß' => slug.push_str("ss"),
            c if c.is_ascii_alphanumeric() => slug.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    slug
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `s` into groups of the given sizes; used for the way people write cards, Aadhaar numbers and IBANs.
fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut parts = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for size in sizes {
        if let Some(part) = s.get(start..start + size) {
            parts.push(part);
        }
        start += size;
    }
    parts.join(sep)
}

fn email_address(rng: &mut Rng, first: &str, last: &str, locale: Locale) -> String {
    let (f, l) = (ascii_slug(first), ascii_slug(last));
    let domain = pick(rng, locale.email_domains());
    match rng.u8(0..4) {
        0 => format!("{f}.{l}@{domain}"),
        1 => format!("{f}{l}{}@{domain}", rng.u8(1..100)),
        2 => format!("{}.{l}@{domain}", f.chars().next().unwrap_or('x')),
        _ => format!("{l}.{f}{}@{domain}", rng.u16(1970..2006)),
    }
}

fn phone_number(rng: &mut Rng, locale: Locale) -> String {
    match locale {
        Locale::India => {
            let rest = digits(rng, 9);
            match rng.u8(0..3) {
                0 => format!("+91 9{rest}"),
                1 => format!("+91-9{}-{}", &rest[..4], &rest[4..]),
                _ => format!("+919{rest}"),
            }
        }
        // 555-01xx and 555 exchanges are reserved for fiction.
        Locale::Us if rng.bool() => format!("(555) {}{}-{}", rng.u8(2..10), digits(rng, 2), digits(rng, 4)),
        Locale::Us => format!("+1 555-{}{}-{}", rng.u8(2..10), digits(rng, 2), digits(rng, 4)),
        // Ofcom reserves 07700 900000-900999 for drama.
        Locale::Uk if rng.bool() => format!("+44 7700 900{}", digits(rng, 3)),
        Locale::Uk => format!("07700 900{}", digits(rng, 3)),
        Locale::Germany => format!("+49 15{} {}", pick(rng, &['1', '2', '7']), digits(rng, 8)),
    }
}

/// Luhn check digit for `payload` (most significant digit first, values 0-9). The digit next to the check digit
/// is the first one doubled, hence the walk from the right starting with `double = true`.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let mut sum = 0_u32;
    let mut double = true;
    for &digit in payload.iter().rev() {
        let mut value = u32::from(digit);
        if double {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
        double = !double;
    }
    ((10 - sum % 10) % 10) as u8
}

/// A Luhn-valid card number of a real scheme's shape, written the way users type it.
fn card_number(rng: &mut Rng) -> String {
    let (mut payload, len): (Vec<u8>, usize) = match rng.u8(0..6) {
        0 | 1 => (vec![4], 16),
        2 => (vec![5, rng.u8(1..=5)], 16),
        3 => (vec![3, if rng.bool() { 4 } else { 7 }], 15),
        4 => (vec![6, 0, 7], 16),
        _ => (vec![6, 5, 2], 16),
    };
    while payload.len() < len - 1 {
        payload.push(rng.u8(0..10));
    }
    payload.push(luhn_check_digit(&payload));
    let plain: String = payload.iter().map(|&d| char::from(b'0' + d)).collect();
    let sizes: &[usize] = if len == 15 { &[4, 6, 5] } else { &[4, 4, 4, 4] };
    match rng.u8(0..4) {
        0 => plain,
        1 => group(&plain, sizes, "-"),
        _ => group(&plain, sizes, " "),
    }
}

fn masked_card(rng: &mut Rng) -> String {
    format!("XXXX XXXX XXXX {}", digits(rng, 4))
}

/// PAN layout: three letters, holder type (`P` for a person), surname initial, four digits, check letter.
fn pan(rng: &mut Rng, last: &str) -> String {
    let initial = ascii_slug(last).chars().next().map_or('K', |c| c.to_ascii_uppercase());
    format!("{}P{initial}{}{}", upper(rng, 3), digits(rng, 4), rng.uppercase())
}

/// Aadhaar numbers never start with 0 or 1 and are printed 4-4-4.
fn aadhaar(rng: &mut Rng) -> String {
    let plain = format!("{}{}", rng.u8(2..=9), digits(rng, 11));
    if rng.u8(0..4) == 0 {
        plain
    } else {
        group(&plain, &[4, 4, 4], " ")
    }
}

fn ifsc(rng: &mut Rng) -> String {
    format!("{}0{}", pick(rng, IFSC_BANKS), digits(rng, 6))
}

fn upi_id(rng: &mut Rng, p: &Person) -> String {
    let handle = pick(rng, UPI_HANDLES);
    match rng.u8(0..3) {
        0 => format!("{}.{}@{handle}", ascii_slug(p.first), ascii_slug(p.last)),
        1 => format!("{}{}@{handle}", ascii_slug(p.first), rng.u16(1..1000)),
        _ => format!("9{}@{handle}", digits(rng, 9)),
    }
}

fn iban(rng: &mut Rng) -> String {
    let (country, bban) = match rng.u8(0..3) {
        0 => ("GB", format!("{}{}", pick(rng, &["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]), digits(rng, 14))),
        1 => ("NL", format!("{}{}", pick(rng, &["ABNA", "INGB", "RABO"]), digits(rng, 10))),
        _ => ("DE", digits(rng, 18)),
    };
    let plain = format!("{country}{:02}{bban}", iban_check_digits(country, &bban));
    if rng.bool() {
        plain
    } else {
        group(&plain, &[4, 4, 4, 4, 4, 4], " ")
    }
}

/// ISO 13616: country code and "00" move behind the BBAN, letters count as 10..=35, check = 98 - (n mod 97).
fn iban_check_digits(country: &str, bban: &str) -> u32 {
    let rem = bban.chars().chain(country.chars()).chain("00".chars()).fold(0_u32, |acc, c| match c.to_digit(36) {
        Some(v) if v >= 10 => (acc * 100 + v) % 97,
        Some(v) => (acc * 10 + v) % 97,
        None => acc,
    });
    98 - rem
}

fn date_of_birth(rng: &mut Rng, locale: Locale) -> String {
    let (y, m, d) = (rng.u16(1952..=2005), rng.u8(1..=12), rng.u8(1..=28));
    match locale {
        Locale::Us => format!("{m:02}/{d:02}/{y}"),
        Locale::Germany => format!("{d:02}.{m:02}.{y}"),
        Locale::India | Locale::Uk => format!("{d:02}/{m:02}/{y}"),
    }
}

/// `<input type=date>` always holds ISO dates whatever the locale.
fn iso_date_of_birth(rng: &mut Rng) -> String {
    format!("{}-{:02}-{:02}", rng.u16(1952..=2005), rng.u8(1..=12), rng.u8(1..=28))
}

fn address(rng: &mut Rng, locale: Locale) -> Address {
    let country = locale.country();
    match locale {
        Locale::India => {
            let (city, region, pin) = pick(
                rng,
                &[
                    ("Bengaluru", "Karnataka", "5600"),
                    ("Mumbai", "Maharashtra", "4000"),
                    ("Pune", "Maharashtra", "4110"),
                    ("Chennai", "Tamil Nadu", "6000"),
                    ("Kolkata", "West Bengal", "7000"),
                    ("Hyderabad", "Telangana", "5000"),
                    ("New Delhi", "Delhi", "1100"),
                ],
            );
            let building = pick(rng, &["Sai Residency", "Prestige Lakeside", "Green Glen Layout", "Shanti Apartments"]);
            let street = pick(rng, &["14th Cross Road", "MG Road", "Linking Road", "Anna Salai", "Park Street"]);
            let line1 = format!("Flat {}, {building}, {street}", rng.u16(101..1205));
            Address { line1, city, region, postal: format!("{pin}{}", digits(rng, 2)), country }
        }
        Locale::Us => {
            let (city, region, zip) = pick(
                rng,
                &[
                    ("Springfield", "IL", "627"),
                    ("Austin", "TX", "787"),
                    ("Portland", "OR", "972"),
                    ("Denver", "CO", "802"),
                ],
            );
            let street = pick(rng, &["Maple Avenue", "Oak Street", "Cedar Lane", "Elm Drive", "Washington Blvd"]);
            let line1 = format!("{} {street}", rng.u16(10..9800));
            Address { line1, city, region, postal: format!("{zip}{}", digits(rng, 2)), country }
        }
        Locale::Uk => {
            let (city, region, area) = pick(
                rng,
                &[
                    ("Manchester", "Greater Manchester", "M"),
                    ("Leeds", "West Yorkshire", "LS"),
                    ("Bristol", "Avon", "BS"),
                ],
            );
            let street = pick(rng, &["High Street", "Station Road", "Church Lane", "Victoria Road", "Kings Road"]);
            let line1 = format!("{} {street}", rng.u16(1..240));
            let postal = format!("{area}{} {}{}{}", rng.u8(1..20), rng.u8(1..10), rng.uppercase(), rng.uppercase());
            Address { line1, city, region, postal, country }
        }
        Locale::Germany => {
            let (city, region, plz) = pick(
                rng,
                &[("Berlin", "Berlin", "10"), ("München", "Bayern", "80"), ("Köln", "Nordrhein-Westfalen", "50")],
            );
            let street = pick(rng, &["Hauptstraße", "Goethestraße", "Bahnhofstraße", "Lindenallee", "Schillerweg"]);
            let line1 = format!("{street} {}", rng.u8(1..120));
            Address { line1, city, region, postal: format!("{plz}{}", digits(rng, 3)), country }
        }
    }
}

fn ipv4(rng: &mut Rng) -> String {
    match rng.u8(0..5) {
        0 => format!("10.{}.{}.{}", rng.u8(..), rng.u8(..), rng.u8(1..255)),
        1 => format!("192.168.{}.{}", rng.u8(..), rng.u8(1..255)),
        _ => format!("{}.{}.{}.{}", rng.u8(1..224), rng.u8(..), rng.u8(..), rng.u8(1..255)),
    }
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        rng.u16(0x8000..0xc000),
        rng.u64(..1 << 48)
    )
}

fn order_id(rng: &mut Rng) -> String {
    match rng.u8(0..3) {
        0 => format!("ORD-{}-{}", rng.u16(2023..=2025), digits(rng, 7)),
        1 => format!("NWB{}", digits(rng, 10)),
        _ => format!("#{}", digits(rng, 8)),
    }
}

fn money_text(rng: &mut Rng, locale: Locale) -> String {
    let cents = rng.u32(100..25_000_000);
    let (units, fraction) = (cents / 100, cents % 100);
    match locale {
        Locale::India => format!("₹{units}.{fraction:02}"),
        Locale::Us => format!("${units}.{fraction:02}"),
        Locale::Uk => format!("£{units}.{fraction:02}"),
        Locale::Germany => format!("{units},{fraction:02} €"),
    }
}

fn money_value(rng: &mut Rng) -> f64 {
    f64::from(rng.u32(100..2_500_000)) / 100.0
}

fn coordinate(rng: &mut Rng, range: f64) -> f64 {
    ((rng.f64() * 2.0 - 1.0) * range * 1e6).round() / 1e6
}

/// Civil date (UTC) from epoch ms, so dates shown in the page agree with the epoch-ms attributes next to them.
fn format_datetime(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(ms / 1000).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A value a user might type into some field, with the field name it belongs to.
fn typed_pii(rng: &mut Rng, p: &Person) -> (&'static str, String) {
    match rng.u8(0..12) {
        0 => ("email", p.email.clone()),
        1 => ("phone", p.phone.clone()),
        2 => ("full_name", p.full_name()),
        3 => ("card_number", card_number(rng)),
        4 => ("pan", pan(rng, p.last)),
        5 => ("aadhaar", aadhaar(rng)),
        6 => ("upi_id", upi_id(rng, p)),
        7 => ("iban", iban(rng)),
        8 => ("dob", date_of_birth(rng, p.locale)),
        9 => ("address_line1", address(rng, p.locale).line1),
        10 => ("ifsc", ifsc(rng)),
        _ => ("search", pick(rng, SEARCHES).to_owned()),
    }
}

const SEARCHES: &[&str] =
    &["fixed deposit rates", "how to update kyc", "credit card limit increase", "nearest branch", "forex card"];

const FILLER: &[&str] = &[
    "Please review your details carefully before submitting the application.",
    "Interest is calculated on the daily closing balance and credited quarterly.",
    "Deposits are insured up to the limit set by the deposit insurance scheme.",
    "Keep your one-time password confidential; our staff will never ask for it.",
    "Statements are generated on the first working day of every month.",
    "International transactions may attract a currency conversion markup of 3.5%.",
    "You can pause or cancel a standing instruction at any time from the Payments tab.",
    "Documents must be clear, uncropped and no older than three months.",
];

/// One sentence, most of them carrying some kind of PII, the way statements, alerts and help texts do.
fn pii_sentence(rng: &mut Rng, p: &Person) -> String {
    match rng.u8(0..14) {
        0 => format!(
            "Dear {}, your account ending {} has been credited with {}.",
            p.full_name(),
            digits(rng, 4),
            money_text(rng, p.locale)
        ),
        1 => format!("We sent a one-time password to {} and to {}.", p.phone, p.email),
        2 => format!("Registered address: {}.", address(rng, p.locale).one_line()),
        3 => format!("PAN {} was linked to Aadhaar {} on {}.", pan(rng, p.last), aadhaar(rng), iso_date_of_birth(rng)),
        4 => format!(
            "The refund for order {} will reach card {} within 5-7 working days.",
            order_id(rng),
            card_number(rng)
        ),
        5 => format!(
            "UPI collect request from {} (IFSC {}) for {}.",
            upi_id(rng, p),
            ifsc(rng),
            money_text(rng, p.locale)
        ),
        6 => {
            let other = Person::random(rng);
            format!("Beneficiary {} added with IBAN {}.", other.full_name(), iban(rng))
        }
        7 => format!("New sign-in from IP {} at epoch {}.", ipv4(rng), 1_700_000_000_000 + rng.u64(..40_000_000_000)),
        8 => format!("Date of birth on file: {}. Call {} if this is wrong.", date_of_birth(rng, p.locale), p.phone),
        9 => format!("Session {} renewed; device fingerprint {}.", uuid(rng), hex(rng, 16)),
        10 => format!(
            "Order {} of {} ships to {}.",
            order_id(rng),
            money_text(rng, p.locale),
            address(rng, p.locale).line1
        ),
        _ => pick(rng, FILLER).to_owned(),
    }
}

fn paragraph_text(rng: &mut Rng, p: &Person) -> String {
    let sentences: Vec<String> = (0..rng.usize(2..=4)).map(|_| pii_sentence(rng, p)).collect();
    sentences.join(" ")
}

// ---------------------------------------------------------------------------------------------------------------
// rrweb-snapshot serialized nodes
// ---------------------------------------------------------------------------------------------------------------

/// What a node is good for as the target of later incremental events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Input,
    Container,
    Script,
    Other,
}

impl Role {
    fn of_tag(tag: &str) -> Role {
        match tag {
            "input" | "textarea" | "select" => Role::Input,
            "div" | "form" | "section" | "main" | "nav" | "header" | "footer" | "fieldset" | "ul" | "ol" | "tbody" => {
                Role::Container
            }
            "script" => Role::Script,
            _ => Role::Other,
        }
    }
}

/// Numbers nodes in document order (parent before children), as rrweb does, and records the ids later
/// incremental events may target when `track` is set. Trees are built without ids and numbered afterwards so
/// builders need not thread a counter through every call.
fn assign_ids(node: &mut Value, parent: Role, page: &mut Page, track: bool) {
    let id = page.next_id;
    page.next_id += 1;
    let Some(fields) = node.as_object_mut() else { return };
    fields.insert("id".to_owned(), id.into());
    let role = match fields.get("type").and_then(Value::as_u64) {
        Some(2) => Role::of_tag(fields.get("tagName").and_then(Value::as_str).unwrap_or_default()),
        _ => Role::Other,
    };
    let is_text = fields.get("type").and_then(Value::as_u64) == Some(3);
    if track {
        match role {
            Role::Input => page.input_ids.push(id),
            Role::Container => page.container_ids.push(id),
            // Style and script text is not what a user sees change, so mutations leave it alone.
            _ if is_text && parent != Role::Script && !fields.contains_key("isStyle") => page.text_ids.push(id),
            _ => {}
        }
    }
    if let Some(Value::Array(children)) = fields.get_mut("childNodes") {
        for child in children {
            assign_ids(child, role, page, track);
        }
    }
}

fn el(tag: &str, attributes: Value, child_nodes: Vec<Value>) -> Value {
    object([
        ("type", 2.into()),
        ("tagName", tag.into()),
        ("attributes", attributes),
        ("childNodes", Value::Array(child_nodes)),
    ])
}

fn void_el(tag: &str, attributes: Value) -> Value {
    el(tag, attributes, Vec::new())
}

fn text_el(tag: &str, attributes: Value, content: impl Into<String>) -> Value {
    el(tag, attributes, vec![text(content)])
}

fn svg_el(tag: &str, attributes: Value, child_nodes: Vec<Value>) -> Value {
    let mut node = el(tag, attributes, child_nodes);
    set_field(&mut node, "isSVG", true.into());
    node
}

/// Inserts a key into an object built with `json!` (a no-op on anything else, which never happens here).
fn set_field(object: &mut Value, key: &str, value: Value) {
    if let Some(fields) = object.as_object_mut() {
        fields.insert(key.to_owned(), value);
    }
}

fn text(content: impl Into<String>) -> Value {
    object([("type", 3.into()), ("textContent", Value::String(content.into()))])
}

fn style_text(css: String) -> Value {
    object([("type", 3.into()), ("textContent", Value::String(css)), ("isStyle", true.into())])
}

fn comment(content: &str) -> Value {
    object([("type", 5.into()), ("textContent", content.into())])
}

// ---------------------------------------------------------------------------------------------------------------
// The recorded page
// ---------------------------------------------------------------------------------------------------------------

const SITES: &[&str] = &[
    "https://app.northwind-bank.in/onboarding/apply",
    "https://secure.paysphere.co.uk/checkout/payment",
    "https://banking.example-finanz.de/konto/eroeffnen",
    "https://my.lakeshore-credit.com/apply/personal-loan",
];

fn page_url(rng: &mut Rng, p: &Person) -> String {
    let mut url = format!(
        "{}?step={}&ref={}&utm_source=email&utm_campaign=onboarding_q4",
        pick(rng, SITES),
        pick(rng, &["details", "kyc", "payment", "address"]),
        digits(rng, 10)
    );
    // Marketing links often carry the recipient's contact details in the query string.
    match rng.u8(0..4) {
        0 => url.push_str(&format!("&email={}", url_encode(&p.email))),
        1 => url.push_str(&format!("&mobile={}", url_encode(&p.phone))),
        _ => {}
    }
    url
}

fn document(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let doctype = json!({"type": 1, "name": "html", "publicId": "", "systemId": ""});
    let head = head(rng, p, now_ms);
    let body = body(rng, p, now_ms);
    let html = el("html", json!({"lang": "en", "data-theme": "light"}), vec![head, body]);
    object([("type", 0.into()), ("childNodes", Value::Array(vec![doctype, html]))])
}

fn head(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let title = format!("Open an account – {} | Northwind Bank", p.full_name());
    let css_href = format!("https://cdn.northwind-bank.in/static/css/app.{}.css", hex(rng, 8));
    el(
        "head",
        json!({}),
        vec![
            void_el("meta", json!({"charset": "utf-8"})),
            void_el("meta", json!({"name": "viewport", "content": "width=device-width, initial-scale=1"})),
            text_el("title", json!({}), title),
            void_el("meta", json!({"name": "description", "content": "Open a savings account online in 10 minutes."})),
            void_el("link", json!({"rel": "stylesheet", "href": css_href})),
            void_el("link", json!({"rel": "icon", "type": "image/png", "href": "/favicon-32.png"})),
            el("style", json!({"type": "text/css", "data-styled": "active"}), vec![style_text(stylesheet(rng))]),
            text_el("script", json!({"type": "text/javascript", "nonce": hex(rng, 22)}), boot_script(rng, p, now_ms)),
        ],
    )
}

const BASE_CSS: &str = r#":root{--brand:#0b5cab;--brand-dark:#083e75;--danger:#c62828;--radius:6px;--font:"Inter",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:var(--font);font-size:15px;line-height:1.5;color:#1f2933;background:#f5f7fa}
.site-header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.nav-link{color:var(--brand);text-decoration:none;padding:8px 12px;border-radius:var(--radius)}
.nav-link:hover,.nav-link:focus-visible{background:rgba(11,92,171,.08)}
.tf-form{background:#fff;border:1px solid #e4e7eb;border-radius:var(--radius);padding:24px;margin:24px 0}
.form-group{margin-bottom:16px}
.form-label{display:block;font-weight:600;margin-bottom:4px}
.form-control,.form-select{width:100%;padding:10px 12px;border:1px solid #cbd2d9;border-radius:var(--radius);font:inherit}
.form-control:focus,.form-select:focus{outline:2px solid var(--brand);outline-offset:1px}
.form-control.is-invalid{border-color:var(--danger)}
.invalid-feedback{color:var(--danger);font-size:13px}
.password-field{letter-spacing:.2em;font-family:ui-monospace,monospace}
input[type=password]{-webkit-text-security:disc}
input[type=password]::-ms-reveal,input[type=password]::-ms-clear{display:none}
input[autocomplete=cc-number],.card-number{font-variant-numeric:tabular-nums;letter-spacing:.05em}
input[name=aadhaar],input[name=pan]{text-transform:uppercase}
.table{width:100%;border-collapse:collapse}
.table th,.table td{padding:8px 10px;border-bottom:1px solid #e4e7eb;text-align:left}
.table-striped tbody tr:nth-of-type(odd){background:#f9fafb}
.toast{position:fixed;right:24px;bottom:24px;min-width:280px;padding:12px 16px;border-radius:var(--radius);background:#102a43;color:#fff}
@media (max-width:640px){.site-header{padding:8px 12px}.tf-form{padding:16px}.table{font-size:13px}}
"#;

const CSS_COMPONENTS: &[&str] =
    &["card", "badge", "stepper", "tooltip", "banner", "chip", "drawer", "tab", "otp", "kyc"];

/// Base rules plus a run of generated utility classes, like a CSS-in-JS runtime accumulates.
fn stylesheet(rng: &mut Rng) -> String {
    let mut css = String::from(BASE_CSS);
    for i in 0..rng.usize(15..=40) {
        css.push_str(&format!(
            ".tf-{}-{i}{{margin:{}px {}px;padding:{}px;color:#{};background:#{};border-radius:{}px}}\n",
            pick(rng, CSS_COMPONENTS),
            rng.u8(0..32),
            rng.u8(0..32),
            rng.u8(0..24),
            hex(rng, 6),
            hex(rng, 6),
            rng.u8(0..12)
        ));
    }
    css
}

const BOOT_JS: &str = r##"!function(){"use strict";var e=window,t=document,n=e.__TF_BOOT__||{},r=[];function o(e){return null==e?"":String(e).replace(/[&<>"']/g,function(e){return"&#"+e.charCodeAt(0)+";"})}function i(e,n){var r=t.querySelector(e);return r?(n&&r.setAttribute("data-bound","1"),r):null}function a(t,n,o){r.push({t:t,p:n,ts:Date.now()}),r.length>50&&r.shift(),o&&e.requestIdleCallback&&e.requestIdleCallback(s)}function s(){if(r.length){var t=JSON.stringify({q:r.splice(0,r.length),sid:n.sessionId});navigator.sendBeacon?navigator.sendBeacon("/api/v2/telemetry",t):fetch("/api/v2/telemetry",{method:"POST",body:t,keepalive:!0})}}t.addEventListener("DOMContentLoaded",function(){Array.prototype.forEach.call(t.querySelectorAll("form.tf-form"),function(e){e.addEventListener("submit",function(t){e.checkValidity()||(t.preventDefault(),t.stopPropagation(),a("invalid",{id:e.id},!0)),e.classList.add("was-validated")},!1)}),Array.prototype.forEach.call(t.querySelectorAll("input[data-mask]"),function(e){e.addEventListener("input",function(){var t=e.value.replace(/\D/g,"");e.value=t.replace(/(\d{4})(?=\d)/g,"$1 ")})});var c=i("#main",!0);c&&a("ready",{h:c.scrollHeight},!1)}),e.addEventListener("pagehide",s),e.tf=function(e,t){a(e,t,!0)},e.tfEscape=o}();"##;

/// Inline bootstrap script. Server-rendered apps routinely inline the signed-in user's profile here, which is
/// exactly the kind of PII a redactor must not miss.
fn boot_script(rng: &mut Rng, p: &Person, now_ms: u64) -> String {
    let config = json!({
        "sessionId": uuid(rng),
        "customer": {
            "id": digits(rng, 10),
            "name": p.full_name(),
            "email": p.email,
            "mobile": p.phone,
            "segment": "retail",
        },
        "flags": {"newKyc": true, "upiCollect": rng.bool(), "cardTokenisation": rng.bool()},
        "build": "2024.11.3",
        "renderedAt": now_ms,
        "edge": ipv4(rng),
    });
    format!("window.__TF_BOOT__={config};{BOOT_JS}")
}

fn body(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let header = page_header(rng, p, now_ms);
    let mut main = vec![hero(rng, p, now_ms)];
    main.push(account_form(rng, 0, p));
    main.push(kyc_form(rng, 0, p));
    main.push(payment_form(rng, 0, p));
    main.push(address_form(rng, 0, p));
    // Co-applicant, nominee and beneficiary forms: one of the two size knobs, with the statement tables.
    for idx in 1..=rng.usize(0..=3) {
        let other = Person::random(rng);
        let form = match rng.u8(0..4) {
            0 => account_form(rng, idx, &other),
            1 => kyc_form(rng, idx, &other),
            2 => payment_form(rng, idx, &other),
            _ => address_form(rng, idx, &other),
        };
        main.push(form);
    }
    let mut rows_left = rng.usize(40..=110);
    let mut table = 0;
    while rows_left > 0 {
        let rows = rows_left.min(rng.usize(15..=45));
        main.push(statement_section(rng, p, table, rows, now_ms));
        rows_left -= rows;
        table += 1;
    }
    let paragraphs = rng.usize(6..=20);
    main.push(info_section(rng, p, paragraphs));
    let footer = page_footer(rng, now_ms);
    let attributes =
        json!({"class": "page-onboarding", "data-route": "/onboarding/apply", "data-customer-id": digits(rng, 10)});
    el(
        "body",
        attributes,
        vec![
            comment(" Northwind Bank web 2024.11.3 (build 5f3c9e1) "),
            header,
            el("main", json!({"id": "main", "role": "main", "class": "container"}), main),
            footer,
        ],
    )
}

fn page_header(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let email = url_encode(&p.email);
    let customer = digits(rng, 10);
    let mut items = Vec::new();
    for (label, path) in [
        ("Dashboard", "/dashboard"),
        ("Accounts", "/accounts"),
        ("Statements", "/accounts/statement"),
        ("Payments", "/payments/new"),
        ("Cards", "/cards"),
        ("Support", "/support/ticket"),
    ] {
        let href = format!("{path}?customer_id={customer}&email={email}&session_ts={now_ms}&utm_source=app");
        let link = text_el("a", json!({"class": "nav-link", "href": href, "data-track": label.to_lowercase()}), label);
        items.push(el("li", json!({"class": "nav-item"}), vec![link]));
    }
    let logo_path = svg_el("path", json!({"d": "M4 4h16v16H4z M8 8h8v8H8z", "fill": "#0b5cab"}), Vec::new());
    let logo_svg = svg_el(
        "svg",
        json!({"xmlns": "http://www.w3.org/2000/svg", "viewBox": "0 0 24 24", "width": "32", "height": "32"}),
        vec![logo_path],
    );
    let avatar = format!("https://cdn.northwind-bank.in/avatar?email={email}&size=64&v={}", hex(rng, 6));
    let user_menu = el(
        "div",
        json!({"class": "user-menu", "data-customer-email": p.email, "data-customer-id": customer}),
        vec![
            void_el("img", json!({"src": avatar, "alt": p.full_name(), "class": "avatar", "width": "32"})),
            text_el("span", json!({"class": "user-name"}), format!("Welcome back, {}", p.full_name())),
            text_el("span", json!({"class": "user-email"}), p.email.as_str()),
        ],
    );
    el(
        "header",
        json!({"class": "site-header"}),
        vec![
            el("a", json!({"href": "/", "class": "brand", "aria-label": "Northwind Bank home"}), vec![logo_svg]),
            el("nav", json!({"aria-label": "Primary"}), vec![el("ul", json!({"class": "nav"}), items)]),
            user_menu,
        ],
    )
}

fn hero(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let status = format!(
        "Application {} started {} from IP {}.",
        order_id(rng),
        format_datetime(now_ms.saturating_sub(rng.u64(60_000..7_200_000))),
        ipv4(rng)
    );
    let steps = ["Personal details", "KYC verification", "Fund your account", "Delivery address"]
        .into_iter()
        .map(|step| text_el("li", json!({"class": "step"}), step))
        .collect();
    el(
        "section",
        json!({"class": "hero"}),
        vec![
            text_el("h1", json!({}), format!("Welcome, {}! Let's finish opening your account", p.first)),
            text_el("p", json!({"class": "lead"}), paragraph_text(rng, p)),
            text_el("div", json!({"class": "alert alert-info", "role": "status"}), status),
            el("ol", json!({"class": "steps"}), steps),
        ],
    )
}

fn info_section(rng: &mut Rng, p: &Person, paragraphs: usize) -> Value {
    let mut children = vec![text_el("h2", json!({}), "Important information")];
    for _ in 0..paragraphs {
        children.push(text_el("p", json!({"class": "small text-muted"}), paragraph_text(rng, p)));
    }
    let mail = format!("mailto:{}?subject=Account%20{}", p.email, digits(rng, 8));
    let tel = format!("tel:{}", p.phone.replace(' ', ""));
    children.push(text_el("a", json!({"href": mail, "class": "contact-link"}), format!("Email {}", p.email)));
    children.push(text_el("a", json!({"href": tel, "class": "contact-link"}), format!("Call {}", p.phone)));
    el("section", json!({"class": "card info"}), children)
}

fn page_footer(rng: &mut Rng, now_ms: u64) -> Value {
    let officer = Person::random(rng);
    let build = format!("Rendered at {now_ms} by {} · request {}", ipv4(rng), uuid(rng));
    el(
        "footer",
        json!({"class": "site-footer"}),
        vec![
            text_el(
                "p",
                json!({}),
                "Northwind Bank Ltd., 12th Floor, One BKC, Bandra Kurla Complex, Mumbai 400051. \
                 CIN U65190MH2019PLC123456.",
            ),
            text_el(
                "p",
                json!({"class": "grievance"}),
                format!("Grievance officer: {} · {} · {}", officer.full_name(), officer.email, officer.phone),
            ),
            text_el("p", json!({"class": "build-info"}), build),
        ],
    )
}

const TXN_COLUMNS: [&str; 7] = ["Date", "Description", "Reference", "Counterparty", "Instrument", "Amount", "IP"];
const MERCHANTS: &[&str] = &[
    "Swiggy",
    "Zomato",
    "BigBasket",
    "Amazon Pay",
    "Flipkart",
    "Uber India",
    "Tesco Stores",
    "Sainsbury's",
    "Whole Foods Market",
    "REWE Markt",
    "Deutsche Bahn",
    "IRCTC",
    "Reliance Digital",
];

fn statement_section(rng: &mut Rng, p: &Person, idx: usize, rows: usize, now_ms: u64) -> Value {
    let account = digits(rng, 12);
    let heading = format!("Statement for account XXXXXXXX{}", account.get(8..).unwrap_or_default());
    let head_cells = TXN_COLUMNS.iter().map(|&c| text_el("th", json!({"scope": "col"}), c)).collect();
    let body_rows = (0..rows).map(|_| transaction_row(rng, p, now_ms)).collect();
    el(
        "section",
        json!({"class": "card statement", "id": format!("statement-{idx}")}),
        vec![
            text_el("h2", json!({}), heading),
            el(
                "table",
                json!({"class": "table table-striped transactions", "data-account": account}),
                vec![el("thead", json!({}), vec![el("tr", json!({}), head_cells)]), el("tbody", json!({}), body_rows)],
            ),
        ],
    )
}

fn transaction_row(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let counterparty = Person::random(rng);
    let ts = now_ms.saturating_sub(rng.u64(60_000..90 * 86_400_000));
    let (description, instrument) = match rng.u8(0..5) {
        0 => (
            format!(
                "UPI/DR/{}/{}/{}",
                digits(rng, 12),
                upi_id(rng, &counterparty),
                pick(rng, &["Groceries", "Rent", "Dinner"])
            ),
            upi_id(rng, p),
        ),
        1 => (
            format!("NEFT-{}-{}-{}", ifsc(rng), counterparty.full_name().to_uppercase(), digits(rng, 6)),
            format!("A/c {}", digits(rng, 14)),
        ),
        2 => (format!("POS {} {}", pick(rng, MERCHANTS).to_uppercase(), address(rng, p.locale).city), masked_card(rng)),
        3 => (format!("SEPA credit from {} IBAN {}", counterparty.full_name(), iban(rng)), iban(rng)),
        // Some legacy statement renderers still print the full card number.
        _ => (format!("Card payment {} ref {}", pick(rng, MERCHANTS), order_id(rng)), card_number(rng)),
    };
    let cells = [
        format_datetime(ts),
        description,
        uuid(rng),
        counterparty.full_name(),
        instrument,
        money_text(rng, p.locale),
        ipv4(rng),
    ];
    el(
        "tr",
        json!({"class": "txn-row", "data-txn-id": uuid(rng), "data-ts": ts.to_string()}),
        cells.into_iter().map(|cell| text_el("td", json!({}), cell)).collect(),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------------------------------------------

const INDIAN_STATES: &[&str] = &[
    "Andhra Pradesh",
    "Arunachal Pradesh",
    "Assam",
    "Bihar",
    "Chhattisgarh",
    "Goa",
    "Gujarat",
    "Haryana",
    "Himachal Pradesh",
    "Jharkhand",
    "Karnataka",
    "Kerala",
    "Madhya Pradesh",
    "Maharashtra",
    "Manipur",
    "Meghalaya",
    "Mizoram",
    "Nagaland",
    "Odisha",
    "Punjab",
    "Rajasthan",
    "Sikkim",
    "Tamil Nadu",
    "Telangana",
    "Tripura",
    "Uttar Pradesh",
    "Uttarakhand",
    "West Bengal",
    "Delhi",
    "Jammu and Kashmir",
    "Ladakh",
    "Puducherry",
];
const COUNTRIES: &[&str] = &[
    "India",
    "United States",
    "United Kingdom",
    "Germany",
    "Australia",
    "Austria",
    "Bangladesh",
    "Belgium",
    "Brazil",
    "Canada",
    "China",
    "Denmark",
    "Egypt",
    "Finland",
    "France",
    "Indonesia",
    "Ireland",
    "Italy",
    "Japan",
    "Kenya",
    "Malaysia",
    "Mexico",
    "Nepal",
    "Netherlands",
    "New Zealand",
    "Nigeria",
    "Norway",
    "Pakistan",
    "Philippines",
    "Poland",
    "Portugal",
    "Qatar",
    "Saudi Arabia",
    "Singapore",
    "South Africa",
    "Spain",
    "Sri Lanka",
    "Sweden",
    "Switzerland",
    "United Arab Emirates",
];
const ID_TYPES: &[&str] = &["PAN card", "Aadhaar", "Passport", "Driving licence", "Voter ID", "National ID card"];
const OCCUPATIONS: &[&str] = &[
    "Salaried (private sector)",
    "Salaried (government)",
    "Self-employed professional",
    "Business owner",
    "Student",
    "Retired",
    "Homemaker",
];
const INCOME_BANDS: &[&str] =
    &["Below ₹2.5 lakh", "₹2.5–5 lakh", "₹5–10 lakh", "₹10–25 lakh", "₹25 lakh – ₹1 crore", "Above ₹1 crore"];
const GENDERS: &[&str] = &["Select", "Female", "Male", "Non-binary", "Prefer not to say"];

/// Static description of one text-like input.
#[derive(Clone, Copy)]
struct Spec {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
}

const fn spec(name: &'static str, label: &'static str, kind: &'static str, autocomplete: &'static str) -> Spec {
    Spec { name, label, kind, autocomplete }
}

fn label(for_id: &str, content: &str) -> Value {
    text_el("label", json!({"for": for_id, "class": "form-label"}), content)
}

/// Label plus input, in the wrapper markup design systems emit. Design systems mirror the value into data-*
/// attributes for their validation code, which is how PII ends up there too.
fn field_group(form: &str, spec: Spec, value: String, placeholder: String) -> Value {
    let id = format!("{form}-{}", spec.name);
    let password = spec.kind == "password";
    // rrweb masks password inputs by default: the recorded value is one asterisk per character.
    let value = if password { "*".repeat(value.chars().count()) } else { value };
    let class = if password { "form-control password-field" } else { "form-control" };
    let mut attributes = json!({
        "type": spec.kind,
        "name": spec.name,
        "id": id,
        "class": class,
        "placeholder": placeholder,
        "value": value,
        "autocomplete": spec.autocomplete,
        "aria-label": spec.label,
        "required": "",
        "data-testid": format!("{id}-input"),
        "data-field": spec.name,
    });
    if !password && !value.is_empty() {
        set_field(&mut attributes, "data-initial-value", value.into());
    }
    el(
        "div",
        json!({"class": "form-group", "data-field-group": spec.name}),
        vec![label(&id, spec.label), void_el("input", attributes)],
    )
}

/// rrweb records the selected option as `selected: true` and the select's current value as an attribute.
fn select_group(form: &str, name: &str, label_text: &str, options: &[&str], selected: usize) -> Value {
    let id = format!("{form}-{name}");
    let option_nodes = options
        .iter()
        .enumerate()
        .map(|(i, &option)| {
            let mut attributes = json!({"value": option.to_lowercase().replace(' ', "-")});
            if i == selected {
                set_field(&mut attributes, "selected", true.into());
            }
            text_el("option", attributes, option)
        })
        .collect();
    let value = options.get(selected).copied().unwrap_or_default();
    let attributes = json!({
        "name": name,
        "id": id,
        "class": "form-select",
        "aria-label": label_text,
        "value": value,
        "data-field": name,
    });
    el("div", json!({"class": "form-group"}), vec![label(&id, label_text), el("select", attributes, option_nodes)])
}

/// rrweb stores a textarea's content in its `value` attribute, not as a child text node.
fn textarea_group(form: &str, name: &str, label_text: &str, value: String) -> Value {
    let id = format!("{form}-{name}");
    let attributes = json!({"name": name, "id": id, "class": "form-control", "rows": "3", "value": value});
    el("div", json!({"class": "form-group"}), vec![label(&id, label_text), void_el("textarea", attributes)])
}

fn checkbox_group(form: &str, name: &str, label_text: &str, checked: bool) -> Value {
    let id = format!("{form}-{name}");
    let mut attributes =
        json!({"type": "checkbox", "name": name, "id": id, "class": "form-check-input", "value": "on"});
    if checked {
        set_field(&mut attributes, "checked", true.into());
    }
    el("div", json!({"class": "form-check"}), vec![void_el("input", attributes), label(&id, label_text)])
}

/// Wraps the fields in a `<form>` whose action URL leaks the applicant's email, as many real ones do.
fn form_shell(rng: &mut Rng, form: &str, title: &str, p: &Person, fields: Vec<Value>) -> Value {
    let action =
        format!("/api/v2/forms/{form}/submit?applicant={}&email={}&channel=web", uuid(rng), url_encode(&p.email));
    let mut fieldset = Vec::with_capacity(fields.len() + 1);
    fieldset.push(text_el("legend", json!({"class": "visually-hidden"}), title));
    fieldset.extend(fields);
    let actions = vec![
        text_el(
            "button",
            json!({"type": "submit", "class": "btn btn-primary", "id": format!("{form}-submit")}),
            "Continue",
        ),
        text_el(
            "button",
            json!({"type": "button", "class": "btn btn-link", "data-action": "save-draft"}),
            "Save and finish later",
        ),
    ];
    el(
        "form",
        json!({
            "id": form,
            "class": "tf-form needs-validation",
            "method": "post",
            "action": action,
            "novalidate": "",
            "data-form-id": uuid(rng),
        }),
        vec![
            text_el("h2", json!({"class": "form-title"}), title),
            text_el("p", json!({"class": "form-intro"}), pii_sentence(rng, p)),
            el("fieldset", json!({"class": "form-fields"}), fieldset),
            el("div", json!({"class": "form-actions"}), actions),
        ],
    )
}

fn account_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("account-{idx}");
    let example = Person::random(rng);
    let password = format!("{}{}!{}", p.first, rng.u16(10..10_000), upper(rng, 2));
    let gender = rng.usize(1..GENDERS.len());
    let fields = vec![
        field_group(
            &form,
            spec("first_name", "First name", "text", "given-name"),
            p.first.to_owned(),
            format!("e.g. {}", example.first),
        ),
        field_group(
            &form,
            spec("last_name", "Last name", "text", "family-name"),
            p.last.to_owned(),
            format!("e.g. {}", example.last),
        ),
        field_group(&form, spec("email", "Email address", "email", "email"), p.email.clone(), example.email.clone()),
        field_group(&form, spec("mobile", "Mobile number", "tel", "tel"), p.phone.clone(), example.phone.clone()),
        field_group(
            &form,
            spec("dob", "Date of birth", "date", "bday"),
            iso_date_of_birth(rng),
            "YYYY-MM-DD".to_owned(),
        ),
        select_group(&form, "gender", "Gender", GENDERS, gender),
        field_group(
            &form,
            spec("password", "Create password", "password", "new-password"),
            password.clone(),
            String::new(),
        ),
        field_group(
            &form,
            spec("password_confirm", "Confirm password", "password", "new-password"),
            password,
            String::new(),
        ),
        field_group(&form, spec("pan", "PAN", "text", "off"), pan(rng, p.last), pan(rng, example.last)),
        field_group(&form, spec("aadhaar", "Aadhaar number", "text", "off"), aadhaar(rng), "XXXX XXXX XXXX".to_owned()),
        field_group(
            &form,
            spec("nominee", "Nominee name", "text", "off"),
            example.full_name(),
            "Full name of nominee".to_owned(),
        ),
        checkbox_group(&form, "terms", "I agree to the terms and conditions", true),
    ];
    form_shell(rng, &form, "Open a savings account", p, fields)
}

fn kyc_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("kyc-{idx}");
    let home = address(rng, p.locale);
    let example = address(rng, p.locale);
    let region = if p.locale == Locale::India {
        let selected = INDIAN_STATES.iter().position(|&s| s == home.region).unwrap_or(0);
        select_group(&form, "state", "State", INDIAN_STATES, selected)
    } else {
        field_group(
            &form,
            spec("region", "County / state", "text", "address-level1"),
            home.region.to_owned(),
            String::new(),
        )
    };
    let country = COUNTRIES.iter().position(|&c| c == home.country).unwrap_or(0);
    let (id_type, id_number) = match p.locale {
        Locale::India => (0, pan(rng, p.last)),
        _ => (2, format!("{}{}", rng.uppercase(), digits(rng, 8))),
    };
    let occupation = rng.usize(..OCCUPATIONS.len());
    let income = rng.usize(..INCOME_BANDS.len());
    let fields = vec![
        field_group(
            &form,
            spec("address_line1", "Address line 1", "text", "address-line1"),
            home.line1.clone(),
            example.line1,
        ),
        field_group(
            &form,
            spec("address_line2", "Landmark", "text", "address-line2"),
            "Near City Mall".to_owned(),
            String::new(),
        ),
        field_group(
            &form,
            spec("city", "City", "text", "address-level2"),
            home.city.to_owned(),
            example.city.to_owned(),
        ),
        region,
        field_group(
            &form,
            spec("postal_code", "PIN / postcode", "text", "postal-code"),
            home.postal.clone(),
            example.postal,
        ),
        select_group(&form, "country", "Country of residence", COUNTRIES, country),
        select_group(&form, "id_type", "Identity document", ID_TYPES, id_type),
        field_group(&form, spec("id_number", "Document number", "text", "off"), id_number, String::new()),
        field_group(&form, spec("aadhaar", "Aadhaar number", "text", "off"), aadhaar(rng), "1234 5678 9012".to_owned()),
        select_group(&form, "occupation", "Occupation", OCCUPATIONS, occupation),
        select_group(&form, "income", "Annual income", INCOME_BANDS, income),
        textarea_group(&form, "source_of_funds", "Source of funds", paragraph_text(rng, p)),
        checkbox_group(&form, "pep", "I am a politically exposed person", false),
        field_group(&form, spec("id_proof", "Upload proof of address", "file", "off"), String::new(), String::new()),
    ];
    form_shell(rng, &form, "Verify your identity (KYC)", p, fields)
}

fn payment_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("payment-{idx}");
    let example = Person::random(rng);
    let expiry = format!("{:02}/{}", rng.u8(1..=12), rng.u8(25..=32));
    let account_len = rng.usize(9..=16);
    let fields = vec![
        field_group(
            &form,
            spec("cc_name", "Name on card", "text", "cc-name"),
            p.full_name().to_uppercase(),
            "NAME AS ON CARD".to_owned(),
        ),
        field_group(
            &form,
            spec("card_number", "Card number", "text", "cc-number"),
            card_number(rng),
            "1234 5678 9012 3456".to_owned(),
        ),
        field_group(&form, spec("cc_exp", "Expiry", "text", "cc-exp"), expiry, "MM/YY".to_owned()),
        field_group(&form, spec("cvv", "CVV", "password", "cc-csc"), digits(rng, 3), "CVV".to_owned()),
        field_group(
            &form,
            spec("billing_email", "Billing email", "email", "email"),
            p.email.clone(),
            example.email.clone(),
        ),
        field_group(
            &form,
            spec("upi_id", "UPI ID", "text", "off"),
            upi_id(rng, p),
            format!("e.g. {}", upi_id(rng, &example)),
        ),
        field_group(
            &form,
            spec("account_number", "Beneficiary account number", "text", "off"),
            digits(rng, account_len),
            String::new(),
        ),
        field_group(&form, spec("ifsc", "IFSC", "text", "off"), ifsc(rng), "e.g. HDFC0001234".to_owned()),
        field_group(&form, spec("iban", "IBAN (international transfers)", "text", "off"), iban(rng), iban(rng)),
        field_group(
            &form,
            spec("amount", "Amount", "text", "transaction-amount"),
            money_text(rng, p.locale),
            "0.00".to_owned(),
        ),
        textarea_group(&form, "remarks", "Remarks", pii_sentence(rng, p)),
        checkbox_group(&form, "save_card", "Save this card for faster payments", rng.bool()),
    ];
    form_shell(rng, &form, "Fund your account", p, fields)
}

fn address_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("address-{idx}");
    let home = address(rng, p.locale);
    let country = COUNTRIES.iter().position(|&c| c == home.country).unwrap_or(0);
    let fields = vec![
        field_group(&form, spec("full_name", "Full name", "text", "name"), p.full_name(), "As on your ID".to_owned()),
        field_group(
            &form,
            spec("street", "Street address", "text", "street-address"),
            home.line1.clone(),
            String::new(),
        ),
        field_group(&form, spec("city", "City", "text", "address-level2"), home.city.to_owned(), String::new()),
        field_group(
            &form,
            spec("region", "State / region", "text", "address-level1"),
            home.region.to_owned(),
            String::new(),
        ),
        field_group(
            &form,
            spec("postal_code", "Postal code", "text", "postal-code"),
            home.postal.clone(),
            String::new(),
        ),
        select_group(&form, "country", "Country", COUNTRIES, country),
        field_group(&form, spec("phone", "Phone for delivery", "tel", "tel"), p.phone.clone(), String::new()),
        textarea_group(
            &form,
            "instructions",
            "Delivery instructions",
            format!("Deliver to {}. Call {} on arrival.", home.one_line(), p.phone),
        ),
        checkbox_group(&form, "default", "Make this my default address", true),
    ];
    form_shell(rng, &form, "Card delivery address", p, fields)
}

// ---------------------------------------------------------------------------------------------------------------
// Incremental rrweb events
// ---------------------------------------------------------------------------------------------------------------

/// Falls back to the document node (always id 1) so a page without such nodes still yields valid events.
fn pick_id(rng: &mut Rng, ids: &[u64]) -> u64 {
    rng.choice(ids.iter().copied()).unwrap_or(1)
}

/// rrweb batches pointer positions and reports each one's offset (negative, in ms) from the event timestamp.
fn mouse_move(rng: &mut Rng, page: &Page) -> Value {
    let count = rng.usize(3..=12);
    let step = rng.i64(16..80);
    let (mut x, mut y) = (rng.i32(0..1400), rng.i32(0..900));
    let mut positions = Vec::with_capacity(count);
    for i in 0..count {
        x = (x + rng.i32(-60..=60)).clamp(0, 1919);
        y = (y + rng.i32(-40..=40)).clamp(0, 1079);
        let time_offset = -step * (count - 1 - i) as i64;
        positions.push(json!({"x": x, "y": y, "id": pick_id(rng, &page.container_ids), "timeOffset": time_offset}));
    }
    object([("source", 1.into()), ("positions", Value::Array(positions))])
}

/// MouseInteraction types, weighted toward what real sessions are full of: clicks, focus and blur.
const INTERACTIONS: [u8; 14] = [0, 1, 2, 0, 1, 2, 2, 5, 6, 5, 6, 3, 4, 9];

fn mouse_interaction(rng: &mut Rng, page: &Page) -> Value {
    let kind = pick(rng, &INTERACTIONS);
    let id = if rng.bool() { pick_id(rng, &page.input_ids) } else { pick_id(rng, &page.container_ids) };
    json!({"source": 2, "type": kind, "id": id, "x": rng.u32(0..1920), "y": rng.u32(0..1080)})
}

fn scroll(rng: &mut Rng, page: &Page) -> Value {
    // Most scrolling is the window itself, which rrweb reports against the document node.
    let id = if rng.u8(0..4) == 0 { pick_id(rng, &page.container_ids) } else { 1 };
    json!({"source": 3, "id": id, "x": 0, "y": rng.u32(0..9000)})
}

fn viewport_resize(rng: &mut Rng) -> Value {
    json!({"source": 4, "width": rng.u32(360..1920), "height": rng.u32(640..1080)})
}

/// A focus followed by one Input event per keystroke burst. rrweb reports the whole current value each time, so
/// prefixes of the PII show up before the complete value. Emits at most `budget` events.
fn typing(rng: &mut Rng, page: &Page, p: &Person, t: &mut u64, budget: usize, out: &mut Vec<Value>) {
    let Some(id) = rng.choice(page.input_ids.iter().copied()) else {
        out.push(incremental(mouse_move(rng, page), *t));
        return;
    };
    let (_, value) = typed_pii(rng, p);
    let len = value.chars().count();
    let focus = budget > 1;
    let strokes = rng.usize(1..=5).min(budget - usize::from(focus));
    if focus {
        out.push(incremental(json!({"source": 2, "type": 5, "id": id, "x": 0, "y": 0}), *t));
    }
    for stroke in 1..=strokes {
        *t += rng.u64(60..260);
        let typed: String = value.chars().take(len * stroke / strokes).collect();
        out.push(incremental(
            json!({"source": 5, "text": typed, "isChecked": false, "userTriggered": true, "id": id}),
            *t,
        ));
    }
}

/// A Mutation event. `toasts` holds (parent, id) of transient nodes added earlier in the batch, so they can be
/// removed again the way notifications disappear.
fn mutation(rng: &mut Rng, page: &mut Page, p: &Person, toasts: &mut Vec<(u64, u64)>) -> Value {
    let mut texts = Vec::new();
    let mut attributes = Vec::new();
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    match rng.u8(0..4) {
        0 => {
            for _ in 0..rng.usize(1..=3) {
                if let Some(id) = rng.choice(page.text_ids.iter().copied()) {
                    texts.push(json!({"id": id, "value": pii_sentence(rng, p)}));
                }
            }
        }
        1 => {
            for _ in 0..rng.usize(1..=3) {
                attributes.push(attribute_change(rng, page, p));
            }
        }
        2 => {
            let parent = pick_id(rng, &page.container_ids);
            let node = added_content(rng, p);
            add_subtree(node, parent, page, true, &mut adds);
        }
        _ => {}
    }
    if !toasts.is_empty() && rng.bool() {
        let (parent_id, id) = toasts.swap_remove(0);
        removes.push(json!({"parentId": parent_id, "id": id}));
    }
    if texts.is_empty() && attributes.is_empty() && adds.is_empty() && removes.is_empty() {
        let parent = pick_id(rng, &page.container_ids);
        let node = toast(rng, p);
        // Toasts are not recorded in `page`: they are removed again, and later events must not target them.
        toasts.push((parent, page.next_id));
        add_subtree(node, parent, page, false, &mut adds);
    }
    object([
        ("source", 0.into()),
        ("texts", Value::Array(texts)),
        ("attributes", Value::Array(attributes)),
        ("removes", Value::Array(removes)),
        ("adds", Value::Array(adds)),
    ])
}

fn attribute_change(rng: &mut Rng, page: &Page, p: &Person) -> Value {
    let (id, attributes) = match rng.u8(0..5) {
        0 => (pick_id(rng, &page.input_ids), json!({"class": "form-control is-invalid", "aria-invalid": "true"})),
        1 => (pick_id(rng, &page.input_ids), json!({"value": typed_pii(rng, p).1})),
        2 => {
            let style = format!("transform: translateY({}px); opacity: 0.{};", rng.u16(0..400), rng.u8(1..10));
            (pick_id(rng, &page.container_ids), json!({ "style": style }))
        }
        3 => {
            let updated = 1_700_000_000_000 + rng.u64(..40_000_000_000);
            let attributes = json!({"data-customer-email": p.email, "data-updated-at": updated.to_string()});
            (pick_id(rng, &page.container_ids), attributes)
        }
        // A null value is how rrweb reports a removed attribute.
        _ => {
            let attributes = json!({"class": "panel is-expanded", "aria-expanded": "true", "hidden": null});
            (pick_id(rng, &page.container_ids), attributes)
        }
    };
    object([("id", id.into()), ("attributes", attributes)])
}

/// Something the app renders after load that stays: an extra field, a validation message or a list item.
fn added_content(rng: &mut Rng, p: &Person) -> Value {
    match rng.u8(0..3) {
        0 => {
            let form = format!("dyn-{}", hex(rng, 6));
            let (name, value) = typed_pii(rng, p);
            field_group(&form, spec(name, "Additional detail", "text", "off"), value, String::new())
        }
        1 => text_el("div", json!({"class": "invalid-feedback d-block", "role": "alert"}), pii_sentence(rng, p)),
        _ => text_el("li", json!({"class": "list-group-item", "data-id": uuid(rng)}), pii_sentence(rng, p)),
    }
}

fn toast(rng: &mut Rng, p: &Person) -> Value {
    el(
        "div",
        json!({"class": "toast show", "role": "alert", "aria-live": "assertive", "data-toast-id": uuid(rng)}),
        vec![
            text_el(
                "strong",
                json!({"class": "toast-title"}),
                pick(rng, &["Saved", "OTP sent", "Payment received", "Verified"]),
            ),
            text_el("span", json!({"class": "toast-body"}), pii_sentence(rng, p)),
            text_el("button", json!({"type": "button", "class": "btn-close", "aria-label": "Close"}), "×"),
        ],
    )
}

/// Numbers a new subtree from `page.next_id` and appends it to `adds` as rrweb does: one entry per node, each
/// serialized without children and pointing at its parent.
fn add_subtree(mut node: Value, parent: u64, page: &mut Page, track: bool, adds: &mut Vec<Value>) {
    assign_ids(&mut node, Role::Container, page, track);
    flatten_adds(node, parent, None, adds);
}

fn flatten_adds(node: Value, parent_id: u64, next_id: Option<u64>, adds: &mut Vec<Value>) {
    let Value::Object(mut fields) = node else { return };
    let id = fields.get("id").and_then(Value::as_u64).unwrap_or_default();
    let children = match fields.get_mut("childNodes") {
        Some(Value::Array(children)) => std::mem::take(children),
        _ => Vec::new(),
    };
    let next = next_id.map_or(Value::Null, Value::from);
    adds.push(object([("parentId", parent_id.into()), ("nextId", next), ("node", Value::Object(fields))]));
    let sibling_ids: Vec<Option<u64>> = children.iter().map(|child| child.get("id").and_then(Value::as_u64)).collect();
    for (i, child) in children.into_iter().enumerate() {
        flatten_adds(child, id, sibling_ids.get(i + 1).copied().flatten(), adds);
    }
}

fn custom_replay_event(rng: &mut Rng, p: &Person, ts: u64) -> Value {
    let payload = json!({
        "step": pick(rng, &["details", "kyc", "payment", "address"]),
        "customer_email": p.email,
        "order_id": order_id(rng),
        "amount": money_value(rng),
        "experiment": uuid(rng),
    });
    let tag = pick(rng, &["checkout-step", "kyc-status", "feature-flag"]);
    replay_event(5, object([("tag", tag.into()), ("payload", payload)]), ts)
}

// ---------------------------------------------------------------------------------------------------------------
// Analytics events
// ---------------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    Pageview,
    Click,
    Scroll,
    Input,
    Error,
    Network,
    Custom,
}

const EVENT_KINDS: [EventKind; 7] = [
    EventKind::Pageview,
    EventKind::Click,
    EventKind::Scroll,
    EventKind::Input,
    EventKind::Error,
    EventKind::Network,
    EventKind::Custom,
];

impl EventKind {
    fn name(self) -> &'static str {
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

fn analytics_event(rng: &mut Rng, kind: EventKind, ts: u64, p: &Person, url: &str) -> Value {
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

const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://mail.google.com/",
    "https://www.bing.com/search?q=open+savings+account+online",
    "",
    "https://t.co/x1Yz9Qa",
    "android-app://com.google.android.gm/",
];

fn pageview_fields(rng: &mut Rng, p: &Person, url: &str) -> Value {
    let title = format!("Open an account – {} | Northwind Bank", p.full_name());
    json!({"url": url, "title": title, "referrer": pick(rng, REFERRERS)})
}

fn click_fields(rng: &mut Rng, p: &Person) -> Value {
    let (selector, label) = match rng.u8(0..5) {
        0 => ("#account-0-submit".to_owned(), "Continue".to_owned()),
        1 => ("a.nav-link[data-track=statements]".to_owned(), "Statements".to_owned()),
        2 => ("button.btn-primary".to_owned(), format!("Pay {} to {}", money_text(rng, p.locale), upi_id(rng, p))),
        3 => (format!("tr.txn-row[data-txn-id=\"{}\"] > td:nth-child(2)", uuid(rng)), pii_sentence(rng, p)),
        _ => (".user-menu > .user-email".to_owned(), p.email.clone()),
    };
    json!({"selector": selector, "text": label, "x": rng.u32(0..1920), "y": rng.u32(0..6000)})
}

fn scroll_fields(rng: &mut Rng) -> Value {
    json!({"y": rng.u32(0..9000), "depth_pct": rng.u8(0..=100)})
}

fn input_fields(rng: &mut Rng, p: &Person) -> Value {
    let (name, value) = typed_pii(rng, p);
    json!({"selector": format!("input[name={name}]"), "value": value})
}

fn error_fields(rng: &mut Rng, p: &Person) -> Value {
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

const STATUSES: &[u16] = &[200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 422, 500, 502, 503];

fn network_fields(rng: &mut Rng, p: &Person) -> Value {
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

const CUSTOM_EVENTS: &[&str] =
    &["checkout_started", "kyc_submitted", "otp_requested", "beneficiary_added", "card_saved", "loan_quote_viewed"];

fn custom_fields(rng: &mut Rng, p: &Person) -> Value {
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
