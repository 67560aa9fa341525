//! Behaviour of `Engine::scrub_json` and friends: rrweb recordings stay replayable, CSS and script stay intact,
//! escapes, field rules, actions, configuration errors, idempotence.

mod support;

use serde_json::{json, Value};
use support::{BatchBuilder, TestTokens};
use traceflow_pii::{
    mask, Action, ConfigErrorKind, CustomPattern, Dictionary, Engine, Entity, FieldRule, PiiConfig, ReplayNodes,
    ScrubError,
};

fn scrub(engine: &Engine, value: &Value) -> (Value, String) {
    let json = serde_json::to_vec(value).unwrap();
    let mut out = Vec::new();
    engine.scrub_json(&json, &mut TestTokens::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    (serde_json::from_str(&text).expect("scrubbed output is JSON"), text)
}

/// Scrubs one batch of a session whose earlier batches were scrubbed with `session`.
fn scrub_in(engine: &Engine, value: &Value, session: &mut ReplayNodes) -> (Value, String) {
    let json = serde_json::to_vec(value).unwrap();
    let mut out = Vec::new();
    engine.scrub_session_json(&json, session, &mut TestTokens::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    (serde_json::from_str(&text).expect("scrubbed output is JSON"), text)
}

/// Same keys, array lengths, numbers, booleans and nulls; strings may differ.
fn same_shape(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "keys at {path}");
            for (k, v) in x {
                same_shape(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "length at {path}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                same_shape(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::String(_), Value::String(_)) => {}
        (x, y) => assert_eq!(x, y, "value at {path}"),
    }
}

fn strings_under<'v>(v: &'v Value, key: &str, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == key {
                    if let Value::String(s) = x {
                        out.push(s);
                    }
                }
                strings_under(x, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| strings_under(x, key, out)),
        _ => {}
    }
}

#[test]
fn rrweb_batch_keeps_structure_ids_css_and_script() {
    let mut builder = BatchBuilder::new(11, 20);
    let json = builder.batch(120_000, 300, 40);
    let input: Value = serde_json::from_slice(&json).unwrap();
    let engine = Engine::default();
    let mut out = Vec::new();
    let stats = engine.scrub_json(&json, &mut TestTokens::default(), &mut out).unwrap();
    let output: Value = serde_json::from_slice(&out).expect("valid JSON");
    same_shape(&input, &output, "$");

    // CSS and script text are byte-identical, even though they mention password, email and token.
    let mut css_in = Vec::new();
    let mut css_out = Vec::new();
    strings_under(&input, "textContent", &mut css_in);
    strings_under(&output, "textContent", &mut css_out);
    let styled: Vec<(&&str, &&str)> =
        css_in.iter().zip(&css_out).filter(|(a, _)| a.contains("{") || a.contains("function")).collect();
    assert!(styled.len() >= 2);
    for (a, b) in styled {
        assert_eq!(a, b, "CSS or script changed");
    }
    // Every planted value is gone.
    let text = String::from_utf8(out.clone()).unwrap();
    for (entity, value) in &builder.planted {
        assert!(!text.contains(value.as_str()), "{entity:?} {value:?} left in the output");
    }
    assert!(stats.total_replaced() >= builder.planted.len() as u64);
    // Scrubbing the output again changes nothing.
    let mut again = Vec::new();
    engine.scrub_json(&out, &mut TestTokens::default(), &mut again).unwrap();
    assert_eq!(String::from_utf8(again).unwrap(), text);
}

