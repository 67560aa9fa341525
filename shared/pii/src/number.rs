//! Digit runs: one candidate pattern covers cards, phones, Aadhaar, SSN, IPv4 and dates; this module decides
//! which, if any, a run (or a space-separated part of it) is.
//!
//! Rules that keep ordinary numbers out: cards need a known issuer prefix and Luhn (epoch-millisecond
//! timestamps start with 1, no issuer does); bare 9-, 10- and 12-digit numbers need a context keyword; phones
//! need a country code with the right digit count, a national trunk prefix, or a national grouping.

use super::checksum;
use super::detect::{Detector, Found};
use super::Entity;

/// A maximal run of digits, `hay[start..end]`.
#[derive(Clone, Copy, Default)]
pub(super) struct Group {
    pub(super) start: usize,
    pub(super) end: usize,
}

const SP: u8 = 1;
const DASH: u8 = 2;
const DOT: u8 = 4;
const SLASH: u8 = 8;
const PAREN: u8 = 16;

/// The digits and layout of a candidate span.
struct Span<'h> {
    digits: [u8; 19],
    n: usize,
    lens: [u8; 8],
    groups: usize,
    /// Separator kinds present.
    seps: u8,
    /// Every separator is the same single byte (or there is none).
    uniform: bool,
    plus: bool,
    paren_start: bool,
    /// The span is the whole digit run, not a part of it.
    whole: bool,
    text: &'h [u8],
}

impl Span<'_> {
    fn d(&self) -> &[u8] {
        &self.digits[..self.n]
    }

    fn lens(&self) -> &[u8] {
        &self.lens[..self.groups]
    }

    fn only(&self, allowed: u8) -> bool {
        self.seps & !allowed == 0 && self.uniform
    }
}

impl Detector {
    /// Classifies the digit run that starts at `s` and whose digit groups are `groups` (`total` digits in all; the
    /// run ends with the last group), trying the whole run first, then shorter space-separated parts.
    pub(super) fn numbers(
        &self,
        hay: &[u8],
        s: usize,
        groups: &[Group],
        total: usize,
        extra: u32,
        out: &mut Vec<Found>,
    ) {
        let e = groups[groups.len() - 1].end;
        if self.wants(Entity::Ip) && self.ipv4(hay, s, e, groups) {
            let s = groups[0].start;
            let url_host = extra & super::detect::URL_SITE != 0 && hay[..s].ends_with(b"//");
            if !url_host {
                self.push(out, Entity::Ip, s, e, 0.85);
            }
            return;
        }
        if total < 6 {
            return;
        }
        let last = groups.len() - 1;
        let mut i = 0;
        while i <= last {
            let mut next = i + 1;
            for j in (i..=last.min(i + 7)).rev() {
                if let Some((entity, start, confidence)) = self.number_span(hay, s, groups, i, j, extra) {
                    self.push(out, entity, start, groups[j].end, confidence);
                    next = j + 1;
                    break;
                }
            }
            i = next;
        }
    }

    fn ipv4(&self, hay: &[u8], s: usize, e: usize, groups: &[Group]) -> bool {
        // A parenthesis before the address is the sentence's.
        let s = if hay[s] == b'(' { s + 1 } else { s };
        if groups.len() != 4 || groups[0].start != s || groups[3].end != e {
            return false;
        }
        let dots = groups.windows(2).all(|w| &hay[w[0].end..w[1].start] == b".");
        let octets = groups.iter().all(|g| {
            let t = &hay[g.start..g.end];
            t.len() <= 3 && t.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')) <= 255
        });
        let edge = |b: u8| b.is_ascii_alphanumeric() || b == b'.';
        // A full stop after the address ends a sentence unless more of a name or number follows it.
        let after = match hay.get(e) {
            Some(b'.') => hay.get(e + 1).is_some_and(u8::is_ascii_alphanumeric),
            Some(&b) => edge(b),
            None => false,
        };
        dots && octets && !(s > 0 && edge(hay[s - 1])) && !after
    }

