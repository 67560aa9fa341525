//! `traceflow-bench drain`: how fast a runner empties its buffer into the control plane after an outage.
//!
//! It starts the real `traceflow-cp` and `traceflow-runner` binaries on loopback with temp data dirs, enrolls the
//! runner, stops the control plane, fills the runner's buffer with realistic SDK traffic for `--fill-secs`
//! (the runner keeps acknowledging: the outage), starts the control plane again on the same address, and times
//! the drain from the first delivered upload to an empty buffer; what that first upload delivered is left out
//! of the rate (pro rata by chunks). The rate is reported in MB/s of uncompressed payload (the batch JSON the
//! runner accepted), over mTLS on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use crate::{loadgen, sibling_binary, TrafficArgs};

#[derive(Args)]
pub(crate) struct DrainArgs {
    /// Seconds of traffic buffered while the control plane is down.
    #[arg(long, default_value_t = 15.0)]
    fill_secs: f64,
    /// Longest the drain may take before the benchmark gives up.
    #[arg(long, default_value_t = 300.0)]
    timeout_secs: f64,
    /// Extra TOML appended to the runner's config (e.g. "[upload]\nmax_concurrency = 8").
    #[arg(long, default_value = "")]
    runner_config: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    traffic: TrafficArgs,
}

const KEY: &str = "bench-project-key";

/// A child process killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub(crate) fn terminate(mut self) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

/// Spawns `binary args…` and waits for its "listening on SCHEME://ADDR" line.
pub(crate) fn spawn_listening(binary: &Path, args: &[&str]) -> Result<(Proc, String), String> {
    let mut child = Command::new(binary)
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let addr = line.trim().rsplit("://").next().unwrap_or_default().to_string();
    if addr.is_empty() {
        return Err(format!("{} did not start: {line:?}", binary.display()));
    }
    Ok((Proc(child), addr))
}

fn run_ok(binary: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(binary).args(args).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{} {args:?}: {}", binary.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sum of the runner metric lines starting with `prefix`.
fn metric(addr: &str, prefix: &str) -> Result<f64, String> {
    Ok(sum_of(&metrics_text(addr)?, prefix))
}

/// The runner's whole `/metrics` page.
pub(crate) fn metrics_text(addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// Sum of the metric lines of `text` starting with `prefix`.
pub(crate) fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

pub(crate) fn run(args: DrainArgs) -> Result<(), String> {
    let (cp_bin, runner_bin) = (sibling_binary("traceflow-cp")?, sibling_binary("traceflow-runner")?);
    let temp = tempfile::Builder::new().prefix("traceflow-drain-").tempdir().map_err(|e| e.to_string())?;
    let result = drain(&args, temp.path(), &cp_bin, &runner_bin);
    drop(temp);
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        let figure = |name: &str| report[name].as_f64().unwrap_or(0.0);
        println!(
            "buffered during the outage   {:.0} MB uncompressed in {:.0} chunks",
            figure("buffered_mb"),
            figure("chunks")
        );
        println!("drain time                   {:.2} s", figure("drain_secs"));
        println!("drain rate                   {:.1} MB/s uncompressed payload", figure("drain_mb_per_sec"));
        println!("wire rate                    {:.1} MB/s of compressed chunks", figure("wire_mb_per_sec"));
    }
    Ok(())
}

fn drain(args: &DrainArgs, dir: &Path, cp_bin: &Path, runner_bin: &Path) -> Result<serde_json::Value, String> {
    let (cp_dir, runner_dir) = (dir.join("cp"), dir.join("runner"));
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let init: serde_json::Value =
        serde_json::from_str(&run_ok(cp_bin, &["init", "--json", "--data-dir", &cp_dir.display().to_string()])?)
            .map_err(|e| e.to_string())?;
    let admin_token = init["admin_token"].as_str().unwrap_or_default().to_string();
    let cp_data = cp_dir.display().to_string();
    let (cp, cp_addr) = spawn_listening(cp_bin, &["serve", "--data-dir", &cp_data, "--listen", "127.0.0.1:0"])?;
    let cp_url = format!("https://{cp_addr}");
    let ca = cp_dir.join("ca.pem").display().to_string();
    let token_file = cp_dir.join("admin.token");
    std::fs::write(&token_file, &admin_token).map_err(|e| e.to_string())?;
    let token_file = token_file.display().to_string();
    let admin = ["--admin-url", &cp_url, "--admin-token-file", &token_file, "--ca", &ca];
    let created: serde_json::Value =
        serde_json::from_str(&run_ok(cp_bin, &[&["enrollment-token", "create", "--json"][..], &admin].concat())?)
            .map_err(|e| e.to_string())?;
    let token = created["token"].as_str().unwrap_or_default().to_string();
    let runner_data = runner_dir.display().to_string();
    run_ok(
        runner_bin,
        &["enroll", "--control-plane", &cp_url, "--token", &token, "--ca", &ca, "--data-dir", &runner_data],
    )?;
    cp.terminate();

    let config = dir.join("runner.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {runner_data:?}\nproject_keys = [\"{KEY}\"]\n\
         [buffer]\ndisk_budget_bytes = 107374182400\n[upload]\nbackoff_base_ms = 100\nbackoff_max_secs = 1\n{}\n",
        args.runner_config.replace("\\n", "\n")
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let (runner, runner_addr) = spawn_listening(runner_bin, &["run", "--config", &config.display().to_string()])?;
    let url = format!("http://{runner_addr}/v1/batch");
    let fill = loadgen::run(&args.traffic.options(url, KEY.into(), None, args.fill_secs))?;
    let buffered = metric(&runner_addr, "traceflow_runner_decoded_bytes")?;
    let chunks = metric(&runner_addr, "traceflow_runner_buffer_depth_chunks")?;
    let stored = metric(&runner_addr, "traceflow_runner_buffer_live_bytes")?;
    if chunks == 0.0 {
        return Err(format!("nothing was buffered: {:?}", fill.by_status));
    }

    let (cp, _) = spawn_listening(cp_bin, &["serve", "--data-dir", &cp_data, "--listen", &cp_addr])?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout_secs);
    let delivered = "traceflow_runner_upload_chunks_total{outcome=\"delivered\"}";
    let mut early = 0.0;
    while early == 0.0 {
        if Instant::now() > deadline {
            return Err("no chunk was delivered".into());
        }
        std::thread::sleep(Duration::from_millis(5));
        early = metric(&runner_addr, delivered)?;
    }
    let started = Instant::now();
    // The chunks delivered before the clock started (the first upload joins many) are not counted in the rate.
    let timed = buffered * (1.0 - early / chunks).max(0.0);
    while metric(&runner_addr, "traceflow_runner_buffer_depth_chunks")? > 0.0 {
        if Instant::now() > deadline {
            return Err("the buffer did not drain in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    runner.terminate();
    cp.terminate();
    Ok(serde_json::json!({
        "buffered_mb": buffered / 1e6,
        "stored_mb": stored / 1e6,
        "chunks": chunks,
        "drain_secs": secs,
        "chunks_before_timing": early,
        "drain_mb_per_sec": timed / 1e6 / secs,
        "wire_mb_per_sec": stored * timed / buffered.max(1.0) / 1e6 / secs,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
    }))
}
