//! `traceflow-bench policy`: measures the policy push. It initialises a control plane in a temporary directory
//! and runs it as a child process (so its memory can be read from `/proc`), enrolls N runners with their own keys
//! and CSRs, and has each hold a long-poll check-in on its own mTLS connection, verifying every bundle it gets with
//! the key from its enrollment. Then, round after round, it applies a changed policy through the admin API and
//! times, for every client, how long after the apply call started it held the new revision (verified).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use traceflow_certs::KeyAndCert;
use traceflow_http::client::{self, Client};
use traceflow_protocol::policy::SignedBundle;

use traceflow_cp::admin_client::AdminClient;
use traceflow_cp::data_dir::{self, InitOptions};
use traceflow_cp::enroll::EnrollAnswer;

/// How long a client asks the control plane to hold its check-in.
const WAIT_MS: u64 = 30_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);
/// How long one round may take before the clients still missing are reported.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the clients may take to report the previous revision before a round starts.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub(crate) struct BenchPolicyOptions {
    pub clients: usize,
    pub rounds: usize,
    /// Enrollments in flight at once.
    pub enroll_concurrency: usize,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct BenchPolicyReport {
    pub clients: usize,
    pub rounds: usize,
    pub enroll_seconds: f64,
    /// From the start of each `policy apply` call to each client holding the verified revision, over all
    /// client × round samples.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub samples: usize,
    /// Per round: from the apply call to the last client holding the revision.
    pub round_all_clients_ms: Vec<f64>,
    /// Per round: how long the apply call itself took (validation, signing, flush).
    pub apply_call_ms: Vec<f64>,
    /// Client × round samples that did not arrive within the round timeout.
    pub missing: usize,
    /// Failed or refused check-ins and bundles that did not verify.
    pub errors: u64,
    /// The control plane's resident memory with every client connected and waiting, and its peak.
    pub cp_rss_bytes: u64,
    pub cp_peak_rss_bytes: u64,
    /// Its resident memory after enrollment, before the clients connected.
    pub cp_rss_before_clients_bytes: u64,
}

impl BenchPolicyReport {
    pub(crate) fn print(&self) {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        println!(
            "bench-policy: {} long-polling clients, {} rounds, control plane in a child process, mTLS on loopback",
            self.clients, self.rounds
        );
        println!(
            "  enrollment     {} runners in {:.1} s ({:.0}/s)",
            self.clients,
            self.enroll_seconds,
            self.clients as f64 / self.enroll_seconds.max(1e-9)
        );
        println!(
            "  apply → held   p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} samples)",
            self.latency_p50_ms, self.latency_p99_ms, self.latency_max_ms, self.samples
        );
        let rounds: Vec<String> = self.round_all_clients_ms.iter().map(|ms| format!("{ms:.0}")).collect();
        println!("  all clients    {} ms per round", rounds.join(", "));
        let applies: Vec<String> = self.apply_call_ms.iter().map(|ms| format!("{ms:.0}")).collect();
        println!("  apply call     {} ms per round", applies.join(", "));
        println!("  missing        {}", self.missing);
        println!("  errors         {}", self.errors);
        println!(
            "  control plane  RSS {:.1} MiB with all clients waiting (peak {:.1} MiB); {:.1} MiB before they connected",
            mib(self.cp_rss_bytes),
            mib(self.cp_peak_rss_bytes),
            mib(self.cp_rss_before_clients_bytes)
        );
    }
}

/// The control plane child process; killed and its directory removed when dropped.
struct ChildPlane {
    child: Child,
    /// Kept open so the child never writes into a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
    dir: PathBuf,
}

impl Drop for ChildPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An enrolled simulated runner.
struct Identity {
    config: Arc<rustls::ClientConfig>,
    public_key: Vec<u8>,
}

/// A client holding revision `revision` at `at`.
struct Held {
    client: usize,
    revision: u64,
    at: Instant,
}

