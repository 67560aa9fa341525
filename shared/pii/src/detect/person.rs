//! Person names without a context word: two or three capitalised words in a row, the first a known first name
//! and the others known first names or surnames ("Welcome back, Michael Ruiz!", "… for Priya Raghavan …").
//!
//! The dictionaries (`data/names/`, about 9,700 first names and 11,900 surnames of Indian, English, German,
//! Spanish and Latin American, French, Italian, Dutch, Portuguese, Vietnamese, Chinese and Japanese romanised,
//! Turkish and other cultures, from Faker's MIT-licensed person providers) are only consulted at capitalised words,
//! so ordinary text costs one byte loop. Names that are also ordinary English words ("Grace", "Bill", "Mark") do
//! not count here; with a title or greeting before them they still do (`name_context`).

use std::collections::HashSet;

use super::{Detector, Found};
use crate::names::{FIRST_NAMES, SURNAMES};
use crate::Entity;

const FIRST_NAME_LIST: &str = include_str!("../../data/names/first_names.txt");
const SURNAME_LIST: &str = include_str!("../../data/names/surnames.txt");
const COMMON_WORD_LIST: &str = include_str!("../../data/names/common_words.txt");

/// The name dictionaries, lowercase ASCII with accents folded.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub(crate) first: HashSet<&'static str>,
    pub(crate) surnames: HashSet<&'static str>,
    /// Names that are also ordinary words: never a name without context.
    common: HashSet<&'static str>,
}

impl Names {
    pub(crate) fn new() -> Names {
        let lines = |text: &'static str| text.lines().map(str::trim).filter(|l| !l.is_empty());
        Names {
            first: lines(FIRST_NAME_LIST).chain(FIRST_NAMES.iter().copied()).collect(),
            surnames: lines(SURNAME_LIST).chain(SURNAMES.iter().copied()).collect(),
            common: lines(COMMON_WORD_LIST).chain(NEVER_ALONE.iter().copied()).collect(),
        }
    }
}

/// Greetings and titles of the supported languages (accents folded): some are names in some list ("Bonjour",
/// "Caro"), but next to a name they are its context, never part of it.
const NEVER_ALONE: &[&str] = &[
    "hello",
    "hi",
    "hey",
    "dear",
    "welcome",
    "bonjour",
    "bonsoir",
    "salut",
    "bienvenue",
    "cher",
    "chere",
    "hola",
    "bienvenido",
    "bienvenida",
    "estimado",
    "estimada",
    "querido",
    "querida",
    "buenos",
    "ciao",
    "buongiorno",
    "benvenuto",
    "benvenuta",
    "gentile",
    "caro",
    "cara",
    "hallo",
    "willkommen",
    "liebe",
    "lieber",
    "sehr",
    "geehrte",
    "geehrter",
    "guten",
    "welkom",
    "beste",
    "geachte",
    "ola",
    "bemvindo",
    "bemvinda",
    "prezado",
    "prezada",
    "namaste",
    "namaskar",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "herr",
    "frau",
    "monsieur",
    "madame",
    "mme",
    "mlle",
    "senor",
    "senora",
    "sr",
    "sra",
    "srta",
    "sig",
    "signor",
    "signora",
    "signorina",
    "dhr",
    "mevr",
    "heer",
    "mevrouw",
    "dona",
    "shri",
    "smt",
    "sri",
    "kumari",
    "ji",
];

/// Longest word looked up.
const MAX_WORD: usize = 32;

/// A capitalised word at `hay[start..end]`, its folded lowercase form in `buf[..len]`.
pub(super) struct Word {
    pub(super) start: usize,
    pub(super) end: usize,
    buf: [u8; MAX_WORD],
    len: usize,
    /// Parts split at hyphens (`Müller-Lüdenscheidt`), as ranges of `buf`.
    parts: [(u8, u8); 3],
    n_parts: usize,
    /// Written in capitals only (`MICHAEL`), as on cards and in some forms.
    pub(super) caps: bool,
}

