//! Signed policy bundles: what the control plane pushes and runners verify.
//!
//! A bundle's body binds the policy to `{tenant, group, revision, issued_at_ms}` and carries the policy's hash;
//! it travels as the exact JSON text that was signed, next to an Ed25519 signature over those bytes, so nothing
//! is re-serialized between signing and verifying:
//!
//! ```json
//! {"bundle":"{\"tenant\":\"default\",\"group\":\"default\",\"revision\":3,…}","signature":"<base64>"}
//! ```

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use super::{Policy, PolicyErrors};

/// What is signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleBody {
    pub tenant: String,
    pub group: String,
    /// Monotonic per group; runners refuse a revision not newer than the one they run.
    pub revision: u64,
    pub issued_at_ms: u64,
    /// [`Policy::hash`] of `policy`.
    pub hash: String,
    pub policy: Policy,
}

/// A bundle on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBundle {
    /// The signed JSON text of a [`BundleBody`].
    pub bundle: String,
    /// Base64 of the Ed25519 signature over `bundle`'s bytes.
    pub signature: String,
}

/// Why a runner refuses a bundle. `code()` is what it reports to the control plane.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("signature does not verify with the pinned policy key")]
    BadSignature,
    #[error("bundle is not valid: {0}")]
    Malformed(String),
    #[error("bundle is for {tenant}/{group}, not this runner's {expected}")]
    WrongTarget { tenant: String, group: String, expected: String },
    #[error("revision {revision} is not newer than the running revision {current}")]
    Replay { revision: u64, current: u64 },
    #[error("the policy's hash {actual} does not match the bundle's {declared}")]
    HashMismatch { declared: String, actual: String },
    #[error("policy is invalid: {0}")]
    Invalid(PolicyErrors),
}

impl BundleError {
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::BadSignature => "bad_signature",
            BundleError::Malformed(_) => "malformed_bundle",
            BundleError::WrongTarget { .. } => "wrong_target",
            BundleError::Replay { .. } => "replayed_revision",
            BundleError::HashMismatch { .. } => "hash_mismatch",
            BundleError::Invalid(_) => "invalid_policy",
        }
    }

    /// The field path of the first problem, for an invalid policy.
    pub fn path(&self) -> Option<&str> {
        match self {
            BundleError::Invalid(errors) => errors.0.first().map(|e| e.path.as_str()),
            _ => None,
        }
    }
}

impl SignedBundle {
    /// Signs `body` with the control plane's policy key.
    pub fn sign(body: &BundleBody, key: &Ed25519KeyPair) -> SignedBundle {
        // Serializing plain data into memory cannot fail.
        let bundle = serde_json::to_string(body).unwrap_or_default();
        let signature = key.sign(bundle.as_bytes());
        SignedBundle { bundle, signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()) }
    }

    /// Checks the signature against the raw 32-byte Ed25519 `public_key`, then the body: its hash and its
    /// validity. Target and revision checks are the caller's ([`BundleBody::check_target`]).
    pub fn verify(&self, public_key: &[u8]) -> Result<BundleBody, BundleError> {
        let signature = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .map_err(|_| BundleError::BadSignature)?;
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(self.bundle.as_bytes(), &signature)
            .map_err(|_| BundleError::BadSignature)?;
        let body: BundleBody = serde_json::from_str(&self.bundle).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let actual = body.policy.hash();
        if actual != body.hash {
            return Err(BundleError::HashMismatch { declared: body.hash, actual });
        }
        body.policy.validate().map_err(BundleError::Invalid)?;
        Ok(body)
    }
}

impl BundleBody {
    /// Refuses a bundle for another tenant or group, or one not newer than `current`.
    pub fn check_target(&self, tenant: &str, group: &str, current: u64) -> Result<(), BundleError> {
        if self.tenant != tenant || self.group != group {
            return Err(BundleError::WrongTarget {
                tenant: self.tenant.clone(),
                group: self.group.clone(),
                expected: format!("{tenant}/{group}"),
            });
        }
        if self.revision <= current {
            return Err(BundleError::Replay { revision: self.revision, current });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn body(revision: u64) -> BundleBody {
        let policy = Policy::default();
        BundleBody { tenant: "t".into(), group: "g".into(), revision, issued_at_ms: 1, hash: policy.hash(), policy }
    }

    #[test]
    fn verifies_signed_bundles_and_refuses_tampering_and_other_keys() {
        let key = key();
        let public = key.public_key().as_ref().to_vec();
        let signed = SignedBundle::sign(&body(3), &key);
        let verified = signed.verify(&public).unwrap();
        assert_eq!(verified, body(3));
        verified.check_target("t", "g", 2).unwrap();
        assert!(matches!(verified.check_target("t", "g", 3), Err(BundleError::Replay { revision: 3, current: 3 })));
        assert!(matches!(verified.check_target("t", "other", 0), Err(BundleError::WrongTarget { .. })));

        let tampered =
            SignedBundle { bundle: signed.bundle.replace("\"revision\":3", "\"revision\":4"), ..signed.clone() };
        assert!(matches!(tampered.verify(&public), Err(BundleError::BadSignature)));
        let other = SignedBundle::sign(&body(3), &self::key());
        assert!(matches!(other.verify(&public), Err(BundleError::BadSignature)));
        let garbage = SignedBundle { signature: "***".into(), ..signed.clone() };
        assert_eq!(garbage.verify(&public).unwrap_err().code(), "bad_signature");

        let mut wrong_hash = body(5);
        wrong_hash.hash = "sha256:00".into();
        let err = SignedBundle::sign(&wrong_hash, &key).verify(&public).unwrap_err();
        assert_eq!(err.code(), "hash_mismatch");

        let mut invalid = body(6);
        invalid.policy.sampling.session_rate = 2.0;
        invalid.hash = invalid.policy.hash();
        let err = SignedBundle::sign(&invalid, &key).verify(&public).unwrap_err();
        assert_eq!((err.code(), err.path()), ("invalid_policy", Some("sampling.session_rate")));
    }
}
