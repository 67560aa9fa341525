//! Which `seq` numbers of a session the buffer has already stored, so a retried batch is acknowledged again
//! without being stored twice.
//!
//! SDKs number a session's batches 0, 1, 2, … and retry a batch with the same number, so the seen numbers of a
//! session collapse into a few ranges (usually one). One small record per session, not per batch, keeps the
//! index tiny at any ingest rate. A session with pathologically scattered numbers keeps its newest
//! [`MAX_RANGES`] ranges; only retries older than those would be stored again.

use sha2::{Digest, Sha256};

/// Most disjoint ranges remembered per session.
pub(super) const MAX_RANGES: usize = 64;

/// Key of a session in the dedup index: a hash of project and session id, so ids never appear as keys.
pub fn session_key(project: &str, session_id: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(project.as_bytes());
    hasher.update([0]);
    hasher.update(session_id.as_bytes());
    let digest = hasher.finalize();
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The seen `seq` numbers of one session, as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenSeqs {
    pub last_seen_ms: u64,
    ranges: Vec<(u64, u64)>,
}

impl SeenSeqs {
    pub fn contains(&self, seq: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, last)| last < seq);
        self.ranges.get(i).is_some_and(|&(first, _)| first <= seq)
    }

    /// Records `seq`; returns false if it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        if self.contains(seq) {
            return false;
        }
        // The first range ending at or after seq - 1 is the only one that can touch seq from the left.
        let i = self.ranges.partition_point(|&(_, last)| last.saturating_add(1) < seq);
        let joins_left = self.ranges.get(i).is_some_and(|&(_, last)| last.checked_add(1) == Some(seq));
        let right = if joins_left { i + 1 } else { i };
        let joins_right = self.ranges.get(right).is_some_and(|&(first, _)| seq.checked_add(1) == Some(first));
        match (joins_left, joins_right) {
            (true, true) => {
                self.ranges[i].1 = self.ranges[right].1;
                self.ranges.remove(right);
            }
            (true, false) => self.ranges[i].1 = seq,
            (false, true) => self.ranges[right].0 = seq,
            (false, false) => self.ranges.insert(i, (seq, seq)),
        }
        if self.ranges.len() > MAX_RANGES {
            self.ranges.remove(0);
        }
        true
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.ranges.len() * 16);
        out.extend_from_slice(&self.last_seen_ms.to_le_bytes());
        for (start, end) in &self.ranges {
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<SeenSeqs> {
        if bytes.len() < 8 || !(bytes.len() - 8).is_multiple_of(16) {
            return None;
        }
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        let ranges: Vec<(u64, u64)> = (8..bytes.len()).step_by(16).map(|i| (word(i), word(i + 8))).collect();
        let well_formed = ranges.iter().all(|&(s, e)| s <= e)
            && ranges.windows(2).all(|w| w[0].1.checked_add(1).is_some_and(|n| n < w[1].0));
        well_formed.then_some(SeenSeqs { last_seen_ms: word(0), ranges })
    }

    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn sequential_session_is_one_range() {
        let mut seen = SeenSeqs::default();
        for seq in 0..1000 {
            assert!(seen.insert(seq));
        }
        assert!(!seen.insert(500));
        assert_eq!(seen.range_count(), 1);
        assert!(!seen.contains(1000));
        assert!(seen.insert(u64::MAX));
        assert!(seen.contains(u64::MAX));
        assert!(!seen.insert(u64::MAX));
        assert!(seen.insert(u64::MAX - 1));
        assert_eq!(seen.range_count(), 2);
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(seqs in proptest::collection::vec(0u64..200, 0..300), probe in 0u64..220) {
            let mut seen = SeenSeqs::default();
            let mut model = BTreeSet::new();
            for seq in seqs {
                prop_assert_eq!(seen.insert(seq), model.insert(seq));
            }
            // 200 values can form at most 100 ranges; only check exactness when nothing was evicted.
            if seen.range_count() < MAX_RANGES {
                prop_assert_eq!(seen.contains(probe), model.contains(&probe));
            }
            let decoded = SeenSeqs::decode(&seen.encode()).unwrap();
            prop_assert_eq!(decoded, seen);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = SeenSeqs::decode(&bytes);
        }
    }
}
