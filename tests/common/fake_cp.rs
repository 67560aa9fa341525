//! A scripted control plane for runner tests: a real mTLS server in this process that enrolls runners with its
//! own CA and policy-signing key, answers check-ins with the signed bundles a test queues (or nothing), records
//! every policy report, keeps the records of every uploaded chunk, and refuses uploads for good on request. Tests sign bundles themselves, so they
//! can also send tampered, foreign-key, replayed and misdirected ones.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ring::signature::{Ed25519KeyPair, KeyPair};
use traceflow_certs::Ca;
use traceflow_protocol::policy::{BundleBody, Format, Policy, SignedBundle};
use traceflow_protocol::{Chunk, Record};

/// Upload settings that make a runner talk to the fake control plane promptly.
pub(crate) const UPLOAD: &str = "[upload]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\nstatus_interval_secs = 1\n";

/// A policy whose only project is `key` (named `web`), plus `extra` TOML.
pub(crate) fn with_project(key: &str, extra: &str) -> String {
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()));
    format!("{extra}\n[[projects]]\nname = \"web\"\nkey_sha256 = \"{sha256}\"\n")
}

pub(crate) const TENANT: &str = "t1";
pub(crate) const GROUP: &str = "g1";

pub(crate) struct FakeCp {
    pub ca: Ca,
    pub key: Ed25519KeyPair,
    pub url: String,
    pending: Mutex<VecDeque<SignedBundle>>,
    reports: Mutex<Vec<serde_json::Value>>,
    records: Mutex<Vec<Record>>,
    /// While set, uploads get a permanent `400 invalid_chunk` (the runner dead-letters them).
    pub refuse_uploads: AtomicBool,
    /// Uploads holding a record of this session get a permanent `400 invalid_chunk`.
    pub poison_session: Mutex<Option<String>>,
    /// The chunk id of every upload, in arrival order.
    chunk_ids: Mutex<Vec<String>>,
    /// How many of the next check-ins get a 200 answer that is not a check-in answer.
    pub bad_answers: AtomicUsize,
}

pub(crate) fn new_key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).expect("key");
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