/// `traceflow-bench policy`.
#[derive(clap::Args)]
pub(crate) struct PolicyArgs {
    /// Simulated runners, each enrolled and long-polling on its own mTLS connection.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Policy changes applied, one after the other.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Enrollments in flight at once while setting up.
    #[arg(long, default_value_t = 16)]
    enroll_concurrency: usize,
    #[arg(long)]
    json: bool,
}

pub(crate) fn main(args: PolicyArgs) -> Result<(), String> {
    let options = BenchPolicyOptions {
        clients: args.clients.max(1),
        rounds: args.rounds.max(1),
        enroll_concurrency: args.enroll_concurrency.max(1),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(run(&options))?;
    crate::print_report(args.json, &report, |report| report.print());
    Ok(())
}

pub(crate) async fn run(options: &BenchPolicyOptions) -> Result<BenchPolicyReport, String> {
    raise_fd_limit(options.clients as u64 * 2 + 512);
    // Removed when `run` returns, however it ends.
    let temp = tempfile::Builder::new().prefix("traceflow-cp-bench-policy-").tempdir().map_err(|e| e.to_string())?;
    let dir = temp.path().join("cp");
    let init = data_dir::init(&InitOptions::new(&dir)).map_err(|e| e.to_string())?;
    let (plane, url) = spawn(dir.clone()).await?;
    let admin = AdminClient::new(&url, &init.admin_token, &init.ca_cert).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let identities = enroll_all(options, &url, &admin, &init.ca_cert).await?;
    let enroll_seconds = started.elapsed().as_secs_f64();
    let pid = plane.child.id();
    let (rss_before, _) = rss(pid)?;

    let errors = Arc::new(AtomicU64::new(0));
    let (held_tx, mut held_rx) = mpsc::unbounded_channel();
    let clients: Vec<_> = identities
        .into_iter()
        .enumerate()
        .map(|(index, identity)| {
            let (url, errors, held) = (url.clone(), errors.clone(), held_tx.clone());
            tokio::spawn(async move { poll(index, identity, &url, &errors, held).await })
        })
        .collect();

    let result = async {
        let mut samples = Vec::with_capacity(options.clients * options.rounds);
        let (mut round_all, mut apply_calls, mut missing) = (Vec::new(), Vec::new(), 0);
        for round in 1..=options.rounds {
            settle(&admin, options.clients, round as u64 - 1).await?;
            let measured = measure_round(&admin, &mut held_rx, options.clients, round).await?;
            samples.extend_from_slice(&measured.samples_ms);
            round_all.push(measured.samples_ms.iter().copied().fold(0.0, f64::max));
            apply_calls.push(measured.apply_ms);
            missing += measured.missing;
        }
        let (rss_now, rss_peak) = rss(pid)?;
        samples.sort_by(f64::total_cmp);
        let percentile = |p: f64| match samples.len() {
            0 => 0.0,
            n => samples[((n as f64 * p) as usize).min(n - 1)],
        };
        Ok(BenchPolicyReport {
            clients: options.clients,
            rounds: options.rounds,
            enroll_seconds,
            latency_p50_ms: percentile(0.5),
            latency_p99_ms: percentile(0.99),
            latency_max_ms: samples.last().copied().unwrap_or_default(),
            samples: samples.len(),
            round_all_clients_ms: round_all,
            apply_call_ms: apply_calls,
            missing,
            errors: errors.load(Ordering::Relaxed),
            cp_rss_bytes: rss_now,
            cp_peak_rss_bytes: rss_peak,
            cp_rss_before_clients_bytes: rss_before,
        })
    }
    .await;
    for client in clients {
        client.abort();
    }
    drop(plane);
    result
}

/// One round's figures.
struct Round {
    /// Per client that got the revision in time: milliseconds from the apply call to holding it.
    samples_ms: Vec<f64>,
    apply_ms: f64,
    missing: usize,
}

/// Applies a changed policy and waits until every client holds it (or the round times out).
async fn measure_round(
    admin: &AdminClient,
    held_rx: &mut mpsc::UnboundedReceiver<Held>,
    clients: usize,
    round: usize,
) -> Result<Round, String> {
    // A value per round, so every round changes the policy.
    let document = format!("[sampling]\nsession_rate = {}\n", 1.0 - round as f64 / 1000.0);
    let t0 = Instant::now();
    let answer = admin
        .policy_apply("default", &document, &format!("bench round {round}"), Some("bench"), None)
        .await
        .map_err(|e| e.to_string())?;
    let apply_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let revision = answer["revision"].as_u64().ok_or("the apply answer has no revision")?;
    let mut got = vec![false; clients];
    let mut samples_ms = Vec::with_capacity(clients);
    let deadline = tokio::time::Instant::from_std(t0 + ROUND_TIMEOUT);
    while samples_ms.len() < clients {
        let Ok(Some(held)) = tokio::time::timeout_at(deadline, held_rx.recv()).await else { break };
        if held.revision == revision && !got[held.client] {
            got[held.client] = true;
            samples_ms.push(held.at.saturating_duration_since(t0).as_secs_f64() * 1000.0);
        }
    }
    let missing = clients - samples_ms.len();
    if missing > 0 {
        let absent: Vec<usize> = got.iter().enumerate().filter(|(_, g)| !**g).map(|(i, _)| i).take(20).collect();
        eprintln!("round {round}: {missing} clients missing after {ROUND_TIMEOUT:?} (first: {absent:?})");
    }
    Ok(Round { samples_ms, apply_ms, missing })
}

/// Starts `traceflow-cp serve` on a free loopback port and waits for its listening line.
async fn spawn(dir: PathBuf) -> Result<(ChildPlane, String), String> {
    let exe = crate::sibling_binary("traceflow-cp")?;
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the control plane: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err("no stdout from the control plane".into());
    };
    let read = tokio::task::spawn_blocking(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).map(|_| (stdout, line))
    });
    let mut plane = ChildPlane { child, _stdout: None, dir };
    let (stdout, line) = match tokio::time::timeout(Duration::from_secs(30), read).await {
        Ok(Ok(Ok(read))) => read,
        _ => return Err("the control plane did not start".into()),
    };
    plane._stdout = Some(stdout);
    let port = line
        .trim()
        .strip_prefix("traceflow-cp listening on https://")
        .and_then(|addr| addr.rsplit(':').next())
        .ok_or_else(|| format!("unexpected first line from the control plane: {line}"))?;
    let url = format!("https://localhost:{port}");
    Ok((plane, url))
}

