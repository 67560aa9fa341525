//! Context keywords: words near a candidate ("aadhaar", "PAN", "call", …) that turn an ambiguous digit run into
//! a detection and raise confidence. One Aho-Corasick automaton over all keywords, run on small windows only.

use aho_corasick::{AhoCorasick, MatchKind};

use super::Entity;

/// Bytes before a candidate searched for keywords.
pub(crate) const WINDOW_BEFORE: usize = 48;
/// Bytes after a candidate searched for keywords.
pub(crate) const WINDOW_AFTER: usize = 24;

const KEYWORDS: &[(&str, Entity)] = &[
    ("phone", Entity::Phone),
    ("phones", Entity::Phone),
    ("mobile", Entity::Phone),
    ("mob", Entity::Phone),
    ("cell", Entity::Phone),
    ("cellphone", Entity::Phone),
    ("tel", Entity::Phone),
    ("telephone", Entity::Phone),
    ("call", Entity::Phone),
    ("contact", Entity::Phone),
    ("whatsapp", Entity::Phone),
    ("sms", Entity::Phone),
    ("dial", Entity::Phone),
    ("ph", Entity::Phone),
    ("handy", Entity::Phone),
    ("telefon", Entity::Phone),
    ("mobil", Entity::Phone),
    ("card", Entity::Card),
    ("credit", Entity::Card),
    ("debit", Entity::Card),
    ("visa", Entity::Card),
    ("mastercard", Entity::Card),
    ("amex", Entity::Card),
    ("rupay", Entity::Card),
    ("aadhaar", Entity::Aadhaar),
    ("aadhar", Entity::Aadhaar),
    ("adhaar", Entity::Aadhaar),
    ("uidai", Entity::Aadhaar),
    ("uid", Entity::Aadhaar),
    ("ssn", Entity::Ssn),
    ("social security", Entity::Ssn),
    ("pan", Entity::Pan),
    ("permanent account", Entity::Pan),
    ("ifsc", Entity::Ifsc),
    ("ifs code", Entity::Ifsc),
    ("branch code", Entity::Ifsc),
    ("upi", Entity::Upi),
    ("vpa", Entity::Upi),
    ("gpay", Entity::Upi),
    ("phonepe", Entity::Upi),
    ("bhim", Entity::Upi),
    ("dob", Entity::Dob),
    ("d.o.b", Entity::Dob),
    ("birth", Entity::Dob),
    ("born", Entity::Dob),
    ("birthday", Entity::Dob),
    ("geburtsdatum", Entity::Dob),
    ("gst", Entity::Gstin),
    ("gstin", Entity::Gstin),
    ("iban", Entity::Iban),
    ("account", Entity::Account),
    ("a/c", Entity::Account),
    // The same in German, French, Spanish, Italian, Dutch and Portuguese.
    ("telefonnummer", Entity::Phone),
    ("handynummer", Entity::Phone),
    ("mobilnummer", Entity::Phone),
    ("rufnummer", Entity::Phone),
    ("téléphone", Entity::Phone),
    ("portable", Entity::Phone),
    ("teléfono", Entity::Phone),
    ("telefono", Entity::Phone),
    ("móvil", Entity::Phone),
    ("movil", Entity::Phone),
    ("celular", Entity::Phone),
    ("cellulare", Entity::Phone),
    ("telefoon", Entity::Phone),
    ("mobiel", Entity::Phone),
    ("telemóvel", Entity::Phone),
    ("karte", Entity::Card),
    ("kreditkarte", Entity::Card),
    ("kartennummer", Entity::Card),
    ("debitkarte", Entity::Card),
    ("carte", Entity::Card),
    ("tarjeta", Entity::Card),
    ("carta", Entity::Card),
    ("kaart", Entity::Card),
    ("creditcard", Entity::Card),
    ("cartão", Entity::Card),
    ("cartao", Entity::Card),
    ("maestro", Entity::Card),
    ("jcb", Entity::Card),
    ("discover", Entity::Card),
    ("diners", Entity::Card),
    ("unionpay", Entity::Card),
    ("social_security", Entity::Ssn),
    ("socialsecurity", Entity::Ssn),
    ("geboren", Entity::Dob),
    ("naissance", Entity::Dob),
    ("nacimiento", Entity::Dob),
    ("nascita", Entity::Dob),
    ("geboortedatum", Entity::Dob),
    ("nascimento", Entity::Dob),
    ("konto", Entity::Account),
    ("kontonummer", Entity::Account),
    ("compte", Entity::Account),
    ("cuenta", Entity::Account),
    ("conto", Entity::Account),
    ("rekening", Entity::Account),
    // Identity documents.
    ("passport", Entity::IdNumber),
    ("passport no", Entity::IdNumber),
    ("reisepass", Entity::IdNumber),
    ("ausweis", Entity::IdNumber),
    ("ausweisnummer", Entity::IdNumber),
    ("personalausweis", Entity::IdNumber),
    ("pasaporte", Entity::IdNumber),
    ("passeport", Entity::IdNumber),
    ("passaporto", Entity::IdNumber),
    ("paspoort", Entity::IdNumber),
    ("passaporte", Entity::IdNumber),
    ("national id", Entity::IdNumber),
    ("identity card", Entity::IdNumber),
    ("id card", Entity::IdNumber),
    ("carte d'identité", Entity::IdNumber),
    ("carte d'identite", Entity::IdNumber),
    ("carta d'identità", Entity::IdNumber),
    ("dni", Entity::IdNumber),
    ("nif", Entity::IdNumber),
    ("cni", Entity::IdNumber),
    ("bsn", Entity::IdNumber),
    ("cpf", Entity::IdNumber),
    ("codice fiscale", Entity::IdNumber),
    ("driving licence", Entity::IdNumber),
    ("driving license", Entity::IdNumber),
    ("driver's license", Entity::IdNumber),
    ("drivers license", Entity::IdNumber),
    ("driver license", Entity::IdNumber),
    ("licence no", Entity::IdNumber),
    ("license no", Entity::IdNumber),
    ("führerschein", Entity::IdNumber),
    ("fuhrerschein", Entity::IdNumber),
    ("permis de conduire", Entity::IdNumber),
    ("voter id", Entity::IdNumber),
    ("epic no", Entity::IdNumber),
    ("steuer-id", Entity::IdNumber),
    ("steuer id", Entity::IdNumber),
    ("steueridentifikationsnummer", Entity::IdNumber),
    ("tax id", Entity::IdNumber),
    ("national insurance", Entity::IdNumber),
    ("sozialversicherungsnummer", Entity::IdNumber),
    ("emirates id", Entity::IdNumber),
    ("nric", Entity::IdNumber),
    ("documento de identidad", Entity::IdNumber),
    ("cédula", Entity::IdNumber),
    ("cedula", Entity::IdNumber),
];