impl FakeCp {
    pub(crate) fn start() -> Arc<FakeCp> {
        let ca = Ca::generate("fake-cp", 1).expect("CA");
        let server = ca.issue_server(&["localhost".into(), "127.0.0.1".into()], 1).expect("server cert");
        let config = traceflow_certs::server_config(ca.cert_pem(), &server).expect("TLS config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let fake = Arc::new(FakeCp {
            ca,
            key: new_key(),
            url,
            pending: Mutex::new(VecDeque::new()),
            reports: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
            refuse_uploads: AtomicBool::new(false),
            poison_session: Mutex::new(None),
            chunk_ids: Mutex::new(Vec::new()),
            bad_answers: AtomicUsize::new(0),
        });
        let serving = fake.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                loop {
                    let Ok((tcp, _)) = listener.accept().await else { return };
                    let (acceptor, fake) = (acceptor.clone(), serving.clone());
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else { return };
                        let service = service_fn(move |request| answer(fake.clone(), request));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        });
        fake
    }

    /// Enrolls a runner data dir with this control plane (its CA and policy key get pinned).
    pub(crate) fn enroll(&self, data_dir: &Path) {
        let ca = data_dir.with_extension("ca.pem");
        std::fs::write(&ca, self.ca.cert_pem()).expect("write CA");
        let out = Command::new(super::binary("traceflow-runner"))
            .args(["enroll", "--control-plane", &self.url, "--token", "et_fake", "--ca"])
            .arg(&ca)
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .expect("run enroll");
        assert!(out.status.success(), "enroll: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A bundle for this tenant and group, signed with `key` (this control plane's unless given).
    pub(crate) fn bundle_with(
        &self,
        revision: u64,
        policy_toml: &str,
        group: &str,
        key: &Ed25519KeyPair,
    ) -> SignedBundle {
        let policy = Policy::parse(policy_toml, Format::Toml).expect("test policy is valid");
        let body = BundleBody {
            tenant: TENANT.into(),
            group: group.into(),
            revision,
            issued_at_ms: now_ms(),
            hash: policy.hash(),
            policy,
        };
        SignedBundle::sign(&body, key)
    }

    pub(crate) fn bundle(&self, revision: u64, policy_toml: &str) -> SignedBundle {
        self.bundle_with(revision, policy_toml, GROUP, &self.key)
    }

    /// Queues a bundle for the next check-in.
    pub(crate) fn push(&self, bundle: SignedBundle) {
        self.pending.lock().unwrap().push_back(bundle);
    }

    /// Pushes a bundle and waits for the runner's report about its revision; returns the report.
    pub(crate) fn push_and_wait(&self, bundle: SignedBundle, revision: u64) -> serde_json::Value {
        let seen = self.reports.lock().unwrap().len();
        self.push(bundle);
        self.wait_report(seen, |r| r["revision"] == revision && r["state"] != "none")
    }

    /// How many check-in reports arrived so far (for [`FakeCp::wait_report`]).
    pub(crate) fn reports_seen(&self) -> usize {
        self.reports.lock().unwrap().len()
    }

    /// The first report after the `seen` first ones that matches.
    pub(crate) fn wait_report(&self, seen: usize, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(found) = self.reports.lock().unwrap().iter().skip(seen).find(|r| matches(r)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no matching policy report; last: {:?}",
                self.reports.lock().unwrap().last()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Decoded records of every chunk uploaded so far.
    pub(crate) fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    /// The chunk id of every upload so far, refused ones included.
    pub(crate) fn chunk_ids(&self) -> Vec<String> {
        self.chunk_ids.lock().unwrap().clone()
    }

    /// Waits until a record of `session_id` was uploaded; returns it with its JSON.
    pub(crate) fn wait_record(&self, session_id: &str) -> (Record, serde_json::Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(record) = self.records().into_iter().find(|r| r.meta.session_id == session_id) {
                let json = serde_json::from_slice(&record.json().expect("record decompresses")).expect("JSON");
                return (record, json);
            }
            assert!(Instant::now() < deadline, "session {session_id} was not uploaded");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

async fn answer(fake: Arc<FakeCp>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if let Some(id) = request.headers().get("x-traceflow-chunk-id").and_then(|v| v.to_str().ok()) {
        fake.chunk_ids.lock().unwrap().push(id.to_string());
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let json = |status: u16, value: serde_json::Value| {
        let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        Ok(response)
    };
    match path.as_str() {
        "/v1/enroll" => {
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let now = now_ms();
            let csr = request["csr_pem"].as_str().unwrap_or_default();
            let issued = fake.ca.sign_runner_csr(csr, TENANT, "r_fake", now - 60_000, now + 86_400_000).expect("sign");
            let public = base64::engine::general_purpose::STANDARD.encode(fake.key.public_key().as_ref());
            json(
                200,
                serde_json::json!({"runner_id": "r_fake", "tenant": TENANT, "group": GROUP,
                    "cert_pem": issued.cert_pem, "ca_pem": fake.ca.cert_pem(), "not_after_ms": issued.not_after_ms,
                    "policy_public_key": public}),
            )
        }
        "/v1/runner/checkin" => {
            let report: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            fake.reports.lock().unwrap().push(report["policy"].clone());
            let bad = fake.bad_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if bad {
                return json(200, serde_json::json!({"poll_after_ms": "soon"}));
            }
            match fake.pending.lock().unwrap().pop_front() {
                Some(bundle) => json(200, serde_json::json!({"poll_after_ms": 50, "policy": bundle})),
                None => json(200, serde_json::json!({"poll_after_ms": 50})),
            }
        }
        "/v1/runner/upload" if fake.refuse_uploads.load(Ordering::SeqCst) => json(
            400,
            serde_json::json!({"error": {"code": "invalid_chunk", "message": "record 0 does not decompress"}}),
        ),
        "/v1/runner/upload" => match Chunk::decode(&body) {
            Ok(chunk)
                if fake
                    .poison_session
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_some_and(|poison| chunk.records.iter().any(|r| &r.meta.session_id == poison)) =>
            {
                json(400, serde_json::json!({"error": {"code": "invalid_chunk", "message": "record refused"}}))
            }
            Ok(chunk) => {
                let stored = chunk.records.len();
                fake.records.lock().unwrap().extend(chunk.records);
                json(200, serde_json::json!({"stored": stored, "duplicate": false}))
            }
            Err(e) => json(400, serde_json::json!({"error": {"code": "invalid_chunk", "message": e.to_string()}})),
        },
        _ => json(404, serde_json::json!({"error": {"code": "not_found", "message": "no such endpoint"}})),
    }
}
