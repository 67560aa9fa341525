//! `traceflow-cp`: parses flags and wires the control plane's modules together.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use traceflow_cp::admin_client::{parse_ttl, AdminClient};
use traceflow_cp::bench::{self, BenchOptions};
use traceflow_cp::server::{self, ServeOptions, Server};
use traceflow_cp::{init, telemetry, InitOptions};

#[derive(Parser)]
#[command(name = "traceflow-cp", version, about = "TRACEFLOW control plane: runner enrollment, uploads, admin API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: CA, server certificate, policy-signing key, first tenant and admin token.
    Init(InitArgs),
    /// Run the control plane.
    Serve(ServeArgs),
    /// Create and list enrollment tokens (admin API).
    EnrollmentToken {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// List and revoke runners (admin API).
    Runner {
        #[command(subcommand)]
        command: RunnerCommand,
    },
    /// Measure upload throughput against an in-process control plane on loopback.
    BenchUpload(BenchArgs),
}

#[derive(Args)]
struct InitArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The first runner group.
    #[arg(long, default_value = "default")]
    group: String,
    #[arg(long, default_value = "default")]
    project: String,
    /// Extra DNS name or IP address for the server certificate (repeatable); localhost and 127.0.0.1 are always in.
    #[arg(long = "server-name")]
    server_names: Vec<String>,
    /// Print JSON: admin_token, ca_cert, tenant, group, project, data_dir.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:7443")]
    listen: SocketAddr,
    /// Validity of runner certificates issued at enrollment and renewal (30s, 15m, 1h, 30d); runners renew
    /// at two thirds of it.
    #[arg(long, default_value = "30d", value_parser = traceflow_cp::admin_client::parse_ttl)]
    runner_cert_ttl: u64,
    /// How long runners wait between check-ins.
    #[arg(long, default_value_t = 30_000)]
    poll_after_ms: u64,
    /// Uploads handled at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    max_uploads: usize,
    /// Log filter (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Args)]
