//! The runner's identity with its control plane: enrollment, the files it leaves in the data dir, and
//! certificate renewal.
//!
//! ```text
//! DATA_DIR/identity/runner.json   runner id, tenant, group, control-plane URL, certificate validity, policy key
//! DATA_DIR/identity/client.key    private key (0600); generated here, never sent anywhere
//! DATA_DIR/identity/client.pem    client certificate issued by the control plane's CA
//! DATA_DIR/identity/ca.pem        the CA the control plane's server certificate must chain to
//! DATA_DIR/identity/next.{key,pem} a renewed certificate not yet proven (see `Identity::promote_next`)
//! ```
//!
//! Renewal follows "switch only after it works": the new key and certificate are written as `next.*`, one call
//! is made with them, and only then do they replace `client.*`. A crash in between leaves the old pair in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use traceflow_certs::KeyAndCert;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid identity file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("certificate error: {0}")]
    Cert(String),
    #[error("{0}")]
    Refused(String),
    #[error("cannot reach the control plane at {url}: {message}")]
    Unreachable { url: String, message: String },
}

/// What `runner.json` records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityInfo {
    pub runner_id: String,
    pub tenant: String,
    pub group: String,
    /// Base URL the runner connects to (`https://host:port`).
    pub control_plane_url: String,
    /// When the current certificate was obtained, epoch ms (start of its lifetime for renewal purposes).
    pub issued_at_ms: u64,
    pub not_after_ms: u64,
    /// Base64 of the raw Ed25519 key that signs policies, pinned at enrollment.
    pub policy_public_key: String,
}

/// A loaded identity: what the uploader needs to talk to the control plane.
#[derive(Clone)]
pub struct Identity {
    pub info: IdentityInfo,
    pub ca_pem: String,
    pub client: KeyAndCert,
    pub tls: Arc<rustls::ClientConfig>,
}

pub fn identity_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("identity")
}

fn read(path: &Path) -> Result<String, IdentityError> {
    std::fs::read_to_string(path).map_err(|source| IdentityError::Io { path: path.to_owned(), source })
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), IdentityError> {
    traceflow_certs::write_private(path, contents).map_err(|source| IdentityError::Io { path: path.to_owned(), source })
}

impl Identity {
    /// Whether `data_dir` holds an enrolled identity.
    pub fn exists(data_dir: &Path) -> bool {
        identity_dir(data_dir).join("runner.json").exists()
    }

    pub fn load(data_dir: &Path) -> Result<Identity, IdentityError> {
        let dir = identity_dir(data_dir);
        let info_path = dir.join("runner.json");
        let info: IdentityInfo = serde_json::from_str(&read(&info_path)?)
            .map_err(|e| IdentityError::Invalid { path: info_path.clone(), message: e.to_string() })?;
        let key_path = dir.join("client.key");
        check_private(&key_path)?;
        let client = KeyAndCert { key_pem: read(&key_path)?, cert_pem: read(&dir.join("client.pem"))? };
        let ca_pem = read(&dir.join("ca.pem"))?;
        Identity::build(info, ca_pem, client)
    }

    fn build(info: IdentityInfo, ca_pem: String, client: KeyAndCert) -> Result<Identity, IdentityError> {
        let tls =
            traceflow_certs::client_config(&ca_pem, Some(&client)).map_err(|e| IdentityError::Cert(e.to_string()))?;
        Ok(Identity { info, ca_pem, client, tls })
    }

    fn save(&self, data_dir: &Path) -> Result<(), IdentityError> {
        let dir = identity_dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(|source| IdentityError::Io { path: dir.clone(), source })?;
        write_private(&dir.join("client.key"), self.client.key_pem.as_bytes())?;
        write_private(&dir.join("client.pem"), self.client.cert_pem.as_bytes())?;
        write_private(&dir.join("ca.pem"), self.ca_pem.as_bytes())?;
        let info = serde_json::to_vec_pretty(&self.info).unwrap_or_default();
        // Written last: its presence means the identity is complete.
        write_private(&dir.join("runner.json"), &info)
    }

    /// The moment renewal is due: two thirds into the certificate's lifetime.
    pub fn renew_at_ms(&self) -> u64 {
        let info = &self.info;
        info.issued_at_ms + info.not_after_ms.saturating_sub(info.issued_at_ms) * 2 / 3
    }