    /// Classifies groups `i..=j` of a run that starts at `s`; returns entity, start byte and confidence.
    fn number_span(
        &self,
        hay: &[u8],
        s: usize,
        groups: &[Group],
        i: usize,
        j: usize,
        extra: u32,
    ) -> Option<(Entity, usize, f32)> {
        let total: usize = groups[i..=j].iter().map(|g| g.end - g.start).sum();
        if !(6..=19).contains(&total) {
            return None;
        }
        let mut start = groups[i].start;
        let end = groups[j].end;
        if i == 0 {
            start = s;
        } else if hay[start - 1] == b'(' {
            start -= 1;
        }
        // A parenthesis that the span does not close is the sentence's: "(4111 1111 1111 1111)".
        if hay[start] == b'(' && !hay[start..end].contains(&b')') {
            start += 1;
        }
        // Boundaries: nothing word-like glued on; parts of a run split only at plain spaces.
        if start > 0 {
            let p = hay[start - 1];
            // After `/` only an international number (a path segment such as `/kyc/+919065699665/`); other
            // digits after a slash are dates, fractions and ids.
            if p.is_ascii_alphanumeric() || p == b'_' || p == b'.' || (p == b'/' && hay[start] != b'+') {
                return None;
            }
            if p == b'-' && start > 1 && hay[start - 2].is_ascii_alphanumeric() {
                return None;
            }
        }
        if hay.get(end).is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        // A hyphen and more letters or digits after the run make it part of an id (`07951515-b7da-…`).
        if j + 1 == groups.len()
            && hay.get(end) == Some(&b'-')
            && hay.get(end + 1).is_some_and(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        if i > 0 && !hay[groups[i - 1].end..start].iter().all(|&b| b == b' ') {
            return None;
        }
        if j + 1 < groups.len() && hay[end] != b' ' {
            return None;
        }
        let mut span = Span {
            digits: [0; 19],
            n: 0,
            lens: [0; 8],
            groups: j - i + 1,
            seps: 0,
            uniform: true,
            plus: hay[start] == b'+',
            paren_start: hay[start] == b'(',
            whole: i == 0 && j + 1 == groups.len(),
            text: &hay[start..end],
        };
        let mut first_sep: Option<&[u8]> = None;
        for (k, g) in groups[i..=j].iter().enumerate() {
            span.digits[span.n..span.n + (g.end - g.start)].copy_from_slice(&hay[g.start..g.end]);
            span.n += g.end - g.start;
            span.lens[k] = (g.end - g.start) as u8;
            if k > 0 {
                let sep = &hay[groups[i + k - 1].end..g.start];
                for &b in sep {
                    span.seps |= match b {
                        b' ' => SP,
                        b'-' => DASH,
                        b'.' => DOT,
                        b'/' => SLASH,
                        _ => PAREN,
                    };
                }
                span.uniform &= sep.len() == 1 && first_sep.is_none_or(|f| f == sep);
                first_sep = Some(sep);
            }
        }
        let mut context: Option<u32> = None;
        let mut ctx = |entity: Entity| {
            let mask = *context.get_or_insert_with(|| extra | self.context.around(hay, start, end));
            mask & entity.bit() != 0
        };
        let d = span.d();
        let lens = span.lens();
        let n = span.n;

        if self.wants(Entity::Card) && (12..=19).contains(&n) && !span.plus && span.only(SP | DASH) && checksum::luhn(d)
        {
            // Card layouts: 4-4-4-4 with a last group of 1-4 (4-4-4, 4-4-4-4-3, …) and Amex/Diners 4-6-5, 4-6-4.
            let layout = span.groups > 1
                && ((lens[..lens.len() - 1].iter().all(|&l| l == 4) && (1..=4).contains(&lens[lens.len() - 1]))
                    || lens == [4, 6, 5]
                    || lens == [4, 6, 4]);
            // Any Luhn-valid number next to card words. Otherwise: a 12-digit number that is a valid Aadhaar is left
            // to Aadhaar; a card layout is a card; a run of 13 or more digits with an issuer prefix for its length is
            // a card (12 ungrouped digits are too common in ids to take on the prefix alone); a card layout that is
            // only part of a longer run needs 13 or more digits and the prefix too; when strict, any run.
            let card = if ctx(Entity::Card) {
                true
            } else if n == 12 && d[0] >= b'2' && checksum::verhoeff(d) {
                false
            } else {
                (layout && (span.whole || (n >= 13 && checksum::card_issuer(d))))
                    || (span.groups == 1 && n >= 13 && checksum::card_issuer(d))
                    || self.strict
            };
            if card {
                return Some((Entity::Card, start, if ctx(Entity::Card) { 0.98 } else { 0.93 }));
            }
        }
        if self.wants(Entity::Aadhaar) && n == 12 && d[0] >= b'2' && !span.plus && span.only(SP | DASH) {
            let grouped = lens == [4, 4, 4];
            if (grouped || span.groups == 1) && checksum::verhoeff(d) {
                let context = ctx(Entity::Aadhaar);
                if grouped || context {
                    return Some((Entity::Aadhaar, start, if context { 0.95 } else { 0.85 }));
                }
            }
        }
        if self.wants(Entity::Ssn) && n == 9 && !span.plus && span.only(SP | DASH) && checksum::ssn(d) {
            let context = ctx(Entity::Ssn);
            if lens == [3, 2, 4] || (span.groups == 1 && context) {
                return Some((Entity::Ssn, start, if context { 0.95 } else { 0.8 }));
            }
        }
        if self.wants(Entity::Phone) {
            if let Some(confidence) = phone(&span, &mut ctx, self.strict) {
                return Some((Entity::Phone, start, confidence));
            }
        }
        if self.wants(Entity::Dob) && date(&span) && ctx(Entity::Dob) {
            return Some((Entity::Dob, start, 0.85));
        }
        None
    }
}

/// Regions whose national formats (trunk prefixes, lengths, ranges) are checked against libphonenumber's
/// numbering-plan metadata when a number has no country code.
const REGIONS: [phonenumber::country::Id; 12] = {
    use phonenumber::country::Id;
    [Id::IN, Id::US, Id::CA, Id::GB, Id::DE, Id::FR, Id::ES, Id::IT, Id::NL, Id::AE, Id::SG, Id::AU]
};

/// Whether libphonenumber's metadata says `text` is a valid number: with its country code when it has one (`+…`,
/// or `00…` as digits), else as a national number of any of [`REGIONS`] whose national prefix and lengths fit.
/// Parsing costs microseconds, so results are remembered per thread for the values seen last (pages and sessions
/// repeat their numbers).
fn plan_valid(span: &Span<'_>) -> bool {
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<Vec<u8>, bool>> = Default::default();
    }
    const REMEMBERED: usize = 4096;
    let known = SEEN.with(|seen| seen.borrow().get(span.text).copied());
    if let Some(valid) = known {
        return valid;
    }
    let valid = plan_valid_uncached(span);
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        seen.insert(span.text.to_vec(), valid);
    });
    valid
}

