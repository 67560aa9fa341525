//! Structural scrubbing of SDK batches: a streaming rewriter that copies the JSON text verbatim and rewrites only
//! string values that hold PII, so numbers, keys, whitespace and every other escape stay byte for byte.
//!
//! The walker knows the batch contract and rrweb's event format. What a string is follows from where it is:
//! analytics events and custom payloads go through field rules (`password` → secret, `email`, …) and free-text
//! scanning; in rrweb snapshots only text nodes, user-visible attributes, URLs and input values are scanned,
//! while tag names, ids, CSS (`<style>` text, `isStyle`, `_cssText`, `style` attributes) and script text are
//! copied untouched, so a scrubbed recording replays exactly like the original. Values whose meaning depends on
//! siblings that may come later in the object (an input's `value` and its `type="password"`, a text node and its
//! `isStyle`) are recorded and decided when the object closes, then spliced into the output.
//!
//! Node ids are what rrweb's later events use to name a node, so what a snapshot said about its nodes is kept
//! for the rest of the batch, and the sensitive inputs (a password field, `autocomplete="cc-number"`) for the
//! session's later batches too ([`ReplayNodes`]). A full snapshot starts the ids over and forgets both.

mod lexer;
mod rewrite;
mod rrweb;

use std::collections::{HashMap, HashSet};

use super::detect::{class_mask, find, word8, Found, CLASS};
use super::engine::{Engine, ScrubStats};
use super::fields::{normalize, skip_key, Cond, Fnv, Treat, MAX_KEY};
use super::jsonstr::{escape_into, unescape};
use super::keys::{self, Key};
use super::replace::is_replacement;
use super::Tokens;
use rrweb::{base64_data_uri, scanned_attribute, NodeSets};

/// Deepest nesting the walker follows (the runner's batch validation allows far less).
pub const MAX_DEPTH: u32 = 256;

/// Why a batch could not be scrubbed. The output buffer is left as it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScrubError {
    #[error("malformed JSON at byte {offset}")]
    Syntax { offset: usize },
    #[error("JSON nested deeper than {MAX_DEPTH} at byte {offset}")]
    TooDeep { offset: usize },
}

impl Engine {
    /// Rewrites a JSON batch, replacing PII inside string values only, and appends the result to `out`.
    /// The output is valid JSON with the same structure, keys, numbers and node ids as the input.
    pub fn scrub_json(&self, json: &[u8], tokens: &mut dyn Tokens, out: &mut Vec<u8>) -> Result<ScrubStats> {
        self.scrub_session_json(json, &mut ReplayNodes::default(), tokens, out)
    }

    /// [`Engine::scrub_json`] for one batch of a session whose earlier batches were scrubbed with the same
    /// `session`: input events into an input that an earlier batch's snapshot described as sensitive are
    /// tokenized whole. `session` is updated with what this batch tells.
    pub fn scrub_session_json(
        &self,
        json: &[u8],
        session: &mut ReplayNodes,
        tokens: &mut dyn Tokens,
        out: &mut Vec<u8>,
    ) -> Result<ScrubStats> {
        session.restarted = false;
        let mark = out.len();
        out.reserve(json.len());
        let mut scratch = SCRATCH.take();
        scratch.clear();
        let mut walker = Walker {
            engine: self,
            src: json,
            pos: 0,
            copied: 0,
            out: &mut *out,
            tokens,
            session,
            scratch,
            stats: ScrubStats::default(),
            nested: 0,
        };
        let result = walker.document().map(|()| walker.stats);
        SCRATCH.set(walker.scratch);
        if result.is_err() {
            out.truncate(mark);
        }
        result
    }
}

