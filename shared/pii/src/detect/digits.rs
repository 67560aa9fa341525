//! Digit runs: finding digits eight bytes at a time and grouping a run while reading it, for the entities that
//! live in digit runs (cards, phones, Aadhaar, SSN, IPv4, dates).

use super::*;

/// Whether `text` has at least four ASCII digits (nothing digit-based is shorter).
#[inline]
pub(super) fn four_digits(text: &[u8]) -> bool {
    let mut count = 0;
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        count += digits8(word8(chunk)).count_ones();
        if count >= 4 {
            return true;
        }
    }
    count as usize + chunks.remainder().iter().filter(|b| b.is_ascii_digit()).count() >= 4
}

/// Position of the first ASCII digit in `hay` at or after `from`.
#[inline]
pub(super) fn next_digit(hay: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = hay.get(from..from + 8) {
        let digits = digits8(word8(chunk));
        if digits != 0 {
            return Some(from + (digits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    hay.get(from..)?.iter().position(u8::is_ascii_digit).map(|p| from + p)
}

/// Eight bytes as a little-endian word (`chunk` has exactly eight).
#[inline]
pub(crate) fn word8(chunk: &[u8]) -> u64 {
    u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]])
}

/// The high bit of every byte of `word` that is an ASCII digit, and no other bit. Exact for every byte: no
/// carry crosses bytes, since each byte is below 0x80 when 118 is added to it.
#[inline]
pub(super) fn digits8(word: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Digits become 0..=9; a byte is a digit when that is below 10 and its high bit was clear.
    let t = word ^ (LO * u64::from(b'0'));
    !(((t & !HI) + LO * (0x80 - 10)) | t) & HI
}

/// Digit groups of one run (maximal runs of digits), on the stack for the runs text holds.
#[derive(Default)]
pub(super) struct Groups {
    pub(super) stack: [Group; 32],
    pub(super) heap: Vec<Group>,
    pub(super) count: usize,
    /// Digits in all groups.
    pub(super) digits: usize,
}

impl Groups {
    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.count = 0;
        self.digits = 0;
    }

    pub(super) fn push(&mut self, group: Group) {
        self.digits += group.end - group.start;
        if self.count < self.stack.len() {
            self.stack[self.count] = group;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack);
            }
            self.heap.push(group);
        }
        self.count += 1;
    }

    pub(super) fn as_slice(&self) -> &[Group] {
        if self.heap.is_empty() {
            &self.stack[..self.count]
        } else {
            &self.heap
        }
    }
}

/// Whether `hay[s..e]` has a letter or digit glued on either side.
pub(crate) fn glued(hay: &[u8], s: usize, e: usize) -> bool {
    (s > 0 && hay[s - 1].is_ascii_alphanumeric()) || hay.get(e).is_some_and(u8::is_ascii_alphanumeric)
}
