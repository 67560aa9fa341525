//! Validation of SDK batches, in one pass over the JSON text and without building a tree.
//!
//! The runner stores the batch bytes it received, so validation only has to prove that those bytes have the
//! contract's shape and stay inside the [`Limits`]. A serde visitor walks the document once, checks types,
//! depth, string sizes and event counts as it goes, and stops at the first problem with the JSON path of the
//! offending value (`$.events[3].ts`), which is what an SDK author needs to fix a bug.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::limits::{Limits, MAX_SESSION_ID_LEN, MAX_VISITOR_ID_LEN};

/// Analytics event types an SDK may send (contract).
pub const EVENT_TYPES: [&str; 7] = ["pageview", "click", "scroll", "input", "error", "network", "custom"];
/// Highest rrweb `EventType` (Plugin = 6).
pub const MAX_RRWEB_EVENT_TYPE: u64 = 6;

/// What a valid batch declares about itself; everything else stays in the stored bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    pub session_id: String,
    pub visitor_id: Option<String>,
    pub seq: u64,
    pub sent_at: Option<u64>,
    /// Number of analytics events.
    pub events: usize,
    /// Number of rrweb replay events.
    pub replay: usize,
    /// Values (strings inside events and replay events, not contract fields or keys) longer than
    /// `limits.max_string_bytes`: the batch is kept once [`cut_oversized`] has replaced them.
    pub oversized: usize,
}

impl BatchSummary {
    /// Events of both kinds, the figure the runner acknowledges as `accepted`.
    pub fn total_events(&self) -> usize {
        self.events + self.replay
    }
}

/// Why a batch was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchErrorKind {
    /// Not JSON, or not UTF-8.
    Syntax,
    /// JSON, but not the batch contract (missing field, wrong type, bad value).
    Shape,
    /// Nested deeper than `limits.max_depth`.
    TooDeep,
    /// A string longer than `limits.max_string_bytes`.
    StringTooLong,
    /// More events than `limits.max_events`.
    TooManyEvents,
}

/// A refused batch: kind, human message, and JSON path of the first problem (`$` for the whole document).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {path}")]
pub struct BatchError {
    pub kind: BatchErrorKind,
    pub message: String,
    pub path: String,
}

impl BatchError {
    /// Machine-readable error code used in API answers.
    pub fn code(&self) -> &'static str {
        match self.kind {
            BatchErrorKind::Syntax => "invalid_json",
            BatchErrorKind::Shape => "invalid_batch",
            BatchErrorKind::TooDeep => "too_deep",
            BatchErrorKind::StringTooLong => "string_too_long",
            BatchErrorKind::TooManyEvents => "too_many_events",
        }
    }
}

/// Validates `json` as one batch under `limits`.
pub fn validate(json: &[u8], limits: &Limits) -> Result<BatchSummary, BatchError> {
    let ctx = Ctx { limits, error: RefCell::new(None), events: Cell::new(0), oversized: Cell::new(0) };
    let mut de = serde_json::Deserializer::from_slice(json);
    let seed = Seed { ctx: &ctx, path: Path::Root, depth: 1, expect: Expect::Batch };
    let parsed = seed.deserialize(&mut de).and_then(|parsed| de.end().map(|()| parsed));
    match (parsed, ctx.error.into_inner()) {
        (_, Some(err)) => Err(err),
        (Ok(Parsed::Batch(summary)), None) => Ok(BatchSummary { oversized: ctx.oversized.get(), ..summary }),
        (Ok(_), None) => {
            Err(BatchError { kind: BatchErrorKind::Shape, message: "expected a batch object".into(), path: "$".into() })
        }
        (Err(e), None) => Err(BatchError { kind: BatchErrorKind::Syntax, message: e.to_string(), path: "$".into() }),
    }
}

/// What replaces a value longer than `limits.max_string_bytes` (see [`BatchSummary::oversized`]).
pub const OVERSIZED_VALUE: &str = "[traceflow: value over limits.max_string_bytes dropped]";

