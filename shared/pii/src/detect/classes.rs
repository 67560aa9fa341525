//! Byte classes: each string's bytes OR-ed into one mask, so a pattern runs only on strings that can hold it.

/// Byte classes of a string, OR-ed into one mask; a pattern runs only on strings whose mask can hold it.
pub(crate) mod class {
    pub(crate) const DIGIT: u8 = 1;
    pub(crate) const AT: u8 = 2;
    pub(crate) const COLON: u8 = 4;
    pub(crate) const EQ: u8 = 8;
    pub(crate) const UPPER: u8 = 16;
    pub(crate) const DOT: u8 = 32;
    pub(crate) const LOWER: u8 = 64;
    pub(crate) const DASH: u8 = 128;
}

/// Class of every byte; `"` and `\` are 0 here, the JSON scanner handles them itself.
pub(crate) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' => class::DIGIT,
            b'@' => class::AT,
            b':' => class::COLON,
            b'=' => class::EQ,
            b'A'..=b'Z' => class::UPPER,
            b'.' => class::DOT,
            b'a'..=b'z' => class::LOWER,
            b'-' => class::DASH,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// Byte-class mask of `text`.
pub(crate) fn class_mask(text: &[u8]) -> u8 {
    text.iter().fold(0, |m, &b| m | CLASS[usize::from(b)])
}
