//! The admin CLI's side of the admin API: HTTPS with the control plane's CA as the only trust anchor and the admin
//! token as a bearer token. Answers are returned as JSON; errors keep the API's code and message.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use traceflow_http::client::{self, ClientError};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Transport(#[from] ClientError),
    #[error("{status} {code}: {message}")]
    Api { status: u16, code: String, message: String },
    #[error("unexpected answer (HTTP {status}): {body}")]
    BadAnswer { status: u16, body: String },
}

pub struct AdminClient {
    config: Arc<rustls::ClientConfig>,
    /// Base URL without a trailing slash.
    url: String,
    token: String,
}

impl AdminClient {
    pub fn new(url: &str, token: &str, ca_pem: &str) -> Result<AdminClient, AdminClientError> {
        let config =
            traceflow_certs::client_config(ca_pem, None).map_err(|e| AdminClientError::Config(format!("CA: {e}")))?;
        Ok(AdminClient { config, url: url.trim_end_matches('/').to_string(), token: token.to_string() })
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, AdminClientError> {
        let authorization = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", authorization.as_str())];
        let body = match body {
            Some(body) => {
                headers.push(("content-type", "application/json"));
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let url = format!("{}{path}", self.url);
        let response = client::request(self.config.clone(), &url, method, &headers, body, TIMEOUT).await?;
        let text = || String::from_utf8_lossy(&response.body).chars().take(500).collect::<String>();
        let value: Value = serde_json::from_slice(&response.body)
            .map_err(|_| AdminClientError::BadAnswer { status: response.status, body: text() })?;
        if (200..300).contains(&response.status) {
            return Ok(value);
        }
        match (value["error"]["code"].as_str(), value["error"]["message"].as_str()) {
            (Some(code), Some(message)) => {
                Err(AdminClientError::Api { status: response.status, code: code.into(), message: message.into() })
            }
            _ => Err(AdminClientError::BadAnswer { status: response.status, body: text() }),
        }
    }

    /// `POST /v1/admin/enrollment-tokens`.
    pub async fn create_enrollment_token(
        &self,
        group: &str,
        uses: u32,
        ttl_secs: u64,
    ) -> Result<Value, AdminClientError> {
        self.call(
            "POST",
            "/v1/admin/enrollment-tokens",
            Some(json!({ "group": group, "uses": uses, "ttl_secs": ttl_secs })),
        )
        .await
    }

    /// `GET /v1/admin/enrollment-tokens`.
    pub async fn enrollment_tokens(&self) -> Result<Value, AdminClientError> {
        self.call("GET", "/v1/admin/enrollment-tokens", None).await
    }

    /// `GET /v1/admin/runners`.
    pub async fn runners(&self) -> Result<Value, AdminClientError> {
        self.call("GET", "/v1/admin/runners", None).await
    }

    /// `GET /v1/admin/audit?limit=`.
    pub async fn audit(&self, limit: usize) -> Result<Value, AdminClientError> {
        self.call("GET", &format!("/v1/admin/audit?limit={limit}"), None).await
    }

    fn policy_path(group: &str, rest: &str) -> Result<String, AdminClientError> {
        if !crate::is_entity_name(group) {
            return Err(AdminClientError::Config(format!("`{group}` is not a group name: 1 to 64 of [A-Za-z0-9._-]")));
        }
        Ok(format!("/v1/admin/groups/{group}/policy{rest}"))
    }

    /// `POST /v1/admin/groups/{group}/policy`: a new revision from a TOML or JSON document.
    pub async fn policy_apply(
        &self,
        group: &str,
        document: &str,
        message: &str,
        author: Option<&str>,
        canary_percent: Option<u8>,
    ) -> Result<Value, AdminClientError> {
        let mut body = json!({ "document": document, "message": message });
        if let Some(author) = author {
            body["author"] = author.into();
        }
        if let Some(percent) = canary_percent {
            body["canary_percent"] = percent.into();
        }
        self.call("POST", &Self::policy_path(group, "")?, Some(body)).await
    }

    /// `GET /v1/admin/groups/{group}/policy`: the stable revision and the canary.
    pub async fn policy_rollout(&self, group: &str) -> Result<Value, AdminClientError> {
        self.call("GET", &Self::policy_path(group, "")?, None).await
    }

    /// `GET /v1/admin/groups/{group}/policy/revisions?limit=`.
    pub async fn policy_history(&self, group: &str, limit: usize) -> Result<Value, AdminClientError> {
        self.call("GET", &Self::policy_path(group, &format!("/revisions?limit={limit}"))?, None).await
    }

    /// `GET /v1/admin/groups/{group}/policy/revisions/{revision}`.
    pub async fn policy_revision(&self, group: &str, revision: u64) -> Result<Value, AdminClientError> {
        self.call("GET", &Self::policy_path(group, &format!("/revisions/{revision}"))?, None).await
    }

    /// `POST /v1/admin/groups/{group}/policy/diff`; each side is a revision number or `{"document": text}`.
    pub async fn policy_diff(&self, group: &str, from: Value, to: Value) -> Result<Value, AdminClientError> {
        self.call("POST", &Self::policy_path(group, "/diff")?, Some(json!({ "from": from, "to": to }))).await
    }

    /// `POST /v1/admin/groups/{group}/policy/rollback`.
    pub async fn policy_rollback(
        &self,
        group: &str,
        revision: u64,
        message: Option<&str>,
        author: Option<&str>,
    ) -> Result<Value, AdminClientError> {
        let mut body = note(message, author);
        body["revision"] = revision.into();
        self.call("POST", &Self::policy_path(group, "/rollback")?, Some(body)).await
    }

    /// `POST /v1/admin/groups/{group}/policy/promote`.
    pub async fn policy_promote(
        &self,
        group: &str,
        message: Option<&str>,
        author: Option<&str>,
    ) -> Result<Value, AdminClientError> {
        self.call("POST", &Self::policy_path(group, "/promote")?, Some(note(message, author))).await
    }

    /// `POST /v1/admin/groups/{group}/policy/abort`.
    pub async fn policy_abort(
        &self,
        group: &str,
        message: Option<&str>,
        author: Option<&str>,
    ) -> Result<Value, AdminClientError> {
        self.call("POST", &Self::policy_path(group, "/abort")?, Some(note(message, author))).await
    }

    /// `GET /v1/admin/groups/{group}/policy/status`.
    pub async fn policy_status(&self, group: &str) -> Result<Value, AdminClientError> {
        self.call("GET", &Self::policy_path(group, "/status")?, None).await
    }

    /// `POST /v1/admin/runners/{runner_id}/revoke`.
    pub async fn revoke(&self, runner_id: &str) -> Result<Value, AdminClientError> {
        if !crate::receiver::is_runner_id(runner_id) {
            return Err(AdminClientError::Config(format!("`{runner_id}` is not a runner id")));
        }
        self.call("POST", &format!("/v1/admin/runners/{runner_id}/revoke"), None).await
    }
}

/// `{"message"?, "author"?}` of a change request.
fn note(message: Option<&str>, author: Option<&str>) -> Value {
    let mut body = json!({});
    if let Some(message) = message {
        body["message"] = message.into();
    }
    if let Some(author) = author {
        body["author"] = author.into();
    }
    body
}

/// A duration such as `30s`, `15m`, `1h` or `7d`, in seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let error = || format!("invalid duration `{text}`: use a number followed by s, m, h or d (30s, 15m, 1h, 7d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| error())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(error()),
    };
    match number.checked_mul(scale) {
        Some(0) | None => Err(error()),
        Some(secs) => Ok(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("30s"), Ok(30));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        for bad in ["", "1", "h", "0s", "1w", "-1h", "1.5h", "99999999999999999999d", "1hh"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
