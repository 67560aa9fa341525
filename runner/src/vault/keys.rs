//! The vault's key file: the tenant token key, the hash key, and the versioned AES-256-GCM keys.
//!
//! The file is JSON, mode 0600, and replaced atomically (temporary file with 0600, fsync, rename, fsync of the
//! directory), so a crash during a rotation leaves either the old or the new key set, never a torn one. Like
//! ssh with private keys, the vault refuses a key file that the group or others may access.
//!
//! The token key is never rotated: tokens must stay convergent (the same value gives the same token forever,
//! so analytics can count and join). Only the encryption keys have versions; destroying a version removes its
//! key from the file and remembers the version as destroyed, so its entries report "destroyed" rather than
//! "unknown", and the version number is never reused.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use traceflow_pii::TokenKey;

use super::{now_ms, VaultError};

const FORMAT: u32 = 1;
/// Group and other permission bits; any of them makes the key file unsafe.
const NOT_PRIVATE: u32 = 0o077;

/// What the vault knows about an encryption key version.
pub(super) enum KeyState<'a> {
    Live(&'a LessSafeKey),
    Destroyed,
    Unknown,
}

/// Keys loaded from the key file.
pub(super) struct KeyRing {
    token_key: [u8; 32],
    hash_key: [u8; 32],
    /// The two keys above, ready for HMAC.
    token_mac: TokenKey,
    hash_mac: TokenKey,
    current: u32,
    keys: BTreeMap<u32, EncryptionKey>,
    /// Destroyed versions and when they were destroyed (epoch ms).
    destroyed: BTreeMap<u32, u64>,
}

struct EncryptionKey {
    secret: [u8; 32],
    created_ms: u64,
    cipher: LessSafeKey,
}

