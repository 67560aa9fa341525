//! Shared harness for the end-to-end tests: runs the real `traceflow-runner` binary on loopback with a random
//! port and a temp data dir, talks HTTP/1.1 to it with a small blocking client, and stops what it starts.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub(crate) mod cp;
pub(crate) mod fake_cp;

pub(crate) const KEY: &str = "test-project-key-1";

/// Path of a workspace binary, built from the current sources first so that a stale binary is never tested.
///
/// cargo builds only this package's own binaries before its tests; `traceflow-runner` and `traceflow-cp` belong to
/// other packages, so the first call in a test run asks cargo to build them (a no-op when they are up to date, as
/// after `cargo nextest run --workspace`). nextest runs every test in a process of its own: a stamp per run id
/// keeps that to one build per run.
pub(crate) fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    build_binaries(dir);
    let path = dir.join(name);
    assert!(path.exists(), "{} not found after building it", path.display());
    path
}

fn build_binaries(profile_dir: &Path) {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let run = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| std::process::id().to_string());
        let stamp = profile_dir.join(format!(".e2e-binaries-{run}"));
        if stamp.exists() {
            return;
        }
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--quiet",
            "-p",
            "traceflow-runner",
            "-p",
            "traceflow-cp",
            "--bins",
        ]);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build for the end-to-end binaries");
        assert!(status.success(), "cargo build of the end-to-end binaries failed");
        let _ = std::fs::write(&stamp, b"");
    });
}

/// A temp dir removed on drop.
pub(crate) struct TempDir(tempfile::TempDir);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        TempDir(tempfile::Builder::new().prefix(&format!("traceflow-{tag}-")).tempdir().expect("create temp dir"))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A running runner process.
pub(crate) struct Runner {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub config: PathBuf,
}

impl Runner {
    /// Starts a runner with `extra` appended to a config that sets the key, a random port and `data_dir`.
    pub(crate) fn start(data_dir: &Path, extra: &str) -> Runner {
        let config = data_dir.with_extension("toml");
        // The free-space guard's default floor (2 % of the filesystem) would refuse batches on a nearly full
        // development disk; tests of the guard set their own.
        let storage = if extra.contains("[storage]") { "" } else { "[storage]\nmin_free_bytes = 1048576\n" };
        let text = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nproject_keys = [\"{KEY}\"]\nshutdown_grace_secs = 5\n{extra}\n{storage}",
            data_dir.display().to_string()
        );
        std::fs::write(&config, text).expect("write config");
        Runner::start_with_config(&config, data_dir)
    }

    pub(crate) fn start_with_config(config: &Path, data_dir: &Path) -> Runner {
        Runner::spawn(config, data_dir, Stdio::inherit(), Some("warn"))
    }

    /// Like [`Runner::start_with_config`], with the config's log level and the logs written to `log`.
    pub(crate) fn start_logging(config: &Path, data_dir: &Path, log: &Path) -> Runner {
        Runner::spawn(config, data_dir, std::fs::File::create(log).expect("create log").into(), None)
    }

