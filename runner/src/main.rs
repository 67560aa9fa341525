//! `traceflow-runner`: parses flags and wires the runner's modules together.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use traceflow_runner::buffer::{inspect, BufferStore};
use traceflow_runner::config::RunnerConfig;
use traceflow_runner::server::{self, Server};
use traceflow_runner::telemetry;
use traceflow_runner::upload;
use traceflow_runner::vault::{AuditRecord, Vault, VaultError, VaultSummary};

#[derive(Parser)]
#[command(name = "traceflow-runner", version, about = "TRACEFLOW Runner: on-prem ingest with a durable buffer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the ingest daemon.
    Run(ConfigArgs),
    /// Validate a configuration (file plus flags) and exit non-zero with the reason if it is invalid.
    CheckConfig(ConfigArgs),
    /// Inspect the durable buffer of a stopped runner.
    Buffer {
        #[command(subcommand)]
        command: BufferCommand,
    },
    /// Enroll this runner with a control plane: makes a key pair here and gets a client certificate for it.
    Enroll {
        /// Control plane base URL, e.g. https://cp.example.com:7443
        #[arg(long = "control-plane")]
        control_plane: String,
        /// Enrollment token from `traceflow-cp enrollment-token create`.
        #[arg(long, env = "TRACEFLOW_ENROLLMENT_TOKEN")]
        token: String,
        /// PEM of the control plane's CA.
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Chunks the control plane refused for good, kept with the reason (stopped runner only).
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Operate the token vault of a stopped runner; every operation is appended to `<data_dir>/vault-audit.log`.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// The signed policy a stopped runner will start on (its last-known-good).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the last-known-good policy: revision, hash, issue time and the policy as JSON.
    Show {
        #[arg(long)]
        data_dir: PathBuf,
        /// Print the whole bundle body as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters with their reasons.
    List {
        #[arg(long)]
        data_dir: PathBuf,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back into the buffer for another upload (all, or the given chunk numbers).
    Retry {
        #[arg(long)]
        data_dir: PathBuf,
        chunks: Vec<u64>,
    },
}

#[derive(Args)]
struct ConfigArgs {
    /// TOML configuration file; every field has a default.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Overrides `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Overrides `listen`, e.g. 0.0.0.0:7480.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Adds a project key (repeatable).
    #[arg(long = "project-key")]
    project_keys: Vec<String>,
}

#[derive(Subcommand)]
enum BufferCommand {
    /// Chunks, batches, events and bytes held.
    Stats {
        #[arg(long)]
        data_dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every frame, chunk and record; exits 1 if anything is wrong.
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Print the buffered batches as JSON lines, in order.
    Dump {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Import a data dir stored by an earlier release into this release's format (the runner also does it when it
    /// starts); every batch, dedup entry and vault entry is kept.
    Upgrade {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Args)]
struct VaultArgs {
    /// TOML configuration file (its `data_dir` and `[vault]` section are used).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Overrides `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum VaultCommand {
    /// Add an encryption key version and make it current; older versions stay readable.
    Rotate(VaultArgs),
    /// Print the original value behind TOKEN on stdout.
    Detokenize {
        token: String,
        #[command(flatten)]
        args: VaultArgs,
    },
    /// Erase TOKEN's original (sticky: that value is never stored again); the token stays valid in analytics.
    Erase {
        token: String,
        #[command(flatten)]
        args: VaultArgs,
    },
    /// Destroy encryption key VERSION (not the current one): its entries become unreadable (crypto-shredding).
    DestroyKey {
        version: u32,
        #[command(flatten)]
        args: VaultArgs,
    },
    /// Entries per key version, erased entries, and key versions.
    Stats {
        #[command(flatten)]
        args: VaultArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::CheckConfig(args) => match load_config(&args) {
            Ok(config) => {
                println!(
                    "configuration is valid: listen {}, data dir {}, {} project key(s)",
                    config.listen,
                    config.data_dir.display(),
                    config.project_keys.len()
                );
                ExitCode::SUCCESS
            }
            Err(message) => fail(&message, 2),
        },
        Command::Buffer { command } => buffer(command),
        Command::Enroll { control_plane, token, ca, data_dir } => enroll(&control_plane, &token, &ca, &data_dir),
        Command::Dlq { command } => dlq(command),
        Command::Vault { command } => vault(command),
        Command::Policy { command: PolicyCommand::Show { data_dir, json } } => policy_show(&data_dir, json),
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn load_config(args: &ConfigArgs) -> Result<RunnerConfig, String> {
    let mut config = match &args.config {
        Some(path) => RunnerConfig::load(path).map_err(|e| e.to_string())?,
        None => RunnerConfig::default(),
    };
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.project_keys.extend(args.project_keys.iter().cloned());
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn run(args: ConfigArgs) -> ExitCode {
    limit_malloc_arenas();
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(message) => return fail(&message, 2),
    };
    telemetry::init(&config.log);
    traceflow_store::private::make_private(&config.data_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), 1),
    };
    runtime.block_on(async {
        // Registered before the listening line, so a SIGTERM right after startup still shuts down cleanly.
        let shutdown = match server::shutdown_signal() {
            Ok(shutdown) => shutdown,
            Err(e) => return fail(&format!("cannot install signal handlers: {e}"), 1),
        };
        let server = match Server::bind(&config).await {
            Ok(server) => server,
            Err(e) => return fail(&e.to_string(), 1),
        };
        let addr = server.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let recovery = server.recovery();
        tracing::info!(%addr, chunks = recovery.state.depth, damaged = recovery.damaged.len(), "runner listening");
        // One line on stdout that scripts and tests can wait for.
        println!("traceflow-runner listening on {scheme}://{addr}");
        let _ = std::io::stdout().flush();
        release_freed_memory();
        server.run(shutdown).await;
        ExitCode::SUCCESS
    })
}

/// glibc keeps memory freed by request buffers in its heaps, so the runner's resident size would stay at its
/// high-water mark (measured 155-166 MiB after a burst at 80 MB/s with 64 connections). Twice a second a
/// background thread hands whole free pages back to the kernel (143-146 MiB in the same benchmark, same throughput).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    let spawned = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the kernel.
        unsafe {
            libc::malloc_trim(0);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the memory trimming thread");
    }
}

/// Everything this process creates is for its own user (directories 0700, files 0600), whatever the umask it
/// was started with: data dirs hold tokenized sessions, vault ciphertext and keys.
fn private_files() {
    // SAFETY: umask(2) only replaces the process's file-mode creation mask; it has no failure mode.
    unsafe {
        libc::umask(0o077);
    }
}

/// Other allocators return memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

/// glibc gives every thread that allocates its own arena, which holds freed memory; two arenas keep the runner's
/// resident memory lower under 64 connections (measured 166 -> 143 MiB peak in one 8 s run).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only tunes glibc's allocator; called from `run` before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Only glibc has arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Opens a stopped runner's store for a command that changes it.
fn open_store(dir: &Path) -> Result<BufferStore, String> {
    if !dir.join("db").exists() {
        return Err(format!("{} holds no runner buffer", dir.display()));
    }
    BufferStore::open(dir, 16 * 1024 * 1024).map_err(|e| e.to_string())
}

/// Opens a stopped runner's store for a command that only reads it: nothing under the data dir is written, so it
/// works on a full filesystem and leaves the files as they were.
fn read_store(dir: &Path) -> Result<BufferStore, String> {
    if !dir.join("db").exists() {
        return Err(format!("{} holds no runner buffer", dir.display()));
    }
    BufferStore::open_read_only(dir, 16 * 1024 * 1024).map_err(|e| e.to_string())
}

fn policy_show(data_dir: &std::path::Path, json: bool) -> ExitCode {
    let result = read_store(data_dir).and_then(|store| traceflow_runner::policy::stored_lkg(&store.db));
    match result {
        Ok(Some(body)) if json => {
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(Some(body)) => {
            println!(
                "revision {} of {}/{}, {}, issued at {} (epoch ms)",
                body.revision, body.tenant, body.group, body.hash, body.issued_at_ms
            );
            println!("{}", serde_json::to_string_pretty(&body.policy).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("no signed policy yet: the runner runs on its own configuration");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message, 1),
    }
}

fn buffer(command: BufferCommand) -> ExitCode {
    let result = match command {
        BufferCommand::Stats { data_dir, json } => read_store(&data_dir).and_then(|store| {
            let stats = inspect::stats(&store).map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats).unwrap_or_default());
            } else {
                print_stats(&stats);
            }
            Ok(ExitCode::SUCCESS)
        }),
        BufferCommand::Verify { data_dir } => read_store(&data_dir).and_then(|store| {
            let report = inspect::verify(&store).map_err(|e| e.to_string())?;
            for problem in &report.problems {
                println!("problem: {problem}");
            }
            println!("{} chunks, {} batches, {} problems", report.chunks, report.batches, report.problems.len());
            Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }),
        BufferCommand::Dump { data_dir } => read_store(&data_dir).and_then(|store| {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let batches = inspect::dump(&store, &mut out, &mut std::io::stderr()).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            eprintln!("{batches} batches");
            Ok(ExitCode::SUCCESS)
        }),
        BufferCommand::Upgrade { data_dir } => open_store(&data_dir).map(|_| {
            println!("{} is in this release's storage format", data_dir.display());
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|message| fail(&message, 1))
}

fn enroll(url: &str, token: &str, ca: &Path, data_dir: &Path) -> ExitCode {
    let ca_pem = match std::fs::read_to_string(ca) {
        Ok(pem) => pem,
        Err(e) => return fail(&format!("cannot read {}: {e}", ca.display()), 1),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), 1),
    };
    match runtime.block_on(traceflow_runner::identity::enroll(data_dir, url, token, &ca_pem)) {
        Ok(identity) => {
            let info = &identity.info;
            println!(
                "enrolled as runner {} (tenant {}, group {}); certificate valid until {} (epoch ms); identity in {}",
                info.runner_id,
                info.tenant,
                info.group,
                info.not_after_ms,
                traceflow_runner::identity::identity_dir(data_dir).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string(), 1),
    }
}

fn dlq(command: DlqCommand) -> ExitCode {
    let result = match command {
        DlqCommand::List { data_dir, json } => read_store(&data_dir).and_then(|store| {
            let letters = upload::dlq::list(&store).map_err(|e| e.to_string())?;
            for letter in &letters {
                if json {
                    println!("{}", serde_json::to_string(letter).unwrap_or_default());
                } else {
                    println!(
                        "chunk {:>8}  {} batches  {} bytes  at {}  {} {}: {}",
                        letter.chunk_seq,
                        letter.batches,
                        letter.bytes,
                        letter.at_ms,
                        letter.status,
                        letter.code,
                        letter.message
                    );
                }
            }
            if !json {
                println!("{} dead letters", letters.len());
            }
            Ok(ExitCode::SUCCESS)
        }),
        DlqCommand::Retry { data_dir, chunks } => open_store(&data_dir).and_then(|store| {
            let moved = upload::dlq::retry(&store, &chunks).map_err(|e| e.to_string())?;
            for (old, new) in &moved {
                println!("dead letter {old} is back in the buffer as chunk {new}");
            }
            println!("{} dead letters requeued", moved.len());
            Ok(ExitCode::SUCCESS)
        }),
    };
    result.unwrap_or_else(|message| fail(&message, 1))
}

fn print_stats(stats: &inspect::Stats) {
    let range = match (stats.first_chunk, stats.last_chunk) {
        (Some(first), Some(last)) => format!("{first}..={last}"),
        _ => "none".into(),
    };
    println!("chunks          {} ({range}), next sequence {}", stats.chunks, stats.next_seq);
    println!("batches         {}", stats.batches);
    println!("events          {}", stats.events);
    println!("payload bytes   {} uncompressed, {} stored", stats.raw_bytes, stats.live_bytes);
    println!("disk bytes      {}", stats.disk_bytes);
    println!("received        {:?} .. {:?} (epoch ms)", stats.oldest_received_at_ms, stats.newest_received_at_ms);
    println!("dedup sessions  {}", stats.dedup_sessions);
    println!("damaged chunks  {}, quarantined frames {}", stats.damaged_chunks, stats.quarantined_frames);
}

/// Opens the vault named by `args` for `attempt`; a bad configuration exits with 2, anything else with 1.
fn open_vault(args: &VaultArgs, attempt: AuditRecord) -> Result<Vault, (String, u8)> {
    // Reading commands open the store read-only; the audit log still records them.
    let read_only = matches!(attempt.operation, "stats" | "detokenize");
    let mut config = match &args.config {
        Some(path) => RunnerConfig::load(path).map_err(|e| (e.to_string(), 2))?,
        None => RunnerConfig::default(),
    };
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    Vault::open_offline(&config, attempt, read_only).map_err(|e| (e.to_string(), 1))
}

fn vault(command: VaultCommand) -> ExitCode {
    let failed = |e: VaultError| (e.to_string(), 1);
    let result = match command {
        VaultCommand::Rotate(args) => {
            open_vault(&args, AuditRecord::new("rotate", None, None)).and_then(|mut vault| {
                let version = vault.rotate().map_err(failed)?;
                println!("key version {version} is now current; older versions stay readable");
                Ok(())
            })
        }
        // The original goes to stdout only, and only after its audit line is on disk.
        VaultCommand::Detokenize { token, args } => {
            open_vault(&args, AuditRecord::new("detokenize", Some(&token), None)).and_then(|vault| {
                println!("{}", vault.detokenize(&token).map_err(failed)?);
                Ok(())
            })
        }
        VaultCommand::Erase { token, args } => open_vault(&args, AuditRecord::new("erase", Some(&token), None))
            .and_then(|vault| {
                match vault.erase(&token).map_err(failed)? {
                    true => println!("erased {token}"),
                    false => println!("{token} was already erased"),
                }
                Ok(())
            }),
        VaultCommand::DestroyKey { version, args } => {
            open_vault(&args, AuditRecord::new("destroy_key", None, Some(version))).and_then(|mut vault| {
                let unreadable = vault.destroy_key(version).map_err(failed)?;
                println!("destroyed key version {version}; {unreadable} entries are now unreadable");
                Ok(())
            })
        }
        VaultCommand::Stats { args, json } => {
            open_vault(&args, AuditRecord::new("stats", None, None)).and_then(|vault| {
                let stats = vault.stats().map_err(failed)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&stats).unwrap_or_default());
                } else {
                    print_vault_stats(&stats);
                }
                Ok(())
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, code)) => fail(&message, code),
    }
}

fn print_vault_stats(stats: &VaultSummary) {
    let versions = |list: &[u32]| list.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    println!("entries              {} ({} erased, {} malformed)", stats.entries, stats.erased, stats.malformed);
    for (version, count) in &stats.by_key_version {
        println!("  key version {version:<6} {count}");
    }
    println!("current key version  {}", stats.current_key_version);
    println!("live key versions    {}", versions(&stats.live_key_versions));
    println!("destroyed versions   {}", versions(&stats.destroyed_key_versions));
}