thread_local! {
    /// The walker's working buffers, kept for the next batch scrubbed on this thread.
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// A walker's working buffers. Kept between batches, so that a batch does not grow them from empty again; one
/// that grew past [`Scratch::KEEP_BYTES`] on an unusual batch is let go.
#[derive(Default)]
struct Scratch {
    pending: Vec<Pending>,
    nodes: NodeSets,
    text: Vec<u8>,
    map: Vec<u32>,
    key: Vec<u8>,
    key_map: Vec<u32>,
    found: Vec<Found>,
    repl: Vec<u8>,
    /// Inside a `<label>` element: `Some(hint)` once its text said what its input holds.
    label: Option<Option<Treat>>,
    /// What keys without a rule of the batch contract or rrweb mean, for free text (see `Walker::generic_key`).
    keys: std::cell::RefCell<KeyCache>,
    /// Input events of this batch into inputs not (yet) known to be sensitive: node id and where the event's text
    /// is in the output, so that the earlier keystrokes of an input that turns out to hold a value are redacted
    /// too when the batch ends.
    typed: Vec<Typed>,
}

/// Decisions about generic keys (`requestHeaders`, `amount`, `email`, …) for one engine, kept by the thread
/// between batches: keys repeat in every event, and a decision costs a normalization, two lookups and a keyword
/// search.
#[derive(Default)]
struct KeyCache {
    engine: u64,
    map: HashMap<Box<[u8]>, (Slot, Note), std::hash::BuildHasherDefault<Fnv>>,
}

impl KeyCache {
    /// Distinct keys remembered; past this the cache starts over (an attacker's random keys cannot grow it).
    const MAX: usize = 4096;
}

#[derive(Clone, Copy)]
struct Typed {
    node: u64,
    out_at: usize,
    len: usize,
}

impl Scratch {
    /// Capacity in bytes above which a buffer is not kept.
    const KEEP_BYTES: usize = 1 << 20;

    /// Empties every buffer, letting go of the ones that grew too large.
    fn clear(&mut self) {
        fn reset<T>(buffer: &mut Vec<T>) {
            if buffer.capacity() * std::mem::size_of::<T>() > Scratch::KEEP_BYTES {
                *buffer = Vec::new();
            }
            buffer.clear();
        }
        reset(&mut self.pending);
        reset(&mut self.text);
        reset(&mut self.map);
        reset(&mut self.key);
        reset(&mut self.key_map);
        reset(&mut self.found);
        reset(&mut self.repl);
        reset(&mut self.typed);
        self.nodes.clear();
        self.label = None;
    }
}

/// What a container is, which decides how its keys are read.
#[derive(Clone, Copy, Debug)]
enum Role {
    Batch,
    Context,
    Event,
    RrEvent,
    RrData,
    /// A serialized DOM node; `css` when its parent is `<style>` or `<script>`.
    Node {
        css: bool,
    },
    /// Attributes of an element; `form` when the element may hold a value (input, textarea, select, or unknown).
    Attrs {
        form: bool,
    },
    MutText,
    MutAttr,
    MutAdd,
    /// Any other object: field rules, then `base` for keys without a rule.
    Generic(Treat),
}

/// What the parent decided about a value from its key.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Copied verbatim, whatever it is.
    Skip,
    /// Strings get the treatment (with context entities from the key); containers inherit it.
    Text(Treat, u32),
    /// Objects (directly or in arrays) get the role.
    Obj(Role),
    /// A string decided when the enclosing object closes.
    Defer(Defer, Treat),
    /// Copied verbatim; the parent looks at the scalar.
    Capture,
}

/// Deferred string kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defer {
    TextContent,
    AttrValue,
    MutText,
    InputText,
    Value,
}

/// What the parent records from a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Note {
    None,
    Id,
    ParentId,
    Tag,
    HintType,
    HintName,
    /// Text a person reads about an input (placeholder, ARIA label): the whole phrase says what it holds.
    HintLabel,
    MergeHint,
}

/// What an object told about itself by the time it closed.
#[derive(Clone, Copy, Debug, Default)]
struct Facts {
    node_type: Option<u64>,
    id: Option<u64>,
    parent_id: Option<u64>,
    tag_seen: bool,
    css_tag: bool,
    form_tag: bool,
    is_style: bool,
    /// A `<label>` element.
    label_tag: bool,
    hint: Option<Treat>,
    /// Hash of the element's `id` attribute (form elements) or of its `for` attribute (labels).
    ref_hash: Option<u64>,
}

enum Scalar {
    Str {
        start: usize,
        end: usize,
    },
    Num(Option<u64>),
    Bool(bool),
    /// An object, with the sensitive-field hint it found (attributes objects report one).
    Object(Option<Treat>),
    Other,
}

#[derive(Clone, Copy)]
struct Pending {
    kind: Defer,
    treat: Treat,
    start: usize,
    end: usize,
    esc: bool,
    mask: u8,
    /// Where the string's contents start in the output.
    out_at: usize,
}

