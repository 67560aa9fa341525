//! Test harness: a real `traceflow-cp` process on a random loopback port with its own temporary data directory,
//! plus clients for the admin API and for runners (enrolled with a CSR, like the real runner).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use traceflow_certs::KeyAndCert;
use traceflow_http::client::{self, Response};
use traceflow_protocol::{Chunk, Codec, Record, RecordMeta};

pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) fn cp_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_traceflow-cp"))
}

/// A temp dir removed on drop; the data dir to use is its (not yet existing) `data` subdirectory.
pub(crate) fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("traceflow-cp-test-{tag}-")).tempdir().expect("temp dir")
}

/// `traceflow-cp init --json` into `dir`.
pub(crate) fn init(dir: &PathBuf) -> Value {
    let out = cp_command().args(["init", "--json", "--data-dir"]).arg(dir).output().expect("run traceflow-cp init");
    assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("init --json prints JSON")
}

pub(crate) struct ControlPlane {
    pub dir: PathBuf,
    _temp: tempfile::TempDir,
    pub child: Child,
    _stdout: BufReader<ChildStdout>,
    pub url: String,
    /// `http://ADDR/metrics` of the plain metrics listener, when started with `--metrics-listen`.
    pub metrics_url: Option<String>,
    pub admin_token: String,
    pub ca_pem: String,
}

impl ControlPlane {
    pub(crate) fn start(tag: &str) -> ControlPlane {
        ControlPlane::start_with(tag, &[])
    }

    pub(crate) fn start_with(tag: &str, extra: &[&str]) -> ControlPlane {
        let temp = temp_dir(tag);
        let dir = temp.path().join("data");
        let report = init(&dir);
        let (child, mut stdout, url) = serve(&dir, extra);
        let metrics_url = extra.contains(&"--metrics-listen").then(|| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("metrics line");
            line.trim()
                .strip_prefix("traceflow-cp metrics on ")
                .unwrap_or_else(|| panic!("unexpected: {line}"))
                .to_string()
        });
        ControlPlane {
            dir,
            _temp: temp,
            child,
            _stdout: stdout,
            url,
            metrics_url,
            admin_token: report["admin_token"].as_str().unwrap().to_string(),
            ca_pem: report["ca_cert"].as_str().unwrap().to_string(),
        }
    }

    pub(crate) fn plain_config(&self) -> Arc<rustls::ClientConfig> {
        traceflow_certs::client_config(&self.ca_pem, None).unwrap()
    }

    /// Value of a metric line like `name{labels} value`, summed over matching lines.
    pub(crate) async fn metric(&self, prefix: &str) -> f64 {
        let response = self
            .call("GET", "/metrics", &[("authorization", &format!("Bearer {}", self.admin_token))], Value::Null)
            .await;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }

    /// Polls the metric `prefix` until `holds` says yes; panics after 30 s.
    pub(crate) async fn wait_metric(&self, prefix: &str, holds: impl Fn(f64) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.metric(prefix).await;
            if holds(value) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{prefix} stayed at {value}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One request without a client certificate.
    pub(crate) async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Value) -> Response {
        let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        client::request(self.plain_config(), &format!("{}{path}", self.url), method, headers, body, TIMEOUT)
            .await
            .expect("request")
    }

    pub(crate) async fn admin(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let authorization = format!("Bearer {}", self.admin_token);
        let response = self.call(method, path, &[("authorization", &authorization)], body).await;
        (response.status, json_of(&response))
    }

    pub(crate) async fn enrollment_token(&self, uses: u32, ttl_secs: u64) -> String {
        let (status, answer) = self
            .admin(
                "POST",
                "/v1/admin/enrollment-tokens",
                json!({"group": "default", "uses": uses, "ttl_secs": ttl_secs}),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        answer["token"].as_str().unwrap().to_string()
    }

    /// Enrolls a new runner with a fresh key and CSR.
    pub(crate) async fn enroll(&self) -> Runner {
        let token = self.enrollment_token(1, 3600).await;
        let csr = traceflow_certs::generate_key_and_csr("test-runner").unwrap();
        let response = self
            .call(
                "POST",
                "/v1/enroll",
                &[],
                json!({"token": token, "csr_pem": csr.csr_pem, "hostname": "host-1", "version": "0.1.0"}),
            )
            .await;
        let answer = json_of(&response);
        assert_eq!(response.status, 200, "{answer}");
        let identity = KeyAndCert { key_pem: csr.key_pem, cert_pem: answer["cert_pem"].as_str().unwrap().to_string() };
        Runner {
            id: answer["runner_id"].as_str().unwrap().to_string(),
            identity,
            url: self.url.clone(),
            ca_pem: self.ca_pem.clone(),
            enroll: answer,
        }
    }

    /// Sends SIGTERM and returns the exit code.
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `traceflow-cp serve` on a random port and waits for its listening line.
pub(crate) fn serve(dir: &PathBuf, extra: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = cp_command()
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn traceflow-cp serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("listening line");
    let addr =
        line.trim().strip_prefix("traceflow-cp listening on https://").unwrap_or_else(|| panic!("unexpected: {line}"));
    let port = addr.rsplit(':').next().unwrap();
    (child, stdout, format!("https://localhost:{port}"))
}

pub(crate) fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&response.body)))
}

