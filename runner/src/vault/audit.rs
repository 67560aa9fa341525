//! The vault's audit log: one JSON line per operation (who, when, which token, what happened), appended with
//! O_APPEND and fsync'd before the operation's result is shown. It never holds an original value: the token
//! field is filled only with text that has the shape of a token.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use traceflow_pii::is_token;

use super::now_ms;

/// One line of the audit log.
/// How an audited operation ended (`ok` or `failed` in the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Ok,
    Failed,
}

#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    pub time_ms: u64,
    pub operation: &'static str,
    /// The token operated on, if the operation names one and it has the shape of a token.
    pub token: Option<&'a str>,
    pub key_version: Option<u32>,
    /// `$USER`, as the operator's session reports it.
    pub user: Option<String>,
    /// The real user id, which `$USER` cannot fake.
    pub uid: u32,
    pub pid: u32,
    pub outcome: AuditOutcome,
    pub reason: Option<String>,
}

impl<'a> AuditRecord<'a> {
    /// A record for the calling process, timestamped now.
    pub fn new(operation: &'static str, token: Option<&'a str>, key_version: Option<u32>) -> AuditRecord<'a> {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        AuditRecord {
            time_ms: now_ms(),
            operation,
            token: token.filter(|text| is_token(text)),
            key_version,
            user: std::env::var("USER").ok(),
            uid,
            pid: std::process::id(),
            outcome: AuditOutcome::Ok,
            reason: None,
        }
    }
}

pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> AuditLog {
        AuditLog { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and waits until it is on disk.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let created = !self.path.exists();
        let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(&self.path)?;
        // One write: appends from concurrent processes do not interleave within a line.
        file.write_all(&line)?;
        file.sync_data()?;
        if created {
            // A new file's name is durable only once its directory is.
            let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
