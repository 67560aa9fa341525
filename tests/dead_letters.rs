//! The runner's dead-letter path against a scripted control plane (`common::fake_cp`): a chunk refused with a permanent 4xx is kept
//! with its reason (never retried forever, never dropped), `dlq list` shows it, and `dlq retry` puts it back so
//! it is delivered once the cause is fixed.

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::fake_cp::FakeCp;
use common::{batch, binary, Runner, TempDir};

fn runner_command(args: &[&str], data: &std::path::Path) -> String {
    let out = Command::new(binary("traceflow-runner")).args(args).arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn permanently_refused_chunks_are_dead_lettered_then_retried() {
    let dir = TempDir::new("dlq");
    let fake = FakeCp::start();
    fake.refuse_uploads.store(true, Ordering::SeqCst);
    let data = dir.path().join("runner");
    fake.enroll(&data);
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
    fake.refuse_uploads.store(false, Ordering::SeqCst);
    assert!(runner_command(&["dlq", "retry"], &data).contains("1 dead letters requeued"));
    assert_eq!(runner_command(&["dlq", "list", "--json"], &data).lines().count(), 0);
    let runner = Runner::start(&data, upload);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.records().is_empty() || runner.metric("traceflow_runner_buffer_depth_chunks") > 0.0 {
        assert!(Instant::now() < deadline, "the retried chunk was not delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(runner.stop().code(), Some(0));
}
