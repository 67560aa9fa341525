//! Compression of stored records: zstd (default), lz4, or none. Decompression always runs against an output
//! cap, because the same code reads data back from disk and, on the control plane, from the network.

use std::io::Read;

use serde::{Deserialize, Serialize};

/// Compression applied to one record's payload. The tag is stored with every record, so a runner can change
/// codec (by config or policy) with older records still readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    None,
    Zstd,
    Lz4,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("unknown codec tag {0}")]
    UnknownTag(u8),
    #[error("decompressed data exceeds {0} bytes")]
    TooLarge(usize),
    #[error("corrupt {codec:?} data: {reason}")]
    Corrupt { codec: Codec, reason: String },
}

thread_local! {
    /// One zstd context per thread and level: creating a context costs more than compressing a small batch.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { std::cell::RefCell::new(None) };
}

impl Codec {
    pub fn tag(self) -> u8 {
        match self {
            Codec::None => 0,
            Codec::Zstd => 1,
            Codec::Lz4 => 2,
        }
    }

    pub fn from_tag(tag: u8) -> Result<Codec, CodecError> {
        match tag {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Zstd),
            2 => Ok(Codec::Lz4),
            other => Err(CodecError::UnknownTag(other)),
        }
    }

    /// Compresses `data`; `level` is used by zstd only (1..=19).
    pub fn compress(self, data: &[u8], level: i32) -> Vec<u8> {
        match self {
            Codec::None => data.to_vec(),
            // Encoding into memory cannot fail for valid levels; fall back to storing raw rather than panic.
            Codec::Zstd => ZSTD.with(|cell| {
                let mut slot = cell.borrow_mut();
                let fresh = match slot.as_ref() {
                    Some((cached_level, _)) => *cached_level != level,
                    None => true,
                };
                if fresh {
                    *slot = zstd::bulk::Compressor::new(level).ok().map(|c| (level, c));
                }
                match slot.as_mut() {
                    Some((_, compressor)) => compressor.compress(data).unwrap_or_else(|_| data.to_vec()),
                    None => data.to_vec(),
                }
            }),
            Codec::Lz4 => lz4_flex::compress_prepend_size(data),
        }
    }

    /// Decompresses `data`, refusing to produce more than `max_len` bytes.
    pub fn decompress(self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
        let corrupt = |reason: String| CodecError::Corrupt { codec: self, reason };
        let out = match self {
            Codec::None => data.to_vec(),
            Codec::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::new(data).map_err(|e| corrupt(e.to_string()))?;
                let mut out = Vec::new();
                (&mut decoder).take(max_len as u64 + 1).read_to_end(&mut out).map_err(|e| corrupt(e.to_string()))?;
                out
            }
            Codec::Lz4 => {
                let declared = data.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                if declared.is_some_and(|n| n > max_len) {
                    return Err(CodecError::TooLarge(max_len));
                }
                lz4_flex::decompress_size_prepended(data).map_err(|e| corrupt(e.to_string()))?
            }
        };
        if out.len() > max_len {
            return Err(CodecError::TooLarge(max_len));
        }
        Ok(out)
    }
}

impl std::str::FromStr for Codec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Codec::None),
            "zstd" => Ok(Codec::Zstd),
            "lz4" => Ok(Codec::Lz4),
            other => Err(format!("unknown codec `{other}` (expected zstd, lz4 or none)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_caps() {
        let data = b"{\"a\":1}".repeat(1000);
        for codec in [Codec::None, Codec::Zstd, Codec::Lz4] {
            let packed = codec.compress(&data, 3);
            assert_eq!(Codec::from_tag(codec.tag()).unwrap(), codec);
            assert_eq!(codec.decompress(&packed, data.len()).unwrap(), data);
            assert!(matches!(codec.decompress(&packed, data.len() - 1), Err(CodecError::TooLarge(_))));
        }
        assert!(Codec::Zstd.decompress(b"not zstd", 100).is_err());
        assert!(Codec::Lz4.decompress(b"\x05\0\0\0zz", 100).is_err());
        assert!(Codec::from_tag(9).is_err());
    }
}
