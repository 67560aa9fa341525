//! PII scan throughput: `cargo bench -p traceflow-pii --bench pii_scan`.
//!
//! Builds one rrweb-style batch (form-heavy full snapshot with CSS and script text, incremental mouse, scroll,
//! input and mutation events, custom and plugin events, analytics events, PII planted at a low rate), then
//! measures `Engine::scrub_json` single-threaded: the whole default engine, the JSON walk alone (no entity),
//! and each built-in entity alone. Each row runs for `PII_BENCH_SECONDS` (default 3) after a warm-up.
//! Targets: whole scan ≥ 250 MB/s per core, no single entity below 100 MB/s.
//!
//! `PII_BENCH_DIR=DIR` instead scans every `*.json` batch in `DIR` in turn (the default engine, then the walk
//! alone): your own traffic, or the load generator's, written by `traceflow-bench loadgen --dump DIR`.
//!
//! `PII_BENCH_EVICT=1` compresses each batch with zstd (level 3) and parses it with serde_json before it is
//! scrubbed, untimed, as the runner's validation and compression do around its scrub: the scrub then starts
//! with the caches as it finds them in the runner, not warm from the previous run (the wall-clock column then
//! counts that work too).
//!
//! `PII_BENCH_RUNS=N` runs each row exactly N times instead, for a count of instructions that does not drift
//! with the machine: `PII_BENCH_RUNS=20 valgrind --tool=cachegrind --cache-sim=no <bench binary> --bench "all
//! entities"` (the row's instructions, less a run of the same command with `PII_BENCH_RUNS=0`, over 20 runs).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use traceflow_pii::{token_text, Engine, Entity, PiiConfig, ScrubStats, TokenKey, Tokens};

/// Convergent HMAC tokens, as the runner's vault computes them (without the vault's storage).
struct HmacTokens(TokenKey);

impl Tokens for HmacTokens {
    fn tokenize(&mut self, entity: &str, original: &str) -> String {
        token_text(&self.0, "tok", entity, original)
    }

    fn hash(&mut self, entity: &str, original: &str) -> String {
        token_text(&self.0, "hash", entity, original)
    }
}

/// CPU time of this thread: the figure that counts is MB/s per core, and the machine may be shared.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `PII_BENCH_RUNS=N`: each row scrubs its batch (or every batch of `PII_BENCH_DIR`) exactly N times after the
/// warm-up instead of for a time budget, so that an instruction count (`valgrind --tool=cachegrind`) is the same
/// from one run to the next: on a VM whose speed drifts, it shows changes of a few percent that timing cannot.
fn fixed_runs() -> Option<u64> {
    std::env::var("PII_BENCH_RUNS").ok().and_then(|n| n.parse().ok())
}

/// Scrubs batches, timing the scrub alone; with `PII_BENCH_EVICT`, compresses and parses each batch first.
struct Scrubber<'e> {
    engine: &'e Engine,
    tokens: HmacTokens,
    out: Vec<u8>,
    evict: Option<zstd::bulk::Compressor<'static>>,
}

impl<'e> Scrubber<'e> {
    fn new(engine: &'e Engine) -> Scrubber<'e> {
        let evict = std::env::var_os("PII_BENCH_EVICT")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| zstd::bulk::Compressor::new(3).expect("zstd level 3"));
        Scrubber { engine, tokens: HmacTokens(TokenKey::new(&[7; 32])), out: Vec::new(), evict }
    }

    /// Scrubs `batch`; returns the stats and the CPU time of the scrub.
    fn scrub(&mut self, batch: &[u8]) -> (ScrubStats, Duration) {
        if let Some(zstd) = &mut self.evict {
            std::hint::black_box(zstd.compress(batch).expect("compressible"));
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(batch).expect("valid JSON"));
        }
        self.out.clear();
        let start = thread_cpu();
        let stats = self.engine.scrub_json(batch, &mut self.tokens, &mut self.out).expect("the batch is valid JSON");
        (stats, thread_cpu() - start)
    }
}

/// Runs the scrub for `budget` of CPU time (or `PII_BENCH_RUNS` times); returns MB/s per CPU second, MB/s per
/// wall second and the stats.
fn measure(engine: &Engine, batch: &[u8], budget: Duration) -> (f64, f64, ScrubStats) {
    let mut scrubber = Scrubber::new(engine);
    let mut stats = ScrubStats::default();
    for _ in 0..3 {
        stats = scrubber.scrub(batch).0;
    }
    let start = Instant::now();
    let mut spent = Duration::ZERO;
    let mut runs = 0u64;
    while fixed_runs().map_or(spent < budget, |n| runs < n) {
        spent += scrubber.scrub(batch).1;
        runs += 1;
    }
    let mb = (batch.len() as f64 * runs as f64) / 1e6;
    (mb / spent.as_secs_f64(), mb / start.elapsed().as_secs_f64(), stats)
}