/// Finds context keywords as whole words (camelCase boundaries count) and reports their entities as a bit mask.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    automaton: AhoCorasick,
}

impl Context {
    pub(crate) fn new() -> Context {
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(KEYWORDS.iter().map(|(w, _)| w))
            .expect("built-in context keywords compile");
        Context { automaton }
    }

    /// Entities (as [`Entity::bit`]s) whose keywords occur as whole words in `text`.
    pub(crate) fn entities_in(&self, text: &[u8]) -> u32 {
        let mut mask = 0;
        for m in self.automaton.find_iter(text) {
            if word_at(text, m.start(), m.end()) {
                mask |= KEYWORDS[m.pattern().as_usize()].1.bit();
            }
        }
        mask
    }

    /// Entities whose keywords occur near `hay[start..end]` (before and after it, not inside).
    pub(crate) fn around(&self, hay: &[u8], start: usize, end: usize) -> u32 {
        let before = &hay[start.saturating_sub(WINDOW_BEFORE)..start];
        let after = &hay[end..hay.len().min(end + WINDOW_AFTER)];
        self.entities_in(before) | self.entities_in(after)
    }
}

/// Whether `text[start..end]` is a whole word: no letter glued on either side, except at a camelCase change.
pub(crate) fn word_at(text: &[u8], start: usize, end: usize) -> bool {
    let left = start == 0 || {
        let p = text[start - 1];
        !p.is_ascii_alphabetic() || (p.is_ascii_lowercase() && text[start].is_ascii_uppercase())
    };
    let right = end >= text.len() || {
        let n = text[end];
        !n.is_ascii_alphabetic() || (text[end - 1].is_ascii_lowercase() && n.is_ascii_uppercase())
    };
    left && right
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_whole_words() {
        let c = Context::new();
        assert_eq!(c.entities_in(b"my Aadhaar no"), Entity::Aadhaar.bit());
        assert_eq!(c.entities_in(b"company"), 0, "pan inside company is not a keyword");
        assert_eq!(c.entities_in(b"telemetry"), 0);
        assert_eq!(c.entities_in(b"customerMobile"), Entity::Phone.bit());
        assert_eq!(c.entities_in(b"user_phone"), Entity::Phone.bit());
    }
}
