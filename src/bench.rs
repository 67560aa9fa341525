//! `traceflow bench`: the ingest benchmark quoted in the README. It starts the real `traceflow-runner` binary
//! on loopback with a temp data dir, measures the most it accepts with group-commit fsync (phase 1), then its
//! ack latency at half that rate (phase 2), sampling the runner's resident memory throughout.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::loadgen::{self, Report};
use crate::{sibling_binary, TrafficArgs};

#[derive(Args)]
pub struct BenchArgs {
    /// Seconds per phase.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Extra TOML appended to the runner's config (e.g. "[buffer]\nzstd_level = 3").
    #[arg(long, default_value = "")]
    runner_config: String,
    /// Print the reports as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    traffic: TrafficArgs,
}

const KEY: &str = "bench-project-key";

/// Peak resident set size of a process, sampled every 50 ms while a phase runs.
struct RssSampler {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let (peak_kib, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let thread = std::thread::spawn({
            let (peak, stop) = (peak_kib.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Some(kib) = rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        RssSampler { peak_kib, stop, thread: Some(thread) }
    }

    fn finish(mut self) -> f64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak_kib.load(Ordering::SeqCst) as f64 / 1024.0
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let runner = sibling_binary("traceflow-runner")?;
    let dir = std::env::temp_dir().join(format!("traceflow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("runner.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nproject_keys = [\"{KEY}\"]\n[log]\nlevel = \"warn\"\n{}\n",
        dir.join("data").display().to_string(),
        args.runner_config.replace("\\n", "\n")
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let started = crate::drain::spawn_listening(&runner, &["run", "--config", &config.display().to_string()]);
    let result = started.and_then(|(child, addr)| {
        let result = phases(&args, &addr, child.0.id());
        child.terminate();
        result
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (max, half, rss_max, rss_half) = result?;
    if args.json {
        let out = serde_json::json!({"max": max, "half_rate": half, "runner_peak_rss_mib": {"max": rss_max, "half_rate": rss_half}});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!(
        "\n== phase 1: maximum throughput, {} connections, {:?} bodies",
        args.traffic.concurrency, args.traffic.compression
    );
    max.print();
    println!("runner peak RSS  {rss_max:.0} MiB");
    println!("\n== phase 2: half that rate ({:.0} batches/s)", half.target_rate.unwrap_or(0.0));
    half.print();
    println!("runner peak RSS  {rss_half:.0} MiB");
    println!("\n| machine | compression | accepted MB/s (max) | events/s (max) | p99 ack at max | p99 ack at half rate | runner peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} cores, {} | {:?} | {:.1} | {:.0} | {:.1} ms | {:.2} ms | {:.0} MiB |",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        args.traffic.compression,
        max.accepted_mb_per_sec,
        max.events_per_sec,
        max.latency_ms_p99,
        half.latency_ms_p99,
        rss_max.max(rss_half)
    );
    Ok(())
}

fn phases(args: &BenchArgs, addr: &str, pid: u32) -> Result<(Report, Report, f64, f64), String> {
    if addr.is_empty() {
        return Err("the runner did not report its address".into());
    }
    let url = format!("http://{addr}/v1/batch");
    let sampler = RssSampler::start(pid);
    let max = loadgen::run(&args.traffic.options(url.clone(), KEY.into(), None, args.duration))?;
    let rss_max = sampler.finish();
    if max.batches_per_sec <= 0.0 {
        return Err(format!("nothing was accepted: {:?}", max.by_status));
    }
    let sampler = RssSampler::start(pid);
    let half = loadgen::run(&args.traffic.options(url, KEY.into(), Some(max.batches_per_sec / 2.0), args.duration))?;
    Ok((max, half, rss_max, sampler.finish()))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
