//! Free-text detection: one multi-pattern regex pass proposes candidates, validators decide.
//!
//! The built-in patterns are deliberately coarse ("a run of digits and separators", "a word with `@`"), so the
//! lazy DFA stays small and fast; what makes a run a card, a phone or an Aadhaar number is decided in code
//! (issuer prefixes, Luhn, Verhoeff, mod-97, digit-count rules, context keywords). Custom patterns join the same
//! pass ahead of the built-ins; dictionaries run as one Aho-Corasick automaton. A byte-class mask of each string
//! decides cheaply whether the regex pass can find anything at all.

mod candidate;
mod classes;
mod digits;
mod person;
mod url;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::{meta, nfa::thompson::WhichCaptures, Input};

use super::checksum;
use super::context::{word_at, Context};
use super::names::{IFSC_BANKS, NOT_NAMES, UPI_HANDLES};
use super::number::Group;
use super::replace::is_replacement;
use super::{Action, Entity};
pub(crate) use candidate::Candidate;
pub(crate) use classes::{class, class_mask, CLASS};
use digits::*;
pub(crate) use digits::{glued, word8};

/// For one byte-class mask, the shortest haystack in which a candidate possible under the mask could match, by
/// what else the candidate needs (`NEVER` when no such candidate exists).
#[derive(Clone, Copy, Debug)]
struct RunWhen {
    /// Candidates needing nothing more than the mask (and custom patterns).
    plain: usize,
    /// Candidates needing four digits.
    digits: usize,
    /// Candidates needing a keyword of the gate.
    gated: usize,
}

const NEVER: usize = usize::MAX;

/// Entities found in digit runs.
const DIGIT_RUN_ENTITIES: u32 = Entity::Card.bit_const()
    | Entity::Phone.bit_const()
    | Entity::Aadhaar.bit_const()
    | Entity::Ssn.bit_const()
    | Entity::Ip.bit_const()
    | Entity::Dob.bit_const();

/// Detections weaker than this are not reported.
pub(crate) const MIN_CONFIDENCE: f32 = 0.5;

/// What a pattern of the combined regex is.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Builtin(Candidate),
    Custom(usize),
}

/// Context flag (beside the entity bits) for text that is a URL the page loads: the URL's host is the site, so an
/// IP address right after `//` is not reported.
pub(crate) const URL_SITE: u32 = 1 << 31;
/// Context flag for text the page itself shows (rrweb text nodes): a bank branch code printed there is the bank's,
/// not a customer's, so IFSC codes are not reported.
pub(crate) const PAGE_TEXT: u32 = 1 << 30;

/// The passes worth running on one string: the combined regex, digit runs, dictionaries, person names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    regex: bool,
    digit_runs: bool,
    words: bool,
    names: bool,
}

impl Plan {
    /// Whether nothing could be found.
    pub(crate) fn is_empty(self) -> bool {
        !(self.regex || self.digit_runs || self.words || self.names)
    }
}

/// A detection plus the action its rule imposes, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Found {
    pub entity: Entity,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub action: Option<Action>,
}

/// A compiled custom pattern's rule (its regex lives in the combined regex).
#[derive(Clone, Debug)]
pub(crate) struct CustomRule {
    pub regex: String,
    pub entity: Entity,
    pub action: Option<Action>,
    /// Lowercase context words; empty means none needed.
    pub context: Vec<Vec<u8>>,
}

/// A compiled dictionary set: one automaton per case mode, each pattern mapped to entity and action.
#[derive(Clone, Debug)]
struct Words {
    automaton: AhoCorasick,
    rules: Vec<(Entity, Option<Action>)>,
}

/// A dictionary's words with the entity and action they stand for.
pub(crate) struct WordList<'a> {
    pub words: &'a [String],
    pub entity: Entity,
    pub action: Option<Action>,
    pub case_sensitive: bool,
}

/// The free-text detector: combined regex, validators, dictionaries, context keywords.
#[derive(Clone, Debug)]
pub(crate) struct Detector {
    regex: Option<meta::Regex>,
    kinds: Vec<Kind>,
    /// By byte-class mask, the shortest text in which running the regex is worthwhile: for a candidate needing
    /// no more than the mask, one needing four digits, or one needing a keyword of `gate`.
    run: Box<[RunWhen; 256]>,
    /// Keywords without which names, bearer tokens and vendor keys cannot occur ("Dear", "Bearer", "AKIA", …).
    gate: Option<AhoCorasick>,
    /// Built-in entities reported in free text.
    pub(super) enabled: u32,
    /// Whether digit runs are classified (cards, phones, Aadhaar, SSN, IPv4, dates of birth).
    digit_runs: bool,
    customs: Vec<CustomRule>,
    words: Vec<Words>,
    pub(super) context: Context,
    names: person::Names,
    /// `pii.strictness = "strict"`: numbers need less evidence (see [`crate::Strictness`]).
    pub(crate) strict: bool,
}

/// Why the combined regex could not be built (custom patterns are checked one by one before this).
#[derive(Debug)]
pub(crate) struct BuildError(pub String);

