//! End to end through the upload path: SDK → runner → control plane over mTLS, with real processes on loopback.
//! Every batch a runner acknowledged must reach the control plane exactly once, in order per session, through
//! control-plane outages, runner crashes and certificate renewal.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cp::ControlPlane;
use common::{batch, post_batch, Runner, TempDir};

const UPLOAD: &str = "[upload]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\nstatus_interval_secs = 1\n";

fn enrolled_runner(cp: &ControlPlane, dir: &TempDir, extra: &str) -> Runner {
    let data = dir.path().join("runner");
    cp.enroll(&data);
    Runner::start(&data, &format!("{UPLOAD}{extra}"))
}

/// Waits until the runner's buffer is empty (everything uploaded and removed).
fn wait_drained(runner: &Runner, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let depth = runner.metric("traceflow_runner_buffer_depth_chunks");
        if depth == 0.0 {
            return;
        }
        assert!(Instant::now() < deadline, "buffer still holds {depth} chunks after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks that the control plane holds exactly `acked` (session → seqs), each once, in seq order.
fn assert_exactly_once(cp: &ControlPlane, acked: &BTreeMap<String, Vec<u64>>) {
    for (session, seqs) in acked {
        let mut expected = seqs.clone();
        expected.sort_unstable();
        expected.dedup();
        let stored: Vec<u64> = cp.session_batches(session).iter().map(|(seq, _)| *seq).collect();
        assert_eq!(stored, expected, "session {session}: stored seqs differ from acknowledged ones");
    }
    let (status, body) = cp.admin("GET", "/v1/admin/sessions?limit=1000", None);
    assert_eq!(status, 200);
    for summary in body["sessions"].as_array().expect("sessions") {
        let session = summary["session_id"].as_str().expect("session_id");
        let expected = acked.get(session).map_or(0, |s| {
            let mut s = s.clone();
            s.sort_unstable();
            s.dedup();
            s.len()
        });
        assert_eq!(summary["batches"].as_u64(), Some(expected as u64), "summary of {session}: {summary}");
    }
}

#[test]
fn batches_reach_the_control_plane_once_each_in_order() {
    let dir = TempDir::new("upload-order");
    let cp = ControlPlane::start(&dir.path().join("cp"), &[]);
    let runner = enrolled_runner(&cp, &dir, "");
    let mut acked: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for seq in 1..=20u64 {
        for session in ["order-a", "order-b", "order-c"] {
            let body = batch(session, seq, (seq % 4) as usize + 1);
            assert_eq!(runner.post(&body, &[]).status, 202);
            acked.entry(session.into()).or_default().push(seq);
        }
        // A retry of the same batch is acknowledged but must not arrive twice.
        assert_eq!(runner.post(&batch("order-a", seq, 1), &[]).status, 202);
    }
    wait_drained(&runner, Duration::from_secs(30));
    assert_exactly_once(&cp, &acked);
    let batches = cp.session_batches("order-b");
    let (seq, first) = &batches[0];
    assert_eq!(*seq, 1);
    assert_eq!(first["session_id"], "order-b");
    assert_eq!(first["events"].as_array().map(Vec::len), Some(2));
    let (status, body) = cp.admin("GET", "/v1/admin/sessions/order-b/events", None);
    assert_eq!(status, 200);
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), batches.iter().map(|(_, b)| b["events"].as_array().map_or(0, Vec::len)).sum::<usize>());

    // The runner reports its status; the control plane lists it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = cp.admin("GET", "/v1/admin/runners", None);
        let runner_info = &body["runners"][0];
        if runner_info["buffer"]["depth"].as_u64() == Some(0) && runner_info["upload"]["chunks"].as_u64() > Some(0) {
            assert_eq!(runner_info["revoked"], false);
            assert!(runner_info["cert_not_after_ms"].as_u64() > Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "status never reported: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(runner.stop().code(), Some(0));
}

/// Posts batches until `stop` is set, retrying each until it gets a 202; records what was acknowledged.
fn load(
    addr: impl Fn() -> std::net::SocketAddr + Send + 'static,
    session: &'static str,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut seq = 1;
        while !stop.load(Ordering::SeqCst) {
            let body = batch(session, seq, 3);
            loop {
                match post_batch(addr(), &body) {
                    Ok(response) if response.status == 202 => break,
                    _ if stop.load(Ordering::SeqCst) => return,
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            acked.lock().unwrap().push(seq);
            seq += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

#[test]
fn a_control_plane_outage_is_buffered_and_drained_exactly_once() {
    let dir = TempDir::new("upload-outage");
    let mut cp = ControlPlane::start(&dir.path().join("cp"), &[]);
    let runner = enrolled_runner(&cp, &dir, "");
    let addr = runner.addr;
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
    let loader = load(move || addr, "outage", stop.clone(), acked.clone());
    let acked_count = || acked.lock().unwrap().len();
    common::wait_until("batches acknowledged before the outage", Duration::from_secs(30), || acked_count() >= 20);
    cp.stop();
    let during = acked_count();
    // The runner keeps acknowledging and buffering while the control plane is gone.
    common::wait_until("acknowledgements during the outage", Duration::from_secs(30), || acked_count() > during + 20);
    common::wait_until("batches buffered during the outage", Duration::from_secs(30), || {
        runner.metric("traceflow_runner_buffer_depth_chunks") > 0.0
    });
    cp.resume();
    let resumed = acked_count();
    common::wait_until("acknowledgements after the outage", Duration::from_secs(30), || acked_count() > resumed + 20);
    stop.store(true, Ordering::SeqCst);
    loader.join().unwrap();
    wait_drained(&runner, Duration::from_secs(60));
    let acked = BTreeMap::from([("outage".to_string(), acked.lock().unwrap().clone())]);
    assert_exactly_once(&cp, &acked);
    assert!(runner.metric("traceflow_runner_upload_chunks_total{outcome=\"retry\"}") > 0.0);
}

#[test]
fn runner_killed_during_uploads_loses_and_duplicates_nothing() {
    let dir = TempDir::new("upload-kill");
    let cp = ControlPlane::start(&dir.path().join("cp"), &[]);
    let data = dir.path().join("runner");
    cp.enroll(&data);
    let mut acked: Vec<u64> = Vec::new();
    let mut seq = 1;
    for round in 0..6 {
        let runner = Runner::start(&data, UPLOAD);
        let until = Instant::now() + Duration::from_millis(300 + 100 * round);
        while Instant::now() < until {
            if runner.post(&batch("killed", seq, 2), &[]).status == 202 {
                acked.push(seq);
            }
            seq += 1;
        }
        runner.kill();
    }
    let runner = Runner::start(&data, UPLOAD);
    wait_drained(&runner, Duration::from_secs(60));
    assert!(acked.len() > 50, "only {} batches acknowledged", acked.len());
    assert_exactly_once(&cp, &BTreeMap::from([("killed".to_string(), acked)]));
    assert_eq!(runner.stop().code(), Some(0));
}

fn client_cert(data: &Path) -> String {
    std::fs::read_to_string(data.join("identity/client.pem")).expect("client certificate")
}

#[test]
fn certificate_renewal_under_load_loses_nothing() {
    let dir = TempDir::new("upload-renew");
    // Runner certificates live 6 s, so renewal is due after 4 s.
    let cp = ControlPlane::start(&dir.path().join("cp"), &["--runner-cert-ttl", "6s"]);
    let runner = enrolled_runner(&cp, &dir, "");
    let first = client_cert(&runner.data_dir);
    let addr = runner.addr;
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
    let loader = load(move || addr, "renewal", stop.clone(), acked.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    while runner.metric("traceflow_runner_certificate_renewals_total{outcome=\"renewed\"}") < 2.0 {
        assert!(Instant::now() < deadline, "the certificate was not renewed twice within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::SeqCst);
    loader.join().unwrap();
    assert_ne!(client_cert(&runner.data_dir), first, "the renewed certificate replaced the first one");
    wait_drained(&runner, Duration::from_secs(30));
    assert_exactly_once(&cp, &BTreeMap::from([("renewal".to_string(), acked.lock().unwrap().clone())]));
    assert_eq!(runner.metric("traceflow_runner_upload_chunks_total{outcome=\"refused\"}"), 0.0);
}

#[test]
fn a_revoked_runner_keeps_buffering_and_loses_nothing() {
    let dir = TempDir::new("upload-revoke");
    let cp = ControlPlane::start(&dir.path().join("cp"), &[]);
    let runner = enrolled_runner(&cp, &dir, "");
    assert_eq!(runner.post(&batch("revoked", 1, 1), &[]).status, 202);
    wait_drained(&runner, Duration::from_secs(30));
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runner.data_dir.join("identity/runner.json")).unwrap()).unwrap();
    let id = identity["runner_id"].as_str().unwrap();
    let (status, body) = cp.admin("POST", &format!("/v1/admin/runners/{id}/revoke"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(runner.post(&batch("revoked", 2, 1), &[]).status, 202, "ingest goes on while revoked");
    let deadline = Instant::now() + Duration::from_secs(10);
    while runner.metric("traceflow_runner_upload_chunks_total{outcome=\"refused\"}") < 1.0 {
        assert!(Instant::now() < deadline, "revocation was not noticed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(runner.metric("traceflow_runner_buffer_depth_chunks"), 1.0, "the chunk stays buffered");
    let data = runner.data_dir.clone();
    assert_eq!(runner.stop().code(), Some(0));
    assert_eq!(common::dump(&data), vec![("revoked".to_string(), 2)]);
}

#[test]
fn data_dirs_stay_private_under_an_open_umask() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: umask(2) only sets this test process's creation mask (inherited by the processes it starts).
    let previous = unsafe { libc::umask(0o022) };
    let dir = TempDir::new("upload-private");
    // A runner data dir left open by an earlier version: tightened at start.
    let data = dir.path().join("runner");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cp = ControlPlane::start(&dir.path().join("cp"), &[]);
    cp.enroll(&data);
    let runner = Runner::start(&data, UPLOAD);
    for seq in 1..=3 {
        assert_eq!(runner.post(&batch("private", seq, 2), &[]).status, 202);
    }
    wait_drained(&runner, Duration::from_secs(30));
    assert_eq!(runner.stop().code(), Some(0));
    for data_dir in [data.as_path(), cp.data_dir.as_path()] {
        let open = traceflow_store::private::open_paths(data_dir).unwrap();
        assert!(open.is_empty(), "open to the group or others: {open:?}");
    }
    // SAFETY: as above; restores the mask this process had.
    unsafe { libc::umask(previous) };
}
