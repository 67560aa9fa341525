//! Synthetic people and their PII: names by locale, contact details, check-digit-valid card, Aadhaar, PAN and IBAN
//! numbers, addresses, and the sentences PII hides in.

use super::*;

pub(super) const IN_FIRST: &[&str] = &[
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
pub(super) const IN_LAST: &[&str] = &[
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
pub(super) const US_FIRST: &[&str] = &[
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
pub(super) const US_LAST: &[&str] = &[
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
pub(super) const UK_FIRST: &[&str] =
    &["Oliver", "Amelia", "George", "Isla", "Harry", "Poppy", "Jack", "Freya", "Charlie", "Imogen", "Alfie", "Eleanor"];
pub(super) const UK_LAST: &[&str] = &[
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
pub(super) const DE_FIRST: &[&str] =
    &["Lukas", "Anna", "Jürgen", "Lena", "Maximilian", "Sophie", "Felix", "Marie", "Jonas", "Katrin", "Tobias", "Jörg"];
pub(super) const DE_LAST: &[&str] = &[
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

pub(super) const UPI_HANDLES: &[&str] = &["okhdfcbank", "okicici", "oksbi", "okaxis", "ybl", "paytm", "ibl", "axl"];
pub(super) const IFSC_BANKS: &[&str] = &["HDFC", "ICIC", "SBIN", "UTIB", "KKBK", "PUNB", "BARB", "YESB"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Locale {
    India,
    Us,
    Uk,
    Germany,
}

impl Locale {
    /// India is weighted up: PAN, Aadhaar, UPI and IFSC make its pages the densest PII mix.
    pub(super) fn random(rng: &mut Rng) -> Self {
        match rng.u8(0..10) {
            0..=3 => Locale::India,
            4..=5 => Locale::Us,
            6..=7 => Locale::Uk,
            _ => Locale::Germany,
        }
    }

    pub(super) fn first_names(self) -> &'static [&'static str] {
        match self {
            Locale::India => IN_FIRST,
            Locale::Us => US_FIRST,
            Locale::Uk => UK_FIRST,
            Locale::Germany => DE_FIRST,
        }
    }

    pub(super) fn last_names(self) -> &'static [&'static str] {
        match self {
            Locale::India => IN_LAST,
            Locale::Us => US_LAST,
            Locale::Uk => UK_LAST,
            Locale::Germany => DE_LAST,
        }
    }

    pub(super) fn email_domains(self) -> &'static [&'static str] {
        match self {
            Locale::India => &["gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com", "hotmail.com"],
            Locale::Us => &["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"],
            Locale::Uk => &["gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com", "yahoo.co.uk"],
            Locale::Germany => &["gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"],
        }
    }

    pub(super) fn country(self) -> &'static str {
        match self {
            Locale::India => "India",
            Locale::Us => "United States",
            Locale::Uk => "United Kingdom",
            Locale::Germany => "Germany",
        }
    }

    pub(super) fn currency(self) -> &'static str {
        match self {
            Locale::India => "INR",
            Locale::Us => "USD",
            Locale::Uk => "GBP",
            Locale::Germany => "EUR",
        }
    }
}

/// A synthetic person. Contact details are fixed at creation so a page shows one consistent identity.
pub(super) struct Person {
    pub(super) first: &'static str,
    pub(super) last: &'static str,
    pub(super) locale: Locale,
    pub(super) email: String,
    pub(super) phone: String,
}

impl Person {
    pub(super) fn random(rng: &mut Rng) -> Self {
        let locale = Locale::random(rng);
        let first = pick(rng, locale.first_names());
        let last = pick(rng, locale.last_names());
        let email = email_address(rng, first, last, locale);
        let phone = phone_number(rng, locale);
        Person { first, last, locale, email, phone }
    }

    pub(super) fn full_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// A postal address split the way address forms ask for it.
pub(super) struct Address {
    pub(super) line1: String,
    pub(super) city: &'static str,
    pub(super) region: &'static str,
    pub(super) postal: String,
    pub(super) country: &'static str,
}

impl Address {
    pub(super) fn one_line(&self) -> String {
        format!("{}, {}, {} {}, {}", self.line1, self.city, self.region, self.postal, self.country)
    }
}

pub(super) fn pick<T: Copy + Default>(rng: &mut Rng, items: &[T]) -> T {
    rng.choice(items.iter().copied()).unwrap_or_default()
}

pub(super) fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.digit(10)).collect()
}

pub(super) fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.digit(16)).collect()
}

pub(super) fn upper(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| rng.uppercase()).collect()
}

