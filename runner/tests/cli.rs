//! The `traceflow-runner` command line: configuration checking and the buffer commands' errors.
//! (Also makes cargo build the binary that the workspace's end-to-end tests run.)

use std::process::{Command, Output};

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceflow-runner")).args(args).output().expect("run traceflow-runner")
}

fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("traceflow-cli-{tag}-")).tempdir().expect("temp dir")
}

#[test]
fn check_config_accepts_a_valid_file_and_flags() {
    let dir_temp = temp_dir("ok");
    let dir = dir_temp.path().to_path_buf();
    let path = dir.join("runner.toml");
    std::fs::write(&path, "project_keys = [\"abcdefgh12\"]\n[buffer]\ncompression = \"lz4\"\n").unwrap();
    let out = runner(&["check-config", "--config", path.to_str().unwrap(), "--listen", "0.0.0.0:9000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0.0.0.0:9000"));
    let flags_only = runner(&["check-config", "--project-key", "abcdefgh12", "--data-dir", "/tmp/x"]);
    assert!(flags_only.status.success());
}

#[test]
fn check_config_names_the_problem_and_exits_2() {
    let dir_temp = temp_dir("bad");
    let dir = dir_temp.path().to_path_buf();
    let path = dir.join("runner.toml");
    for (text, needle) in [
        ("project_keys = [\"abcdefgh12\"]\nlisten_addr = \"x\"\n", "unknown field"),
        ("project_keys = [\"abcdefgh12\"]\n[buffer]\nzstd_level = 99\n", "zstd_level"),
        ("project_keys = [\"abcdefgh12\"]\n[limits]\nmax_depth = 1\n", "max_depth"),
        ("project_keys = [\"abcdefgh12\"]\n[cors]\nallowed_origins = [\"app.example.com\"]\n", "allowed_origins"),
        ("[buffer]\n", "project keys"),
        ("project_keys = [\"abcdefgh12\"]\nlisten = 5\n", "listen"),
        ("project_keys = [\"abcdefgh12\"]\n[upload]\nmax_upload_bytes = 1073741824\n", "max_upload_bytes"),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = runner(&["check-config", "--config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
    let missing = runner(&["check-config", "--config", "/nonexistent/runner.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

#[test]
fn buffer_commands_refuse_a_dir_without_a_buffer() {
    let dir_temp = temp_dir("empty");
    let dir = dir_temp.path().to_path_buf();
    for command in ["stats", "verify", "dump"] {
        let out = runner(&["buffer", command, "--data-dir", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("holds no runner buffer"));
    }
}
