//! Seeded generators for PII tests and the scan benchmark: labeled PII values of every built-in kind, the
//! sentences and JSON fields they hide in, look-alikes that are not PII, and rrweb-style batches.
//!
//! Check digits (Luhn, Verhoeff, mod-97, GSTIN) are computed here independently of the engine, so a bug in the
//! engine's validators shows up as lost recall instead of being mirrored by the generator.

#![allow(dead_code)]

use serde_json::{json, Value};
use traceflow_pii::{token_text, Entity, TokenKey, Tokens};

/// A deterministic vault stand-in: convergent tokens and hashes with a fixed key.
pub(crate) struct TestTokens {
    pub tokenized: Vec<(String, String)>,
    key: TokenKey,
}

impl Default for TestTokens {
    fn default() -> Self {
        TestTokens { tokenized: Vec::new(), key: TokenKey::new(&[7; 32]) }
    }
}

impl Tokens for TestTokens {
    fn tokenize(&mut self, entity: &str, original: &str) -> String {
        self.tokenized.push((entity.to_string(), original.to_string()));
        token_text(&self.key, "tok", entity, original)
    }

    fn hash(&mut self, entity: &str, original: &str) -> String {
        token_text(&self.key, "hash", entity, original)
    }
}

/// One planted value in a text.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub entity: Entity,
    pub text: String,
    /// Byte range of the value in `text`.
    pub start: usize,
    pub end: usize,
}

impl Sample {
    pub(crate) fn value(&self) -> &str {
        &self.text[self.start..self.end]
    }
}

pub(crate) struct Gen {
    pub rng: fastrand::Rng,
}

pub(crate) const FIRST: &[&str] = &[
    "Priya", "Rahul", "Ananya", "Arjun", "Sneha", "Vikram", "Deepa", "Ramesh", "Lakshmi", "Karthik", "John", "Mary",
    "James", "Jennifer", "Michael", "Sarah", "David", "Emma", "Oliver", "Sophie", "Lukas", "Anna", "Felix", "Julia",
    "Stefan", "Monika",
];
pub(crate) const LAST: &[&str] = &[
    "Sharma",
    "Patel",
    "Iyer",
    "Reddy",
    "Nair",
    "Gupta",
    "Singh",
    "Mukherjee",
    "Kulkarni",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Miller",
    "Schmidt",
    "Fischer",
    "Weber",
    "Wagner",
];
const UPI: &[&str] = &["okaxis", "ybl", "paytm", "upi", "oksbi", "okhdfcbank", "ibl", "axl", "okicici", "apl"];
const DOMAINS: &[&str] =
    &["gmail.com", "example.co.in", "firma.de", "mail.example.org", "yahoo.co.uk", "corp.example.com", "outlook.in"];
const BANKS: &[&str] = &["SBIN", "HDFC", "ICIC", "UTIB", "KKBK", "PUNB", "BARB", "CNRB", "YESB", "IDIB"];

