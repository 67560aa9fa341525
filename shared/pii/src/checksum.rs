//! Check digits and issuer rules that turn "looks like a number" into "is a card / Aadhaar / IBAN / GSTIN".
//!
//! All functions take ASCII digit (or alphanumeric) bytes without separators and never panic on odd input.

/// Luhn (mod 10) check over ASCII digits, the last digit being the check digit.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        if !d.is_ascii_digit() {
            return false;
        }
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Card lengths as a bit mask (bit `n` set: `n` digits are issued).
const fn lengths(from: u32, to: u32) -> u32 {
    let mut mask = 0;
    let mut n = from;
    while n <= to {
        mask |= 1 << n;
        n += 1;
    }
    mask
}
const L16: u32 = 1 << 16;
const L16_19: u32 = lengths(16, 19);
const L12_19: u32 = lengths(12, 19);

/// Issuer identification number ranges in use: `(low, high, lengths)`, where `low` and `high` are prefixes of the
/// same number of digits (a range matches when the card's first digits, as many as `low` has, fall inside it).
/// Sources: the networks' published IIN tables (ISO/IEC 7812 registrations) as collected for card validation:
/// Visa, Mastercard (51–55 and the 2-series), American Express, Diners Club, Discover, JCB (including the 15-digit
/// 1800 and 2131 ranges), UnionPay (62, 81), RuPay (60, 65, 81, 82, 508, 353, 356), Maestro (50, 56–69, 12–19
/// digits), Mir, Verve, Elo, Troy, Dankort, InterPayment, UzCard, Humo, NAPAS, GPN and LankaPay.
const IIN: &[(u32, u32, u32)] = &[
    (4, 4, lengths(13, 19)), // Visa issues 13, 16 and 19; generators and test cards use every length in between
    (51, 55, L16),           // Mastercard
    (2221, 2720, L16),       // Mastercard 2-series
    (34, 34, 1 << 15),       // American Express
    (37, 37, 1 << 15),
    (300, 305, lengths(14, 19)), // Diners Club International
    (3095, 3095, lengths(14, 19)),
    (36, 36, lengths(14, 19)),
    (38, 39, lengths(14, 19)),
    (6011, 6011, L16_19), // Discover
    (644, 649, L16_19),
    (65, 65, L16_19),     // Discover, RuPay
    (3528, 3589, L16_19), // JCB
    (1800, 1800, 1 << 15),
    (2131, 2131, 1 << 15),
    (62, 62, L16_19),         // UnionPay (and Discover 622126–622925)
    (81, 82, L16_19),         // UnionPay 81, RuPay 81/82
    (60, 60, L16_19),         // RuPay
    (508, 508, L16_19),       // RuPay
    (353, 353, L16_19),       // RuPay co-branded
    (356, 356, L16_19),       // RuPay co-branded
    (50, 50, L12_19),         // Maestro
    (56, 69, L12_19),         // Maestro (and the networks above sharing 6)
    (2200, 2204, L16_19),     // Mir
    (506099, 506198, L16_19), // Verve
    (507865, 507964, L16_19),
    (650002, 650027, L16_19),
    (401178, 401179, L16), // Elo
    (438935, 438935, L16),
    (457631, 457632, L16),
    (504175, 504175, L16),
    (506699, 506778, L16),
    (509000, 509999, L16),
    (627780, 627780, L16),
    (636297, 636297, L16),
    (636368, 636368, L16),
    (9792, 9792, L16),     // Troy
    (5019, 5019, L16),     // Dankort
    (4571, 4571, L16),     // Visa/Dankort
    (636, 636, L16_19),    // InterPayment
    (8600, 8600, L16),     // UzCard
    (9860, 9860, L16),     // Humo
    (9704, 9704, L16_19),  // NAPAS
    (1946, 1946, L16_19),  // GPN
    (357111, 357111, L16), // LankaPay
];

/// Whether a card number of this length starts with an issuer prefix in use for that length (see [`IIN`]).
/// Epoch-millisecond timestamps (13 digits starting with 1) never qualify.
pub fn card_issuer(digits: &[u8]) -> bool {
    let n = digits.len();
    if !(12..=19).contains(&n) || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let prefix = |k: usize| digits.iter().take(k).fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    IIN.iter().any(|&(low, high, lens)| {
        let k = low.checked_ilog10().map_or(1, |l| l as usize + 1);
        lens & (1 << n) != 0 && (low..=high).contains(&prefix(k))
    })
}

const VERHOEFF_D: [[u8; 10]; 10] = [
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
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff check over ASCII digits, the last digit being the check digit (used by Aadhaar).
pub fn verhoeff(digits: &[u8]) -> bool {
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) && verhoeff_state(digits) == 0
}

fn verhoeff_state(digits: &[u8]) -> u8 {
    digits
        .iter()
        .rev()
        .enumerate()
        .fold(0u8, |c, (i, &d)| VERHOEFF_D[usize::from(c)][usize::from(VERHOEFF_P[i % 8][usize::from(d - b'0')])])
}

/// IBAN length per country (ISO 13616 registry).
const IBAN_LENGTHS: [(&[u8; 2], u8); 78] = [
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"SD", 18),
];

