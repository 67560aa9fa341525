//! `traceflow up`: the whole data path on this machine with nothing else to install. It creates (or reuses) a
//! data dir, initialises a control plane in it, enrolls a runner to that control plane over mTLS, and runs both
//! in this process: SDK → runner (tokenize, buffer) → control plane (store) → admin API. What a client needs is
//! printed and written to `DATA_DIR/up.json` (mode 0600: it holds the admin token). Ctrl-C stops the runner
//! (its buffer flushed), then the control plane; a second `traceflow up` on the same data dir resumes with
//! everything kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use traceflow_cp::{InitOptions, ServeOptions};
use traceflow_runner::config::RunnerConfig;
use traceflow_runner::identity::{self, Identity};
use traceflow_runner::server::{self as runner_server, Server as RunnerServer};

#[derive(Args)]
pub(crate) struct UpArgs {
    /// Where everything is kept; reused by the next `traceflow up`.
    #[arg(long, default_value = "./traceflow-data")]
    data_dir: PathBuf,
    /// Address of the SDK ingest API (the runner).
    #[arg(long, default_value = "127.0.0.1:7480")]
    listen: SocketAddr,
    /// Address of the control plane (runner uploads and the admin API, HTTPS).
    #[arg(long, default_value = "127.0.0.1:7443")]
    control_plane_listen: SocketAddr,
}

/// What `up` writes to `DATA_DIR/up.json`; the names are a contract (see docs/operations.md).
#[derive(Serialize, Deserialize)]
struct UpInfo {
    ingest_url: String,
    project_key: String,
    admin_url: String,
    admin_token: String,
    /// Path of the control plane CA's PEM (trust it for the admin API).
    ca_cert: String,
    /// Where runners connect.
    control_plane_url: String,
}

fn cp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("control-plane")
}

/// The admin token and project key: made on the first run, read back from `up.json` afterwards.
fn secrets(data_dir: &Path, info_path: &Path) -> Result<(String, String, String), String> {
    let cp_dir = cp_dir(data_dir);
    let previous: Option<UpInfo> = match std::fs::read(info_path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", info_path.display()))?),
        Err(_) => None,
    };
    match previous {
        Some(info) if cp_dir.join("ca.pem").exists() => Ok((info.admin_token, info.project_key, info.ca_cert)),
        Some(_) | None if cp_dir.exists() => Err(format!(
            "{} holds a control plane but {} is missing or stale (the admin token is only shown once); \
             use another --data-dir or remove this one",
            cp_dir.display(),
            info_path.display()
        )),
        _ => {
            let report = traceflow_cp::init(&InitOptions::new(&cp_dir)).map_err(|e| e.to_string())?;
            let project_key = format!("tf_{}", random_text(32)?);
            let ca_path = std::path::absolute(cp_dir.join("ca.pem")).unwrap_or_else(|_| cp_dir.join("ca.pem"));
            Ok((report.admin_token, project_key, ca_path.display().to_string()))
        }
    }
}

/// `len` characters of `[a-z0-9]` from the system RNG (through ring, like every other secret here). A project key
/// is a secret: without the OS RNG there is none to make, so this fails rather than fall back to a weaker one.
fn random_text(len: usize) -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // The largest multiple of the alphabet's size that fits a byte: bytes at or above it are drawn again, so
    // every character is equally likely.
    const LIMIT: u8 = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        ring::rand::SecureRandom::fill(&rng, &mut bytes)
            .map_err(|_| "the system random generator failed; cannot make a project key".to_string())?;
        out.extend(bytes.iter().filter(|b| **b < LIMIT).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char));
    }
    out.truncate(len);
    Ok(out)
}

/// Creates an enrollment token through the admin API and enrolls the runner with it.
async fn enroll_runner(runner_dir: &Path, cp_url: &str, admin_token: &str, ca_pem: &str) -> Result<(), String> {
    let tls = traceflow_certs::client_config(ca_pem, None).map_err(|e| e.to_string())?;
    let auth = format!("Bearer {admin_token}");
    let body = serde_json::json!({"group": "default", "uses": 1, "ttl_secs": 600}).to_string();
    let response = traceflow_http::client::request(
        tls,
        &format!("{cp_url}/v1/admin/enrollment-tokens"),
        "POST",
        &[("authorization", &auth), ("content-type", "application/json")],
        body.into(),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| format!("cannot create an enrollment token: {e}"))?;
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let token = answer["token"]
        .as_str()
        .ok_or_else(|| format!("cannot create an enrollment token: HTTP {} {answer}", response.status))?;
    identity::enroll(runner_dir, cp_url, token, ca_pem).await.map_err(|e| e.to_string())?;
    Ok(())
}