#[test]
fn password_inputs_and_their_input_events_are_tokenized_whole() {
    let batch = json!({"session_id": "s", "seq": 1, "replay": [
        {"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            {"type": 2, "tagName": "input", "id": 5, "childNodes": [],
             "attributes": {"value": "plain words only", "name": "pwd", "type": "password"}},
            {"type": 2, "tagName": "input", "id": 6, "childNodes": [],
             "attributes": {"type": "text", "name": "city", "value": "Pune"}},
            {"type": 2, "tagName": "style", "id": 7, "attributes": {}, "childNodes": [
                {"type": 3, "id": 8, "textContent": "input[type=password]{color:red} .token:hover{x:1}"}]},
            {"type": 3, "id": 9, "textContent": "#email:focus{outline:0}", "isStyle": true}
        ]}}},
        {"type": 3, "timestamp": 2, "data": {"source": 5, "text": "another secret phrase", "isChecked": false, "id": 5}},
        {"type": 3, "timestamp": 3, "data": {"source": 5, "text": "Mumbai", "isChecked": false, "id": 6}},
        {"type": 3, "timestamp": 4, "data": {"source": 0, "texts": [{"id": 8, "value": "a.password{b:c}"}],
            "attributes": [], "removes": [], "adds": [{"parentId": 7, "nextId": null,
            "node": {"type": 3, "id": 10, "textContent": "x@y.com-looking{css:1}"}}]}}
    ]});
    let (out, text) = scrub(&Engine::default(), &batch);
    same_shape(&batch, &out, "$");
    assert!(!text.contains("plain words only") && !text.contains("another secret phrase"), "{text}");
    assert!(text.contains("Pune") && text.contains("Mumbai"));
    assert_eq!(
        out["replay"][0]["data"]["node"]["childNodes"][2]["childNodes"][0]["textContent"],
        batch["replay"][0]["data"]["node"]["childNodes"][2]["childNodes"][0]["textContent"]
    );
    assert!(text.contains("#email:focus{outline:0}"));
    assert!(text.contains("a.password{b:c}"), "mutation of a style text node stays");
    assert!(text.contains("x@y.com-looking{css:1}"), "text added under <style> stays");
    assert_eq!(out["replay"][0]["data"]["node"]["childNodes"][0]["id"], 5);
}

/// A full snapshot of a sign-in form: input 5 is a password field, 6 a city, 7 a `<style>` with text node 8.
fn sign_in_snapshot(timestamp: u64) -> Value {
    json!({"type": 2, "timestamp": timestamp, "data": {"node": {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "tagName": "input", "id": 5, "childNodes": [], "attributes": {"name": "pwd", "type": "password"}},
        {"type": 2, "tagName": "input", "id": 6, "childNodes": [], "attributes": {"type": "text", "name": "city"}},
        {"type": 2, "tagName": "style", "id": 7, "attributes": {}, "childNodes": [
            {"type": 3, "id": 8, "textContent": "a{b:c}"}]}
    ]}}})
}

/// The next page, after a navigation: rrweb numbers its nodes from the start again, so 5 is now a city field,
/// 7 a paragraph and 8 its text.
fn next_page_snapshot(timestamp: u64) -> Value {
    json!({"type": 2, "timestamp": timestamp, "data": {"node": {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "tagName": "input", "id": 5, "childNodes": [], "attributes": {"type": "text", "name": "city"}},
        {"type": 2, "tagName": "p", "id": 7, "attributes": {}, "childNodes": [
            {"type": 3, "id": 8, "textContent": "Welcome"}]}
    ]}}})
}

fn typed(id: u64, text: &str, timestamp: u64) -> Value {
    json!({"type": 3, "timestamp": timestamp, "data": {"source": 5, "text": text, "isChecked": false, "id": id}})
}

/// rrweb names the input of an input event by node id only, and what is typed usually arrives in a later batch
/// than the snapshot that described the input.
#[test]
fn a_password_typed_in_a_later_batch_of_the_session_is_tokenized_whole() {
    let engine = Engine::default();
    let first = json!({"session_id": "s", "seq": 1, "replay": [sign_in_snapshot(1)]});
    let later = json!({"session_id": "s", "seq": 2, "replay": [
        typed(5, "another secret phrase", 2), typed(6, "Mumbai", 3)
    ]});
    let mut session = ReplayNodes::default();
    scrub_in(&engine, &first, &mut session);
    assert!(!session.is_empty(), "the password field is remembered");
    let (out, text) = scrub_in(&engine, &later, &mut session);
    same_shape(&later, &out, "$");
    assert!(!text.contains("another secret phrase"), "{text}");
    assert!(text.contains("Mumbai"), "other inputs are only scanned");
    // The later batch alone says nothing about node 5: its text could only be scanned, and holds no pattern.
    let (_, alone) = scrub(&engine, &later);
    assert!(alone.contains("another secret phrase"));
}

