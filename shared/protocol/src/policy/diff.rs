//! Field-by-field differences between two policies (or any two JSON values), for `policy diff`, the audit log
//! and the history: `pii.entities.card: "tokenize" → "mask"` reads better than a line diff of a document.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One difference: `old` is absent for an added field, `new` for a removed one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => write!(f, "~ {}: {old} -> {new}", self.path),
            (None, Some(new)) => write!(f, "+ {}: {new}", self.path),
            (Some(old), None) => write!(f, "- {}: {old}", self.path),
            (None, None) => write!(f, "  {}", self.path),
        }
    }
}

/// The differences from `old` to `new`, in path order. Objects are compared key by key; arrays element by
/// element (with added or removed tail elements); anything else as a whole.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk(String::new(), old, new, &mut changes);
    changes
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: String, old: &Value, new: &Value, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let at = join(&path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(at, x, y, out),
                    (x, y) => out.push(Change { path: at, old: x.cloned(), new: y.cloned() }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let at = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(at, x, y, out),
                    (x, y) => out.push(Change { path: at, old: x.cloned(), new: y.cloned() }),
                }
            }
        }
        _ if old == new => {}
        _ => out.push(Change { path, old: Some(old.clone()), new: Some(new.clone()) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_fields_by_path() {
        let old = json!({"pii":{"entities":{"card":"tokenize","ip":"allow"}},"projects":[{"name":"a"}],"x":1});
        let new =
            json!({"pii":{"entities":{"card":"mask","email":"redact"}},"projects":[{"name":"a"},{"name":"b"}],"x":1});
        let changes: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "~ pii.entities.card: \"tokenize\" -> \"mask\"",
                "+ pii.entities.email: \"redact\"",
                "- pii.entities.ip: \"allow\"",
                "+ projects[1]: {\"name\":\"b\"}",
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }
}
