use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::Ordering;

use traceflow_pii::Tokens;

use super::*;

/// A vault's data dir in a temp dir, removed on drop; also used by other modules' tests.
pub(crate) struct Fixture {
    dir: PathBuf,
    db: Db,
    _temp: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new(tag: &str) -> Fixture {
        let temp = tempfile::Builder::new().prefix(&format!("traceflow-vault-{tag}-")).tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let db = Db::open(&dir.join("db"), traceflow_store::Options::default()).unwrap();
        Fixture { dir, db, _temp: temp }
    }

    fn options(&self) -> VaultOptions {
        VaultOptions::new(&self.dir, &VaultConfig::default())
    }

    pub(crate) fn vault(&self) -> Vault {
        self.open(self.options()).unwrap()
    }

    fn open(&self, options: VaultOptions) -> Result<Vault, VaultError> {
        Vault::open(&self.db, options, Arc::new(Metrics::new()))
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.join("vault-audit.log")).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }
}

fn tokenize(vault: &Vault, entity: &str, original: &str) -> String {
    let mut session = vault.session();
    let token = session.tokenize(entity, original);
    session.finish().unwrap();
    token
}

#[test]
fn tokens_round_trip_and_survive_a_restart() {
    let fixture = Fixture::new("roundtrip");
    let token = {
        let vault = fixture.vault();
        let token = tokenize(&vault, "email", "alice@example.com");
        assert!(is_token(&token) && token.starts_with("tok_email_"), "{token}");
        assert_eq!(vault.detokenize(&token).unwrap(), "alice@example.com");
        vault.flush().unwrap();
        token
    };
    let key_file = fixture.dir.join("vault.keys");
    assert_eq!(std::fs::metadata(&key_file).unwrap().mode() & 0o777, 0o600);
    let reopened = fixture.vault();
    assert_eq!(reopened.detokenize(&token).unwrap(), "alice@example.com");
    let unknown = format!("tok_email_{}", "a".repeat(32));
    assert!(matches!(reopened.detokenize(&unknown), Err(VaultError::UnknownToken(_))));
    assert!(matches!(reopened.detokenize("alice@example.com"), Err(VaultError::NotAToken)));
}

#[test]
fn equal_values_converge_on_one_token_and_one_entry() {
    let fixture = Fixture::new("converge");
    let vault = fixture.vault();
    let mut session = vault.session();
    let a = session.tokenize("email", "bob@example.com");
    let b = session.tokenize("email", "bob@example.com");
    let phone = session.tokenize("phone", "bob@example.com");
    let hashed = session.hash("email", "bob@example.com");
    assert_eq!(a, b);
    assert_ne!(a, phone);
    assert!(hashed.starts_with("hash_email_") && hashed != a.replacen("tok", "hash", 1), "{hashed}");
    assert_eq!(session.finish().unwrap(), VaultStats { tokenized: 3, hashed: 1, written: 2 });
    // A fresh vault (empty recent set) still finds the stored entry instead of writing another.
    let again =
        Vault::open(&fixture.db, VaultOptions { recent_tokens: 0, ..fixture.options() }, Arc::new(Metrics::new()))
            .unwrap();
    let mut session = again.session();
    assert_eq!(session.tokenize("email", "bob@example.com"), a);
    assert_eq!(session.finish().unwrap().written, 0);
    assert_eq!(again.stats().unwrap().entries, 2, "the hash stored nothing");
}

#[test]
fn rotation_keeps_old_entries_readable_and_seals_new_ones_with_the_new_key() {
    let fixture = Fixture::new("rotate");
    let mut vault = fixture.vault();
    let old = tokenize(&vault, "email", "old@example.com");
    assert_eq!(vault.rotate().unwrap(), 2);
    let new = tokenize(&vault, "email", "new@example.com");
    assert_eq!(vault.detokenize(&old).unwrap(), "old@example.com");
    assert_eq!(vault.detokenize(&new).unwrap(), "new@example.com");
    let stats = vault.stats().unwrap();
    assert_eq!(stats.by_key_version, BTreeMap::from([(1, 1), (2, 1)]));
    assert_eq!((stats.current_key_version, stats.live_key_versions), (2, vec![1, 2]));
    let rotated = fixture.audit_lines().into_iter().find(|line| line["operation"] == "rotate").unwrap();
    assert_eq!((rotated["key_version"].as_u64(), rotated["outcome"].as_str()), (Some(2), Some("ok")));
    drop(vault);
    assert_eq!(fixture.vault().detokenize(&old).unwrap(), "old@example.com", "rotation persisted");
}

