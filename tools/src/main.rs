//! `traceflow-bench`: the benchmarks the performance figures in `docs/performance.md` come from, and the load
//! generator they drive runners with. Not part of the product: it runs the real binaries (`traceflow-runner`,
//! `traceflow-cp`) built next to it, or a control plane in-process, and prints what it measured.
//!
//! `loadgen` sends realistic SDK traffic to a runner; `ingest` measures a runner with it; `drain` measures how fast
//! a runner drains into the control plane after an outage; `upload` measures the control plane's upload receiver;
//! `policy` measures a policy push to many long-polling runners.

mod drain;
mod ingest;
mod loadgen;
mod policy;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "traceflow-bench", version, about = "TRACEFLOW benchmarks and load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send realistic SDK traffic to a runner and report accepted MB/s, events/s and ack latency.
    Loadgen(LoadgenArgs),
    /// Start a runner, measure its maximum throughput and its latency at half that rate, report RSS.
    Ingest(ingest::BenchArgs),
    /// Buffer traffic while the control plane is down, bring it back, and time the drain over mTLS.
    Drain(drain::DrainArgs),
    /// Upload chunks to an in-process control plane over mTLS and report what its receiver stores per second.
    Upload(upload::UploadArgs),
    /// Enroll many simulated runners that long-poll a control plane, apply policies, time each push.
    Policy(policy::PolicyArgs),
}

#[derive(Args, Clone)]
pub struct TrafficArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Request body compression, as SDKs send it.
    #[arg(long, value_enum, default_value_t = loadgen::Compression::None)]
    compression: loadgen::Compression,
    /// Distinct prepared sessions (each: full snapshot plus incremental batches).
    #[arg(long, default_value_t = 24)]
    sessions: usize,
    /// Batches per session after its full snapshot.
    #[arg(long, default_value_t = 30)]
    batches_per_session: usize,
    /// With compression: bodies compressed before the run.
    #[arg(long, default_value_t = 20_000)]
    pool: usize,
    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Generator threads. Two by default: with one, a generator thread the scheduler held back for tens of
    /// milliseconds (the runner keeps both cores busy) sent late, and that lag was counted as ack latency.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Args)]
struct LoadgenArgs {
    /// Ingest URL of the runner.
    #[arg(long, default_value = "http://127.0.0.1:7480/v1/batch")]
    url: String,
    /// Project key.
    #[arg(long, env = "TRACEFLOW_PROJECT_KEY", required_unless_present = "dump")]
    key: Option<String>,
    /// Write one round of the traffic to this directory (one batch per file) instead of sending it, e.g. for
    /// `PII_BENCH_DIR=DIR cargo bench -p traceflow-pii --bench pii_scan`.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Batches per second over all connections (default: as fast as the runner answers).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    traffic: TrafficArgs,
}

impl TrafficArgs {
    fn options(&self, url: String, key: String, rate: Option<f64>, duration: f64) -> loadgen::Options {
        loadgen::Options {
            url,
            key,
            concurrency: self.concurrency,
            rate,
            duration: Duration::from_secs_f64(duration),
            compression: self.compression,
            sessions: self.sessions,
            batches_per_session: self.batches_per_session,
            pool: self.pool,
            seed: self.seed,
            threads: self.threads,
        }
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Loadgen(args) => {
            let options = args.traffic.options(args.url, args.key.unwrap_or_default(), args.rate, args.duration);
            if let Some(dir) = &args.dump {
                loadgen::dump(&options, dir).map(|files| println!("wrote {files} batches to {}", dir.display()))
            } else {
                loadgen::run(&options).map(|report| {
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                    } else {
                        report.print();
                    }
                })
            }
        }
        Command::Ingest(args) => ingest::run(args),
        Command::Drain(args) => drain::run(args),
        Command::Upload(args) => upload::main(args),
        Command::Policy(args) => policy::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a benchmark's report: as pretty JSON with `--json`, else as its text.
pub(crate) fn print_report<R: serde::Serialize>(json: bool, report: &R, text: impl FnOnce(&R)) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
    } else {
        text(report);
    }
}

/// A binary built next to this one (`target/<profile>/NAME`).
pub fn sibling_binary(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} not found; build the workspace first: cargo build --release --workspace", path.display()))
    }
}
