//! Enrollment: limited-use, expiring enrollment tokens; turning a token plus a runner's CSR into a runner identity
//! and client certificate; and renewing that certificate from a new CSR. Tokens are stored as SHA-256 only, and a
//! use is taken with a compare-and-swap, so concurrent enrollments can never exceed a token's uses.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use traceflow_certs::{Ca, CertError, IssuedCert};

use crate::error::ApiError;
use crate::store::{self, decode, encode, AuditEntry, CertRecord, EnrollmentToken, RunnerRecord, Store};
use crate::{is_entity_name, now_ms, random_id, sha256};

/// Runner certificates start this long before now, for runners whose clock is a little behind.
const CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Most enrollments one token may allow.
pub const MAX_TOKEN_USES: u32 = 100_000;
/// Longest enrollment token lifetime.
pub const MAX_TOKEN_TTL_SECS: u64 = 365 * 86_400;
/// Longest hostname or version string a runner may report.
pub const MAX_LABEL_LEN: usize = 256;

pub struct Enrollment {
    store: Arc<Store>,
    ca: Ca,
    policy_public_key: String,
    runner_cert_ttl: std::time::Duration,
}

#[derive(Deserialize)]
struct EnrollRequest {
    token: String,
    csr_pem: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollAnswer {
    pub runner_id: String,
    pub tenant: String,
    pub group: String,
    pub cert_pem: String,
    pub ca_pem: String,
    pub not_after_ms: u64,
    /// Base64 of the raw 32-byte Ed25519 key that signs policy bundles.
    pub policy_public_key: String,
}

#[derive(Deserialize)]
struct RenewRequest {
    csr_pem: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RenewAnswer {
    pub cert_pem: String,
    pub not_after_ms: u64,
}

/// A new enrollment token: the secret (shown once) and its record.
#[derive(Clone, Debug, Serialize)]
pub struct NewToken {
    pub token: String,
    pub id: String,
    pub group: String,
    pub uses: u32,
    pub expires_at_ms: u64,
}

/// Whether `token` has the shape of an enrollment token: `et_` + 32 base32 characters.
pub fn is_enrollment_token(token: &str) -> bool {
    token.strip_prefix("et_").is_some_and(|rest| {
        rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

impl Enrollment {
    pub fn new(
        store: Arc<Store>,
        ca: Ca,
        policy_public_key: String,
        runner_cert_ttl: std::time::Duration,
    ) -> Enrollment {
        Enrollment { store, ca, policy_public_key, runner_cert_ttl }
    }

    /// `POST /v1/enroll`.
    pub async fn enroll(&self, body: &[u8]) -> Result<EnrollAnswer, ApiError> {
        let request: EnrollRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid enroll request: {e}")))?;
        if request.hostname.len() > MAX_LABEL_LEN || request.version.len() > MAX_LABEL_LEN {
            return Err(ApiError::InvalidRequest(format!("hostname and version are at most {MAX_LABEL_LEN} bytes")));
        }
        if !is_enrollment_token(&request.token) {
            return Err(ApiError::EnrollmentTokenInvalid);
        }
        let key = store::token_key(store::ENROLLMENT_TOKEN_PREFIX, &sha256(request.token.as_bytes()));
        let now = now_ms();
        let token = self.token(&key)?.ok_or(ApiError::EnrollmentTokenInvalid)?;
        check_usable(&token, now)?;

        let runner_id = random_id("r_", 10).map_err(|_| ApiError::Unavailable("no randomness".into()))?;
        let issued = self.sign(&request.csr_pem, &token.tenant, &runner_id, now)?;
        // The CSR was good; only now is a use taken, so a bad request does not burn one.
        let token = self.take_use(&key, now)?;

        let runner = RunnerRecord {
            runner_id: runner_id.clone(),
            tenant: token.tenant.clone(),
            group: token.group.clone(),
            hostname: request.hostname,
            version: request.version,
            enrolled_at_ms: now,
            last_seen_ms: None,
            buffer: serde_json::json!({}),
            outcomes: serde_json::json!({}),
            upload: serde_json::json!({}),
            policy: serde_json::json!({}),
            cert_not_after_ms: issued.not_after_ms,
            revoked: false,
            revoked_at_ms: None,
        };
        self.store.runners.insert(runner_id.as_bytes(), encode(&runner)).map_err(store::StoreError::from)?;
        self.record_cert(&issued, &runner)?;
        self.store.audit(&AuditEntry {
            at_ms: now,
            tenant: token.tenant.clone(),
            actor: format!("enrollment:{}", token.id),
            action: "enroll".into(),
            target: runner_id.clone(),
            detail: serde_json::json!({ "group": token.group }),
        })?;
        self.store.sync().await?;
        tracing::info!(runner_id, tenant = token.tenant, group = token.group, token = token.id, "runner enrolled");
        Ok(EnrollAnswer {
            runner_id,
            tenant: token.tenant,
            group: token.group,
            cert_pem: issued.cert_pem,
            ca_pem: self.ca.cert_pem().to_string(),
            not_after_ms: issued.not_after_ms,
            policy_public_key: self.policy_public_key.clone(),
        })
    }

    /// `POST /v1/runner/renew`: a new certificate for the same identity; the old one stays valid until it expires.
    pub async fn renew(&self, runner: &RunnerRecord, body: &[u8]) -> Result<RenewAnswer, ApiError> {
        let request: RenewRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid renew request: {e}")))?;
        let now = now_ms();
        let issued = self.sign(&request.csr_pem, &runner.tenant, &runner.runner_id, now)?;
        self.record_cert(&issued, runner)?;
        self.store
            .update_runner(&runner.runner_id, |r| r.cert_not_after_ms = r.cert_not_after_ms.max(issued.not_after_ms))?;
        self.store.audit(&AuditEntry {
            at_ms: now,
            tenant: runner.tenant.clone(),
            actor: format!("runner:{}", runner.runner_id),
            action: "renew".into(),
            target: issued.fingerprint.clone(),
            detail: serde_json::json!({ "not_after_ms": issued.not_after_ms }),
        })?;
        self.store.sync().await?;
        tracing::info!(runner_id = runner.runner_id, not_after_ms = issued.not_after_ms, "certificate renewed");
        Ok(RenewAnswer { cert_pem: issued.cert_pem, not_after_ms: issued.not_after_ms })
    }

    /// `POST /v1/admin/enrollment-tokens`; `actor` is the admin as the audit log names it.
    pub async fn create_token(
        &self,
        tenant: &str,
        actor: &str,
        group: &str,
        uses: u32,
        ttl_secs: u64,
    ) -> Result<NewToken, ApiError> {
        if !is_entity_name(group) {
            return Err(ApiError::InvalidRequest("group must be 1 to 64 characters of [A-Za-z0-9._-]".into()));
        }
        if uses == 0 || uses > MAX_TOKEN_USES {
            return Err(ApiError::InvalidRequest(format!("uses must be 1 to {MAX_TOKEN_USES}")));
        }
        if ttl_secs == 0 || ttl_secs > MAX_TOKEN_TTL_SECS {
            return Err(ApiError::InvalidRequest(format!("ttl_secs must be 1 to {MAX_TOKEN_TTL_SECS}")));
        }
        let now = now_ms();
        // Groups come into being with their first enrollment token.
        self.store.ensure_entity(&store::entity_key("group", tenant, Some(group)), group, now)?;
        let token = random_id("et_", 20).map_err(|_| ApiError::Unavailable("no randomness".into()))?;
        let hash = sha256(token.as_bytes());
        let record = EnrollmentToken {
            id: hex(&hash[..8]),
            tenant: tenant.to_string(),
            group: group.to_string(),
            uses,
            used: 0,
            expires_at_ms: now + ttl_secs * 1000,
            created_at_ms: now,
        };
        self.store
            .tokens
            .insert(store::token_key(store::ENROLLMENT_TOKEN_PREFIX, &hash), encode(&record))
            .map_err(store::StoreError::from)?;
        self.store.audit(&AuditEntry {
            at_ms: now,
            tenant: tenant.to_string(),
            actor: actor.to_string(),
            action: "create_enrollment_token".into(),
            target: record.id.clone(),
            detail: serde_json::json!({ "group": group, "uses": uses, "expires_at_ms": record.expires_at_ms }),
        })?;
        self.store.sync().await?;
        Ok(NewToken { token, id: record.id, group: record.group, uses, expires_at_ms: record.expires_at_ms })
    }

    /// `GET /v1/admin/enrollment-tokens`: the tenant's tokens, oldest first (without the secrets, which are not kept).
    pub fn tokens(&self, tenant: &str) -> Result<Vec<EnrollmentToken>, ApiError> {
        let mut tokens = Vec::new();
        for entry in self.store.tokens.scan_prefix(store::ENROLLMENT_TOKEN_PREFIX) {
            let (_, value) = entry.map_err(store::StoreError::from)?;
            let token: EnrollmentToken = decode("tokens", &value)?;
            if token.tenant == tenant {
                tokens.push(token);
            }
        }
        tokens.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(tokens)
    }

    fn token(&self, key: &[u8]) -> Result<Option<EnrollmentToken>, ApiError> {
        Ok(store::get_json(&self.store.tokens, "tokens", key)?)
    }

    /// Takes one use of the token atomically; fails if it expired or ran out meanwhile.
    fn take_use(&self, key: &[u8], now: u64) -> Result<EnrollmentToken, ApiError> {
        loop {
            let old =
                self.store.tokens.get(key).map_err(store::StoreError::from)?.ok_or(ApiError::EnrollmentTokenInvalid)?;
            let mut token: EnrollmentToken = decode("tokens", &old)?;
            check_usable(&token, now)?;
            token.used += 1;
            let swapped = self
                .store
                .tokens
                .compare_and_swap(key, Some(&old), Some(&encode(&token)))
                .map_err(store::StoreError::from)?;
            if swapped {
                return Ok(token);
            }
        }
    }

    fn sign(&self, csr_pem: &str, tenant: &str, runner_id: &str, now: u64) -> Result<IssuedCert, ApiError> {
        let not_after = now + self.runner_cert_ttl.as_millis() as u64;
        self.ca.sign_runner_csr(csr_pem, tenant, runner_id, now.saturating_sub(CLOCK_SKEW_MS), not_after).map_err(|e| {
            match e {
                CertError::InvalidCsr(reason) => ApiError::InvalidCsr(reason),
                other => ApiError::InvalidCsr(other.to_string()),
            }
        })
    }

    fn record_cert(&self, issued: &IssuedCert, runner: &RunnerRecord) -> Result<(), ApiError> {
        let record = CertRecord {
            runner_id: runner.runner_id.clone(),
            tenant: runner.tenant.clone(),
            issued_at_ms: now_ms(),
            not_after_ms: issued.not_after_ms,
        };
        self.store.certs.insert(issued.fingerprint.as_bytes(), encode(&record)).map_err(store::StoreError::from)?;
        Ok(())
    }
}

fn check_usable(token: &EnrollmentToken, now: u64) -> Result<(), ApiError> {
    if now >= token.expires_at_ms {
        return Err(ApiError::EnrollmentTokenExpired);
    }
    if token.used >= token.uses {
        return Err(ApiError::EnrollmentTokenUsedUp);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(tag: &str) -> (Arc<Enrollment>, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix(&format!("traceflow-cp-enroll-{tag}-")).tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), 4 << 20).unwrap());
        let ca = Ca::generate("ca", 30).unwrap();
        (Arc::new(Enrollment::new(store, ca, "cGs=".into(), std::time::Duration::from_secs(30 * 86_400))), dir)
    }

    fn request(token: &str) -> Vec<u8> {
        let csr = traceflow_certs::generate_key_and_csr("runner").unwrap();
        serde_json::to_vec(&serde_json::json!({"token": token, "csr_pem": csr.csr_pem, "hostname": "h"})).unwrap()
    }

    #[tokio::test]
    async fn a_new_token_is_durable_before_it_is_shown() {
        let (enrollment, _dir) = setup("sync");
        let before = enrollment.store.db.sync_count();
        enrollment.create_token("t", "admin", "g", 1, 60).await.unwrap();
        assert!(enrollment.store.db.sync_count() > before, "answered without the durable sync");
    }

    #[test]
    fn token_shape() {
        assert!(is_enrollment_token("et_abcdefghijklmnopqrstuvwxyz234567"));
        assert!(!is_enrollment_token("et_abcdefghijklmnopqrstuvwxyz23456"));
        assert!(!is_enrollment_token("et_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
        assert!(!is_enrollment_token("xx_abcdefghijklmnopqrstuvwxyz234567"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_enrollments_never_exceed_uses() {
        let (enrollment, _dir) = setup("uses");
        let token = enrollment.create_token("t", "admin", "g", 3, 60).await.unwrap();
        let attempts: Vec<_> = (0..10)
            .map(|_| {
                let enrollment = enrollment.clone();
                let body = request(&token.token);
                tokio::spawn(async move { enrollment.enroll(&body).await })
            })
            .collect();
        let mut ok = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(answer) => {
                    assert_eq!((answer.tenant.as_str(), answer.group.as_str()), ("t", "g"));
                    ok += 1;
                }
                Err(e) => assert_eq!(e.code(), "enrollment_token_used_up"),
            }
        }
        assert_eq!(ok, 3);
        let listed = enrollment.tokens("t").unwrap();
        assert_eq!((listed.len(), listed[0].used, listed[0].uses), (1, 3, 3));
        assert!(enrollment.tokens("other").unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_requests_do_not_burn_a_use() {
        let (enrollment, _dir) = setup("bad");
        let token = enrollment.create_token("t", "admin", "g", 1, 60).await.unwrap();
        let bad_csr = serde_json::to_vec(&serde_json::json!({"token": token.token, "csr_pem": "nope"})).unwrap();
        assert_eq!(enrollment.enroll(&bad_csr).await.unwrap_err().code(), "invalid_csr");
        assert_eq!(enrollment.enroll(b"{").await.unwrap_err().code(), "invalid_request");
        let forged = request("et_abcdefghijklmnopqrstuvwxyz234567");
        assert_eq!(enrollment.enroll(&forged).await.unwrap_err().code(), "enrollment_token_invalid");
        assert!(enrollment.enroll(&request(&token.token)).await.is_ok());
        assert_eq!(enrollment.enroll(&request(&token.token)).await.unwrap_err().code(), "enrollment_token_used_up");
        assert_eq!(enrollment.create_token("t", "admin", "a/b", 1, 60).await.unwrap_err().code(), "invalid_request");
        assert_eq!(enrollment.create_token("t", "admin", "g", 0, 60).await.unwrap_err().code(), "invalid_request");
    }
}
