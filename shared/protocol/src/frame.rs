//! Frames: how a chunk is cut into checksummed records of 4 KiB (at most 64 KiB) for the durable buffer.
//!
//! The storage engine keeps values up to 64 KiB inline and sends larger ones to blob files that inflate the disk
//! 60-130 times (measured; see docs/durability.md), so no stored value may exceed [`MAX_FRAME_LEN`]. [`split`] cuts
//! [`FRAME_LEN`] frames, much smaller, for two reasons found in sled 0.34's source:
//! - sled writes any log record over 128 KiB (a quarter of a segment) to a blob file it never syncs, and a tree
//!   node is one record. A buffer leaf holds up to about 20 entries before sled splits or merges it, so 4 KiB
//!   frames keep every buffer node in the log, which the runner's sync makes durable.
//! - sled's page cache is split into 256 shards, and a shard evicts only once 64 accesses to its pages have queued
//!   up. The leaves left behind the buffer's tail are not read again, so what sled holds in memory is counted in
//!   inserts, not bytes, and smaller values mean fewer bytes per insert. Under the ingest benchmark
//!   (`traceflow-bench ingest --pii off`) the runner's peak RSS was 154 MiB with 64 KiB frames, 78 MiB with 16 KiB
//!   frames and 53-55 MiB with 4 KiB frames.
//!
//! Each frame carries its chunk's sequence number, its index and the frame count, and a CRC32 over header and
//! payload, so a reader can tell a complete chunk from a torn or corrupted one without trusting anything but the
//! bytes. Layout, little-endian, 24-byte header:
//!
//! ```text
//! "TF" | version u8 | reserved u8 | chunk_seq u64 | index u16 | count u16 | payload_len u32 | crc32 u32 | payload
//! ```

const MAGIC: &[u8; 2] = b"TF";
const VERSION: u8 = 1;
/// Size of the frame header.
pub const FRAME_HEADER_LEN: usize = 24;
/// Largest value the storage engine keeps inline: no frame may be larger (earlier versions wrote frames this size).
pub const MAX_FRAME_LEN: usize = 64 * 1024;
/// Largest frame [`split`] writes, header included.
pub const FRAME_LEN: usize = 4 * 1024;
/// Largest payload of a frame [`split`] writes.
pub const FRAME_PAYLOAD: usize = FRAME_LEN - FRAME_HEADER_LEN;
const _: () = assert!(FRAME_LEN <= MAX_FRAME_LEN);

/// A decoded, checksum-verified frame borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub chunk_seq: u64,
    pub index: u16,
    pub count: u16,
    pub payload: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("bad frame magic or version")]
    BadMagic,
    #[error("frame payload length {declared} does not match the {actual} bytes present")]
    Length { declared: usize, actual: usize },
    #[error("frame checksum mismatch")]
    Checksum,
    #[error("chunk too large to frame: {0} bytes")]
    TooLarge(usize),
}

/// A chunk that cannot be read back whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("chunk {chunk_seq}: {reason}")]
pub struct Damage {
    pub chunk_seq: u64,
    pub reason: String,
}

impl<'a> Frame<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if bytes.len() < FRAME_HEADER_LEN {
            return Err(FrameError::Short(bytes.len()));
        }
        if &bytes[..2] != MAGIC || bytes[2] != VERSION {
            return Err(FrameError::BadMagic);
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let declared = u32_at(16) as usize;
        let payload = &bytes[FRAME_HEADER_LEN..];
        if declared != payload.len() {
            return Err(FrameError::Length { declared, actual: payload.len() });
        }
        if checksum(&bytes[..20], payload) != u32_at(20) {
            return Err(FrameError::Checksum);
        }
        Ok(Frame { chunk_seq: u64_at(4), index: u16_at(12), count: u16_at(14), payload })
    }
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

/// Cuts `chunk` into frames of at most [`FRAME_LEN`] bytes. An empty chunk still gets one frame.
pub fn split(chunk_seq: u64, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
    let count = chunk.len().div_ceil(FRAME_PAYLOAD).max(1);
    let count = u16::try_from(count).map_err(|_| FrameError::TooLarge(chunk.len()))?;
    let pieces: Vec<&[u8]> = if chunk.is_empty() { vec![chunk] } else { chunk.chunks(FRAME_PAYLOAD).collect() };
    Ok(pieces
        .into_iter()
        .enumerate()
        .map(|(index, payload)| {
            let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
            frame.extend_from_slice(MAGIC);
            frame.extend_from_slice(&[VERSION, 0]);
            frame.extend_from_slice(&chunk_seq.to_le_bytes());
            frame.extend_from_slice(&(index as u16).to_le_bytes());
            frame.extend_from_slice(&count.to_le_bytes());
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            let crc = checksum(&frame, payload);
            frame.extend_from_slice(&crc.to_le_bytes());
            frame.extend_from_slice(payload);
            frame
        })
        .collect())
}