pub(crate) fn luhn_complete(body: &str) -> String {
    let mut sum = 0;
    for (i, c) in body.bytes().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

const VD: [[usize; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VP: [[usize; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const VINV: [usize; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

pub(crate) fn verhoeff_complete(body: &str) -> String {
    let mut c = 0;
    for (i, b) in body.bytes().rev().enumerate() {
        c = VD[c][VP[(i + 1) % 8][usize::from(b - b'0')]];
    }
    format!("{body}{}", VINV[c])
}

fn mod97(s: &str) -> u32 {
    s.bytes().fold(0u32, |r, c| match c {
        b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
        _ => (r * 100 + u32::from(c - b'A') + 10) % 97,
    })
}

pub(crate) fn iban_complete(country: &str, bban: &str) -> String {
    let check = 98 - mod97(&format!("{bban}{country}00"));
    format!("{country}{check:02}{bban}")
}

pub(crate) fn gstin_complete(first14: &str) -> String {
    const B36: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut sum = 0;
    for (i, c) in first14.bytes().enumerate() {
        let v = B36.iter().position(|&b| b == c).unwrap() as u32;
        let p = v * if i % 2 == 0 { 1 } else { 2 };
        sum += p / 36 + p % 36;
    }
    format!("{first14}{}", B36[((36 - sum % 36) % 36) as usize] as char)
}

pub(crate) fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    base64url(bytes).replace('-', "+").replace('_', "/")
}

impl Gen {
    pub(crate) fn new(seed: u64) -> Gen {
        Gen { rng: fastrand::Rng::with_seed(seed) }
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.usize(..items.len())]
    }

    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.rng.u8(0..10))).collect()
    }

    fn upper(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(self.rng.u8(b'A'..=b'Z'))).collect()
    }

    fn group(digits: &str, sizes: &[usize], sep: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (i, &s) in sizes.iter().enumerate() {
            if at >= digits.len() {
                break;
            }
            if i > 0 {
                out.push_str(sep);
            }
            let end = (at + s).min(digits.len());
            out.push_str(&digits[at..end]);
            at = end;
        }
        if at < digits.len() {
            out.push_str(sep);
            out.push_str(&digits[at..]);
        }
        out
    }

    /// A card number of a brand and length, formatted with spaces, dashes or nothing.
    pub(crate) fn card(&mut self) -> String {
        let (prefix, len): (String, usize) = match self.rng.u8(0..8) {
            0 => ("4".into(), self.rng.usize(13..=19)),
            1 => (
                if self.rng.bool() {
                    format!("5{}", self.rng.u8(1..=5))
                } else {
                    format!("{}", self.rng.u32(2221..=2720))
                },
                16,
            ),
            2 => (if self.rng.bool() { "34" } else { "37" }.into(), 15),
            3 => (self.pick(&["6011", "65", "644", "649"]).into(), self.rng.usize(16..=19)),
            4 => (self.pick(&["60", "65", "81", "82", "508", "353", "356"]).into(), 16),
            5 => (self.pick(&["5018", "5020", "5038", "6304", "6759"]).into(), self.rng.usize(13..=19)),
            6 => (self.pick(&["36", "38", "300", "305"]).into(), self.rng.usize(14..=19)),
            _ => ("4".into(), 16),
        };
        let body = format!("{prefix}{}", self.digits(len - 1 - prefix.len()));
        let number = luhn_complete(&body);
        let sep = self.pick(&[" ", "-", ""]);
        if sep.is_empty() {
            number
        } else if len == 15 && prefix.starts_with('3') && !prefix.starts_with("30") {
            Gen::group(&number, &[4, 6, 5], sep)
        } else {
            Gen::group(&number, &[4, 4, 4, 4, 4], sep)
        }
    }

    pub(crate) fn aadhaar(&mut self, grouped: bool) -> String {
        let body = format!("{}{}", self.rng.u8(2..=9), self.digits(10));
        let full = verhoeff_complete(&body);
        if grouped {
            Gen::group(&full, &[4, 4, 4], self.pick(&[" ", "-"]))
        } else {
            full
        }
    }

    pub(crate) fn iban(&mut self) -> String {
        let (country, bban) = match self.rng.u8(0..8) {
            0 => ("DE", self.digits(18)),
            1 => ("GB", format!("{}{}", self.upper(4), self.digits(14))),
            2 => ("FR", format!("{}{}{}", self.digits(10), self.upper(1), self.digits(12))),
            3 => ("ES", self.digits(20)),
            4 => ("IT", format!("{}{}", self.upper(1), self.digits(22))),
            5 => ("NL", format!("{}{}", self.upper(4), self.digits(10))),
            6 => ("CH", self.digits(17)),
            _ => ("AE", self.digits(19)),
        };
        let iban = iban_complete(country, &bban);
        if self.rng.bool() {
            Gen::group(&iban, &[4; 9], " ")
        } else {
            iban
        }
    }

    pub(crate) fn pan(&mut self) -> String {
        let holder = self.pick(&["P", "C", "H", "F", "A", "T"]);
        format!("{}{holder}{}{:04}{}", self.upper(3), self.upper(1), self.rng.u32(1..10000), self.upper(1))
    }

    pub(crate) fn gstin(&mut self) -> String {
        let first14 = format!("{:02}{}{}Z", self.rng.u8(1..=37), self.pan(), self.rng.u8(1..=9));
        gstin_complete(&first14)
    }

    pub(crate) fn ifsc(&mut self) -> String {
        format!("{}0{}", self.pick(BANKS), self.digits(6))
    }

    pub(crate) fn upi(&mut self) -> String {
        let local = if self.rng.bool() {
            format!("{}{}", self.pick(FIRST).to_lowercase(), self.rng.u16(1..999))
        } else {
            format!("{}{}", self.rng.u8(6..=9), self.digits(9))
        };
        format!("{local}@{}", self.pick(UPI))
    }

    pub(crate) fn indian_mobile(&mut self) -> (String, bool) {
        let n = format!("{}{}", self.rng.u8(6..=9), self.digits(9));
        match self.rng.u8(0..6) {
            0 => (format!("+91 {} {}", &n[..5], &n[5..]), false),
            1 => (format!("+91-{n}"), false),
            2 => (format!("+91{n}"), false),
            3 => (format!("0{n}"), false),
            4 => (format!("{} {}", &n[..5], &n[5..]), false),
            _ => (n, true),
        }
    }

    fn nanp(&mut self) -> String {
        format!("{}{}{}{}", self.rng.u8(2..=9), self.digits(2), self.rng.u8(2..=9), self.digits(6))
    }

    pub(crate) fn us_phone(&mut self) -> String {
        let n = self.nanp();
        let (a, b, c) = (&n[..3], &n[3..6], &n[6..]);
        match self.rng.u8(0..6) {
            0 => format!("({a}) {b}-{c}"),
            1 => format!("{a}-{b}-{c}"),
            2 => format!("+1 {a} {b} {c}"),
            3 => format!("+1-{a}-{b}-{c}"),
            4 => format!("{a}.{b}.{c}"),
            _ => format!("1-{a}-{b}-{c}"),
        }
    }

    pub(crate) fn uk_phone(&mut self) -> String {
        match self.rng.u8(0..5) {
            0 => format!("+44 20 {} {}", self.digits(4), self.digits(4)),
            1 => format!("+44 7{} {}", self.digits(3), self.digits(6)),
            2 => format!("07{} {}", self.digits(3), self.digits(6)),
            3 => format!("020 {} {}", self.digits(4), self.digits(4)),
            _ => format!("+44 (0)20 {} {}", self.digits(4), self.digits(4)),
        }
    }

    pub(crate) fn de_phone(&mut self) -> String {
        match self.rng.u8(0..5) {
            0 => format!("+49 30 {}", self.digits(8)),
            1 => format!("+49 (0)30 {} {}", self.digits(4), self.digits(4)),
            2 => format!("030 {}", self.digits(8)),
            3 => format!("+49 151 {}", self.digits(8)),
            _ => format!("0151 {}", self.digits(8)),
        }
    }

    pub(crate) fn ssn(&mut self, grouped: bool) -> String {
        let area = loop {
            let a = self.rng.u16(1..900);
            if a != 666 {
                break a;
            }
        };
        let (g, s) = (self.rng.u8(1..100), self.rng.u16(1..10000));
        if grouped {
            format!("{area:03}-{g:02}-{s:04}")
        } else {
            format!("{area:03}{g:02}{s:04}")
        }
    }

    pub(crate) fn email(&mut self) -> String {
        let first = self.pick(FIRST).to_lowercase();
        let last = self.pick(LAST).to_lowercase();
        let local = match self.rng.u8(0..4) {
            0 => format!("{first}.{last}"),
            1 => format!("{first}{}", self.rng.u16(1..2000)),
            2 => format!("{}_{last}", &first[..1]),
            _ => format!("{first}+shop"),
        };
        format!("{local}@{}", self.pick(DOMAINS))
    }

    pub(crate) fn ipv4(&mut self) -> String {
        format!("{}.{}.{}.{}", self.rng.u8(1..=223), self.rng.u8(..), self.rng.u8(..), self.rng.u8(1..=254))
    }

    pub(crate) fn ipv6(&mut self) -> String {
        let groups: Vec<String> = (0..8).map(|_| format!("{:x}", self.rng.u16(..))).collect();
        match self.rng.u8(0..3) {
            0 => groups.join(":"),
            1 => format!("2001:db8::{}:{}", groups[6], groups[7]),
            _ => format!("fe80::{}:{}:{}", groups[5], groups[6], groups[7]),
        }
    }

    pub(crate) fn mac(&mut self) -> String {
        let b: Vec<u8> = (0..6).map(|_| self.rng.u8(..)).collect();
        match self.rng.u8(0..3) {
            0 => b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":"),
            1 => b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join("-"),
            _ => format!("{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]),
        }
    }

    pub(crate) fn jwt(&mut self) -> String {
        let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = base64url(format!(r#"{{"sub":"{}","iat":{}}}"#, self.rng.u32(..), self.rng.u32(..)).as_bytes());
        let sig: Vec<u8> = (0..32).map(|_| self.rng.u8(..)).collect();
        format!("{header}.{payload}.{}", base64url(&sig))
    }

    pub(crate) fn name(&mut self) -> String {
        format!("{} {}", self.pick(FIRST), self.pick(LAST))
    }

    fn place(&self, entity: Entity, template: &str, value: &str) -> Sample {
        let start = template.find("{}").expect("template has a slot");
        let text = template.replacen("{}", value, 1);
        Sample { entity, text, start, end: start + value.len() }
    }

    /// A sentence with one planted value of `entity`.
    pub(crate) fn sample(&mut self, entity: Entity) -> Sample {
        let (value, template) = match entity {
            Entity::Email => (
                self.email(),
                self.pick(&["Please write to {} for help.", "Contact: {}", "sent a copy to {} yesterday", "{}"]),
            ),
            Entity::Phone => {
                let (value, bare) = match self.rng.u8(0..4) {
                    0 => self.indian_mobile(),
                    1 => (self.us_phone(), false),
                    2 => (self.uk_phone(), false),
                    _ => (self.de_phone(), false),
                };
                let template = if bare {
                    self.pick(&["Call me on {} after 6pm", "mobile: {}", "WhatsApp {} for updates"])
                } else {
                    self.pick(&["Reach me at {} anytime.", "{}", "my number is {}, thanks", "Tel. {}"])
                };
                (value, template)
            }
            Entity::Card => {
                (self.card(), self.pick(&["Paid with {} yesterday", "{}", "card ending in {}?", "number {} exp 12/27"]))
            }
            Entity::Iban => (self.iban(), self.pick(&["Transfer to {} please", "IBAN: {}", "{}"])),
            Entity::Ssn => {
                let grouped = self.rng.bool();
                let template = if grouped {
                    self.pick(&["{}", "my number is {}."])
                } else {
                    self.pick(&["SSN {}", "social security: {}"])
                };
                (self.ssn(grouped), template)
            }
            Entity::Aadhaar => {
                let grouped = self.rng.bool();
                let template = if grouped {
                    self.pick(&["{}", "ID proof {} attached"])
                } else {
                    self.pick(&["Aadhaar no. {}", "my aadhar number is {}", "UID: {}"])
                };
                (self.aadhaar(grouped), template)
            }
            Entity::Pan => (self.pan(), self.pick(&["PAN: {}", "{}", "my pan is {}"])),
            Entity::Ifsc => (self.ifsc(), self.pick(&["IFSC {}", "branch {} Mumbai", "{}"])),
            Entity::Upi => (self.upi(), self.pick(&["pay to {}", "UPI: {}", "{} (gpay)"])),
            Entity::Gstin => (self.gstin(), self.pick(&["GSTIN {}", "{}", "our GST no is {}."])),
            Entity::Ip => {
                let value = if self.rng.bool() { self.ipv4() } else { self.ipv6() };
                (value, self.pick(&["login from {} blocked", "{}", "client ip={}"]))
            }
            Entity::Mac => (self.mac(), self.pick(&["device {} connected", "{}"])),
            Entity::Jwt => (self.jwt(), self.pick(&["token {}", "{}", "jwt: {}"])),
            Entity::Name => (self.name(), self.pick(&["Dear {},", "Name: {}", "my name is {} and", "Hello {}!"])),
            Entity::Secret => {
                let value = format!(
                    "{}{}{}",
                    self.pick(&["hunter", "S3cr3t", "Tr0ub4dor", "sk_test_", "xK9"]),
                    self.digits(4),
                    self.upper(3)
                );
                (
                    value,
                    self.pick(&[
                        "password={}",
                        "api_key: \"{}\"",
                        "Authorization: Bearer {}",
                        "{\"client_secret\":\"{}\"}",
                    ]),
                )
            }
            Entity::UrlCredential => {
                if self.rng.bool() {
                    (
                        format!("admin:{}{}", self.pick(&["pa55", "Secr3t", "hunter"]), self.digits(3)),
                        "see https://{}@db.example.com:5432/app",
                    )
                } else {
                    (
                        format!("{}{}", self.upper(6), self.digits(10)),
                        self.pick(&["https://shop.example.com/reset?token={}&lang=en", "/api/v1/me?access_token={}"]),
                    )
                }
            }
            other => panic!("no generator for {other:?}"),
        };
        self.place(entity, template, &value)
    }

    /// Text that looks a bit like PII but is not, with a category label.
    pub(crate) fn negative(&mut self) -> (&'static str, String) {
        match self.rng.u8(0..16) {
            0 => ("timestamp", format!("{}", self.rng.u64(1_600_000_000_000..1_800_000_000_000))),
            1 => (
                "timestamp",
                format!(
                    "ts: {} sent_at={}",
                    self.rng.u64(1_600_000_000_000..1_800_000_000_000),
                    self.rng.u64(1_600_000_000..1_800_000_000)
                ),
            ),
            2 => (
                "id",
                format!(
                    "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                    self.rng.u32(..),
                    self.rng.u16(..),
                    self.rng.u16(..0xfff),
                    self.rng.u16(..0xfff),
                    self.rng.u64(..1 << 48)
                ),
            ),
            3 => (
                "id",
                format!(
                    "Order ORD-2024-{:06} placed, invoice INV/2024/{:05}, ref #{}",
                    self.rng.u32(..1_000_000),
                    self.rng.u32(..100_000),
                    self.rng.u64(100_000_000..10_000_000_000)
                ),
            ),
            4 => ("id", format!("order id {} shipped", self.rng.u64(1_000_000_000..1_000_000_000_000))),
            5 => (
                "price",
                format!(
                    "Total ₹{},{:03}.{:02} incl. GST, was ${}.99",
                    self.rng.u8(1..99),
                    self.rng.u16(..1000),
                    self.rng.u8(..100),
                    self.rng.u16(1..500)
                ),
            ),
            6 => ("coordinates", format!("{:.7}, {:.7}", self.rng.f64() * 90.0, self.rng.f64() * 180.0)),
            7 => (
                "css",
                self.pick(&[
                    "input[type=password]:focus{outline:2px solid #1a73e8;border-color:#4285f4}",
                    ".password-field:hover{color:#333;background:url(/img/lock@2x.png) no-repeat}",
                    "@media (max-width:768px){.col-md-6{width:100%;padding:0 15px}}",
                    "a::before{content:'';transition:all .3s ease-in-out;box-shadow:0 1px 2px rgba(0,0,0,.5)}",
                    "#token-input:focus,#token:hover{font:12px/1.5 'Helvetica Neue',Arial,sans-serif}",
                ])
                .to_string(),
            ),
            8 => (
                "base64",
                format!("data:image/png;base64,{}", base64(&(0..600).map(|_| self.rng.u8(..)).collect::<Vec<u8>>())),
            ),
            9 => ("base64", base64(&(0..300).map(|_| self.rng.u8(..)).collect::<Vec<u8>>())),
            10 => (
                "js",
                self.pick(&[
                    "function(e,t){var n=e.token||t.password;return n?n.length:0}",
                    "a.apiKey=b.key;if(x.pin===y)return!0;var tokens=1024;s.session_id=r.sid",
                    "e.exports={token:function(){return this.t},password:n.password}",
                    "for(var i=0;i<16;i++)r[i]=255&t>>>8*i;return r.join(\":\")",
                ])
                .to_string(),
            ),
            11 => (
                "dom",
                self.pick(&[
                    "col-md-6 mb-3",
                    "btn btn-primary btn-lg",
                    "input-1234",
                    "rr-block",
                    "div",
                    "form-control is-valid",
                    "nav-item dropdown",
                ])
                .to_string(),
            ),
            12 => (
                "version",
                format!(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.{}.{} Safari/537.36 v2.14.3",
                    self.rng.u16(1000..9999),
                    self.rng.u8(1..200)
                ),
            ),
            13 => (
                "date",
                format!(
                    "2024-{:02}-{:02}T10:{:02}:00.000Z",
                    self.rng.u8(1..13),
                    self.rng.u8(1..29),
                    self.rng.u8(0..60)
                ),
            ),
            14 => (
                "hash",
                format!(
                    "sha256 {:016x}{:016x}{:016x}{:016x}",
                    self.rng.u64(..),
                    self.rng.u64(..),
                    self.rng.u64(..),
                    self.rng.u64(..)
                ),
            ),
            _ => {
                ("sku", format!("SKU {} qty 2 x 12345 at 10:30:45", self.rng.u64(8_900_000_000_000..8_909_999_999_999)))
            }
        }
    }
}

/// Entities with a free-text generator.
pub(crate) const GENERATED: [Entity; 16] = [
    Entity::Email,
    Entity::Phone,
    Entity::Card,
    Entity::Iban,
    Entity::Ssn,
    Entity::Aadhaar,
    Entity::Pan,
    Entity::Ifsc,
    Entity::Upi,
    Entity::Gstin,
    Entity::Ip,
    Entity::Mac,
    Entity::Jwt,
    Entity::Name,
    Entity::Secret,
    Entity::UrlCredential,
];

const CSS_RULES: &[&str] = &[
    "body{margin:0;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;font-size:1rem;line-height:1.5;color:#212529;background-color:#fff}",
    ".form-control{display:block;width:100%;padding:.375rem .75rem;font-size:1rem;border:1px solid #ced4da;border-radius:.25rem;transition:border-color .15s ease-in-out,box-shadow .15s ease-in-out}",
    "input[type=password],input[name=password]{letter-spacing:.125em}.password-toggle:hover{cursor:pointer}",
    "@media (min-width:768px){.col-md-6{flex:0 0 50%;max-width:50%}.col-md-4{flex:0 0 33.333333%}}",
    ".btn-primary{color:#fff;background-color:#007bff;border-color:#007bff}.btn-primary:hover{background-color:#0069d9}",
    ".logo{background:url(/static/img/logo@2x.png) no-repeat 0 0/120px 40px}.card{box-shadow:0 .125rem .25rem rgba(0,0,0,.075)}",
    "#email:focus,#phone:focus,#token:focus{outline:0;box-shadow:0 0 0 .2rem rgba(0,123,255,.25)}",
    "@font-face{font-family:Inter;src:url(/fonts/inter-v12-latin-regular.woff2) format('woff2');font-display:swap}",
];

const JS: &str = "!function(e,t){\"use strict\";var n=function(e){return e&&e.__esModule?e:{default:e}};function r(e,t){for(var n=0;n<t.length;n++){var r=t[n];r.enumerable=r.enumerable||!1,r.configurable=!0,\"value\"in r&&(r.writable=!0),Object.defineProperty(e,r.key,r)}}var o={token:null,password:\"\",apiBase:\"/api/v2\",timeout:3e4,retries:3};e.login=function(t){return fetch(o.apiBase+\"/session\",{method:\"POST\",body:JSON.stringify({user:t.user,password:t.password})}).then(function(e){return e.json()})};for(var i=0;i<256;i++)e.table[i]=i*1732265000%97;}(window,document);";

const PRODUCTS: &[&str] = &[
    "Wireless Noise Cancelling Headphones",
    "Organic Darjeeling Tea 250g",
    "Men's Running Shoes",
    "Stainless Steel Water Bottle 1L",
    "Smart LED Bulb (Pack of 4)",
    "Cotton Kurta Set",
    "Laptop Backpack 30L",
];

/// Builds rrweb-style batches: a form-heavy full snapshot with CSS and script text, incremental events and
/// analytics events, planting PII at a low rate. Records what it planted.
pub(crate) struct BatchBuilder {
    pub gen: Gen,
    next_id: u64,
    pub planted: Vec<(Entity, String)>,
    /// One value in `pii_every` text nodes / inputs carries PII.
    pub pii_every: u32,
    pub sensitive_inputs: Vec<u64>,
}

impl BatchBuilder {
    pub(crate) fn new(seed: u64, pii_every: u32) -> BatchBuilder {
        BatchBuilder { gen: Gen::new(seed), next_id: 1, planted: Vec::new(), pii_every, sensitive_inputs: Vec::new() }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn plant(&mut self) -> Option<String> {
        if self.gen.rng.u32(..self.pii_every) != 0 {
            return None;
        }
        let entity =
            [Entity::Email, Entity::Phone, Entity::Card, Entity::Aadhaar, Entity::Pan, Entity::Upi, Entity::Iban]
                [self.gen.rng.usize(..7)];
        let sample = self.gen.sample(entity);
        self.planted.push((entity, sample.value().to_string()));
        Some(sample.text)
    }

    fn text(&mut self, plain: &str) -> Value {
        let content = self.plant().unwrap_or_else(|| plain.to_string());
        json!({"type": 3, "textContent": content, "id": self.id()})
    }

    fn element(&mut self, tag: &str, attributes: Value, children: Vec<Value>) -> Value {
        json!({"type": 2, "tagName": tag, "attributes": attributes, "childNodes": children, "id": self.id()})
    }

    fn field(&mut self, label: &str, kind: &str, name: &str) -> Value {
        let label_node = self.text(label);
        let label_el = self.element("label", json!({"for": name, "class": "form-label"}), vec![label_node]);
        let mut attrs = json!({"type": kind, "class": "form-control", "id": name, "name": name,
            "placeholder": format!("Enter your {}", label.to_lowercase()), "autocomplete": "off"});
        let value = match (kind, name) {
            ("password", _) => Some("hunter2-correct-horse".to_string()),
            ("email", _) => Some(self.gen.email()),
            (_, "mobile") => Some(self.gen.indian_mobile().0),
            _ => self.plant(),
        };
        if let Some(v) = value {
            match (kind, name) {
                ("password", _) => self.planted.push((Entity::Secret, v.clone())),
                ("email", _) => self.planted.push((Entity::Email, v.clone())),
                (_, "mobile") => self.planted.push((Entity::Phone, v.clone())),
                _ => {}
            }
            attrs["value"] = json!(v);
        }
        let input = self.element("input", attrs, vec![]);
        if kind == "password" {
            self.sensitive_inputs.push(input["id"].as_u64().unwrap_or(0));
        }
        self.element("div", json!({"class": "mb-3 col-md-6"}), vec![label_el, input])
    }

    /// A full snapshot of roughly `dom_bytes` of serialized DOM.
    pub(crate) fn snapshot(&mut self, dom_bytes: usize) -> Value {
        let css: String = (0..60).map(|i| CSS_RULES[i % CSS_RULES.len()]).collect::<Vec<_>>().join("\n");
        let css_text = json!({"type": 3, "textContent": css, "isStyle": true, "id": self.id()});
        let style = self.element("style", json!({}), vec![css_text]);
        let js_text = json!({"type": 3, "textContent": JS.repeat(12), "id": self.id()});
        let script = self.element("script", json!({"type": "text/javascript"}), vec![js_text]);
        let title_text = self.text("Checkout | ShopKart");
        let title = self.element("title", json!({}), vec![title_text]);
        let link = self.element("link", json!({"rel": "stylesheet", "href": "/static/css/app.3f9a1c.css"}), vec![]);
        let head = self.element("head", json!({}), vec![title, link, style, script]);
        let mut sections = Vec::new();
        let mut size = 0;
        while size < dom_bytes {
            let mut children = Vec::new();
            for (label, kind, name) in [
                ("Full name", "text", "fullname"),
                ("Email address", "email", "email"),
                ("Mobile number", "tel", "mobile"),
                ("Password", "password", "password"),
                ("City", "text", "city"),
                ("Coupon code", "text", "coupon"),
            ] {
                children.push(self.field(label, kind, name));
            }
            for _ in 0..8 {
                let product = self.gen.pick(PRODUCTS);
                let price = format!("₹{},{:03}.00", self.gen.rng.u8(1..50), self.gen.rng.u16(..1000));
                let name = self.text(product);
                let price = self.text(&price);
                let h = self.element("h5", json!({"class": "card-title text-truncate"}), vec![name]);
                let p = self.element("p", json!({"class": "card-text price fw-bold"}), vec![price]);
                let img_src = if self.gen.rng.u8(..10) == 0 {
                    format!(
                        "data:image/png;base64,{}",
                        base64(&(0..900).map(|_| self.gen.rng.u8(..)).collect::<Vec<u8>>())
                    )
                } else {
                    format!("https://cdn.example.com/img/p/{}.webp?w=320&h=320", self.gen.rng.u32(..))
                };
                let img = self.element(
                    "img",
                    json!({"src": img_src, "alt": product, "class": "card-img-top", "loading": "lazy"}),
                    vec![],
                );
                let href =
                    format!("/product/{}?ref=home&utm_source=email&sid={}", self.gen.rng.u32(..), self.gen.rng.u32(..));
                let a = self.element("a", json!({"href": href, "class": "stretched-link"}), vec![]);
                let svg_path = self.element("path", json!({"d": "M12 2C6.48 2 2 6.48 2 12s4.48 10 10 10 10-4.48 10-10S17.52 2 12 2zm-2 15l-5-5 1.41-1.41L10 14.17l7.59-7.59L19 8l-9 9z", "fill": "currentColor"}), vec![]);
                let svg =
                    self.element("svg", json!({"viewBox": "0 0 24 24", "width": "24", "height": "24"}), vec![svg_path]);
                let body = self.element("div", json!({"class": "card-body"}), vec![h, p, a, svg]);
                children.push(self.element(
                    "div",
                    json!({"class": "card h-100 shadow-sm", "data-product-id": "SKU-88213"}),
                    vec![img, body],
                ));
            }
            let section = self.element("section", json!({"class": "container py-4"}), children);
            size += section.to_string().len();
            sections.push(section);
        }
        let body = self.element("body", json!({"class": "d-flex flex-column h-100"}), sections);
        let html = self.element("html", json!({"lang": "en"}), vec![head, body]);
        let doctype = json!({"type": 1, "name": "html", "publicId": "", "systemId": "", "id": self.id()});
        json!({"type": 2, "data": {"node": {"type": 0, "childNodes": [doctype, html], "id": 1},
            "initialOffset": {"left": 0, "top": 0}}, "timestamp": 1732265000000u64})
    }

    /// Incremental, meta, custom and plugin events after the snapshot.
    pub(crate) fn incremental(&mut self, count: usize) -> Vec<Value> {
        let mut events = vec![
            json!({"type": 4, "data": {"href": "https://shop.example.com/checkout?step=2&session=8f3a9c1b2d", "width": 1920, "height": 1080}, "timestamp": 1732265000001u64}),
        ];
        let mut ts = 1732265000100u64;
        for i in 0..count {
            ts += u64::from(self.gen.rng.u16(5..400));
            let id = self.gen.rng.u64(2..self.next_id.max(3));
            let event = match i % 8 {
                0 | 1 => {
                    let positions: Vec<Value> = (0..6).map(|k| json!({"x": self.gen.rng.u16(..1920), "y": self.gen.rng.u16(..1080), "id": id, "timeOffset": -(k * 16)})).collect();
                    json!({"type": 3, "data": {"source": 1, "positions": positions}, "timestamp": ts})
                }
                2 => {
                    json!({"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": self.gen.rng.u16(..5000)}, "timestamp": ts})
                }
                3 => {
                    json!({"type": 3, "data": {"source": 2, "type": 2, "id": id, "x": 410, "y": 233}, "timestamp": ts})
                }
                4 => {
                    let text = if let Some(&pid) = self.sensitive_inputs.first().filter(|_| self.gen.rng.bool()) {
                        return_input(pid, "hunter2-correct-horse", ts)
                    } else {
                        let value = self.plant().unwrap_or_else(|| "Bengaluru".to_string());
                        json!({"type": 3, "data": {"source": 5, "text": value, "isChecked": false, "id": id}, "timestamp": ts})
                    };
                    text
                }
                5 => {
                    let value = self.plant().unwrap_or_else(|| "3 items in your cart".to_string());
                    let node = json!({"type": 3, "textContent": value, "id": self.id()});
                    json!({"type": 3, "data": {"source": 0, "texts": [{"id": id, "value": "Updating…"}],
                        "attributes": [{"id": id, "attributes": {"class": "btn btn-primary disabled", "style": {"opacity": "0.5"}}}],
                        "removes": [{"parentId": 5, "id": id + 1}],
                        "adds": [{"parentId": id, "nextId": null, "node": node}]}, "timestamp": ts})
                }
                6 => {
                    let note = self.plant().unwrap_or_else(|| "coupon applied".to_string());
                    json!({"type": 5, "data": {"tag": "checkout-step", "payload": {"step": 2, "note": note, "email": self.gen.email()}}, "timestamp": ts})
                }
                _ => {
                    json!({"type": 6, "data": {"plugin": "rrweb/console@1", "payload": {"level": "log", "trace": ["app.js:10:5"], "payload": [format!("\"cart updated {}\"", self.gen.rng.u32(..))]}}, "timestamp": ts})
                }
            };
            events.push(event);
        }
        events
    }

    /// Analytics events with a few PII-bearing fields.
    pub(crate) fn analytics(&mut self, count: usize) -> Vec<Value> {
        (0..count)
            .map(|i| {
                let ts = 1732265000000u64 + i as u64 * 137;
                match i % 4 {
                    0 => json!({"type": "pageview", "ts": ts, "url": "https://shop.example.com/checkout?step=2", "title": "Checkout"}),
                    1 => json!({"type": "click", "ts": ts, "target": "button#pay-now", "text": "Pay now", "x": 412, "y": 880}),
                    2 => {
                        let email = self.gen.email();
                        self.planted.push((Entity::Email, email.clone()));
                        json!({"type": "custom", "ts": ts, "name": "profile_update", "props": {"email": email, "plan": "gold", "user_id": "u_88213"}})
                    }
                    _ => json!({"type": "input", "ts": ts, "target": "#coupon", "value": "DIWALI25"}),
                }
            })
            .collect()
    }

    /// A batch without a snapshot, as most batches of a session are: `incremental` replay events and
    /// `analytics` events. Node ids refer to a snapshot of `known_nodes` nodes sent earlier.
    pub(crate) fn incremental_batch(&mut self, known_nodes: u64, incremental: usize, analytics: usize) -> Vec<u8> {
        self.next_id = self.next_id.max(known_nodes);
        let replay = self.incremental(incremental);
        let events = self.analytics(analytics);
        let batch = json!({"session_id": "s_7f3a9c", "visitor_id": "v_19ab", "seq": 8, "sent_at": 1732265005000u64,
            "events": events, "replay": replay});
        serde_json::to_vec(&batch).expect("serializable")
    }

    /// A whole batch: snapshot of `dom_bytes`, `incremental` replay events, `analytics` events.
    pub(crate) fn batch(&mut self, dom_bytes: usize, incremental: usize, analytics: usize) -> Vec<u8> {
        let mut replay = vec![self.snapshot(dom_bytes)];
        replay.extend(self.incremental(incremental));
        let events = self.analytics(analytics);
        let batch = json!({"session_id": "s_7f3a9c", "visitor_id": "v_19ab", "seq": 7, "sent_at": 1732265000000u64,
            "context": {"url": "https://shop.example.com/checkout", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "screen": "1920x1080", "sdk": "traceflow-web/0.1"},
            "events": events, "replay": replay});
        serde_json::to_vec(&batch).expect("serializable")
    }
}

impl BatchBuilder {
    /// A batch of recorded network and console traffic, as posthog-js's `rrweb/network@1` and rrweb's
    /// `rrweb/console@1` plugins write it: `requests` records with URL, timing, headers and JSON or form bodies
    /// serialized into strings; console calls with serialized arguments and a stack trace. One request in
    /// `pii_every` carries a planted value in its body, URL or console message.
    pub(crate) fn network_batch(&mut self, requests: usize) -> Vec<u8> {
        let mut replay = Vec::new();
        let paths = [
            "/api/v2/accounts",
            "/api/v2/transfers",
            "/api/kyc/status",
            "/graphql",
            "/api/v2/cards",
            "/static/i18n/en.json",
        ];
        for i in 0..requests {
            let ts = 1_732_265_000_000u64 + i as u64 * 37;
            let planted = self.gen.rng.u32(0..self.pii_every) == 0;
            let (entity, value) = if planted {
                let entity = *self
                    .gen
                    .rng
                    .choice(&[Entity::Email, Entity::Phone, Entity::Card, Entity::Pan, Entity::Aadhaar])
                    .unwrap();
                let sample = self.gen.sample(entity);
                (Some(entity), sample.value().to_string())
            } else {
                (None, String::new())
            };
            let body = json!({
                "requestId": format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", self.gen.rng.u32(..), self.gen.rng.u16(..), self.gen.rng.u16(..4096), self.gen.rng.u16(..4096), self.gen.rng.u64(..1 << 48)),
                "amount": self.gen.rng.u32(100..500_000) as f64 / 100.0,
                "currency": "INR",
                "items": (0..self.gen.rng.usize(1..4)).map(|k| json!({"sku": format!("SKU-{}-{k}", self.gen.digits(5)), "qty": k + 1})).collect::<Vec<_>>(),
                "note": if entity.is_some() { format!("contact {value}") } else { "standard transfer".to_string() },
            })
            .to_string();
            let response = json!({"status": "ok", "ts": ts, "balance": {"available": 10234.55, "currency": "INR"},
                "flags": ["beta", "new-ui"], "traceId": self.gen.digits(16)})
            .to_string();
            let path = *self.gen.rng.choice(&paths).unwrap();
            if let Some(e) = entity {
                self.planted.push((e, value.clone()));
            }
            replay.push(json!({"type": 6, "timestamp": ts, "data": {"plugin": "rrweb/network@1", "payload": {"requests": [{
                "name": format!("https://api.bank.example{path}?page={}&sort=desc", i % 7),
                "entryType": "resource", "initiatorType": "fetch", "method": "POST", "status": 200,
                "startTime": 1021.5 + i as f64, "endTime": 1180.25 + i as f64, "timeOrigin": 1_732_264_990_000u64,
                "transferSize": 1234, "isInitial": false,
                "requestHeaders": {"content-type": "application/json", "accept": "application/json", "x-request-id": self.gen.digits(12)},
                "requestBody": body,
                "responseHeaders": {"content-type": "application/json; charset=utf-8", "cache-control": "no-store"},
                "responseBody": response
            }]}}}));
            if i % 4 == 0 {
                let message = if entity.is_some() {
                    format!("retrying for {value}")
                } else {
                    format!("render took {} ms", i % 90)
                };
                replay.push(json!({"type": 6, "timestamp": ts + 5, "data": {"plugin": "rrweb/console@1", "payload": {
                    "level": "log", "trace": [format!("submit (https://bank.example/static/app.3f2a1b9c.js:1:{})", 2000 + i)],
                    "payload": [json!(message).to_string(), json!({"step": i % 5, "ok": true}).to_string()]
                }}}));
            }
        }
        let batch = json!({"session_id": "s_7f3a9c", "visitor_id": "v_19ab", "seq": 9, "sent_at": 1732265009000u64,
            "events": [], "replay": replay});
        serde_json::to_vec(&batch).expect("serializable")
    }
}

fn return_input(id: u64, text: &str, ts: u64) -> Value {
    json!({"type": 3, "data": {"source": 5, "text": text, "isChecked": false, "id": id}, "timestamp": ts})
}
