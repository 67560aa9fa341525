//! `traceflow up`: runs TRACEFLOW on this machine with nothing else to install. Until the control plane
//! lands it runs the runner alone: it creates (or reuses) a data dir, a project key, and serves ingest,
//! writing what a client needs to `DATA_DIR/up.json`. Ctrl-C stops it cleanly; a second run resumes.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};
use traceflow_runner::config::RunnerConfig;
use traceflow_runner::server::{self, Server};

#[derive(Args)]
pub struct UpArgs {
    /// Where everything is kept; reused by the next `traceflow up`.
    #[arg(long, default_value = "./traceflow-data")]
    data_dir: PathBuf,
    /// Address of the SDK ingest API.
    #[arg(long, default_value = "127.0.0.1:7480")]
    listen: SocketAddr,
}

/// What `up` writes to `DATA_DIR/up.json`.
#[derive(Serialize, Deserialize)]
struct UpInfo {
    ingest_url: String,
    project_key: String,
}

pub fn run(args: UpArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let info_path = args.data_dir.join("up.json");
    let previous: Option<UpInfo> = std::fs::read(&info_path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let project_key = match previous {
        Some(info) => info.project_key,
        None => format!("tf_{}", (0..32).map(|_| fastrand::alphanumeric()).collect::<String>()),
    };
    let mut config =
        RunnerConfig { listen: args.listen, data_dir: args.data_dir.join("runner"), ..RunnerConfig::default() };
    config.project_keys = vec![project_key.clone()];
    config.validate().map_err(|e| e.to_string())?;
    traceflow_runner::telemetry::init(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let shutdown = server::shutdown_signal().map_err(|e| e.to_string())?;
        let server = Server::bind(&config).await.map_err(|e| e.to_string())?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let info = UpInfo { ingest_url: format!("http://{addr}/v1/batch"), project_key };
        let json = serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?;
        std::fs::write(&info_path, json).map_err(|e| format!("cannot write {}: {e}", info_path.display()))?;
        println!("TRACEFLOW is up (runner only; the control plane arrives with the next release)");
        println!("  ingest URL   {}", info.ingest_url);
        println!("  project key  {}", info.project_key);
        println!("  details in   {}", info_path.display());
        println!("Send a batch:");
        println!(
            "  curl -s -X POST {} -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{{\"session_id\":\"demo-1\",\"seq\":1,\"events\":[{{\"type\":\"pageview\",\"ts\":1732265000000,\"url\":\"/\"}}]}}'",
            info.ingest_url, info.project_key
        );
        println!("Press Ctrl-C to stop.");
        server.run(shutdown).await;
        Ok(())
    })
}