    fn spawn(config: &Path, data_dir: &Path, stderr: Stdio, level: Option<&str>) -> Runner {
        let mut command = Command::new(binary("traceflow-runner"));
        command.args(["run", "--config"]).arg(config).stdout(Stdio::piped()).stderr(stderr);
        match level {
            Some(level) => command.env("RUST_LOG", level),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command.spawn().expect("spawn traceflow-runner");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read runner stdout");
        let addr = line
            .trim()
            .rsplit("://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("runner did not report its address: {line:?}"));
        Runner { child, addr, data_dir: data_dir.to_path_buf(), config: config.to_path_buf() }
    }

    pub(crate) fn post(&self, body: &[u8], headers: &[(&str, &str)]) -> Response {
        let mut all =
            vec![("authorization", format!("Bearer {KEY}")), ("content-type", "application/json".to_string())];
        for (name, value) in headers {
            all.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if !value.is_empty() {
                all.push((name, value.to_string()));
            }
        }
        let refs: Vec<(&str, &str)> = all.iter().map(|(n, v)| (*n, v.as_str())).collect();
        request(self.addr, "POST", "/v1/batch", &refs, body)
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    /// Value of a metric line like `name{labels} value`, summed over matching lines.
    pub(crate) fn metric(&self, prefix: &str) -> f64 {
        let text = self.get("/metrics").text();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }

    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// SIGTERM, then wait for the exit status.
    pub(crate) fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        wait_exit(&mut self.child, Duration::from_secs(20))
    }

    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seeds this thread's `fastrand` for a randomized test and prints the seed; `TRACEFLOW_TEST_SEED=N` repeats a run.
pub(crate) fn seed_random() -> u64 {
    let seed =
        std::env::var("TRACEFLOW_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("random seed {seed} (repeat with TRACEFLOW_TEST_SEED={seed})");
    fastrand::seed(seed);
    seed
}

/// Polls `condition` until it holds; panics naming `what` if it does not within `timeout`.
pub(crate) fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.text()))
    }

    /// The `error.code` of an error answer.
    pub(crate) fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// `POST /v1/batch` with the test key, on a fresh connection.
pub(crate) fn post_batch(addr: SocketAddr, body: &[u8]) -> std::io::Result<Response> {
    let auth = format!("Bearer {KEY}");
    try_request(addr, "POST", "/v1/batch", &[("authorization", &auth)], body)
}

/// One HTTP/1.1 request on a fresh connection.
pub(crate) fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    try_request(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub(crate) fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // A server may answer and close before reading everything (over-size bodies); the answer is still there.
    let written = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    match read_response(&mut stream) {
        Ok(response) => Ok(response),
        Err(e) => Err(written.err().unwrap_or(e)),
    }
}

pub(crate) fn read_response(stream: &mut impl Read) -> std::io::Result<Response> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A peer that closes without a TLS close_notify still sent a whole answer.
            Err(_) if !raw.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer ({} bytes)", raw.len())))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    Ok(Response { status, headers, body: raw[split + 4..].to_vec() })
}

/// A small valid batch with `events` analytics events.
pub(crate) fn batch(session: &str, seq: u64, events: usize) -> Vec<u8> {
    let events: Vec<_> =
        (0..events).map(|i| serde_json::json!({"type": "click", "ts": 1732265000000u64 + i as u64, "x": i})).collect();
    serde_json::to_vec(&serde_json::json!({
        "session_id": session, "visitor_id": "v-1", "seq": seq, "sent_at": 1732265000000u64,
        "context": {"url": "https://shop.test/checkout", "sdk": "traceflow-web/0.1"},
        "events": events,
        "replay": [{"type": 4, "data": {"href": "https://shop.test/checkout", "width": 1280, "height": 720}, "timestamp": 1732265000000u64}]
    }))
    .expect("serialize batch")
}

/// Batches found by `buffer dump`, as `(session_id, seq)` in buffer order, after checking `buffer verify`.
/// The lines of `buffer dump`: each stored batch with its metadata, in order.
pub(crate) fn dumped(data_dir: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(binary("traceflow-runner"))
        .args(["buffer", "dump", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap_or_else(|e| panic!("run buffer dump: {e}"));
    assert!(out.status.success(), "buffer dump failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("dump line is JSON"))
        .collect()
}

pub(crate) fn dump(data_dir: &Path) -> Vec<(String, u64)> {
    let verify = Command::new(binary("traceflow-runner"))
        .args(["buffer", "verify", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap_or_else(|e| panic!("run buffer verify: {e}"));
    assert!(verify.status.success(), "buffer verify failed: {}", String::from_utf8_lossy(&verify.stdout));
    dumped(data_dir)
        .into_iter()
        .map(|value| {
            assert_eq!(value["batch"]["session_id"], value["session_id"], "dump line carries its batch");
            (value["session_id"].as_str().expect("session_id").to_string(), value["seq"].as_u64().expect("seq"))
        })
        .collect()
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}