fn plan_valid_uncached(span: &Span<'_>) -> bool {
    let valid = |region: Option<phonenumber::country::Id>, text: &str| {
        phonenumber::parse(region, text).is_ok_and(|number| phonenumber::is_valid(&number))
    };
    let Ok(text) = std::str::from_utf8(span.text) else {
        return false;
    };
    if span.plus {
        return valid(None, text);
    }
    let d = span.d();
    if d.starts_with(b"00") {
        let Ok(digits) = std::str::from_utf8(&d[2..]) else {
            return false;
        };
        return valid(None, &format!("+{digits}"));
    }
    REGIONS.iter().any(|&region| {
        let Some(metadata) = phonenumber::metadata::DATABASE.by_id(region.as_ref()) else { return false };
        // Only regions where the digits, less a national prefix they start with, have a possible length.
        let prefix = metadata.national_prefix().unwrap_or("");
        let national =
            if !prefix.is_empty() && d.starts_with(prefix.as_bytes()) { d.len() - prefix.len() } else { d.len() };
        let descriptors = metadata.descriptors();
        let lengths = [Some(descriptors.general()), descriptors.fixed_line(), descriptors.mobile()];
        let listed = lengths.iter().flatten().any(|d| !d.possible_length().is_empty());
        let fits = lengths.iter().flatten().any(|d| d.possible_length().iter().any(|&n| usize::from(n) == national));
        (fits || !listed) && valid(Some(region), text)
    })
}

/// Phones: numbering-plan metadata (libphonenumber's) validates international numbers and national numbers with a
/// trunk prefix; a national number without one needs phone words nearby (or `strict`). Before the metadata, the
/// hand rules for IN, US, UK and DE layouts, which need no lookup.
fn phone(span: &Span<'_>, ctx: &mut impl FnMut(Entity) -> bool, strict: bool) -> Option<f32> {
    if let Some(confidence) = hand_rules(span, ctx) {
        return Some(confidence);
    }
    if span.seps & (SLASH | DOT) != 0 || !(7..=15).contains(&span.n) {
        return None;
    }
    let d = span.d();
    let marked = span.plus || d[0] == b'0';
    if (marked || strict || ctx(Entity::Phone)) && plan_valid(span) {
        return Some(if marked { 0.8 } else { 0.75 });
    }
    None
}