/// After a navigation the same ids name other nodes: nothing the previous page said about them may decide, in
/// the same batch or in later ones. Text wrongly taken for CSS would not be scanned at all.
#[test]
fn a_full_snapshot_forgets_what_the_previous_page_said_about_its_nodes() {
    let engine = Engine::default();
    let email = "ravi.k@example.com";
    let mutation = json!({"type": 3, "timestamp": 4, "data": {"source": 0,
        "texts": [{"id": 8, "value": format!("Mail {email}")}], "attributes": [], "removes": [],
        "adds": [{"parentId": 7, "nextId": null, "node": {"type": 3, "id": 9, "textContent": format!("Call {email}")}}]}});
    let one_batch = json!({"session_id": "s", "seq": 1, "replay": [
        sign_in_snapshot(1), next_page_snapshot(2), typed(5, "Mumbai", 3), mutation.clone()
    ]});
    let (out, text) = scrub(&engine, &one_batch);
    same_shape(&one_batch, &out, "$");
    assert!(!text.contains(email), "{text}");
    assert!(text.contains("Mumbai"), "{text}");

    let mut session = ReplayNodes::default();
    scrub_in(&engine, &json!({"session_id": "s", "seq": 1, "replay": [sign_in_snapshot(1)]}), &mut session);
    scrub_in(&engine, &json!({"session_id": "s", "seq": 2, "replay": [next_page_snapshot(2)]}), &mut session);
    let later = json!({"session_id": "s", "seq": 3, "replay": [typed(5, "Mumbai", 3), mutation]});
    let (_, text) = scrub_in(&engine, &later, &mut session);
    assert!(text.contains("Mumbai") && !text.contains(email), "{text}");
}

/// Two batches of one session scrubbed at once, each with its own copy: merged, a snapshot's view wins over
/// the older one, and otherwise both batches' inputs are kept.
#[test]
fn copies_of_a_session_merge_with_the_newest_snapshot_winning() {
    let engine = Engine::default();
    let password_form = json!({"session_id": "s", "seq": 1, "replay": [sign_in_snapshot(1)]});
    let next_page = json!({"session_id": "s", "seq": 2, "replay": [next_page_snapshot(2)]});
    let added_input = json!({"session_id": "s", "seq": 2, "replay": [{"type": 3, "timestamp": 2, "data": {
        "source": 0, "texts": [], "attributes": [], "removes": [], "adds": [{"parentId": 1, "nextId": null,
        "node": {"type": 2, "tagName": "input", "id": 20, "childNodes": [],
                 "attributes": {"type": "password", "name": "otp"}}}]}}]});
    let later =
        json!({"session_id": "s", "seq": 3, "replay": [typed(5, "first phrase", 3), typed(20, "second phrase", 4)]});

    // The password form's batch, then `meanwhile` scrubbed with its own copy and merged, then `later`.
    let typed_after = |meanwhile: &Value| {
        let mut session = ReplayNodes::default();
        scrub_in(&engine, &password_form, &mut session);
        let mut copy = ReplayNodes::default();
        scrub_in(&engine, meanwhile, &mut copy);
        session.merge(copy);
        scrub_in(&engine, &later, &mut session).1
    };
    let text = typed_after(&added_input);
    assert!(!text.contains("first phrase") && !text.contains("second phrase"), "{text}");
    let text = typed_after(&next_page);
    assert!(text.contains("first phrase"), "node 5 is a city field on the next page: {text}");
}

