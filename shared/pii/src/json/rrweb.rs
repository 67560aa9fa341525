//! rrweb's snapshot format: nodes, their child nodes and attributes, which attributes are read by people (and
//! scanned) and which are markup (copied), and the node ids a batch's snapshot tells about for its mutations.

use super::*;

/// Node ids learnt from snapshots in this batch, for mutations that refer to them. They are not carried to
/// later batches: a snapshot that never arrived (refused, sampled out) would leave them naming other nodes, and
/// text wrongly taken for CSS would not be scanned.
#[derive(Default)]
pub(super) struct NodeSets {
    pub(super) css_elements: HashSet<u64>,
    pub(super) css_texts: HashSet<u64>,
}

impl NodeSets {
    /// Forgets every id; sets that grew past [`Scratch::KEEP_BYTES`] are let go.
    pub(super) fn clear(&mut self) {
        for set in [&mut self.css_elements, &mut self.css_texts] {
            if set.capacity() * std::mem::size_of::<u64>() > Scratch::KEEP_BYTES {
                *set = HashSet::new();
            }
            set.clear();
        }
    }
}

impl Walker<'_> {
    /// A serialized rrweb node, the bulk of a full snapshot: read with direct key matches instead of the
    /// generic role dispatch. Same decisions as `classify` for `Role::Node`.
    pub(super) fn node(&mut self, css: bool, depth: u32) -> Result<()> {
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
                    let (hint, ref_hash) = self.attrs(form, facts.label_tag || !facts.tag_seen, depth + 1)?;
                    facts.hint = hint.or(facts.hint);
                    facts.ref_hash = ref_hash;
                }
                keys::K_CHILD_NODES if self.peek()? == b'[' && facts.label_tag => {
                    // A label's text says what its input holds, for an input inside it and for its `for` input.
                    let outer = self.scratch.label.replace(None);
                    self.child_nodes(false, depth + 1)?;
                    facts.hint = std::mem::replace(&mut self.scratch.label, outer).flatten();
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
        self.labels(&mut facts, base);
        self.close(Role::Node { css }, &facts, base);
        Ok(())
    }

    /// Pairs labels with their inputs: a text node inside a `<label>` gives the label its hint (the first text
    /// that says something); a form element without a hint of its own takes the hint of the label around it, or
    /// of a `<label for>` naming its `id`, in this batch or an earlier one of the session.
    fn labels(&mut self, facts: &mut Facts, base: usize) {
        if facts.label_tag {
            if let (Some(hint), Some(for_hash)) = (facts.hint, facts.ref_hash) {
                self.session.labelled(for_hash, hint);
            }
            // The label's own hint is for its input, not for the label element.
            facts.hint = None;
            return;
        }
        if facts.node_type == Some(3) {
            if let Some(None) = self.scratch.label {
                let text = self.scratch.pending[base..].iter().find(|p| p.kind == Defer::TextContent);
                if let Some(p) = text {
                    self.scratch.label = Some(self.engine.fields.hint_phrase(&self.src[p.start..p.end]));
                }
            }
            return;
        }
        if facts.form_tag && facts.hint.is_none() {
            facts.hint = self.scratch.label.flatten();
            if facts.hint.is_none() {
                if let Some(id_hash) = facts.ref_hash {
                    facts.hint = self.session.label_of(id_hash, facts.id);
                }
            }
        }
    }

    pub(super) fn child_nodes(&mut self, css: bool, depth: u32) -> Result<()> {
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

    /// An element's attributes; deferred values are left for the element to decide. Returns the hint found and
    /// the hash of the element's `id` (form elements) or `for` (labels).
    pub(super) fn attrs(&mut self, form: bool, label: bool, depth: u32) -> Result<(Option<Treat>, Option<u64>)> {
        self.enter(depth)?;
        self.pos += 1;
        let mut facts = Facts::default();
        if self.empty(b'}')? {
            return Ok((None, None));
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
                // What the page says an input holds: its name, id, autocomplete token, placeholder and ARIA label.
                // A placeholder is example text, never the user's, so it is not scanned.
                Key::Name | Key::Id | Key::Autocomplete if form => {
                    let v = self.value(Slot::Capture, depth + 1)?;
                    if let (Key::Id, Scalar::Str { start, end }) = (k, &v) {
                        facts.ref_hash = Some(ref_hash(&src[*start..*end]));
                    }
                    self.note(Note::HintName, &v, &mut facts);
                }
                Key::Other if label && (if kesc { &self.scratch.key[..] } else { &src[ks..ke] }) == b"for" => {
                    if let Scalar::Str { start, end } = self.value(Slot::Capture, depth + 1)? {
                        facts.ref_hash = Some(ref_hash(&src[start..end]));
                    }
                }
                Key::Placeholder | Key::AriaLabel if form => {
                    let v = self.value(Slot::Capture, depth + 1)?;
                    self.note(Note::HintLabel, &v, &mut facts);
                }
                Key::Placeholder => self.skip_value(depth + 1)?,
                // In a URL attribute the host is the site the page loads from, not a person: an IP host stays.
                _ if url_attribute(k) => {
                    self.value(Slot::Text(Treat::SCAN, crate::detect::URL_SITE), depth + 1)?;
                }
                _ if scanned_attribute(k, data) => {
                    self.value(Slot::Text(Treat::SCAN, 0), depth + 1)?;
                }
                _ => self.skip_value(depth + 1)?,
            }
            if !self.more(b'}')? {
                return Ok((facts.hint, facts.ref_hash));
            }
        }
    }
}

/// Attributes whose values people read or that carry URLs: scanned as free text. Everything else (class, style,
/// ids, sizes, SVG geometry, event handlers) is copied as it is.
pub(super) fn scanned_attribute(k: Key, data_attribute: bool) -> bool {
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
            | Key::Data
    ) || url_attribute(k)
        || (k == Key::Other && data_attribute)
}

/// Attributes holding URLs the page loads or links to.
pub(super) fn url_attribute(k: Key) -> bool {
    matches!(
        k,
        Key::Href
            | Key::Src
            | Key::Action
            | Key::Formaction
            | Key::Poster
            | Key::Cite
            | Key::Srcset
            | Key::Background
            | Key::Ping
            | Key::XlinkHref
    )
}

/// `data:…;base64,…` payloads (images, fonts) are never scanned.
pub(super) fn base64_data_uri(text: &[u8]) -> bool {
    text.len() > 5
        && text[..5].eq_ignore_ascii_case(b"data:")
        && find(&text[..text.len().min(128)], b";base64,").is_some()
}
