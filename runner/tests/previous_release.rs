//! A data dir written by the release before this layout (d5cdaf1: three acknowledged batches with a tokenized
//! e-mail each, made by that build's `traceflow-runner run`; its `vault.keys` is a test fixture's key) opens with
//! this build: every acknowledged batch is in the buffer and every vault entry detokenizes. On-disk formats are
//! versioned; that release stored the data dir with sled, which this build imports on the first writable open
//! (`traceflow-runner buffer upgrade`, or starting the runner). Read-only commands before it say so and change
//! nothing.

use std::path::Path;
use std::process::{Command, Output};

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceflow-runner")).args(args).output().expect("run traceflow-runner")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_data_dir_of_the_release_before_opens_with_every_batch_and_vault_entry() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-d5cdaf1"), &data);
    // The key file must be private, as the runner made it (a checkout does not keep modes).
    std::fs::set_permissions(data.join("vault.keys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = data.to_str().unwrap();

    let before = runner(&["buffer", "stats", "--data-dir", dir]);
    assert!(!before.status.success());
    let said = String::from_utf8_lossy(&before.stderr);
    assert!(said.contains("earlier release") && said.contains("upgrade"), "{said}");
    assert!(data.join("db").join("conf").exists(), "a read-only command imported nothing");

    let upgrade = runner(&["buffer", "upgrade", "--data-dir", dir]);
    assert!(upgrade.status.success(), "{}", String::from_utf8_lossy(&upgrade.stderr));
    assert!(!data.join("db").join("conf").exists(), "the earlier engine's files are gone after the import");

    let verify = runner(&["buffer", "verify", "--data-dir", dir]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let dump = runner(&["buffer", "dump", "--data-dir", dir]);
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&dump.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let sessions: Vec<&str> = lines.iter().map(|l| l["session_id"].as_str().unwrap()).collect();
    assert_eq!(sessions, ["fixture-1", "fixture-2", "fixture-3"]);

    for (n, line) in lines.iter().enumerate() {
        let token = line["batch"]["events"][0]["email"].as_str().unwrap();
        assert!(token.starts_with("tok_email_"), "{line}");
        let original = runner(&["vault", "detokenize", token, "--data-dir", dir]);
        assert!(original.status.success(), "{}", String::from_utf8_lossy(&original.stderr));
        assert_eq!(String::from_utf8_lossy(&original.stdout).trim(), format!("person{}@example.com", n + 1));
    }
}
