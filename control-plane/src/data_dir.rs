//! The control plane's data directory: what `traceflow-cp init` creates once and `serve` loads.
//!
//! ```text
//! DATA_DIR/ca.pem              the CA certificate (runners and admin clients trust it)
//! DATA_DIR/ca.key              the CA private key, PKCS#8, mode 0600
//! DATA_DIR/server.pem          the server certificate (localhost, 127.0.0.1 and --server-name names)
//! DATA_DIR/server.key          its private key, mode 0600
//! DATA_DIR/policy-signing.key  the Ed25519 policy-signing key, PKCS#8 PEM, mode 0600
//! DATA_DIR/db/                 the database (see `store`)
//! ```
//! `ca.pem` is written last, so its presence means initialisation finished.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use traceflow_certs::{write_private, Ca, CertError, KeyAndCert};

use crate::store::{self, AdminToken, Store, StoreError};
use crate::{is_entity_name, now_ms, random_id, sha256};

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";
pub const POLICY_KEY: &str = "policy-signing.key";
pub const DB: &str = "db";

const CA_DAYS: u32 = 3650;
const SERVER_CERT_DAYS: u32 = 825;

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{0} is already initialised (it has a ca.pem); refusing to overwrite it")]
    AlreadyInitialised(PathBuf),
    #[error(
        "{0} has a database but no ca.pem: an earlier init did not finish; remove the directory and run init again"
    )]
    Incomplete(PathBuf),
    #[error("{0} is not initialised: run `traceflow-cp init --data-dir {0}` first")]
    NotInitialised(PathBuf),
    #[error("invalid {what} `{value}`: use 1 to 64 characters of [A-Za-z0-9._-]")]
    InvalidName { what: &'static str, value: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("policy-signing key: {0}")]
    PolicyKey(String),
}

/// What `init` creates.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub data_dir: PathBuf,
    pub tenant: String,
    pub group: String,
    pub project: String,
    /// Extra DNS names or IP addresses for the server certificate (besides localhost and 127.0.0.1).
    pub server_names: Vec<String>,
}

impl InitOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> InitOptions {
        InitOptions {
            data_dir: data_dir.into(),
            tenant: "default".into(),
            group: "default".into(),
            project: "default".into(),
            server_names: Vec::new(),
        }
    }
}

/// The result of `init`; the admin token is shown here once and stored only as its SHA-256.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    pub admin_token: String,
    pub ca_cert: String,
    pub tenant: String,
    pub group: String,
    pub project: String,
    pub data_dir: String,
}

/// What `serve` needs from the data directory.
pub struct Loaded {
    pub ca: Ca,
    pub server: KeyAndCert,
    /// The policy-signing key: it signs every policy revision once, when the revision is created.
    pub policy_key: Arc<Ed25519KeyPair>,
    /// The raw 32-byte Ed25519 public key of the policy-signing key.
    pub policy_public_key: Vec<u8>,
}

impl Loaded {
    /// The policy public key as `/v1/enroll` returns it.
    pub fn policy_public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.policy_public_key)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io { path: path.to_path_buf(), source }
}

