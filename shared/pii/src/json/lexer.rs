//! The JSON lexer of the walker: whitespace, keys, strings (with the character classes the detectors use),
//! numbers and literals, and skipping whole values. It reads `src` and moves `pos`; it never writes `out`.

use super::*;

impl Walker<'_> {
    #[cold]
    pub(super) fn syntax(&self) -> ScrubError {
        ScrubError::Syntax { offset: self.pos }
    }

    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips whitespace and returns the byte after it (without consuming it). Compact JSON, as SDKs send it, has
    /// none: that case costs one comparison.
    #[inline]
    pub(super) fn next(&mut self) -> Result<u8> {
        match self.src.get(self.pos) {
            Some(&b) if b > b' ' => Ok(b),
            _ => {
                self.ws();
                self.peek()
            }
        }
    }

    #[inline]
    pub(super) fn peek(&self) -> Result<u8> {
        self.src.get(self.pos).copied().ok_or_else(|| self.syntax())
    }

    /// Reads `"key":` and returns the key's range and whether it has escapes; leaves `pos` at the value.
    #[inline(always)]
    pub(super) fn key(&mut self) -> Result<(usize, usize, bool)> {
        if self.next()? != b'"' {
            return Err(self.syntax());
        }
        let key = self.skip_string()?;
        if self.next()? != b':' {
            return Err(self.syntax());
        }
        self.pos += 1;
        self.ws();
        Ok(key)
    }

    /// After a member: true at `,` (more follow), false at the closing `close`.
    #[inline]
    pub(super) fn more(&mut self, close: u8) -> Result<bool> {
        match self.next()? {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            b if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.syntax()),
        }
    }

    /// Whether the object or array just opened is empty (and if so, consumes its end).
    #[inline]
    pub(super) fn empty(&mut self, close: u8) -> Result<bool> {
        if self.next()? == close {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// An integer value (node type, node id); any other value is skipped and gives `None`.
    #[inline]
    pub(super) fn integer(&mut self, depth: u32) -> Result<Option<u64>> {
        if self.peek()?.is_ascii_digit() {
            match self.number()? {
                Scalar::Num(n) => Ok(n),
                _ => Ok(None),
            }
        } else {
            self.skip_value(depth).map(|()| None)
        }
    }

    /// Skips any value.
    pub(super) fn skip_value(&mut self, depth: u32) -> Result<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(|_| ()),
            b'{' | b'[' => self.skip_container(depth),
            b't' | b'f' | b'n' => self.literal().map(|_| ()),
            b'-' | b'0'..=b'9' => {
                self.skip_number();
                Ok(())
            }
            _ => Err(self.syntax()),
        }
    }

    pub(super) fn enter(&self, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ScrubError::TooDeep { offset: self.pos });
        }
        Ok(())
    }

    /// Reads a string, computing its byte-class mask (all classes if it has escapes).
    pub(super) fn string(&mut self) -> Result<Str> {
        let (start, end, esc) = self.skip_string()?;
        // Escaped strings are classed after unescaping, by whoever scans them.
        let mask = if esc { u8::MAX } else { self.src[start..end].iter().fold(0, |m, &b| m | CLASS[usize::from(b)]) };
        Ok(Str { start, end, esc, mask })
    }

    /// Skips a string eight bytes at a time; returns contents range and whether it has escapes.
    pub(super) fn skip_string(&mut self) -> Result<(usize, usize, bool)> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let src = self.src;
        let start = self.pos + 1;
        let mut i = start;
        let mut esc = false;
        loop {
            if let Some(chunk) = src.get(i..i + 8) {
                let word = word8(chunk);
                let q = word ^ (LO * u64::from(b'"'));
                let b = word ^ (LO * u64::from(b'\\'));
                // High bit set in the first byte equal to `"` or `\` (later bits may be false positives).
                let hits = (q.wrapping_sub(LO) & !q | b.wrapping_sub(LO) & !b) & HI;
                if hits == 0 {
                    i += 8;
                    continue;
                }
                i += (hits.trailing_zeros() / 8) as usize;
            }
            let Some(&b) = src.get(i) else { return Err(self.syntax()) };
            if b == b'"' {
                break;
            }
            if b == b'\\' {
                esc = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        self.pos = i + 1;
        Ok((start, i, esc))
    }

    /// Skips an object or array without looking inside strings, eight bytes at a time between brackets and
    /// quotes (numbers, commas and colons are all the rest).
    pub(super) fn skip_container(&mut self, depth: u32) -> Result<()> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        // High bit set in the first byte of `word` equal to `byte` (later bits may be false positives).
        let first = |word: u64, byte: u8| {
            let x = word ^ (LO * u64::from(byte));
            x.wrapping_sub(LO) & !x & HI
        };
        let src = self.src;
        let mut nested = 0u32;
        loop {
            while let Some(chunk) = src.get(self.pos..self.pos + 8) {
                let word = word8(chunk);
                // `[` and `]` differ from `{` and `}` only by 0x20, and no other byte does.
                let folded = word | (LO * 0x20);
                let hits = first(word, b'"') | first(folded, b'{') | first(folded, b'}');
                if hits != 0 {
                    self.pos += (hits.trailing_zeros() / 8) as usize;
                    break;
                }
                self.pos += 8;
            }
            match self.peek()? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => {
                    nested += 1;
                    self.enter(depth + nested)?;
                }
                b'}' | b']' => {
                    nested = nested.checked_sub(1).ok_or_else(|| self.syntax())?;
                    if nested == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    pub(super) fn number(&mut self) -> Result<Scalar> {
        let src = self.src;
        let start = self.pos;
        let mut i = start;
        let mut value = Some(0u64);
        while let Some(&b) = src.get(i) {
            match b {
                b'0'..=b'9' => {
                    value = value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(b - b'0')));
                }
                b'-' | b'+' | b'.' | b'e' | b'E' => value = None,
                _ => break,
            }
            i += 1;
        }
        self.pos = i;
        Ok(Scalar::Num(value))
    }

    /// Skips a number whose value nobody reads (coordinates, timestamps, sizes).
    #[inline]
    pub(super) fn skip_number(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += rest
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
    }

    pub(super) fn literal(&mut self) -> Result<Scalar> {
        let rest = &self.src[self.pos..];
        let (len, scalar) = if rest.starts_with(b"true") {
            (4, Scalar::Bool(true))
        } else if rest.starts_with(b"false") {
            (5, Scalar::Bool(false))
        } else if rest.starts_with(b"null") {
            (4, Scalar::Other)
        } else {
            return Err(self.syntax());
        };
        self.pos += len;
        Ok(scalar)
    }
}
