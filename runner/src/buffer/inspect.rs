//! Offline views of a stopped runner's buffer, behind `traceflow-runner buffer stats | verify | dump`.

use std::io::Write;

use serde::Serialize;
use traceflow_protocol::{Chunk, Record};

use super::{framed_len, BufferStore, SeenSeqs, StoreError};

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub chunks: u64,
    pub batches: u64,
    pub events: u64,
    pub live_bytes: u64,
    pub raw_bytes: u64,
    pub disk_bytes: u64,
    pub first_chunk: Option<u64>,
    pub last_chunk: Option<u64>,
    pub next_seq: u64,
    pub oldest_received_at_ms: Option<u64>,
    pub newest_received_at_ms: Option<u64>,
    pub dedup_sessions: u64,
    pub quarantined_frames: u64,
    pub damaged_chunks: u64,
}

/// Walks every chunk; damaged ones are counted, not fatal.
pub fn stats(store: &BufferStore) -> Result<Stats, StoreError> {
    let mut stats = Stats {
        disk_bytes: store.size_on_disk(),
        next_seq: store.state()?.unwrap_or_default().next_seq,
        ..Stats::default()
    };
    let (chunks, read_error) = store.chunks(0);
    for item in chunks {
        let Ok((seq, bytes)) = item else {
            stats.damaged_chunks += 1;
            continue;
        };
        let Ok(chunk) = Chunk::decode(&bytes) else {
            stats.damaged_chunks += 1;
            continue;
        };
        stats.chunks += 1;
        stats.live_bytes += framed_len(bytes.len());
        stats.first_chunk.get_or_insert(seq);
        stats.last_chunk = Some(seq);
        for record in &chunk.records {
            stats.batches += 1;
            stats.events += u64::from(record.meta.events) + u64::from(record.meta.replay);
            stats.raw_bytes += u64::from(record.raw_len);
            let at = record.meta.received_at_ms;
            stats.oldest_received_at_ms = Some(stats.oldest_received_at_ms.map_or(at, |t| t.min(at)));
            stats.newest_received_at_ms = Some(stats.newest_received_at_ms.map_or(at, |t| t.max(at)));
        }
    }
    if let Some(e) = read_error.get() {
        return Err(StoreError::Io(std::io::Error::other(e)));
    }
    stats.dedup_sessions = store.dedup_entries().count() as u64;
    stats.quarantined_frames = store.db.tree("quarantine")?.len() as u64;
    Ok(stats)
}

#[derive(Debug, Default, Serialize)]
pub struct Verification {
    pub chunks: u64,
    pub batches: u64,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks everything a reader relies on: frames, chunk layout, every record's decompression and JSON,
/// sequence order, the saved counters and the dedup index.
pub fn verify(store: &BufferStore) -> Result<Verification, StoreError> {
    let mut report = Verification::default();
    let mut live = 0;
    let mut last = None;
    let (chunks, read_error) = store.chunks(0);
    for item in chunks {
        let (seq, bytes) = match item {
            Ok(pair) => pair,
            Err(damage) => {
                report.problems.push(damage.to_string());
                continue;
            }
        };
        if last.is_some_and(|last| seq <= last) {
            report.problems.push(format!("chunk {seq} is out of order"));
        }
        last = Some(seq);
        live += framed_len(bytes.len());
        match Chunk::decode(&bytes) {
            Ok(chunk) => {
                report.chunks += 1;
                for (i, record) in chunk.records.iter().enumerate() {
                    report.batches += 1;
                    if let Err(problem) = check_record(record) {
                        report.problems.push(format!("chunk {seq} record {i}: {problem}"));
                    }
                }
            }
            Err(e) => report.problems.push(format!("chunk {seq}: {e}")),
        }
    }
    if let Some(e) = read_error.get() {
        report.problems.push(format!("read error: {e}"));
    }
    match store.state()? {
        None if report.chunks > 0 => report.problems.push("state record missing".into()),
        None => {}
        Some(state) => {
            if state.depth != report.chunks || state.live_bytes != live {
                report.problems.push(format!(
                    "saved counters ({} chunks, {} bytes) disagree with the data ({} chunks, {live} bytes)",
                    state.depth, state.live_bytes, report.chunks
                ));
            }
            if last.is_some_and(|last| state.next_seq <= last) {
                report.problems.push(format!(
                    "next sequence {} is not past chunk {}",
                    state.next_seq,
                    last.unwrap_or(0)
                ));
            }
        }
    }
    for entry in store.dedup_entries() {
        let (key, value) = entry?;
        if key.len() != 17 || SeenSeqs::decode(&value).is_none() {
            report.problems.push("malformed dedup entry".into());
        }
    }
    Ok(report)
}

fn check_record(record: &Record) -> Result<(), String> {
    let json = record.json().map_err(|e| e.to_string())?;
    if json.len() != record.raw_len as usize {
        return Err(format!("length {} but {} declared", json.len(), record.raw_len));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&json).map_err(|e| format!("stored batch is not JSON: {e}"))?;
    Ok(())
}

#[derive(Serialize)]
struct DumpLine<'a> {
    chunk: u64,
    project: &'a str,
    session_id: &'a str,
    seq: u64,
    received_at_ms: u64,
    batch: &'a serde_json::value::RawValue,
}

