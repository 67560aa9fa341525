//! A request's head and its body until a handler reads it: bounded, timed bodies (see `traceflow_http::body`)
//! and draining what is left.

use super::*;

/// A request's head, and its body until a handler reads it.
pub(super) struct Exchange {
    pub(super) head: Parts,
    pub(super) body: Option<Incoming>,
}

impl Exchange {
    pub(super) fn header(&self, name: impl hyper::header::AsHeaderName) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body, refusing more than `limit` bytes (before reading any if the declared length says so).
    pub(super) async fn body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let declared = content_length(&self.head.headers);
        match self.body.take() {
            Some(body) => tokio::time::timeout(BODY_TIMEOUT, read_body(body, limit, declared))
                .await
                .unwrap_or(Err(BodyError::Late)),
            None => Ok(Vec::new()),
        }
    }

    pub(super) async fn json_body(&mut self) -> Result<Vec<u8>, ApiError> {
        self.body(MAX_JSON_BYTES).await.map_err(|e| body_error(e, ApiError::RequestTooLarge(MAX_JSON_BYTES)))
    }

    /// Reads and drops what is left of the body, within bounds.
    pub(super) async fn drain(&mut self) {
        let Some(mut body) = self.body.take() else { return };
        if content_length(&self.head.headers).is_some_and(|n| n > DRAIN_LIMIT) {
            return;
        }
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            let mut seen = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        })
        .await;
    }
}