/// Enrolls `clients` runners, `enroll_concurrency` at a time, each with its own key and CSR.
async fn enroll_all(
    options: &BenchPolicyOptions,
    url: &str,
    admin: &AdminClient,
    ca_pem: &str,
) -> Result<Vec<Identity>, String> {
    let uses = u32::try_from(options.clients).map_err(|_| "too many clients")?;
    let token = admin.create_enrollment_token("default", uses, 3600).await.map_err(|e| e.to_string())?;
    let token = Arc::new(token["token"].as_str().ok_or("no enrollment token in the answer")?.to_string());
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..options.enroll_concurrency.min(options.clients))
        .map(|_| {
            let (next, token, url, ca_pem) = (next.clone(), token.clone(), url.to_string(), ca_pem.to_string());
            let clients = options.clients;
            tokio::spawn(async move {
                let mut enrolled = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < clients {
                    enrolled.push(enroll(&url, &token, &ca_pem).await?);
                }
                Ok::<_, String>(enrolled)
            })
        })
        .collect();
    let mut identities = Vec::with_capacity(options.clients);
    for worker in workers {
        identities.extend(worker.await.map_err(|e| e.to_string())??);
    }
    Ok(identities)
}

async fn enroll(url: &str, token: &str, ca_pem: &str) -> Result<Identity, String> {
    let csr = traceflow_certs::generate_key_and_csr("bench-runner").map_err(|e| e.to_string())?;
    let body = json!({ "token": token, "csr_pem": csr.csr_pem, "hostname": "bench", "version": "bench" });
    let config = traceflow_certs::client_config(ca_pem, None).map_err(|e| e.to_string())?;
    let response = client::request(
        config,
        &format!("{url}/v1/enroll"),
        "POST",
        &[("content-type", "application/json")],
        Bytes::from(body.to_string()),
        REQUEST_TIMEOUT,
    )
    .await
    .map_err(|e| format!("enrollment: {e}"))?;
    let answer: EnrollAnswer = serde_json::from_slice(&response.body)
        .map_err(|_| format!("enrollment failed: {}", String::from_utf8_lossy(&response.body)))?;
    let public_key = base64::engine::general_purpose::STANDARD
        .decode(&answer.policy_public_key)
        .map_err(|e| format!("policy public key: {e}"))?;
    let identity = KeyAndCert { key_pem: csr.key_pem, cert_pem: answer.cert_pem };
    let config = traceflow_certs::client_config(ca_pem, Some(&identity)).map_err(|e| e.to_string())?;
    Ok(Identity { config, public_key })
}