/// Reassembles one chunk from the frames stored under its sequence number, as `(index from the key, value)`
/// in key order. Every frame must verify, agree with its key, and the indexes must run `0..count` exactly.
pub fn assemble<B: AsRef<[u8]>>(chunk_seq: u64, frames: &[(u16, B)]) -> Result<Vec<u8>, Damage> {
    let damage = |reason: String| Damage { chunk_seq, reason };
    let mut out = Vec::with_capacity(frames.len() * FRAME_PAYLOAD);
    let mut expected_count = None;
    for (position, (key_index, bytes)) in frames.iter().enumerate() {
        let frame = Frame::decode(bytes.as_ref()).map_err(|e| damage(format!("frame {key_index}: {e}")))?;
        if frame.chunk_seq != chunk_seq || frame.index != *key_index || usize::from(frame.index) != position {
            return Err(damage(format!(
                "frame {key_index} is out of place (header says chunk {} frame {})",
                frame.chunk_seq, frame.index
            )));
        }
        if *expected_count.get_or_insert(frame.count) != frame.count {
            return Err(damage(format!("frame {key_index} disagrees on the frame count")));
        }
        out.extend_from_slice(frame.payload);
    }
    match expected_count {
        Some(count) if usize::from(count) == frames.len() => Ok(out),
        Some(count) => Err(damage(format!("torn: {} of {count} frames present", frames.len()))),
        None => Err(damage("no frames".into())),
    }
}

/// Groups a key-ordered stream of `(chunk_seq, index, value)` into chunks and reassembles each.
/// Damage to one chunk is reported in its place; reading goes on with the next chunk.
pub struct Scan<I: Iterator> {
    frames: std::iter::Peekable<I>,
}

impl<I: Iterator> Scan<I> {
    pub fn new(frames: I) -> Self {
        Scan { frames: frames.peekable() }
    }
}

impl<I, B> Iterator for Scan<I>
where
    I: Iterator<Item = (u64, u16, B)>,
    B: AsRef<[u8]>,
{
    type Item = Result<(u64, Vec<u8>), Damage>;

    fn next(&mut self) -> Option<Self::Item> {
        let (chunk_seq, index, bytes) = self.frames.next()?;
        let mut group = vec![(index, bytes)];
        while let Some((index, bytes)) = self.frames.next_if(|(seq, _, _)| *seq == chunk_seq).map(|(_, i, b)| (i, b)) {
            group.push((index, bytes));
        }
        Some(assemble(chunk_seq, &group).map(|bytes| (chunk_seq, bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Stored = Vec<(u64, u16, Vec<u8>)>;

    fn store(chunks: &[Vec<u8>]) -> Stored {
        let mut stored = Vec::new();
        for (seq, chunk) in chunks.iter().enumerate() {
            for (index, frame) in split(seq as u64, chunk).unwrap().into_iter().enumerate() {
                assert!(frame.len() <= FRAME_LEN);
                stored.push((seq as u64, index as u16, frame));
            }
        }
        stored
    }

    fn chunk_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
        // Sizes around the frame boundary matter most; a few large chunks cover multi-frame assembly.
        let size = prop_oneof![0usize..300, FRAME_PAYLOAD - 2..FRAME_PAYLOAD + 2, 0usize..200_000];
        proptest::collection::vec(size.prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)), 1..6)
    }

    #[test]
    fn empty_chunk_has_one_frame() {
        let frames = split(9, b"").unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(assemble(9, &[(0u16, &frames[0])]).unwrap(), b"");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(chunks in chunk_strategy()) {
            let read: Vec<_> = Scan::new(store(&chunks).into_iter()).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(read.len(), chunks.len());
            for ((seq, bytes), (i, chunk)) in read.iter().zip(chunks.iter().enumerate()) {
                prop_assert_eq!(*seq, i as u64);
                prop_assert_eq!(bytes, chunk);
            }
        }

        /// A write cut short leaves a prefix of the frames: every whole chunk reads back, the torn one is reported.
        #[test]
        fn torn_tail_is_detected(chunks in chunk_strategy(), keep in any::<prop::sample::Index>()) {
            let stored = store(&chunks);
            let keep = keep.index(stored.len());
            let read: Vec<_> = Scan::new(stored[..keep].iter().cloned()).collect();
            let last_whole = stored[..keep].last().map(|(seq, index, _)| {
                let count = u16::from_le_bytes([stored[keep - 1].2[14], stored[keep - 1].2[15]]);
                if index + 1 == count { *seq as i64 } else { *seq as i64 - 1 }
            }).unwrap_or(-1);
            for (i, item) in read.iter().enumerate() {
                if (i as i64) <= last_whole {
                    prop_assert_eq!(item.as_ref().unwrap(), &(i as u64, chunks[i].clone()));
                } else {
                    prop_assert!(item.as_ref().unwrap_err().reason.contains("torn"));
                }
            }
        }

        /// Any flipped byte or shortened frame in the last chunk is caught by its checksum or length.
        #[test]
        fn corrupted_tail_is_detected(chunks in chunk_strategy(), pick in any::<prop::sample::Index>(), flip in 1u8..=255, cut in any::<bool>()) {
            let mut stored = store(&chunks);
            let last_seq = stored.last().unwrap().0;
            let first_of_last = stored.iter().position(|(seq, _, _)| *seq == last_seq).unwrap();
            let victim = first_of_last + pick.index(stored.len() - first_of_last);
            let frame = &mut stored[victim].2;
            if cut && frame.len() > 1 {
                frame.truncate(frame.len() - 1);
            } else {
                let at = pick.index(frame.len());
                frame[at] ^= flip;
            }
            let read: Vec<_> = Scan::new(stored.into_iter()).collect();
            prop_assert_eq!(read.len(), chunks.len());
            for (i, item) in read.iter().enumerate().take(chunks.len() - 1) {
                prop_assert_eq!(item.as_ref().unwrap(), &(i as u64, chunks[i].clone()));
            }
            prop_assert!(read.last().unwrap().is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Frame::decode(&bytes);
            let _ = assemble(0, &[(0u16, bytes)]);
        }
    }
}