impl Detector {
    /// Builds the detector for the built-in entities in `enabled`, plus custom patterns and dictionaries.
    pub(crate) fn new(enabled: u32, customs: Vec<CustomRule>, lists: &[WordList<'_>]) -> Result<Detector, BuildError> {
        let mut patterns = Vec::new();
        let mut kinds = Vec::new();
        for (i, rule) in customs.iter().enumerate() {
            patterns.push(rule.regex.clone());
            kinds.push(Kind::Custom(i));
        }
        let candidates: Vec<Candidate> = Candidate::ALL.into_iter().filter(|c| c.entities() & enabled != 0).collect();
        for &c in &candidates {
            patterns.push(c.regex());
            kinds.push(Kind::Builtin(c));
        }
        let regex = if patterns.is_empty() {
            None
        } else {
            let config = meta::Config::new()
                .which_captures(WhichCaptures::Implicit)
                .nfa_size_limit(Some(64 << 20))
                .hybrid_cache_capacity(16 << 20);
            let regex = meta::Regex::builder().configure(config).build_many(&patterns);
            Some(regex.map_err(|e| BuildError(e.to_string()))?)
        };
        // Custom patterns may match anything; built-in candidates need their classes and their shortest match.
        let custom_min = customs.iter().map(|r| min_len(&r.regex)).min().unwrap_or(NEVER);
        let mut run = Box::new([RunWhen { plain: custom_min, digits: NEVER, gated: NEVER }; 256]);
        for (m, when) in run.iter_mut().enumerate() {
            for &c in candidates.iter().filter(|c| c.possible(m as u8)) {
                let slot = if c.needs_digits() {
                    &mut when.digits
                } else if c.keywords().is_empty() {
                    &mut when.plain
                } else {
                    &mut when.gated
                };
                *slot = (*slot).min(min_len(&c.regex()));
            }
        }
        let keywords: Vec<&str> = candidates.iter().flat_map(|c| c.keywords().iter().copied()).collect();
        let gate = if keywords.is_empty() {
            None
        } else {
            let gate = AhoCorasick::new(&keywords);
            Some(gate.map_err(|e| BuildError(e.to_string()))?)
        };
        let mut words = Vec::new();
        for case_sensitive in [false, true] {
            let lists: Vec<&WordList<'_>> = lists.iter().filter(|l| l.case_sensitive == case_sensitive).collect();
            if lists.is_empty() {
                continue;
            }
            let mut all = Vec::new();
            let mut rules = Vec::new();
            for list in lists {
                for w in list.words {
                    all.push(w.trim().to_string());
                    rules.push((list.entity, list.action));
                }
            }
            let automaton = AhoCorasick::builder()
                .ascii_case_insensitive(!case_sensitive)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&all)
                .map_err(|e| BuildError(e.to_string()))?;
            words.push(Words { automaton, rules });
        }
        Ok(Detector {
            regex,
            kinds,
            run,
            gate,
            enabled,
            digit_runs: enabled & DIGIT_RUN_ENTITIES != 0,
            customs,
            words,
            context: Context::new(),
            names: person::Names::new(),
            strict: false,
        })
    }

    /// Which passes could find anything in `hay` (with byte-class mask `mask`).
    #[inline]
    pub(crate) fn plan(&self, hay: &[u8], mask: u8) -> Plan {
        let four_digits = mask & class::DIGIT != 0 && four_digits(hay);
        Plan {
            // Without patterns every length in `run` is `NEVER`, so this is false.
            regex: self.regex_worth(hay, mask, four_digits),
            digit_runs: self.digit_runs && four_digits,
            words: !self.words.is_empty() && !hay.is_empty(),
            names: self.wants(Entity::Name)
                && mask & class::UPPER != 0
                && mask & class::LOWER != 0
                && person::capitalised_pair(hay),
        }
    }

    #[inline]
    fn regex_worth(&self, hay: &[u8], mask: u8, four_digits: bool) -> bool {
        let when = self.run[usize::from(mask)];
        let len = hay.len();
        len >= when.plain
            || (four_digits && len >= when.digits)
            || (len >= when.gated && self.gate.as_ref().is_some_and(|g| g.is_match(hay)))
    }

    /// Finds PII in `hay` (class mask `mask`, extra context entities `extra` from a field name) into `out`,
    /// sorted by start and non-overlapping.
    pub(crate) fn find(&self, hay: &[u8], mask: u8, extra: u32, out: &mut Vec<Found>) {
        self.find_planned(hay, self.plan(hay, mask), extra, out);
    }

    /// [`Detector::find`] with the passes already decided by [`Detector::plan`].
    pub(crate) fn find_planned(&self, hay: &[u8], plan: Plan, extra: u32, out: &mut Vec<Found>) {
        out.clear();
        if extra & URL_SITE != 0 && Self::whole_url(hay) {
            // A URL the page loads or links to, absolute or relative: parsed, its parts scanned one by one.
            self.url(hay, 0, hay.len(), true, 0, out);
            out.sort_by_key(|f| f.start);
            return;
        }
        if memchr::memchr(b'&', hay).is_some() && Self::form_encoded(hay) {
            // A form-encoded body: each parameter by its name.
            self.query(hay, 0, hay.len(), 0, out);
            return;
        }
        if let Some(regex) = &self.regex {
            if plan.regex {
                let mut at = 0;
                while at < hay.len() {
                    // Searches are bounded to a window: a leftmost-first search otherwise runs on to the end of
                    // a long run of word characters (a pattern like `[\w.]+@` stays alive), and one search per
                    // match made 1 MB of random alphanumerics take minutes. Look-around still sees the whole
                    // haystack; a match cut by the window's end is searched again from its start.
                    let limit = (at + SEARCH_WINDOW).min(hay.len());
                    let m = match regex.search(&Input::new(hay).span(at..limit)) {
                        Some(m) if m.end() == limit && limit < hay.len() && m.start() > at => {
                            at = m.start();
                            continue;
                        }
                        Some(m) => m,
                        None if limit == hay.len() => break,
                        None => {
                            at = limit.saturating_sub(SEARCH_OVERLAP).max(at + 1);
                            continue;
                        }
                    };
                    let kind = self.kinds[m.pattern().as_usize()];
                    let end = self.classify(kind, hay, m.start(), m.end(), extra, out);
                    at = end.max(m.end()).max(m.start() + 1);
                }
            }
        }
        if plan.digit_runs {
            self.find_digit_runs(hay, extra, out);
        }
        if plan.words {
            self.find_words(hay, out);
        }
        if plan.names {
            self.find_person_names(hay, out);
        }
    }