/// Sensitive inputs per node id the most recent full snapshot told about, for a session's later batches:
/// rrweb reports what is typed into an input by the input's id only, usually in a later batch than the
/// snapshot. Kept for the session by the caller (the runner keeps one per recent session). Stale entries err on
/// the safe side: a value typed into a node wrongly thought sensitive is tokenized whole rather than scanned.
#[derive(Clone, Debug, Default)]
pub struct ReplayNodes {
    sensitive: HashMap<u64, Treat>,
    /// What a `<label for=…>` says, by the hash of its `for` value, for an input described after it.
    labels: HashMap<u64, Treat>,
    /// Node ids of form elements with an `id` attribute and no hint of their own, by the hash of that `id`, for
    /// a `<label for=…>` that comes after them.
    unlabelled: HashMap<u64, u64>,
    /// Whether a full snapshot in the last batch started the node ids over.
    restarted: bool,
}

impl ReplayNodes {
    /// Sensitive inputs remembered per session; further ones are only scanned, as without a session.
    pub const MAX_SENSITIVE: usize = 256;

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.sensitive.is_empty() && self.labels.is_empty() && self.unlabelled.is_empty()
    }

    /// Folds in what a batch scrubbed meanwhile with its own copy told: all of it if that batch held a full
    /// snapshot (the ids started over), else its inputs on top of these.
    pub fn merge(&mut self, mut newer: ReplayNodes) {
        if newer.restarted {
            newer.restarted = false;
            *self = newer;
            return;
        }
        for (id, treat) in newer.sensitive {
            self.remember(id, treat);
        }
        for (for_hash, treat) in newer.labels {
            bounded_insert(&mut self.labels, for_hash, treat);
        }
        for (id_hash, node) in newer.unlabelled {
            bounded_insert(&mut self.unlabelled, id_hash, node);
        }
    }

    /// A form element without a hint of its own: what a label told about its `id` earlier, else it is kept for
    /// a label that comes later.
    fn label_of(&mut self, id_hash: u64, node: Option<u64>) -> Option<Treat> {
        if let Some(&treat) = self.labels.get(&id_hash) {
            return Some(treat);
        }
        if let Some(node) = node {
            bounded_insert(&mut self.unlabelled, id_hash, node);
        }
        None
    }

    /// A `<label for=…>` whose text says what its input holds.
    fn labelled(&mut self, for_hash: u64, treat: Treat) {
        bounded_insert(&mut self.labels, for_hash, treat);
        if let Some(node) = self.unlabelled.remove(&for_hash) {
            if !self.sensitive.contains_key(&node) {
                self.remember(node, treat);
            }
        }
    }

    fn remember(&mut self, id: u64, treat: Treat) {
        if self.sensitive.len() < Self::MAX_SENSITIVE || self.sensitive.contains_key(&id) {
            self.sensitive.insert(id, treat);
        }
    }

    fn restart(&mut self) {
        self.sensitive.clear();
        self.labels.clear();
        self.unlabelled.clear();
        self.restarted = true;
    }
}

/// Inserts unless the map is full (the per-session bound of [`ReplayNodes::MAX_SENSITIVE`]).
fn bounded_insert<V>(map: &mut HashMap<u64, V>, key: u64, value: V) {
    if map.len() < ReplayNodes::MAX_SENSITIVE || map.contains_key(&key) {
        map.insert(key, value);
    }
}

/// FNV-1a of an attribute value, to pair a label's `for` with an element's `id` without keeping either text.
fn ref_hash(value: &[u8]) -> u64 {
    value.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

struct Str {
    start: usize,
    end: usize,
    esc: bool,
    mask: u8,
}

struct Walker<'a> {
    engine: &'a Engine,
    src: &'a [u8],
    pos: usize,
    /// `src[..copied]` is already in `out` (verbatim or rewritten).
    copied: usize,
    out: &'a mut Vec<u8>,
    tokens: &'a mut dyn Tokens,
    session: &'a mut ReplayNodes,
    scratch: Scratch,
    stats: ScrubStats,
    /// How many JSON texts serialized into strings this walk is inside (0 for a batch).
    nested: u32,
}

type Result<T> = std::result::Result<T, ScrubError>;

#[cfg(test)]
mod tests {
    use super::rewrite::replace_range;

    #[test]
    fn a_range_is_replaced_by_a_longer_shorter_or_equal_text() {
        for (with, expected) in
            [(&b"0123456789"[..], &b"ab0123456789ef"[..]), (b"x", b"abxef"), (b"XY", b"abXYef"), (b"", b"abef")]
        {
            let mut out = b"abcdef".to_vec();
            replace_range(&mut out, 2, 2, with);
            assert_eq!(out, expected, "replacing \"cd\" with {:?}", String::from_utf8_lossy(with));
        }
        let mut out = b"abcd".to_vec();
        replace_range(&mut out, 2, 2, b"XYZ");
        assert_eq!(out, b"abXYZ", "at the end");
    }
}
