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

/// Everything this process creates is for its own user (directories 0700, files 0600), whatever the umask it
/// was started with: data dirs hold tokenized sessions, vault ciphertext and keys.
fn private_files() {
    // SAFETY: umask(2) only replaces the process's file-mode creation mask; it has no failure mode.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> ExitCode {
    private_files();
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
