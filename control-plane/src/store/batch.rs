//! How one stored batch is laid out in the `batches` tree. The record keeps the runner's compressed bytes and codec
//! (decompressed only on read), and is cut into parts of at most [`PART_BYTES`] because the storage engine (sled) keeps bigger values in
//! separate blob files. Part 0 starts with a header, little-endian:
//!
//! ```text
//! version u8 = 1 | codec u8 | raw_len u32 | received_at_ms u64 | events u32 | replay u32 | data_len u32
//!   | runner_id_len u8 | runner_id | data…        (parts 1.. hold the rest of data)
//! ```

use traceflow_protocol::{Codec, Record};

use super::{keys, StoreError};

/// Largest value written to the `batches` tree.
pub const PART_BYTES: usize = 60 * 1024;
const VERSION: u8 = 1;
const FIXED_HEADER: usize = 1 + 1 + 4 + 8 + 4 + 4 + 4 + 1;

/// A batch as read back, still compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub seq: u64,
    pub codec: Codec,
    pub raw_len: u32,
    pub received_at_ms: u64,
    pub events: u32,
    pub replay: u32,
    pub runner_id: String,
    pub data: Vec<u8>,
}

impl StoredBatch {
    /// The batch JSON, decompressed.
    pub fn json(&self) -> Result<Vec<u8>, StoreError> {
        self.codec
            .decompress(&self.data, self.raw_len as usize)
            .map_err(|e| StoreError::Corrupt { tree: "batches", reason: e.to_string() })
    }
}

/// The values of parts 0.. of `record` (`runner_id` must be at most 255 bytes).
pub fn encode_parts(record: &Record, runner_id: &str) -> Vec<Vec<u8>> {
    let runner = &runner_id.as_bytes()[..runner_id.len().min(255)];
    let mut first = Vec::with_capacity(PART_BYTES.min(FIXED_HEADER + runner.len() + record.data.len()));
    first.push(VERSION);
    first.push(record.codec.tag());
    first.extend_from_slice(&record.raw_len.to_le_bytes());
    first.extend_from_slice(&record.meta.received_at_ms.to_le_bytes());
    first.extend_from_slice(&record.meta.events.to_le_bytes());
    first.extend_from_slice(&record.meta.replay.to_le_bytes());
    first.extend_from_slice(&(record.data.len() as u32).to_le_bytes());
    first.push(runner.len() as u8);
    first.extend_from_slice(runner);
    let in_first = (PART_BYTES - first.len()).min(record.data.len());
    first.extend_from_slice(&record.data[..in_first]);
    let mut parts = vec![first];
    parts.extend(record.data[in_first..].chunks(PART_BYTES).map(<[u8]>::to_vec));
    parts
}

fn decode_header(seq: u64, value: &[u8]) -> Result<(StoredBatch, usize), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt { tree: "batches", reason: format!("seq {seq}: {reason}") };
    if value.len() < FIXED_HEADER || value[0] != VERSION {
        return Err(corrupt("bad header"));
    }
    let u32_at = |at: usize| u32::from_le_bytes([value[at], value[at + 1], value[at + 2], value[at + 3]]);
    let codec = Codec::from_tag(value[1]).map_err(|e| corrupt(&e.to_string()))?;
    let mut received = [0u8; 8];
    received.copy_from_slice(&value[6..14]);
    let data_len = u32_at(22) as usize;
    let runner_len = usize::from(value[26]);
    let runner = value.get(FIXED_HEADER..FIXED_HEADER + runner_len).ok_or_else(|| corrupt("truncated"))?;
    let mut batch = StoredBatch {
        seq,
        codec,
        raw_len: u32_at(2),
        received_at_ms: u64::from_le_bytes(received),
        events: u32_at(14),
        replay: u32_at(18),
        runner_id: String::from_utf8_lossy(runner).into_owned(),
        data: Vec::with_capacity(data_len.min(64 * 1024 * 1024)),
    };
    batch.data.extend_from_slice(&value[FIXED_HEADER + runner_len..]);
    Ok((batch, data_len))
}

