//! URL pieces both servers read from request lines. A path segment and a query component are decoded
//! differently: `+` is a space only in a query (`application/x-www-form-urlencoded`), never in a path, where it is
//! a plus sign (RFC 3986), so a session id `a+b` stays `a+b`.

use std::borrow::Cow;

/// Decodes the `%XX` escapes of one path segment; `+` stays a plus. A `%` not followed by two hex digits is kept
/// as it is; bytes that do not form UTF-8 become U+FFFD.
pub fn decode_path_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Decodes a query component (a name or a value): `%XX` escapes, and `+` as a space. A `%` not followed by two hex
/// digits is kept as it is; bytes that do not form UTF-8 become U+FFFD.
pub fn decode_query_component(component: &str) -> String {
    form_urlencoded::parse(format!("{component}=").as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

/// The `name=value` pairs of a query string, decoded as [`decode_query_component`] does; a pair without `=` has an
/// empty value, empty pairs are skipped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_broken_ones() {
        assert_eq!(decode_query_component("a%2Fb+c%zz%4"), "a/b c%zz%4");
        assert_eq!(decode_query_component("%41%4"), "A%4");
        assert_eq!(decode_query_component("%ff"), "\u{fffd}");
    }

    #[test]
    fn a_plus_in_a_path_segment_is_a_plus() {
        assert_eq!(decode_path_segment("a+b"), "a+b");
        assert_eq!(decode_path_segment("a%2Bb%20c"), "a+b c");
        assert_eq!(decode_path_segment("%zz%4"), "%zz%4");
    }

    #[test]
    fn query_pairs_split_and_decode() {
        let pairs: Vec<(String, String)> =
            query_pairs("key=a+b%2B&&flag&x=%3D").map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
        assert_eq!(
            pairs,
            vec![("key".into(), "a b+".into()), ("flag".into(), String::new()), ("x".into(), "=".into())]
        );
    }
}