    /// A copy with a renewed key and certificate, not yet saved.
    pub fn with_certificate(
        &self,
        client: KeyAndCert,
        issued_at_ms: u64,
        not_after_ms: u64,
    ) -> Result<Identity, IdentityError> {
        let info = IdentityInfo { issued_at_ms, not_after_ms, ..self.info.clone() };
        Identity::build(info, self.ca_pem.clone(), client)
    }

    /// Keeps a renewed certificate aside until a call with it has succeeded.
    pub fn save_next(&self, data_dir: &Path) -> Result<(), IdentityError> {
        let dir = identity_dir(data_dir);
        write_private(&dir.join("next.key"), self.client.key_pem.as_bytes())?;
        write_private(&dir.join("next.pem"), self.client.cert_pem.as_bytes())
    }

    /// Makes a proven renewed certificate the current one.
    pub fn promote_next(&self, data_dir: &Path) -> Result<(), IdentityError> {
        self.save(data_dir)?;
        let dir = identity_dir(data_dir);
        for name in ["next.key", "next.pem"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        Ok(())
    }

    /// Base URL with an optional override (e.g. `traceflow up` restarted the control plane on another port).
    pub fn url(&self, override_url: Option<&str>) -> String {
        override_url.unwrap_or(&self.info.control_plane_url).trim_end_matches('/').to_string()
    }
}

/// Refuses private keys readable by group or others, as ssh does.
fn check_private(path: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| IdentityError::Io { path: path.to_owned(), source })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(IdentityError::Invalid {
            path: path.to_owned(),
            message: format!("permissions {:o} are too open; run chmod 600", meta.permissions().mode() & 0o777),
        });
    }
    Ok(())
}

#[derive(Serialize)]
struct EnrollRequest<'a> {
    token: &'a str,
    csr_pem: &'a str,
    hostname: &'a str,
    version: &'a str,
}

#[derive(Deserialize)]
struct EnrollAnswer {
    runner_id: String,
    tenant: String,
    group: String,
    cert_pem: String,
    ca_pem: String,
    not_after_ms: u64,
    policy_public_key: String,
}

/// `POST /v1/enroll`: makes a key pair here, sends only the CSR, and saves the issued identity.
pub async fn enroll(data_dir: &Path, url: &str, token: &str, ca_pem: &str) -> Result<Identity, IdentityError> {
    if Identity::exists(data_dir) {
        return Err(IdentityError::Refused(format!(
            "{} is already enrolled; use another data dir or remove {}",
            data_dir.display(),
            identity_dir(data_dir).display()
        )));
    }
    let hostname = hostname();
    let pair = traceflow_certs::generate_key_and_csr(&hostname).map_err(|e| IdentityError::Cert(e.to_string()))?;
    let tls = traceflow_certs::client_config(ca_pem, None).map_err(|e| IdentityError::Cert(e.to_string()))?;
    let url = url.trim_end_matches('/');
    let body = serde_json::to_vec(&EnrollRequest {
        token,
        csr_pem: &pair.csr_pem,
        hostname: &hostname,
        version: env!("CARGO_PKG_VERSION"),
    })
    .unwrap_or_default();
    let reply = crate::link::call_once(tls, url, "/v1/enroll", &[], body.into())
        .await
        .map_err(|e| IdentityError::Unreachable { url: url.to_string(), message: e.to_string() })?;
    if reply.status != 200 {
        return Err(IdentityError::Refused(format!("enrollment refused: {}", reply.describe())));
    }
    let answer: EnrollAnswer = serde_json::from_slice(&reply.body)
        .map_err(|e| IdentityError::Refused(format!("unexpected enrollment answer: {e}")))?;
    let info = IdentityInfo {
        runner_id: answer.runner_id,
        tenant: answer.tenant,
        group: answer.group,
        control_plane_url: url.to_string(),
        issued_at_ms: crate::clock::now_ms(),
        not_after_ms: answer.not_after_ms,
        policy_public_key: answer.policy_public_key,
    };
    let identity =
        Identity::build(info, answer.ca_pem, KeyAndCert { key_pem: pair.key_pem, cert_pem: answer.cert_pem })?;
    identity.save(data_dir)?;
    Ok(identity)
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "runner".into())
}
