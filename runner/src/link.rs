//! The runner's link to the control plane: answers with the fields the runner decides on (`Retry-After`, the
//! error code), on top of the shared HTTPS client in `traceflow-http`. Enrollment, delivery, check-in and renewal
//! all call through it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use traceflow_http::client::{Client, ClientError};

pub type TransportError = ClientError;

/// How long one-shot calls (enroll, checkin, renew) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured, so a wrong header cannot stall uploads for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// An answer from the control plane.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

impl Reply {
    fn from(response: traceflow_http::client::Response) -> Reply {
        let retry_after = response
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        Reply { status: response.status, retry_after, body: response.body }
    }

    /// `(code, message)` of a `{"error":{…}}` body; empty strings when the body is not one.
    pub fn error(&self) -> (String, String) {
        let value: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let field = |name: &str| value["error"][name].as_str().unwrap_or_default().to_string();
        (field("code"), field("message"))
    }

    pub fn json_bool(&self, name: &str) -> bool {
        serde_json::from_slice::<serde_json::Value>(&self.body).ok().and_then(|v| v[name].as_bool()).unwrap_or(false)
    }

    /// `401 enrollment_token_expired: …` for logs and CLI messages.
    pub fn describe(&self) -> String {
        match self.error() {
            (code, message) if !code.is_empty() => format!("{} {code}: {message}", self.status),
            _ => format!("HTTP {}", self.status),
        }
    }
}

pub trait TimeoutExt {
    fn is_timeout(&self) -> bool;
}

impl TimeoutExt for ClientError {
    fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout)
    }
}

/// One POST on a new connection to `base` + `path`.
pub async fn call_once(
    tls: Arc<rustls::ClientConfig>,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, ClientError> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let url = format!("{}{path}", base.trim_end_matches('/'));
    traceflow_http::client::request(tls, &url, "POST", &all, body, CALL_TIMEOUT).await.map(Reply::from)
}

/// Calls to the control plane with one identity's certificate, over connections kept open between calls (a
/// renewed certificate gets a new `Link`, so no connection outlives the certificate it was made with).
#[derive(Clone)]
pub struct Link(Client);

impl Link {
    pub fn new(tls: Arc<rustls::ClientConfig>, base: &str) -> Result<Link, ClientError> {
        Client::new(tls, base).map(Link)
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        self.0.send("POST", path, headers, body, timeout).await.map(Reply::from)
    }
}
