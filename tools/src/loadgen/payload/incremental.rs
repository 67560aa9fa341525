//! Incremental rrweb events: mouse moves, scrolls, inputs into the page's fields, mutations.

use super::*;

/// Falls back to the document node (always id 1) so a page without such nodes still yields valid events.
pub(super) fn pick_id(rng: &mut Rng, ids: &[u64]) -> u64 {
    rng.choice(ids.iter().copied()).unwrap_or(1)
}

/// rrweb batches pointer positions and reports each one's offset (negative, in ms) from the event timestamp.
pub(super) fn mouse_move(rng: &mut Rng, page: &Page) -> Value {
    let count = rng.usize(3..=12);
    let step = rng.i64(16..80);
    let (mut x, mut y) = (rng.i32(0..1400), rng.i32(0..900));
    let mut positions = Vec::with_capacity(count);
    for i in 0..count {
        x = (x + rng.i32(-60..=60)).clamp(0, 1919);
        y = (y + rng.i32(-40..=40)).clamp(0, 1079);
        let time_offset = -step * (count - 1 - i) as i64;
        positions.push(json!({"x": x, "y": y, "id": pick_id(rng, &page.container_ids), "timeOffset": time_offset}));
    }
    object([("source", 1.into()), ("positions", Value::Array(positions))])
}

/// MouseInteraction types, weighted toward what real sessions are full of: clicks, focus and blur.
pub(super) const INTERACTIONS: [u8; 14] = [0, 1, 2, 0, 1, 2, 2, 5, 6, 5, 6, 3, 4, 9];

pub(super) fn mouse_interaction(rng: &mut Rng, page: &Page) -> Value {
    let kind = pick(rng, &INTERACTIONS);
    let id = if rng.bool() { pick_id(rng, &page.input_ids) } else { pick_id(rng, &page.container_ids) };
    json!({"source": 2, "type": kind, "id": id, "x": rng.u32(0..1920), "y": rng.u32(0..1080)})
}

pub(super) fn scroll(rng: &mut Rng, page: &Page) -> Value {
    // Most scrolling is the window itself, which rrweb reports against the document node.
    let id = if rng.u8(0..4) == 0 { pick_id(rng, &page.container_ids) } else { 1 };
    json!({"source": 3, "id": id, "x": 0, "y": rng.u32(0..9000)})
}

pub(super) fn viewport_resize(rng: &mut Rng) -> Value {
    json!({"source": 4, "width": rng.u32(360..1920), "height": rng.u32(640..1080)})
}

/// A focus followed by one Input event per keystroke burst. rrweb reports the whole current value each time, so
/// prefixes of the PII show up before the complete value. Emits at most `budget` events.
pub(super) fn typing(rng: &mut Rng, page: &Page, p: &Person, t: &mut u64, budget: usize, out: &mut Vec<Value>) {
    let Some(id) = rng.choice(page.input_ids.iter().copied()) else {
        out.push(incremental(mouse_move(rng, page), *t));
        return;
    };
    let (_, value) = typed_pii(rng, p);
    let len = value.chars().count();
    let focus = budget > 1;
    let strokes = rng.usize(1..=5).min(budget - usize::from(focus));
    if focus {
        out.push(incremental(json!({"source": 2, "type": 5, "id": id, "x": 0, "y": 0}), *t));
    }
    for stroke in 1..=strokes {
        *t += rng.u64(60..260);
        let typed: String = value.chars().take(len * stroke / strokes).collect();
        out.push(incremental(
            json!({"source": 5, "text": typed, "isChecked": false, "userTriggered": true, "id": id}),
            *t,
        ));
    }
}

/// A Mutation event. `toasts` holds (parent, id) of transient nodes added earlier in the batch, so they can be
/// removed again the way notifications disappear.
pub(super) fn mutation(rng: &mut Rng, page: &mut Page, p: &Person, toasts: &mut Vec<(u64, u64)>) -> Value {
    let mut texts = Vec::new();
    let mut attributes = Vec::new();
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    match rng.u8(0..4) {
        0 => {
            for _ in 0..rng.usize(1..=3) {
                if let Some(id) = rng.choice(page.text_ids.iter().copied()) {
                    texts.push(json!({"id": id, "value": pii_sentence(rng, p)}));
                }
            }
        }
        1 => {
            for _ in 0..rng.usize(1..=3) {
                attributes.push(attribute_change(rng, page, p));
            }
        }
        2 => {
            let parent = pick_id(rng, &page.container_ids);
            let node = added_content(rng, p);
            add_subtree(node, parent, page, true, &mut adds);
        }
        _ => {}
    }
    if !toasts.is_empty() && rng.bool() {
        let (parent_id, id) = toasts.swap_remove(0);
        removes.push(json!({"parentId": parent_id, "id": id}));
    }
    if texts.is_empty() && attributes.is_empty() && adds.is_empty() && removes.is_empty() {
        let parent = pick_id(rng, &page.container_ids);
        let node = toast(rng, p);
        // Toasts are not recorded in `page`: they are removed again, and later events must not target them.
        toasts.push((parent, page.next_id));
        add_subtree(node, parent, page, false, &mut adds);
    }
    object([
        ("source", 0.into()),
        ("texts", Value::Array(texts)),
        ("attributes", Value::Array(attributes)),
        ("removes", Value::Array(removes)),
        ("adds", Value::Array(adds)),
    ])
}

