//! Text for people from the policy API's JSON answers (`traceflow-cp policy …` without `--json`). Pure functions,
//! so the CLI stays flag parsing and these stay testable.

use serde_json::Value;

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), or `-`.
pub(crate) fn utc(ms: Option<u64>) -> String {
    let Some(ms) = ms else { return "-".into() };
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(ms / 1000).unwrap_or(i64::MAX)) else {
        return "-".into();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// `sha256:` and the first 12 hex digits.
fn short_hash(hash: &Value) -> String {
    let hash = text(hash);
    hash.chars().take(19).collect()
}

/// One line about a new revision (apply, rollback, abort).
pub(crate) fn created(record: &Value) -> String {
    let mut line = format!(
        "revision {} of group {} ({}): {}",
        text(&record["revision"]),
        text(&record["group"]),
        text(&record["hash"]),
        match (record["source"].as_str(), record["canary_percent"].as_u64()) {
            (_, Some(percent)) => format!("canary for {percent}% of the runners"),
            (Some("rollback"), _) => format!("stable, content of revision {}", text(&record["copied_from"])),
            (Some("abort"), _) => "stable, canary aborted".to_string(),
            _ => "stable".to_string(),
        }
    );
    line.push('\n');
    line
}

/// `policy history`.
pub(crate) fn history(answer: &Value) -> String {
    let mut out = format!(
        "{:>5}  {:<20}  {:<8}  {:<7}  {:<16}  {:<19}  {}\n",
        "REV", "CREATED", "SOURCE", "CANARY", "AUTHOR", "HASH", "MESSAGE"
    );
    for r in answer["revisions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:>5}  {:<20}  {:<8}  {:<7}  {:<16}  {:<19}  {}\n",
            text(&r["revision"]),
            utc(r["created_at_ms"].as_u64()),
            text(&r["source"]),
            r["canary_percent"].as_u64().map_or("-".into(), |p| format!("{p}%")),
            text(&r["author"]),
            short_hash(&r["hash"]),
            text(&r["message"]).lines().next().unwrap_or_default(),
        ));
    }
    out
}

/// `policy show`: header lines, then the policy as pretty JSON.
pub(crate) fn show(record: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!("revision  {}\n", text(&record["revision"])));
    out.push_str(&format!("group     {}\n", text(&record["group"])));
    out.push_str(&format!("hash      {}\n", text(&record["hash"])));
    out.push_str(&format!("created   {}\n", utc(record["created_at_ms"].as_u64())));
    out.push_str(&format!("author    {}\n", text(&record["author"])));
    let mut source = text(&record["source"]);
    if let Some(from) = record["copied_from"].as_u64() {
        source.push_str(&format!(" (content of revision {from})"));
    }
    if let Some(percent) = record["canary_percent"].as_u64() {
        source.push_str(&format!(" (canary {percent}%)"));
    }
    out.push_str(&format!("source    {source}\n"));
    out.push_str(&format!("message   {}\n\n", text(&record["message"])));
    out.push_str(&serde_json::to_string_pretty(&record["policy"]).unwrap_or_default());
    out.push('\n');
    out
}

/// `policy diff`: a `--- from` / `+++ to` header, then one change per line.
pub(crate) fn diff(from: &str, to: &str, answer: &Value) -> String {
    let mut out = format!("--- {from} ({})\n+++ {to} ({})\n", text(&answer["from_hash"]), text(&answer["to_hash"]));
    let changes = answer["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        out.push_str("(no changes)\n");
    }
    for change in changes {
        match serde_json::from_value::<traceflow_protocol::policy::Change>(change) {
            Ok(change) => out.push_str(&format!("{change}\n")),
            Err(_) => out.push_str("? (unreadable change)\n"),
        }
    }
    out
}

fn rollout_line(answer: &Value) -> String {
    let stable = answer["stable"].as_u64().map_or("none".to_string(), |r| format!("revision {r}"));
    let canary = match answer["canary"].as_object() {
        None => "none".to_string(),
        Some(c) => {
            let mut line =
                format!("revision {} for {}% ({})", text(&c["revision"]), text(&c["percent"]), text(&c["status"]));
            if let Some(runner) = c.get("halted_by").and_then(Value::as_str) {
                line.push_str(&format!(" by runner {runner}"));
                if let Some(error) = c.get("halted_error").filter(|e| !e.is_null()) {
                    line.push_str(&format!(": {}", error_line(error)));
                }
            }
            line
        }
    };
    format!("group {}: stable {stable}, canary {canary}\n", text(&answer["group"]))
}

fn error_line(error: &Value) -> String {
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => match error["path"].as_str() {
            Some(path) if !path.is_empty() => format!("{code}: {path}: {message}"),
            _ => format!("{code}: {message}"),
        },
        _ if error.is_null() => "-".into(),
        _ => error.to_string(),
    }
}