#[test]
fn rrweb_text_attributes_urls_and_payloads_are_scanned() {
    let batch = json!({"session_id": "s", "seq": 1, "replay": [
        {"type": 4, "timestamp": 1, "data": {"href": "https://x.example/reset?token=abcDEF123456&lang=en", "width": 1, "height": 1}},
        {"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            {"type": 2, "tagName": "p", "id": 2, "attributes": {"class": "col-md-6 4111111111111111",
                "title": "mail priya@example.com", "data-user": "call +91 98765 43210",
                "href": "https://bob:hunter2@example.com/x"}, "childNodes": [
                {"type": 3, "id": 3, "textContent": "Card 4111 1111 1111 1111 on file"}]}]}}},
        {"type": 5, "timestamp": 2, "data": {"tag": "t", "payload": {"note": "PAN ABCPE1234F"}}},
        {"type": 6, "timestamp": 3, "data": {"plugin": "rrweb/console@1", "payload": {"level": "log", "payload": ["\"user priya@example.com\""]}}}
    ]});
    let (out, text) = scrub(&Engine::default(), &batch);
    same_shape(&batch, &out, "$");
    for value in
        ["abcDEF123456", "priya@example.com", "98765 43210", "bob:hunter2", "4111 1111 1111 1111", "ABCPE1234F"]
    {
        assert!(!text.contains(value), "{value} left in {text}");
    }
    assert!(text.contains("col-md-6 4111111111111111"), "class attributes are not scanned");
    assert!(text.contains("https://x.example/reset?token=tok_url_credential_"));
}

