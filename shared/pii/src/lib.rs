//! PII detection and replacement: the contract between the detection engine and whoever keeps originals.
//!
//! In the data flow this crate runs inside the runner, between validation and the durable buffer: every batch is
//! rewritten here before anything is persisted, so nothing raw reaches the buffer, the uploader or the control plane.
//!
//! The engine decides *what* is PII and which [`Action`] applies; a [`Tokens`] implementation (the runner's vault)
//! decides how a tokenized original is kept. Token text is fixed by the ingest contract (docs/architecture.md):
//! `tok_<entity>_<base32 of a keyed HMAC-SHA256>`, convergent per tenant key.
//!
//! The engine ([`Engine`]) is built from a [`PiiConfig`] and is pure: no I/O, no clocks. Its parts, a file each:
//! `detect` (one multi-pattern regex pass over a string, proposing candidates), `number` (digit runs: cards,
//! phones, Aadhaar, SSN, IPv4, dates), `checksum` (Luhn, Verhoeff, mod-97, GSTIN, issuer prefixes), `context`
//! (keywords near a candidate), `names` (word lists), `fields` (field-name rules and form-field hints),
//! `replace` (actions and masks), `hmac` (the keyed hash inside token text), `json` (the streaming batch and
//! rrweb rewriter), `jsonstr` (JSON string escapes), `keys` (known JSON keys), `config` (the policy-facing settings
//! and their validation).

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod checksum;
mod config;
mod context;
mod detect;
mod engine;
mod entity;
mod fields;
mod hmac;
mod json;
mod jsonstr;
mod keys;
mod names;
mod number;
mod replace;

pub use config::{
    ConfigError, ConfigErrorKind, ConfigErrors, CustomPattern, Dictionary, FieldRule, PiiConfig, Strictness,
    MAX_CUSTOM_PATTERNS, MAX_DICTIONARIES, MAX_DICTIONARY_WORDS, MAX_REGEX_LEN, MAX_REGEX_NFA_BYTES,
};
pub use engine::{Engine, ScrubStats};
pub use entity::{Detection, Entity};
pub use json::{ReplayNodes, ScrubError, MAX_DEPTH};
pub use replace::{is_replacement, mask};

/// What happens to a detected value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Leave the value as it is.
    Allow,
    /// Replace with a keyed hash (`hash_<entity>_…`); the original is not kept anywhere.
    Hash,
    /// Replace with a mask that keeps at most the last 4 digits.
    Mask,
    /// Replace with `[redacted:<entity>]`; the original is not kept anywhere.
    Redact,
    /// Replace with a convergent token; the original is kept encrypted in the runner's vault.
    #[default]
    Tokenize,
}

/// Receives the values the engine replaces. Implemented by the runner's vault.
pub trait Tokens {
    /// Returns the token for `original` (see [`token_text`]) and keeps the original recoverable.
    fn tokenize(&mut self, entity: &str, original: &str) -> String;
    /// Returns a keyed one-way hash of `original` (see [`token_text`] with prefix `hash`); nothing is kept.
    fn hash(&mut self, entity: &str, original: &str) -> String;
}

/// Number of HMAC bytes kept in a token: 160 bits, 32 base32 characters.
pub const TOKEN_HASH_BYTES: usize = 20;

/// An HMAC-SHA256 key for [`token_text`], with its padded key blocks hashed once rather than per token.
#[derive(Clone)]
pub struct TokenKey(hmac::HmacSha256);

impl TokenKey {
    pub fn new(secret: &[u8; 32]) -> TokenKey {
        TokenKey(hmac::HmacSha256::new(secret))
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// `<prefix>_<entity>_<base32(HMAC-SHA256(key, entity ‖ 0x00 ‖ original))[..32]>`, lowercase RFC 4648 base32.
pub fn token_text(key: &TokenKey, prefix: &str, entity: &str, original: &str) -> String {
    let tag = key.0.sign(&[entity.as_bytes(), &[0], original.as_bytes()]);
    let mut out = token_head(prefix, entity);
    base32_into(&tag[..TOKEN_HASH_BYTES], &mut out);
    out
}

/// A token's text up to its hash, `<prefix>_<entity>_`, with room for the 32 hash characters.
pub fn token_head(prefix: &str, entity: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + entity.len() + 2 + 32);
    out.push_str(prefix);
    out.push('_');
    out.push_str(entity);
    out.push('_');
    out
}

/// Lowercase RFC 4648 base32 without padding.
pub fn base32_into(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    // Five bytes make eight characters; a shorter last group makes as many as its bits need.
    for group in bytes.chunks(5) {
        let mut word = [0u8; 8];
        word[3..3 + group.len()].copy_from_slice(group);
        let bits = u64::from_be_bytes(word);
        let chars = (group.len() * 8).div_ceil(5);
        let text: [u8; 8] = std::array::from_fn(|i| ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize]);
        out.push_str(std::str::from_utf8(&text[..chars]).expect("the alphabet is ASCII"));
    }
}

/// Whether `text` looks like a token this module produces (`tok_<entity>_<32 base32 chars>`).
pub fn is_token(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("tok_") else { return false };
    let Some((entity, hash)) = rest.rsplit_once('_') else { return false };
    !entity.is_empty()
        && entity.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && hash.len() == 32
        && hash.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (input, expected) in vectors {
            let mut out = String::new();
            base32_into(input.as_bytes(), &mut out);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn tokens_are_convergent_per_key_and_entity() {
        let (one, two) = (TokenKey::new(&[1; 32]), TokenKey::new(&[2; 32]));
        let a = token_text(&one, "tok", "email", "a@example.com");
        assert_eq!(a, token_text(&TokenKey::new(&[1; 32]), "tok", "email", "a@example.com"));
        assert_ne!(a, token_text(&two, "tok", "email", "a@example.com"));
        assert_ne!(a, token_text(&one, "tok", "phone", "a@example.com"));
        assert!(a.starts_with("tok_email_") && is_token(&a), "{a}");
        assert!(!is_token("tok_email_short"));
    }

    #[test]
    fn token_text_is_stable_across_versions() {
        // Computed with ring's HMAC before the engine had its own; a vault's tokens must never change.
        for (key, entity, original, token) in [
            (1, "email", "a@example.com".to_string(), "tok_email_szas23fzkm3k5uxhu2lgrmnhfszvsvty"),
            (7, "phone", String::new(), "tok_phone_ukcbtsakz2em6jlpvozb2u5c7fxj3oh4"),
            (0xa5, "card", "x".repeat(200), "tok_card_saqpct4edavvafqewcghq7tsjryfnlqw"),
            (3, "name", "\u{e9}".repeat(27), "tok_name_vk726qfn5q7x6qkeglw5kvrxtxrbgbkf"),
        ] {
            assert_eq!(token_text(&TokenKey::new(&[key; 32]), "tok", entity, &original), token);
        }
    }
}