/// Creates the CA, server certificate, policy-signing key, database, first tenant/group/project and admin token.
pub fn init(options: &InitOptions) -> Result<InitReport, DataDirError> {
    for (what, value) in [("tenant", &options.tenant), ("group", &options.group), ("project", &options.project)] {
        if !is_entity_name(value) {
            return Err(DataDirError::InvalidName { what, value: value.clone() });
        }
    }
    let dir = &options.data_dir;
    if dir.join(CA_CERT).exists() {
        return Err(DataDirError::AlreadyInitialised(dir.clone()));
    }
    if dir.join(DB).exists() {
        return Err(DataDirError::Incomplete(dir.clone()));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(io(dir))?;

    let ca = Ca::generate("TRACEFLOW control plane CA", CA_DAYS)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    for name in &options.server_names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let server = ca.issue_server(&names, SERVER_CERT_DAYS)?;
    let rng = ring::rand::SystemRandom::new();
    let policy_key = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| DataDirError::PolicyKey(e.to_string()))?;
    let admin_token = random_id("adm_", 20).map_err(|e| DataDirError::PolicyKey(e.to_string()))?;

    let now = now_ms();
    let store = Store::open(&dir.join(DB), 16 * 1024 * 1024)?;
    store.ensure_entity(&store::entity_key("tenant", &options.tenant, None), &options.tenant, now)?;
    store.ensure_entity(&store::entity_key("group", &options.tenant, Some(&options.group)), &options.group, now)?;
    store.ensure_entity(
        &store::entity_key("project", &options.tenant, Some(&options.project)),
        &options.project,
        now,
    )?;
    let record = AdminToken { tenant: options.tenant.clone(), created_at_ms: now };
    store
        .tokens
        .insert(store::token_key(store::ADMIN_TOKEN_PREFIX, &sha256(admin_token.as_bytes())), store::encode(&record))
        .map_err(StoreError::from)?;
    store.db.sync().map_err(StoreError::from)?;
    drop(store);

    let write = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        write_private(&path, contents).map_err(io(&path))
    };
    write(SERVER_KEY, server.key_pem.as_bytes())?;
    write(SERVER_CERT, server.cert_pem.as_bytes())?;
    write(POLICY_KEY, pkcs8_pem(policy_key.as_ref()).as_bytes())?;
    write(CA_KEY, ca.key_pem().as_bytes())?;
    write(CA_CERT, ca.cert_pem().as_bytes())?;
    Ok(InitReport {
        admin_token,
        ca_cert: ca.cert_pem().to_string(),
        tenant: options.tenant.clone(),
        group: options.group.clone(),
        project: options.project.clone(),
        data_dir: dir.display().to_string(),
    })
}

/// Loads the CA, server certificate and policy-signing key of an initialised directory.
pub fn load(dir: &Path) -> Result<Loaded, DataDirError> {
    if !dir.join(CA_CERT).exists() {
        return Err(if dir.join(DB).exists() {
            DataDirError::Incomplete(dir.to_path_buf())
        } else {
            DataDirError::NotInitialised(dir.to_path_buf())
        });
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(io(&path))
    };
    let ca = Ca::from_pem(&read(CA_CERT)?, &read(CA_KEY)?)?;
    let server = KeyAndCert { key_pem: read(SERVER_KEY)?, cert_pem: read(SERVER_CERT)? };
    let policy_pem = read(POLICY_KEY)?;
    use rustls::pki_types::pem::PemObject;
    let der = match rustls::pki_types::PrivateKeyDer::from_pem_slice(policy_pem.as_bytes()) {
        Ok(rustls::pki_types::PrivateKeyDer::Pkcs8(der)) => der,
        _ => return Err(DataDirError::PolicyKey("no PKCS#8 PRIVATE KEY block".into())),
    };
    let key = Ed25519KeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|e| DataDirError::PolicyKey(e.to_string()))?;
    let policy_public_key = key.public_key().as_ref().to_vec();
    Ok(Loaded { ca, server, policy_key: Arc::new(key), policy_public_key })
}

fn pkcs8_pem(der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn init_then_load_and_refuse_a_second_init() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        let mut options = InitOptions::new(&dir);
        options.server_names = vec!["cp.example.com".into()];
        let report = init(&options).unwrap();
        assert!(report.admin_token.starts_with("adm_") && report.admin_token.len() == 36);
        for key in [CA_KEY, SERVER_KEY, POLICY_KEY] {
            assert_eq!(std::fs::metadata(dir.join(key)).unwrap().permissions().mode() & 0o777, 0o600, "{key}");
        }
        let loaded = load(&dir).unwrap();
        assert_eq!(loaded.ca.cert_pem(), report.ca_cert);
        assert_eq!(loaded.policy_public_key.len(), 32);
        assert!(matches!(init(&options), Err(DataDirError::AlreadyInitialised(_))));
        // The admin token is stored only as its hash.
        let store = Store::open(&dir.join(DB), 1 << 20).unwrap();
        let stored: Vec<Vec<u8>> = store.tokens.iter().keys().map(|k| k.unwrap().to_vec()).collect();
        assert_eq!(stored, vec![store::token_key(store::ADMIN_TOKEN_PREFIX, &sha256(report.admin_token.as_bytes()))]);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(load(&dir), Err(DataDirError::NotInitialised(_))));
        let mut bad = InitOptions::new(&dir);
        bad.tenant = "a/b".into();
        assert!(matches!(init(&bad), Err(DataDirError::InvalidName { .. })));
    }
}