/// A session's batches in `seq` order, starting after `after_seq`, at most `limit` of them; the flag says whether
/// more follow.
pub fn read_session(
    tree: &traceflow_store::Tree,
    tenant: &str,
    project: &str,
    session: &str,
    after_seq: Option<u64>,
    limit: usize,
) -> Result<(Vec<StoredBatch>, bool), StoreError> {
    let prefix = keys::batch_prefix(tenant, project, session);
    let start = match after_seq {
        Some(seq) if seq == u64::MAX => return Ok((Vec::new(), false)),
        Some(seq) => keys::batch_key(tenant, project, session, seq + 1, 0),
        None => prefix.clone(),
    };
    let mut batches: Vec<StoredBatch> = Vec::new();
    let mut expected_len = 0usize;
    for entry in tree.range(start..) {
        let (key, value) = entry?;
        if !key.starts_with(&prefix) {
            break;
        }
        let (seq, part) = keys::batch_suffix(&key, prefix.len())
            .ok_or_else(|| StoreError::Corrupt { tree: "batches", reason: "bad key".into() })?;
        if part == 0 {
            finish(batches.last(), expected_len)?;
            if batches.len() == limit {
                return Ok((batches, true));
            }
            let (batch, len) = decode_header(seq, &value)?;
            expected_len = len;
            batches.push(batch);
        } else {
            match batches.last_mut() {
                Some(batch) if batch.seq == seq => batch.data.extend_from_slice(&value),
                _ => return Err(StoreError::Corrupt { tree: "batches", reason: format!("seq {seq}: orphan part") }),
            }
        }
    }
    finish(batches.last(), expected_len)?;
    Ok((batches, false))
}

fn finish(batch: Option<&StoredBatch>, expected_len: usize) -> Result<(), StoreError> {
    match batch {
        Some(batch) if batch.data.len() != expected_len => Err(StoreError::Corrupt {
            tree: "batches",
            reason: format!("seq {}: {} of {expected_len} bytes", batch.seq, batch.data.len()),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use traceflow_protocol::RecordMeta;

    use super::*;

    fn record(seq: u64, len: usize) -> Record {
        let meta = RecordMeta {
            project: "p".into(),
            session_id: "s".into(),
            seq,
            received_at_ms: 42 + seq,
            events: 3,
            replay: 4,
        };
        let json: Vec<u8> = (0..len).map(|i| b'a' + (i * 7 % 26) as u8).collect();
        Record::new(meta, Codec::None, 1, &json).unwrap()
    }

    #[test]
    fn parts_round_trip_in_seq_order_with_paging() {
        let dir = tempfile::tempdir().unwrap();
        let db = traceflow_store::Db::open(&dir.path().join("db"), traceflow_store::Options::default()).unwrap();
        let tree = db.tree("batches").unwrap();
        let records = [record(10, 5), record(2, PART_BYTES * 2 + 17), record(7, PART_BYTES - 30), record(3, 0)];
        for r in &records {
            for (part, value) in encode_parts(r, "r_1").into_iter().enumerate() {
                assert!(value.len() <= PART_BYTES);
                tree.insert(keys::batch_key("t", "p", "s", r.meta.seq, part as u16), value).unwrap();
            }
        }
        // Another session sharing a prefix must not show up.
        for (part, value) in encode_parts(&record(1, 3), "r_1").into_iter().enumerate() {
            tree.insert(keys::batch_key("t", "p", "s2", 1, part as u16), value).unwrap();
        }
        let (all, more) = read_session(&tree, "t", "p", "s", None, 100).unwrap();
        assert!(!more);
        assert_eq!(all.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![2, 3, 7, 10]);
        for batch in &all {
            let original = records.iter().find(|r| r.meta.seq == batch.seq).unwrap();
            assert_eq!(batch.json().unwrap(), original.json().unwrap());
            assert_eq!((batch.received_at_ms, batch.events, batch.replay), (42 + batch.seq, 3, 4));
            assert_eq!(batch.runner_id, "r_1");
        }
        let (page, more) = read_session(&tree, "t", "p", "s", None, 2).unwrap();
        assert!(more);
        assert_eq!(page.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![2, 3]);
        let (page, more) = read_session(&tree, "t", "p", "s", Some(3), 2).unwrap();
        assert!(!more);
        assert_eq!(page.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![7, 10]);
        // A missing part is reported, not papered over.
        tree.remove(keys::batch_key("t", "p", "s", 2, 1)).unwrap();
        assert!(read_session(&tree, "t", "p", "s", None, 100).is_err());
    }
}
