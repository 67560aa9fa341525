//! `traceflow`: the workspace's front door. `traceflow up` runs the product locally on the embedded default: a
//! control plane and a runner enrolled to it, on loopback. (The benchmarks and the load generator are
//! `traceflow-bench`, in `tools/`.)

mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "traceflow", version, about = "TRACEFLOW: run the runner and control plane locally")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run TRACEFLOW locally on the embedded default (control plane and runner); Ctrl-C stops it.
    Up(up::UpArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Up(args) => up::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
