//! `traceflow-cp`: parses flags and wires the control plane's modules together.

mod render;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use traceflow_cp::admin_client::{parse_ttl, AdminClient};
use traceflow_cp::server::{self, ServeOptions, Server};
use traceflow_cp::{init, telemetry, InitOptions};
use traceflow_protocol::policy::{json_schema, Format, Policy, MAX_DOCUMENT_BYTES};

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
    /// Apply, inspect, roll back and roll out runner group policies (admin API); validate documents locally.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Read the audit log of admin changes (admin API).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
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
    /// The most a runner waits (with jitter) before its next check-in, answered in every check-in.
    #[arg(long, default_value_t = 500)]
    poll_after_ms: u64,
    /// Free bytes kept on the data dir's filesystem; below it uploads get 503 `disk_full` (default: the larger of
    /// 256 MiB and 2 % of the filesystem, at most a quarter of it).
    #[arg(long)]
    min_free_bytes: Option<u64>,
    /// Serve `GET /metrics` without a credential on this plain-HTTP address too (for Prometheus on a private
    /// network); on the main listener `/metrics` needs an admin token.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The longest a check-in is held waiting for a newer policy (30s, 5m); runners may ask for less.
    #[arg(long, default_value = "30s", value_parser = parse_ttl)]
    poll_timeout: u64,
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
    /// The admin token. Prefer `--admin-token-file` or `TRACEFLOW_ADMIN_TOKEN`: a token on the command line is
    /// visible to every local user (`/proc/<pid>/cmdline`), so it is warned about.
    #[arg(long, env = "TRACEFLOW_ADMIN_TOKEN", hide_env_values = true, conflicts_with = "admin_token_file")]
    admin_token: Option<String>,
    /// A file holding the admin token (its first line).
    #[arg(long, env = "TRACEFLOW_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
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