    /// Digit runs (`[+(]?digit` then digits, single separators `space . / -` and parentheses), classified by
    /// validators. Runs inside a regex detection (an IBAN, an e-mail, a URL parameter) are not reported again.
    /// The run's digit groups are collected while it is read, so the classifier does not read it again.
    fn find_digit_runs(&self, hay: &[u8], extra: u32, out: &mut Vec<Found>) {
        let before = out.len();
        let n = hay.len();
        let digit = |i: usize| i < n && hay[i].is_ascii_digit();
        let mut groups = Groups::default();
        let mut i = 0;
        while let Some(first) = next_digit(hay, i) {
            i = first;
            let start = if i > 0 && matches!(hay[i - 1], b'+' | b'(') { i - 1 } else { i };
            groups.clear();
            // Extend over digits, one separator (optionally before `(`), or `)` and one separator.
            let mut group = i;
            let mut end = i + 1;
            loop {
                if digit(end) {
                    end += 1;
                    continue;
                }
                let mut k = end;
                if k < n && matches!(hay[k], b' ' | b'.' | b'/' | b'-') {
                    k += 1;
                }
                if k < n && hay[k] == b'(' {
                    k += 1;
                }
                if !digit(k) && end < n && hay[end] == b')' {
                    k = end + 1;
                    if k < n && matches!(hay[k], b' ' | b'.' | b'/' | b'-') {
                        k += 1;
                    }
                }
                if digit(k) {
                    groups.push(Group { start: group, end });
                    group = k;
                    end = k + 1;
                    continue;
                }
                break;
            }
            groups.push(Group { start: group, end });
            // Most runs in page text are short ("320", "2.5"): nothing digit-based has fewer than four digits.
            if groups.digits >= 4 && !out[..before].iter().any(|f| f.start < end && start < f.end) {
                self.numbers(hay, start, groups.as_slice(), groups.digits, extra, out);
            }
            i = end;
        }
        if out.len() > before && before > 0 {
            out.sort_by_key(|f| f.start);
        }
    }

    fn find_words(&self, hay: &[u8], out: &mut Vec<Found>) {
        let before = out.len();
        for words in &self.words {
            for m in words.automaton.find_iter(hay) {
                let (s, e) = (m.start(), m.end());
                if glued(hay, s, e) || out[..before].iter().any(|f| f.start < e && s < f.end) {
                    continue;
                }
                let (entity, action) = words.rules[m.pattern().as_usize()];
                out.push(Found { entity, start: s, end: e, confidence: 0.9, action });
            }
        }
        if out.len() > before {
            out.sort_by_key(|f| f.start);
            // Two dictionaries may overlap each other; keep the first.
            let mut last_end = 0;
            out.retain(|f| {
                let keep = f.start >= last_end;
                if keep {
                    last_end = f.end;
                }
                keep
            });
        }
    }

    pub(super) fn wants(&self, entity: Entity) -> bool {
        self.enabled & entity.bit() != 0
    }

    pub(super) fn push(&self, out: &mut Vec<Found>, entity: Entity, start: usize, end: usize, confidence: f32) {
        if self.wants(entity) && confidence >= MIN_CONFIDENCE && start < end {
            out.push(Found { entity, start, end, confidence: confidence.min(1.0), action: None });
        }
    }

