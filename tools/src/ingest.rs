//! `traceflow-bench ingest`: the ingest benchmark quoted in the README. It starts the real `traceflow-runner` binary
//! on loopback with a temp data dir, measures the most it accepts with group-commit fsync (phase 1), then its
//! ack latency at half that rate (phase 2), sampling the runner's resident memory throughout and reporting the
//! runner's CPU time per MB accepted (the cost that decides throughput when the machine is saturated).
//!
//! `--pii` chooses the runner's PII settings: `on` is its default configuration (every entity tokenized), `off`
//! sets every action to `allow` (the runner then skips the scrub), and `compare` runs phase 1 both ways, on a
//! fresh runner each, and reports the share of its throughput the runner keeps with tokenization on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::loadgen::{self, Report};
use crate::{sibling_binary, TrafficArgs};

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Seconds per phase.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Extra TOML for the runner's config, placed before the tables the bench writes, so top-level keys work too
    /// (e.g. "scrub_threads = 2", or "[buffer]\nzstd_level = 3").
    #[arg(long, default_value = "")]
    runner_config: String,
    /// PII tokenization in the runner: on (default configuration), off (every action `allow`), or compare
    /// (phase 1 with it on, then off, and the share kept).
    #[arg(long, value_enum, default_value_t = Pii::On)]
    pii: Pii,
    /// Print the reports as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    traffic: TrafficArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Pii {
    On,
    Off,
    Compare,
}

const KEY: &str = "bench-project-key";

/// Runner settings that switch tokenization off: with every action `allow` the runner skips the scrub.
const PII_OFF: &str = "[pii]\ndefault_action = \"allow\"\nbuiltin_fields = false\n";

/// What the runner process used while a phase ran: its peak resident set size, sampled every 50 ms, and the
/// CPU time it spent (user and system, all threads).
struct RunnerSampler {
    pid: u32,
    cpu_start: Option<f64>,
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// [`RunnerSampler`]'s figures for one phase.
#[derive(Clone, Copy)]
struct Usage {
    peak_rss_mib: f64,
    /// Runner CPU seconds over the phase; `None` where `/proc` cannot tell.
    cpu_secs: Option<f64>,
}

impl Usage {
    /// Runner CPU milliseconds per MB of uncompressed payload accepted.
    fn cpu_ms_per_mb(&self, report: &Report) -> Option<f64> {
        let mb = report.accepted_payload_bytes as f64 / 1e6;
        self.cpu_secs.filter(|_| mb > 0.0).map(|secs| secs * 1000.0 / mb)
    }

    fn print(&self, report: &Report) {
        println!("runner peak RSS  {:.0} MiB", self.peak_rss_mib);
        if let (Some(ms), Some(secs)) = (self.cpu_ms_per_mb(report), self.cpu_secs) {
            println!(
                "runner CPU       {ms:.1} ms per MB accepted ({:.2} cores busy)",
                secs / report.elapsed_secs.max(f64::MIN_POSITIVE)
            );
        }
    }
}

impl RunnerSampler {
    fn start(pid: u32) -> RunnerSampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
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
        RunnerSampler { pid, cpu_start: cpu_secs(pid), peak_kib, stop, thread: Some(thread) }
    }

    fn finish(mut self) -> Usage {
        let cpu_end = cpu_secs(self.pid);
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        Usage {
            peak_rss_mib: self.peak_kib.load(Ordering::SeqCst) as f64 / 1024.0,
            cpu_secs: cpu_end.zip(self.cpu_start).map(|(end, start)| end - start),
        }
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a process has used so far, user plus system, in seconds (`/proc/PID/stat` fields 14 and 15).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the fields after it start with the state.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks as f64 / hz as f64)
}

