//! Known JSON keys of the batch contract and rrweb, packed with their length into one `u128` so that a key is
//! identified by a single integer `match` (a few comparisons) rather than a chain of string comparisons.

/// Keys the walker knows, identified with one packed comparison instead of a chain of string compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    SessionId,
    VisitorId,
    Seq,
    SentAt,
    Context,
    Events,
    Replay,
    UserAgent,
    Screen,
    Sdk,
    Name,
    Event,
    Value,
    Type,
    Field,
    Target,
    Selector,
    Input,
    Element,
    Label,
    Autocomplete,
    InputType,
    InputTypeSnake,
    FieldName,
    FieldNameSnake,
    InputName,
    Data,
    Timestamp,
    Delay,
    Node,
    Id,
    Href,
    Payload,
    Texts,
    Attributes,
    Adds,
    Text,
    Source,
    X,
    Y,
    Width,
    Height,
    InitialOffset,
    Positions,
    Removes,
    IsChecked,
    UserTriggered,
    PointerType,
    TimeOffset,
    Speed,
    StyleId,
    Tag,
    Plugin,
    Rule,
    Set,
    Remove,
    Styles,
    Replace,
    ReplaceSync,
    Commands,
    Args,
    FontSource,
    Family,
    Descriptors,
    StyleIds,
    Index,
    IsAttachIframe,
    Trace,
    Level,
    Volume,
    Muted,
    Loop,
    PlaybackRate,
    CurrentTime,
    TagName,
    ChildNodes,
    TextContent,
    IsStyle,
    Placeholder,
    Title,
    Alt,
    AriaLabel,
    AriaValuetext,
    Content,
    Summary,
    Srcdoc,
    Src,
    Action,
    Formaction,
    Poster,
    Cite,
    Srcset,
    Background,
    Ping,
    XlinkHref,
    ParentId,
    /// `aria-description` (too long to pack).
    AriaDescription,
    /// `adoptedStyleSheets` (too long to pack).
    AdoptedStyleSheets,
    Other,
}