/// Emails and UPI handles are ASCII, so umlauts get their usual German transliteration.
pub(super) fn ascii_slug(name: &str) -> String {
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

pub(super) fn url_encode(s: &str) -> String {
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
pub(super) fn group(s: &str, sizes: &[usize], sep: &str) -> String {
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

pub(super) fn email_address(rng: &mut Rng, first: &str, last: &str, locale: Locale) -> String {
    let (f, l) = (ascii_slug(first), ascii_slug(last));
    let domain = pick(rng, locale.email_domains());
    match rng.u8(0..4) {
        0 => format!("{f}.{l}@{domain}"),
        1 => format!("{f}{l}{}@{domain}", rng.u8(1..100)),
        2 => format!("{}.{l}@{domain}", f.chars().next().unwrap_or('x')),
        _ => format!("{l}.{f}{}@{domain}", rng.u16(1970..2006)),
    }
}

pub(super) fn phone_number(rng: &mut Rng, locale: Locale) -> String {
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
pub(super) fn luhn_check_digit(payload: &[u8]) -> u8 {
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
pub(super) fn card_number(rng: &mut Rng) -> String {
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

pub(super) fn masked_card(rng: &mut Rng) -> String {
    format!("XXXX XXXX XXXX {}", digits(rng, 4))
}

/// PAN layout: three letters, holder type (`P` for a person), surname initial, four digits, check letter.
pub(super) fn pan(rng: &mut Rng, last: &str) -> String {
    let initial = ascii_slug(last).chars().next().map_or('K', |c| c.to_ascii_uppercase());
    format!("{}P{initial}{}{}", upper(rng, 3), digits(rng, 4), rng.uppercase())
}

/// Aadhaar numbers never start with 0 or 1 and are printed 4-4-4.
pub(super) fn aadhaar(rng: &mut Rng) -> String {
    let plain = format!("{}{}", rng.u8(2..=9), digits(rng, 11));
    if rng.u8(0..4) == 0 {
        plain
    } else {
        group(&plain, &[4, 4, 4], " ")
    }
}

pub(super) fn ifsc(rng: &mut Rng) -> String {
    format!("{}0{}", pick(rng, IFSC_BANKS), digits(rng, 6))
}

pub(super) fn upi_id(rng: &mut Rng, p: &Person) -> String {
    let handle = pick(rng, UPI_HANDLES);
    match rng.u8(0..3) {
        0 => format!("{}.{}@{handle}", ascii_slug(p.first), ascii_slug(p.last)),
        1 => format!("{}{}@{handle}", ascii_slug(p.first), rng.u16(1..1000)),
        _ => format!("9{}@{handle}", digits(rng, 9)),
    }
}

pub(super) fn iban(rng: &mut Rng) -> String {
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
pub(super) fn iban_check_digits(country: &str, bban: &str) -> u32 {
    let rem = bban.chars().chain(country.chars()).chain("00".chars()).fold(0_u32, |acc, c| match c.to_digit(36) {
        Some(v) if v >= 10 => (acc * 100 + v) % 97,
        Some(v) => (acc * 10 + v) % 97,
        None => acc,
    });
    98 - rem
}

pub(super) fn date_of_birth(rng: &mut Rng, locale: Locale) -> String {
    let (y, m, d) = (rng.u16(1952..=2005), rng.u8(1..=12), rng.u8(1..=28));
    match locale {
        Locale::Us => format!("{m:02}/{d:02}/{y}"),
        Locale::Germany => format!("{d:02}.{m:02}.{y}"),
        Locale::India | Locale::Uk => format!("{d:02}/{m:02}/{y}"),
    }
}

/// `<input type=date>` always holds ISO dates whatever the locale.
pub(super) fn iso_date_of_birth(rng: &mut Rng) -> String {
    format!("{}-{:02}-{:02}", rng.u16(1952..=2005), rng.u8(1..=12), rng.u8(1..=28))
}

pub(super) fn address(rng: &mut Rng, locale: Locale) -> Address {
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

pub(super) fn ipv4(rng: &mut Rng) -> String {
    match rng.u8(0..5) {
        0 => format!("10.{}.{}.{}", rng.u8(..), rng.u8(..), rng.u8(1..255)),
        1 => format!("192.168.{}.{}", rng.u8(..), rng.u8(1..255)),
        _ => format!("{}.{}.{}.{}", rng.u8(1..224), rng.u8(..), rng.u8(..), rng.u8(1..255)),
    }
}

pub(super) fn uuid(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        rng.u16(0x8000..0xc000),
        rng.u64(..1 << 48)
    )
}

pub(super) fn order_id(rng: &mut Rng) -> String {
    match rng.u8(0..3) {
        0 => format!("ORD-{}-{}", rng.u16(2023..=2025), digits(rng, 7)),
        1 => format!("NWB{}", digits(rng, 10)),
        _ => format!("#{}", digits(rng, 8)),
    }
}

pub(super) fn money_text(rng: &mut Rng, locale: Locale) -> String {
    let cents = rng.u32(100..25_000_000);
    let (units, fraction) = (cents / 100, cents % 100);
    match locale {
        Locale::India => format!("₹{units}.{fraction:02}"),
        Locale::Us => format!("${units}.{fraction:02}"),
        Locale::Uk => format!("£{units}.{fraction:02}"),
        Locale::Germany => format!("{units},{fraction:02} €"),
    }
}

pub(super) fn money_value(rng: &mut Rng) -> f64 {
    f64::from(rng.u32(100..2_500_000)) / 100.0
}

pub(super) fn coordinate(rng: &mut Rng, range: f64) -> f64 {
    ((rng.f64() * 2.0 - 1.0) * range * 1e6).round() / 1e6
}

/// Civil date (UTC) from epoch ms, so dates shown in the page agree with the epoch-ms attributes next to them.
pub(super) fn format_datetime(ms: u64) -> String {
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
pub(super) fn typed_pii(rng: &mut Rng, p: &Person) -> (&'static str, String) {
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

pub(super) const SEARCHES: &[&str] =
    &["fixed deposit rates", "how to update kyc", "credit card limit increase", "nearest branch", "forex card"];

pub(super) const FILLER: &[&str] = &[
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
pub(super) fn pii_sentence(rng: &mut Rng, p: &Person) -> String {
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

pub(super) fn paragraph_text(rng: &mut Rng, p: &Person) -> String {
    let sentences: Vec<String> = (0..rng.usize(2..=4)).map(|_| pii_sentence(rng, p)).collect();
    sentences.join(" ")
}