    /// Validates one candidate; returns how far it consumed the haystack.
    fn classify(&self, kind: Kind, hay: &[u8], s: usize, e: usize, extra: u32, out: &mut Vec<Found>) -> usize {
        let ctx = |entity: Entity| (extra | self.context.around(hay, s, e)) & entity.bit() != 0;
        let bonus = |entity: Entity| if ctx(entity) { 0.05 } else { 0.0 };
        let c = match kind {
            Kind::Custom(i) => {
                let rule = &self.customs[i];
                if rule.context.is_empty() || self.custom_context(hay, s, e, &rule.context) {
                    out.push(Found { entity: rule.entity, start: s, end: e, confidence: 0.9, action: rule.action });
                }
                return e;
            }
            Kind::Builtin(c) => c,
        };
        match c {
            Candidate::Url => {
                let mut end = e;
                while end > s && matches!(hay[end - 1], b'.' | b',' | b')' | b'\'' | b';' | b':' | b'!' | b'?' | b']') {
                    end -= 1;
                }
                self.url(hay, s, end, extra & URL_SITE != 0, 0, out);
                return end;
            }
            Candidate::Jwt => {
                let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
                if !(s > 0 && b64(hay[s - 1])) {
                    self.push(out, Entity::Jwt, s, e, 0.95);
                }
            }
            Candidate::UrlUserinfo => {
                if let Some(p) = find(&hay[s..e], b"://") {
                    let (us, ue) = (s + p + 3, e - 1);
                    if !is_replacement(&hay[us..ue]) {
                        self.push(out, Entity::UrlCredential, us, ue, 0.95);
                    }
                }
            }
            Candidate::UrlParam => {
                let Some(eq) = hay[s..e].iter().position(|&b| b == b'=').map(|p| s + p) else { return e };
                let mut ve = e;
                while ve > eq + 1 && matches!(hay[ve - 1], b'.' | b',' | b')' | b';' | b':' | b'\'' | b'!') {
                    ve -= 1;
                }
                let value = &hay[eq + 1..ve];
                if !value.is_empty() && !is_replacement(value) {
                    self.push(out, param_entity(&hay[s + 1..eq]), eq + 1, ve, 0.9);
                }
            }
            Candidate::KnownSecret => {
                if !(s > 0 && hay[s - 1].is_ascii_alphanumeric()) {
                    self.push(out, Entity::Secret, s, e, 0.95);
                }
            }
            Candidate::SecretKv => return self.secret_kv(hay, s, e, out),
            Candidate::Bearer => {
                if !(s > 0 && hay[s - 1].is_ascii_alphabetic()) {
                    let mut v = s + 6;
                    while v < e && matches!(hay[v], b' ' | b'\t') {
                        v += 1;
                    }
                    if !is_replacement(&hay[v..e]) {
                        self.push(out, Entity::Secret, v, e, 0.9);
                    }
                }
            }
            Candidate::EmailUpi => self.email_upi(hay, s, e, &ctx, out),
            Candidate::Gstin => {
                if !glued(hay, s, e) && checksum::gstin(&hay[s..e]) {
                    self.push(out, Entity::Gstin, s, e, 0.95 + bonus(Entity::Gstin));
                }
            }
            Candidate::Iban => return self.iban(hay, s, e, out),
            Candidate::Pan => {
                let upper: [u8; 10] = std::array::from_fn(|i| hay.get(s + i).map_or(0, u8::to_ascii_uppercase));
                let lower = hay[s].is_ascii_lowercase();
                if !glued(hay, s, e) && checksum::pan_shape(&upper) && (!lower || ctx(Entity::Pan)) {
                    self.push(out, Entity::Pan, s, e, 0.85 + 2.0 * bonus(Entity::Pan));
                }
            }
            Candidate::Ifsc => {
                if !glued(hay, s, e) && extra & PAGE_TEXT == 0 {
                    let known = IFSC_BANKS.iter().any(|b| b.as_bytes() == &hay[s..s + 4]);
                    let confidence = if known {
                        0.85 + bonus(Entity::Ifsc)
                    } else if ctx(Entity::Ifsc) {
                        0.8
                    } else {
                        0.0
                    };
                    self.push(out, Entity::Ifsc, s, e, confidence);
                }
            }
            Candidate::Mac => {
                let mac = &hay[s..e];
                let edge = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'.');
                let glued = (s > 0 && edge(hay[s - 1])) || glued_after(hay, e, edge);
                let seps: Vec<u8> = mac.iter().copied().filter(|b| !b.is_ascii_hexdigit()).collect();
                let uniform = seps.windows(2).all(|w| w[0] == w[1]);
                let trivial = mac.iter().filter(|b| b.is_ascii_hexdigit()).all(|&b| b == b'0')
                    || mac.iter().filter(|b| b.is_ascii_hexdigit()).all(|&b| b == b'f' || b == b'F');
                if !glued && uniform && !trivial {
                    self.push(out, Entity::Mac, s, e, 0.9);
                }
            }
            Candidate::Ipv6 => {
                // A colon ending the match is the sentence's ("at 2001:db8::1: refused"), unless it makes `::`.
                let e = if hay[e - 1] == b':' && hay[e - 2] != b':' { e - 1 } else { e };
                let text = &hay[s..e];
                let edge = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.');
                let glued = (s > 0 && edge(hay[s - 1])) || glued_after(hay, e, edge);
                let parses = std::str::from_utf8(text).ok().and_then(|t| t.parse::<std::net::Ipv6Addr>().ok());
                if !glued && text.len() >= 6 && text.iter().any(u8::is_ascii_digit) && parses.is_some() {
                    self.push(out, Entity::Ip, s, e, 0.85);
                }
            }
            Candidate::NameContext => return self.name_context(hay, s, e, out),
            Candidate::Street => self.push(out, Entity::Address, s, e, 0.85),
            Candidate::IdContext => self.id_number(hay, s, e, out),
        }
        e
    }

    /// An identity document's number after its name (see [`Candidate::IdContext`]): the last token of the match,
    /// not glued to more letters or digits, 5–21 characters with at least four digits.
    fn id_number(&self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Found>) {
        if s > 0 && hay[s - 1].is_ascii_alphanumeric() {
            return;
        }
        if hay.get(e).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'@') {
            return;
        }
        let v = s + hay[s..e].iter().rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'-')).map_or(0, |p| p + 1);
        if v == s {
            return; // No separator between the document's name and the value.
        }
        let value = &hay[v..e];
        let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
        if (5..=21).contains(&value.len()) && digits >= 4 && value[0].is_ascii_alphanumeric() && !is_replacement(value)
        {
            self.push(out, Entity::IdNumber, v, e, 0.85);
        }
    }

    fn custom_context(&self, hay: &[u8], s: usize, e: usize, words: &[Vec<u8>]) -> bool {
        use super::context::{WINDOW_AFTER, WINDOW_BEFORE};
        let window = |from: usize, to: usize| &hay[from..to];
        let before = window(s.saturating_sub(WINDOW_BEFORE), s);
        let after = window(e, hay.len().min(e + WINDOW_AFTER));
        words.iter().any(|w| contains_word(before, w) || contains_word(after, w))
    }

    fn secret_kv(&self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Found>) -> usize {
        let mut k = s;
        while k < e && (hay[k].is_ascii_alphanumeric() || hay[k] == b'_' || hay[k] == b'-') {
            k += 1;
        }
        if s > 0 {
            let p = hay[s - 1];
            // CSS selectors (`.password:focus`, `#token`), template variables and prefixed words.
            if matches!(p, b'.' | b'#' | b'[' | b'-' | b'$') || (p.is_ascii_alphabetic() && k - s < 5) {
                return e;
            }
        }
        let mut v = k;
        if v < e && matches!(hay[v], b'"' | b'\'') {
            v += 1;
        }
        while v < e && matches!(hay[v], b' ' | b'\t') {
            v += 1;
        }
        let sep = hay[v];
        v += 1;
        let spaced = v < e && matches!(hay[v], b' ' | b'\t');
        while v < e && matches!(hay[v], b' ' | b'\t') {
            v += 1;
        }
        let quoted = v < e && matches!(hay[v], b'"' | b'\'');
        if quoted {
            v += 1;
        }
        let mut ve = e;
        while ve > v && matches!(hay[ve - 1], b'.' | b'!') {
            ve -= 1;
        }
        if ve <= v {
            return e;
        }
        let value = &hay[v..ve];
        if is_replacement(value) || value.iter().all(|&b| b == b'*') {
            return e;
        }
        // `Authorization: Bearer <token>`: the credential is the next word.
        let scheme = [&b"bearer"[..], b"basic", b"token", b"digest", b"negotiate"];
        if scheme.iter().any(|w| value.eq_ignore_ascii_case(w)) {
            let mut t = ve;
            while t < hay.len() && matches!(hay[t], b' ' | b'\t') {
                t += 1;
            }
            let ts = t;
            while t < hay.len() && (hay[t].is_ascii_alphanumeric() || b"._~+/=-".contains(&hay[t])) {
                t += 1;
            }
            if t - ts >= 8 && !is_replacement(&hay[ts..t]) {
                self.push(out, Entity::Secret, ts, t, 0.9);
                return t;
            }
            return e;
        }
        // Minified code: `token:function`, `password:e.value`; require a digit unless quoted or spaced.
        let has_digit = value.iter().any(u8::is_ascii_digit);
        if sep == b':' && !quoted && !spaced && !has_digit {
            return e;
        }
        let code_words = [&b"function"[..], b"this", b"null", b"true", b"false", b"undefined", b"return", b"void"];
        let member_path = value[0].is_ascii_alphabetic()
            && value.contains(&b'.')
            && !has_digit
            && value.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        if code_words.contains(&value) || member_path {
            return e;
        }
        self.push(out, Entity::Secret, v, ve, 0.85);
        e
    }

    fn email_upi(&self, hay: &[u8], s: usize, e: usize, ctx: &dyn Fn(Entity) -> bool, out: &mut Vec<Found>) {
        let Some(at) = hay[s..e].iter().position(|&b| b == b'@').map(|p| s + p) else { return };
        let mut ls = s;
        while ls < at && !hay[ls].is_ascii_alphanumeric() {
            ls += 1;
        }
        let local = &hay[ls..at];
        // A token before `@` is a scrubbed URL userinfo (`https://tok_…@host`), not an address.
        if local.is_empty() || local.len() > 64 || find(local, b"..").is_some() || is_replacement(local) {
            return;
        }
        let domain = &hay[at + 1..e];
        let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
        let label_ok = |l: &[u8]| !l.is_empty() && l.len() <= 63 && l[0] != b'-' && l[l.len() - 1] != b'-';
        if !labels.iter().all(|l| label_ok(l)) {
            return;
        }
        if labels.len() >= 2 {
            let tld = labels[labels.len() - 1];
            let retina = labels[0].len() >= 2
                && labels[0].ends_with(b"x")
                && labels[0][..labels[0].len() - 1].iter().all(u8::is_ascii_digit);
            const FILE_TYPES: [&[u8]; 16] = [
                b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"map", b"ico", b"woff", b"woff2",
                b"ttf", b"json", b"avif", b"mjs",
            ];
            let file = FILE_TYPES.iter().any(|t| tld.eq_ignore_ascii_case(t));
            if (2..=24).contains(&tld.len()) && tld.iter().all(u8::is_ascii_alphabetic) && !retina && !file {
                self.push(out, Entity::Email, ls, e, 0.95);
            }
        } else if local.len() >= 2 {
            let handle = domain.to_ascii_lowercase();
            let known = UPI_HANDLES.iter().any(|h| h.as_bytes() == handle.as_slice());
            let confidence = if known {
                0.9
            } else if ctx(Entity::Upi) {
                0.8
            } else {
                0.0
            };
            self.push(out, Entity::Upi, ls, e, confidence);
        }
    }

    fn iban(&self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Found>) -> usize {
        if s > 0 && hay[s - 1].is_ascii_alphanumeric() {
            return e;
        }
        let Some(len) = checksum::iban_length(&hay[s..s + 2]) else { return e };
        let mut compact = [0u8; 34];
        let mut n = 0;
        let mut p = s;
        while p < e && n < len {
            if hay[p] != b' ' {
                compact[n] = hay[p];
                n += 1;
            }
            p += 1;
        }
        if n == len && !hay.get(p).is_some_and(u8::is_ascii_alphanumeric) && checksum::iban(&compact[..n]) {
            self.push(out, Entity::Iban, s, p, 0.95);
            return p;
        }
        e
    }

    fn name_context(&self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Found>) -> usize {
        // Skip the context part: "name", optional "is", separators; or a title / greeting.
        let mut p = s;
        let by_name = hay[s..e].len() >= 4 && hay[s..s + 4].eq_ignore_ascii_case(b"name");
        let mut title = false;
        if by_name {
            p += 4;
            while p < e && matches!(hay[p], b' ' | b'\t') {
                p += 1;
            }
            if hay[p..e].starts_with(b"is") && hay.get(p + 2).is_some_and(|&b| b == b' ' || b == b'\t') {
                p += 2;
            }
        } else {
            let opener = candidate::NAME_OPENERS.iter().find(|o| hay[s..].starts_with(o.as_bytes())).unwrap_or(&"");
            p += opener.len();
            // A title (unlike a greeting, which is followed by ordinary words too) needs no known first name.
            title = TITLES.contains(opener);
        }
        let skip = |p: &mut usize| {
            while *p < hay.len() && matches!(hay[*p], b' ' | b'\t' | b':' | b'=' | b'-' | b'.' | b',') {
                *p += 1;
            }
        };
        skip(&mut p);
        // A title after a greeting: "Estimado Sr. Rodríguez", "Gentile Sig.ra Bianchi", "Sehr geehrte Frau Müller".
        if !by_name && !title {
            if let Some(t) = TITLES.iter().find(|t| {
                hay[p..].starts_with(t.as_bytes()) && hay.get(p + t.len()).is_some_and(|&b| matches!(b, b' ' | b'.'))
            }) {
                p += t.len();
                title = true;
                skip(&mut p);
            }
        }
        // Up to three capitalised words (Latin-1 letters and hyphenated parts included), read past the match,
        // which stops at the first non-ASCII letter.
        let _ = e;
        let mut words: Vec<person::Word> = Vec::with_capacity(3);
        let mut q = p;
        while words.len() < 3 {
            let Some(word) = person::word_at(hay, q).filter(|w| !w.caps) else { break };
            q = word.end;
            words.push(word);
            if hay.get(q).is_some_and(|&b| b == b' ' || b == b'\t') {
                q += 1;
                // Particles inside a name: "Van den Berg", "Maria de la Cruz".
                while let Some(particle) = person::PARTICLES
                    .iter()
                    .find(|w| hay[q..].starts_with(w.as_bytes()) && hay.get(q + w.len()) == Some(&b' '))
                {
                    q += particle.len() + 1;
                }
            } else {
                break;
            }
        }
        // Trailing words that are ordinary interface words end the name.
        while words.last().is_some_and(|w| NOT_NAMES.contains(&w.text())) {
            words.pop();
        }
        if words.first().is_none_or(|w| NOT_NAMES.contains(&w.text())) {
            return e;
        }
        let first = self.names.first.contains(words[0].text());
        let any_known =
            words.iter().any(|w| self.names.first.contains(w.text()) || self.names.surnames.contains(w.text()));
        let confident = first || ((by_name || title) && any_known);
        let end = words[words.len() - 1].end;
        if confident {
            self.push(out, Entity::Name, words[0].start, end, if first { 0.85 } else { 0.75 });
            return end.max(e);
        }
        e
    }
}

