//! rrweb-snapshot's serialized nodes: elements, texts, styles and comments, and rrweb's numbering of them.

use super::*;

/// What a node is good for as the target of later incremental events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Input,
    Container,
    Script,
    Other,
}

impl Role {
    pub(super) fn of_tag(tag: &str) -> Role {
        match tag {
            "input" | "textarea" | "select" => Role::Input,
            "div" | "form" | "section" | "main" | "nav" | "header" | "footer" | "fieldset" | "ul" | "ol" | "tbody" => {
                Role::Container
            }
            "script" => Role::Script,
            _ => Role::Other,
        }
    }
}

/// Numbers nodes in document order (parent before children), as rrweb does, and records the ids later
/// incremental events may target when `track` is set. Trees are built without ids and numbered afterwards so
/// builders need not thread a counter through every call.
pub(super) fn assign_ids(node: &mut Value, parent: Role, page: &mut Page, track: bool) {
    let id = page.next_id;
    page.next_id += 1;
    let Some(fields) = node.as_object_mut() else { return };
    fields.insert("id".to_owned(), id.into());
    let role = match fields.get("type").and_then(Value::as_u64) {
        Some(2) => Role::of_tag(fields.get("tagName").and_then(Value::as_str).unwrap_or_default()),
        _ => Role::Other,
    };
    let is_text = fields.get("type").and_then(Value::as_u64) == Some(3);
    if track {
        match role {
            Role::Input => page.input_ids.push(id),
            Role::Container => page.container_ids.push(id),
            // Style and script text is not what a user sees change, so mutations leave it alone.
            _ if is_text && parent != Role::Script && !fields.contains_key("isStyle") => page.text_ids.push(id),
            _ => {}
        }
    }
    if let Some(Value::Array(children)) = fields.get_mut("childNodes") {
        for child in children {
            assign_ids(child, role, page, track);
        }
    }
}

pub(super) fn el(tag: &str, attributes: Value, child_nodes: Vec<Value>) -> Value {
    object([
        ("type", 2.into()),
        ("tagName", tag.into()),
        ("attributes", attributes),
        ("childNodes", Value::Array(child_nodes)),
    ])
}

pub(super) fn void_el(tag: &str, attributes: Value) -> Value {
    el(tag, attributes, Vec::new())
}

pub(super) fn text_el(tag: &str, attributes: Value, content: impl Into<String>) -> Value {
    el(tag, attributes, vec![text(content)])
}

pub(super) fn svg_el(tag: &str, attributes: Value, child_nodes: Vec<Value>) -> Value {
    let mut node = el(tag, attributes, child_nodes);
    set_field(&mut node, "isSVG", true.into());
    node
}

/// Inserts a key into an object built with `json!` (a no-op on anything else, which never happens here).
pub(super) fn set_field(object: &mut Value, key: &str, value: Value) {
    if let Some(fields) = object.as_object_mut() {
        fields.insert(key.to_owned(), value);
    }
}

pub(super) fn text(content: impl Into<String>) -> Value {
    object([("type", 3.into()), ("textContent", Value::String(content.into()))])
}

pub(super) fn style_text(css: String) -> Value {
    object([("type", 3.into()), ("textContent", Value::String(css)), ("isStyle", true.into())])
}

pub(super) fn comment(content: &str) -> Value {
    object([("type", 5.into()), ("textContent", content.into())])
}
