//! A nearly full filesystem under a real runner: new batches are refused with 503 `disk_full` and `/readyz` says
//! why before the storage engine can meet ENOSPC, and ingest resumes by itself, without a restart, once space
//! returns. The data dir lives on a small tmpfs mounted for the test (CI runs as root; elsewhere the test says
//! it cannot mount and checks nothing).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{batch, Runner, TempDir};

const MIB: u64 = 1024 * 1024;

/// A tmpfs mounted on a directory of its own, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size_mib: u64) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m,mode=0700"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?;
        status.success().then(|| Mount(dir.to_path_buf()))
    }
}

impl Mount {
    /// A fresh ext4 filesystem of `size_mib` in an image file, loop-mounted on `dir`.
    fn ext4(image: &Path, dir: &Path, size_mib: u64) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::File::create(image).unwrap().set_len(size_mib * MIB).unwrap();
        let made = Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image).status().ok()?;
        let mounted =
            made.success().then(|| Command::new("mount").args(["-o", "loop"]).arg(image).arg(dir).status().ok())??;
        mounted.success().then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_nearly_full_disk_refuses_new_batches_and_ingest_resumes_when_space_returns() {
    let dir = TempDir::new("disk-full");
    let Some(mount) = Mount::tmpfs(&dir.path().join("fs"), 64) else {
        skip("cannot mount a tmpfs here (not root?)");
        return;
    };
    let data = mount.0.join("data");
    let runner = Runner::start(&data, &format!("[storage]\nmin_free_bytes = {}\n", 24 * MIB));
    assert_eq!(runner.post(&batch("roomy", 1, 3), &[]).status, 202);
    assert_eq!(runner.get("/readyz").status, 200);

    // Someone else fills the filesystem to below the floor.
    let free = fs_free(&mount.0);
    let filler = mount.0.join("filler");
    std::fs::write(&filler, vec![0u8; (free - 16 * MIB) as usize]).unwrap();
    common::wait_until("the runner to report the disk full", Duration::from_secs(10), || {
        runner.get("/readyz").text().contains("disk_full")
    });
    assert_eq!(runner.get("/readyz").status, 503);
    let refused = runner.post(&batch("full", 1, 3), &[]);
    assert_eq!((refused.status, refused.code().as_str()), (503, "disk_full"), "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert_eq!(runner.metric("traceflow_runner_storage_low"), 1.0);

    // Space returns: ingest resumes within seconds, with no restart.
    std::fs::remove_file(&filler).unwrap();
    common::wait_until("ingest to resume", Duration::from_secs(10), || {
        runner.post(&batch("after", 1, 3), &[]).status == 202
    });
    assert_eq!(runner.get("/readyz").status, 200);
    assert_eq!(runner.stop().code(), Some(0));
    let stored: Vec<String> = common::dump(&data).into_iter().map(|(session, _)| session).collect();
    assert!(stored.contains(&"roomy".to_string()) && stored.contains(&"after".to_string()), "{stored:?}");
    assert!(!stored.contains(&"full".to_string()));
    drop(mount);
}

#[test]
fn on_a_nearly_full_disk_sigterm_exits_and_a_restart_opens_and_serves() {
    let dir = TempDir::new("disk-full-restart");
    let Some(mount) = Mount::tmpfs(&dir.path().join("fs"), 64) else {
        skip("cannot mount a tmpfs here (not root?)");
        return;
    };
    let data = mount.0.join("data");
    let extra = format!("[storage]\nmin_free_bytes = {}\n", 24 * MIB);
    let runner = Runner::start(&data, &extra);
    for seq in 1..=5 {
        assert_eq!(runner.post(&batch("before", seq, 3), &[]).status, 202);
    }
    std::fs::write(mount.0.join("filler"), vec![0u8; (fs_free(&mount.0) - 8 * MIB) as usize]).unwrap();
    common::wait_until("the runner to report the disk full", Duration::from_secs(10), || {
        runner.get("/readyz").text().contains("disk_full")
    });
    // SIGTERM on the nearly full disk: a clean exit (Runner::stop waits at most 20 s).
    assert_eq!(runner.stop().code(), Some(0));
    // A restart on the same filesystem opens the store, serves, and says why it refuses batches.
    let runner = Runner::start(&data, &extra);
    assert_eq!(runner.get("/healthz").status, 200);
    assert!(runner.get("/readyz").text().contains("disk_full"));
    assert_eq!(runner.post(&batch("while-full", 1, 3), &[]).code(), "disk_full");
    assert_eq!(runner.stop().code(), Some(0));
    let stored = common::dump(&data);
    assert_eq!(stored.iter().filter(|(session, _)| session == "before").count(), 5, "every acked batch: {stored:?}");
    drop(mount);
}

/// A batch of ~`kib` KiB: a few events and a replay snapshot of text that does not compress away.
fn sized_batch(session: &str, seq: u64, kib: usize, seed: &mut u64) -> Vec<u8> {
    let text: String = (0..kib * 1024)
        .map(|i| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            if i % 7 == 6 {
                ' '
            } else {
                char::from(b'a' + (*seed % 26) as u8)
            }
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "session_id": session, "visitor_id": "v-1", "seq": seq, "sent_at": 1732265000000u64,
        "context": {"url": "https://bank.test/apply", "sdk": "traceflow-web/0.1"},
        "events": [{"type": "input", "ts": 1732265000000u64, "email": format!("user{seq}@example.com")}],
        "replay": [{"type": 2, "data": {"node": {"type": 3, "textContent": text}}, "timestamp": 1732265000000u64}]
    }))
    .unwrap()
}