#[test]
fn destroying_a_key_shreds_its_entries_only() {
    let fixture = Fixture::new("destroy");
    let mut vault = fixture.vault();
    let old = tokenize(&vault, "email", "old@example.com");
    vault.rotate().unwrap();
    let new = tokenize(&vault, "email", "new@example.com");
    assert!(matches!(vault.destroy_key(2), Err(VaultError::CurrentKey(2))));
    assert!(matches!(vault.destroy_key(9), Err(VaultError::NoSuchKeyVersion(9))));
    assert_eq!(vault.destroy_key(1).unwrap(), 1);
    assert!(matches!(vault.detokenize(&old), Err(VaultError::KeyDestroyed { version: 1, .. })));
    assert_eq!(vault.detokenize(&new).unwrap(), "new@example.com");
    let key_file = std::fs::read_to_string(vault.key_file()).unwrap();
    assert_eq!(key_file.matches("\"key\"").count(), 1, "the destroyed key is gone from the file");
    // The same value seen again is new data: stored anew under the current key, by this vault too.
    assert_eq!(tokenize(&vault, "email", "old@example.com"), old);
    assert_eq!(vault.detokenize(&old).unwrap(), "old@example.com");
    drop(vault);
    let vault = fixture.vault();
    assert_eq!(vault.detokenize(&old).unwrap(), "old@example.com");
    let stats = vault.stats().unwrap();
    assert_eq!((stats.by_key_version, stats.destroyed_key_versions), (BTreeMap::from([(2, 2)]), vec![1]));
}

#[test]
fn erased_tokens_stay_erased() {
    let fixture = Fixture::new("erase");
    let vault = fixture.vault();
    let token = tokenize(&vault, "email", "gone@example.com");
    assert!(vault.erase(&token).unwrap());
    assert!(!vault.erase(&token).unwrap(), "erasing twice is not an error");
    assert!(matches!(vault.detokenize(&token), Err(VaultError::Erased(_))));
    let fresh =
        Vault::open(&fixture.db, VaultOptions { recent_tokens: 0, ..fixture.options() }, Arc::new(Metrics::new()))
            .unwrap();
    assert_eq!(tokenize(&fresh, "email", "gone@example.com"), token, "analytics still joins on the token");
    assert!(matches!(fresh.detokenize(&token), Err(VaultError::Erased(_))), "erasure is sticky");
    assert_eq!(fresh.stats().unwrap().erased, 1);
    let unknown = format!("tok_email_{}", "b".repeat(32));
    assert!(matches!(vault.erase(&unknown), Err(VaultError::UnknownToken(_))));
}

#[test]
fn tampered_or_moved_entries_fail_authentication() {
    let fixture = Fixture::new("tamper");
    let vault = fixture.vault();
    let a = tokenize(&vault, "email", "a@example.com");
    let b = tokenize(&vault, "email", "b@example.com");
    let entries = fixture.db.tree(ENTRIES_TREE).unwrap();
    let original_a = entries.get(&a).unwrap().unwrap();
    entries.insert(&b, original_a.clone()).unwrap();
    assert!(matches!(vault.detokenize(&b), Err(VaultError::Tampered(_))), "moved entry");
    let mut flipped = original_a.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    entries.insert(&a, flipped.clone()).unwrap();
    assert!(matches!(vault.detokenize(&a), Err(VaultError::Tampered(_))), "flipped tag");
    flipped[..4].copy_from_slice(&77u32.to_le_bytes());
    entries.insert(&a, flipped).unwrap();
    assert!(matches!(vault.detokenize(&a), Err(VaultError::UnknownKeyVersion { version: 77, .. })));
    let lines = fixture.audit_lines();
    assert!(lines.iter().all(|line| line["outcome"] == "failed"), "{lines:?}");
    let text = std::fs::read_to_string(vault.audit_log()).unwrap();
    assert!(!text.contains("a@example.com") && !text.contains("b@example.com"));
}

#[test]
fn key_files_must_be_private_present_and_the_right_ones() {
    let fixture = Fixture::new("keyfile");
    let token = tokenize(&fixture.vault(), "email", "k@example.com");
    let key_file = fixture.dir.join("vault.keys");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = fixture.open(fixture.options()).err().unwrap();
    assert!(matches!(refused, VaultError::KeyFilePermissions { mode: 0o644, .. }), "{refused}");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let moved = fixture.dir.join("elsewhere.keys");
    std::fs::rename(&key_file, &moved).unwrap();
    assert!(matches!(fixture.open(fixture.options()), Err(VaultError::KeysLost { .. })), "no silent new key");

    let configured = VaultConfig { key_file: Some(fixture.dir.join("missing.keys")), ..VaultConfig::default() };
    let missing = fixture.open(VaultOptions::new(&fixture.dir, &configured)).err().unwrap();
    assert!(matches!(missing, VaultError::KeyFileMissing { .. }), "{missing}");
    assert!(missing.to_string().contains("create_key_file"), "{missing}");

    let other = Fixture::new("keyfile-other");
    other.vault();
    let foreign = VaultConfig { key_file: Some(other.dir.join("vault.keys")), ..VaultConfig::default() };
    let wrong = fixture.open(VaultOptions::new(&fixture.dir, &foreign)).err().unwrap();
    assert!(matches!(wrong, VaultError::WrongKeyFile { .. }), "{wrong}");

    let restored = VaultConfig { key_file: Some(moved), ..VaultConfig::default() };
    let vault = fixture.open(VaultOptions::new(&fixture.dir, &restored)).unwrap();
    assert_eq!(vault.detokenize(&token).unwrap(), "k@example.com");
}

