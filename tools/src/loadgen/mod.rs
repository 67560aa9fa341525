//! `traceflow-bench loadgen`: drives a runner with realistic SDK traffic and reports what it accepted.
//!
//! Sessions (a full rrweb snapshot of a form-heavy page, then incremental and analytics batches) are generated
//! and, when asked, compressed before the clock starts. During the run each request only copies a prepared body
//! and patches its fixed-width `session_id` and `seq` in place, so every request is a distinct batch that the
//! runner must store, and the generator's own cost stays out of the figures. Latency is measured per request;
//! with `--rate` it is measured from the moment the request was due, so a stalled server cannot hide its
//! queueing delay (coordinated omission).

pub(crate) mod payload;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use payload::BatchKind;

/// Width of the session id written into every body; ids are padded to it so patching never shifts bytes.
const SESSION_ID_WIDTH: usize = 32;
/// Width of the `seq` field; JSON allows the leading spaces that pad it.
const SEQ_WIDTH: usize = 20;
const PLACEHOLDER_SESSION: &str = "LGSESSIONPLACEHOLDERxxxxxxxxxxxx";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Full ingest URL, e.g. `http://127.0.0.1:7480/v1/batch`.
    pub url: String,
    pub key: String,
    pub concurrency: usize,
    /// Batches per second over all connections; unlimited when `None`.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub compression: Compression,
    /// Distinct prepared sessions; requests cycle through them with fresh ids.
    pub sessions: usize,
    /// Batches per prepared session after its full snapshot.
    pub batches_per_session: usize,
    /// With compression: bodies compressed in advance (the run stops early if they run out).
    pub pool: usize,
    pub seed: u64,
    /// Generator threads (tokio workers).
    pub threads: usize,
}

/// One prepared request body with the byte offsets to patch.
struct Prepared {
    body: Vec<u8>,
    session_at: Vec<usize>,
    seq_at: usize,
    events: usize,
}

/// A prepared body ready to send: bytes, uncompressed payload size, events.
type Ready = (Bytes, usize, usize);

/// Ready-to-send traffic: session templates patched per request, or bodies compressed in advance.
enum Traffic {
    /// `sessions[s][seq]`.
    Templates(Vec<Vec<Prepared>>),
    Compressed(Vec<Ready>),
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    pub compression: Option<Compression>,
    pub concurrency: usize,
    pub target_rate: Option<f64>,
    pub elapsed_secs: f64,
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub accepted_batches: u64,
    pub accepted_payload_bytes: u64,
    pub accepted_events: u64,
    pub accepted_mb_per_sec: f64,
    pub events_per_sec: f64,
    pub batches_per_sec: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_p999: f64,
    pub latency_ms_max: f64,
    /// With --rate: p99 of how late requests left the generator; large values mean the generator, not the
    /// runner, limited the run.
    pub send_lag_ms_p99: f64,
    pub stopped_early: bool,
}

impl Report {
    pub(crate) fn print(&self) {
        let statuses: Vec<String> = self.by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        println!("requests         {} in {:.1} s ({})", self.requests, self.elapsed_secs, statuses.join(", "));
        println!(
            "accepted         {:.1} MB/s uncompressed payload, {:.0} events/s, {:.0} batches/s",
            self.accepted_mb_per_sec, self.events_per_sec, self.batches_per_sec
        );
        println!(
            "ack latency      p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.latency_ms_p50, self.latency_ms_p99, self.latency_ms_p999, self.latency_ms_max
        );
        if self.target_rate.is_some() {
            println!("generator lag    p99 {:.2} ms (how late paced requests were sent)", self.send_lag_ms_p99);
        }
        if self.stopped_early {
            println!("note             the prepared pool ran out before the duration (raise --pool)");
        }
    }
}

/// Builds the traffic, then runs it and returns the figures.
pub(crate) fn run(options: &Options) -> Result<Report, String> {
    let started = Instant::now();
    let traffic = prepare(options);
    eprintln!("prepared traffic in {:.1} s", started.elapsed().as_secs_f64());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(drive(options, traffic))
}