pub(super) fn attribute_change(rng: &mut Rng, page: &Page, p: &Person) -> Value {
    let (id, attributes) = match rng.u8(0..5) {
        0 => (pick_id(rng, &page.input_ids), json!({"class": "form-control is-invalid", "aria-invalid": "true"})),
        1 => (pick_id(rng, &page.input_ids), json!({"value": typed_pii(rng, p).1})),
        2 => {
            let style = format!("transform: translateY({}px); opacity: 0.{};", rng.u16(0..400), rng.u8(1..10));
            (pick_id(rng, &page.container_ids), json!({ "style": style }))
        }
        3 => {
            let updated = 1_700_000_000_000 + rng.u64(..40_000_000_000);
            let attributes = json!({"data-customer-email": p.email, "data-updated-at": updated.to_string()});
            (pick_id(rng, &page.container_ids), attributes)
        }
        // A null value is how rrweb reports a removed attribute.
        _ => {
            let attributes = json!({"class": "panel is-expanded", "aria-expanded": "true", "hidden": null});
            (pick_id(rng, &page.container_ids), attributes)
        }
    };
    object([("id", id.into()), ("attributes", attributes)])
}

/// Something the app renders after load that stays: an extra field, a validation message or a list item.
pub(super) fn added_content(rng: &mut Rng, p: &Person) -> Value {
    match rng.u8(0..3) {
        0 => {
            let form = format!("dyn-{}", hex(rng, 6));
            let (name, value) = typed_pii(rng, p);
            field_group(&form, spec(name, "Additional detail", "text", "off"), value, String::new())
        }
        1 => text_el("div", json!({"class": "invalid-feedback d-block", "role": "alert"}), pii_sentence(rng, p)),
        _ => text_el("li", json!({"class": "list-group-item", "data-id": uuid(rng)}), pii_sentence(rng, p)),
    }
}

pub(super) fn toast(rng: &mut Rng, p: &Person) -> Value {
    el(
        "div",
        json!({"class": "toast show", "role": "alert", "aria-live": "assertive", "data-toast-id": uuid(rng)}),
        vec![
            text_el(
                "strong",
                json!({"class": "toast-title"}),
                pick(rng, &["Saved", "OTP sent", "Payment received", "Verified"]),
            ),
            text_el("span", json!({"class": "toast-body"}), pii_sentence(rng, p)),
            text_el("button", json!({"type": "button", "class": "btn-close", "aria-label": "Close"}), "×"),
        ],
    )
}

/// Numbers a new subtree from `page.next_id` and appends it to `adds` as rrweb does: one entry per node, each
/// serialized without children and pointing at its parent.
pub(super) fn add_subtree(mut node: Value, parent: u64, page: &mut Page, track: bool, adds: &mut Vec<Value>) {
    assign_ids(&mut node, Role::Container, page, track);
    flatten_adds(node, parent, None, adds);
}

pub(super) fn flatten_adds(node: Value, parent_id: u64, next_id: Option<u64>, adds: &mut Vec<Value>) {
    let Value::Object(mut fields) = node else { return };
    let id = fields.get("id").and_then(Value::as_u64).unwrap_or_default();
    let children = match fields.get_mut("childNodes") {
        Some(Value::Array(children)) => std::mem::take(children),
        _ => Vec::new(),
    };
    let next = next_id.map_or(Value::Null, Value::from);
    adds.push(object([("parentId", parent_id.into()), ("nextId", next), ("node", Value::Object(fields))]));
    let sibling_ids: Vec<Option<u64>> = children.iter().map(|child| child.get("id").and_then(Value::as_u64)).collect();
    for (i, child) in children.into_iter().enumerate() {
        flatten_adds(child, id, sibling_ids.get(i + 1).copied().flatten(), adds);
    }
}

pub(super) fn custom_replay_event(rng: &mut Rng, p: &Person, ts: u64) -> Value {
    let payload = json!({
        "step": pick(rng, &["details", "kyc", "payment", "address"]),
        "customer_email": p.email,
        "order_id": order_id(rng),
        "amount": money_value(rng),
        "experiment": uuid(rng),
    });
    let tag = pick(rng, &["checkout-step", "kyc-status", "feature-flag"]);
    replay_event(5, object([("tag", tag.into()), ("payload", payload)]), ts)
}