/// Writes one JSON line per stored batch, in buffer order. Damaged chunks are reported on `errors`.
pub fn dump(store: &BufferStore, out: &mut impl Write, errors: &mut impl Write) -> Result<u64, StoreError> {
    let mut batches = 0;
    let (chunks, read_error) = store.chunks(0);
    for item in chunks {
        let chunk = item.map_err(|d| d.to_string()).and_then(|(seq, bytes)| {
            Chunk::decode(&bytes).map(|chunk| (seq, chunk)).map_err(|e| format!("chunk {seq}: {e}"))
        });
        let (seq, chunk) = match chunk {
            Ok(pair) => pair,
            Err(problem) => {
                writeln!(errors, "damaged: {problem}")?;
                continue;
            }
        };
        for record in &chunk.records {
            let json = match record.json() {
                Ok(json) => json,
                Err(e) => {
                    writeln!(errors, "damaged: chunk {seq}: {e}")?;
                    continue;
                }
            };
            let Ok(text) = std::str::from_utf8(&json) else {
                writeln!(errors, "damaged: chunk {seq}: stored batch is not UTF-8")?;
                continue;
            };
            // One line per batch: a raw CR or LF in valid JSON can only be whitespace, so a space stands in for it.
            let text: std::borrow::Cow<'_, str> =
                if text.contains(['\n', '\r']) { text.replace(['\n', '\r'], " ").into() } else { text.into() };
            let Ok(raw) = serde_json::from_str::<&serde_json::value::RawValue>(&text) else {
                writeln!(errors, "damaged: chunk {seq}: stored batch is not JSON")?;
                continue;
            };
            let meta = &record.meta;
            let line = DumpLine {
                chunk: seq,
                project: &meta.project,
                session_id: &meta.session_id,
                seq: meta.seq,
                received_at_ms: meta.received_at_ms,
                batch: raw,
            };
            serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
            batches += 1;
        }
    }
    if let Some(e) = read_error.get() {
        return Err(StoreError::Io(std::io::Error::other(e)));
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use traceflow_protocol::{Codec, RecordMeta};

    use super::*;

    #[test]
    fn dump_writes_one_line_per_batch_whatever_whitespace_the_batch_had() {
        let temp = tempfile::tempdir().unwrap();
        let store = BufferStore::open(temp.path(), 1 << 20).unwrap();
        let batches = ["{\n  \"session_id\": \"a\",\r\n  \"seq\": 1\n}", r#"{"session_id":"b","seq":2,"note":"x\ny"}"#];
        let records: Vec<Record> = batches
            .iter()
            .enumerate()
            .map(|(i, json)| {
                let meta = RecordMeta {
                    project: "p".into(),
                    session_id: format!("s{i}"),
                    seq: i as u64,
                    received_at_ms: 1,
                    events: 0,
                    replay: 0,
                };
                Record::new(meta, Codec::None, 1, json.as_bytes()).unwrap()
            })
            .collect();
        let chunk = Chunk::encode(&records);
        store.append_chunk(&chunk, crate::buffer::framed_len(chunk.len())).unwrap();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        assert_eq!(dump(&store, &mut out, &mut errors).unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["batch"]["seq"], 1);
        let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(second["batch"]["note"], "x\ny", "escapes inside strings are kept");
        assert!(errors.is_empty());
    }
}