pub(crate) fn run(args: BenchArgs) -> Result<(), String> {
    if args.pii == Pii::Compare {
        return compare(&args);
    }
    let (max, half, use_max, use_half) = with_runner(&args, args.pii == Pii::On, |addr, pid| phases(&args, addr, pid))?;
    if args.json {
        let out = serde_json::json!({
            "pii": args.pii == Pii::On, "max": max, "half_rate": half,
            "runner_peak_rss_mib": {"max": use_max.peak_rss_mib, "half_rate": use_half.peak_rss_mib},
            "runner_cpu_ms_per_mb": {"max": use_max.cpu_ms_per_mb(&max), "half_rate": use_half.cpu_ms_per_mb(&half)},
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!(
        "\n== phase 1: maximum throughput, {} connections, {:?} bodies, PII tokenization {:?}",
        args.traffic.concurrency, args.traffic.compression, args.pii
    );
    max.print();
    use_max.print(&max);
    println!("\n== phase 2: half that rate ({:.0} batches/s)", half.target_rate.unwrap_or(0.0));
    half.print();
    use_half.print(&half);
    println!("\n| machine | compression | PII | accepted MB/s (max) | events/s (max) | p99 ack at max | p99 ack at half rate | runner peak RSS |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:?} | {:?} | {:.1} | {:.0} | {:.1} ms | {:.2} ms | {:.0} MiB |",
        machine(),
        args.traffic.compression,
        args.pii,
        max.accepted_mb_per_sec,
        max.events_per_sec,
        max.latency_ms_p99,
        half.latency_ms_p99,
        use_max.peak_rss_mib.max(use_half.peak_rss_mib)
    );
    Ok(())
}

/// Phase 1 on a runner with tokenization on, then on a fresh one with it off.
fn compare(args: &BenchArgs) -> Result<(), String> {
    let max = |pii: bool| {
        with_runner(args, pii, |addr, pid| {
            let sampler = RunnerSampler::start(pid);
            let report = loadgen::run(&args.traffic.options(url(addr)?, KEY.into(), None, args.duration))?;
            Ok((report, sampler.finish()))
        })
    };
    let (on, use_on) = max(true)?;
    let (off, use_off) = max(false)?;
    let kept = on.accepted_mb_per_sec / off.accepted_mb_per_sec.max(f64::MIN_POSITIVE);
    if args.json {
        let out = serde_json::json!({
            "pii_on": on, "pii_off": off, "kept": kept,
            "runner_peak_rss_mib": {"pii_on": use_on.peak_rss_mib, "pii_off": use_off.peak_rss_mib},
            "runner_cpu_ms_per_mb": {"pii_on": use_on.cpu_ms_per_mb(&on), "pii_off": use_off.cpu_ms_per_mb(&off)},
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!("\n== maximum throughput with PII tokenization on");
    on.print();
    use_on.print(&on);
    println!("\n== maximum throughput with PII tokenization off");
    off.print();
    use_off.print(&off);
    let cpu = |usage: &Usage, report: &Report| usage.cpu_ms_per_mb(report).map_or("?".into(), |ms| format!("{ms:.1}"));
    println!(
        "\n| machine | compression | accepted MB/s, PII on | accepted MB/s, PII off | kept with PII on | runner CPU ms/MB, on | off |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:?} | {:.1} | {:.1} | {:.1} % | {} | {} |",
        machine(),
        args.traffic.compression,
        on.accepted_mb_per_sec,
        off.accepted_mb_per_sec,
        kept * 100.0,
        cpu(&use_on, &on),
        cpu(&use_off, &off),
    );
    Ok(())
}

/// Starts a runner on a fresh temp data dir (tokenization on or off), runs `body` with its address and pid,
/// then stops it and removes the dir.
fn with_runner<T>(args: &BenchArgs, pii: bool, body: impl FnOnce(&str, u32) -> Result<T, String>) -> Result<T, String> {
    let runner = sibling_binary("traceflow-runner")?;
    let temp = tempfile::Builder::new().prefix("traceflow-bench-").tempdir().map_err(|e| e.to_string())?;
    let dir = temp.path();
    let config = dir.join("runner.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nproject_keys = [\"{KEY}\"]\n{}\n[log]\nlevel = \"warn\"\n{}\n",
        dir.join("data").display().to_string(),
        args.runner_config.replace("\\n", "\n"),
        if pii { "" } else { PII_OFF },
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let started = crate::drain::spawn_listening(&runner, &["run", "--config", &config.display().to_string()]);
    let result = started.and_then(|(child, addr)| {
        let result = body(&addr, child.0.id());
        child.terminate();
        result
    });
    drop(temp);
    result
}

fn url(addr: &str) -> Result<String, String> {
    if addr.is_empty() {
        return Err("the runner did not report its address".into());
    }
    Ok(format!("http://{addr}/v1/batch"))
}

fn phases(args: &BenchArgs, addr: &str, pid: u32) -> Result<(Report, Report, Usage, Usage), String> {
    let url = url(addr)?;
    let sampler = RunnerSampler::start(pid);
    let before = ServerTail::read(addr)?;
    let max = loadgen::run(&args.traffic.options(url.clone(), KEY.into(), None, args.duration))?;
    let use_max = sampler.finish();
    let between = ServerTail::read(addr)?;
    if max.batches_per_sec <= 0.0 {
        return Err(format!("nothing was accepted: {:?}", max.by_status));
    }
    let sampler = RunnerSampler::start(pid);
    let half = loadgen::run(&args.traffic.options(url, KEY.into(), Some(max.batches_per_sec / 2.0), args.duration))?;
    let after = ServerTail::read(addr)?;
    if !args.json {
        eprintln!("server side, phase 1: {}", between.since(&before));
        eprintln!("server side, phase 2: {}", after.since(&between));
    }
    Ok((max, half, use_max, sampler.finish()))
}

/// The runner's own view of its tail, from its histograms: requests slower than 16 ms from head to answer,
/// and group commits whose flush (the fsync) took longer than 6.4 ms, with the slowest flush's bucket. Read
/// before and after a phase, so a latency tail can be told apart into the runner's request handling, the disk,
/// and the time outside the runner (generator, kernel, scheduling).
struct ServerTail {
    requests: f64,
    fast_requests: f64,
    /// Cumulative flush histogram: (upper bound in seconds, count), in bucket order, `+Inf` last.
    flushes: Vec<(f64, f64)>,
}

impl ServerTail {
    fn read(addr: &str) -> Result<ServerTail, String> {
        let text = crate::drain::metrics_text(addr)?;
        let metric = |name: &str| crate::drain::sum_of(&text, name);
        let mut flushes: Vec<(f64, f64)> = (0..16)
            .map(|i| 0.0001 * f64::from(1u32 << i))
            .map(|le| {
                (le, metric(&format!("traceflow_runner_buffer_flush_seconds_bucket{{le=\"{}\"}}", trim_float(le))))
            })
            .collect();
        flushes.push((f64::INFINITY, metric("traceflow_runner_buffer_flush_seconds_count")));
        Ok(ServerTail {
            requests: metric("traceflow_runner_ingest_request_seconds_count"),
            fast_requests: metric("traceflow_runner_ingest_request_seconds_bucket{le=\"0.016\"}"),
            flushes,
        })
    }

    fn since(&self, before: &ServerTail) -> String {
        let requests = self.requests - before.requests;
        let in_phase: Vec<(f64, f64)> =
            self.flushes.iter().zip(&before.flushes).map(|(&(le, after), &(_, was))| (le, after - was)).collect();
        let total = in_phase.last().map_or(0.0, |&(_, n)| n);
        let over = |limit: f64| total - in_phase.iter().find(|&&(le, _)| le >= limit).map_or(total, |&(_, n)| n);
        let slowest = in_phase.iter().find(|&&(_, n)| n >= total).map_or(f64::INFINITY, |&(le, _)| le);
        format!(
            "{:.0} of {requests:.0} requests took over 16 ms in the runner; {:.0} of {total:.0} flushes took over 6.4 ms, the slowest at most {:.1} ms",
            requests - (self.fast_requests - before.fast_requests),
            over(0.0064 - 1e-9),
            slowest * 1000.0,
        )
    }
}

/// A bucket bound as the Prometheus client prints it (`0.0001`, `0.0256`, `3.2768`).
fn trim_float(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "2 cores, AMD EPYC …", for the result tables.
fn machine() -> String {
    format!("{} cores, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model())
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
