//! Harness for tests that need a control plane: runs the real `traceflow-cp` binary (init, serve) on loopback,
//! calls its admin API over HTTPS with the CA it made, and enrolls runners to it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{binary, wait_exit};

/// An initialised control-plane data dir and, while started, its process.
pub(crate) struct ControlPlane {
    pub data_dir: PathBuf,
    pub admin_token: String,
    pub ca_pem: String,
    pub addr: SocketAddr,
    extra: Vec<String>,
    child: Option<Child>,
}

/// A port nobody listens on right now, so a control plane can be restarted on the same address.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl ControlPlane {
    /// `traceflow-cp init` in `data_dir`, then `serve` on a free port with `extra` serve flags.
    pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> ControlPlane {
        let out = Command::new(binary("traceflow-cp"))
            .args(["init", "--json", "--data-dir"])
            .arg(data_dir)
            .output()
            .expect("run traceflow-cp init");
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        let init: serde_json::Value = serde_json::from_slice(&out.stdout).expect("init --json prints JSON");
        let ca_cert = init["ca_cert"].as_str().expect("ca_cert").to_string();
        // `ca_cert` is the PEM itself; older builds gave a path.
        let ca_pem = if ca_cert.starts_with("-----BEGIN") {
            ca_cert
        } else {
            std::fs::read_to_string(&ca_cert).expect("read CA")
        };
        let mut cp = ControlPlane {
            data_dir: data_dir.to_path_buf(),
            admin_token: init["admin_token"].as_str().expect("admin_token").to_string(),
            ca_pem,
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            // The free-space guard's default floor (2 % of the filesystem) would refuse uploads on a nearly full
            // development disk; the guard has tests of its own.
            extra: if extra.contains(&"--min-free-bytes") {
                extra.iter().map(|s| s.to_string()).collect()
            } else {
                extra.iter().map(|s| s.to_string()).chain(["--min-free-bytes".into(), "1048576".into()]).collect()
            },
            child: None,
        };
        cp.resume();
        cp
    }

    /// (Re)starts `serve` on the same address.
    pub(crate) fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new(binary("traceflow-cp"))
                .args(["serve", "--data-dir"])
                .arg(&self.data_dir)
                .args(["--listen", &self.addr.to_string()])
                .args(&self.extra)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn traceflow-cp");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
            if line.contains("listening on") {
                self.child = Some(child);
                return;
            }
            // The port may still be held by the previous process for a moment.
            let _ = child.kill();
            let _ = child.wait();
            assert!(Instant::now() < deadline, "control plane did not start: {line:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// SIGTERM and wait.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let status = wait_exit(&mut child, Duration::from_secs(20));
            assert!(status.success(), "control plane exited with {status}");
        }
    }

    pub(crate) fn ca_path(&self) -> PathBuf {
        self.data_dir.join("ca.pem")
    }

    /// Value of a metric line like `name{labels} value` of the control plane, summed over matching lines.
    pub(crate) fn metric(&self, prefix: &str) -> f64 {
        let auth = format!("Bearer {}", self.admin_token);
        let url = format!("{}/metrics", self.url());
        let response = https(&self.ca_pem, None, &url, "GET", &[("authorization", &auth)], Vec::new())
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        let text = String::from_utf8_lossy(&response.body).into_owned();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }

    /// An admin API call; returns status and JSON body.
    pub(crate) fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let auth = format!("Bearer {}", self.admin_token);
        let body = body.map(|b| serde_json::to_vec(&b).expect("json")).unwrap_or_default();
        let response =
            https(&self.ca_pem, None, &format!("{}{path}", self.url()), method, &[("authorization", &auth)], body)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let json = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
        (response.status, json)
    }

    pub(crate) fn enrollment_token(&self, uses: u32) -> String {
        let (status, body) = self.admin(
            "POST",
            "/v1/admin/enrollment-tokens",
            Some(serde_json::json!({"group": "default", "uses": uses, "ttl_secs": 3600})),
        );
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// `traceflow-runner enroll` into `runner_dir`.
    pub(crate) fn enroll(&self, runner_dir: &Path) {
        let out = Command::new(binary("traceflow-runner"))
            .args(["enroll", "--control-plane", &self.url(), "--token", &self.enrollment_token(1), "--ca"])
            .arg(self.ca_path())
            .arg("--data-dir")
            .arg(runner_dir)
            .output()
            .expect("run enroll");
        assert!(out.status.success(), "enroll failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The stored batches of a session as `(seq, batch JSON)`, in the order the admin API gives them, following
    /// its pages (`next_after_seq`).
    pub(crate) fn session_batches(&self, session: &str) -> Vec<(u64, serde_json::Value)> {
        let mut batches = Vec::new();
        let mut path = format!("/v1/admin/sessions/{session}/events");
        loop {
            let (status, body) = self.admin("GET", &path, None);
            if status == 404 {
                return batches;
            }
            assert_eq!(status, 200, "{body}");
            batches.extend(
                body["batches"]
                    .as_array()
                    .expect("batches")
                    .iter()
                    .map(|b| (b["seq"].as_u64().expect("seq"), b["batch"].clone())),
            );
            match body["next_after_seq"].as_u64() {
                Some(after) => path = format!("/v1/admin/sessions/{session}/events?after_seq={after}"),
                None => return batches,
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTPS request trusting only `ca_pem`, optionally with a client certificate.
pub(crate) fn https(
    ca_pem: &str,
    client: Option<&traceflow_certs::KeyAndCert>,
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<traceflow_http::client::Response, String> {
    let config = traceflow_certs::client_config(ca_pem, client).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    runtime
        .block_on(traceflow_http::client::request(config, url, method, &all, body.into(), Duration::from_secs(30)))
        .map_err(|e| e.to_string())
}