/// Writes one round of the prepared traffic to `dir`, one uncompressed batch per file (`SSS-BBB.json`, session
/// and batch), as the runner would receive it; returns the number of files.
pub(crate) fn dump(options: &Options, dir: &std::path::Path) -> Result<usize, String> {
    let plain = Options { compression: Compression::None, ..options.clone() };
    let Traffic::Templates(sessions) = prepare(&plain) else { unreachable!("uncompressed traffic is templates") };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ids = Ids::new(0);
    let mut files = 0;
    for (s, batches) in sessions.iter().enumerate() {
        for (seq, prepared) in batches.iter().enumerate() {
            let path = dir.join(format!("{s:03}-{seq:03}.json"));
            std::fs::write(&path, ids.fill(prepared, 0, s, seq)).map_err(|e| format!("{}: {e}", path.display()))?;
            files += 1;
        }
    }
    Ok(files)
}

fn prepare(options: &Options) -> Traffic {
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let sessions: Vec<Vec<Prepared>> = (0..options.sessions.max(1))
        .map(|s| {
            let visitor = format!("visitor-{s}");
            // Every eighth session is a backend SDK sending analytics only; the others record a page.
            let backend = s % 8 == 7;
            let mut page = None;
            (0..=options.batches_per_session as u64)
                .map(|seq| {
                    let ts = now + seq * 5_000;
                    let kind = match (backend, seq) {
                        (true, _) => BatchKind::Analytics,
                        (false, 0) => BatchKind::FullSnapshot,
                        (false, _) => BatchKind::Incremental,
                    };
                    let value = match (kind, page.as_mut()) {
                        (BatchKind::Incremental, Some(page)) => {
                            payload::incremental_batch(&mut rng, page, PLACEHOLDER_SESSION, &visitor, 0, ts)
                        }
                        (BatchKind::FullSnapshot, _) | (BatchKind::Incremental, None) => {
                            let (value, first) =
                                payload::full_snapshot_batch(&mut rng, PLACEHOLDER_SESSION, &visitor, 0, ts);
                            page = Some(first);
                            value
                        }
                        (BatchKind::Analytics, _) => {
                            payload::analytics_batch(&mut rng, PLACEHOLDER_SESSION, &visitor, 0, ts)
                        }
                    };
                    template(&value)
                })
                .collect()
        })
        .collect();
    if options.compression == Compression::None {
        return Traffic::Templates(sessions);
    }
    let mut order = Order::new(&sessions, 0, 1);
    let ids = Ids::new(0);
    let pool = (0..options.pool)
        .map(|_| {
            let (prepared, round, s, seq) = order.next(&sessions);
            let body = ids.fill(prepared, round, s, seq);
            let compressed = match options.compression {
                Compression::Gzip => {
                    use std::io::Write;
                    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    let _ = encoder.write_all(&body);
                    encoder.finish().unwrap_or_default()
                }
                _ => zstd::bulk::compress(&body, 3).unwrap_or_default(),
            };
            (Bytes::from(compressed), body.len(), prepared.events)
        })
        .collect();
    Traffic::Compressed(pool)
}

fn template(value: &serde_json::Value) -> Prepared {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    let needle = b"\"seq\":0";
    let seq_at = find(&body, needle).map_or(0, |i| i + needle.len() - 1);
    // Widen `"seq":0` into a fixed-width, space-padded field.
    body.splice(seq_at..seq_at + 1, std::iter::repeat_n(b' ', SEQ_WIDTH));
    let session_at = find_all(&body, PLACEHOLDER_SESSION.as_bytes());
    let events = value["events"].as_array().map_or(0, Vec::len) + value["replay"].as_array().map_or(0, Vec::len);
    Prepared { body, session_at, seq_at, events }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

/// Walks the prepared sessions batch by batch, as SDKs send them, starting at a worker's own session and
/// starting a new round (new session ids) after the last one.
///
/// Workers join their first session at staggered points, as a runner serving many independent users finds
/// their sessions at every stage. Were they all to start at the full snapshot, every worker would send its
/// snapshot in the same instant once per session: with 64 connections, about 10 MB at once every couple of
/// seconds, a burst no population of real users produces.
struct Order {
    round: usize,
    session: usize,
    seq: usize,
}

impl Order {
    /// Worker `worker` of `workers` starts `worker / workers` of the way into its first session.
    fn new(sessions: &[Vec<Prepared>], worker: usize, workers: usize) -> Order {
        let session = worker % sessions.len().max(1);
        let len = sessions.get(session).map_or(1, Vec::len).max(1);
        Order { round: 0, session, seq: worker * len / workers.max(1) % len }
    }

    fn next<'a>(&mut self, sessions: &'a [Vec<Prepared>]) -> (&'a Prepared, usize, usize, usize) {
        let current = (&sessions[self.session][self.seq], self.round, self.session, self.seq);
        self.seq += 1;
        if self.seq == sessions[self.session].len() {
            self.seq = 0;
            self.session = (self.session + 1) % sessions.len();
            if self.session == 0 {
                self.round += 1;
            }
        }
        current
    }
}