/// Modification time and length of every file under `dir`.
fn files(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(files(&entry.path()));
        } else {
            out.push((entry.path(), meta.len(), meta.modified().unwrap()));
        }
    }
    out.sort();
    out
}

/// On a real ext4 filesystem of 100 MiB, filled by ingest: with the free-space guard (the default floor) and
/// without it (`min_free_bytes = 0`, so the storage engine itself meets ENOSPC). Either way: the first refusal is a
/// 503 with Retry-After, SIGTERM exits within the grace, the read-only tools run on the full filesystem and change
/// nothing, a restart opens and serves, ingest resumes without a restart within 10 s of space returning, and every
/// 202 is in the buffer.
fn fill_a_loop_filesystem(tag: &str, extra: &str, expect_code: &str) {
    let dir = TempDir::new(tag);
    let Some(mount) = Mount::ext4(&dir.path().join("fs.img"), &dir.path().join("fs"), 100) else {
        skip("cannot make or loop-mount an ext4 filesystem here (not root?)");
        return;
    };
    let data = mount.0.join("data");
    // Space an operator can free later.
    let ballast = mount.0.join("ballast");
    std::fs::write(&ballast, vec![1u8; (12 * MIB) as usize]).unwrap();
    let runner = Runner::start(&data, extra);
    let mut seed = common::seed_random() | 1;
    let mut acked = Vec::new();
    let refusal = loop {
        let seq = acked.len() as u64 + 1;
        let response = runner.post(&sized_batch("fill", seq, 8 + (seq as usize * 7) % 52, &mut seed), &[]);
        match response.status {
            202 => acked.push(seq),
            _ => break response,
        }
        assert!(acked.len() < 20_000, "the filesystem never filled");
    };
    assert_eq!(refusal.status, 503, "{}", refusal.text());
    assert_eq!(refusal.code(), expect_code, "{}", refusal.text());
    assert!(refusal.header("retry-after").is_some());
    if expect_code == "disk_full" {
        assert_eq!(runner.get("/readyz").status, 503);
    }
    eprintln!("{tag}: {} batches acknowledged before the first refusal", acked.len());

    // SIGTERM on the full filesystem: a clean exit within the grace (Runner::stop waits at most 20 s).
    assert_eq!(runner.stop().code(), Some(0));
    // The offline tools on the full filesystem succeed and change nothing.
    let before = files(&data);
    let stored = common::dump(&data);
    let stats = Command::new(common::binary("traceflow-runner"))
        .args(["buffer", "stats", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    assert_eq!(files(&data), before, "a read-only tool wrote under the data dir");
    let held: Vec<u64> = stored.iter().filter(|(s, _)| s == "fill").map(|(_, seq)| *seq).collect();
    for seq in &acked {
        assert!(held.contains(seq), "acknowledged batch {seq} is not in the buffer");
    }

    // A restart on the full filesystem opens and serves.
    let runner = Runner::start(&data, extra);
    assert_eq!(runner.get("/healthz").status, 200);
    // Space returns: ingest resumes without a restart within 10 s.
    std::fs::remove_file(&ballast).unwrap();
    let mut seq = acked.len() as u64 + 1;
    common::wait_until("ingest to resume", Duration::from_secs(10), || {
        let status = runner.post(&sized_batch("fill", seq, 8, &mut seed), &[]).status;
        if status == 202 {
            acked.push(seq);
        }
        seq += 1;
        status == 202
    });
    assert_eq!(runner.stop().code(), Some(0));
    let held: Vec<u64> = common::dump(&data).into_iter().filter(|(s, _)| s == "fill").map(|(_, seq)| seq).collect();
    for seq in &acked {
        assert!(held.contains(seq), "acknowledged batch {seq} is not in the buffer after the restart");
    }
    drop(mount);
}

#[test]
fn a_real_ext4_filesystem_filled_by_ingest_behind_the_free_space_guard() {
    fill_a_loop_filesystem("loop-guard", "", "disk_full");
}

#[test]
fn a_real_ext4_filesystem_filled_by_ingest_until_the_engine_meets_enospc() {
    fill_a_loop_filesystem("loop-enospc", "[storage]\nmin_free_bytes = 0\n", "buffer_unavailable");
}

/// A `traceflow up` process: a control plane and an enrolled runner in one data dir.
struct Up {
    child: std::process::Child,
    ingest: std::net::SocketAddr,
    info: serde_json::Value,
}

impl Up {
    fn start(data: &Path) -> Up {
        let ingest: std::net::SocketAddr = format!("127.0.0.1:{}", common::cp::free_port()).parse().unwrap();
        let control_plane = format!("127.0.0.1:{}", common::cp::free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_traceflow"))
            .args(["up", "--data-dir"])
            .arg(data)
            .args(["--listen", &ingest.to_string(), "--control-plane-listen", &control_plane])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn traceflow up");
        let mut up = Up { child, ingest, info: serde_json::Value::Null };
        // The runner answers before `up.json` is written, and a restart finds the last run's: wait for this run's.
        common::wait_until("traceflow up to serve", Duration::from_secs(30), || {
            common::try_request(ingest, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200)
                && std::fs::read(data.join("up.json"))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                    .is_some_and(|info| info["admin_url"].as_str().is_some_and(|url| url.ends_with(&control_plane)))
        });
        up.info = serde_json::from_slice(&std::fs::read(data.join("up.json")).unwrap()).unwrap();
        up
    }

    fn post(&self, body: &[u8]) -> common::Response {
        let auth = format!("Bearer {}", self.info["project_key"].as_str().unwrap());
        common::request(
            self.ingest,
            "POST",
            "/v1/batch",
            &[("authorization", &auth), ("content-type", "application/json")],
            body,
        )
    }

    /// Sequence numbers of `session` the control plane holds.
    fn stored_upstream(&self, session: &str) -> Vec<u64> {
        let ca = std::fs::read_to_string(self.info["ca_cert"].as_str().unwrap()).unwrap();
        let auth = format!("Bearer {}", self.info["admin_token"].as_str().unwrap());
        let base = self.info["admin_url"].as_str().unwrap();
        let mut seqs = Vec::new();
        let mut path = format!("/v1/admin/sessions/{session}/events");
        loop {
            let response =
                common::cp::https(&ca, None, &format!("{base}{path}"), "GET", &[("authorization", &auth)], Vec::new())
                    .unwrap();
            if response.status == 404 {
                return seqs;
            }
            assert_eq!(response.status, 200);
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            seqs.extend(body["batches"].as_array().unwrap().iter().map(|b| b["seq"].as_u64().unwrap()));
            match body["next_after_seq"].as_u64() {
                Some(after) => path = format!("/v1/admin/sessions/{session}/events?after_seq={after}"),
                None => return seqs,
            }
        }
    }

    /// SIGTERM, then the exit status (at most 30 s).
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        common::wait_exit(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `traceflow up` with everything (control plane, runner, `up.json`) on a 100 MiB ext4 filesystem, filled by
/// ingest at the default floors: 503 `disk_full` with Retry-After and not ready; SIGTERM exits; the read-only
/// tools change nothing; a restart serves; ingest resumes within 10 s of space returning; every 202 is in the
/// runner's buffer or the control plane; and no path is open to the group or others.
#[test]
fn traceflow_up_on_a_full_ext4_filesystem() {
    let dir = TempDir::new("loop-up");
    let Some(mount) = Mount::ext4(&dir.path().join("fs.img"), &dir.path().join("fs"), 100) else {
        skip("cannot make or loop-mount an ext4 filesystem here (not root?)");
        return;
    };
    let data = mount.0.join("up");
    let ballast = mount.0.join("ballast");
    std::fs::write(&ballast, vec![1u8; (12 * MIB) as usize]).unwrap();
    let up = Up::start(&data);
    let mut seed = common::seed_random() | 1;
    let mut acked = Vec::new();
    let refusal = loop {
        let seq = acked.len() as u64 + 1;
        let response = up.post(&sized_batch("up-fill", seq, 8 + (seq as usize * 7) % 52, &mut seed));
        if response.status != 202 {
            break response;
        }
        acked.push(seq);
        assert!(acked.len() < 20_000, "the filesystem never filled");
    };
    assert_eq!((refusal.status, refusal.code().as_str()), (503, "disk_full"), "{}", refusal.text());
    assert!(refusal.header("retry-after").is_some());
    let ready = common::request(up.ingest, "GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 503, "{}", ready.text());
    eprintln!("traceflow up: {} batches acknowledged before the first refusal", acked.len());
    assert_eq!(up.stop().code(), Some(0), "SIGTERM on the full filesystem");

    let runner = data.join("runner");
    let before = files(&data);
    let buffered: Vec<u64> =
        common::dump(&runner).into_iter().filter(|(s, _)| s == "up-fill").map(|(_, q)| q).collect();
    assert_eq!(files(&data), before, "a read-only tool wrote under the data dir");

    let up = Up::start(&data);
    std::fs::remove_file(&ballast).unwrap();
    let mut seq = acked.len() as u64 + 1;
    common::wait_until("ingest to resume", Duration::from_secs(10), || {
        let status = up.post(&sized_batch("up-fill", seq, 8, &mut seed)).status;
        if status == 202 {
            acked.push(seq);
        }
        seq += 1;
        status == 202
    });
    let upstream = up.stored_upstream("up-fill");
    assert_eq!(up.stop().code(), Some(0));
    let buffered_now: Vec<u64> =
        common::dump(&runner).into_iter().filter(|(s, _)| s == "up-fill").map(|(_, q)| q).collect();
    for seq in &acked {
        assert!(
            buffered_now.contains(seq) || upstream.contains(seq),
            "acknowledged batch {seq} is neither in the buffer nor in the control plane"
        );
    }
    eprintln!(
        "traceflow up: {} acknowledged; before the restart {} were still buffered; at the end {} upstream, {} buffered",
        acked.len(),
        buffered.len(),
        upstream.len(),
        buffered_now.len()
    );
    let open = traceflow_store::private::open_paths(&data).unwrap();
    assert!(open.is_empty(), "open to the group or others: {open:?}");
    drop(mount);
}

/// Says why a test checks nothing here; in CI (root, `CI=true`) that is a failure, not a skip.
fn skip(why: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}, but CI must be able to");
    eprintln!("{why}: nothing checked");
}

/// Free bytes of the filesystem holding `path`, from `df`.
fn fs_free(path: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df output")
}