/// Phone digit-count rules for IN, US, UK and DE, E.164 for other country codes.
fn hand_rules(span: &Span<'_>, ctx: &mut impl FnMut(Entity) -> bool) -> Option<f32> {
    if span.seps & SLASH != 0 {
        return None;
    }
    let d = span.d();
    let lens = span.lens();
    let n = span.n;
    if span.seps & DOT != 0 && !(lens == [3, 3, 4] && span.only(DOT)) {
        return None;
    }
    let grouped = span.groups > 1;
    if span.plus || (d.starts_with(b"00") && n >= 10) {
        let mut intl = [0u8; 19];
        let src = if span.plus { d } else { &d[2..] };
        intl[..src.len()].copy_from_slice(src);
        let mut m = src.len();
        #[derive(PartialEq)]
        enum Country {
            Nanp,
            India,
            Uk,
            Germany,
            Other,
        }
        let (cc, rest_from) = match &intl[..m] {
            [b'1', ..] => (Country::Nanp, 1),
            [b'9', b'1', ..] => (Country::India, 2),
            [b'4', b'4', ..] => (Country::Uk, 2),
            [b'4', b'9', ..] => (Country::Germany, 2),
            _ => (Country::Other, 0),
        };
        // "+44 (0)20 …": the trunk zero in parentheses is not dialled.
        if cc != Country::Other
            && m > rest_from
            && intl[rest_from] == b'0'
            && super::detect::find(span.text, b"(0)").is_some()
        {
            intl.copy_within(rest_from + 1..m, rest_from);
            m -= 1;
        }
        let rest = &intl[rest_from..m];
        let confidence = match (cc, rest.len()) {
            (Country::Nanp, 10) if checksum::nanp(rest) => 0.9,
            (Country::India, 10) if rest[0] >= b'2' => 0.9,
            (Country::Uk, 9..=10) if rest[0] != b'0' => 0.9,
            (Country::Germany, 6..=13) if rest[0] != b'0' => 0.85,
            (Country::Other, _) if (8..=15).contains(&m) && intl[0] != b'0' => 0.75,
            _ => return None,
        };
        return Some(confidence);
    }
    if d[0] == b'0' {
        return if (10..=12).contains(&n) && grouped {
            Some(0.75)
        } else if n == 11 {
            Some(if ctx(Entity::Phone) { 0.85 } else { 0.7 })
        } else if (7..=12).contains(&n) && ctx(Entity::Phone) {
            Some(0.8)
        } else {
            None
        };
    }
    let context = |ctx: &mut dyn FnMut(Entity) -> bool| ctx(Entity::Phone);
    match n {
        10 => {
            let us = checksum::nanp(d)
                && lens == [3, 3, 4]
                && (span.only(SP | DASH | DOT) || (span.paren_start && span.seps & !(SP | DASH | PAREN) == 0));
            let india = d[0] >= b'6' && lens == [5, 5] && span.only(SP | DASH);
            if us || india {
                Some(if context(ctx) { 0.95 } else { 0.8 })
            } else if (checksum::nanp(d) || d[0] >= b'6') && context(ctx) {
                Some(0.8)
            } else {
                None
            }
        }
        11 if d[0] == b'1' && checksum::nanp(&d[1..]) && (lens == [1, 3, 3, 4] || context(ctx)) => Some(0.8),
        12 if d.starts_with(b"91") && d[2] >= b'6' && context(ctx) => Some(0.8),
        _ => None,
    }
}

/// Day-month-year, month-day-year or year-month-day with one separator kind and a plausible date.
fn date(span: &Span<'_>) -> bool {
    if span.groups != 3 || !span.only(SLASH | DASH | DOT) {
        return false;
    }
    let d = span.d();
    let num =
        |from: usize, len: u8| d[from..from + usize::from(len)].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    let lens = span.lens();
    let (year, a, b) = match lens {
        [4, l1, l2] if *l1 <= 2 && *l2 <= 2 => (num(0, 4), num(4, *l1), num(4 + usize::from(*l1), *l2)),
        [l0, l1, 4] if *l0 <= 2 && *l1 <= 2 => {
            (num(usize::from(*l0 + *l1), 4), num(0, *l0), num(usize::from(*l0), *l1))
        }
        _ => return false,
    };
    let day_month = (1..=31).contains(&a) && (1..=12).contains(&b);
    let month_day = (1..=12).contains(&a) && (1..=31).contains(&b);
    (1900..=2100).contains(&year) && (day_month || month_day)
}
