//! `traceflow-runner vault …` on a real data dir: entries are made through the library as the ingest path makes
//! them, then the binary detokenizes, rotates, destroys keys and erases, and every step is in the audit log.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use traceflow_pii::Tokens;
use traceflow_runner::buffer::BufferStore;
use traceflow_runner::config::VaultConfig;
use traceflow_runner::metrics::Metrics;
use traceflow_runner::vault::{Vault, VaultOptions};

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceflow-runner")).args(args).output().expect("run traceflow-runner")
}

fn vault_command(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["vault"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", dir.to_str().unwrap()]);
    runner(&all)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("traceflow-vault-cli-{tag}-")).tempdir().expect("temp dir")
}

/// Tokenizes `values` into the vault of `dir` the way a request does, makes it durable, and closes the store.
fn tokenize(dir: &Path, values: &[(&str, &str)]) -> Vec<String> {
    let store = BufferStore::open(dir, 16 * 1024 * 1024).unwrap();
    let options = VaultOptions::new(dir, &VaultConfig::default());
    let vault = Vault::open(&store.db, options, Arc::new(Metrics::new())).unwrap();
    let mut session = vault.session();
    let tokens = values.iter().map(|(entity, value)| session.tokenize(entity, value)).collect();
    session.finish().unwrap();
    vault.flush().unwrap();
    tokens
}

fn audit_lines(dir: &Path) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(dir.join("vault-audit.log")).unwrap_or_default();
    log.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn detokenize_prints_the_original_and_audits_without_it() {
    let dir_temp = temp_dir("detokenize");
    let dir = dir_temp.path().to_path_buf();
    let tokens = tokenize(&dir, &[("email", "alice@example.com")]);
    let out = vault_command(&dir, &["detokenize", &tokens[0]]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "alice@example.com\n");

    let config = dir.join("runner.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n[vault]\nrecent_tokens = 10\n", dir.to_str().unwrap())).unwrap();
    let via_config = runner(&["vault", "detokenize", &tokens[0], "--config", config.to_str().unwrap()]);
    assert_eq!(text(&via_config.stdout), "alice@example.com\n", "{}", text(&via_config.stderr));

    let unknown = vault_command(&dir, &["detokenize", &format!("tok_email_{}", "a".repeat(32))]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("unknown token"), "{}", text(&unknown.stderr));
    assert!(unknown.stdout.is_empty());

    let lines = audit_lines(&dir);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["operation"], "detokenize");
    assert_eq!(lines[0]["token"].as_str(), Some(tokens[0].as_str()));
    assert_eq!(lines[0]["outcome"], "ok");
    assert!(lines[0]["pid"].as_u64().is_some() && lines[0]["uid"].as_u64().is_some() && lines[0]["time_ms"].is_u64());
    assert_eq!(lines[2]["outcome"], "failed");
    let log = std::fs::read_to_string(dir.join("vault-audit.log")).unwrap();
    assert!(!log.contains("alice"), "{log}");
}

#[test]
fn rotate_destroy_key_and_erase_behave_as_documented() {
    let dir_temp = temp_dir("lifecycle");
    let dir = dir_temp.path().to_path_buf();
    let old = tokenize(&dir, &[("email", "old@example.com")]).remove(0);

    let rotated = vault_command(&dir, &["rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("key version 2 is now current"), "{}", text(&rotated.stdout));
    let new = tokenize(&dir, &[("email", "new@example.com")]).remove(0);

    let refused = vault_command(&dir, &["destroy-key", "2"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("current"), "{}", text(&refused.stderr));
    let destroyed = vault_command(&dir, &["destroy-key", "1"]);
    assert!(destroyed.status.success(), "{}", text(&destroyed.stderr));
    assert!(text(&destroyed.stdout).contains("1 entries are now unreadable"), "{}", text(&destroyed.stdout));

    let shredded = vault_command(&dir, &["detokenize", &old]);
    assert_eq!(shredded.status.code(), Some(1));
    assert!(text(&shredded.stderr).contains("destroyed"), "{}", text(&shredded.stderr));
    assert_eq!(text(&vault_command(&dir, &["detokenize", &new]).stdout), "new@example.com\n");

    let erased = vault_command(&dir, &["erase", &new]);
    assert!(erased.status.success(), "{}", text(&erased.stderr));
    let gone = vault_command(&dir, &["detokenize", &new]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("erased"), "{}", text(&gone.stderr));

    let stats = vault_command(&dir, &["stats", "--json"]);
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!((stats["entries"].as_u64(), stats["erased"].as_u64()), (Some(2), Some(1)));
    assert_eq!(stats["destroyed_key_versions"], serde_json::json!([1]));
    assert_eq!(stats["current_key_version"], 2);
    let plain = vault_command(&dir, &["stats"]);
    assert!(text(&plain.stdout).contains("current key version  2"), "{}", text(&plain.stdout));

    let operations: Vec<String> =
        audit_lines(&dir).iter().map(|line| format!("{} {}", line["operation"], line["outcome"])).collect();
    assert_eq!(
        operations,
        [
            "\"rotate\" \"ok\"",
            "\"destroy_key\" \"failed\"",
            "\"destroy_key\" \"ok\"",
            "\"detokenize\" \"failed\"",
            "\"detokenize\" \"ok\"",
            "\"erase\" \"ok\"",
            "\"detokenize\" \"failed\"",
            "\"stats\" \"ok\"",
            "\"stats\" \"ok\"",
        ]
    );
    let log = std::fs::read_to_string(dir.join("vault-audit.log")).unwrap();
    assert!(!log.contains("@example.com"), "{log}");
}

#[test]
fn vault_commands_refuse_a_running_runner_a_missing_buffer_and_an_exposed_key_file() {
    let dir_temp = temp_dir("refusals");
    let dir = dir_temp.path().to_path_buf();
    let empty = vault_command(&dir, &["stats"]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(text(&empty.stderr).contains("holds no runner data"), "{}", text(&empty.stderr));

    tokenize(&dir, &[("email", "x@example.com")]);
    let held = BufferStore::open(&dir, 16 * 1024 * 1024).unwrap();
    let busy = vault_command(&dir, &["stats"]);
    assert_eq!(busy.status.code(), Some(1));
    let stderr = text(&busy.stderr);
    assert!(stderr.contains("in use by a running runner"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", std::process::id())), "{stderr}");
    drop(held);

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("vault.keys"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = vault_command(&dir, &["stats"]);
    assert_eq!(exposed.status.code(), Some(1));
    assert!(text(&exposed.stderr).contains("chmod 600"), "{}", text(&exposed.stderr));

    let refused: Vec<String> = audit_lines(&dir).iter().map(|line| line["reason"].to_string()).collect();
    assert_eq!(refused.len(), 2, "refused attempts are audited: {refused:?}");
    assert!(refused[0].contains("in use") && refused[1].contains("chmod 600"), "{refused:?}");

    let config = dir.join("bad.toml");
    std::fs::write(&config, "[vault]\nkey_fil = \"x\"\n").unwrap();
    let bad = runner(&["vault", "stats", "--config", config.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown field"), "{}", text(&bad.stderr));
}