/// One simulated runner: check in with what it holds, wait for a newer revision, verify it, hold it, repeat.
async fn poll(index: usize, identity: Identity, url: &str, errors: &AtomicU64, held_tx: mpsc::UnboundedSender<Held>) {
    let (mut revision, mut hash) = (0u64, Value::Null);
    // One client per simulated runner: it keeps the runner's connection open between check-ins.
    let Ok(client) = Client::new(identity.config.clone(), url) else {
        errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    loop {
        let state = if revision == 0 { "none" } else { "applied" };
        let body = json!({
            "wait_ms": WAIT_MS,
            "version": "bench",
            "policy": {"revision": revision, "hash": hash, "state": state, "error": null,
                       "active_revision": revision, "floored": []},
        });
        let headers = [("content-type", "application/json")];
        match client.send("POST", "/v1/runner/checkin", &headers, Bytes::from(body.to_string()), REQUEST_TIMEOUT).await
        {
            Ok(response) if response.status == 200 => {
                let answer: Value = serde_json::from_slice(&response.body).unwrap_or_default();
                let Some(bundle) = answer.get("policy") else { continue };
                let verified = serde_json::from_value::<SignedBundle>(bundle.clone())
                    .ok()
                    .and_then(|bundle| bundle.verify(&identity.public_key).ok());
                match verified {
                    Some(body) if body.revision > revision => {
                        revision = body.revision;
                        hash = Value::String(body.hash);
                        let _ = held_tx.send(Held { client: index, revision, at: Instant::now() });
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Waits until every client has reported `revision` applied (0: has checked in at all), as the control plane's
/// status shows it: from then on, each one's check-in is held waiting for the next revision.
async fn settle(admin: &AdminClient, clients: usize, revision: u64) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let status = admin.policy_status("default").await.map_err(|e| e.to_string())?;
        let runners = status["runners"].as_array().cloned().unwrap_or_default();
        let ready = runners
            .iter()
            .filter(|r| r["last_seen_ms"].is_u64() && r["active_revision"].as_u64() == Some(revision))
            .count();
        if ready == clients {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {ready} of {clients} clients reported revision {revision} in {SETTLE_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn rss(pid: u32) -> Result<(u64, u64), String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// Raises this process's open-file limit towards `wanted` (up to the hard limit); the child inherits it.
fn raise_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit with a valid pointer to an rlimit we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur >= wanted as libc::rlim_t {
            return;
        }
        let raised = libc::rlimit { rlim_cur: limit.rlim_max.min(wanted as libc::rlim_t), rlim_max: limit.rlim_max };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 || raised.rlim_cur < wanted as libc::rlim_t {
            eprintln!(
                "warning: open-file limit {} is below the {wanted} this run needs; raise it with `ulimit -n`",
                raised.rlim_cur
            );
        }
    }
}
