//! The walk and the rewriting: values, arrays and objects, what each key makes of its value (field rules, the
//! batch contract, rrweb's event types), the decisions an object takes when it closes, and the replacement of a
//! string by its scrubbed text in `out`.

use super::*;
use crate::{Action, Entity};

impl Walker<'_> {
    pub(super) fn document(&mut self) -> Result<()> {
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
        self.redact_earlier_keystrokes();
        Ok(())
    }

    /// Input events are judged together: once an input's text turned out to be a value (and the input became
    /// sensitive), its earlier events in this batch are redacted whole as well, so no prefix of the value (the
    /// start of an e-mail address before its `@`) is stored. Later entries are patched first, so the positions of
    /// earlier ones still hold.
    fn redact_earlier_keystrokes(&mut self) {
        let typed = std::mem::take(&mut self.scratch.typed);
        for t in typed.iter().rev() {
            let Some(Treat::Whole { entity, .. }) = self.session.sensitive.get(&t.node).copied() else { continue };
            let text = &self.out[t.out_at..t.out_at + t.len];
            if text.is_empty() || is_replacement(text) {
                continue;
            }
            let text = text.to_vec();
            if let Some(rep) = redaction(entity, self.engine, &text, &mut *self.tokens, &mut self.stats) {
                let mut escaped = Vec::with_capacity(rep.len());
                escape_into(&rep, &mut escaped);
                replace_range(self.out, t.out_at, t.len, &escaped);
            }
        }
        self.scratch.typed = typed;
    }

    /// Copies the input up to `to` into the output.
    pub(super) fn flush(&mut self, to: usize) {
        if to > self.copied {
            self.out.extend_from_slice(&self.src[self.copied..to]);
            self.copied = to;
        }
    }

    pub(super) fn value(&mut self, slot: Slot, depth: u32) -> Result<Scalar> {
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

    pub(super) fn array(&mut self, element: Slot, depth: u32) -> Result<Scalar> {
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

    pub(super) fn object(&mut self, role: Role, depth: u32) -> Result<Option<Treat>> {
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
    pub(super) fn classify(&self, role: Role, key: &[u8], k: Key, facts: &Facts) -> (Slot, Note) {
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
                _ if page_url_key(key) => (Slot::Text(Treat::SCAN, crate::detect::URL_SITE), Note::None),
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
                _ if page_url_key(key) => (Slot::Text(Treat::SCAN, crate::detect::URL_SITE), Note::None),
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
                // A meta event's `href` is the page's address: its host is the site.
                Key::Href => (Slot::Text(Treat::SCAN, crate::detect::URL_SITE), Note::None),
                Key::Payload => (SCAN, Note::None),
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

    /// Field rules, then id-like keys, then free text with the key's context keywords. Decisions for free text
    /// (the common case) are cached per thread and engine.
    pub(super) fn generic_key(&self, base: Treat, key: &[u8]) -> (Slot, Note) {
        if base != Treat::SCAN || key.len() > MAX_KEY {
            return self.decide_key(base, key);
        }
        let mut cache = self.scratch.keys.borrow_mut();
        if cache.engine != self.engine.id || cache.map.len() >= KeyCache::MAX {
            cache.engine = self.engine.id;
            cache.map.clear();
        }
        if let Some(&decision) = cache.map.get(key) {
            return decision;
        }
        let decision = self.decide_key(base, key);
        cache.map.insert(key.into(), decision);
        decision
    }

    fn decide_key(&self, base: Treat, key: &[u8]) -> (Slot, Note) {
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

    pub(super) fn note(&self, note: Note, value: &Scalar, facts: &mut Facts) {
        let fields = &self.engine.fields;
        match (note, value) {
            (Note::Id, Scalar::Num(n)) => facts.id = *n,
            (Note::ParentId, Scalar::Num(n)) => facts.parent_id = *n,
            (Note::Tag, &Scalar::Str { start, end }) => {
                let tag = &self.src[start..end];
                facts.tag_seen = true;
                facts.css_tag = tag.eq_ignore_ascii_case(b"style") || tag.eq_ignore_ascii_case(b"script");
                facts.form_tag = [&b"input"[..], b"textarea", b"select"].iter().any(|t| tag.eq_ignore_ascii_case(t));
                facts.label_tag = tag.eq_ignore_ascii_case(b"label");
            }
            (Note::HintType, &Scalar::Str { start, end }) => {
                facts.hint = fields.input_type(&self.src[start..end]).or(facts.hint);
            }
            (Note::HintName, &Scalar::Str { start, end }) => {
                facts.hint = facts.hint.or_else(|| fields.hint(&self.src[start..end]));
            }
            (Note::HintLabel, &Scalar::Str { start, end }) => {
                facts.hint = facts.hint.or_else(|| fields.hint_phrase(&self.src[start..end]));
            }
            (Note::MergeHint, Scalar::Object(hint)) => facts.hint = hint.or(facts.hint),
            _ => {}
        }
    }

    /// Decides the strings this object deferred, and records node ids for later events.
    pub(super) fn close(&mut self, role: Role, facts: &Facts, base: usize) {
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
                Defer::InputText => match sensitive(self.session) {
                    Some(treat) => treat,
                    None => {
                        self.input_text(facts.id, p);
                        continue;
                    }
                },
                Defer::Value => facts.hint.unwrap_or(p.treat),
            };
            let ctx = match p.kind {
                Defer::TextContent | Defer::MutText => crate::detect::PAGE_TEXT,
                _ => 0,
            };
            if self.process(treat, ctx, p.start, p.end, p.esc, p.mask) {
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

    /// What was typed into an input not known to be sensitive (an rrweb input event's `text`). Scanned as free
    /// text; then whatever is still becoming a value is redacted, since rrweb sends one event per keystroke and
    /// every prefix is stored: a run of 5 or more digits (so at most 4 digits of a number ever appear raw) and a
    /// word with an `@` in it. The node is then sensitive for the rest of the session: its later events are
    /// tokenized whole.
    fn input_text(&mut self, id: Option<u64>, p: Pending) {
        let scanned = self.process(p.treat, 0, p.start, p.end, p.esc, p.mask);
        let current: &[u8] = if scanned { &self.scratch.repl } else { &self.src[p.start..p.end] };
        let (redacted, entity) = partial_values(current, self.engine, &mut *self.tokens, &mut self.stats);
        let changed = match redacted {
            Some(text) => {
                self.scratch.repl = text;
                true
            }
            None => scanned,
        };
        if changed {
            self.flush(self.pos);
            replace_range(self.out, p.out_at, p.end - p.start, &self.scratch.repl);
        }
        if let Some(id) = id {
            let len = if changed { self.scratch.repl.len() } else { p.end - p.start };
            self.scratch.typed.push(Typed { node: id, out_at: p.out_at, len });
            if let Some(entity) = entity {
                self.session.remember(id, Treat::whole(entity));
            }
        }
    }

    /// JSON texts inside strings inside JSON walked as JSON; deeper ones are scanned as text.
    const MAX_NESTED: u32 = 2;

    /// Walks `text`, a JSON object or array that was serialized into a string, with `treat` for keys without a
    /// rule. `Some(changed)` when it is JSON (the new string contents in `self.scratch.repl` if changed), `None`
    /// when it does not parse, so it is scanned as text.
    fn embedded(&mut self, text: &[u8], treat: Treat) -> Option<bool> {
        let mut out = Vec::with_capacity(text.len() + 64);
        let mut session = ReplayNodes::default();
        // The nested walk shares this walk's key decisions.
        let scratch = Scratch { keys: std::mem::take(&mut self.scratch.keys), ..Scratch::default() };
        let mut walker = Walker {
            engine: self.engine,
            src: text,
            pos: 0,
            copied: 0,
            out: &mut out,
            tokens: &mut *self.tokens,
            session: &mut session,
            scratch,
            stats: ScrubStats::default(),
            nested: self.nested + 1,
        };
        let parsed = walker.value(Slot::Text(treat, 0), 1).is_ok() && {
            walker.ws();
            walker.pos == text.len()
        };
        self.scratch.keys = std::mem::take(&mut walker.scratch.keys);
        if !parsed {
            return None;
        }
        walker.flush(text.len());
        let stats = std::mem::take(&mut walker.stats);
        self.stats.add(&stats);
        if out == text {
            return Some(false);
        }
        let out = String::from_utf8(out).ok()?;
        self.scratch.repl.clear();
        escape_into(&out, &mut self.scratch.repl);
        Some(true)
    }

    /// Scrubs the string `src[start..end]` (raw contents) by `treat`. When something changes, the new raw
    /// contents are in `self.scratch.repl` and the result is true.
    pub(super) fn process(&mut self, treat: Treat, ctx: u32, start: usize, end: usize, esc: bool, mask: u8) -> bool {
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
                        // A `name` holding a URL, an id or a sentence (a recorded request's `name` is its URL) is
                        // not a person's name: scanned instead.
                        if trimmed.len() > 80 || trimmed.iter().any(|b| b.is_ascii_digit() || b"/:@={}<>?#".contains(b))
                        {
                            let url = crate::detect::Detector::whole_url(trimmed);
                            let ctx = if url { ctx | crate::detect::URL_SITE } else { ctx };
                            return self.process(Treat::SCAN, ctx, start, end, esc, class_mask(trimmed));
                        }
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
                if esc && self.nested < Self::MAX_NESTED && embedded_json(raw) {
                    // A serialized object or array (a custom property, a request body): walked as JSON, so its
                    // keys give context, and serialized back with its tokens.
                    unescape(raw, &mut self.scratch.text, &mut self.scratch.map);
                    let text = std::mem::take(&mut self.scratch.text);
                    let result = self.embedded(&text, treat);
                    self.scratch.text = text;
                    if let Some(changed) = result {
                        return changed;
                    }
                }
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
}

/// Keys that hold the page's own address (`url`, `href`, `referrer`, `page_url`, PostHog's `$current_url`): its
/// host is the site.
fn page_url_key(key: &[u8]) -> bool {
    let mut buf = [0u8; MAX_KEY];
    normalize(key, &mut buf).is_some_and(|k| {
        matches!(
            k,
            b"url" | b"href" | b"referrer" | b"referer" | b"pageurl" | b"currenturl" | b"$currenturl" | b"$referrer"
        )
    })
}

/// Redacts what in an input's raw text (JSON string contents) is becoming a value: runs of 5 or more digits
/// (single spaces, dashes, slashes or parentheses between them, a `+` before) not glued to letters, and words
/// holding an `@` after at least one character. Returns the new text, if anything changed, and the entity the
/// input is becoming (the last one redacted).
fn partial_values(
    raw: &[u8],
    engine: &Engine,
    tokens: &mut dyn Tokens,
    stats: &mut ScrubStats,
) -> (Option<Vec<u8>>, Option<Entity>) {
    let mut out = Vec::new();
    let mut entity = None;
    let mut last = 0;
    let mut i = 0;
    let glued = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    while i < raw.len() {
        let word_start = i == 0 || raw[i - 1].is_ascii_whitespace();
        if word_start && !raw[i].is_ascii_whitespace() {
            // A word with an `@` after its first character: an e-mail address being typed.
            let end = raw[i..].iter().position(u8::is_ascii_whitespace).map_or(raw.len(), |n| i + n);
            let word = &raw[i..end];
            if word.iter().skip(1).any(|&b| b == b'@') && !is_replacement(word) {
                if let Some(rep) = redaction(Entity::Email, engine, word, tokens, stats) {
                    out.extend_from_slice(&raw[last..i]);
                    out.extend_from_slice(rep.as_bytes());
                    last = end;
                    entity = Some(Entity::Email);
                }
                i = end;
                continue;
            }
        }
        if raw[i].is_ascii_digit() || (raw[i] == b'+' && raw.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            if i > 0 && glued(raw[i - 1]) {
                while i < raw.len() && glued(raw[i]) {
                    i += 1;
                }
                continue;
            }
            let mut digits = 0;
            let mut end = i;
            let mut j = i;
            while j < raw.len() {
                let b = raw[j];
                if b.is_ascii_digit() {
                    digits += 1;
                    j += 1;
                    end = j;
                } else if (j == start && b == b'+')
                    || (matches!(b, b' ' | b'-' | b'/' | b'(' | b')')
                        && raw.get(j + 1).is_some_and(|&n| n.is_ascii_digit() || n == b'('))
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if digits >= 5 && !raw.get(end).is_some_and(|&b| glued(b)) {
                let kind = if raw[start] == b'+' || raw[start] == b'0' {
                    Entity::Phone
                } else if digits >= 12 {
                    Entity::Card
                } else {
                    Entity::Account
                };
                if let Some(rep) = redaction(kind, engine, &raw[start..end], tokens, stats) {
                    out.extend_from_slice(&raw[last..start]);
                    out.extend_from_slice(rep.as_bytes());
                    last = end;
                    entity = Some(kind);
                }
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    if last == 0 {
        return (None, entity);
    }
    out.extend_from_slice(&raw[last..]);
    (Some(out), entity)
}

/// `[redacted:<entity>]`, unless the policy lets the entity through.
fn redaction(
    entity: Entity,
    engine: &Engine,
    original: &[u8],
    tokens: &mut dyn Tokens,
    stats: &mut ScrubStats,
) -> Option<String> {
    if engine.action(entity) == Action::Allow {
        return None;
    }
    let found = Found { entity, start: 0, end: original.len(), confidence: 1.0, action: None };
    engine.replace(&found, Some(Action::Redact), &String::from_utf8_lossy(original), tokens, stats)
}

/// Replaces `out[at..at + len]` with `with`, moving what follows once.
pub(super) fn replace_range(out: &mut Vec<u8>, at: usize, len: usize, with: &[u8]) {
    let tail = at + len..out.len();
    let end = at + with.len() + tail.len();
    if end > out.len() {
        out.resize(end, 0);
    }
    out.copy_within(tail, at + with.len());
    out[at..at + with.len()].copy_from_slice(with);
    out.truncate(end);
}

/// Whether a string's text is worth parsing as JSON: an object or array, at most 1 MiB.
fn embedded_json(text: &[u8]) -> bool {
    let t = text.trim_ascii();
    t.len() >= 2 && t.len() <= 1 << 20 && matches!((t[0], t[t.len() - 1]), (b'{', b'}') | (b'[', b']'))
}
