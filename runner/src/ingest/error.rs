//! Every way an ingest request can fail, mapped once to its HTTP answer. Messages describe the problem in terms
//! of the contract and never quote the payload.

use traceflow_protocol::{BatchError, BatchErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no project key: send `Authorization: Bearer <key>`, `X-Traceflow-Key` or `?key=`")]
    MissingKey,
    #[error("unknown project key")]
    UnknownKey,
    #[error("this origin is not allowed to send data")]
    OriginNotAllowed,
    #[error("request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("decompressed body is larger than {0} bytes")]
    DecompressedTooLarge(usize),
    #[error("body expands more than {0} times when decompressed")]
    RatioTooHigh(usize),
    #[error("unsupported Content-Encoding (use gzip, deflate, zstd or identity)")]
    UnsupportedEncoding,
    #[error("unsupported Content-Type (use application/json or text/plain)")]
    UnsupportedMediaType,
    #[error("body is not valid {0} data")]
    CorruptEncoding(&'static str),
    #[error("the request body could not be read")]
    BodyRead,
    #[error("the request body did not arrive in time")]
    Timeout,
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("rate limit exceeded for this project")]
    RateLimited { retry_after: u64 },
    #[error("this project has used its daily event quota")]
    QuotaExceeded { retry_after: u64 },
    #[error("the buffer has reached its disk budget")]
    BufferFull { retry_after: u64 },
    #[error("the data dir's filesystem is nearly full")]
    DiskFull { retry_after: u64 },
    #[error("the runner is shutting down")]
    ShuttingDown { retry_after: u64 },
    #[error("the buffer cannot write right now")]
    Unavailable { retry_after: u64 },
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl IngestError {
    pub fn status(&self) -> u16 {
        match self {
            IngestError::MissingKey | IngestError::UnknownKey => 401,
            IngestError::OriginNotAllowed => 403,
            IngestError::NotFound => 404,
            IngestError::MethodNotAllowed => 405,
            IngestError::Timeout => 408,
            IngestError::BodyTooLarge(_) | IngestError::DecompressedTooLarge(_) | IngestError::RatioTooHigh(_) => 413,
            IngestError::Batch(e) if e.kind == BatchErrorKind::TooManyEvents => 413,
            IngestError::UnsupportedEncoding | IngestError::UnsupportedMediaType => 415,
            IngestError::RateLimited { .. } | IngestError::QuotaExceeded { .. } => 429,
            IngestError::BufferFull { .. }
            | IngestError::DiskFull { .. }
            | IngestError::ShuttingDown { .. }
            | IngestError::Unavailable { .. } => 503,
            IngestError::CorruptEncoding(_) | IngestError::BodyRead | IngestError::Batch(_) => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            IngestError::MissingKey => "missing_key",
            IngestError::UnknownKey => "unknown_key",
            IngestError::OriginNotAllowed => "origin_not_allowed",
            IngestError::BodyTooLarge(_) => "body_too_large",
            IngestError::DecompressedTooLarge(_) => "decompressed_too_large",
            IngestError::RatioTooHigh(_) => "compression_ratio_too_high",
            IngestError::UnsupportedEncoding => "unsupported_encoding",
            IngestError::UnsupportedMediaType => "unsupported_media_type",
            IngestError::CorruptEncoding(_) => "invalid_encoding",
            IngestError::BodyRead => "body_read_failed",
            IngestError::Timeout => "request_timeout",
            IngestError::Batch(e) => e.code(),
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::QuotaExceeded { .. } => "quota_exceeded",
            IngestError::BufferFull { .. } => "buffer_full",
            IngestError::DiskFull { .. } => "disk_full",
            IngestError::ShuttingDown { .. } => "shutting_down",
            IngestError::Unavailable { .. } => "buffer_unavailable",
            IngestError::NotFound => "not_found",
            IngestError::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// The outcome label this failure is counted under.
    pub fn outcome(&self) -> crate::metrics::Outcome {
        use crate::metrics::Outcome;
        match self.status() {
            401 | 403 => Outcome::Unauthorized,
            429 => Outcome::RateLimited,
            503 => Outcome::Unavailable,
            _ => Outcome::Invalid,
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            IngestError::RateLimited { retry_after }
            | IngestError::QuotaExceeded { retry_after }
            | IngestError::BufferFull { retry_after }
            | IngestError::DiskFull { retry_after }
            | IngestError::ShuttingDown { retry_after }
            | IngestError::Unavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The answer body: `{"error":{"code","message","path"?}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        if let IngestError::Batch(batch) = self {
            error["message"] = batch.message.clone().into();
            error["path"] = batch.path.clone().into();
        }
        serde_json::json!({ "error": error })
    }
}

impl From<crate::traffic::projects::AuthError> for IngestError {
    fn from(error: crate::traffic::projects::AuthError) -> IngestError {
        match error {
            crate::traffic::projects::AuthError::MissingKey => IngestError::MissingKey,
            crate::traffic::projects::AuthError::UnknownKey => IngestError::UnknownKey,
        }
    }
}