/// Replaces every string value (not key) of a validated batch whose text is longer than `max_bytes` with
/// [`OVERSIZED_VALUE`]; returns the new JSON and how many were replaced. Everything else is copied byte for byte.
pub fn cut_oversized(json: &[u8], max_bytes: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(json.len());
    let mut cut = 0;
    let mut copied = 0;
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let (end, text_len) = string_end(json, start);
        let mut after = end + 1;
        while after < json.len() && json[after].is_ascii_whitespace() {
            after += 1;
        }
        let is_key = json.get(after) == Some(&b':');
        if !is_key && text_len > max_bytes {
            out.extend_from_slice(&json[copied..start]);
            out.extend_from_slice(OVERSIZED_VALUE.as_bytes());
            copied = end;
            cut += 1;
        }
        i = end + 1;
    }
    out.extend_from_slice(&json[copied..]);
    (out, cut)
}

/// From the first byte of a string's contents: the index of its closing quote and its unescaped length in bytes.
fn string_end(json: &[u8], start: usize) -> (usize, usize) {
    let hex = |at: usize| {
        json.get(at..at + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let (mut i, mut len) = (start, 0);
    while i < json.len() {
        match json[i] {
            b'"' => return (i, len),
            b'\\' if json.get(i + 1) == Some(&b'u') => {
                let cp = hex(i + 2).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&cp) && json.get(i + 6) == Some(&b'\\') {
                    len += 4;
                    i += 12;
                } else {
                    len += char::from_u32(cp).map_or(3, char::len_utf8);
                    i += 6;
                }
            }
            b'\\' => {
                len += 1;
                i += 2;
            }
            _ => {
                len += 1;
                i += 1;
            }
        }
    }
    (json.len(), len)
}

/// A position in the document, kept as a stack-allocated chain and rendered only when something is wrong.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Key(parent, key) => {
                let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    write!(f, "{parent}.{key}")
                } else {
                    write!(f, "{parent}[{}]", serde_json::Value::from(*key))
                }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Ctx<'l> {
    limits: &'l Limits,
    error: RefCell<Option<BatchError>>,
    events: Cell<usize>,
    oversized: Cell<usize>,
}

impl Ctx<'_> {
    /// Records the first problem and returns the error that unwinds the parser.
    fn fail<E: de::Error>(&self, kind: BatchErrorKind, message: String, path: &Path<'_>) -> E {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(BatchError { kind, message, path: path.to_string() });
        }
        E::custom("batch rejected")
    }

    fn count_event<E: de::Error>(&self, path: &Path<'_>) -> Result<(), E> {
        let n = self.events.get() + 1;
        self.events.set(n);
        if n > self.limits.max_events {
            let max = self.limits.max_events;
            return Err(self.fail(BatchErrorKind::TooManyEvents, format!("more than {max} events in one batch"), path));
        }
        Ok(())
    }
}

/// What the value at a position must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Batch,
    Any,
    Object,
    Str,
    OptStr,
    UInt,
    Events,
    Event,
    Replay,
    ReplayEvent,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::Batch => "a batch object",
            Expect::Any => "a value",
            Expect::Object | Expect::Event | Expect::ReplayEvent => "an object",
            Expect::Str => "a string",
            Expect::OptStr => "a string or null",
            Expect::UInt => "a non-negative integer",
            Expect::Events | Expect::Replay => "an array",
        }
    }
}

enum Parsed<'de> {
    Batch(BatchSummary),
    Str(Cow<'de, str>),
    UInt(u64),
    Null,
    Other,
}

#[derive(Clone, Copy)]
struct Seed<'c, 'p> {
    ctx: &'c Ctx<'c>,
    path: Path<'p>,
    depth: usize,
    expect: Expect,
}