struct AdminArgs {
    /// Base URL of the control plane.
    #[arg(long, env = "TRACEFLOW_ADMIN_URL", default_value = "https://127.0.0.1:7443")]
    admin_url: String,
    #[arg(long, env = "TRACEFLOW_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// The control plane's CA certificate (DATA_DIR/ca.pem).
    #[arg(long, env = "TRACEFLOW_CA")]
    ca: PathBuf,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an enrollment token; prints the token (shown only here).
    Create {
        #[arg(long, default_value = "default")]
        group: String,
        /// How many runners may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Lifetime: 30s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: u64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List enrollment tokens (without the secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Subcommand)]
enum RunnerCommand {
    /// List enrolled runners.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Revoke a runner: every further call with its certificates gets 403.
    Revoke {
        runner_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Concurrent upload connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Compressed record bytes per chunk, in KiB (the runner's max_chunk_bytes).
    #[arg(long, default_value_t = 1024)]
    chunk_kib: usize,
    /// Keep the control plane's data here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Init(args) => run_init(args),
        Command::Serve(args) => serve(args),
        Command::EnrollmentToken { command } => block_on(token_command(command)),
        Command::Runner { command } => block_on(runner_command(command)),
        Command::BenchUpload(args) => block_on(bench_upload(args)),
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn block_on(work: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let result = runtime().and_then(|runtime| runtime.block_on(work));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message, 1),
    }
}

fn run_init(args: InitArgs) -> ExitCode {
    let options = InitOptions {
        data_dir: args.data_dir,
        tenant: args.tenant,
        group: args.group,
        project: args.project,
        server_names: args.server_names,
    };
    match init(&options) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                println!("{}", report.admin_token);
                eprintln!(
                    "initialised {}: tenant {}, group {}, project {}; CA certificate in {}/ca.pem.\n\
                     The admin token above is shown only once; it is stored only as a hash.",
                    report.data_dir, report.tenant, report.group, report.project, report.data_dir
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string(), 1),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    telemetry::init(&args.log_level, args.log_json);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(message) => return fail(&message, 1),
    };
    let mut options = ServeOptions::new(args.data_dir, args.listen);
    options.runner_cert_ttl = std::time::Duration::from_secs(args.runner_cert_ttl);
    options.poll_after_ms = args.poll_after_ms;
    options.max_uploads = args.max_uploads.max(1);
    runtime.block_on(async {
        // Registered before the listening line, so a SIGTERM right after startup still shuts down cleanly.
        let shutdown = match server::shutdown_signal() {
            Ok(shutdown) => shutdown,
            Err(e) => return fail(&format!("cannot install signal handlers: {e}"), 1),
        };
        let server = match Server::bind(options).await {
            Ok(server) => server,
            Err(e) => return fail(&e.to_string(), 1),
        };
        let addr = server.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(%addr, "control plane listening");
        // One line on stdout that scripts and tests can wait for.
        println!("traceflow-cp listening on https://{addr}");
        let _ = std::io::stdout().flush();
        server.run(shutdown).await;
        let _ = std::io::stdout().flush();
        ExitCode::SUCCESS
    })
}

fn admin_client(args: &AdminArgs) -> Result<AdminClient, String> {
    let ca = std::fs::read_to_string(&args.ca).map_err(|e| format!("cannot read {}: {e}", args.ca.display()))?;
    AdminClient::new(&args.admin_url, &args.admin_token, &ca).map_err(|e| e.to_string())
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

async fn token_command(command: TokenCommand) -> Result<(), String> {
    match command {
        TokenCommand::Create { group, uses, ttl, json, admin } => {
            let answer =
                admin_client(&admin)?.create_enrollment_token(&group, uses, ttl).await.map_err(|e| e.to_string())?;
            if json {
                print_json(&answer);
            } else {
                println!("{}", answer["token"].as_str().unwrap_or_default());
                eprintln!(
                    "enrollment token {} for group {}: {} use(s), expires at {} (epoch ms)",
                    answer["id"], answer["group"], answer["uses"], answer["expires_at_ms"]
                );
            }
        }
        TokenCommand::List { json, admin } => {
            let answer = admin_client(&admin)?.enrollment_tokens().await.map_err(|e| e.to_string())?;
            if json {
                print_json(&answer);
            } else {
                println!("{:<18} {:<16} {:>9} {:>15}", "ID", "GROUP", "USED", "EXPIRES_AT_MS");
                for token in answer["tokens"].as_array().into_iter().flatten() {
                    println!(
                        "{:<18} {:<16} {:>9} {:>15}",
                        token["id"].as_str().unwrap_or_default(),
                        token["group"].as_str().unwrap_or_default(),
                        format!("{}/{}", token["used"], token["uses"]),
                        token["expires_at_ms"]
                    );
                }
            }
        }
    }
    Ok(())
}

async fn runner_command(command: RunnerCommand) -> Result<(), String> {
    match command {
        RunnerCommand::List { json, admin } => {
            let answer = admin_client(&admin)?.runners().await.map_err(|e| e.to_string())?;
            if json {
                print_json(&answer);
            } else {
                println!(
                    "{:<20} {:<12} {:<20} {:<10} {:>15} {:<7}",
                    "RUNNER", "GROUP", "HOSTNAME", "VERSION", "LAST_SEEN_MS", "REVOKED"
                );
                for runner in answer["runners"].as_array().into_iter().flatten() {
                    println!(
                        "{:<20} {:<12} {:<20} {:<10} {:>15} {:<7}",
                        runner["runner_id"].as_str().unwrap_or_default(),
                        runner["group"].as_str().unwrap_or_default(),
                        runner["hostname"].as_str().unwrap_or_default(),
                        runner["version"].as_str().unwrap_or_default(),
                        runner["last_seen_ms"].as_u64().map_or("-".to_string(), |ms| ms.to_string()),
                        runner["revoked"]
                    );
                }
            }
        }
        RunnerCommand::Revoke { runner_id, admin } => {
            admin_client(&admin)?.revoke(&runner_id).await.map_err(|e| e.to_string())?;
            println!("runner {runner_id} revoked");
        }
    }
    Ok(())
}

async fn bench_upload(args: BenchArgs) -> Result<(), String> {
    let options = BenchOptions {
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.seconds.max(1)),
        chunk_bytes: args.chunk_kib.max(1) * 1024,
        data_dir: args.data_dir,
    };
    let report = bench::run(&options).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        report.print();
    }
    Ok(())
}