#[test]
fn a_configured_key_file_is_created_only_when_asked() {
    let fixture = Fixture::new("create");
    let path = fixture.dir.join("keys").join("tenant.keys");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let config = VaultConfig { key_file: Some(path.clone()), create_key_file: true, ..VaultConfig::default() };
    let vault = fixture.open(VaultOptions::new(&fixture.dir, &config)).unwrap();
    assert_eq!(vault.key_file(), path);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    assert!(!fixture.dir.join("vault.keys").exists());
}

#[test]
fn a_failed_store_still_returns_the_token_and_fails_the_session() {
    let fixture = Fixture::new("failure");
    let metrics = Arc::new(Metrics::new());
    let vault = Vault::open(&fixture.db, fixture.options(), metrics.clone()).unwrap();
    let stored = tokenize(&vault, "email", "kept@example.com");
    vault.fail_writes.store(true, Ordering::SeqCst);
    let mut session = vault.session();
    let token = session.tokenize("email", "lost@example.com");
    assert!(is_token(&token), "{token}");
    assert!(!token.contains("lost"));
    // A value stored before comes from the recent tokens, without touching storage.
    assert_eq!(session.tokenize("email", "kept@example.com"), stored);
    // The session's new values are written together when it finishes; a value seen twice is written once.
    assert_eq!(session.tokenize("email", "lost@example.com"), token);
    session.tokenize("email", "also-lost@example.com");
    let error = session.finish().unwrap_err();
    assert!(matches!(error, VaultError::Incomplete { failed: 2, .. }), "{error}");
    assert!(!error.to_string().contains("lost@"), "{error}");
    assert_eq!(metrics.vault_store_errors.get(), 2);
    // Not remembered as stored: the next session tries again.
    let mut again = vault.session();
    again.tokenize("email", "lost@example.com");
    assert!(matches!(again.finish(), Err(VaultError::Incomplete { failed: 1, .. })));
    vault.fail_writes.store(false, Ordering::SeqCst);
    assert!(matches!(vault.detokenize(&token), Err(VaultError::UnknownToken(_))));
    let mut bad_entity = vault.session();
    bad_entity.tokenize("Email Address", "x@example.com");
    assert!(matches!(bad_entity.finish(), Err(VaultError::Incomplete { failed: 1, .. })));
}

#[test]
fn operations_are_audited_without_originals() {
    let fixture = Fixture::new("audit");
    let metrics = Arc::new(Metrics::new());
    let vault = Vault::open(&fixture.db, fixture.options(), metrics.clone()).unwrap();
    let token = tokenize(&vault, "email", "secret@example.com");
    vault.detokenize(&token).unwrap();
    let _ = vault.detokenize("secret@example.com");
    vault.erase(&token).unwrap();
    let lines = fixture.audit_lines();
    let operations: Vec<_> = lines.iter().map(|line| (line["operation"].as_str(), line["outcome"].as_str())).collect();
    assert_eq!(
        operations,
        [(Some("detokenize"), Some("ok")), (Some("detokenize"), Some("failed")), (Some("erase"), Some("ok"))]
    );
    assert_eq!(lines[0]["token"].as_str(), Some(token.as_str()));
    assert!(lines[1]["token"].is_null(), "a non-token argument is not recorded");
    assert_eq!(lines[0]["pid"].as_u64(), Some(u64::from(std::process::id())));
    let text = std::fs::read_to_string(vault.audit_log()).unwrap();
    assert!(!text.contains("secret@"), "{text}");
    assert_eq!(std::fs::metadata(vault.audit_log()).unwrap().mode() & 0o777, 0o600);
    let exposition = metrics.encode();
    assert!(exposition.contains("vault_detokenize_total{outcome=\"ok\"} 1"), "{exposition}");
    assert!(exposition.contains("vault_detokenize_total{outcome=\"not_a_token\"} 1"), "{exposition}");
    assert!(exposition.contains("vault_entries_written_total 1"), "{exposition}");
}

#[test]
fn an_unwritable_audit_log_withholds_the_value() {
    let fixture = Fixture::new("audit-fail");
    let options = VaultOptions { audit_log: fixture.dir.join("no-such-dir").join("audit.log"), ..fixture.options() };
    let vault = fixture.open(options).unwrap();
    let token = tokenize(&vault, "email", "w@example.com");
    let error = vault.detokenize(&token).unwrap_err();
    assert!(matches!(error, VaultError::Audit { applied: false, .. }), "{error}");
}
