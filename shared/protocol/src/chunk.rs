//! Chunks: the unit the runner buffers, and later uploads, as one piece.
//!
//! A chunk groups the batches that one group commit made durable. Each batch is a [`Record`]: a small JSON
//! header ([`RecordMeta`]) plus the batch JSON compressed on its own, so the runner can compress batches in
//! parallel on its request threads and the writer only concatenates. Layout, little-endian:
//!
//! ```text
//! "TFC1" | record_count u32 | record*      record = meta_len u32 | meta JSON | codec u8 | raw_len u32 | data_len u32 | data
//! ```

use serde::{Deserialize, Serialize};

use crate::codec::{Codec, CodecError};

const MAGIC: &[u8; 4] = b"TFC1";

/// What the runner knows about a stored batch besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMeta {
    /// Fingerprint of the project key (never the key itself).
    pub project: String,
    pub session_id: String,
    pub seq: u64,
    /// When the runner accepted the batch, epoch milliseconds.
    pub received_at_ms: u64,
    pub events: u32,
    pub replay: u32,
}

/// One stored batch: meta plus its compressed JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub meta: RecordMeta,
    pub codec: Codec,
    /// Length of the batch JSON before compression.
    pub raw_len: u32,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("not a chunk (bad magic)")]
    BadMagic,
    #[error("chunk truncated at byte {0}")]
    Truncated(usize),
    #[error("record meta is invalid: {0}")]
    Meta(String),
    #[error("{0} trailing bytes after the last record")]
    Trailing(usize),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("record of {0} bytes is too large for a chunk")]
    RecordTooLarge(usize),
    #[error("more than 2^32 records in one chunk")]
    TooManyRecords,
}

impl Record {
    /// Compresses `json` into a record.
    pub fn new(meta: RecordMeta, codec: Codec, level: i32, json: &[u8]) -> Result<Record, ChunkError> {
        let raw_len = u32::try_from(json.len()).map_err(|_| ChunkError::RecordTooLarge(json.len()))?;
        Ok(Record { meta, codec, raw_len, data: codec.compress(json, level) })
    }

    /// The batch JSON, decompressed.
    pub fn json(&self) -> Result<Vec<u8>, CodecError> {
        self.codec.decompress(&self.data, self.raw_len as usize)
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let meta = serde_json::to_vec(&self.meta).unwrap_or_default();
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.push(self.codec.tag());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
    }
}

/// A decoded chunk.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Chunk {
    pub records: Vec<Record>,
}

impl Chunk {
    /// Encodes `records` as one chunk.
    pub fn encode(records: &[Record]) -> Vec<u8> {
        let size = 8 + records.iter().map(|r| r.data.len() + 256).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(records.len() as u32).to_le_bytes());
        for record in records {
            record.encode_into(&mut out);
        }
        out
    }

    /// Number of records in an encoded chunk, read from its header.
    pub fn count(bytes: &[u8]) -> Option<usize> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        Some(u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize)
    }

    /// Joins encoded chunks into one holding all their records, in order, without decoding them: the records
    /// are copied as they are, and only the header's count changes.
    pub fn concat(parts: &[&[u8]]) -> Result<Vec<u8>, ChunkError> {
        let mut count = 0u32;
        for part in parts {
            let n = Chunk::count(part).ok_or(ChunkError::BadMagic)?;
            count = u32::try_from(n).ok().and_then(|n| count.checked_add(n)).ok_or(ChunkError::TooManyRecords)?;
        }
        let mut out = Vec::with_capacity(8 + parts.iter().map(|p| p.len() - 8).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&count.to_le_bytes());
        for part in parts {
            out.extend_from_slice(&part[8..]);
        }
        Ok(out)
    }

    /// `received_at_ms` of an encoded chunk's first record, without decoding the rest.
    pub fn first_received_at_ms(bytes: &[u8]) -> Option<u64> {
        Chunk::count(bytes).filter(|&n| n > 0)?;
        let meta_len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
        let meta: RecordMeta = serde_json::from_slice(bytes.get(12..12 + meta_len)?).ok()?;
        Some(meta.received_at_ms)
    }

    pub fn decode(bytes: &[u8]) -> Result<Chunk, ChunkError> {
        let mut reader = Reader { bytes, pos: 0 };
        if reader.take(4)? != MAGIC {
            return Err(ChunkError::BadMagic);
        }
        let count = reader.u32()? as usize;
        // Each record needs at least 13 bytes, which bounds the allocation against a corrupt count.
        let mut records = Vec::with_capacity(count.min(bytes.len() / 13));
        for _ in 0..count {
            let meta_len = reader.u32()? as usize;
            let meta = serde_json::from_slice(reader.take(meta_len)?).map_err(|e| ChunkError::Meta(e.to_string()))?;
            let codec = Codec::from_tag(reader.take(1)?[0])?;
            let raw_len = reader.u32()?;
            let data_len = reader.u32()? as usize;
            let data = reader.take(data_len)?.to_vec();
            records.push(Record { meta, codec, raw_len, data });
        }
        if reader.pos != bytes.len() {
            return Err(ChunkError::Trailing(bytes.len() - reader.pos));
        }
        Ok(Chunk { records })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        let end =
            self.pos.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or(ChunkError::Truncated(self.pos))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, ChunkError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(seq: u64) -> RecordMeta {
        RecordMeta { project: "pk_1".into(), session_id: "s".into(), seq, received_at_ms: 5, events: 1, replay: 2 }
    }

    proptest! {
        #[test]
        fn round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 0..8), lz4 in any::<bool>()) {
            let codec = if lz4 { Codec::Lz4 } else { Codec::Zstd };
            let records: Vec<Record> = payloads.iter().enumerate()
                .map(|(i, p)| Record::new(meta(i as u64), codec, 1, p).unwrap()).collect();
            let decoded = Chunk::decode(&Chunk::encode(&records)).unwrap();
            prop_assert_eq!(&decoded.records, &records);
            let bytes = Chunk::encode(&records);
            prop_assert_eq!(Chunk::count(&bytes), Some(records.len()));
            prop_assert_eq!(Chunk::first_received_at_ms(&bytes), records.first().map(|r| r.meta.received_at_ms));
            for (record, payload) in decoded.records.iter().zip(&payloads) {
                prop_assert_eq!(&record.json().unwrap(), payload);
            }
        }

        #[test]
        fn concat_keeps_every_record_in_order(sizes in proptest::collection::vec(0usize..5, 0..6)) {
            let mut seq = 0;
            let mut all = Vec::new();
            let parts: Vec<Vec<u8>> = sizes.iter().map(|&n| {
                let records: Vec<Record> = (0..n).map(|_| {
                    seq += 1;
                    Record::new(meta(seq), Codec::Zstd, 1, format!("{{\"n\":{seq}}}").as_bytes()).unwrap()
                }).collect();
                all.extend(records.clone());
                Chunk::encode(&records)
            }).collect();
            let joined = Chunk::concat(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap();
            prop_assert_eq!(Chunk::decode(&joined).unwrap().records, all);
        }

        #[test]
        fn truncation_is_an_error_not_a_panic(len in 1usize..3000, cut in 0usize..3000) {
            let record = Record::new(meta(1), Codec::None, 1, &vec![7u8; len]).unwrap();
            let bytes = Chunk::encode(&[record]);
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(Chunk::decode(&bytes[..cut]).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Chunk::decode(&bytes);
            let _ = Chunk::concat(&[&bytes, &bytes]);
            let _ = Chunk::first_received_at_ms(&bytes);
        }
    }
}