impl EncryptionKey {
    fn new(secret: [u8; 32], created_ms: u64) -> Result<EncryptionKey, VaultError> {
        let unbound = UnboundKey::new(&AES_256_GCM, &secret).map_err(|_| VaultError::Crypto)?;
        Ok(EncryptionKey { secret, created_ms, cipher: LessSafeKey::new(unbound) })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileDoc {
    format: u32,
    token_key: String,
    hash_key: String,
    current: u32,
    keys: Vec<KeyDoc>,
    #[serde(default)]
    destroyed: Vec<DestroyedDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDoc {
    version: u32,
    key: String,
    created_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DestroyedDoc {
    version: u32,
    destroyed_ms: u64,
}

impl KeyRing {
    /// New random keys with encryption key version 1.
    pub(super) fn generate(rng: &SystemRandom) -> Result<KeyRing, VaultError> {
        let mut keys = BTreeMap::new();
        keys.insert(1, EncryptionKey::new(random_key(rng)?, now_ms())?);
        let (token_key, hash_key) = (random_key(rng)?, random_key(rng)?);
        Ok(KeyRing {
            token_key,
            hash_key,
            token_mac: TokenKey::new(&token_key),
            hash_mac: TokenKey::new(&hash_key),
            current: 1,
            keys,
            destroyed: BTreeMap::new(),
        })
    }

    /// Reads `path`, refusing it if the group or others may access it.
    pub(super) fn load(path: &Path) -> Result<KeyRing, VaultError> {
        let bad = |reason: String| VaultError::KeyFile { path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & NOT_PRIVATE != 0 {
            return Err(VaultError::KeyFilePermissions { path: path.to_path_buf(), mode });
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let doc: KeyFileDoc = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        KeyRing::from_doc(doc).map_err(bad)
    }

    fn from_doc(doc: KeyFileDoc) -> Result<KeyRing, String> {
        if doc.format != FORMAT {
            return Err(format!("format {} is not supported (expected {FORMAT})", doc.format));
        }
        let mut keys = BTreeMap::new();
        for key in doc.keys {
            if key.version == 0 {
                return Err("key version 0 is reserved".into());
            }
            let secret = decode_key(&key.key).ok_or_else(|| format!("key {} is not 64 hex digits", key.version))?;
            let key_entry = EncryptionKey::new(secret, key.created_ms).map_err(|e| e.to_string())?;
            if keys.insert(key.version, key_entry).is_some() {
                return Err(format!("key version {} appears twice", key.version));
            }
        }
        let mut destroyed = BTreeMap::new();
        for entry in doc.destroyed {
            if keys.contains_key(&entry.version) || destroyed.insert(entry.version, entry.destroyed_ms).is_some() {
                return Err(format!("key version {} is listed twice", entry.version));
            }
        }
        if !keys.contains_key(&doc.current) {
            return Err(format!("current key version {} has no key", doc.current));
        }
        let token_key = decode_key(&doc.token_key).ok_or("token_key is not 64 hex digits")?;
        let hash_key = decode_key(&doc.hash_key).ok_or("hash_key is not 64 hex digits")?;
        Ok(KeyRing {
            token_key,
            hash_key,
            token_mac: TokenKey::new(&token_key),
            hash_mac: TokenKey::new(&hash_key),
            current: doc.current,
            keys,
            destroyed,
        })
    }

    fn to_doc(&self) -> KeyFileDoc {
        KeyFileDoc {
            format: FORMAT,
            token_key: hex::encode(self.token_key.as_slice()),
            hash_key: hex::encode(self.hash_key.as_slice()),
            current: self.current,
            keys: self
                .keys
                .iter()
                .map(|(&version, key)| KeyDoc {
                    version,
                    key: hex::encode(key.secret.as_slice()),
                    created_ms: key.created_ms,
                })
                .collect(),
            destroyed: self
                .destroyed
                .iter()
                .map(|(&version, &destroyed_ms)| DestroyedDoc { version, destroyed_ms })
                .collect(),
        }
    }

    /// Writes the key set to `path` atomically with mode 0600.
    pub(super) fn save(&self, path: &Path) -> Result<(), VaultError> {
        let cannot_write = |reason: String| VaultError::KeyFile { path: path.to_path_buf(), reason };
        let mut text = serde_json::to_string_pretty(&self.to_doc()).map_err(|e| cannot_write(e.to_string()))?;
        text.push('\n');
        write_private(path, text.as_bytes()).map_err(|e| cannot_write(format!("cannot write: {e}")))
    }

    pub(super) fn token_key(&self) -> &[u8; 32] {
        &self.token_key
    }

    #[cfg(test)]
    pub(super) fn hash_key(&self) -> &[u8; 32] {
        &self.hash_key
    }

    /// The token key, ready for [`traceflow_pii::token_text`].
    pub(super) fn token_mac(&self) -> &TokenKey {
        &self.token_mac
    }

    pub(super) fn hash_mac(&self) -> &TokenKey {
        &self.hash_mac
    }

    pub(super) fn current(&self) -> u32 {
        self.current
    }

    /// The key new entries are sealed with.
    pub(super) fn sealing(&self) -> (u32, &LessSafeKey) {
        // `from_doc`, `generate` and `rotate` keep the current version among the keys.
        let key = &self.keys[&self.current];
        (self.current, &key.cipher)
    }

    pub(super) fn state(&self, version: u32) -> KeyState<'_> {
        match self.keys.get(&version) {
            Some(key) => KeyState::Live(&key.cipher),
            None if self.destroyed.contains_key(&version) => KeyState::Destroyed,
            None => KeyState::Unknown,
        }
    }

    pub(super) fn live_versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub(super) fn destroyed_versions(&self) -> Vec<u32> {
        self.destroyed.keys().copied().collect()
    }

    /// A key set with one more encryption key, which becomes current. Version numbers are never reused.
    pub(super) fn rotated(&self, rng: &SystemRandom) -> Result<KeyRing, VaultError> {
        let highest = self.keys.keys().chain(self.destroyed.keys()).copied().max().unwrap_or(0);
        let version = highest.checked_add(1).ok_or(VaultError::Crypto)?;
        let mut next = self.duplicate()?;
        next.keys.insert(version, EncryptionKey::new(random_key(rng)?, now_ms())?);
        next.current = version;
        Ok(next)
    }

    /// A key set without `version`'s key. Refuses the current version; an already destroyed one is a no-op.
    pub(super) fn without(&self, version: u32) -> Result<KeyRing, VaultError> {
        if version == self.current {
            return Err(VaultError::CurrentKey(version));
        }
        let mut next = self.duplicate()?;
        if next.keys.remove(&version).is_none() && !next.destroyed.contains_key(&version) {
            return Err(VaultError::NoSuchKeyVersion(version));
        }
        next.destroyed.entry(version).or_insert_with(now_ms);
        Ok(next)
    }

    fn duplicate(&self) -> Result<KeyRing, VaultError> {
        KeyRing::from_doc(self.to_doc()).map_err(|_| VaultError::Crypto)
    }
}

fn random_key(rng: &SystemRandom) -> Result<[u8; 32], VaultError> {
    let mut key = [0; 32];
    rng.fill(&mut key).map_err(|_| VaultError::Crypto)?;
    Ok(key)
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let mut key = [0; 32];
    hex::decode_to_slice(text, &mut key).ok()?;
    Some(key)
}

/// Replaces `path` with `bytes` atomically, mode 0600 (see [`traceflow_certs::write_private`]).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    traceflow_certs::write_private(path, bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    /// `vault.keys` in a new temp dir (kept while the returned guard lives).
    fn temp_path(tag: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new().prefix(&format!("traceflow-keys-{tag}-")).tempdir().unwrap();
        let path = dir.path().join("vault.keys");
        (dir, path)
    }

    #[test]
    fn saved_keys_are_private_and_load_back() {
        let (_dir, path) = temp_path("roundtrip");
        let rng = SystemRandom::new();
        let ring = KeyRing::generate(&rng).unwrap().rotated(&rng).unwrap();
        ring.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let loaded = KeyRing::load(&path).unwrap();
        assert_eq!(loaded.token_key(), ring.token_key());
        assert_eq!(loaded.hash_key(), ring.hash_key());
        assert_eq!((loaded.current(), loaded.live_versions()), (2, vec![1, 2]));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let (_dir, path) = temp_path("perms");
        KeyRing::generate(&SystemRandom::new()).unwrap().save(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = KeyRing::load(&path).err().expect("refused");
            assert!(matches!(error, VaultError::KeyFilePermissions { mode: m, .. } if m == mode), "{error}");
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        KeyRing::load(&path).unwrap();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn destroyed_versions_are_remembered_and_never_reused() {
        let rng = SystemRandom::new();
        let ring = KeyRing::generate(&rng).unwrap().rotated(&rng).unwrap();
        assert!(matches!(ring.without(2), Err(VaultError::CurrentKey(2))));
        assert!(matches!(ring.without(7), Err(VaultError::NoSuchKeyVersion(7))));
        let ring = ring.without(1).unwrap();
        assert!(matches!(ring.state(1), KeyState::Destroyed));
        assert!(matches!(ring.state(9), KeyState::Unknown));
        let ring = ring.without(1).unwrap().rotated(&rng).unwrap();
        assert_eq!((ring.current(), ring.live_versions(), ring.destroyed_versions()), (3, vec![2, 3], vec![1]));
        let reloaded = KeyRing::from_doc(ring.to_doc()).unwrap();
        assert_eq!(reloaded.destroyed_versions(), vec![1]);
    }

    #[test]
    fn malformed_key_files_name_the_problem() {
        let ring = KeyRing::generate(&SystemRandom::new()).unwrap();
        let mut doc = ring.to_doc();
        doc.current = 5;
        assert!(KeyRing::from_doc(doc).err().unwrap().contains("current key version 5"));
        let mut doc = ring.to_doc();
        doc.token_key.pop();
        assert!(KeyRing::from_doc(doc).err().unwrap().contains("token_key"));
        assert_eq!(decode_key(&hex::encode([0xab; 32])), Some([0xab; 32]));
        assert_eq!(decode_key(&"g".repeat(64)), None);
    }
}
