//! From a detection to its replacement text, by [`Action`]; and recognising replacements so that scrubbing
//! scrubbed text changes nothing.

use super::{Action, Tokens};

/// Replacement for `original` under `action`, or `None` for [`Action::Allow`].
pub(crate) fn replacement(entity: &str, action: Action, original: &str, tokens: &mut dyn Tokens) -> Option<String> {
    match action {
        Action::Allow => None,
        Action::Tokenize => Some(tokens.tokenize(entity, original)),
        Action::Hash => Some(tokens.hash(entity, original)),
        Action::Redact => Some(format!("[redacted:{entity}]")),
        Action::Mask => Some(mask(original)),
    }
}

/// Masks a value: letters and digits become `*` except the last digits, at most 4 and at most half of the
/// digits (so short values reveal little); separators and punctuation stay.
///
/// `4111 1111 1111 1234` → `**** **** **** 1234`; `123456` → `***456`; `a@b.co` → `*@*.**`.
pub fn mask(original: &str) -> String {
    let digits = original.chars().filter(char::is_ascii_digit).count();
    let keep = (digits / 2).min(4);
    let mut seen = 0;
    original
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > digits - keep {
                    c
                } else {
                    '*'
                }
            } else if c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Whether `text` is already a replacement: a token or hash (`tok_<entity>_<32 base32>`, `hash_…`),
/// `[redacted:<entity>]`, or a mask (stars, no letters, at most 4 digits).
pub fn is_replacement(text: &[u8]) -> bool {
    let keyed = |rest: &[u8]| {
        let Some(split) = rest.iter().rposition(|&b| b == b'_') else { return false };
        let (entity, hash) = (&rest[..split], &rest[split + 1..]);
        !entity.is_empty()
            && entity.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && hash.len() == 32
            && hash.iter().all(|&b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    };
    if let Some(rest) = text.strip_prefix(b"tok_").or_else(|| text.strip_prefix(b"hash_")) {
        return keyed(rest);
    }
    if text.starts_with(b"[redacted:") && text.ends_with(b"]") {
        return true;
    }
    text.contains(&b'*')
        && !text.iter().any(u8::is_ascii_alphabetic)
        && text.iter().filter(|b| b.is_ascii_digit()).count() <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_count_digits_not_characters() {
        assert_eq!(mask("4111 1111 1111 1234"), "**** **** **** 1234");
        assert_eq!(mask("+91 98765-43210"), "+** *****-*3210");
        assert_eq!(mask("123456"), "***456");
        assert_eq!(mask("1234"), "**34");
        assert_eq!(mask("7"), "*");
        assert_eq!(mask("ABCPE1234F"), "*******34*");
        assert_eq!(mask("priya@example.com"), "*****@*******.***");
        assert_eq!(mask("Jürgen"), "******");
    }

    #[test]
    fn recognises_replacements() {
        assert!(is_replacement(b"tok_email_abcdefghijklmnopqrstuvwxyz234567"));
        assert!(is_replacement(b"hash_url_credential_abcdefghijklmnopqrstuvwxyz234567"));
        assert!(is_replacement(b"[redacted:card]"));
        assert!(is_replacement(b"**** **** **** 1234"));
        assert!(!is_replacement(b"tok_email_short"));
        assert!(!is_replacement(b"hunter22"));
    }
}