impl Word {
    pub(super) fn text(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn part(&self, i: usize) -> &str {
        let (s, e) = self.parts[i];
        std::str::from_utf8(&self.buf[usize::from(s)..usize::from(e)]).unwrap_or("")
    }
}

/// Whether the UTF-8 letter at `hay[i..]` is uppercase (ASCII or Latin-1); its byte length.
fn upper_at(hay: &[u8], i: usize) -> Option<usize> {
    match *hay.get(i)? {
        b'A'..=b'Z' => Some(1),
        0xC3 if hay.get(i + 1).is_some_and(|&b| (0x80..=0x9E).contains(&b) && b != 0x97) => Some(2),
        _ => None,
    }
}

/// Reads the capitalised word starting at `i` (letters, Latin-1 letters, inner hyphens and apostrophes).
pub(super) fn word_at(hay: &[u8], i: usize) -> Option<Word> {
    upper_at(hay, i)?;
    let mut word = Word { start: i, end: i, buf: [0; MAX_WORD], len: 0, parts: [(0, 0); 3], n_parts: 0, caps: false };
    let mut part_start = 0u8;
    let mut lower = false;
    let mut p = i;
    while p < hay.len() {
        let b = hay[p];
        let (folded, width): (&[u8], usize) = if b.is_ascii_alphabetic() {
            lower |= b.is_ascii_lowercase();
            (std::slice::from_ref(&b), 1)
        } else if b == 0xC3 && hay.get(p + 1).is_some_and(|&c| (0x80..=0xBF).contains(&c)) {
            lower |= hay[p + 1] >= 0xA0;
            (crate::fields::fold_latin1(hay[p + 1]), 2)
        } else if (b == b'-' || b == b'\'') && hay.get(p + 1).is_some_and(u8::is_ascii_alphabetic) && word.len > 0 {
            if b == b'-' && word.n_parts < 2 {
                word.parts[word.n_parts] = (part_start, word.len as u8);
                word.n_parts += 1;
                part_start = word.len as u8;
            }
            p += 1;
            continue;
        } else {
            break;
        };
        if word.len + folded.len() > MAX_WORD {
            return None;
        }
        for &f in folded {
            word.buf[word.len] = f.to_ascii_lowercase();
            word.len += 1;
        }
        p += width;
    }
    word.end = p;
    word.parts[word.n_parts] = (part_start, word.len as u8);
    word.n_parts += 1;
    // At least two letters and not glued to digits or more letters; all in capitals is told apart.
    if word.len < 2 || hay.get(p).is_some_and(|&b| b.is_ascii_digit() || b >= 0x80) {
        return None;
    }
    word.caps = !lower;
    Some(word)
}

/// Whether `hay` has a letter, a space and a capital letter in a row: where two capitalised words can meet
/// (`Ruiz` after `Michael `, or after a particle `van `). Checked with a fast search for spaces before any
/// dictionary work.
pub(super) fn capitalised_pair(hay: &[u8]) -> bool {
    let letter = |i: usize| hay[i].is_ascii_alphabetic() || hay[i] >= 0x80;
    memchr::memchr_iter(b' ', hay).any(|at| {
        at > 0
            && at + 1 < hay.len()
            && upper_at(hay, at + 1).is_some()
            && (letter(at - 1)
                // "Raghavan, Priya"; an initial "P. Raghavan".
                || (at > 1 && hay[at - 1] == b',' && letter(at - 2))
                || (at > 1 && hay[at - 1] == b'.' && hay[at - 2].is_ascii_uppercase() && (at == 2 || !letter(at - 3))))
    })
}

impl Detector {
    /// Whether `word` (or, for a hyphenated one, any part) is in `set` and no ordinary word.
    fn known(&self, word: &Word, surname: bool) -> bool {
        let names = &self.names;
        let set = if surname { &names.surnames } else { &names.first };
        let hit = |w: &str| set.contains(w) && !names.common.contains(w);
        if hit(word.text()) {
            return true;
        }
        // Hyphenated: `Weller-Niemeier`, `Jean-Pierre`.
        word.n_parts > 1 && (0..word.n_parts).any(|i| hit(word.part(i)))
    }

    /// Whether `word` is in either dictionary, ordinary word or not.
    fn in_dictionary(&self, word: &Word) -> bool {
        let hit = |w: &str| self.names.first.contains(w) || self.names.surnames.contains(w);
        hit(word.text()) || (word.n_parts > 1 && (0..word.n_parts).any(|i| hit(word.part(i))))
    }

