//! JSON string contents: unescaping with a map back to the raw bytes (so a replacement can be spliced into
//! the original text, leaving every other escape as it was), and escaping replacement text.

/// Unescapes the contents of a JSON string (without quotes) into `text`; `map[i]` is the offset in `raw` where
/// the escape or byte that produced `text[i]` starts, and `map[text.len()] == raw.len()`. Invalid escapes and
/// lone surrogates become U+FFFD.
pub(crate) fn unescape(raw: &[u8], text: &mut Vec<u8>, map: &mut Vec<u32>) {
    text.clear();
    map.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            text.push(b);
            map.push(i as u32);
            i += 1;
            continue;
        }
        let start = i;
        let esc = raw.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let c = match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(raw, i);
                i += 4;
                match hi {
                    Some(hi @ 0xD800..=0xDBFF) => {
                        let lo = if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                            hex4(raw, i + 2)
                        } else {
                            None
                        };
                        match lo {
                            Some(lo @ 0xDC00..=0xDFFF) => {
                                i += 6;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{fffd}')
                            }
                            _ => '\u{fffd}',
                        }
                    }
                    Some(cp) => char::from_u32(cp).unwrap_or('\u{fffd}'),
                    None => '\u{fffd}',
                }
            }
            _ => '\u{fffd}',
        };
        let mut utf8 = [0u8; 4];
        for &byte in c.encode_utf8(&mut utf8).as_bytes() {
            text.push(byte);
            map.push(start as u32);
        }
        i = i.min(raw.len());
    }
    map.push(raw.len() as u32);
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Appends `text` escaped as JSON string contents.
pub(crate) fn escape_into(text: &str, out: &mut Vec<u8>) {
    // Tokens, hashes and masks never need escaping.
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_maps_back_to_raw_offsets() {
        let raw = br#"a\"b\u00e9\ud83d\ude00c"#;
        let (mut text, mut map) = (Vec::new(), Vec::new());
        unescape(raw, &mut text, &mut map);
        assert_eq!(std::str::from_utf8(&text).unwrap(), "a\"b\u{e9}\u{1f600}c");
        assert_eq!(map.len(), text.len() + 1);
        assert_eq!(map[1], 1); // the quote came from `\"` at 1
        assert_eq!(map[3], 4); // é came from `\u00e9` at 4
        assert_eq!(map[text.len() - 1], raw.len() as u32 - 1);
    }

    #[test]
    fn escape_round_trips_through_serde() {
        let text = "quote \" slash \\ newline \n tab \t bell \u{7} é";
        let mut out = b"\"".to_vec();
        escape_into(text, &mut out);
        out.push(b'"');
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, text);
    }
}
