//! Every answer the control plane refuses with, and its one mapping to HTTP: status, stable `code`, message.
//! Storage failures become `503 unavailable` with `Retry-After` (the caller retries); nothing an outside party
//! sends can produce another 5xx.

use traceflow_protocol::policy::PolicyErrors;

use crate::store::StoreError;

/// Seconds a `503` asks the caller to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("request body over {0} bytes")]
    RequestTooLarge(usize),
    #[error("invalid certificate signing request: {0}")]
    InvalidCsr(String),
    #[error("unknown enrollment token")]
    EnrollmentTokenInvalid,
    #[error("enrollment token expired")]
    EnrollmentTokenExpired,
    #[error("enrollment token has no uses left")]
    EnrollmentTokenUsedUp,
    #[error("this endpoint needs a client certificate")]
    ClientCertificateRequired,
    #[error("the client certificate was not issued by this control plane")]
    UnknownCertificate,
    #[error("this runner is revoked")]
    RunnerRevoked,
    #[error("X-Traceflow-Chunk-Id must be <runner_id>/<chunk_seq> or <runner_id>/<first_seq>-<last_seq>")]
    InvalidChunkId,
    #[error("invalid chunk: {0}")]
    InvalidChunk(String),
    #[error("the chunk id names runner `{0}`, not the certificate's")]
    ChunkIdMismatch(String),
    #[error("chunk over {0} bytes")]
    ChunkTooLarge(usize),
    #[error("unsupported Content-Encoding `{0}` (expected zstd or none)")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the control plane's disk is nearly full; retry later")]
    DiskFull,
    #[error("missing or wrong admin token")]
    AdminTokenInvalid,
    #[error("too many wrong admin tokens from this address; retry after {0} s")]
    TooManyAttempts(u64),
    #[error("session not found")]
    SessionNotFound,
    #[error("runner not found")]
    RunnerNotFound,
    #[error("{0}")]
    InvalidPolicy(PolicyErrors),
    #[error("runner group not found")]
    GroupNotFound,
    #[error("policy revision not found")]
    RevisionNotFound,
    #[error("the group has no canary")]
    NoCanary,
    #[error("canary revision {revision} is halted: runner {runner} reported it failed: {error}")]
    CanaryHalted { revision: u64, runner: String, error: String },
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::InvalidPolicy(_)
            | ApiError::InvalidCsr(_)
            | ApiError::InvalidChunkId
            | ApiError::InvalidChunk(_) => 400,
            ApiError::EnrollmentTokenInvalid
            | ApiError::EnrollmentTokenExpired
            | ApiError::EnrollmentTokenUsedUp
            | ApiError::ClientCertificateRequired
            | ApiError::AdminTokenInvalid => 401,
            ApiError::UnknownCertificate | ApiError::RunnerRevoked | ApiError::ChunkIdMismatch(_) => 403,
            ApiError::SessionNotFound
            | ApiError::RunnerNotFound
            | ApiError::GroupNotFound
            | ApiError::RevisionNotFound
            | ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::NoCanary | ApiError::CanaryHalted { .. } => 409,
            ApiError::RequestTooLarge(_) | ApiError::ChunkTooLarge(_) => 413,
            ApiError::UnsupportedEncoding(_) => 415,
            ApiError::TooManyAttempts(_) => 429,
            ApiError::Unavailable(_) | ApiError::DiskFull => 503,
        }
    }

    /// The stable machine-readable code (PROTOCOL.md).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::RequestTooLarge(_) => "request_too_large",
            ApiError::InvalidCsr(_) => "invalid_csr",
            ApiError::EnrollmentTokenInvalid => "enrollment_token_invalid",
            ApiError::EnrollmentTokenExpired => "enrollment_token_expired",
            ApiError::EnrollmentTokenUsedUp => "enrollment_token_used_up",
            ApiError::ClientCertificateRequired => "client_certificate_required",
            ApiError::UnknownCertificate => "unknown_certificate",
            ApiError::RunnerRevoked => "runner_revoked",
            ApiError::InvalidChunkId => "invalid_chunk_id",
            ApiError::InvalidChunk(_) => "invalid_chunk",
            ApiError::ChunkIdMismatch(_) => "chunk_id_mismatch",
            ApiError::ChunkTooLarge(_) => "chunk_too_large",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::DiskFull => "disk_full",
            ApiError::AdminTokenInvalid => "admin_token_invalid",
            ApiError::TooManyAttempts(_) => "too_many_attempts",
            ApiError::SessionNotFound => "session_not_found",
            ApiError::RunnerNotFound => "runner_not_found",
            ApiError::InvalidPolicy(_) => "invalid_policy",
            ApiError::GroupNotFound => "group_not_found",
            ApiError::RevisionNotFound => "revision_not_found",
            ApiError::NoCanary => "no_canary",
            ApiError::CanaryHalted { .. } => "canary_halted",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable(_) | ApiError::DiskFull => Some(RETRY_AFTER_SECS),
            ApiError::TooManyAttempts(seconds) => Some(*seconds),
            _ => None,
        }
    }

    /// `{"error":{"code","message"}}`; an invalid policy adds the first problem's `path` and every problem as
    /// `errors: [{path, message}]`.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        if let ApiError::InvalidPolicy(errors) = self {
            let first = errors.0.first().map(|e| e.path.as_str()).unwrap_or_default();
            body["error"]["path"] = first.into();
            body["error"]["errors"] = serde_json::json!(errors.0);
        }
        body
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "storage error");
        ApiError::Unavailable("storage is unavailable; retry later".into())
    }
}