pub(crate) fn error_code(response: &Response) -> String {
    json_of(response)["error"]["code"].as_str().unwrap_or_default().to_string()
}

pub(crate) struct Runner {
    pub id: String,
    pub identity: KeyAndCert,
    pub url: String,
    pub ca_pem: String,
    pub enroll: Value,
}

impl Runner {
    pub(crate) fn config(&self) -> Arc<rustls::ClientConfig> {
        traceflow_certs::client_config(&self.ca_pem, Some(&self.identity)).unwrap()
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, client::ClientError> {
        client::request(self.config(), &format!("{}{path}", self.url), "POST", headers, body, TIMEOUT).await
    }

    pub(crate) async fn upload(&self, chunk_id: &str, chunk: Vec<u8>) -> Response {
        self.post(
            "/v1/runner/upload",
            &[("content-type", "application/vnd.traceflow.chunk"), ("x-traceflow-chunk-id", chunk_id)],
            Bytes::from(chunk),
        )
        .await
        .expect("upload request")
    }

    pub(crate) async fn checkin(&self, body: Value) -> Response {
        self.post("/v1/runner/checkin", &[("content-type", "application/json")], Bytes::from(body.to_string()))
            .await
            .expect("checkin request")
    }

    pub(crate) async fn renew(&self) -> (Response, String) {
        let csr = traceflow_certs::generate_key_and_csr("renewed").unwrap();
        let response = self
            .post(
                "/v1/runner/renew",
                &[("content-type", "application/json")],
                Bytes::from(json!({"csr_pem": csr.csr_pem}).to_string()),
            )
            .await
            .expect("renew request");
        (response, csr.key_pem)
    }
}

/// A batch as an SDK sends it, with `n_events` analytics events and `n_replay` rrweb events.
pub(crate) fn batch_json(session: &str, seq: u64, n_events: usize, n_replay: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..n_events)
        .map(|i| json!({"type": "click", "ts": 1000 + seq * 100 + i as u64, "seq": seq, "i": i}))
        .collect();
    let replay: Vec<Value> = (0..n_replay)
        .map(|i| json!({"type": 3, "data": {"source": 1, "seq": seq, "i": i}, "timestamp": 1000 + i}))
        .collect();
    serde_json::to_vec(&json!({"session_id": session, "seq": seq, "events": events, "replay": replay})).unwrap()
}

pub(crate) fn record(project: &str, session: &str, seq: u64, received_at_ms: u64) -> Record {
    let meta =
        RecordMeta { project: project.into(), session_id: session.into(), seq, received_at_ms, events: 2, replay: 3 };
    Record::new(meta, Codec::Zstd, 1, &batch_json(session, seq, 2, 3)).unwrap()
}

pub(crate) fn chunk(records: &[Record]) -> Vec<u8> {
    Chunk::encode(records)
}
