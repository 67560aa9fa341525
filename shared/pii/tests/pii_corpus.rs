//! Labeled corpus: recall per entity and precision of the default engine on generated PII in sentences and in
//! JSON fields, and on look-alikes that are not PII. Run with `--nocapture` to see the figures.

mod support;

use std::collections::BTreeMap;

use support::{Gen, Sample, TestTokens, GENERATED};
use traceflow_pii::{Engine, Entity};

const PER_ENTITY: usize = 2000;
const NEGATIVES: usize = 20_000;

/// Whether a detection is the planted value: same entity, covering it, at most a `+`/`(` wider.
fn hit(sample: &Sample, d: &traceflow_pii::Detection) -> bool {
    d.entity == sample.entity
        && d.start <= sample.start
        && d.end >= sample.end
        && d.end - d.start <= sample.end - sample.start + 2
}

#[test]
fn recall_and_precision_on_generated_corpus() {
    let engine = Engine::default();
    let mut gen = Gen::new(0x7ace_f10e);
    let mut recall: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut true_pos = 0usize;
    let mut false_pos = 0usize;
    let mut misses: Vec<String> = Vec::new();
    let mut spurious: Vec<String> = Vec::new();
    for entity in GENERATED {
        let name = entity.builtin_name().unwrap();
        for _ in 0..PER_ENTITY {
            let sample = gen.sample(entity);
            let found = engine.scan_text(&sample.text);
            let ok = found.iter().any(|d| hit(&sample, d));
            let slot = recall.entry(name).or_default();
            slot.1 += 1;
            if ok {
                slot.0 += 1;
                true_pos += 1;
            } else if misses.len() < 40 {
                misses.push(format!("{name}: {:?} -> {:?}", sample.text, found));
            }
            for d in found.iter().filter(|d| !hit(&sample, d)) {
                false_pos += 1;
                if spurious.len() < 40 {
                    spurious.push(format!("{:?} in {:?}", &sample.text[d.start..d.end], sample.text));
                }
            }
        }
    }
    let mut negative_hits: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..NEGATIVES {
        let (category, text) = gen.negative();
        let found = engine.scan_text(&text);
        *negative_hits.entry(category).or_default() += found.len();
        false_pos += found.len();
        for d in &found {
            if spurious.len() < 60 {
                spurious.push(format!("[{category}] {:?} as {:?} in {:?}", &text[d.start..d.end], d.entity, text));
            }
        }
    }
    eprintln!("recall per entity ({PER_ENTITY} samples each):");
    for (name, (ok, n)) in &recall {
        eprintln!("  {name:<16} {:.4}", *ok as f64 / *n as f64);
    }
    let precision = true_pos as f64 / (true_pos + false_pos) as f64;
    eprintln!("precision {precision:.4} ({true_pos} true, {false_pos} false positives; {NEGATIVES} negatives)");
    eprintln!("false positives per negative category: {negative_hits:?}");
    for m in &misses {
        eprintln!("  miss {m}");
    }
    for s in &spurious {
        eprintln!("  false positive {s}");
    }

    let rate = |name: &str| recall.get(name).map_or(0.0, |&(ok, n)| ok as f64 / n as f64);
    for name in ["card", "iban", "aadhaar", "gstin"] {
        assert!(rate(name) >= 0.995, "{name} recall {}", rate(name));
    }
    for name in ["email", "phone", "ip"] {
        assert!(rate(name) >= 0.99, "{name} recall {}", rate(name));
    }
    assert!(precision >= 0.99, "precision {precision}");
    assert_eq!(negative_hits.get("timestamp").copied().unwrap_or(0), 0, "timestamps detected");
    assert_eq!(negative_hits.get("id").copied().unwrap_or(0), 0, "ids detected");
}

#[test]
fn planted_values_in_json_fields_are_tokenized() {
    let engine = Engine::default();
    let mut gen = Gen::new(99);
    let mut missed = Vec::new();
    let mut total = 0;
    for entity in GENERATED {
        for i in 0..200 {
            let sample = gen.sample(entity);
            // Free text under neutral keys, in analytics events and custom replay payloads.
            let batch = serde_json::json!({
                "session_id": "s1", "seq": i, "sent_at": 1732265000000u64,
                "events": [{"type": "custom", "ts": 1732265000000u64, "name": "support_chat",
                    "props": {"message": sample.text, "count": 3}}],
                "replay": [{"type": 5, "timestamp": 1732265000000u64,
                    "data": {"tag": "note", "payload": {"comment": sample.text}}}],
            });
            let json = serde_json::to_vec(&batch).unwrap();
            let mut out = Vec::new();
            engine.scrub_json(&json, &mut TestTokens::default(), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            total += 1;
            if text.contains(sample.value()) {
                missed.push(format!("{entity:?}: {}", sample.text));
            }
        }
    }
    eprintln!("JSON fields: {} of {total} planted values left in place", missed.len());
    for m in missed.iter().take(20) {
        eprintln!("  left {m}");
    }
    assert!(missed.len() * 100 <= total, "{} of {total} left", missed.len());
}

#[test]
fn field_names_tokenize_whole_values() {
    let engine = Engine::default();
    let mut gen = Gen::new(5);
    let fields: Vec<(&str, String, Entity)> = vec![
        ("email", gen.email(), Entity::Email),
        ("mobileNumber", gen.indian_mobile().0, Entity::Phone),
        ("card_number", gen.card(), Entity::Card),
        ("aadhaar", gen.aadhaar(false), Entity::Aadhaar),
        ("pan", gen.pan(), Entity::Pan),
        ("password", "correct horse battery staple".to_string(), Entity::Secret),
        ("first_name", "Zorawar".to_string(), Entity::Name),
        ("address_line1", "221B Baker Street".to_string(), Entity::Address),
        ("date_of_birth", "14/05/1990".to_string(), Entity::Dob),
        ("pincode", "560001".to_string(), Entity::PostalCode),
        ("cvv", "123".to_string(), Entity::Secret),
    ];
    for (key, value, entity) in fields {
        let json =
            serde_json::to_vec(&serde_json::json!({"events": [{"type": "custom", "props": {key: value}}]})).unwrap();
        let mut out = Vec::new();
        let mut tokens = TestTokens::default();
        let stats = engine.scrub_json(&json, &mut tokens, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains(&value), "{key}: {text}");
        let name = entity.builtin_name().unwrap();
        assert!(text.contains(&format!("tok_{name}_")), "{key}: {text}");
        assert_eq!(stats.replaced_for(entity), 1, "{key}");
        assert_eq!(tokens.tokenized, vec![(name.to_string(), value.clone())]);
    }
}