/// Scrubs every batch in `batches` in turn for `budget` of CPU time; MB/s per CPU second and the stats of one pass.
fn measure_all(engine: &Engine, batches: &[Vec<u8>], budget: Duration) -> (f64, ScrubStats) {
    let mut scrubber = Scrubber::new(engine);
    let mut stats = ScrubStats::default();
    for batch in batches {
        stats.add(&scrubber.scrub(batch).0);
    }
    let mut spent = Duration::ZERO;
    let mut bytes = 0u64;
    let mut runs = 0u64;
    while fixed_runs().map_or(spent < budget, |n| runs < n) {
        runs += 1;
        for batch in batches {
            spent += scrubber.scrub(batch).1;
            bytes += batch.len() as u64;
        }
    }
    (bytes as f64 / 1e6 / spent.as_secs_f64(), stats)
}

/// `PII_BENCH_DIR=dir`: the default engine and the walk alone over every `*.json` batch in `dir` (your own
/// traffic, or the load generator's).
fn scan_dir(dir: &str, budget: Duration, filter: Option<&str>) {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("PII_BENCH_DIR is a readable directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let batches: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("readable batch")).collect();
    let total: usize = batches.iter().map(Vec::len).sum();
    println!("{} batches, {total} bytes from {dir}", batches.len());
    let config = PiiConfig::default();
    let mut rows = vec![
        ("all entities (default)".to_string(), Engine::default()),
        ("JSON walk only (none)".to_string(), Engine::for_entities(&config, &[]).expect("valid")),
    ];
    for entity in Entity::BUILTIN {
        let name = entity.builtin_name().unwrap_or("custom");
        rows.push((format!("{name} only"), Engine::for_entities(&config, &[entity]).expect("valid")));
    }
    for (name, engine) in rows {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let (mbps, stats) = measure_all(&engine, &batches, budget);
        println!("{name:<28} {mbps:>12.1} {:>10} {:>10}", stats.strings_scanned, stats.total_replaced());
    }
}

fn main() {
    // `cargo bench … -- phone` runs only the rows whose name contains "phone".
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let seconds: f64 = std::env::var("PII_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    if let Ok(dir) = std::env::var("PII_BENCH_DIR") {
        return scan_dir(&dir, Duration::from_secs_f64(seconds), filter.as_deref());
    }
    let budget = Duration::from_secs_f64(seconds);
    let mut builder = support::BatchBuilder::new(42, 40);
    let batch = builder.batch(200_000, 400, 60);
    if let Ok(path) = std::env::var("PII_BENCH_DUMP") {
        std::fs::write(&path, &batch).expect("writable dump path");
    }
    println!(
        "batch: {} bytes (rrweb snapshot ~200 KB DOM with CSS and script, 400 incremental events, 60 analytics \
         events), {} planted PII values",
        batch.len(),
        builder.planted.len()
    );
    println!("{:<28} {:>12} {:>12} {:>10} {:>10}", "engine", "MB/s (cpu)", "MB/s (wall)", "strings", "replaced");
    let config = PiiConfig::default();
    let mut rows: Vec<(String, Engine)> = vec![
        ("all entities (default)".into(), Engine::default()),
        ("JSON walk only (none)".into(), Engine::for_entities(&config, &[]).expect("valid")),
    ];
    for entity in Entity::BUILTIN {
        let name = entity.builtin_name().unwrap_or("custom");
        rows.push((format!("{name} only"), Engine::for_entities(&config, &[entity]).expect("valid")));
    }
    let later = builder.incremental_batch(3000, 2000, 100);
    let name = "all, batch w/o snapshot";
    if filter.as_ref().is_none_or(|f| name.contains(f.as_str())) {
        let (mbps, wall, stats) = measure(&Engine::default(), &later, budget);
        println!(
            "{name:<28} {mbps:>12.1} {wall:>12.1} {:>10} {:>10}   ({} bytes: 2000 incremental events, 100 analytics)",
            stats.strings_scanned,
            stats.total_replaced(),
            later.len()
        );
    }
    let network = builder.network_batch(600);
    let name = "all, network plugin batch";
    if filter.as_ref().is_none_or(|f| name.contains(f.as_str())) {
        let (mbps, wall, stats) = measure(&Engine::default(), &network, budget);
        println!(
            "{name:<28} {mbps:>12.1} {wall:>12.1} {:>10} {:>10}   ({} bytes: 600 rrweb/network@1 requests with JSON \
             bodies in strings, 150 rrweb/console@1 calls)",
            stats.strings_scanned,
            stats.total_replaced(),
            network.len()
        );
    }
    let mut slowest_entity: Option<f64> = None;
    let mut whole: Option<f64> = None;
    for (i, (name, engine)) in rows.iter().enumerate() {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (mbps, wall, stats) = measure(engine, &batch, budget);
        println!("{name:<28} {mbps:>12.1} {wall:>12.1} {:>10} {:>10}", stats.strings_scanned, stats.total_replaced());
        match i {
            0 => whole = Some(mbps),
            1 => {}
            _ => slowest_entity = Some(slowest_entity.map_or(mbps, |s: f64| s.min(mbps))),
        }
    }
    if let (Some(whole), Some(slowest)) = (whole, slowest_entity) {
        println!(
            "whole scan {whole:.1} MB/s per core (target >= 250), slowest single entity {slowest:.1} MB/s \
             (target >= 100); figures are per CPU second of the scanning thread"
        );
    }
}