/// The runner group a policy command works on, the admin API, and the output format.
#[derive(Args)]
struct GroupArgs {
    #[arg(long, default_value = "default")]
    group: String,
    /// Print the API's JSON answer instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

/// Optional message and author of a rollout change (promote, abort).
#[derive(Args)]
struct ChangeNote {
    #[arg(short, long)]
    message: Option<String>,
    #[arg(long)]
    author: Option<String>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Apply a TOML or JSON policy document as a new revision (stable, or a canary with --canary).
    Apply {
        file: PathBuf,
        /// Why the policy changes (kept in the history and the audit log).
        #[arg(short, long)]
        message: String,
        /// Roll out to this share of the group's runners first (1 to 99 %); then `promote` or `abort`.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=99))]
        canary: Option<u8>,
        /// Author recorded with the revision (default: admin).
        #[arg(long)]
        author: Option<String>,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// Field changes from B (default: the stable revision) to A; each is a file or a revision number.
    Diff {
        a: String,
        b: Option<String>,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// The group's revisions, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// One revision with its policy.
    Show {
        revision: u64,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// A new stable revision with the content of an older one (history is never rewritten).
    Rollback {
        revision: u64,
        #[arg(short, long)]
        message: String,
        #[arg(long)]
        author: Option<String>,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// Make the canary revision stable for every runner of the group.
    Promote {
        #[command(flatten)]
        note: ChangeNote,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// End the canary: a new stable revision with the stable content moves its runners back.
    Abort {
        #[command(flatten)]
        note: ChangeNote,
        #[command(flatten)]
        target: GroupArgs,
    },
    /// Each runner's cohort, target revision, applied revision and state, and a summary per cohort.
    Status {
        #[command(flatten)]
        target: GroupArgs,
    },
    /// Check a policy document without a control plane: prints `ok <hash>`, or one `path: message` line per
    /// problem on stderr and exits 1.
    Validate { file: PathBuf },
    /// Print the JSON Schema of policy documents (for editors).
    Schema,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Audit entries, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    match cli.command {
        Command::Init(args) => run_init(args),
        Command::Serve(args) => serve(args),
        Command::EnrollmentToken { command } => block_on(token_command(command)),
        Command::Runner { command } => block_on(runner_command(command)),
        Command::Policy { command: PolicyCommand::Validate { file } } => validate(&file),
        Command::Policy { command: PolicyCommand::Schema } => {
            print_json(&json_schema());
            ExitCode::SUCCESS
        }
        Command::Policy { command } => block_on(policy_command(command)),
        Command::Audit { command } => block_on(audit_command(command)),
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

/// Everything this process creates is for its own user (directories 0700, files 0600), whatever the umask it
/// was started with: data dirs hold tokenized sessions, vault ciphertext and keys.
fn private_files() {
    // SAFETY: umask(2) only replaces the process's file-mode creation mask; it has no failure mode.
    unsafe {
        libc::umask(0o077);
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    telemetry::init(&args.log_level, args.log_json);
    traceflow_store::private::make_private(&args.data_dir);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(message) => return fail(&message, 1),
    };
    let mut options = ServeOptions::new(args.data_dir, args.listen);
    options.runner_cert_ttl = std::time::Duration::from_secs(args.runner_cert_ttl);
    options.poll_after_ms = args.poll_after_ms;
    options.metrics_listen = args.metrics_listen;
    options.min_free_bytes = args.min_free_bytes;
    options.poll_timeout = Duration::from_secs(args.poll_timeout);
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
        if let Some(metrics) = server.metrics_addr() {
            tracing::info!(%metrics, "plain metrics listener");
            println!("traceflow-cp metrics on http://{metrics}/metrics");
        }
        let _ = std::io::stdout().flush();
        server.run(shutdown).await;
        let _ = std::io::stdout().flush();
        ExitCode::SUCCESS
    })
}

fn admin_client(args: &AdminArgs) -> Result<AdminClient, String> {
    let ca = std::fs::read_to_string(&args.ca).map_err(|e| format!("cannot read {}: {e}", args.ca.display()))?;
    let token = match (&args.admin_token_file, &args.admin_token) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            text.lines().next().unwrap_or_default().trim().to_string()
        }
        (None, Some(token)) => {
            if token_on_command_line() {
                eprintln!(
                    "warning: --admin-token on the command line is visible to every local user; use \
                     --admin-token-file or TRACEFLOW_ADMIN_TOKEN"
                );
            }
            token.clone()
        }
        (None, None) => {
            return Err("no admin token: give --admin-token-file, or set TRACEFLOW_ADMIN_TOKEN".to_string());
        }
    };
    AdminClient::new(&args.admin_url, &token, &ca).map_err(|e| e.to_string())
}

/// Whether the admin token came as a command-line argument (rather than from the environment).
fn token_on_command_line() -> bool {
    std::env::args().any(|arg| arg == "--admin-token" || arg.starts_with("--admin-token="))
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

/// A policy document from a file, refused early when over the API's limit.
fn read_document(path: &PathBuf) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    if size > MAX_DOCUMENT_BYTES as u64 {
        return Err(format!("{} is over {MAX_DOCUMENT_BYTES} bytes", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn validate(file: &PathBuf) -> ExitCode {
    let document = match read_document(file) {
        Ok(document) => document,
        Err(message) => return fail(&message, 1),
    };
    match Policy::parse(&document, Format::detect(&document)) {
        Ok(policy) => {
            println!("ok {}", policy.hash());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors.0 {
                eprintln!("{error}");
            }
            ExitCode::from(1)
        }
    }
}

/// A `policy diff` side: an existing file is a document, else a number is a revision.
fn diff_side(arg: &str) -> Result<(String, Value), String> {
    let path = PathBuf::from(arg);
    if path.is_file() {
        return Ok((arg.to_string(), json!({ "document": read_document(&path)? })));
    }
    match arg.parse::<u64>() {
        Ok(revision) => Ok((format!("revision {revision}"), json!(revision))),
        Err(_) => Err(format!("`{arg}` is neither a file nor a revision number")),
    }
}

fn print_or(json: bool, answer: &Value, text: impl FnOnce(&Value) -> String) {
    if json {
        print_json(answer);
    } else {
        print!("{}", text(answer));
    }
}

async fn policy_command(command: PolicyCommand) -> Result<(), String> {
    let error = |e: traceflow_cp::admin_client::AdminClientError| e.to_string();
    match command {
        PolicyCommand::Apply { file, message, canary, author, target: GroupArgs { group, json, admin } } => {
            let document = read_document(&file)?;
            let client = admin_client(&admin)?;
            let answer =
                client.policy_apply(&group, &document, &message, author.as_deref(), canary).await.map_err(error)?;
            print_or(json, &answer, render::created);
        }
        PolicyCommand::Diff { a, b, target: GroupArgs { group, json, admin } } => {
            let client = admin_client(&admin)?;
            let (to_label, to) = diff_side(&a)?;
            let (from_label, from) = match b {
                Some(b) => diff_side(&b)?,
                None => match client.policy_rollout(&group).await.map_err(error)?["stable"].as_u64() {
                    Some(stable) => (format!("revision {stable} (stable)"), json!(stable)),
                    None => ("default policy (no stable revision)".to_string(), json!({ "document": "" })),
                },
            };
            let answer = client.policy_diff(&group, from, to).await.map_err(error)?;
            print_or(json, &answer, |answer| render::diff(&from_label, &to_label, answer));
        }
        PolicyCommand::History { limit, target: GroupArgs { group, json, admin } } => {
            let answer = admin_client(&admin)?.policy_history(&group, limit).await.map_err(error)?;
            print_or(json, &answer, render::history);
        }
        PolicyCommand::Show { revision, target: GroupArgs { group, json, admin } } => {
            let answer = admin_client(&admin)?.policy_revision(&group, revision).await.map_err(error)?;
            print_or(json, &answer, render::show);
        }
        PolicyCommand::Rollback { revision, message, author, target: GroupArgs { group, json, admin } } => {
            let client = admin_client(&admin)?;
            let answer =
                client.policy_rollback(&group, revision, Some(&message), author.as_deref()).await.map_err(error)?;
            print_or(json, &answer, render::created);
        }
        PolicyCommand::Promote { note: ChangeNote { message, author }, target: GroupArgs { group, json, admin } } => {
            let client = admin_client(&admin)?;
            let answer = client.policy_promote(&group, message.as_deref(), author.as_deref()).await.map_err(error)?;
            print_or(json, &answer, render::rollout);
        }
        PolicyCommand::Abort { note: ChangeNote { message, author }, target: GroupArgs { group, json, admin } } => {
            let client = admin_client(&admin)?;
            let answer = client.policy_abort(&group, message.as_deref(), author.as_deref()).await.map_err(error)?;
            print_or(json, &answer, render::created);
        }
        PolicyCommand::Status { target: GroupArgs { group, json, admin } } => {
            let answer = admin_client(&admin)?.policy_status(&group).await.map_err(error)?;
            print_or(json, &answer, render::status);
        }
        // Local commands, handled in `main`.
        PolicyCommand::Validate { .. } | PolicyCommand::Schema => {}
    }
    Ok(())
}

async fn audit_command(command: AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::List { limit, json, admin } => {
            let answer = admin_client(&admin)?.audit(limit).await.map_err(|e| e.to_string())?;
            print_or(json, &answer, render::audit);
        }
    }
    Ok(())
}