    /// Names as runs of two or three capitalised dictionary words, outside what was found already: the first and
    /// the last a name that is no ordinary word, at least one of them a first name (either order: "Nguyen Van An"
    /// puts the family name first), the middle one any name (lowercase particles such as "van der" may join).
    pub(super) fn find_person_names(&self, hay: &[u8], out: &mut Vec<Found>) {
        let before = out.len();
        let mut i = 0;
        while i < hay.len() {
            let starts_word = upper_at(hay, i).is_some()
                && (i == 0 || !(hay[i - 1].is_ascii_alphanumeric() || hay[i - 1] >= 0x80 || hay[i - 1] == b'_'));
            if !starts_word {
                i += 1;
                continue;
            }
            let Some(first) = word_at(hay, i) else {
                // An initial before a surname: "P. Raghavan".
                if let Some(end) = self.initial_and_surname(hay, i) {
                    if !out[..before].iter().any(|f| f.start < end && i < f.end) {
                        self.push(out, Entity::Name, i, end, 0.75);
                    }
                    i = end;
                } else {
                    i += 1;
                }
                continue;
            };
            i = first.end.max(i + 1);
            // "Surname, Given" (lists, statements, forms): a surname, a comma and a first name.
            if let Some(end) = self.surname_comma_given(hay, &first) {
                if !out[..before].iter().any(|f| f.start < end && first.start < f.end) {
                    self.push(out, Entity::Name, first.start, end, 0.8);
                }
                i = end;
                continue;
            }
            // Words in capitals ("JOHN SMITH" on a card) only as a first name then a surname, all in capitals.
            let caps = first.caps;
            // Most capitalised words stand alone ("Submit", "Account"): no lookup unless another word follows.
            if hay.get(first.end) != Some(&b' ')
                || !hay.get(first.end + 1).is_some_and(|&b| b.is_ascii_alphabetic() || b >= 0x80)
            {
                continue;
            }
            let first_is_first = self.known(&first, false);
            if !first_is_first && !self.known(&first, true) {
                continue;
            }
            let mut run: Vec<Word> = Vec::with_capacity(2);
            let mut p = first.end;
            while run.len() < 2 && hay.get(p) == Some(&b' ') {
                let mut q = p + 1;
                for _ in 0..2 {
                    let particle = PARTICLES
                        .iter()
                        .find(|w| hay[q..].starts_with(w.as_bytes()) && hay.get(q + w.len()) == Some(&b' '));
                    match particle {
                        Some(w) => q += w.len() + 1,
                        None => break,
                    }
                }
                let Some(next) = (q < hay.len()).then(|| word_at(hay, q)).flatten() else { break };
                if next.caps != caps || !self.in_dictionary(&next) {
                    break;
                }
                p = next.end;
                run.push(next);
            }
            // The run ends at its last name that is no ordinary word.
            while run.last().is_some_and(|w| !(self.known(w, true) || self.known(w, false))) {
                run.pop();
            }
            let Some(last) = run.last() else { continue };
            let any_first = first_is_first || run.iter().any(|w| self.known(w, false));
            if !any_first || (caps && !(first_is_first && self.known(last, true))) {
                continue;
            }
            let end = last.end;
            if !out[..before].iter().any(|f| f.start < end && first.start < f.end) {
                self.push(out, Entity::Name, first.start, end, 0.8);
            }
            i = end;
        }
        if out.len() > before && before > 0 {
            out.sort_by_key(|f| f.start);
        }
    }
}

impl Detector {
    /// `hay[i]` is a capital letter and an initial (`P.`, `P. K.`) then a known surname follow; the end.
    fn initial_and_surname(&self, hay: &[u8], i: usize) -> Option<usize> {
        let mut p = i;
        for _ in 0..2 {
            if !(hay[p].is_ascii_uppercase() && hay.get(p + 1) == Some(&b'.') && hay.get(p + 2) == Some(&b' ')) {
                break;
            }
            p += 3;
            if p >= hay.len() {
                return None;
            }
        }
        if p == i {
            return None;
        }
        let word = word_at(hay, p).filter(|w| !w.caps)?;
        self.known(&word, true).then_some(word.end)
    }

    /// `first` is a known surname followed by `, ` and a known first name; the end of that first name.
    fn surname_comma_given(&self, hay: &[u8], first: &Word) -> Option<usize> {
        if hay.get(first.end) != Some(&b',') || hay.get(first.end + 1) != Some(&b' ') || first.caps {
            return None;
        }
        let given = word_at(hay, first.end + 2).filter(|w| !w.caps)?;
        (self.known(first, true) && self.known(&given, false)).then_some(given.end)
    }
}

/// Lowercase words that join the parts of a surname.
pub(super) const PARTICLES: [&str; 11] = ["de", "da", "del", "della", "di", "van", "von", "der", "den", "la", "le"];

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let detector = Detector::new(Entity::Name.bit(), Vec::new(), &[]).unwrap();
        let mut out = Vec::new();
        detector.find_person_names(text.as_bytes(), &mut out);
        out.iter().map(|f| text[f.start..f.end].to_string()).collect()
    }

    #[test]
    fn capitalised_dictionary_names_in_a_row_are_names() {
        assert_eq!(names("Welcome back, Michael Ruiz!"), ["Michael Ruiz"]);
        assert_eq!(names("Payment failed for Priya Raghavan today"), ["Priya Raghavan"]);
        assert_eq!(names("Hatice Weller-Niemeier signed"), ["Hatice Weller-Niemeier"]);
        assert_eq!(names("Amélie Müller"), ["Amélie Müller"]);
        assert_eq!(names("Sanne van der Meer"), ["Sanne van der Meer"]);
        assert_eq!(names("Sanne de Vries"), ["Sanne de Vries"]);
        assert_eq!(names("Card holder: MICHAEL RUIZ"), ["MICHAEL RUIZ"]);
        assert_eq!(names("MICHAEL Ruiz"), Vec::<String>::new(), "capitals and not: two words of different kinds");
        assert_eq!(names("Bienvenue, Jean-Pierre Dubois !"), ["Jean-Pierre Dubois"]);
        assert_eq!(names("Account holder: Raghavan, Priya"), ["Raghavan, Priya"]);
        assert_eq!(names("Customer: P. Raghavan"), ["P. Raghavan"]);
        assert_eq!(names("Bonjour Hélène Lefèvre, votre relevé"), ["Hélène Lefèvre"]);
    }

    #[test]
    fn ordinary_capitalised_words_are_not_names() {
        for text in [
            "Grace Period ends",
            "Bill Payment",
            "Account Summary",
            "Michael",
            "ACCOUNT SUMMARY",
            "PAY NOW",
            "IBAN DE89",
            "Submit Form",
            "Victoria Station",
            "https://example.com/Michael/Ruiz",
        ] {
            assert_eq!(names(text), Vec::<String>::new(), "{text}");
        }
    }
}
