//! The `traceflow-cp` command line: init, serve (listening line, health, graceful SIGTERM), and the admin
//! commands against a running control plane.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::*;
use serde_json::Value;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_creates_the_data_dir_once() {
    let dir_temp = temp_dir("init");
    let dir = dir_temp.path().join("data");
    let report = init(&dir);
    for field in ["admin_token", "ca_cert", "tenant", "group", "project", "data_dir"] {
        assert!(report[field].is_string(), "{field} in {report}");
    }
    assert!(report["admin_token"].as_str().unwrap().starts_with("adm_"));
    assert_eq!(report["ca_cert"].as_str().unwrap(), std::fs::read_to_string(dir.join("ca.pem")).unwrap());
    for key in ["ca.key", "server.key", "policy-signing.key"] {
        assert_eq!(std::fs::metadata(dir.join(key)).unwrap().permissions().mode() & 0o777, 0o600, "{key}");
    }
    assert!(dir.join("server.pem").exists() && dir.join("db").is_dir());
    let ca_before = std::fs::read(dir.join("ca.key")).unwrap();

    let again = cp_command().args(["init", "--data-dir"]).arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already initialised"), "{}", stderr(&again));
    assert_eq!(std::fs::read(dir.join("ca.key")).unwrap(), ca_before, "nothing overwritten");

    // Text mode prints just the admin token.
    let text_dir_temp = temp_dir("init-text");
    let text_dir = text_dir_temp.path().join("data");
    let out = cp_command()
        .args(["init", "--tenant", "acme", "--server-name", "cp.example.com", "--data-dir"])
        .arg(&text_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    assert!(token.trim().starts_with("adm_") && token.lines().count() == 1, "{token}");
    let bad = cp_command()
        .args(["init", "--tenant", "a b", "--data-dir"])
        .arg(temp_dir("init-bad").path().join("data"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn serve_refuses_an_uninitialised_dir() {
    let dir_temp = temp_dir("uninit");
    let dir = dir_temp.path().join("data");
    let out = cp_command().args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not initialised"), "{}", stderr(&out));
}

#[tokio::test]
async fn serve_answers_health_and_stops_on_sigterm() {
    let mut cp = ControlPlane::start("serve");
    let health = cp.call("GET", "/healthz", &[], Value::Null).await;
    assert_eq!((health.status, json_of(&health)["status"].as_str()), (200, Some("ok")));
    let ready = cp.call("GET", "/readyz", &[], Value::Null).await;
    assert_eq!(ready.status, 200);
    let metrics =
        cp.call("GET", "/metrics", &[("authorization", &format!("Bearer {}", cp.admin_token))], Value::Null).await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(text.contains("traceflow_cp_http_requests_total{route=\"healthz\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("traceflow_cp_store_flush_seconds"));
    assert_eq!(cp.terminate(), Some(0));
}

#[tokio::test]
async fn admin_commands_work_against_a_running_control_plane() {
    let cp = ControlPlane::start("admin-cli");
    let ca_path = cp.dir.join("ca.pem");
    let admin = |args: &[&str]| {
        cp_command()
            .args(args)
            .env("TRACEFLOW_ADMIN_URL", &cp.url)
            .env("TRACEFLOW_ADMIN_TOKEN", &cp.admin_token)
            .env("TRACEFLOW_CA", &ca_path)
            .output()
            .unwrap()
    };
    let created = admin(&["enrollment-token", "create", "--group", "edge", "--uses", "2", "--ttl", "15m", "--json"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token: Value = serde_json::from_str(&stdout(&created)).unwrap();
    assert_eq!((token["group"].as_str(), token["uses"].as_u64()), (Some("edge"), Some(2)));
    assert!(token["token"].as_str().unwrap().starts_with("et_"));

    let text = admin(&["enrollment-token", "create", "--ttl", "30s"]);
    assert!(text.status.success());
    assert!(stdout(&text).trim().starts_with("et_"));
    let listed = admin(&["enrollment-token", "list"]);
    assert!(listed.status.success());
    assert_eq!(stdout(&listed).lines().count(), 3, "header and two tokens: {}", stdout(&listed));

    let runner = cp.enroll().await;
    let runners = admin(&["runner", "list", "--json"]);
    let runners: Value = serde_json::from_str(&stdout(&runners)).unwrap();
    assert_eq!(runners["runners"][0]["runner_id"].as_str(), Some(runner.id.as_str()));
    let table = admin(&["runner", "list"]);
    assert!(stdout(&table).contains(&runner.id));

    let revoked = admin(&["runner", "revoke", &runner.id]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let runners = admin(&["runner", "list", "--json"]);
    let runners: Value = serde_json::from_str(&stdout(&runners)).unwrap();
    assert_eq!(runners["runners"][0]["revoked"].as_bool(), Some(true));

    let missing = admin(&["runner", "revoke", "r_missing"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("runner_not_found"), "{}", stderr(&missing));
    let bad_ttl = admin(&["enrollment-token", "create", "--ttl", "1w"]);
    assert_eq!(bad_ttl.status.code(), Some(2), "clap usage error");
    let wrong_token = cp_command()
        .args(["runner", "list", "--admin-url", &cp.url, "--admin-token", "adm_wrong", "--ca"])
        .arg(&ca_path)
        .output()
        .unwrap();
    assert_eq!(wrong_token.status.code(), Some(1));
    assert!(stderr(&wrong_token).contains("admin_token_invalid"));
    assert!(stderr(&wrong_token).contains("warning: --admin-token on the command line"), "{}", stderr(&wrong_token));

    // From a file: no warning, and the token works.
    let token_file = cp.dir.join("admin.token");
    std::fs::write(&token_file, format!("{}\n", cp.admin_token)).unwrap();
    let from_file = cp_command()
        .args(["runner", "list", "--json", "--admin-url", &cp.url, "--admin-token-file"])
        .arg(&token_file)
        .arg("--ca")
        .arg(&ca_path)
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    assert!(!stderr(&from_file).contains("warning"), "{}", stderr(&from_file));
    let none = cp_command().args(["runner", "list", "--admin-url", &cp.url, "--ca"]).arg(&ca_path).output().unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no admin token"), "{}", stderr(&none));
}
