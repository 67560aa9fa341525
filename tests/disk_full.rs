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

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_nearly_full_disk_refuses_new_batches_and_ingest_resumes_when_space_returns() {
    let dir = TempDir::new("disk-full");
    let Some(mount) = Mount::tmpfs(&dir.path().join("fs"), 64) else {
        eprintln!("cannot mount a tmpfs here (not root?): nothing checked");
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
        eprintln!("cannot mount a tmpfs here (not root?): nothing checked");
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

/// Free bytes of the filesystem holding `path`, from `df`.
fn fs_free(path: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df output")
}