/// `policy promote` and the head of `policy status`.
pub(crate) fn rollout(answer: &Value) -> String {
    rollout_line(answer)
}

/// `policy status`: the rollout, the cohort summary, one row per runner.
pub(crate) fn status(answer: &Value) -> String {
    let mut out = rollout_line(answer);
    out.push_str(&format!(
        "\n{:<8}  {:>7}  {:>7}  {:>6}  {:>7}\n",
        "COHORT", "RUNNERS", "APPLIED", "FAILED", "PENDING"
    ));
    for name in ["stable", "canary"] {
        let c = &answer["cohorts"][name];
        out.push_str(&format!(
            "{name:<8}  {:>7}  {:>7}  {:>6}  {:>7}\n",
            text(&c["runners"]),
            text(&c["applied"]),
            text(&c["failed"]),
            text(&c["pending"])
        ));
    }
    out.push_str(&format!(
        "\n{:<20}  {:<6}  {:>6}  {:>6}  {:<7}  {:>6}  {:<20}  {}\n",
        "RUNNER", "COHORT", "TARGET", "REV", "STATE", "ACTIVE", "LAST_SEEN", "ERROR"
    ));
    for r in answer["runners"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<20}  {:<6}  {:>6}  {:>6}  {:<7}  {:>6}  {:<20}  {}\n",
            text(&r["runner_id"]),
            text(&r["cohort"]),
            text(&r["target_revision"]),
            text(&r["revision"]),
            text(&r["state"]),
            text(&r["active_revision"]),
            utc(r["last_seen_ms"].as_u64()),
            if r["error"].is_null() { String::new() } else { error_line(&r["error"]) },
        ));
    }
    out
}

/// `audit list`: one line per entry, then its policy diff indented.
pub(crate) fn audit(answer: &Value) -> String {
    let mut out = format!("{:<20}  {:<26}  {:<22}  {:<20}  {}\n", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL");
    for e in answer["entries"].as_array().into_iter().flatten() {
        let detail = &e["detail"];
        let summary = match (detail["revision"].as_u64(), detail["message"].as_str()) {
            (Some(revision), Some(message)) => {
                format!("revision {revision} by {}: {message}", text(&detail["author"]))
            }
            (Some(revision), None) => format!("revision {revision}"),
            _ if detail.is_null() => String::new(),
            _ => detail.to_string(),
        };
        out.push_str(&format!(
            "{:<20}  {:<26}  {:<22}  {:<20}  {}\n",
            utc(e["at_ms"].as_u64()),
            text(&e["actor"]),
            text(&e["action"]),
            text(&e["target"]),
            summary
        ));
        if let Some(error) = detail.get("error").filter(|e| !e.is_null()) {
            out.push_str(&format!("    error {}\n", error_line(error)));
        }
        for change in detail["diff"].as_array().into_iter().flatten() {
            if let Ok(change) = serde_json::from_value::<traceflow_protocol::policy::Change>(change.clone()) {
                out.push_str(&format!("    {change}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(utc(Some(1_732_265_000_123)), "2024-11-22T08:43:20Z");
        assert_eq!(utc(Some(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(utc(None), "-");
    }

    #[test]
    fn diffs_and_statuses_read_as_text() {
        let answer = json!({"from_hash": "sha256:a", "to_hash": "sha256:b",
            "changes": [{"path": "sampling.session_rate", "old": 1.0, "new": 0.5}]});
        assert_eq!(
            diff("revision 1", "p.toml", &answer),
            "--- revision 1 (sha256:a)\n+++ p.toml (sha256:b)\n~ sampling.session_rate: 1.0 -> 0.5\n"
        );
        let status = json!({"group": "g", "stable": 2, "canary": {"revision": 3, "percent": 10, "status": "halted",
            "halted_by": "r_x", "halted_error": {"code": "invalid_policy", "message": "bad", "path": "pii.x"}},
            "cohorts": {"stable": {"runners": 1, "applied": 1, "failed": 0, "pending": 0},
                        "canary": {"runners": 1, "applied": 0, "failed": 1, "pending": 0}},
            "runners": [{"runner_id": "r_x", "cohort": "canary", "target_revision": 3, "revision": 3,
                "state": "failed", "active_revision": 2, "error": {"code": "invalid_policy", "message": "bad"},
                "last_seen_ms": 0}]});
        let text = super::status(&status);
        assert!(text.starts_with(
            "group g: stable revision 2, canary revision 3 for 10% (halted) by runner r_x: invalid_policy: pii.x: bad\n"
        ));
        assert!(text.contains("r_x") && text.contains("invalid_policy: bad"), "{text}");
    }
}