impl<'c, 'p> Seed<'c, 'p> {
    fn child<'q>(&self, path: Path<'q>, expect: Expect) -> Seed<'c, 'q> {
        Seed { ctx: self.ctx, path, depth: self.depth + 1, expect }
    }

    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        let message = format!("expected {}, found {found}", self.expect.describe());
        self.ctx.fail(BatchErrorKind::Shape, message, &self.path)
    }

    fn invalid<E: de::Error>(&self, path: &Path<'_>, message: String) -> E {
        self.ctx.fail(BatchErrorKind::Shape, message, path)
    }

    fn enter_container<E: de::Error>(&self) -> Result<(), E> {
        if self.depth > self.ctx.limits.max_depth {
            let max = self.ctx.limits.max_depth;
            return Err(self.ctx.fail(BatchErrorKind::TooDeep, format!("nested deeper than {max} levels"), &self.path));
        }
        Ok(())
    }

    fn string<'de, E: de::Error>(&self, value: Cow<'de, str>) -> Result<Parsed<'de>, E> {
        if value.len() > self.ctx.limits.max_string_bytes && self.expect == Expect::Any {
            // One over-long value (an inlined stylesheet, a data URI) costs that value, not the batch.
            self.ctx.oversized.set(self.ctx.oversized.get() + 1);
            return Ok(Parsed::Other);
        }
        if value.len() > self.ctx.limits.max_string_bytes {
            let max = self.ctx.limits.max_string_bytes;
            return Err(self.ctx.fail(
                BatchErrorKind::StringTooLong,
                format!("string longer than {max} bytes"),
                &self.path,
            ));
        }
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            Expect::Str | Expect::OptStr => Ok(Parsed::Str(value)),
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn key<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
        let seed = Seed { ctx: self.ctx, path: self.path, depth: self.depth, expect: Expect::Str };
        match map.next_key_seed(seed)? {
            Some(Parsed::Str(key)) => Ok(Some(key)),
            Some(_) => Err(self.wrong_type("a non-string key")),
            None => Ok(None),
        }
    }

    fn generic_map<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        while let Some(key) = self.key(&mut map)? {
            map.next_value_seed(self.child(Path::Key(&self.path, &key), Expect::Any))?;
        }
        Ok(Parsed::Other)
    }

    fn batch_map<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut session_id = None;
        let mut visitor_id = None;
        let mut seq = None;
        let mut sent_at = None;
        let (mut events, mut replay, mut saw_context) = (None, None, false);
        while let Some(key) = self.key(&mut map)? {
            let path = Path::Key(&self.path, &key);
            let duplicate = match key.as_ref() {
                "session_id" => session_id.replace(self.session_id(&mut map, path)?).is_some(),
                "visitor_id" => visitor_id.replace(self.visitor_id(&mut map, path)?).is_some(),
                "seq" => seq.replace(self.uint(&mut map, path)?).is_some(),
                "sent_at" => sent_at.replace(self.uint(&mut map, path)?).is_some(),
                "context" => {
                    map.next_value_seed(self.child(path, Expect::Object))?;
                    std::mem::replace(&mut saw_context, true)
                }
                "events" => events.replace(self.array(&mut map, path, Expect::Events)?).is_some(),
                "replay" => replay.replace(self.array(&mut map, path, Expect::Replay)?).is_some(),
                _ => {
                    map.next_value_seed(self.child(path, Expect::Any))?;
                    false
                }
            };
            if duplicate {
                return Err(self.invalid(&path, format!("duplicate field `{key}`")));
            }
        }
        let missing = |field: &str| self.invalid(&Path::Key(&self.path, field), format!("missing field `{field}`"));
        let session_id = session_id.ok_or_else(|| missing("session_id"))?;
        let seq = seq.ok_or_else(|| missing("seq"))?;
        if events.is_none() && replay.is_none() {
            return Err(missing("events"));
        }
        Ok(Parsed::Batch(BatchSummary {
            session_id,
            visitor_id: visitor_id.flatten(),
            seq,
            sent_at,
            events: events.unwrap_or(0),
            replay: replay.unwrap_or(0),
            oversized: 0,
        }))
    }

    fn session_id<'de, A: MapAccess<'de>>(&self, map: &mut A, path: Path<'_>) -> Result<String, A::Error> {
        let Parsed::Str(id) = map.next_value_seed(self.child(path, Expect::Str))? else {
            return Err(self.invalid(&path, "expected a string".into()));
        };
        let well_formed = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        if id.is_empty() || id.len() > MAX_SESSION_ID_LEN || !well_formed {
            let message = format!("session_id must be 1 to {MAX_SESSION_ID_LEN} characters of [A-Za-z0-9._:-]");
            return Err(self.invalid(&path, message));
        }
        Ok(id.into_owned())
    }

    fn visitor_id<'de, A: MapAccess<'de>>(&self, map: &mut A, path: Path<'_>) -> Result<Option<String>, A::Error> {
        match map.next_value_seed(self.child(path, Expect::OptStr))? {
            Parsed::Str(id) if id.chars().count() <= MAX_VISITOR_ID_LEN => Ok(Some(id.into_owned())),
            Parsed::Str(_) => {
                Err(self.invalid(&path, format!("visitor_id longer than {MAX_VISITOR_ID_LEN} characters")))
            }
            _ => Ok(None),
        }
    }

    fn uint<'de, A: MapAccess<'de>>(&self, map: &mut A, path: Path<'_>) -> Result<u64, A::Error> {
        match map.next_value_seed(self.child(path, Expect::UInt))? {
            Parsed::UInt(n) => Ok(n),
            _ => Err(self.invalid(&path, "expected a non-negative integer".into())),
        }
    }

    fn array<'de, A: MapAccess<'de>>(&self, map: &mut A, path: Path<'_>, expect: Expect) -> Result<usize, A::Error> {
        match map.next_value_seed(self.child(path, expect))? {
            Parsed::UInt(n) => Ok(n as usize),
            _ => Err(self.invalid(&path, "expected an array".into())),
        }
    }

    fn event_map<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let (mut kind, mut ts) = (None, None);
        while let Some(key) = self.key(&mut map)? {
            let path = Path::Key(&self.path, &key);
            let duplicate = match key.as_ref() {
                "type" => {
                    let Parsed::Str(value) = map.next_value_seed(self.child(path, Expect::Str))? else {
                        return Err(self.invalid(&path, "expected a string".into()));
                    };
                    if !EVENT_TYPES.contains(&value.as_ref()) {
                        let allowed = EVENT_TYPES.join("|");
                        return Err(self.invalid(&path, format!("unknown event type, expected one of {allowed}")));
                    }
                    kind.replace(()).is_some()
                }
                "ts" => ts.replace(self.uint(&mut map, path)?).is_some(),
                _ => {
                    map.next_value_seed(self.child(path, Expect::Any))?;
                    false
                }
            };
            if duplicate {
                return Err(self.invalid(&path, format!("duplicate field `{key}`")));
            }
        }
        for (field, present) in [("type", kind.is_some()), ("ts", ts.is_some())] {
            if !present {
                return Err(self.invalid(&Path::Key(&self.path, field), format!("missing field `{field}`")));
            }
        }
        Ok(Parsed::Other)
    }

    fn replay_map<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let (mut kind, mut timestamp, mut data) = (None, None, false);
        while let Some(key) = self.key(&mut map)? {
            let path = Path::Key(&self.path, &key);
            let duplicate = match key.as_ref() {
                "type" => {
                    let value = self.uint(&mut map, path)?;
                    if value > MAX_RRWEB_EVENT_TYPE {
                        return Err(self.invalid(&path, format!("rrweb event type must be 0..={MAX_RRWEB_EVENT_TYPE}")));
                    }
                    kind.replace(value).is_some()
                }
                "timestamp" => timestamp.replace(self.uint(&mut map, path)?).is_some(),
                "data" => {
                    map.next_value_seed(self.child(path, Expect::Any))?;
                    std::mem::replace(&mut data, true)
                }
                _ => {
                    map.next_value_seed(self.child(path, Expect::Any))?;
                    false
                }
            };
            if duplicate {
                return Err(self.invalid(&path, format!("duplicate field `{key}`")));
            }
        }
        for (field, present) in [("type", kind.is_some()), ("data", data), ("timestamp", timestamp.is_some())] {
            if !present {
                return Err(self.invalid(&Path::Key(&self.path, field), format!("missing field `{field}`")));
            }
        }
        Ok(Parsed::Other)
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Parsed<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expect.describe())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            Expect::UInt if v >= 0 => Ok(Parsed::UInt(v as u64)),
            _ => Err(self.wrong_type("a negative number")),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            Expect::UInt => Ok(Parsed::UInt(v)),
            _ => Err(self.wrong_type("a number")),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            _ => Err(self.wrong_type("a fractional number")),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.string(Cow::Owned(v.to_owned()))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.string(Cow::Borrowed(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.string(Cow::Owned(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Any => Ok(Parsed::Other),
            Expect::OptStr => Ok(Parsed::Null),
            _ => Err(self.wrong_type("null")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let element = match self.expect {
            Expect::Any => Expect::Any,
            Expect::Events => Expect::Event,
            Expect::Replay => Expect::ReplayEvent,
            _ => return Err(self.wrong_type("an array")),
        };
        self.enter_container()?;
        let mut index = 0;
        loop {
            let path = Path::Index(&self.path, index);
            if seq.next_element_seed(self.child(path, element))?.is_none() {
                break;
            }
            if element != Expect::Any {
                self.ctx.count_event(&path)?;
            }
            index += 1;
        }
        Ok(if element == Expect::Any { Parsed::Other } else { Parsed::UInt(index as u64) })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.enter_container()?;
        match self.expect {
            Expect::Batch => self.batch_map(map),
            Expect::Any | Expect::Object => self.generic_map(map),
            Expect::Event => self.event_map(map),
            Expect::ReplayEvent => self.replay_map(map),
            _ => Err(self.wrong_type("an object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<BatchSummary, BatchError> {
        validate(json.as_bytes(), &Limits::default())
    }

    fn err(json: &str) -> BatchError {
        check(json).expect_err("batch should be refused")
    }

    const OK: &str = r#"{"session_id":"s-1","visitor_id":"v","seq":7,"sent_at":1732265000000,
        "context":{"url":"https://x.test/a","screen":"1920x1080"},
        "events":[{"type":"pageview","ts":1732265000000,"url":"/"},{"type":"click","ts":1,"x":1.5}],
        "replay":[{"type":4,"data":{"href":"/","width":1,"height":2},"timestamp":1732265000000}]}"#;

    #[test]
    fn accepts_a_contract_batch() {
        let summary = check(OK).unwrap();
        assert_eq!(summary.session_id, "s-1");
        assert_eq!(summary.visitor_id.as_deref(), Some("v"));
        assert_eq!((summary.seq, summary.events, summary.replay), (7, 2, 1));
        assert_eq!(summary.total_events(), 3);
    }

    #[test]
    fn replay_only_and_empty_batches() {
        let summary = check(r#"{"session_id":"a","seq":0,"replay":[]}"#).unwrap();
        assert_eq!(summary.total_events(), 0);
        assert_eq!(err(r#"{"session_id":"a","seq":0}"#).path, "$.events");
    }

    #[test]
    fn reports_the_path_of_the_first_problem() {
        let e = err(r#"{"session_id":"a","seq":1,"events":[{"type":"click","ts":1},{"type":"click","ts":-4}]}"#);
        assert_eq!((e.kind, e.path.as_str()), (BatchErrorKind::Shape, "$.events[1].ts"));
        let e = err(r#"{"session_id":"a","seq":1,"events":[{"type":"hover","ts":1}]}"#);
        assert_eq!(e.path, "$.events[0].type");
        let e = err(r#"{"session_id":"a","seq":1,"events":[],"replay":[{"type":9,"data":{},"timestamp":1}]}"#);
        assert_eq!(e.path, "$.replay[0].type");
        let e = err(r#"{"session_id":"a","seq":1,"events":[],"replay":[{"type":3,"timestamp":1}]}"#);
        assert_eq!(e.path, "$.replay[0].data");
        let e = err(r#"{"session_id":"a b","seq":1,"events":[]}"#);
        assert_eq!(e.path, "$.session_id");
        let e = err(r#"{"seq":1,"events":[]}"#);
        assert_eq!(e.path, "$.session_id");
        let e = err(r#"{"session_id":"a","seq":1.5,"events":[]}"#);
        assert_eq!(e.path, "$.seq");
        let e = err(r#"{"session_id":"a","seq":1,"seq":2,"events":[]}"#);
        assert!(e.message.contains("duplicate"), "{e}");
        let e = err(r#"{"session_id":"a","seq":1,"events":[],"context":{"odd key":[1,{"x":true}]},"context":{}}"#);
        assert_eq!(e.path, "$.context");
        let e = err(r#"{"session_id":"a","seq":1,"events":{}}"#);
        assert_eq!(e.path, "$.events");
    }

    #[test]
    fn syntax_errors_and_non_objects() {
        assert_eq!(err("{\"session_id\":").kind, BatchErrorKind::Syntax);
        assert_eq!(err("[1,2]").kind, BatchErrorKind::Shape);
        assert_eq!(err("").kind, BatchErrorKind::Syntax);
        assert_eq!(err(r#"{"session_id":"a","seq":1,"events":[]} x"#).kind, BatchErrorKind::Syntax);
        assert_eq!(
            validate(b"{\"session_id\":\"\xff\"}", &Limits::default()).unwrap_err().kind,
            BatchErrorKind::Syntax
        );
    }

    #[test]
    fn over_long_values_are_cut_and_everything_else_is_kept_byte_for_byte() {
        let css = "a{color:red}".repeat(40);
        let escaped = "\\\"q\\\"".repeat(100); // 500 raw bytes, 300 unescaped: at the limit, kept
        let json = format!(
            r#"{{"session_id":"a","seq":1,"events":[{{"type":"custom","ts":1,"s":"short","e":"{escaped}"}}],
            "replay":[{{"type":2,"data":{{"node":{{"type":2,"tagName":"style","attributes":{{"_cssText":"{css}"}}}}}},"timestamp":1}}]}}"#
        );
        let limits = Limits { max_string_bytes: 300, ..Limits::default() };
        assert_eq!(validate(json.as_bytes(), &limits).unwrap().oversized, 1);
        let (cut, n) = cut_oversized(json.as_bytes(), 300);
        assert_eq!(n, 1);
        let expected = json.replace(&css, OVERSIZED_VALUE);
        assert_eq!(String::from_utf8(cut.clone()).unwrap(), expected);
        let summary = validate(&cut, &limits).unwrap();
        assert_eq!((summary.oversized, summary.total_events()), (0, 2));
    }

    #[test]
    fn enforces_depth_strings_and_event_count() {
        let limits = Limits { max_depth: 5, max_events: 2, max_string_bytes: 300, ..Limits::default() };
        // Depth 1 batch, 2 events array, 3 event, 4 field, 5 nested: allowed; one more is not.
        let ok = r#"{"session_id":"a","seq":1,"events":[{"type":"custom","ts":1,"p":{"q":{}}}]}"#;
        assert!(validate(ok.as_bytes(), &limits).is_ok());
        let deep = r#"{"session_id":"a","seq":1,"events":[{"type":"custom","ts":1,"p":{"q":{"r":[]}}}]}"#;
        let e = validate(deep.as_bytes(), &limits).unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (BatchErrorKind::TooDeep, "$.events[0].p.q.r"));
        // An over-long value is counted (the caller replaces it); an over-long contract field or key refuses the batch.
        let long =
            format!(r#"{{"session_id":"a","seq":1,"events":[{{"type":"custom","ts":1,"s":"{}"}}]}}"#, "x".repeat(301));
        assert_eq!(validate(long.as_bytes(), &limits).unwrap().oversized, 1);
        let long_id = format!(r#"{{"session_id":"{}","seq":1,"events":[]}}"#, "a".repeat(301));
        assert!(validate(long_id.as_bytes(), &limits).is_err());
        let long_key =
            format!(r#"{{"session_id":"a","seq":1,"events":[{{"type":"custom","ts":1,"{}":1}}]}}"#, "k".repeat(301));
        let e = validate(long_key.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.kind, BatchErrorKind::StringTooLong);
        let many = r#"{"session_id":"a","seq":1,"events":[{"type":"click","ts":1}],
            "replay":[{"type":3,"data":{},"timestamp":1},{"type":3,"data":{},"timestamp":1}]}"#;
        let e = validate(many.as_bytes(), &limits).unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (BatchErrorKind::TooManyEvents, "$.replay[1]"));
        let exactly = r#"{"session_id":"a","seq":1,"events":[{"type":"click","ts":1}],"replay":[{"type":3,"data":{},"timestamp":1}]}"#;
        assert_eq!(validate(exactly.as_bytes(), &limits).unwrap().total_events(), 2);
    }

    #[test]
    fn escaped_keys_render_quoted() {
        let e = err(
            r#"{"session_id":"a","seq":1,"events":[{"type":"click","ts":1,"a\"b":{"c":[1,2,{"d":"x"}]}}],"replay":5}"#,
        );
        assert_eq!(e.path, "$.replay");
        let limits = Limits { max_depth: 4, ..Limits::default() };
        let e = validate(br#"{"session_id":"a","seq":1,"events":[{"type":"click","ts":1,"a b":{"c":[]}}]}"#, &limits)
            .unwrap_err();
        assert_eq!(e.path, r#"$.events[0]["a b"].c"#);
    }
}