/// Fresh, fixed-width session ids: a per-run nonce, the worker, the prepared session and the round.
struct Ids {
    prefix: String,
}

impl Ids {
    fn new(worker: usize) -> Ids {
        // The nonce keeps ids of two runs against the same runner apart, so retries-dedup never kicks in.
        let nonce: String = (0..6).map(|_| fastrand::alphanumeric()).collect();
        Ids { prefix: format!("lg-{nonce}-{worker:03}") }
    }

    fn fill(&self, prepared: &Prepared, round: usize, session: usize, seq: usize) -> Vec<u8> {
        let mut body = prepared.body.clone();
        let id =
            format!("{}-{session:04}-{round:0width$}", self.prefix, width = SESSION_ID_WIDTH - self.prefix.len() - 6);
        for &at in &prepared.session_at {
            body[at..at + SESSION_ID_WIDTH].copy_from_slice(&id.as_bytes()[..SESSION_ID_WIDTH]);
        }
        let seq = format!("{seq:>SEQ_WIDTH$}");
        body[prepared.seq_at..prepared.seq_at + SEQ_WIDTH].copy_from_slice(seq.as_bytes());
        body
    }
}

#[derive(Default)]
struct WorkerStats {
    by_status: BTreeMap<String, u64>,
    latencies_us: Vec<u32>,
    lags_us: Vec<u32>,
    accepted_batches: u64,
    accepted_payload_bytes: u64,
    accepted_events: u64,
    ran_out: bool,
}

struct Target {
    addr: String,
    /// Request line and fixed headers, up to (not including) `content-length`.
    head: String,
}

async fn drive(options: &Options, traffic: Traffic) -> Result<Report, String> {
    let (host, port, path) = parse_url(&options.url)?;
    let encoding = match options.compression {
        Compression::None => "",
        Compression::Gzip => "content-encoding: gzip\r\n",
        Compression::Zstd => "content-encoding: zstd\r\n",
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n{encoding}",
        options.key
    );
    let target = std::sync::Arc::new(Target { addr: format!("{host}:{port}"), head });
    let traffic = std::sync::Arc::new(traffic);
    let next_pooled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + options.duration;
    let workers: Vec<_> = (0..options.concurrency.max(1))
        .map(|worker| {
            let (target, traffic, next_pooled, options) =
                (target.clone(), traffic.clone(), next_pooled.clone(), options.clone());
            tokio::spawn(
                async move { work(worker, &options, &target, &traffic, &next_pooled, started, deadline).await },
            )
        })
        .collect();
    let mut total = WorkerStats::default();
    for worker in workers {
        let stats = worker.await.map_err(|e| e.to_string())??;
        for (status, n) in stats.by_status {
            *total.by_status.entry(status).or_default() += n;
        }
        total.latencies_us.extend(stats.latencies_us);
        total.lags_us.extend(stats.lags_us);
        total.accepted_batches += stats.accepted_batches;
        total.accepted_payload_bytes += stats.accepted_payload_bytes;
        total.accepted_events += stats.accepted_events;
        total.ran_out |= stats.ran_out;
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    total.lags_us.sort_unstable();
    let percentile_of = |lat: &[u32], p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let index = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[index]) / 1000.0
    };
    let percentile = |p: f64| percentile_of(&total.latencies_us, p);
    Ok(Report {
        compression: Some(options.compression),
        concurrency: options.concurrency,
        target_rate: options.rate,
        elapsed_secs: elapsed,
        requests: total.by_status.values().sum(),
        accepted_batches: total.accepted_batches,
        accepted_payload_bytes: total.accepted_payload_bytes,
        accepted_events: total.accepted_events,
        accepted_mb_per_sec: total.accepted_payload_bytes as f64 / 1e6 / elapsed,
        events_per_sec: total.accepted_events as f64 / elapsed,
        batches_per_sec: total.accepted_batches as f64 / elapsed,
        latency_ms_p50: percentile(0.50),
        latency_ms_p99: percentile(0.99),
        latency_ms_p999: percentile(0.999),
        latency_ms_max: percentile(1.0),
        send_lag_ms_p99: percentile_of(&total.lags_us, 0.99),
        stopped_early: total.ran_out,
        by_status: total.by_status,
    })
}