/// Bytes of a key of at most 15 bytes, little-endian, with the length in the top byte.
const fn pack(key: &[u8]) -> u128 {
    let mut v = (key.len() as u128) << 120;
    let mut i = 0;
    while i < key.len() {
        v |= (key[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

const K_SESSION_ID: u128 = pack(b"session_id");
const K_VISITOR_ID: u128 = pack(b"visitor_id");
const K_SEQ: u128 = pack(b"seq");
const K_SENT_AT: u128 = pack(b"sent_at");
const K_CONTEXT: u128 = pack(b"context");
const K_EVENTS: u128 = pack(b"events");
const K_REPLAY: u128 = pack(b"replay");
const K_USER_AGENT: u128 = pack(b"user_agent");
const K_SCREEN: u128 = pack(b"screen");
const K_SDK: u128 = pack(b"sdk");
const K_NAME: u128 = pack(b"name");
const K_EVENT: u128 = pack(b"event");
const K_VALUE: u128 = pack(b"value");
pub(crate) const K_TYPE: u128 = pack(b"type");
const K_FIELD: u128 = pack(b"field");
const K_TARGET: u128 = pack(b"target");
const K_SELECTOR: u128 = pack(b"selector");
const K_INPUT: u128 = pack(b"input");
const K_ELEMENT: u128 = pack(b"element");
const K_LABEL: u128 = pack(b"label");
const K_AUTOCOMPLETE: u128 = pack(b"autocomplete");
const K_INPUT_TYPE: u128 = pack(b"inputType");
const K_INPUT_TYPE_SNAKE: u128 = pack(b"input_type");
const K_FIELD_NAME: u128 = pack(b"fieldName");
const K_FIELD_NAME_SNAKE: u128 = pack(b"field_name");
const K_INPUT_NAME: u128 = pack(b"inputName");
const K_DATA: u128 = pack(b"data");
const K_TIMESTAMP: u128 = pack(b"timestamp");
const K_DELAY: u128 = pack(b"delay");
const K_NODE: u128 = pack(b"node");
pub(crate) const K_ID: u128 = pack(b"id");
const K_HREF: u128 = pack(b"href");
const K_PAYLOAD: u128 = pack(b"payload");
const K_TEXTS: u128 = pack(b"texts");
pub(crate) const K_ATTRIBUTES: u128 = pack(b"attributes");
const K_ADDS: u128 = pack(b"adds");
const K_TEXT: u128 = pack(b"text");
const K_SOURCE: u128 = pack(b"source");
const K_X: u128 = pack(b"x");
const K_Y: u128 = pack(b"y");
const K_WIDTH: u128 = pack(b"width");
const K_HEIGHT: u128 = pack(b"height");
const K_INITIAL_OFFSET: u128 = pack(b"initialOffset");
const K_POSITIONS: u128 = pack(b"positions");
const K_REMOVES: u128 = pack(b"removes");
const K_IS_CHECKED: u128 = pack(b"isChecked");
const K_USER_TRIGGERED: u128 = pack(b"userTriggered");
const K_POINTER_TYPE: u128 = pack(b"pointerType");
const K_TIME_OFFSET: u128 = pack(b"timeOffset");
const K_SPEED: u128 = pack(b"speed");
const K_STYLE_ID: u128 = pack(b"styleId");
const K_TAG: u128 = pack(b"tag");
const K_PLUGIN: u128 = pack(b"plugin");
const K_RULE: u128 = pack(b"rule");
const K_SET: u128 = pack(b"set");
const K_REMOVE: u128 = pack(b"remove");
const K_STYLES: u128 = pack(b"styles");
const K_REPLACE: u128 = pack(b"replace");
const K_REPLACE_SYNC: u128 = pack(b"replaceSync");
const K_COMMANDS: u128 = pack(b"commands");
const K_ARGS: u128 = pack(b"args");
const K_FONT_SOURCE: u128 = pack(b"fontSource");
const K_FAMILY: u128 = pack(b"family");
const K_DESCRIPTORS: u128 = pack(b"descriptors");
const K_STYLE_IDS: u128 = pack(b"styleIds");
const K_INDEX: u128 = pack(b"index");
const K_IS_ATTACH_IFRAME: u128 = pack(b"isAttachIframe");
const K_TRACE: u128 = pack(b"trace");
const K_LEVEL: u128 = pack(b"level");
const K_VOLUME: u128 = pack(b"volume");
const K_MUTED: u128 = pack(b"muted");
const K_LOOP: u128 = pack(b"loop");
const K_PLAYBACK_RATE: u128 = pack(b"playbackRate");
const K_CURRENT_TIME: u128 = pack(b"currentTime");
pub(crate) const K_TAG_NAME: u128 = pack(b"tagName");
pub(crate) const K_CHILD_NODES: u128 = pack(b"childNodes");
pub(crate) const K_TEXT_CONTENT: u128 = pack(b"textContent");
pub(crate) const K_IS_STYLE: u128 = pack(b"isStyle");
const K_PLACEHOLDER: u128 = pack(b"placeholder");
const K_TITLE: u128 = pack(b"title");
const K_ALT: u128 = pack(b"alt");
const K_ARIA_LABEL: u128 = pack(b"aria-label");
const K_ARIA_VALUETEXT: u128 = pack(b"aria-valuetext");
const K_CONTENT: u128 = pack(b"content");
const K_SUMMARY: u128 = pack(b"summary");
const K_SRCDOC: u128 = pack(b"srcdoc");
const K_SRC: u128 = pack(b"src");
const K_ACTION: u128 = pack(b"action");
const K_FORMACTION: u128 = pack(b"formaction");
const K_POSTER: u128 = pack(b"poster");
const K_CITE: u128 = pack(b"cite");
const K_SRCSET: u128 = pack(b"srcset");
const K_BACKGROUND: u128 = pack(b"background");
const K_PING: u128 = pack(b"ping");
const K_XLINK_HREF: u128 = pack(b"xlink:href");
const K_PARENT_ID: u128 = pack(b"parentId");

/// Identifies the key `text[start..end]`. Reads 16 bytes at once when the text has them (a key is followed by
/// at least its closing quote and a colon), so identifying a key costs one load, a mask and a `match`.
#[inline]
pub(crate) fn key_in(text: &[u8], start: usize, end: usize) -> Key {
    let len = end - start;
    if len > 15 {
        return match &text[start..end] {
            b"aria-description" => Key::AriaDescription,
            b"adoptedStyleSheets" => Key::AdoptedStyleSheets,
            _ => Key::Other,
        };
    }
    let packed = packed(text, start, end);
    match INDEX[slot(packed)] {
        0 => Key::Other,
        i => {
            let (candidate, key) = KNOWN[usize::from(i) - 1];
            if candidate == packed {
                key
            } else {
                Key::Other
            }
        }
    }
}

/// The key `text[start..end]` packed like the `K_*` constants (0 for keys longer than 15 bytes).
#[inline]
pub(crate) fn packed(text: &[u8], start: usize, end: usize) -> u128 {
    let len = end - start;
    if len > 15 {
        return 0;
    }
    let word = match text.get(start..start + 16).and_then(|w| <[u8; 16]>::try_from(w).ok()) {
        Some(w) => u128::from_le_bytes(w),
        None => {
            let mut w = [0u8; 16];
            w[..len].copy_from_slice(&text[start..end]);
            u128::from_le_bytes(w)
        }
    };
    (word & ((1u128 << (8 * len)) - 1)) | ((len as u128) << 120)
}

/// Perfect hash of the packed known keys into 2048 slots (multiplier found by search; a unit test checks it).
#[inline]
fn slot(packed: u128) -> usize {
    let (lo, hi) = (packed as u64, (packed >> 64) as u64);
    ((lo ^ hi.rotate_left(29)).wrapping_mul(0x7ce42c8218072e8d) >> 53) as usize
}

/// Known keys, packed.
static KNOWN: [(u128, Key); 96] = [
    (K_SESSION_ID, Key::SessionId),
    (K_VISITOR_ID, Key::VisitorId),
    (K_SEQ, Key::Seq),
    (K_SENT_AT, Key::SentAt),
    (K_CONTEXT, Key::Context),
    (K_EVENTS, Key::Events),
    (K_REPLAY, Key::Replay),
    (K_USER_AGENT, Key::UserAgent),
    (K_SCREEN, Key::Screen),
    (K_SDK, Key::Sdk),
    (K_NAME, Key::Name),
    (K_EVENT, Key::Event),
    (K_VALUE, Key::Value),
    (K_TYPE, Key::Type),
    (K_FIELD, Key::Field),
    (K_TARGET, Key::Target),
    (K_SELECTOR, Key::Selector),
    (K_INPUT, Key::Input),
    (K_ELEMENT, Key::Element),
    (K_LABEL, Key::Label),
    (K_AUTOCOMPLETE, Key::Autocomplete),
    (K_INPUT_TYPE, Key::InputType),
    (K_INPUT_TYPE_SNAKE, Key::InputTypeSnake),
    (K_FIELD_NAME, Key::FieldName),
    (K_FIELD_NAME_SNAKE, Key::FieldNameSnake),
    (K_INPUT_NAME, Key::InputName),
    (K_DATA, Key::Data),
    (K_TIMESTAMP, Key::Timestamp),
    (K_DELAY, Key::Delay),
    (K_NODE, Key::Node),
    (K_ID, Key::Id),
    (K_HREF, Key::Href),
    (K_PAYLOAD, Key::Payload),
    (K_TEXTS, Key::Texts),
    (K_ATTRIBUTES, Key::Attributes),
    (K_ADDS, Key::Adds),
    (K_TEXT, Key::Text),
    (K_SOURCE, Key::Source),
    (K_X, Key::X),
    (K_Y, Key::Y),
    (K_WIDTH, Key::Width),
    (K_HEIGHT, Key::Height),
    (K_INITIAL_OFFSET, Key::InitialOffset),
    (K_POSITIONS, Key::Positions),
    (K_REMOVES, Key::Removes),
    (K_IS_CHECKED, Key::IsChecked),
    (K_USER_TRIGGERED, Key::UserTriggered),
    (K_POINTER_TYPE, Key::PointerType),
    (K_TIME_OFFSET, Key::TimeOffset),
    (K_SPEED, Key::Speed),
    (K_STYLE_ID, Key::StyleId),
    (K_TAG, Key::Tag),
    (K_PLUGIN, Key::Plugin),
    (K_RULE, Key::Rule),
    (K_SET, Key::Set),
    (K_REMOVE, Key::Remove),
    (K_STYLES, Key::Styles),
    (K_REPLACE, Key::Replace),
    (K_REPLACE_SYNC, Key::ReplaceSync),
    (K_COMMANDS, Key::Commands),
    (K_ARGS, Key::Args),
    (K_FONT_SOURCE, Key::FontSource),
    (K_FAMILY, Key::Family),
    (K_DESCRIPTORS, Key::Descriptors),
    (K_STYLE_IDS, Key::StyleIds),
    (K_INDEX, Key::Index),
    (K_IS_ATTACH_IFRAME, Key::IsAttachIframe),
    (K_TRACE, Key::Trace),
    (K_LEVEL, Key::Level),
    (K_VOLUME, Key::Volume),
    (K_MUTED, Key::Muted),
    (K_LOOP, Key::Loop),
    (K_PLAYBACK_RATE, Key::PlaybackRate),
    (K_CURRENT_TIME, Key::CurrentTime),
    (K_TAG_NAME, Key::TagName),
    (K_CHILD_NODES, Key::ChildNodes),
    (K_TEXT_CONTENT, Key::TextContent),
    (K_IS_STYLE, Key::IsStyle),
    (K_PLACEHOLDER, Key::Placeholder),
    (K_TITLE, Key::Title),
    (K_ALT, Key::Alt),
    (K_ARIA_LABEL, Key::AriaLabel),
    (K_ARIA_VALUETEXT, Key::AriaValuetext),
    (K_CONTENT, Key::Content),
    (K_SUMMARY, Key::Summary),
    (K_SRCDOC, Key::Srcdoc),
    (K_SRC, Key::Src),
    (K_ACTION, Key::Action),
    (K_FORMACTION, Key::Formaction),
    (K_POSTER, Key::Poster),
    (K_CITE, Key::Cite),
    (K_SRCSET, Key::Srcset),
    (K_BACKGROUND, Key::Background),
    (K_PING, Key::Ping),
    (K_XLINK_HREF, Key::XlinkHref),
    (K_PARENT_ID, Key::ParentId),
];

/// Slot → 1 + position in `KNOWN`, or 0.
static INDEX: [u8; 2048] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 95, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 71, 0, 0, 0, 0, 56, 0, 0, 0, 0, 0, 0, 0, 26, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81, 0, 46, 0, 0, 0, 0, 0, 0, 0, 86, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 82, 0, 0, 0, 0, 0, 0, 0, 3, 59, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0,
    0, 72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 39, 0, 76, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 0, 62, 0, 0, 0, 0, 0, 0, 24, 0, 0,
    10, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0,
    0, 0, 0, 0, 0, 63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 74, 0, 0, 0, 0, 0,
    0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 92, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 87, 0, 0, 0, 0, 0, 0, 44, 0, 0,
    0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 52, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 69, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 67, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 41, 0, 0, 0, 0, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 31, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 84, 0, 0, 0, 0, 0, 0, 0, 0, 61,
    36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 68, 0, 0, 0, 0, 78, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 38, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 35, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 37, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 75, 0, 0, 0, 0, 0, 0, 0, 0, 89, 0, 51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 49, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 43, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 58, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    5, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 93, 0, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 73, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 79, 0, 0, 0, 0, 0, 0, 29, 0, 0, 0, 70, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 66, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 94, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    27, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 65, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Identifies a key.
pub(crate) fn key(k: &[u8]) -> Key {
    key_in(k, 0, k.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_identified_exactly() {
        assert_eq!(key(b"type"), Key::Type);
        assert_eq!(key(b"childNodes"), Key::ChildNodes);
        assert_eq!(key(b"aria-label"), Key::AriaLabel);
        assert_eq!(key(b"input_type"), Key::InputTypeSnake);
        assert_eq!(key(b"aria-description"), Key::AriaDescription);
        assert_eq!(key(b"typ"), Key::Other);
        assert_eq!(key(b"types"), Key::Other);
        assert_eq!(key(b"id\0"), Key::Other);
        assert_eq!(key(b""), Key::Other);
    }

    #[test]
    fn every_known_key_has_its_own_slot() {
        for (i, &(packed, key)) in KNOWN.iter().enumerate() {
            assert_eq!(usize::from(INDEX[slot(packed)]), i + 1, "{key:?}");
        }
    }
}
