//! URLs are parsed, not scanned as text (RFC 3986): the userinfo, the host, each path segment, each query
//! parameter and the fragment are decoded (percent-encoding; `+` as a space in the query) and scanned on their
//! own, so a phone number as a path segment (`/kyc/+919065699665/status`) or an Aadhaar number encoded in a query
//! (`?q=3117+6036+0365`) is found. A detection is reported on the raw (still encoded) bytes it came from, so the
//! token written in its place leaves the URL valid (tokens are letters, digits and `_`).

use super::*;

/// What the walk of a URL's parts knows about where they are.
struct Part {
    /// Raw bytes of the part in the haystack.
    start: usize,
    end: usize,
    /// Decode `+` as a space (query keys and values).
    plus: bool,
}

impl Detector {
    /// Whether `hay` as a whole is a URL or a path to parse (a URL attribute, a page URL): no whitespace, and a
    /// scheme with `//`, or a path, query or fragment of the page's own site.
    pub(crate) fn whole_url(hay: &[u8]) -> bool {
        hay.len() > 1
            && !hay.iter().any(|b| b.is_ascii_whitespace())
            && (matches!(hay[0], b'/' | b'?' | b'#') || find(&hay[..hay.len().min(24)], b"://").is_some())
    }

    /// Finds PII in the URL `hay[s..e]`. `site`: the URL is one the page loads or links to, so its host is the
    /// site (an IP host stays); in other text an IP host is reported like any IP address. `depth` bounds URLs
    /// encoded inside URLs.
    pub(super) fn url(&self, hay: &[u8], s: usize, e: usize, site: bool, depth: u32, out: &mut Vec<Found>) {
        let u = &hay[s..e];
        let mut at = 0;
        // Scheme and authority.
        if let Some(p) = find(&u[..u.len().min(24)], b"://") {
            at = p + 3;
            let auth_end = u[at..].iter().position(|b| matches!(b, b'/' | b'?' | b'#')).map_or(u.len(), |n| at + n);
            let mut host = at;
            if let Some(a) = u[at..auth_end].iter().rposition(|&b| b == b'@') {
                let userinfo = (s + at, s + at + a);
                if u[at..at + a].contains(&b':') {
                    if !is_replacement(&hay[userinfo.0..userinfo.1]) {
                        self.push(out, Entity::UrlCredential, userinfo.0, userinfo.1, 0.95);
                    }
                } else {
                    self.part(hay, Part { start: userinfo.0, end: userinfo.1, plus: false }, 0, depth, out);
                }
                host = at + a + 1;
            }
            // The host, without a port; an IPv6 literal is in brackets.
            let mut host_end = auth_end;
            if u.get(host) == Some(&b'[') {
                host_end = u[host..auth_end].iter().position(|&b| b == b']').map_or(auth_end, |n| host + n + 1);
            } else if let Some(c) = u[host..auth_end].iter().position(|&b| b == b':') {
                host_end = host + c;
            }
            let h = &u[host..host_end];
            let h = h.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")).unwrap_or(h);
            let ip = std::str::from_utf8(h).ok().and_then(|t| t.parse::<std::net::IpAddr>().ok()).is_some();
            if ip && !site {
                let (hs, he) = if u.get(host) == Some(&b'[') { (host + 1, host_end - 1) } else { (host, host_end) };
                self.push(out, Entity::Ip, s + hs, s + he, 0.85);
            }
            at = auth_end;
        } else if let Some(c) = u.iter().position(|&b| b == b':') {
            // `mailto:`, `tel:`, `sms:`: what follows the scheme is the value.
            let scheme = &u[..c];
            if !scheme.is_empty() && scheme.iter().all(|b| b.is_ascii_alphabetic()) && scheme.len() <= 10 {
                let extra = self.context.entities_in(scheme);
                let end = u[c + 1..].iter().position(|&b| b == b'?').map_or(u.len(), |n| c + 1 + n);
                self.part(hay, Part { start: s + c + 1, end: s + end, plus: false }, extra, depth, out);
                at = end;
            }
        }
        // Path segments, each a value; the segment before gives context (`/phone/9876543210`).
        let path_end = u[at..].iter().position(|b| matches!(b, b'?' | b'#')).map_or(u.len(), |n| at + n);
        let mut previous: Option<(usize, usize)> = None;
        let mut seg = at;
        while seg < path_end {
            let seg_end = u[seg..path_end].iter().position(|&b| b == b'/').map_or(path_end, |n| seg + n);
            if seg_end > seg {
                let extra = previous.map_or(0, |(a, b)| self.context.entities_in(&u[a..b]));
                self.part(hay, Part { start: s + seg, end: s + seg_end, plus: false }, extra, depth, out);
                previous = Some((seg, seg_end));
            }
            seg = seg_end + 1;
        }
        // Query and fragment: `key=value` pairs (an OAuth fragment carries tokens the same way), else free text.
        let mut at = path_end;
        while at < u.len() {
            let section_end = if u[at] == b'?' {
                u[at + 1..].iter().position(|&b| b == b'#').map_or(u.len(), |n| at + 1 + n)
            } else {
                u.len()
            };
            let body = at + 1;
            if !u[body..section_end].contains(&b'=') {
                self.part(hay, Part { start: s + body, end: s + section_end, plus: u[at] == b'?' }, 0, depth, out);
            } else {
                self.query(hay, s + body, s + section_end, depth, out);
            }
            at = section_end;
        }
    }

