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
    common::wait_until("the chunk to leave the buffer", Duration::from_secs(20), || {
        runner.metric("traceflow_runner_buffer_depth_chunks") == 0.0
    });
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

#[test]
fn a_backlog_goes_up_joined_and_only_the_refused_chunk_is_dead_lettered() {
    let dir = TempDir::new("dlq-joined");
    let fake = FakeCp::start();
    *fake.poison_session.lock().unwrap() = Some("poison".into());
    let data = dir.path().join("runner");
    fake.enroll(&data);

    // A backlog of one chunk per batch (sequential requests, one group commit each) while uploads are off.
    let runner = Runner::start(&data, "[upload]\nenabled = false\n");
    let sessions = ["ok-1", "ok-2", "poison", "ok-3", "ok-4"];
    for session in sessions {
        assert_eq!(runner.post(&batch(session, 1, 2), &[]).status, 202);
    }
    assert_eq!(runner.metric("traceflow_runner_buffer_depth_chunks"), sessions.len() as f64);
    assert_eq!(runner.stop().code(), Some(0));

    let runner = Runner::start(&data, "[upload]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    while runner.metric("traceflow_runner_buffer_depth_chunks") > 0.0 {
        assert!(Instant::now() < deadline, "the backlog did not drain");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(runner.metric("traceflow_runner_upload_chunks_total{outcome=\"dead_letter\"}"), 1.0);
    assert_eq!(runner.metric("traceflow_runner_upload_chunks_total{outcome=\"delivered\"}"), 4.0);
    assert_eq!(runner.stop().code(), Some(0));

    // The backlog was offered as one upload of the five chunks, then one by one once refused.
    let ids = fake.chunk_ids();
    let first = ids.first().expect("an upload").rsplit_once('/').unwrap().1.to_string();
    let (low, high) = first.split_once('-').expect("the first upload joins chunks");
    assert_eq!(high.parse::<u64>().unwrap() - low.parse::<u64>().unwrap(), 4, "{ids:?}");
    assert_eq!(ids.len(), 6, "{ids:?}");
    let mut delivered: Vec<String> = fake.records().into_iter().map(|r| r.meta.session_id).collect();
    delivered.sort();
    assert_eq!(delivered, ["ok-1", "ok-2", "ok-3", "ok-4"]);
    let listed = runner_command(&["dlq", "list", "--json"], &data);
    let letters: Vec<serde_json::Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 1, "{listed}");
    assert_eq!((letters[0]["code"].as_str(), letters[0]["batches"].as_u64()), (Some("invalid_chunk"), Some(1)));
}
