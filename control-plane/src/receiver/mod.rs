//! The upload receiver: checks a runner's chunk ([`verify_chunk`], pure) and hands it to the [`Committer`], which
//! stores each batch once per (tenant, project, session, seq) and answers only after a group-commit flush.

mod committer;

pub use committer::{Committer, Stored, Upload};

use serde::de::IgnoredAny;
use traceflow_protocol::limits::MAX_SESSION_ID_LEN;
use traceflow_protocol::{Chunk, Record, RecordMeta};

/// Largest chunk accepted, before and after removing a Content-Encoding.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024 * 1024;
/// Longest project fingerprint accepted in a record.
pub const MAX_PROJECT_LEN: usize = 256;

/// A decoded chunk whose every record decompressed to its declared length and is JSON.
#[derive(Debug)]
pub struct VerifiedChunk {
    pub records: Vec<Record>,
    /// Sum of the records' uncompressed lengths.
    pub raw_bytes: u64,
}

/// Splits a chunk id: `<runner_id>/<chunk_seq>` for one buffered chunk, or `<runner_id>/<first>-<last>` for
/// the consecutive buffered chunks a runner joined into one upload (first <= last). Returns the runner id and
/// the sequence range.
pub fn parse_chunk_id(id: &str) -> Option<(&str, u64, u64)> {
    let (runner, seqs) = id.rsplit_once('/')?;
    if !is_runner_id(runner) {
        return None;
    }
    let seq = |text: &str| -> Option<u64> {
        if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    let (first, last) = match seqs.split_once('-') {
        Some((first, last)) => (seq(first)?, seq(last)?),
        None => (seq(seqs)?, seq(seqs)?),
    };
    (first <= last).then_some((runner, first, last))
}

/// Runner ids are what the control plane issues (`r_` + base32), but anything in the certificate name alphabet
/// is recognised so a bad id gets a precise error.
pub fn is_runner_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Decodes `bytes` as a `TFC1` chunk and checks every record: sane meta, data that decompresses to exactly
/// `raw_len` bytes, and JSON. The message of an error names the record.
pub fn verify_chunk(bytes: &[u8]) -> Result<VerifiedChunk, String> {
    let chunk = Chunk::decode(bytes).map_err(|e| e.to_string())?;
    let mut raw_bytes = 0u64;
    for (index, record) in chunk.records.iter().enumerate() {
        let problem = |what: String| format!("record {index}: {what}");
        check_meta(&record.meta).map_err(problem)?;
        let json = record.json().map_err(|e| problem(e.to_string()))?;
        if json.len() != record.raw_len as usize {
            return Err(problem(format!("{} bytes decompressed, {} declared", json.len(), record.raw_len)));
        }
        serde_json::from_slice::<IgnoredAny>(&json).map_err(|e| problem(format!("not JSON: {e}")))?;
        raw_bytes += u64::from(record.raw_len);
    }
    Ok(VerifiedChunk { records: chunk.records, raw_bytes })
}

fn check_meta(meta: &RecordMeta) -> Result<(), String> {
    let session = &meta.session_id;
    let session_ok = !session.is_empty()
        && session.len() <= MAX_SESSION_ID_LEN
        && session.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !session_ok {
        return Err("session_id must be 1 to 128 characters of [A-Za-z0-9._:-]".into());
    }
    if meta.project.is_empty() || meta.project.len() > MAX_PROJECT_LEN || meta.project.chars().any(char::is_control) {
        return Err(format!("project must be 1 to {MAX_PROJECT_LEN} bytes without control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use traceflow_protocol::Codec;

    use super::*;

    fn record(session: &str, seq: u64, json: &[u8]) -> Record {
        let meta = RecordMeta {
            project: "p".into(),
            session_id: session.into(),
            seq,
            received_at_ms: 1,
            events: 1,
            replay: 0,
        };
        Record::new(meta, Codec::Zstd, 1, json).unwrap()
    }

    #[test]
    fn chunk_ids() {
        assert_eq!(parse_chunk_id("r_abc/17"), Some(("r_abc", 17, 17)));
        assert_eq!(parse_chunk_id("r_abc/17-40"), Some(("r_abc", 17, 40)));
        assert_eq!(parse_chunk_id("r_abc/3-3"), Some(("r_abc", 3, 3)));
        assert_eq!(parse_chunk_id("a/b/3"), None);
        for bad in [
            "",
            "r_abc",
            "/1",
            "r/",
            "r/+1",
            "r/-1",
            "r/1x",
            "r/99999999999999999999",
            "r x/1",
            "r/1-",
            "r/5-4",
            "r/1-2-3",
            "r/1--2",
        ] {
            assert_eq!(parse_chunk_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn verifies_records() {
        let good = record("s-1", 1, br#"{"events":[]}"#);
        let verified = verify_chunk(&Chunk::encode(&[good.clone(), record("s-1", 2, b"[1,2]")])).unwrap();
        assert_eq!(verified.records.len(), 2);
        assert_eq!(verified.raw_bytes, 13 + 5);

        let not_json = record("s", 1, b"{oops");
        assert!(verify_chunk(&Chunk::encode(&[good.clone(), not_json])).unwrap_err().starts_with("record 1"));
        let mut corrupt = good.clone();
        corrupt.data = b"garbage".to_vec();
        assert!(verify_chunk(&Chunk::encode(&[corrupt])).is_err());
        let mut short = good.clone();
        short.raw_len += 5;
        assert!(verify_chunk(&Chunk::encode(&[short])).unwrap_err().contains("declared"));
        assert!(verify_chunk(&Chunk::encode(&[record("bad session", 1, b"{}")])).is_err());
        let mut no_project = good;
        no_project.meta.project.clear();
        assert!(verify_chunk(&Chunk::encode(&[no_project])).is_err());
        assert!(verify_chunk(b"TFC2").is_err());
        assert_eq!(verify_chunk(&Chunk::encode(&[])).unwrap().records.len(), 0);
    }
}