async fn work(
    worker: usize,
    options: &Options,
    target: &Target,
    traffic: &Traffic,
    next_pooled: &std::sync::atomic::AtomicUsize,
    started: Instant,
    deadline: Instant,
) -> Result<WorkerStats, String> {
    let mut stats = WorkerStats::default();
    let ids = Ids::new(worker);
    let mut order = match traffic {
        Traffic::Templates(sessions) => Some(Order::new(sessions, worker, options.concurrency)),
        Traffic::Compressed(_) => None,
    };
    // Paced workers start spread over one interval so requests do not arrive in bursts.
    let interval = options.rate.map(|rate| Duration::from_secs_f64(options.concurrency as f64 / rate));
    let mut due = started + interval.map_or(Duration::ZERO, |i| i.mul_f64(worker as f64 / options.concurrency as f64));
    let mut connection: Option<Connection> = None;
    while Instant::now() < deadline {
        if interval.is_some() {
            tokio::time::sleep_until(due.into()).await;
            if Instant::now() >= deadline {
                break;
            }
        }
        let (body, payload_bytes, events): Ready = match (traffic, order.as_mut()) {
            (Traffic::Templates(sessions), Some(order)) => {
                let (prepared, round, session, seq) = order.next(sessions);
                let body = ids.fill(prepared, round, session, seq);
                let len = body.len();
                (Bytes::from(body), len, prepared.events)
            }
            (Traffic::Compressed(pool), _) => {
                let i = next_pooled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match pool.get(i) {
                    Some(ready) => ready.clone(),
                    None => {
                        stats.ran_out = true;
                        break;
                    }
                }
            }
            (Traffic::Templates(_), None) => break,
        };
        if connection.is_none() {
            connection = Connection::open(&target.addr).await.ok();
        }
        let Some(active) = connection.as_mut() else {
            *stats.by_status.entry("connect_error".into()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let head = format!("{}content-length: {}\r\n\r\n", target.head, body.len());
        let sent_at = if interval.is_some() { due } else { Instant::now() };
        if interval.is_some() {
            stats.lags_us.push(due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        }
        match active.exchange(head.as_bytes(), &body).await {
            Ok((status, keep_alive)) => {
                let latency = sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                *stats.by_status.entry(status.to_string()).or_default() += 1;
                if status == 202 {
                    stats.latencies_us.push(latency);
                    stats.accepted_batches += 1;
                    stats.accepted_payload_bytes += payload_bytes as u64;
                    stats.accepted_events += events as u64;
                } else if status == 429 || status == 503 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if !keep_alive {
                    connection = None;
                }
            }
            Err(_) => {
                *stats.by_status.entry("io_error".into()).or_default() += 1;
                connection = None;
            }
        }
        if let Some(interval) = interval {
            due += interval;
        }
    }
    Ok(stats)
}

/// Splits `http://host[:port][/path]` into its parts.
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or("--url must be http://host:port/v1/batch")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/v1/batch".to_string()), |(a, p)| (a, format!("/{p}")));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().map_err(|_| format!("bad port in --url: {port}"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err("--url has no host".into());
    }
    Ok((host.to_string(), port, path))
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time: the head and body go out in one
/// buffered write, and the answer is read by its `content-length`.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: Vec::with_capacity(4096) })
    }

    /// Sends a request, returns the answer's status and whether the connection stays open.
    async fn exchange(&mut self, head: &[u8], body: &[u8]) -> std::io::Result<(u16, bool)> {
        let mut out = Vec::with_capacity(head.len() + body.len());
        out.extend_from_slice(head);
        out.extend_from_slice(body);
        self.stream.write_all(&out).await?;
        self.buffer.clear();
        let header_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if self.read_more().await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..header_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
        let header = |name: &str| {
            head.lines().find_map(|line| line.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_string()))
        };
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while self.buffer.len() < header_end + length {
            if self.read_more().await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok((status, header("connection").is_none_or(|v| v != "close")))
    }

    async fn read_more(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ingest_urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:7480/v1/batch").unwrap(),
            ("127.0.0.1".into(), 7480, "/v1/batch".into())
        );
        assert_eq!(parse_url("http://localhost").unwrap(), ("localhost".into(), 80, "/v1/batch".into()));
        assert!(parse_url("https://x/v1/batch").is_err());
        assert!(parse_url("http://x:notaport/").is_err());
    }

    /// Uncompressed traffic of `sessions` sessions of `batches` batches after the first, for one connection.
    fn traffic(sessions: usize, batches: usize, seed: u64) -> Options {
        Options {
            url: String::new(),
            key: String::new(),
            concurrency: 1,
            rate: None,
            duration: Duration::ZERO,
            compression: Compression::None,
            sessions,
            batches_per_session: batches,
            pool: 0,
            seed,
            threads: 1,
        }
    }

    #[test]
    fn dumped_traffic_is_one_valid_batch_per_file() {
        // Removed however the test ends.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("dump");
        let options = Options { compression: Compression::Zstd, ..traffic(3, 2, 5) };
        let files = dump(&options, &dir).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(files, 9, "three sessions of a first batch and two more");
        assert_eq!(names.len(), 9);
        assert_eq!(names[0], "000-000.json");
        for name in &names {
            let body = std::fs::read(dir.join(name)).unwrap();
            let summary = traceflow_protocol::batch::validate(&body, &traceflow_protocol::Limits::default());
            assert!(summary.is_ok(), "{name} is an uncompressed, valid batch: {summary:?}");
        }
    }

    #[test]
    fn patched_bodies_are_distinct_valid_batches() {
        let options = traffic(2, 3, 7);
        let Traffic::Templates(sessions) = prepare(&options) else { panic!("templates expected") };
        let mut order = Order::new(&sessions, 0, 1);
        let ids = Ids::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let (prepared, round, session, seq) = order.next(&sessions);
            let body = ids.fill(prepared, round, session, seq);
            let summary = traceflow_protocol::batch::validate(&body, &traceflow_protocol::Limits::default()).unwrap();
            assert_eq!(summary.seq, seq as u64);
            assert_eq!(summary.session_id.len(), SESSION_ID_WIDTH);
            assert!(seen.insert((summary.session_id, summary.seq)), "each request is a distinct batch");
        }
    }

    #[test]
    fn workers_join_their_sessions_at_staggered_points() {
        let options = Options { concurrency: 64, ..traffic(8, 30, 7) };
        let Traffic::Templates(sessions) = prepare(&options) else { panic!("templates expected") };
        let starts: Vec<usize> = (0..64).map(|w| Order::new(&sessions, w, 64).seq).collect();
        let snapshots = starts.iter().filter(|&&seq| seq == 0).count();
        assert!(snapshots <= 3, "{snapshots} of 64 workers open with a full snapshot: {starts:?}");
        let distinct: std::collections::HashSet<_> = starts.iter().collect();
        assert_eq!(distinct.len(), 31, "every point of a 31-batch session is someone's start: {starts:?}");
        // Each worker still walks on into the following sessions from their snapshot.
        let mut order = Order::new(&sessions, 63, 64);
        let first = order.next(&sessions);
        let skipped = 31 - first.3;
        let after = (0..skipped).map(|_| order.next(&sessions)).last().unwrap();
        assert_eq!((after.2, after.3), ((first.2 + 1) % 8, 0));
    }
}
