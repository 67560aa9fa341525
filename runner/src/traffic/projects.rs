//! Which project a request belongs to: the key from `Authorization: Bearer`, `X-Traceflow-Key` or `?key=`
//! (for `navigator.sendBeacon`, which cannot set headers), looked up by its SHA-256 among the keys of the
//! active policy or, without one, of the local configuration. Keys themselves are never kept: policies carry
//! only their SHA-256.

use std::collections::HashMap;

use hyper::header::{HeaderMap, AUTHORIZATION};
use sha2::{Digest, Sha256};
use traceflow_protocol::url::query_pairs;

/// Why a request belongs to no project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no project key")]
    MissingKey,
    #[error("unknown project key")]
    UnknownKey,
}

/// A project the runner accepts data for. Only the fingerprint of its key is ever stored or logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub fingerprint: String,
    /// The project's name in the policy (none for keys of the local configuration).
    pub name: Option<String>,
}

/// `pk_` and the first 8 bytes of the key's SHA-256, in hex.
pub fn fingerprint(key: &str) -> String {
    fingerprint_of(&Sha256::digest(key.as_bytes()).into())
}

fn fingerprint_of(hash: &[u8; 32]) -> String {
    format!("pk_{}", hex::encode(&hash[..8]))
}

#[derive(Default)]
pub struct Projects {
    by_hash: HashMap<[u8; 32], Project>,
}

impl Projects {
    /// The keys of the local configuration.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a String>) -> Projects {
        let by_hash = keys
            .into_iter()
            .map(|key| {
                let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                (hash, Project { fingerprint: fingerprint_of(&hash), name: None })
            })
            .collect();
        Projects { by_hash }
    }

    /// The projects of a (validated) policy, by the SHA-256 of their keys.
    pub fn from_policy(projects: &[traceflow_protocol::policy::ProjectPolicy]) -> Projects {
        let mut by_hash = HashMap::new();
        for project in projects {
            let Some(hash) = decode_hex32(&project.key_sha256) else { continue };
            by_hash.insert(hash, Project { fingerprint: fingerprint_of(&hash), name: Some(project.name.clone()) });
        }
        Projects { by_hash }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn authenticate(&self, headers: &HeaderMap, query: Option<&str>) -> Result<&Project, AuthError> {
        let key = key_from(headers, query).ok_or(AuthError::MissingKey)?;
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        self.by_hash.get(&hash).ok_or(AuthError::UnknownKey)
    }
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn key_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    });
    let header = || headers.get("x-traceflow-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned());
    let param = || query_pairs(query?).find_map(|(name, value)| (name == "key").then(|| value.into_owned()));
    bearer.or_else(header).or_else(param).filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn key_sources_in_order() {
        let projects = Projects::new(&["key-one-1234".to_string(), "key two/+".to_string()]);
        let mut headers = HeaderMap::new();
        assert!(matches!(projects.authenticate(&headers, None), Err(AuthError::MissingKey)));
        assert!(projects.authenticate(&headers, Some("key=key-one-1234")).is_ok());
        assert!(projects.authenticate(&headers, Some("a=1&key=key%20two%2F%2B")).is_ok());
        assert!(matches!(projects.authenticate(&headers, Some("key=nope")), Err(AuthError::UnknownKey)));
        headers.insert("x-traceflow-key", HeaderValue::from_static("key-one-1234"));
        assert!(projects.authenticate(&headers, Some("key=nope")).is_ok());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer nope"));
        assert!(matches!(projects.authenticate(&headers, None), Err(AuthError::UnknownKey)));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer key-one-1234"));
        let project = projects.authenticate(&headers, None).unwrap();
        assert_eq!(project.fingerprint, fingerprint("key-one-1234"));
        assert!(project.fingerprint.starts_with("pk_") && project.fingerprint.len() == 19);
        assert_eq!(traceflow_protocol::url::decode_query_component("%zz%4"), "%zz%4");
    }

    #[test]
    fn policy_projects_match_by_key_hash() {
        let hash = hex::encode(Sha256::digest(b"policy-key-1"));
        let project =
            traceflow_protocol::policy::ProjectPolicy { name: "web".into(), key_sha256: hash, rate_limit: None };
        let projects = Projects::from_policy(&[project]);
        let mut headers = HeaderMap::new();
        headers.insert("x-traceflow-key", HeaderValue::from_static("policy-key-1"));
        let found = projects.authenticate(&headers, None).unwrap();
        assert_eq!((found.fingerprint.clone(), found.name.as_deref()), (fingerprint("policy-key-1"), Some("web")));
        headers.insert("x-traceflow-key", HeaderValue::from_static("key-one-1234"));
        assert!(matches!(projects.authenticate(&headers, None), Err(AuthError::UnknownKey)));
    }
}