pub(crate) fn run(args: UpArgs) -> Result<(), String> {
    let data_dir = &args.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let info_path = data_dir.join("up.json");
    let (admin_token, project_key, ca_cert) = secrets(data_dir, &info_path)?;
    let ca_pem = std::fs::read_to_string(&ca_cert).map_err(|e| format!("cannot read {ca_cert}: {e}"))?;
    let runner_dir = data_dir.join("runner");

    let mut config = RunnerConfig { listen: args.listen, data_dir: runner_dir.clone(), ..RunnerConfig::default() };
    config.project_keys = vec![project_key.clone()];
    traceflow_runner::telemetry::init(&config.log);
    traceflow_store::private::make_private(data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let signal = runner_server::shutdown_signal().map_err(|e| e.to_string())?;
        let control_plane = traceflow_cp::Server::bind(ServeOptions::new(cp_dir(data_dir), args.control_plane_listen))
            .await
            .map_err(|e| e.to_string())?;
        let cp_addr = control_plane.local_addr().map_err(|e| e.to_string())?;
        let cp_url = format!("https://{cp_addr}");
        let (cp_stop, cp_stopped) = tokio::sync::oneshot::channel::<()>();
        let cp_task = tokio::spawn(control_plane.run(async {
            let _ = cp_stopped.await;
        }));

        if !Identity::exists(&runner_dir) {
            enroll_runner(&runner_dir, &cp_url, &admin_token, &ca_pem).await?;
        }
        // The control plane may listen elsewhere than when the runner enrolled (e.g. another --control-plane-listen).
        config.upload.control_plane_url = Some(cp_url.clone());
        config.validate().map_err(|e| e.to_string())?;
        let runner = RunnerServer::bind(&config).await.map_err(|e| e.to_string())?;
        let ingest_addr = runner.local_addr().map_err(|e| e.to_string())?;
        let (runner_stop, runner_stopped) = tokio::sync::oneshot::channel::<()>();
        let runner_task = tokio::spawn(runner.run(async {
            let _ = runner_stopped.await;
        }));

        let info = UpInfo {
            ingest_url: format!("http://{ingest_addr}/v1/batch"),
            project_key,
            admin_url: cp_url.clone(),
            admin_token,
            ca_cert,
            control_plane_url: cp_url,
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| e.to_string())?;
        traceflow_certs::write_private(&info_path, &json)
            .map_err(|e| format!("cannot write {}: {e}", info_path.display()))?;
        print_banner(&info, &info_path);

        signal.await;
        let _ = runner_stop.send(());
        let _ = runner_task.await;
        let _ = cp_stop.send(());
        let _ = cp_task.await;
        println!("stopped; everything is kept in {}", data_dir.display());
        Ok(())
    })
}

fn print_banner(info: &UpInfo, info_path: &Path) {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", banner(info, info_path, out.is_terminal()));
    let _ = out.flush();
}

/// What `up` prints once it runs. The project key and admin token are secrets: they are shown only to a terminal;
/// a journal or a CI log gets the path of the 0600 file that holds them instead.
fn banner(info: &UpInfo, info_path: &Path, terminal: bool) -> String {
    let mut text = String::from("TRACEFLOW is up: runner and control plane, connected over mTLS\n");
    text += &format!("  ingest URL         {}\n", info.ingest_url);
    text += &format!("  admin URL          {}\n", info.admin_url);
    text += &format!("  CA certificate     {}\n", info.ca_cert);
    text += &format!("  details in         {}\n", info_path.display());
    if !terminal {
        text += &format!(
            "The project key and admin token are in {} (mode 0600), not printed: stdout is not a terminal.\n",
            info_path.display()
        );
        text += "Press Ctrl-C to stop.\n";
        return text;
    }
    text += &format!("  project key        {}\n", info.project_key);
    text += &format!("  admin token        {}\n", info.admin_token);
    text += "Send a batch:\n";
    text += &format!(
        "  curl -s -X POST {} -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{{\"session_id\":\"demo-1\",\"seq\":1,\"events\":[{{\"type\":\"pageview\",\"ts\":1732265000000,\"url\":\"/\"}}]}}'\n",
        info.ingest_url, info.project_key
    );
    text += "Read it back from the control plane:\n";
    text += &format!(
        "  curl -s --cacert {} -H 'Authorization: Bearer {}' {}/v1/admin/sessions/demo-1/events\n",
        info.ca_cert, info.admin_token, info.admin_url
    );
    text += "Press Ctrl-C to stop.\n";
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_reach_a_terminal_only() {
        let info = UpInfo {
            ingest_url: "http://127.0.0.1:7480/v1/batch".into(),
            project_key: "tf_secretprojectkey".into(),
            admin_url: "https://127.0.0.1:7443".into(),
            admin_token: "adm_secretadmintoken".into(),
            ca_cert: "/d/ca.pem".into(),
            control_plane_url: "https://127.0.0.1:7443".into(),
        };
        let path = Path::new("/d/up.json");
        let logged = banner(&info, path, false);
        assert!(!logged.contains("tf_secretprojectkey") && !logged.contains("adm_secretadmintoken"), "{logged}");
        assert!(logged.contains("/d/up.json"));
        let shown = banner(&info, path, true);
        assert!(shown.contains("tf_secretprojectkey") && shown.contains("adm_secretadmintoken"));
    }
}
