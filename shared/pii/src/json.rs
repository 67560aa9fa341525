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

use std::collections::{HashMap, HashSet};

use super::detect::{class_mask, find, word8, Found, CLASS};
use super::engine::{Engine, ScrubStats};
use super::fields::{normalize, skip_key, Cond, Treat, MAX_KEY};
use super::jsonstr::{escape_into, unescape};
use super::keys::{self, Key};
use super::replace::is_replacement;
use super::Tokens;

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
        self.nodes.clear();
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
    hint: Option<Treat>,
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

/// Node ids learnt from snapshots in this batch, for mutations that refer to them. They are not carried to
/// later batches: a snapshot that never arrived (refused, sampled out) would leave them naming other nodes, and
/// text wrongly taken for CSS would not be scanned.
#[derive(Default)]
struct NodeSets {
    css_elements: HashSet<u64>,
    css_texts: HashSet<u64>,
}

impl NodeSets {
    /// Forgets every id; sets that grew past [`Scratch::KEEP_BYTES`] are let go.
    fn clear(&mut self) {
        for set in [&mut self.css_elements, &mut self.css_texts] {
            if set.capacity() * std::mem::size_of::<u64>() > Scratch::KEEP_BYTES {
                *set = HashSet::new();
            }
            set.clear();
        }
    }
}

/// Sensitive inputs per node id the most recent full snapshot told about, for a session's later batches:
/// rrweb reports what is typed into an input by the input's id only, usually in a later batch than the
/// snapshot. Kept for the session by the caller (the runner keeps one per recent session). Stale entries err on
/// the safe side: a value typed into a node wrongly thought sensitive is tokenized whole rather than scanned.
#[derive(Clone, Debug, Default)]
pub struct ReplayNodes {
    sensitive: HashMap<u64, Treat>,
    /// Whether a full snapshot in the last batch started the node ids over.
    restarted: bool,
}

impl ReplayNodes {
    /// Sensitive inputs remembered per session; further ones are only scanned, as without a session.
    pub const MAX_SENSITIVE: usize = 256;

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.sensitive.is_empty()
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
    }

    fn remember(&mut self, id: u64, treat: Treat) {
        if self.sensitive.len() < Self::MAX_SENSITIVE || self.sensitive.contains_key(&id) {
            self.sensitive.insert(id, treat);
        }
    }

    fn restart(&mut self) {
        self.sensitive.clear();
        self.restarted = true;
    }
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
}

type Result<T> = std::result::Result<T, ScrubError>;