    /// Whether `hay` is a form-encoded body (`application/x-www-form-urlencoded`): `key=value` pairs joined by
    /// `&`, no spaces.
    pub(super) fn form_encoded(hay: &[u8]) -> bool {
        let key_end = hay.iter().position(|&b| b == b'=');
        key_end.is_some_and(|k| {
            k > 0
                && hay[..k]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'%' | b'[' | b']'))
                && !hay.iter().any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'{' | b'<'))
        })
    }

    /// `key=value` pairs of a query, fragment or form body in `hay[s..e]`.
    pub(super) fn query(&self, hay: &[u8], s: usize, e: usize, depth: u32, out: &mut Vec<Found>) {
        let mut p = s;
        while p < e {
            let pair_end = hay[p..e].iter().position(|b| matches!(b, b'&' | b';')).map_or(e, |n| p + n);
            if let Some(eq) = hay[p..pair_end].iter().position(|&b| b == b'=') {
                self.param(hay, 0, (p, p + eq), (p + eq + 1, pair_end), depth, out);
            } else {
                // A part without a name is a value too.
                self.part(hay, Part { start: p, end: pair_end, plus: true }, 0, depth, out);
            }
            p = pair_end + 1;
        }
    }

    /// One `key=value` of a query or fragment: a parameter named like a credential or an identifier is that
    /// value whole; any other value is scanned with its key's context words.
    fn param(
        &self,
        hay: &[u8],
        s: usize,
        key: (usize, usize),
        value: (usize, usize),
        depth: u32,
        out: &mut Vec<Found>,
    ) {
        let (vs, ve) = (s + value.0, s + value.1);
        if vs == ve || is_replacement(&hay[vs..ve]) {
            return;
        }
        let mut name = [0u8; 64];
        let Some(name) = decode(&hay[s + key.0..s + key.1], true, &mut name) else { return };
        static NAMES: std::sync::OnceLock<std::collections::HashSet<Vec<u8>>> = std::sync::OnceLock::new();
        let names =
            NAMES.get_or_init(|| candidate::URL_PARAM_NAMES.split('|').map(|n| n.as_bytes().to_vec()).collect());
        let mut lower = [0u8; 64];
        let lower = &mut lower[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        if names.contains(&lower[..]) {
            self.push(out, param_entity(name), vs, ve, 0.9);
            return;
        }
        let extra = self.context.entities_in(name);
        self.part(hay, Part { start: vs, end: ve, plus: true }, extra, depth, out);
    }

    /// Decodes one part and scans it on its own; detections are mapped back to the raw bytes.
    fn part(&self, hay: &[u8], part: Part, extra: u32, depth: u32, out: &mut Vec<Found>) {
        let raw = &hay[part.start..part.end];
        if raw.is_empty() || depth > 2 {
            return;
        }
        let encoded = raw.contains(&b'%') || (part.plus && raw.contains(&b'+'));
        let mut sub = Vec::new();
        if !encoded {
            self.find_nested(raw, extra, depth, &mut sub);
            out.extend(sub.into_iter().map(|f| Found { start: f.start + part.start, end: f.end + part.start, ..f }));
            return;
        }
        let mut text = Vec::with_capacity(raw.len());
        let mut map = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            map.push(i);
            match raw[i] {
                b'%' if i + 2 < raw.len() && hex(raw[i + 1]).is_some() && hex(raw[i + 2]).is_some() => {
                    text.push(hex(raw[i + 1]).unwrap() * 16 + hex(raw[i + 2]).unwrap());
                    i += 3;
                }
                b'+' if part.plus => {
                    text.push(b' ');
                    i += 1;
                }
                b => {
                    text.push(b);
                    i += 1;
                }
            }
        }
        self.find_nested(&text, extra, depth, &mut sub);
        for f in sub {
            let start = part.start + map[f.start];
            let end = part.start + map.get(f.end).copied().unwrap_or(raw.len());
            out.push(Found { start, end, ..f });
        }
    }

    /// [`Detector::find`] on a URL's part; a URL inside it (a redirect target) is parsed one level deeper.
    fn find_nested(&self, text: &[u8], extra: u32, depth: u32, out: &mut Vec<Found>) {
        if Self::whole_url(text) && find(text, b"://").is_some() {
            self.url(text, 0, text.len(), false, depth + 1, out);
            return;
        }
        self.find(text, class_mask(text), extra & !URL_SITE, out);
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a short `text` (a parameter name) into `buf`; `None` when it does not fit.
fn decode<'b>(text: &[u8], plus: bool, buf: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        if n == buf.len() {
            return None;
        }
        buf[n] = match text[i] {
            b'%' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(h), Some(l)) => {
                    i += 2;
                    h * 16 + l
                }
                _ => b'%',
            },
            b'+' if plus => b' ',
            b => b,
        };
        n += 1;
        i += 1;
    }
    Some(&buf[..n])
}