/// IBAN length for a country code, if the country issues IBANs.
pub fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(c, _)| c.as_slice() == country).map(|&(_, n)| usize::from(n))
}

/// Remainder mod 97 of an IBAN rearranged as ISO 13616 says (first four characters moved to the end, letters
/// as 10..35). A valid IBAN gives 1.
pub fn iban_mod97(iban: &[u8]) -> Option<u32> {
    if iban.len() < 5 {
        return None;
    }
    let mut rem = 0u32;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return None,
        };
    }
    Some(rem)
}

/// Whether `iban` (uppercase, no spaces) has its country's length and a valid mod-97 check.
pub fn iban(iban: &[u8]) -> bool {
    iban.len() >= 15
        && iban_length(&iban[..2]) == Some(iban.len())
        && iban[2..4].iter().all(u8::is_ascii_digit)
        && iban_mod97(iban) == Some(1)
}

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The GSTIN check character for the first 14 characters.
pub fn gstin_check_char(first14: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in first14.iter().enumerate() {
        let v = BASE36.iter().position(|&b| b == c)? as u32;
        let p = v * if i % 2 == 0 { 1 } else { 2 };
        sum += p / 36 + p % 36;
    }
    Some(BASE36[((36 - sum % 36) % 36) as usize])
}

/// Whether a 15-character GSTIN has a valid state code, embedded PAN shape, `Z` in position 14 and check char.
pub fn gstin(g: &[u8]) -> bool {
    if g.len() != 15 || !g[..2].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let state = u32::from(g[0] - b'0') * 10 + u32::from(g[1] - b'0');
    matches!(state, 1..=38 | 97 | 99)
        && pan_shape(&g[2..12])
        && g[13] == b'Z'
        && gstin_check_char(&g[..14]) == Some(g[14])
}

/// PAN holder types (4th letter): person, company, HUF, firm, AOP, trust, BOI, local authority, artificial
/// juridical person, government.
const PAN_HOLDER: &[u8] = b"PCHFATBLJG";

/// Whether 10 bytes have the PAN shape `AAAPA1234A` with a known holder type and a non-zero serial.
pub fn pan_shape(p: &[u8]) -> bool {
    p.len() == 10
        && p[..5].iter().all(u8::is_ascii_uppercase)
        && PAN_HOLDER.contains(&p[3])
        && p[5..9].iter().all(u8::is_ascii_digit)
        && &p[5..9] != b"0000"
        && p[9].is_ascii_uppercase()
}

/// Whether nine digits form a US SSN that was ever issuable (area not 000, 666 or 900–999; group not 00;
/// serial not 0000).
pub fn ssn(d: &[u8]) -> bool {
    if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = &d[..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

/// North American numbering plan: 10 digits, area code and exchange both starting with 2–9.
pub fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d.iter().all(u8::is_ascii_digit) && d[0] >= b'2' && d[3] >= b'2'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(luhn(b"4111111111111111") && card_issuer(b"4111111111111111"));
        assert!(luhn(b"378282246310005") && card_issuer(b"378282246310005"));
        assert!(luhn(b"6011111111111117") && card_issuer(b"6011111111111117"));
        assert!(luhn(b"5555555555554444") && card_issuer(b"5555555555554444"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!card_issuer(b"1732265000000"), "epoch milliseconds are not cards");
        for (number, network) in [
            ("676159898730", "Maestro, 12 digits"),
            ("213113404677746", "JCB 2131, 15 digits"),
            ("180000000000002", "JCB 1800, 15 digits"),
            ("2200000000000004", "Mir"),
            ("5060990000000000", "Verve"),
            ("9792000000000001", "Troy"),
            ("6200000000000005", "UnionPay"),
            ("8171999927660000", "UnionPay 81"),
            ("4111111111116", "Visa, 13 digits"),
            ("4111111111111111110", "Visa, 19 digits"),
        ] {
            assert!(card_issuer(number.as_bytes()), "{network}: {number}");
        }
        assert!(!card_issuer(b"378282246310005000"), "Amex has 15 digits only");
        assert!(!card_issuer(b"7000000000000000"), "no network issues 7");
    }

    #[test]
    fn verhoeff_vectors() {
        assert!(verhoeff(b"2363"));
        assert!(!verhoeff(b"2364"));
    }

    #[test]
    fn iban_vectors() {
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"GB29NWBK60161331926819"));
        assert!(iban(b"FR1420041010050500013M02606"));
        assert!(!iban(b"DE89370400440532013001"));
        assert!(!iban(b"DE8937040044053201300"));
    }

    #[test]
    fn gstin_and_pan() {
        assert!(gstin(b"27AAPFU0939F1ZV"));
        assert!(gstin(b"29AAGCB7383J1Z4"));
        assert!(!gstin(b"27AAPFU0939F1ZW"));
        assert!(pan_shape(b"ABCPE1234F"));
        assert!(!pan_shape(b"ABCXE1234F"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn(b"123456789"));
        for bad in [&b"000123456"[..], b"666123456", b"900123456", b"123006789", b"123450000"] {
            assert!(!ssn(bad));
        }
    }
}