#[test]
fn json_escapes_are_unescaped_for_scanning_and_kept_elsewhere() {
    let json = br#"{"events":[{"type":"custom","props":{"msg":"line\nmail: priya\u0040example.com \"quoted\" \u00e9","other":"caf\u00e9"}}]}"#;
    let engine = Engine::default();
    let mut out = Vec::new();
    engine.scrub_json(json, &mut TestTokens::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("priya"), "{text}");
    assert!(text.contains(r#"line\nmail: tok_email_"#), "{text}");
    assert!(text.contains(r#" \"quoted\" \u00e9""#), "other escapes stay as written: {text}");
    assert!(text.contains(r#""other":"caf\u00e9""#));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert!(parsed["events"][0]["props"]["msg"].as_str().unwrap().starts_with("line\nmail: tok_email_"));
}

#[test]
fn ids_timestamps_numbers_and_keys_are_left_alone() {
    let batch = json!({"session_id": "4111111111111111", "visitor_id": "priya@example.com", "seq": 1,
        "sent_at": 1732265000000u64, "events": [{"type": "click", "ts": 1732265000000u64,
        "user_id": "priya@example.com", "order_id": "9876543210", "lat": "12.9715987", "amount": 4111111111111111u64,
        "priya@example.com": "key stays"}]});
    let (out, _) = scrub(&Engine::default(), &batch);
    assert_eq!(out, batch);
}

#[test]
fn every_action_and_masking_counts_digits() {
    let mut config = PiiConfig::default();
    config.entities.insert("card".into(), Action::Mask);
    config.entities.insert("email".into(), Action::Redact);
    config.entities.insert("phone".into(), Action::Hash);
    config.entities.insert("ip".into(), Action::Allow);
    let engine = Engine::new(&config).unwrap();
    let mut out = String::new();
    let text = "card 4111-1111-1111-1111, mail a.b@example.com, call +91 98765 43210 from 10.1.2.3, PAN ABCPE1234F";
    let stats = engine.scrub_text(text, &mut TestTokens::default(), &mut out);
    assert!(out.contains("card ****-****-****-1111,"), "{out}");
    assert!(out.contains("mail [redacted:email],"), "{out}");
    assert!(out.contains("call hash_phone_"), "{out}");
    assert!(out.contains("from 10.1.2.3,"), "allowed entities are not even detected: {out}");
    assert!(out.contains("PAN tok_pan_"), "{out}");
    assert_eq!(stats.total_replaced(), 4);
    assert_eq!(mask("98765 43210"), "***** *3210");
    assert_eq!(mask("12"), "*2");
    assert_eq!(mask("Priya"), "*****");
}

/// `replaces_nothing` is what lets the runner skip the scrub, so it must hold only when scrubbing could not change
/// a single byte, whatever rule or entity would otherwise fire.
#[test]
fn an_engine_replaces_nothing_only_when_every_action_is_allow() {
    let json = BatchBuilder::new(11, 20).batch(40_000, 200, 50);
    let allow_all = PiiConfig { default_action: Action::Allow, ..PiiConfig::default() };
    let engine = Engine::new(&allow_all).unwrap();
    assert!(engine.replaces_nothing());
    let mut out = Vec::new();
    let stats = engine.scrub_json(&json, &mut TestTokens::default(), &mut out).unwrap();
    assert_eq!(out, json, "an allow-everything engine copies the batch unchanged");
    assert_eq!(stats.total_replaced(), 0);
    assert!(!Engine::default().replaces_nothing());
    let mut out = Vec::new();
    assert!(Engine::default().scrub_json(&json, &mut TestTokens::default(), &mut out).unwrap().total_replaced() > 0);
    // Any one rule that can replace something turns the shortcut off.
    let mut one_entity = allow_all.clone();
    one_entity.entities.insert("email".into(), Action::Mask);
    let mut one_field = allow_all.clone();
    one_field.fields.insert("comment".into(), FieldRule { entity: None, action: Some(Action::Redact) });
    let mut one_pattern = allow_all.clone();
    one_pattern.custom_patterns.push(CustomPattern {
        name: "employee_id".into(),
        regex: "EMP-[0-9]{6}".into(),
        action: Some(Action::Tokenize),
        ..CustomPattern::default()
    });
    let mut one_word = allow_all.clone();
    one_word.dictionaries.push(Dictionary {
        name: "projects".into(),
        entity: "codename".into(),
        words: vec!["Bluebird".into()],
        action: Some(Action::Redact),
        case_sensitive: false,
    });
    for (what, config) in [("entity", one_entity), ("field", one_field), ("pattern", one_pattern), ("word", one_word)] {
        assert!(!Engine::new(&config).unwrap().replaces_nothing(), "{what}");
    }
}

#[test]
fn field_rules_from_config_override_and_extend() {
    let mut config = PiiConfig::default();
    config.fields.insert("loyaltyno".into(), FieldRule { entity: Some("account".into()), action: None });
    config.fields.insert("comment".into(), FieldRule { entity: None, action: Some(Action::Redact) });
    config.fields.insert("email".into(), FieldRule { entity: None, action: Some(Action::Allow) });
    let engine = Engine::new(&config).unwrap();
    let batch = json!({"events": [{"type": "custom", "props": {"loyalty_no": "LX-99", "comment": "mail a@b.co or x",
        "email": "kept@example.com", "pin": "4321", "pincode": "560001", "notes": {"pin": "not a pin"}}}]});
    let (out, _) = scrub(&engine, &batch);
    let props = &out["events"][0]["props"];
    assert!(props["loyalty_no"].as_str().unwrap().starts_with("tok_account_"));
    assert_eq!(props["comment"], "mail [redacted:email] or x");
    assert_eq!(props["email"], "kept@example.com");
    assert!(props["pin"].as_str().unwrap().starts_with("tok_secret_"));
    assert!(props["pincode"].as_str().unwrap().starts_with("tok_postal_code_"));
    assert_eq!(props["notes"]["pin"], "not a pin");
}

#[test]
fn event_names_and_field_labels_are_not_person_names() {
    let batch = json!({"events": [
        {"type": "custom", "name": "checkout_started", "props": {"name": "Priya Sharma"}},
        {"type": "input", "field": "email", "value": "typed@example.com"},
        {"type": "input", "target": "#password", "value": "hunter two"},
        {"type": "custom", "props": {"form": [{"name": "password", "value": "s3cret words"}]}}
    ]});
    let (out, text) = scrub(&Engine::default(), &batch);
    assert_eq!(out["events"][0]["name"], "checkout_started");
    assert!(out["events"][0]["props"]["name"].as_str().unwrap().starts_with("tok_name_"));
    assert!(out["events"][1]["value"].as_str().unwrap().starts_with("tok_email_"));
    assert!(out["events"][2]["value"].as_str().unwrap().starts_with("tok_secret_"));
    assert_eq!(out["events"][3]["props"]["form"][0]["name"], "password");
    assert!(!text.contains("s3cret words") && !text.contains("hunter two"), "{text}");
}

#[test]
fn custom_patterns_and_dictionaries() {
    let config = PiiConfig {
        custom_patterns: vec![CustomPattern {
            name: "employee_id".into(),
            regex: r"EMP-[0-9]{6}".into(),
            context: vec!["employee".into()],
            ..CustomPattern::default()
        }],
        dictionaries: vec![Dictionary {
            name: "projects".into(),
            entity: "codename".into(),
            words: vec!["Bluebird".into(), "Night Jar".into()],
            action: Some(Action::Redact),
            case_sensitive: false,
        }],
        ..PiiConfig::default()
    };
    let engine = Engine::new(&config).unwrap();
    let mut out = String::new();
    engine.scrub_text(
        "employee EMP-123456 works on bluebird and night jar; EMP-654321",
        &mut TestTokens::default(),
        &mut out,
    );
    assert!(out.starts_with("employee tok_employee_id_"), "{out}");
    assert!(out.contains("on [redacted:codename] and [redacted:codename];"), "{out}");
    assert!(out.ends_with("EMP-654321"), "no context, no match: {out}");
    assert_eq!(engine.entity_name(engine.entity("codename").unwrap()), "codename");
}

#[test]
fn config_validation_names_the_field() {
    let config = PiiConfig {
        entities: [("emial".to_string(), Action::Mask)].into(),
        fields: [("Card_No".to_string(), FieldRule { entity: Some("card".into()), action: None })].into(),
        custom_patterns: vec![
            CustomPattern { name: "ok".into(), regex: "A[0-9]+".into(), ..Default::default() },
            CustomPattern { name: "empty".into(), regex: "x*".into(), ..Default::default() },
            CustomPattern { name: "broken".into(), regex: "([a-z".into(), ..Default::default() },
            CustomPattern { name: "huge".into(), regex: r"\w{500}\w{500}\w{500}".into(), ..Default::default() },
            CustomPattern { name: "Bad Name".into(), regex: "B[0-9]+".into(), ..Default::default() },
        ],
        dictionaries: vec![Dictionary {
            name: "d".into(),
            entity: "names".into(),
            words: vec![],
            ..Default::default()
        }],
        ..PiiConfig::default()
    };
    let errors = config.validate().unwrap_err().0;
    let find = |path: &str| errors.iter().find(|e| e.path == path).map(|e| e.kind.clone());
    assert_eq!(find("entities.emial"), Some(ConfigErrorKind::UnknownEntity("emial".into())));
    assert_eq!(find("fields.Card_No"), Some(ConfigErrorKind::BadFieldName("Card_No".into())));
    assert_eq!(find("custom_patterns[1].regex"), Some(ConfigErrorKind::RegexMatchesEmpty));
    assert!(matches!(find("custom_patterns[2].regex"), Some(ConfigErrorKind::Regex(_))));
    assert!(matches!(find("custom_patterns[3].regex"), Some(ConfigErrorKind::RegexTooBig(_))), "{errors:?}");
    assert!(matches!(find("custom_patterns[4].name"), Some(ConfigErrorKind::BadName(_))));
    assert_eq!(find("dictionaries[0].words"), Some(ConfigErrorKind::Empty));
    assert!(find("custom_patterns[0].regex").is_none());
    assert!(Engine::new(&config).is_err());
    let text = config.validate().unwrap_err().to_string();
    assert!(text.contains("custom_patterns[2].regex: regex does not compile"), "{text}");
}

#[test]
fn config_is_toml_with_defaults_and_rejects_unknown_fields() {
    let config: PiiConfig = toml::from_str(
        r#"
        default_action = "tokenize"
        entities = { card = "mask", ip = "allow" }
        fields = { loyaltyno = { entity = "account" } }
        [[custom_patterns]]
        name = "employee_id"
        regex = "EMP-[0-9]{6}"
        "#,
    )
    .unwrap();
    assert_eq!(config.entities["card"], Action::Mask);
    assert!(config.builtin_fields);
    config.validate().unwrap();
    assert!(toml::from_str::<PiiConfig>("colour = 1").is_err());
    assert!(serde_json::from_str::<PiiConfig>(r#"{"entities": {"card": "shred"}}"#).is_err());
}

#[test]
fn one_entity_engines_find_only_that_entity() {
    let engine = Engine::for_entities(&PiiConfig::default(), &[Entity::Card]).unwrap();
    let found = engine.scan_text("4111 1111 1111 1111 and priya@example.com");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entity, Entity::Card);
}

/// The regex pass is skipped for strings shorter than any candidate their byte classes allow; values of exactly
/// the shortest length must still be found, alone and inside escaped JSON strings.
#[test]
fn values_of_the_shortest_length_are_still_found() {
    let engine = Engine::default();
    for (text, entity) in [
        ("001a.2b3c.4d5e", Entity::Mac),
        ("00-1A-2B-3C-4D-5E", Entity::Mac),
        ("HDFC0001234", Entity::Ifsc),
        ("ABCPE1234F", Entity::Pan),
        ("a@b.in", Entity::Email),
        ("pin=1234", Entity::Secret),
    ] {
        let found = engine.scan_text(text);
        assert!(found.iter().any(|d| d.entity == entity), "{text}: {found:?}");
        let (scrubbed, _) = scrub(&engine, &json!({"session_id": "s", "seq": 1, "events": [{"note": text}]}));
        assert_ne!(scrubbed["events"][0]["note"], text, "{text} kept in JSON");
        let escaped = format!("line\n{text}");
        let json = format!(r#"{{"session_id":"s","seq":1,"events":[{{"note":"{escaped}"}}]}}"#);
        let mut out = Vec::new();
        engine.scrub_json(json.as_bytes(), &mut TestTokens::default(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains(text), "{text} kept in an escaped string: {out}");
    }
}

#[test]
fn tokens_are_not_detected_again() {
    let engine = Engine::default();
    let mut once = String::new();
    let text = "priya@example.com +91 98765 43210 4111 1111 1111 1111 password=hunter22 https://u:p4ss@h.example/?token=abc12345";
    engine.scrub_text(text, &mut TestTokens::default(), &mut once);
    assert!(engine.scan_text(&once).is_empty(), "{once} -> {:?}", engine.scan_text(&once));
    let mut twice = String::new();
    engine.scrub_text(&once, &mut TestTokens::default(), &mut twice);
    assert_eq!(once, twice);
}

#[test]
fn malformed_json_is_an_error_and_leaves_out_untouched() {
    let engine = Engine::default();
    for bad in [&br#"{"events": [1, 2"#[..], br#"{"a" 1}"#, br#"{"a": tru}"#, b"", br#"{"a": "unterminated}"#] {
        let mut out = b"keep".to_vec();
        let err = engine.scrub_json(bad, &mut TestTokens::default(), &mut out).unwrap_err();
        assert!(matches!(err, ScrubError::Syntax { .. }), "{err:?}");
        assert_eq!(out, b"keep");
    }
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let err = engine.scrub_json(deep.as_bytes(), &mut TestTokens::default(), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, ScrubError::TooDeep { .. }));
}

#[test]
fn one_engine_serves_every_worker_thread() {
    fn shared<T: Send + Sync>() {}
    shared::<Engine>();
}