impl Walker<'_> {
    #[cold]
    fn syntax(&self) -> ScrubError {
        ScrubError::Syntax { offset: self.pos }
    }

    fn document(&mut self) -> Result<()> {
        if self.next()? == b'{' {
            self.object(Role::Batch, 1)?;
        } else {
            self.value(Slot::Text(Treat::SCAN, 0), 1)?;
        }
        self.ws();
        if self.pos != self.src.len() {
            return Err(self.syntax());
        }
        self.flush(self.src.len());
        Ok(())
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips whitespace and returns the byte after it (without consuming it). Compact JSON, as SDKs send it, has
    /// none: that case costs one comparison.
    #[inline]
    fn next(&mut self) -> Result<u8> {
        match self.src.get(self.pos) {
            Some(&b) if b > b' ' => Ok(b),
            _ => {
                self.ws();
                self.peek()
            }
        }
    }

    #[inline]
    fn peek(&self) -> Result<u8> {
        self.src.get(self.pos).copied().ok_or_else(|| self.syntax())
    }

    /// Copies the input up to `to` into the output.
    fn flush(&mut self, to: usize) {
        if to > self.copied {
            self.out.extend_from_slice(&self.src[self.copied..to]);
            self.copied = to;
        }
    }

    fn value(&mut self, slot: Slot, depth: u32) -> Result<Scalar> {
        match self.peek()? {
            b'"' => match slot {
                Slot::Text(Treat::Skip, _) | Slot::Skip | Slot::Capture | Slot::Obj(_) => {
                    let (start, end, _) = self.skip_string()?;
                    Ok(Scalar::Str { start, end })
                }
                Slot::Text(treat, ctx) => {
                    let s = self.string()?;
                    if self.process(treat, ctx, s.start, s.end, s.esc, s.mask) {
                        self.flush(s.start);
                        self.out.extend_from_slice(&self.scratch.repl);
                        self.copied = s.end;
                    }
                    Ok(Scalar::Str { start: s.start, end: s.end })
                }
                Slot::Defer(kind, treat) => {
                    let s = self.string()?;
                    let out_at = self.out.len() + (s.start - self.copied);
                    self.scratch.pending.push(Pending {
                        kind,
                        treat,
                        start: s.start,
                        end: s.end,
                        esc: s.esc,
                        mask: s.mask,
                        out_at,
                    });
                    Ok(Scalar::Str { start: s.start, end: s.end })
                }
            },
            b'{' => match slot {
                Slot::Skip | Slot::Capture | Slot::Text(Treat::Skip, _) | Slot::Defer(_, Treat::Skip) => {
                    self.skip_container(depth)?;
                    Ok(Scalar::Other)
                }
                Slot::Obj(Role::Node { css }) => self.node(css, depth).map(|()| Scalar::Other),
                Slot::Obj(role) => self.object(role, depth).map(Scalar::Object),
                Slot::Text(treat, _) | Slot::Defer(_, treat) => {
                    self.object(Role::Generic(treat), depth).map(Scalar::Object)
                }
            },
            b'[' => match slot {
                Slot::Skip | Slot::Capture | Slot::Text(Treat::Skip, _) | Slot::Defer(_, Treat::Skip) => {
                    self.skip_container(depth)?;
                    Ok(Scalar::Other)
                }
                Slot::Defer(_, treat) => self.array(Slot::Text(treat, 0), depth),
                other => self.array(other, depth),
            },
            b't' | b'f' | b'n' => self.literal(),
            b'-' | b'0'..=b'9' if matches!(slot, Slot::Capture) => self.number(),
            b'-' | b'0'..=b'9' => {
                self.skip_number();
                Ok(Scalar::Other)
            }
            _ => Err(self.syntax()),
        }
    }

    /// Reads `"key":` and returns the key's range and whether it has escapes; leaves `pos` at the value.
    #[inline(always)]
    fn key(&mut self) -> Result<(usize, usize, bool)> {
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
    fn more(&mut self, close: u8) -> Result<bool> {
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
    fn empty(&mut self, close: u8) -> Result<bool> {
        if self.next()? == close {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A serialized rrweb node, the bulk of a full snapshot: read with direct key matches instead of the
    /// generic role dispatch. Same decisions as `classify` for `Role::Node`.
    fn node(&mut self, css: bool, depth: u32) -> Result<()> {
        self.enter(depth)?;
        self.pos += 1;
        let base = self.scratch.pending.len();
        let mut facts = Facts::default();
        if self.empty(b'}')? {
            return Ok(());
        }
        loop {
            let (ks, ke, kesc) = self.key()?;
            let packed = if kesc {
                unescape(&self.src[ks..ke], &mut self.scratch.key, &mut self.scratch.key_map);
                keys::packed(&self.scratch.key, 0, self.scratch.key.len())
            } else {
                keys::packed(self.src, ks, ke)
            };
            match packed {
                keys::K_TYPE => facts.node_type = self.integer(depth + 1)?,
                keys::K_ID => facts.id = self.integer(depth + 1)?,
                keys::K_TAG_NAME => {
                    let tag = self.value(Slot::Capture, depth + 1)?;
                    self.note(Note::Tag, &tag, &mut facts);
                }
                keys::K_ATTRIBUTES if self.peek()? == b'{' => {
                    let form = !facts.tag_seen || facts.form_tag;
                    facts.hint = self.attrs(form, depth + 1)?.or(facts.hint);
                }
                keys::K_CHILD_NODES if self.peek()? == b'[' => self.child_nodes(facts.css_tag, depth + 1)?,
                keys::K_TEXT_CONTENT if css || facts.is_style => self.skip_value(depth + 1)?,
                keys::K_TEXT_CONTENT => {
                    self.value(Slot::Defer(Defer::TextContent, Treat::SCAN), depth + 1)?;
                }
                keys::K_IS_STYLE => {
                    if let Scalar::Bool(b) = self.value(Slot::Capture, depth + 1)? {
                        facts.is_style = b;
                    }
                }
                _ => self.skip_value(depth + 1)?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        self.close(Role::Node { css }, &facts, base);
        Ok(())
    }

    fn child_nodes(&mut self, css: bool, depth: u32) -> Result<()> {
        self.enter(depth)?;
        self.pos += 1;
        if self.empty(b']')? {
            return Ok(());
        }
        loop {
            if self.next()? == b'{' {
                self.node(css, depth + 1)?;
            } else {
                self.skip_value(depth + 1)?;
            }
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// An element's attributes; deferred values are left for the element to decide. Returns the hint found.
    fn attrs(&mut self, form: bool, depth: u32) -> Result<Option<Treat>> {
        self.enter(depth)?;
        self.pos += 1;
        let mut facts = Facts::default();
        if self.empty(b'}')? {
            return Ok(None);
        }
        loop {
            let (ks, ke, kesc) = self.key()?;
            let src = self.src;
            let (k, data) = if kesc {
                unescape(&src[ks..ke], &mut self.scratch.key, &mut self.scratch.key_map);
                (keys::key(&self.scratch.key), self.scratch.key.starts_with(b"data-"))
            } else {
                (keys::key_in(src, ks, ke), src[ks..ke].starts_with(b"data-"))
            };
            match k {
                Key::Value => {
                    self.value(Slot::Defer(Defer::AttrValue, Treat::SCAN), depth + 1)?;
                }
                Key::Type if form => {
                    let v = self.value(Slot::Capture, depth + 1)?;
                    self.note(Note::HintType, &v, &mut facts);
                }
                Key::Name | Key::Id | Key::Autocomplete if form => {
                    let v = self.value(Slot::Capture, depth + 1)?;
                    self.note(Note::HintName, &v, &mut facts);
                }
                _ if scanned_attribute(k, data) => {
                    self.value(Slot::Text(Treat::SCAN, 0), depth + 1)?;
                }
                _ => self.skip_value(depth + 1)?,
            }
            if !self.more(b'}')? {
                return Ok(facts.hint);
            }
        }
    }

    /// An integer value (node type, node id); any other value is skipped and gives `None`.
    #[inline]
    fn integer(&mut self, depth: u32) -> Result<Option<u64>> {
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
    fn skip_value(&mut self, depth: u32) -> Result<()> {
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

    fn enter(&self, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ScrubError::TooDeep { offset: self.pos });
        }
        Ok(())
    }

    fn array(&mut self, element: Slot, depth: u32) -> Result<Scalar> {
        self.enter(depth)?;
        self.pos += 1;
        if self.next()? == b']' {
            self.pos += 1;
            return Ok(Scalar::Other);
        }
        loop {
            self.ws();
            self.value(element, depth + 1)?;
            match self.next()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(Scalar::Other);
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    fn object(&mut self, role: Role, depth: u32) -> Result<Option<Treat>> {
        self.enter(depth)?;
        self.pos += 1;
        let base = self.scratch.pending.len();
        let mut facts = Facts::default();
        if self.next()? == b'}' {
            self.pos += 1;
            return Ok(None);
        }
        loop {
            let (ks, ke, kesc) = self.key()?;
            let src = self.src;
            let (slot, note) = if kesc {
                unescape(&src[ks..ke], &mut self.scratch.key, &mut self.scratch.key_map);
                self.classify(role, &self.scratch.key, keys::key(&self.scratch.key), &facts)
            } else {
                self.classify(role, &src[ks..ke], keys::key_in(src, ks, ke), &facts)
            };
            if let (Role::RrData, Slot::Obj(Role::Node { .. })) = (role, slot) {
                // A full snapshot: node ids start over, and what earlier ones said about theirs no longer holds.
                self.scratch.nodes.clear();
                self.session.restart();
            }
            let value = self.value(slot, depth + 1)?;
            if note != Note::None {
                self.note(note, &value, &mut facts);
            }
            match self.next()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.syntax()),
            }
        }
        self.close(role, &facts, base);
        Ok(facts.hint)
    }

    /// Decides what the value under `key` is, in a container with this role.
    fn classify(&self, role: Role, key: &[u8], k: Key, facts: &Facts) -> (Slot, Note) {
        const SCAN: Slot = Slot::Text(Treat::SCAN, 0);
        const SKIP: (Slot, Note) = (Slot::Skip, Note::None);
        match role {
            Role::Batch => match k {
                Key::SessionId | Key::VisitorId | Key::Seq | Key::SentAt => SKIP,
                Key::Context => (Slot::Obj(Role::Context), Note::None),
                Key::Events => (Slot::Obj(Role::Event), Note::None),
                Key::Replay => (Slot::Obj(Role::RrEvent), Note::None),
                _ => self.generic_key(Treat::SCAN, key),
            },
            Role::Context => match k {
                Key::UserAgent | Key::Screen | Key::Sdk => SKIP,
                _ => self.generic_key(Treat::SCAN, key),
            },
            Role::Event => match k {
                // The event's own name is analytics vocabulary, not a person's name.
                Key::Name | Key::Event => (SCAN, Note::None),
                Key::Value => (Slot::Defer(Defer::Value, Treat::SCAN), Note::None),
                Key::Type => (Slot::Skip, Note::HintType),
                Key::Field
                | Key::Target
                | Key::Selector
                | Key::Input
                | Key::Element
                | Key::Label
                | Key::Autocomplete => (SCAN, Note::HintName),
                _ => self.generic_key(Treat::SCAN, key),
            },
            Role::Generic(base @ Treat::Whole { .. }) => (Slot::Text(base, 0), Note::None),
            Role::Generic(base) => match k {
                Key::Value => (Slot::Defer(Defer::Value, base), Note::None),
                Key::Type | Key::InputType | Key::InputTypeSnake => (Slot::Skip, Note::HintType),
                Key::Field
                | Key::FieldName
                | Key::FieldNameSnake
                | Key::Input
                | Key::InputName
                | Key::Target
                | Key::Selector
                | Key::Autocomplete
                | Key::Label => (Slot::Text(base, 0), Note::HintName),
                _ => self.generic_key(base, key),
            },
            Role::RrEvent => match k {
                Key::Data => (Slot::Obj(Role::RrData), Note::None),
                Key::Type | Key::Timestamp | Key::Delay => SKIP,
                _ => self.generic_key(Treat::SCAN, key),
            },
            Role::RrData => match k {
                Key::Node => (Slot::Obj(Role::Node { css: false }), Note::None),
                Key::Id => (Slot::Capture, Note::Id),
                Key::Href | Key::Payload => (SCAN, Note::None),
                Key::Texts => (Slot::Obj(Role::MutText), Note::None),
                Key::Attributes => (Slot::Obj(Role::MutAttr), Note::None),
                Key::Adds => (Slot::Obj(Role::MutAdd), Note::None),
                Key::Text => (Slot::Defer(Defer::InputText, Treat::SCAN), Note::None),
                // Positions, sizes, flags, CSS rules and declarations, canvas commands, fonts, media state.
                Key::Source
                | Key::Type
                | Key::X
                | Key::Y
                | Key::Width
                | Key::Height
                | Key::InitialOffset
                | Key::Positions
                | Key::Removes
                | Key::IsChecked
                | Key::UserTriggered
                | Key::PointerType
                | Key::TimeOffset
                | Key::Speed
                | Key::StyleId
                | Key::Tag
                | Key::Plugin
                | Key::Rule
                | Key::Set
                | Key::Remove
                | Key::Styles
                | Key::Replace
                | Key::ReplaceSync
                | Key::Commands
                | Key::Args
                | Key::FontSource
                | Key::Family
                | Key::Descriptors
                | Key::AdoptedStyleSheets
                | Key::StyleIds
                | Key::Index
                | Key::IsAttachIframe
                | Key::Trace
                | Key::Level
                | Key::Volume
                | Key::Muted
                | Key::Loop
                | Key::PlaybackRate
                | Key::CurrentTime => SKIP,
                _ => self.generic_key(Treat::SCAN, key),
            },
            // Nodes are read by `Walker::node`.
            Role::Node { .. } => SKIP,
            Role::Attrs { form } => match k {
                Key::Value => (Slot::Defer(Defer::AttrValue, Treat::SCAN), Note::None),
                Key::Type if form => (Slot::Capture, Note::HintType),
                Key::Name | Key::Id | Key::Autocomplete if form => (Slot::Capture, Note::HintName),
                _ if scanned_attribute(k, key.starts_with(b"data-")) => (SCAN, Note::None),
                _ => SKIP,
            },
            Role::MutText => match k {
                Key::Id => (Slot::Capture, Note::Id),
                Key::Value => (Slot::Defer(Defer::MutText, Treat::SCAN), Note::None),
                _ => SKIP,
            },
            Role::MutAttr => match k {
                Key::Id => (Slot::Capture, Note::Id),
                Key::Attributes => (Slot::Obj(Role::Attrs { form: true }), Note::MergeHint),
                _ => SKIP,
            },
            Role::MutAdd => match k {
                Key::ParentId => (Slot::Capture, Note::ParentId),
                Key::Node => {
                    let css = facts.parent_id.is_some_and(|p| self.scratch.nodes.css_elements.contains(&p));
                    (Slot::Obj(Role::Node { css }), Note::None)
                }
                _ => SKIP,
            },
        }
    }

    /// Field rules, then id-like keys, then free text with the key's context keywords.
    fn generic_key(&self, base: Treat, key: &[u8]) -> (Slot, Note) {
        let mut buf = [0u8; MAX_KEY];
        let Some(norm) = normalize(key, &mut buf) else { return (Slot::Text(base, 0), Note::None) };
        if let Some(rule) = self.engine.fields.lookup(norm) {
            let base_action = match base {
                Treat::Scan { action } => action,
                _ => None,
            };
            return match rule {
                Treat::Skip => (Slot::Skip, Note::None),
                Treat::Scan { action } => (Slot::Text(Treat::Scan { action: action.or(base_action) }, 0), Note::None),
                whole => {
                    let note = if norm == b"name" { Note::HintName } else { Note::None };
                    (Slot::Text(whole, 0), note)
                }
            };
        }
        if skip_key(key) {
            return (Slot::Skip, Note::None);
        }
        (Slot::Text(base, self.engine.detector.context.entities_in(key)), Note::None)
    }

    fn note(&self, note: Note, value: &Scalar, facts: &mut Facts) {
        let fields = &self.engine.fields;
        match (note, value) {
            (Note::Id, Scalar::Num(n)) => facts.id = *n,
            (Note::ParentId, Scalar::Num(n)) => facts.parent_id = *n,
            (Note::Tag, &Scalar::Str { start, end }) => {
                let tag = &self.src[start..end];
                facts.tag_seen = true;
                facts.css_tag = tag.eq_ignore_ascii_case(b"style") || tag.eq_ignore_ascii_case(b"script");
                facts.form_tag = [&b"input"[..], b"textarea", b"select"].iter().any(|t| tag.eq_ignore_ascii_case(t));
            }
            (Note::HintType, &Scalar::Str { start, end }) => {
                facts.hint = fields.input_type(&self.src[start..end]).or(facts.hint);
            }
            (Note::HintName, &Scalar::Str { start, end }) => {
                facts.hint = facts.hint.or_else(|| fields.hint(&self.src[start..end]));
            }
            (Note::MergeHint, Scalar::Object(hint)) => facts.hint = hint.or(facts.hint),
            _ => {}
        }
    }

    /// Decides the strings this object deferred, and records node ids for later events.
    fn close(&mut self, role: Role, facts: &Facts, base: usize) {
        if let Role::Attrs { .. } = role {
            return; // The element (or mutation record) that owns these attributes decides.
        }
        let sensitive = |session: &ReplayNodes| facts.id.and_then(|id| session.sensitive.get(&id).copied());
        for i in (base..self.scratch.pending.len()).rev() {
            let p = self.scratch.pending[i];
            let treat = match p.kind {
                Defer::TextContent => match role {
                    Role::Node { css } if css || facts.is_style => Treat::Skip,
                    _ => p.treat,
                },
                Defer::AttrValue => facts.hint.or_else(|| sensitive(self.session)).unwrap_or(p.treat),
                Defer::MutText => {
                    if facts.id.is_some_and(|id| self.scratch.nodes.css_texts.contains(&id)) {
                        Treat::Skip
                    } else {
                        p.treat
                    }
                }
                Defer::InputText => sensitive(self.session).unwrap_or(p.treat),
                Defer::Value => facts.hint.unwrap_or(p.treat),
            };
            if self.process(treat, 0, p.start, p.end, p.esc, p.mask) {
                self.flush(self.pos);
                replace_range(self.out, p.out_at, p.end - p.start, &self.scratch.repl);
            }
        }
        self.scratch.pending.truncate(base);
        match role {
            Role::Node { css } => {
                if let Some(id) = facts.id {
                    if facts.css_tag {
                        self.scratch.nodes.css_elements.insert(id);
                    }
                    if facts.node_type == Some(3) && (css || facts.is_style) {
                        self.scratch.nodes.css_texts.insert(id);
                    }
                    if let Some(hint) = facts.hint {
                        self.session.remember(id, hint);
                    }
                }
            }
            Role::MutAttr => {
                if let (Some(id), Some(hint)) = (facts.id, facts.hint) {
                    self.session.remember(id, hint);
                }
            }
            _ => {}
        }
    }

    /// Scrubs the string `src[start..end]` (raw contents) by `treat`. When something changes, the new raw
    /// contents are in `self.scratch.repl` and the result is true.
    fn process(&mut self, treat: Treat, ctx: u32, start: usize, end: usize, esc: bool, mask: u8) -> bool {
        let engine = self.engine;
        let raw = &self.src[start..end];
        match treat {
            Treat::Skip => false,
            Treat::Whole { entity, action, cond } => {
                let text: &[u8] = if esc {
                    unescape(raw, &mut self.scratch.text, &mut self.scratch.map);
                    &self.scratch.text
                } else {
                    raw
                };
                let trimmed = text.trim_ascii();
                if trimmed.is_empty() || is_replacement(trimmed) {
                    return false;
                }
                match cond {
                    Cond::Always => {}
                    Cond::ShortDigits => {
                        if !(3..=8).contains(&trimmed.len()) || !trimmed.iter().all(u8::is_ascii_digit) {
                            return self.process(Treat::SCAN, ctx, start, end, esc, mask);
                        }
                    }
                    Cond::NotLabel => {
                        if engine.fields.hint(trimmed).is_some() {
                            return false;
                        }
                    }
                }
                self.stats.strings_scanned += 1;
                let original = String::from_utf8_lossy(text);
                let found = Found { entity, start: 0, end: text.len(), confidence: 1.0, action: None };
                let Some(rep) = engine.replace(&found, action, &original, &mut *self.tokens, &mut self.stats) else {
                    return false;
                };
                self.scratch.repl.clear();
                escape_into(&rep, &mut self.scratch.repl);
                true
            }
            Treat::Scan { action } => {
                // A string with escapes is judged by its unescaped text (the scanner gave it every class).
                let (text, mask): (&[u8], u8) = if esc {
                    unescape(raw, &mut self.scratch.text, &mut self.scratch.map);
                    (&self.scratch.text, class_mask(&self.scratch.text))
                } else {
                    (raw, mask)
                };
                let plan = engine.detector.plan(text, mask);
                if plan.is_empty() {
                    return false;
                }
                self.stats.strings_scanned += 1;
                if base64_data_uri(text) {
                    return false;
                }
                engine.detector.find_planned(text, plan, ctx, &mut self.scratch.found);
                if self.scratch.found.is_empty() {
                    return false;
                }
                let raw_at = |i: usize, map: &[u32]| if esc { map[i] as usize } else { i };
                self.scratch.repl.clear();
                let mut last = 0;
                for f in &self.scratch.found {
                    let original = String::from_utf8_lossy(&text[f.start..f.end]);
                    let Some(rep) = engine.replace(f, action, &original, &mut *self.tokens, &mut self.stats) else {
                        continue;
                    };
                    self.scratch
                        .repl
                        .extend_from_slice(&raw[raw_at(last, &self.scratch.map)..raw_at(f.start, &self.scratch.map)]);
                    escape_into(&rep, &mut self.scratch.repl);
                    last = f.end;
                }
                if last == 0 {
                    return false;
                }
                self.scratch.repl.extend_from_slice(&raw[raw_at(last, &self.scratch.map)..]);
                true
            }
        }
    }

    /// Reads a string, computing its byte-class mask (all classes if it has escapes).
    fn string(&mut self) -> Result<Str> {
        let (start, end, esc) = self.skip_string()?;
        // Escaped strings are classed after unescaping, by whoever scans them.
        let mask = if esc { u8::MAX } else { self.src[start..end].iter().fold(0, |m, &b| m | CLASS[usize::from(b)]) };
        Ok(Str { start, end, esc, mask })
    }

    /// Skips a string eight bytes at a time; returns contents range and whether it has escapes.
    fn skip_string(&mut self) -> Result<(usize, usize, bool)> {
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
    fn skip_container(&mut self, depth: u32) -> Result<()> {
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

    fn number(&mut self) -> Result<Scalar> {
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
    fn skip_number(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += rest
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
    }

    fn literal(&mut self) -> Result<Scalar> {
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

/// Replaces `out[at..at + len]` with `with`, moving what follows once.
fn replace_range(out: &mut Vec<u8>, at: usize, len: usize, with: &[u8]) {
    let tail = at + len..out.len();
    let end = at + with.len() + tail.len();
    if end > out.len() {
        out.resize(end, 0);
    }
    out.copy_within(tail, at + with.len());
    out[at..at + with.len()].copy_from_slice(with);
    out.truncate(end);
}

/// Attributes whose values people read or that carry URLs: scanned as free text. Everything else (class, style,
/// ids, sizes, SVG geometry, event handlers) is copied as it is.
fn scanned_attribute(k: Key, data_attribute: bool) -> bool {
    matches!(
        k,
        Key::Placeholder
            | Key::Title
            | Key::Alt
            | Key::AriaLabel
            | Key::AriaDescription
            | Key::AriaValuetext
            | Key::Label
            | Key::Content
            | Key::Summary
            | Key::Srcdoc
            | Key::Href
            | Key::Src
            | Key::Action
            | Key::Formaction
            | Key::Poster
            | Key::Cite
            | Key::Srcset
            | Key::Background
            | Key::Ping
            | Key::XlinkHref
            | Key::Data
    ) || (k == Key::Other && data_attribute)
}

/// `data:…;base64,…` payloads (images, fonts) are never scanned.
fn base64_data_uri(text: &[u8]) -> bool {
    text.len() > 5
        && text[..5].eq_ignore_ascii_case(b"data:")
        && find(&text[..text.len().min(128)], b";base64,").is_some()
}

#[cfg(test)]
mod tests {
    use super::replace_range;

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
