//! `traceflow-bench upload`: measures the upload path end to end on loopback. It initialises a control plane in
//! a temporary directory, serves it in-process, enrolls a runner with a CSR, then has N connections upload
//! runner-shaped chunks (rrweb-like batches, each compressed on its own with zstd level 1) over mTLS for a fixed
//! time, each chunk new (fresh chunk id, sessions and seqs) so every record is stored and flushed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use traceflow_certs::KeyAndCert;
use traceflow_http::client::{self, Client};
use traceflow_protocol::{Chunk, Codec, Record, RecordMeta};

use traceflow_cp::admin_client::AdminClient;
use traceflow_cp::data_dir::{self, InitOptions};
use traceflow_cp::enroll::EnrollAnswer;
use traceflow_cp::server::{ServeOptions, Server};

/// Distinct batches generated up front; chunks are assembled from them with fresh metadata.
const CORPUS: usize = 256;
/// Batches per session before the generator moves to a new session id.
const BATCHES_PER_SESSION: u64 = 32;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub(crate) struct BenchOptions {
    pub connections: usize,
    pub duration: Duration,
    /// Compressed bytes of records per chunk (the runner's `max_chunk_bytes`).
    pub chunk_bytes: usize,
    /// Where to put the control plane's data; a temporary directory (removed afterwards) when `None`.
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct BenchReport {
    pub connections: usize,
    pub seconds: f64,
    pub chunks: u64,
    pub records: u64,
    /// Uncompressed batch JSON bytes uploaded (and stored).
    pub raw_bytes: u64,
    /// Request body bytes (the encoded chunks).
    pub wire_bytes: u64,
    pub raw_mb_per_s: f64,
    pub wire_mb_per_s: f64,
    pub chunks_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub errors: u64,
}

impl BenchReport {
    pub(crate) fn print(&self) {
        println!("bench-upload: {} connections for {:.1} s over mTLS on loopback", self.connections, self.seconds);
        println!("  chunks        {} ({:.1}/s), {} records", self.chunks, self.chunks_per_s, self.records);
        println!("  uncompressed  {:.1} MB ({:.1} MB/s)", self.raw_bytes as f64 / 1e6, self.raw_mb_per_s);
        println!(
            "  wire          {:.1} MB ({:.1} MB/s), compression {:.1}x",
            self.wire_bytes as f64 / 1e6,
            self.wire_mb_per_s,
            self.raw_bytes as f64 / self.wire_bytes.max(1) as f64
        );
        println!("  latency       p50 {:.1} ms, p99 {:.1} ms", self.latency_p50_ms, self.latency_p99_ms);
        println!("  errors        {}", self.errors);
    }
}

/// One batch of the corpus, compressed.
struct Sample {
    raw_len: u32,
    data: Vec<u8>,
    events: u32,
    replay: u32,
}

#[derive(Default)]
struct Tally {
    chunks: u64,
    records: u64,
    raw_bytes: u64,
    wire_bytes: u64,
    errors: u64,
    latencies_ms: Vec<f64>,
}

/// `traceflow-bench upload`.
#[derive(clap::Args)]
pub(crate) struct UploadArgs {
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

pub(crate) fn main(args: UploadArgs) -> Result<(), String> {
    let options = BenchOptions {
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.seconds.max(1)),
        chunk_bytes: args.chunk_kib.max(1) * 1024,
        data_dir: args.data_dir,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let report = runtime.block_on(run(&options))?;
    crate::print_report(args.json, &report, |report| report.print());
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

pub(crate) async fn run(options: &BenchOptions) -> Result<BenchReport, String> {
    // Removed when `run` returns, unless the data dir is the caller's.
    let temp = tempfile::Builder::new().prefix("traceflow-cp-bench-").tempdir().map_err(|e| e.to_string())?;
    let dir = options.data_dir.clone().unwrap_or_else(|| temp.path().join("cp"));
    let init = data_dir::init(&InitOptions::new(&dir)).map_err(|e| e.to_string())?;
    let server = Server::bind(ServeOptions::new(&dir, ([127, 0, 0, 1], 0).into())).await.map_err(|e| e.to_string())?;
    let url = format!("https://localhost:{}", server.local_addr().map_err(|e| e.to_string())?.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let result = measure(options, &url, &init.admin_token, &init.ca_cert).await;
    let _ = stop.send(());
    let _ = serving.await;
    result
}

async fn measure(options: &BenchOptions, url: &str, admin_token: &str, ca_pem: &str) -> Result<BenchReport, String> {
    let identity = enroll(url, admin_token, ca_pem).await?;
    let config = traceflow_certs::client_config(ca_pem, Some(&identity.0)).map_err(|e| e.to_string())?;
    let runner_id = Arc::new(identity.1);
    let corpus = Arc::new(tokio::task::spawn_blocking(corpus).await.map_err(|e| e.to_string())?);
    let next_chunk = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let deadline = started + options.duration;
    let workers: Vec<_> = (0..options.connections.max(1))
        .map(|worker| {
            let (config, url, corpus, next_chunk, runner_id) =
                (config.clone(), url.to_string(), corpus.clone(), next_chunk.clone(), runner_id.clone());
            let chunk_bytes = options.chunk_bytes;
            tokio::spawn(async move {
                upload_until(worker, deadline, config, &url, &corpus, &next_chunk, &runner_id, chunk_bytes).await
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.map_err(|e| e.to_string())?;
        total.chunks += tally.chunks;
        total.records += tally.records;
        total.raw_bytes += tally.raw_bytes;
        total.wire_bytes += tally.wire_bytes;
        total.errors += tally.errors;
        total.latencies_ms.extend(tally.latencies_ms);
    }
    let seconds = started.elapsed().as_secs_f64();
    total.latencies_ms.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        let n = total.latencies_ms.len();
        if n == 0 {
            0.0
        } else {
            total.latencies_ms[((n as f64 * p) as usize).min(n - 1)]
        }
    };
    Ok(BenchReport {
        connections: options.connections.max(1),
        seconds,
        chunks: total.chunks,
        records: total.records,
        raw_bytes: total.raw_bytes,
        wire_bytes: total.wire_bytes,
        raw_mb_per_s: total.raw_bytes as f64 / 1e6 / seconds,
        wire_mb_per_s: total.wire_bytes as f64 / 1e6 / seconds,
        chunks_per_s: total.chunks as f64 / seconds,
        latency_p50_ms: percentile(0.5),
        latency_p99_ms: percentile(0.99),
        errors: total.errors,
    })
}

/// Enrolls a runner the way a real one does: an enrollment token from the admin API, a local key and CSR.
async fn enroll(url: &str, admin_token: &str, ca_pem: &str) -> Result<(KeyAndCert, String), String> {
    let admin = AdminClient::new(url, admin_token, ca_pem).map_err(|e| e.to_string())?;
    let token = admin.create_enrollment_token("default", 1, 600).await.map_err(|e| e.to_string())?;
    let csr = traceflow_certs::generate_key_and_csr("bench-runner").map_err(|e| e.to_string())?;
    let body = json!({ "token": token["token"], "csr_pem": csr.csr_pem, "hostname": "bench", "version": "bench" });
    let config = traceflow_certs::client_config(ca_pem, None).map_err(|e| e.to_string())?;
    let headers = [("content-type", "application/json")];
    let response = client::request(
        config,
        &format!("{url}/v1/enroll"),
        "POST",
        &headers,
        Bytes::from(body.to_string()),
        REQUEST_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    let answer: EnrollAnswer = serde_json::from_slice(&response.body)
        .map_err(|_| format!("enrollment failed: {}", String::from_utf8_lossy(&response.body)))?;
    Ok((KeyAndCert { key_pem: csr.key_pem, cert_pem: answer.cert_pem }, answer.runner_id))
}

#[allow(clippy::too_many_arguments)]
async fn upload_until(
    worker: usize,
    deadline: Instant,
    config: Arc<rustls::ClientConfig>,
    url: &str,
    corpus: &[Sample],
    next_chunk: &AtomicU64,
    runner_id: &str,
    chunk_bytes: usize,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = fastrand::Rng::with_seed(worker as u64);
    let mut batch_counter = 0u64;
    // One client per worker: it keeps the worker's connection open between uploads.
    let Ok(client) = Client::new(config.clone(), url) else {
        tally.errors += 1;
        return tally;
    };
    while Instant::now() < deadline {
        let mut records = Vec::new();
        let mut size = 0;
        let mut raw = 0u64;
        while size < chunk_bytes {
            let sample = &corpus[rng.usize(..corpus.len())];
            let meta = RecordMeta {
                project: "bench".into(),
                session_id: format!("bench-{worker}-{}", batch_counter / BATCHES_PER_SESSION),
                seq: batch_counter % BATCHES_PER_SESSION,
                received_at_ms: now_ms(),
                events: sample.events,
                replay: sample.replay,
            };
            batch_counter += 1;
            size += sample.data.len();
            raw += u64::from(sample.raw_len);
            records.push(Record { meta, codec: Codec::Zstd, raw_len: sample.raw_len, data: sample.data.clone() });
        }
        let body = Bytes::from(Chunk::encode(&records));
        let chunk_id = format!("{runner_id}/{}", next_chunk.fetch_add(1, Ordering::Relaxed));
        let headers =
            [("content-type", "application/vnd.traceflow.chunk"), ("x-traceflow-chunk-id", chunk_id.as_str())];
        let sent = Instant::now();
        let wire = body.len() as u64;
        match client.send("POST", "/v1/runner/upload", &headers, body, REQUEST_TIMEOUT).await {
            Ok(response) if response.status == 200 => {
                let answer: Value = serde_json::from_slice(&response.body).unwrap_or_default();
                if answer["stored"].as_u64() == Some(records.len() as u64) {
                    tally.chunks += 1;
                    tally.records += records.len() as u64;
                    tally.raw_bytes += raw;
                    tally.wire_bytes += wire;
                    tally.latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    tally.errors += 1;
                }
            }
            Ok(_) => {
                tally.errors += 1;
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

fn corpus() -> Vec<Sample> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..CORPUS)
        .map(|seq| {
            let batch = rrweb_batch(&mut rng, seq as u64);
            let json = serde_json::to_vec(&batch).unwrap_or_default();
            let events = batch["events"].as_array().map_or(0, Vec::len) as u32;
            let replay = batch["replay"].as_array().map_or(0, Vec::len) as u32;
            Sample { raw_len: json.len() as u32, data: Codec::Zstd.compress(&json, 1), events, replay }
        })
        .collect()
}

const WORDS: [&str; 24] = [
    "checkout", "basket", "product", "shipping", "address", "payment", "summary", "continue", "delivery", "express",
    "standard", "discount", "voucher", "quantity", "remove", "details", "account", "orders", "returns", "help",
    "search", "results", "filters", "sort",
];
const TAGS: [&str; 8] = ["div", "span", "a", "button", "li", "p", "img", "input"];

fn words(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| WORDS[rng.usize(..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

/// An SDK batch as the runner stores it: page context, analytics events, and rrweb events (mostly mouse moves and
/// DOM mutations, a full snapshot in one batch of eight).
fn rrweb_batch(rng: &mut fastrand::Rng, seq: u64) -> Value {
    let start = 1_732_265_000_000 + seq * 5_000;
    let events: Vec<Value> = (0..rng.usize(5..20))
        .map(|i| {
            let kind = ["pageview", "click", "scroll", "input", "error", "network", "custom"][rng.usize(..7)];
            json!({
                "type": kind,
                "ts": start + i as u64 * 250,
                "selector": format!("#main > div.product-list > div:nth-child({}) > button.{}", rng.u32(1..40), WORDS[rng.usize(..WORDS.len())]),
                "x": rng.u32(..1920),
                "y": rng.u32(..1080),
                "url": "https://shop.example.com/catalog/shoes?page=2&sort=price",
            })
        })
        .collect();
    let mut replay = Vec::new();
    if rng.usize(..8) == 0 {
        replay.push(json!({ "type": 2, "data": { "node": dom(rng, 0, &mut 1), "initialOffset": { "top": 0, "left": 0 } }, "timestamp": start }));
    }
    for i in 0..rng.usize(40..160) {
        let data = match rng.usize(..10) {
            0..=4 => {
                let positions: Vec<Value> = (0..rng.usize(5..15))
                    .map(|k| json!({ "x": rng.u32(..1920), "y": rng.u32(..1080), "id": rng.u32(1..800), "timeOffset": -(k as i64) * 16 }))
                    .collect();
                json!({ "source": 1, "positions": positions })
            }
            5..=7 => json!({
                "source": 0,
                "texts": [{ "id": rng.u32(1..800), "value": words(rng, 3) }],
                "attributes": [{ "id": rng.u32(1..800), "attributes": { "class": format!("btn btn-{} {}", WORDS[rng.usize(..WORDS.len())], if rng.bool() { "active" } else { "disabled" }), "style": format!("transform: translate({}px, {}px)", rng.u32(..400), rng.u32(..400)) } }],
                "removes": [],
                "adds": [{ "parentId": rng.u32(1..800), "nextId": null, "node": { "type": 2, "tagName": TAGS[rng.usize(..TAGS.len())], "attributes": { "class": "product-card" }, "childNodes": [], "id": rng.u32(800..5000) } }],
            }),
            8 => {
                json!({ "source": 5, "text": format!("tok_email_{:026x}", rng.u128(..)), "isChecked": false, "id": rng.u32(1..800) })
            }
            _ => json!({ "source": 3, "id": 1, "x": 0, "y": rng.u32(..8000) }),
        };
        replay.push(json!({ "type": 3, "data": data, "timestamp": start + i as u64 * 37 }));
    }
    json!({
        "session_id": format!("s{seq}"),
        "visitor_id": format!("v_{:016x}", rng.u64(..)),
        "seq": seq,
        "sent_at": start + 5_000,
        "context": {
            "url": "https://shop.example.com/checkout?step=2",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "screen": "1920x1080",
            "sdk": "traceflow-web/0.1",
        },
        "events": events,
        "replay": replay,
    })
}

/// A serialized rrweb DOM subtree of a few hundred nodes.
fn dom(rng: &mut fastrand::Rng, depth: usize, next_id: &mut u32) -> Value {
    let id = *next_id;
    *next_id += 1;
    if depth >= 5 || (depth > 1 && rng.usize(..4) == 0) {
        let count = rng.usize(1..8);
        return json!({ "type": 3, "textContent": words(rng, count), "id": id });
    }
    let children: Vec<Value> = (0..rng.usize(2..5)).map(|_| dom(rng, depth + 1, next_id)).collect();
    json!({
        "type": 2,
        "tagName": TAGS[rng.usize(..TAGS.len())],
        "attributes": { "class": format!("{} {}-{}", WORDS[rng.usize(..WORDS.len())], WORDS[rng.usize(..WORDS.len())], rng.u32(..100)) },
        "childNodes": children,
        "id": id,
    })
}
