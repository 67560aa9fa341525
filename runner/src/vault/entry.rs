//! One vault entry's value: `[key version u32 LE][12-byte random nonce][AES-256-GCM ciphertext ‖ tag]`, with
//! the token's bytes as additional authenticated data, so an entry copied under another token fails to open.
//! Version 0 marks an erased entry: `[0u32][erased at, epoch ms u64 LE]`.
//!
//! Random 96-bit nonces are safe for about 2^32 entries per key version; rotating keeps each version far below.

use ring::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

const VERSION_LEN: usize = 4;
const HEADER_LEN: usize = VERSION_LEN + NONCE_LEN;
/// The version that marks an erased entry; real key versions start at 1.
const ERASED: u32 = 0;
const AES_GCM_TAG_LEN: usize = 16;

/// A stored value, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry<'a> {
    Sealed { version: u32, nonce: [u8; NONCE_LEN], sealed: &'a [u8] },
    Erased { at_ms: u64 },
}

impl<'a> Entry<'a> {
    /// Parses a stored value; `None` if it is too short to be one.
    pub(super) fn parse(value: &'a [u8]) -> Option<Entry<'a>> {
        let version = u32::from_le_bytes(value.get(..VERSION_LEN)?.try_into().ok()?);
        if version == ERASED {
            let at_ms = u64::from_le_bytes(value.get(VERSION_LEN..VERSION_LEN + 8)?.try_into().ok()?);
            return Some(Entry::Erased { at_ms });
        }
        let nonce = value.get(VERSION_LEN..HEADER_LEN)?.try_into().ok()?;
        let sealed = value.get(HEADER_LEN..)?;
        if sealed.len() < AES_GCM_TAG_LEN {
            return None;
        }
        Some(Entry::Sealed { version, nonce, sealed })
    }
}

/// Encrypts `original` under `key` (version `version`), bound to `token`.
pub(super) fn seal(
    key: &LessSafeKey,
    version: u32,
    token: &str,
    original: &str,
    rng: &SystemRandom,
) -> Result<Vec<u8>, ring::error::Unspecified> {
    let mut nonce = [0; NONCE_LEN];
    rng.fill(&mut nonce)?;
    let mut body = Vec::with_capacity(original.len() + AES_GCM_TAG_LEN);
    body.extend_from_slice(original.as_bytes());
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(token.as_bytes()), &mut body)?;
    let mut value = Vec::with_capacity(HEADER_LEN + body.len());
    value.extend_from_slice(&version.to_le_bytes());
    value.extend_from_slice(&nonce);
    value.extend_from_slice(&body);
    Ok(value)
}

/// Decrypts a sealed entry; `None` if it fails authentication (tampered, moved, or another key).
pub(super) fn open(key: &LessSafeKey, token: &str, nonce: [u8; NONCE_LEN], sealed: &[u8]) -> Option<String> {
    let mut buffer = sealed.to_vec();
    let plain =
        key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(token.as_bytes()), &mut buffer).ok()?;
    let len = plain.len();
    buffer.truncate(len);
    String::from_utf8(buffer).ok()
}

/// The value that replaces an erased entry.
pub(super) fn tombstone(at_ms: u64) -> [u8; 12] {
    let mut value = [0; 12];
    value[..VERSION_LEN].copy_from_slice(&ERASED.to_le_bytes());
    value[VERSION_LEN..].copy_from_slice(&at_ms.to_le_bytes());
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::aead::{UnboundKey, AES_256_GCM};

    fn key(byte: u8) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[byte; 32]).unwrap())
    }

    fn opened(key: &LessSafeKey, token: &str, value: &[u8]) -> Option<String> {
        match Entry::parse(value)? {
            Entry::Sealed { nonce, sealed, .. } => open(key, token, nonce, sealed),
            Entry::Erased { .. } => None,
        }
    }

    #[test]
    fn sealed_entries_round_trip_and_carry_their_version() {
        let rng = SystemRandom::new();
        let value = seal(&key(1), 7, "tok_email_a", "a@example.com", &rng).unwrap();
        assert!(matches!(Entry::parse(&value), Some(Entry::Sealed { version: 7, .. })));
        assert!(!value.windows(13).any(|w| w == b"a@example.com"), "stored in the clear");
        assert_eq!(opened(&key(1), "tok_email_a", &value).as_deref(), Some("a@example.com"));
        let again = seal(&key(1), 7, "tok_email_a", "a@example.com", &rng).unwrap();
        assert_ne!(value, again, "nonces must differ");
    }

    #[test]
    fn tampered_moved_or_wrongly_keyed_entries_fail() {
        let value = seal(&key(1), 1, "tok_email_a", "a@example.com", &SystemRandom::new()).unwrap();
        assert_eq!(opened(&key(1), "tok_email_b", &value), None, "moved to another token");
        assert_eq!(opened(&key(2), "tok_email_a", &value), None, "another key");
        for at in [5, 16, value.len() - 1] {
            let mut flipped = value.clone();
            flipped[at] ^= 1;
            assert_eq!(opened(&key(1), "tok_email_a", &flipped), None, "byte {at} flipped");
        }
        assert_eq!(Entry::parse(&value[..20]), None);
    }

    #[test]
    fn tombstones_parse_as_erased() {
        assert_eq!(Entry::parse(&tombstone(42)), Some(Entry::Erased { at_ms: 42 }));
    }
}