/// Length of the shortest text `pattern` matches (0 if unknown, so the pattern always runs).
fn min_len(pattern: &str) -> usize {
    regex_automata::util::syntax::parse(pattern).ok().and_then(|hir| hir.properties().minimum_len()).unwrap_or(0)
}

/// Bytes one regex search may look at (see `Detector::find`).
const SEARCH_WINDOW: usize = 16 * 1024;
/// How far windows overlap: longer than any entity the patterns match (JWTs included).
const SEARCH_OVERLAP: usize = 4 * 1024;

/// Titles of the supported languages: a capitalised word after one is a name even when no dictionary knows it
/// (longer forms first).
const TITLES: &[&str] = &[
    "Mrs", "Mr", "Ms", "Miss", "Mx", "Dr", "Prof", "Shri", "Smt", "Sri", "Kumari", "Herr", "Frau", "Mme", "Mlle",
    "Madame", "Monsieur", "Señora", "Señor", "Srta", "Sra", "Sr", "Doña", "Don", "Dona", "Sig.ra", "Sig.na", "Signora",
    "Signor", "Sig", "Dhr", "Mevr", "mevrouw", "heer",
];

/// Whether the byte at `e` glues more onto a match: an `edge` byte, except a full stop or colon that ends a
/// sentence or clause (nothing word-like right after it).
fn glued_after(hay: &[u8], e: usize, edge: impl Fn(u8) -> bool) -> bool {
    match hay.get(e) {
        Some(b'.' | b':') => hay.get(e + 1).is_some_and(u8::is_ascii_alphanumeric),
        Some(&b) => edge(b),
        None => false,
    }
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether lowercase `word` occurs in `text` (ASCII case-insensitive) as a whole word.
fn contains_word(text: &[u8], word: &[u8]) -> bool {
    if word.is_empty() || text.len() < word.len() {
        return false;
    }
    (0..=text.len() - word.len())
        .any(|i| text[i..i + word.len()].eq_ignore_ascii_case(word) && word_at(text, i, i + word.len()))
}

/// Entity of a sensitive URL query parameter's value.
fn param_entity(name: &[u8]) -> Entity {
    let is = |w: &[u8]| name.eq_ignore_ascii_case(w);
    if is(b"email") || is(b"e-mail") || is(b"mail") {
        Entity::Email
    } else if is(b"phone") || is(b"mobile") {
        Entity::Phone
    } else if is(b"ssn") {
        Entity::Ssn
    } else if is(b"aadhaar") {
        Entity::Aadhaar
    } else if is(b"pan") {
        Entity::Pan
    } else if is(b"card") || is(b"cardnumber") {
        Entity::Card
    } else {
        Entity::UrlCredential
    }
}
#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Detectors for all built-in entities and for each one alone (each has its own gate and length table).
    fn detectors() -> Vec<Detector> {
        let all = Entity::BUILTIN.iter().fold(0, |m, e| m | e.bit());
        std::iter::once(all)
            .chain(Entity::BUILTIN.iter().map(|e| e.bit()))
            .map(|enabled| Detector::new(enabled, Vec::new(), &[]).expect("built-ins compile"))
            .collect()
    }

    /// The plan may skip the regex only where no pattern matches.
    /// The plan skips only passes that would find nothing: the regex whenever no candidate can match, except a
    /// candidate needing four digits that its validation requires anyway ([`Candidate::IdContext`]); and the
    /// detections with the plan are those of every pass run.
    fn assert_planned(detectors: &[Detector], hay: &[u8]) {
        for detector in detectors {
            let Some(regex) = &detector.regex else { continue };
            if let Some(m) = regex.find(hay) {
                let kind = detector.kinds[m.pattern().as_usize()];
                assert!(
                    detector.plan(hay, class_mask(hay)).regex || matches!(kind, Kind::Builtin(Candidate::IdContext)),
                    "the plan skips the regex on {:?}, where {:?} matches {:?}",
                    String::from_utf8_lossy(hay),
                    kind,
                    String::from_utf8_lossy(&hay[m.range()]),
                );
            }
            let everything = Plan { regex: true, digit_runs: detector.digit_runs, words: true, names: true };
            let (mut planned, mut all) = (Vec::new(), Vec::new());
            detector.find(hay, class_mask(hay), 0, &mut planned);
            detector.find_planned(hay, everything, 0, &mut all);
            assert_eq!(planned, all, "the plan changes what is found in {:?}", String::from_utf8_lossy(hay));
        }
    }

    #[test]
    fn the_plan_runs_the_regex_on_every_match() {
        let detectors = detectors();
        let samples = [
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
            "https://user:s3cret@example.com/",
            "/login?Password=hunter22&x=1",
            "/s3?X-Amz-Signature=abcdef0123",
            "{\"api_key\"  :  \"abcd1234\"}",
            "token\t= 'abcd1234'",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "API-KEY: abcd1234",
            "Authorization: BEARER abcdefgh12345678",
            "karthik@oksbi",
            "27AAPFU0939F1ZV",
            "DE89 3704 0044 0532 0130 00",
            "ABCPE1234F",
            "SBIN0001234",
            "00:1a:2B:3c:4D:5e",
            "00-1a-2B-3c-4D-5e",
            "001a.2b3c.4d5e",
            "aabb.ccdd.eeff",
            "QA58DOHBABCDEFGHIJKLMNOPQRSTU",
            "fe80::1",
            "::",
            "12:30:45",
            "Dear Asha Rao",
            "my name is Ravi",
            "NAME:Jo",
        ];
        for sample in samples {
            assert_planned(&detectors, sample.as_bytes());
            assert_planned(&detectors, format!("Ref {sample}, thanks.").as_bytes());
        }
    }

    /// Fragments that make up the patterns' keywords, classes and separators.
    const FRAGMENTS: &[&str] = &[
        "eyJ",
        "eyj",
        "name",
        "Name",
        "NAME",
        "is",
        "Mr",
        "Dear",
        "bearer",
        "Bearer",
        "AKIA",
        "ghp_",
        "xoxb-",
        "k_live_",
        "AIza",
        "password",
        "Token",
        "SESSION_ID",
        "pin",
        "email",
        "x-amz-",
        "signature",
        "sig",
        "?",
        "&",
        "#",
        ";",
        "=",
        ":",
        "-",
        ".",
        "@",
        " ",
        "\t",
        "\"",
        "'",
        "_",
        "/",
        "%",
        "0",
        "1",
        "9",
        "12",
        "2024",
        "A",
        "B",
        "F",
        "Z",
        "SBIN",
        "ABCPE",
        "a",
        "f",
        "z",
        "ab",
        "x",
        "Ravi",
        "Raghavan",
        "P.",
        ",",
        "Sr",
        "Sig.ra",
        "de",
        "van",
        "É",
        "é",
        "https",
        "://",
        "mailto",
        "passport",
        "Nr",
        "4111111111111111",
        "203.0.113.7",
        "[",
        "]",
        "(",
        ")",
        "+",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn no_match_is_planned_away(parts in proptest::collection::vec(0..FRAGMENTS.len(), 1..40)) {
            let hay: String = parts.iter().map(|&i| FRAGMENTS[i]).collect();
            DETECTORS.with(|d| assert_planned(d, hay.as_bytes()));
        }

        /// Whatever the text ends or starts with (a title, a particle, half a URL), detection never reads past
        /// it, and reports sorted spans inside it.
        #[test]
        fn detections_are_sorted_spans_inside_the_text(parts in proptest::collection::vec(0..FRAGMENTS.len(), 1..40)) {
            let hay: String = parts.iter().map(|&i| FRAGMENTS[i]).collect();
            let hay = hay.as_bytes();
            DETECTORS.with(|detectors| {
                for detector in detectors {
                    let mut out = Vec::new();
                    detector.find(hay, class_mask(hay), 0, &mut out);
                    for f in &out {
                        assert!(f.start < f.end && f.end <= hay.len(), "{f:?} in {:?}", String::from_utf8_lossy(hay));
                    }
                    assert!(out.windows(2).all(|w| w[0].start <= w[1].start), "unsorted: {out:?}");
                }
            });
        }
    }

    #[test]
    fn the_digit_word_test_flags_exactly_the_digits_at_every_position() {
        // Every byte value in every position, next to neighbours that would carry or borrow into it.
        for fill in [0x00u8, b'0', b'9', b'/', b':', 0x7f, 0x80, 0xb0, 0xff] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[at] = b;
                    let want =
                        bytes.iter().enumerate().fold(
                            0u64,
                            |m, (i, x)| {
                                if x.is_ascii_digit() {
                                    m | 0x80 << (8 * i)
                                } else {
                                    m
                                }
                            },
                        );
                    assert_eq!(digits8(u64::from_le_bytes(bytes)), want, "{bytes:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn digit_search_and_count_agree_with_a_byte_loop(
            hay in proptest::collection::vec(prop_oneof![Just(b'5'), Just(b' '), Just(0xc3), any::<u8>()], 0..40),
            from in 0usize..44,
        ) {
            let want = hay.get(from..).and_then(|rest| rest.iter().position(u8::is_ascii_digit)).map(|p| from + p);
            prop_assert_eq!(next_digit(&hay, from), want);
            prop_assert_eq!(four_digits(&hay), hay.iter().filter(|b| b.is_ascii_digit()).count() >= 4);
        }

        #[test]
        fn digit_runs_are_found_as_when_each_run_was_read_twice(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("4111"), Just("1111"), Just("98"), Just("7"), Just("2024"), Just("192"), Just("+91"),
                    Just("("), Just(")"), Just(" "), Just("-"), Just("."), Just("/"), Just("x"), Just("Aadhaar"),
                    Just("card"), Just("phone"), Just("  "), Just("9876543210"), Just("4111 1111 1111 1111"),
                ],
                1..24,
            ),
        ) {
            let hay: String = parts.concat();
            DETECTORS.with(|d| {
                let mut found = Vec::new();
                d[0].find_digit_runs(hay.as_bytes(), 0, &mut found);
                let want = reference_digit_runs(&d[0], hay.as_bytes());
                let got: Vec<_> = found.iter().map(|f| (f.entity, f.start, f.end)).collect();
                assert_eq!(got, want, "{hay:?}");
            });
        }
    }

    /// Digit runs as found before groups were collected while reading: the run's extent first, then its digit
    /// groups by reading it again.
    fn reference_digit_runs(detector: &Detector, hay: &[u8]) -> Vec<(Entity, usize, usize)> {
        let n = hay.len();
        let digit = |i: usize| i < n && hay[i].is_ascii_digit();
        let sep = |i: usize| i < n && matches!(hay[i], b' ' | b'.' | b'/' | b'-');
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(p) = hay[i..].iter().position(u8::is_ascii_digit) {
            i += p;
            let start = if i > 0 && matches!(hay[i - 1], b'+' | b'(') { i - 1 } else { i };
            let mut end = i + 1;
            loop {
                if digit(end) {
                    end += 1;
                    continue;
                }
                let mut k = end + usize::from(sep(end));
                k += usize::from(k < n && hay[k] == b'(');
                if digit(k) {
                    end = k + 1;
                    continue;
                }
                if end < n && hay[end] == b')' {
                    let k = end + 1 + usize::from(sep(end + 1));
                    if digit(k) {
                        end = k + 1;
                        continue;
                    }
                }
                break;
            }
            let mut groups = Vec::new();
            let mut g = start;
            while g < end {
                if hay[g].is_ascii_digit() {
                    let from = g;
                    while g < end && hay[g].is_ascii_digit() {
                        g += 1;
                    }
                    groups.push(super::Group { start: from, end: g });
                } else {
                    g += 1;
                }
            }
            let total = groups.iter().map(|g| g.end - g.start).sum();
            if total >= 4 {
                detector.numbers(hay, start, &groups, total, 0, &mut out);
            }
            i = end;
        }
        out.iter().map(|f| (f.entity, f.start, f.end)).collect()
    }

    thread_local! {
        static DETECTORS: Vec<Detector> = detectors();
    }
}
