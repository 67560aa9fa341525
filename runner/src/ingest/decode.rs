//! Request bodies to JSON bytes: `Content-Encoding` gzip, deflate (zlib or raw) and zstd, or gzip/zstd found by
//! their magic bytes when a client sends no header. Decompression streams into a buffer with a hard cap
//! (the smaller of `max_decompressed_bytes` and `max_compression_ratio` times the body, never below 1 MiB), so a
//! decompression bomb costs at most the cap in memory and gets a 413.

use std::io::Read;

use bytes::Bytes;
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use traceflow_protocol::Limits;

use super::error::IngestError;

/// Output allowed whatever the ratio: small bodies legitimately compress very well.
const RATIO_FLOOR: usize = 1024 * 1024;
/// zstd window accepted (16 MiB), which bounds the decoder's own memory.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Zstd,
}

impl Encoding {
    /// From the `Content-Encoding` header, or sniffed from the body when there is none.
    pub fn detect(header: Option<&[u8]>, body: &[u8]) -> Result<Encoding, IngestError> {
        let Some(raw) = header else {
            return Ok(match body {
                [0x1f, 0x8b, ..] => Encoding::Gzip,
                [0x28, 0xb5, 0x2f, 0xfd, ..] => Encoding::Zstd,
                _ => Encoding::Identity,
            });
        };
        let value = std::str::from_utf8(raw).map_err(|_| IngestError::UnsupportedEncoding)?.trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            "zstd" => Ok(Encoding::Zstd),
            _ => Err(IngestError::UnsupportedEncoding),
        }
    }
}

/// Decompresses `body` under `limits`.
pub fn decode(encoding: Encoding, body: Bytes, limits: &Limits) -> Result<Bytes, IngestError> {
    if encoding == Encoding::Identity {
        return Ok(body);
    }
    let by_ratio = body.len().saturating_mul(limits.max_compression_ratio).max(RATIO_FLOOR);
    let cap = limits.max_decompressed_bytes.min(by_ratio);
    let over = || {
        if cap == limits.max_decompressed_bytes {
            IngestError::DecompressedTooLarge(cap)
        } else {
            IngestError::RatioTooHigh(limits.max_compression_ratio)
        }
    };
    let data = &body[..];
    let out = match encoding {
        Encoding::Gzip => read_capped(MultiGzDecoder::new(data), cap, "gzip")?,
        Encoding::Deflate if is_zlib(data) => read_capped(ZlibDecoder::new(data), cap, "deflate")?,
        Encoding::Deflate => read_capped(DeflateDecoder::new(data), cap, "deflate")?,
        Encoding::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|_| IngestError::CorruptEncoding("zstd"))?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|_| IngestError::CorruptEncoding("zstd"))?;
            read_capped(decoder, cap, "zstd")?
        }
        Encoding::Identity => return Ok(body),
    };
    match out {
        Some(out) => Ok(Bytes::from(out)),
        None => Err(over()),
    }
}

/// HTTP "deflate" is zlib-wrapped, but some clients send raw deflate; the zlib header is recognisable.
fn is_zlib(data: &[u8]) -> bool {
    matches!(data, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Reads all of `reader`, or `None` if it would produce more than `cap` bytes.
fn read_capped(reader: impl Read, cap: usize, name: &'static str) -> Result<Option<Vec<u8>>, IngestError> {
    let mut out = Vec::new();
    reader.take(cap as u64 + 1).read_to_end(&mut out).map_err(|_| IngestError::CorruptEncoding(name))?;
    Ok((out.len() <= cap).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn detects_and_decodes_each_encoding() {
        let json = br#"{"session_id":"s","seq":1,"events":[]}"#.repeat(50);
        let limits = Limits::default();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&json).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&json).unwrap();
        let zstd = zstd::bulk::compress(&json, 3).unwrap();
        type Case<'a> = (Option<&'a [u8]>, Vec<u8>, Encoding);
        let cases: Vec<Case> = vec![
            (None, json.clone(), Encoding::Identity),
            (Some(b"identity"), json.clone(), Encoding::Identity),
            (Some(b"GZIP"), gzip(&json), Encoding::Gzip),
            (None, gzip(&json), Encoding::Gzip),
            (Some(b"deflate"), zlib.finish().unwrap(), Encoding::Deflate),
            (Some(b"deflate"), raw.finish().unwrap(), Encoding::Deflate),
            (Some(b"zstd"), zstd.clone(), Encoding::Zstd),
            (None, zstd, Encoding::Zstd),
        ];
        for (header, body, expected) in cases {
            let encoding = Encoding::detect(header, &body).unwrap();
            assert_eq!(encoding, expected);
            assert_eq!(decode(encoding, Bytes::from(body), &limits).unwrap(), json);
        }
        assert!(matches!(Encoding::detect(Some(b"br"), b"x"), Err(IngestError::UnsupportedEncoding)));
        assert!(matches!(
            decode(Encoding::Gzip, Bytes::from_static(b"\x1f\x8bnope"), &limits),
            Err(IngestError::CorruptEncoding("gzip"))
        ));
    }

    #[test]
    fn caps_output_and_ratio() {
        let limits = Limits { max_decompressed_bytes: 2 * 1024 * 1024, max_compression_ratio: 10, ..Limits::default() };
        // 4 MiB of zeros gzips to a few KB: over the ratio cap, and with a lax ratio over the hard cap.
        let bomb = Bytes::from(gzip(&vec![0u8; 4 * 1024 * 1024]));
        assert!(matches!(decode(Encoding::Gzip, bomb.clone(), &limits), Err(IngestError::RatioTooHigh(10))));
        let lax = Limits { max_compression_ratio: 100_000, ..limits.clone() };
        assert!(matches!(decode(Encoding::Gzip, bomb, &lax), Err(IngestError::DecompressedTooLarge(_))));
        // 1.5 MiB of zeros: under the hard cap, but far over 10x the body and over the 1 MiB floor.
        let dense = gzip(&vec![0u8; 1536 * 1024]);
        assert!(matches!(decode(Encoding::Gzip, Bytes::from(dense), &limits), Err(IngestError::RatioTooHigh(10))));
        // Under the floor anything goes.
        let small = gzip(&vec![0u8; 512 * 1024]);
        assert_eq!(decode(Encoding::Gzip, Bytes::from(small), &limits).unwrap().len(), 512 * 1024);
    }
}
