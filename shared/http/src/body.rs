//! Request bodies read whole with a bound: refused before reading when the declared length is over it, and as
//! soon as what arrived is over it otherwise.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_LENGTH};

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than allowed")]
    TooLarge,
    #[error("cannot read the body: {0}")]
    Read(hyper::Error),
    /// Not all there in time (the caller's deadline).
    #[error("the body did not arrive in time")]
    Late,
}

/// The declared `Content-Length`, if there is a readable one.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The whole body, refusing more than `limit` bytes (before reading any if the declared length says so).
pub async fn read_body(mut body: Incoming, limit: usize, declared: Option<u64>) -> Result<Vec<u8>, BodyError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
