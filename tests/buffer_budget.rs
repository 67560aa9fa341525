//! The disk budget, in process so the test can play the uploader: 503 `buffer_full` once the buffer's files
//! reach the budget, and 202 again once delivered chunks are removed.

mod common;

use std::time::{Duration, Instant};

use common::{TempDir, KEY};
use traceflow_runner::config::RunnerConfig;
use traceflow_runner::server::Server;

fn noisy_batch(seq: u64) -> Vec<u8> {
    // Random letters: compress little, so each batch costs most of its size on disk. (Mixed-case alphanumerics
    // are the PII scanner's worst case, about 10 MB/s, which would only slow this test down.)
    let noise: String = (0..1_000_000).map(|_| fastrand::lowercase()).collect();
    let body =
        serde_json::json!({"session_id": "budget", "seq": seq, "events": [{"type": "custom", "ts": 1, "blob": noise}]});
    serde_json::to_vec(&body).unwrap()
}

async fn post(addr: std::net::SocketAddr, body: Vec<u8>) -> common::Response {
    tokio::task::spawn_blocking(move || common::post_batch(addr, &body).expect("post")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_budget_pushes_back_then_recovers_when_space_frees() {
    let dir = TempDir::new("budget");
    let mut config = RunnerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        project_keys: vec![KEY.to_string()],
        retry_after_secs: 7,
        ..RunnerConfig::default()
    };
    config.buffer.disk_budget_bytes = 16 * 1024 * 1024;
    config.validate().unwrap();
    let server = Server::bind(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let buffer = server.buffer();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let mut seq = 0;
    let full = loop {
        let response = post(addr, noisy_batch(seq)).await;
        seq += 1;
        if response.status != 202 {
            break response;
        }
        assert!(seq < 200, "the budget never pushed back");
    };
    assert_eq!(full.status, 503, "{}", full.text());
    assert_eq!(full.code(), "buffer_full");
    assert_eq!(full.header("retry-after"), Some("7"));
    let ready = tokio::task::spawn_blocking(move || common::request(addr, "GET", "/readyz", &[], b"")).await.unwrap();
    assert!(ready.status == 503 && ready.text().contains("buffer_full"), "{}", ready.text());
    let stored_before = buffer.gauges().depth.load(std::sync::atomic::Ordering::SeqCst);
    assert!(stored_before >= 8, "{stored_before} chunks before the budget");

    // What the uploader does once the control plane acknowledged the chunks.
    let (chunks, _) = buffer.store().chunks(0);
    let delivered: Vec<u64> = chunks.filter_map(Result::ok).map(|(seq, _)| seq).collect();
    buffer.remove(delivered).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = post(addr, noisy_batch(seq)).await;
        if response.status == 202 {
            break;
        }
        assert_eq!(response.code(), "buffer_full");
        assert!(Instant::now() < deadline, "ingest did not recover after space was freed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Writes after recovery reuse the freed space instead of growing the files without bound.
    for _ in 0..8 {
        seq += 1;
        assert_eq!(post(addr, noisy_batch(seq)).await.status, 202);
    }
    let disk = buffer.gauges().disk_bytes.load(std::sync::atomic::Ordering::SeqCst);
    assert!(disk < 3 * config.buffer.disk_budget_bytes, "{disk} bytes on disk");
    let _ = stop.send(());
    running.await.unwrap();
}
