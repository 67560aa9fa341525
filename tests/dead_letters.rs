//! The runner's dead-letter path against a scripted control plane: a chunk refused with a permanent 4xx is kept
//! with its reason (never retried forever, never dropped), `dlq list` shows it, and `dlq retry` puts it back so
//! it is delivered once the cause is fixed. The fake control plane is a real mTLS server in this process.

mod common;

use std::convert::Infallible;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use traceflow_certs::Ca;

use common::{batch, binary, Runner, TempDir};

struct Fake {
    ca: Ca,
    /// While true, uploads get `400 invalid_chunk`.
    refuse: AtomicBool,
    delivered: AtomicUsize,
}

async fn answer(fake: Arc<Fake>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let json = |status: u16, value: serde_json::Value| {
        let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        Ok(response)
    };
    match path.as_str() {
        "/v1/enroll" => {
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
            let issued = fake
                .ca
                .sign_runner_csr(request["csr_pem"].as_str().unwrap(), "t1", "r_fake", now - 60_000, now + 86_400_000)
                .unwrap();
            json(
                200,
                serde_json::json!({"runner_id": "r_fake", "tenant": "t1", "group": "default",
                    "cert_pem": issued.cert_pem, "ca_pem": fake.ca.cert_pem(), "not_after_ms": issued.not_after_ms,
                    "policy_public_key": ""}),
            )
        }
        "/v1/runner/upload" if fake.refuse.load(Ordering::SeqCst) => json(
            400,
            serde_json::json!({"error": {"code": "invalid_chunk", "message": "record 0 does not decompress"}}),
        ),
        "/v1/runner/upload" => {
            fake.delivered.fetch_add(1, Ordering::SeqCst);
            json(200, serde_json::json!({"stored": 1, "duplicate": false}))
        }
        _ => json(200, serde_json::json!({"poll_after_ms": 1000})),
    }
}

/// Starts the fake control plane on a background runtime; returns its URL.
fn start_fake(fake: Arc<Fake>) -> String {
    let server = fake.ca.issue_server(&["localhost".into(), "127.0.0.1".into()], 1).unwrap();
    let config = traceflow_certs::server_config(fake.ca.cert_pem(), &server).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, fake) = (acceptor.clone(), fake.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |request| answer(fake.clone(), request));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
    });
    format!("https://{addr}")
}

fn runner_command(args: &[&str], data: &std::path::Path) -> String {
    let out = Command::new(binary("traceflow-runner")).args(args).arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn permanently_refused_chunks_are_dead_lettered_then_retried() {
    let dir = TempDir::new("dlq");
    let fake = Arc::new(Fake {
        ca: Ca::generate("fake-cp", 1).unwrap(),
        refuse: AtomicBool::new(true),
        delivered: AtomicUsize::new(0),
    });
    let url = start_fake(fake.clone());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, fake.ca.cert_pem()).unwrap();
    let data = dir.path().join("runner");
    let out = Command::new(binary("traceflow-runner"))
        .args(["enroll", "--control-plane", &url, "--token", "et_whatever", "--ca"])
        .arg(&ca)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "enroll: {}", String::from_utf8_lossy(&out.stderr));
    let key = std::fs::metadata(data.join("identity/client.key")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);

    let upload = "[upload]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\nstatus_interval_secs = 1\n";
    let runner = Runner::start(&data, upload);
    assert_eq!(runner.post(&batch("dead", 1, 2), &[]).status, 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while runner.metric("traceflow_runner_upload_chunks_total{outcome=\"dead_letter\"}") < 1.0 {
        assert!(Instant::now() < deadline, "the refused chunk was not dead-lettered");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(runner.metric("traceflow_runner_buffer_depth_chunks"), 0.0, "the chunk left the buffer");
    assert_eq!(runner.stop().code(), Some(0));

    let listed = runner_command(&["dlq", "list", "--json"], &data);
    let letter: serde_json::Value = serde_json::from_str(listed.lines().next().expect("one dead letter")).unwrap();
    assert_eq!(letter["status"], 400);
    assert_eq!(letter["code"], "invalid_chunk");
    assert_eq!(letter["batches"], 1);

    // The cause is fixed; the dead letter goes back and is delivered.
    fake.refuse.store(false, Ordering::SeqCst);
    assert!(runner_command(&["dlq", "retry"], &data).contains("1 dead letters requeued"));
    assert_eq!(runner_command(&["dlq", "list", "--json"], &data).lines().count(), 0);
    let runner = Runner::start(&data, upload);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.delivered.load(Ordering::SeqCst) < 1 || runner.metric("traceflow_runner_buffer_depth_chunks") > 0.0 {
        assert!(Instant::now() < deadline, "the retried chunk was not delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(runner.stop().code(), Some(0));
}
