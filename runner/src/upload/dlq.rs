//! The dead-letter tree: chunks the control plane refused for good (a permanent 4xx), kept with the reason
//! instead of being retried forever or dropped. `traceflow-runner dlq list | retry` inspects them and puts
//! them back into the buffer once the cause is fixed.
//!
//! ```text
//! tree "dlq":  'F' chunk_seq u64 BE, frame_index u16 BE -> frame (same format as the buffer)
//!              'R' chunk_seq u64 BE                      -> DeadLetter (JSON)
//! ```

use serde::{Deserialize, Serialize};
use traceflow_protocol::frame;
use traceflow_protocol::Chunk;

use traceflow_store::{Batch, Tree};

use crate::buffer::{framed_len, BufferStore, StoreError};

/// Why a chunk was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub chunk_seq: u64,
    /// HTTP status of the refusal (0 when the chunk could not even be read).
    pub status: u16,
    pub code: String,
    pub message: String,
    pub at_ms: u64,
    pub bytes: u64,
    pub batches: u64,
}

fn record_key(seq: u64) -> [u8; 9] {
    let mut key = [0; 9];
    key[0] = b'R';
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn frame_key(seq: u64, index: u16) -> [u8; 11] {
    let mut key = [0; 11];
    key[0] = b'F';
    key[1..9].copy_from_slice(&seq.to_be_bytes());
    key[9..].copy_from_slice(&index.to_be_bytes());
    key
}

fn tree(store: &BufferStore) -> Result<Tree, StoreError> {
    Ok(store.db.tree("dlq")?)
}

/// Keeps `chunk` with its reason. Not flushed here: the buffer's next flush covers it, and the chunk leaves
/// the buffer only after this returns, so a crash in between at worst dead-letters it twice (same keys).
pub fn put(store: &BufferStore, letter: &DeadLetter, chunk: &[u8]) -> Result<(), StoreError> {
    let tree = tree(store)?;
    let frames = frame::split(letter.chunk_seq, chunk).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
    let mut batch = Batch::default();
    for (index, frame) in frames.into_iter().enumerate() {
        batch.insert(&frame_key(letter.chunk_seq, index as u16)[..], frame);
    }
    batch.insert(&record_key(letter.chunk_seq)[..], serde_json::to_vec(letter).unwrap_or_default());
    tree.apply(batch)?;
    Ok(())
}

pub fn list(store: &BufferStore) -> Result<Vec<DeadLetter>, StoreError> {
    let tree = tree(store)?;
    let mut letters = Vec::new();
    for item in tree.scan_prefix([b'R']) {
        let (_, value) = item?;
        if let Ok(letter) = serde_json::from_slice(&value) {
            letters.push(letter);
        }
    }
    Ok(letters)
}

fn read_chunk(tree: &Tree, seq: u64) -> Result<Vec<u8>, StoreError> {
    let (start, end) = (frame_key(seq, 0), frame_key(seq, u16::MAX));
    let mut frames = Vec::new();
    for item in tree.range(&start[..]..=&end[..]) {
        let (key, value) = item?;
        frames.push((u16::from_be_bytes([key[9], key[10]]), value));
    }
    frame::assemble(seq, &frames).map_err(|damage| {
        StoreError::Io(std::io::Error::other(format!("dead letter {seq} is damaged: {}", damage.reason)))
    })
}

/// Moves dead letters (all, or the given chunk sequence numbers) back into the buffer as new chunks, for a
/// stopped runner. Returns the new chunk sequence numbers.
pub fn retry(store: &BufferStore, only: &[u64]) -> Result<Vec<(u64, u64)>, StoreError> {
    let tree = tree(store)?;
    let mut moved = Vec::new();
    for letter in list(store)? {
        if !only.is_empty() && !only.contains(&letter.chunk_seq) {
            continue;
        }
        let chunk = read_chunk(&tree, letter.chunk_seq)?;
        Chunk::decode(&chunk).map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
        let new_seq = store.append_chunk(&chunk, framed_len(chunk.len()))?;
        let mut batch = Batch::default();
        for item in tree.scan_prefix(&frame_key(letter.chunk_seq, 0)[..9]) {
            batch.remove(item?.0);
        }
        batch.remove(&record_key(letter.chunk_seq)[..]);
        tree.apply(batch)?;
        moved.push((letter.chunk_seq, new_seq));
    }
    store.db.sync()?;
    Ok(moved)
}
