//! Bounds on what one SDK request may contain. Every bound is a config value with a default sized for real
//! browser SDKs: a full rrweb snapshot of a heavy page is a few hundred KB, so the defaults leave an order of
//! magnitude of headroom while keeping a single request's memory bounded.

use serde::{Deserialize, Serialize};

/// Limits applied to every ingest request, in the order they are checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body as sent on the wire (compressed or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes. Decompression stops at this cap.
    pub max_decompressed_bytes: usize,
    /// Largest decompressed/compressed size ratio accepted; beyond it the body is treated as a decompression bomb.
    pub max_compression_ratio: usize,
    /// Deepest JSON nesting accepted (objects and arrays), counted from the batch object as depth 1.
    pub max_depth: usize,
    /// Most analytics events plus rrweb replay events in one batch.
    pub max_events: usize,
    /// Longest JSON string (key or value), in bytes. Large enough for inline CSS and base64 thumbnails.
    pub max_string_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 5 * 1024 * 1024,
            max_decompressed_bytes: 20 * 1024 * 1024,
            max_compression_ratio: 100,
            max_depth: MAX_DEPTH,
            max_events: 5_000,
            max_string_bytes: 1024 * 1024,
        }
    }
}

/// Deepest JSON nesting a batch may have, and the default. An rrweb snapshot nests two JSON levels per DOM level
/// (a node, its `childNodes`) under five of the batch's own, so this admits pages 57 DOM levels deep (Lighthouse
/// already flags pages past 32). It stays under serde_json's recursion limit of 128, which every reader of stored
/// batches (the validator, the feature filter, `buffer dump`, the control plane) relies on; going deeper needs
/// serde_json's `unbounded_depth` with explicit bounds in each of them.
pub const MAX_DEPTH: usize = 120;

/// Longest `session_id` accepted, in characters (contract).
pub const MAX_SESSION_ID_LEN: usize = 128;
/// Longest `visitor_id` accepted, in characters.
pub const MAX_VISITOR_ID_LEN: usize = 128;

impl Limits {
    /// Checks that the limits are usable; returns the name of the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, usize, usize, usize); 6] = [
            ("max_body_bytes", self.max_body_bytes, 1024, 1 << 30),
            ("max_decompressed_bytes", self.max_decompressed_bytes, 1024, 1 << 31),
            ("max_compression_ratio", self.max_compression_ratio, 2, 100_000),
            ("max_depth", self.max_depth, 4, MAX_DEPTH),
            ("max_events", self.max_events, 1, 1_000_000),
            ("max_string_bytes", self.max_string_bytes, 256, 1 << 30),
        ];
        for (name, value, min, max) in checks {
            if value < min || value > max {
                return Err(format!("limits.{name} = {value} is outside {min}..={max}"));
            }
        }
        if self.max_decompressed_bytes < self.max_body_bytes {
            return Err("limits.max_decompressed_bytes must be at least limits.max_body_bytes".into());
        }
        Ok(())
    }
}
