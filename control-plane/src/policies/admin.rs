//! The admin API's policy endpoints under `/v1/admin/groups/{group}/policy`: apply, history, show, diff,
//! rollback, canary promote and abort, the rollout and its per-runner status. Every change is audited with who,
//! when, the revision and its diff against the stable policy it replaces.

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use traceflow_protocol::policy::{diff, Format, Policy};

use super::checkin::{cohort, target, Cohort, PolicyReport, ReportState};
use super::{change_detail, NewRevision, Policies};
use crate::admin::{number, query_params};
use crate::error::ApiError;
use crate::now_ms;
use crate::store::{AuditEntry, Canary, CanaryStatus, PolicyRevision, RevisionSource, Rollout, RunnerRecord};

/// Revisions one history answer holds by default and at most.
pub const DEFAULT_REVISIONS: usize = 50;
pub const MAX_REVISIONS: usize = 1000;
/// Longest change message and author name.
pub const MAX_MESSAGE_LEN: usize = 4096;
pub const MAX_AUTHOR_LEN: usize = 256;

/// Who calls: the admin token's tenant and its audit name.
pub struct Caller<'a> {
    pub tenant: &'a str,
    pub actor: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyRequest {
    document: String,
    message: Option<String>,
    author: Option<String>,
    canary_percent: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    revision: u64,
    message: Option<String>,
    author: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    message: Option<String>,
    author: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffRequest {
    from: Side,
    to: Side,
}

/// One side of a diff: a stored revision or a document.
#[derive(Deserialize)]
#[serde(untagged)]
enum Side {
    Revision(u64),
    Document { document: String },
}

/// `…/groups/{group}/policy/{rest}` for the caller's tenant; `body` is the request body (empty for GET).
pub async fn route(
    policies: &Policies,
    caller: &Caller<'_>,
    group: &str,
    method: &Method,
    rest: &[&str],
    query: Option<&str>,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    let (get, post) = (method == Method::GET, method == Method::POST);
    let known =
        matches!(rest, [] | ["revisions"] | ["revisions", _] | ["diff" | "rollback" | "promote" | "abort" | "status"]);
    if !known {
        return Err(ApiError::NotFound);
    }
    policies.check_group(caller.tenant, group)?;
    let ok = |value| (StatusCode::OK, value);
    match rest {
        [] if get => rollout_view(policies, caller.tenant, group).map(ok),
        [] if post => apply(policies, caller, group, body).await.map(|r| (StatusCode::CREATED, r)),
        ["revisions"] if get => history(policies, caller.tenant, group, query).map(ok),
        ["revisions", revision] if get => {
            let revision = revision.parse::<u64>().map_err(|_| ApiError::RevisionNotFound)?;
            let record =
                policies.store().policy_revision(caller.tenant, group, revision)?.ok_or(ApiError::RevisionNotFound)?;
            Ok(ok(revision_json(&record, true)))
        }
        ["diff"] if post => diff_request(policies, caller.tenant, group, body).await.map(ok),
        ["rollback"] if post => rollback(policies, caller, group, body).await.map(|r| (StatusCode::CREATED, r)),
        ["promote"] if post => promote(policies, caller, group, body).await.map(ok),
        ["abort"] if post => abort(policies, caller, group, body).await.map(|r| (StatusCode::CREATED, r)),
        ["status"] if get => status(policies, caller.tenant, group).map(ok),
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// A revision as the API shows it: flat, without the bundle; with the policy unless listed.
pub fn revision_json(record: &PolicyRevision, with_policy: bool) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("bundle");
        if !with_policy {
            fields.remove("policy");
        }
    }
    value
}

fn rollout_json(group: &str, rollout: &Rollout) -> Value {
    json!({ "group": group, "stable": rollout.stable, "canary": rollout.canary })
}

/// `GET …/policy`.
fn rollout_view(policies: &Policies, tenant: &str, group: &str) -> Result<Value, ApiError> {
    Ok(rollout_json(group, &policies.store().rollout(tenant, group)?))
}

/// `GET …/policy/revisions?limit=`: newest first, without policies.
fn history(policies: &Policies, tenant: &str, group: &str, query: Option<&str>) -> Result<Value, ApiError> {
    let limit = number(&query_params(query), "limit")?.map_or(DEFAULT_REVISIONS, |n| n as usize);
    if limit == 0 || limit > MAX_REVISIONS {
        return Err(ApiError::InvalidRequest(format!("`limit` must be 1 to {MAX_REVISIONS}")));
    }
    let revisions = policies.store().policy_revisions(tenant, group, limit)?;
    Ok(json!({ "revisions": revisions.iter().map(|r| revision_json(r, false)).collect::<Vec<_>>() }))
}

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidRequest(format!("invalid {what} request: {e}")))
}

/// A change's message (required or defaulted) and author (default `admin`), within bounds.
fn note(
    message: Option<String>,
    default: Option<String>,
    author: Option<String>,
) -> Result<(String, String), ApiError> {
    let message = match message.map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).or(default) {
        Some(message) => message,
        None => return Err(ApiError::InvalidRequest("`message` is required: say why the policy changes".into())),
    };
    if message.len() > MAX_MESSAGE_LEN {
        return Err(ApiError::InvalidRequest(format!("`message` is at most {MAX_MESSAGE_LEN} bytes")));
    }
    let author = author.map_or_else(|| "admin".to_string(), |a| a.trim().to_string());
    if author.is_empty() || author.len() > MAX_AUTHOR_LEN {
        return Err(ApiError::InvalidRequest(format!("`author` must be 1 to {MAX_AUTHOR_LEN} bytes")));
    }
    Ok((message, author))
}

/// Parses and validates a document off the async threads (regexes are compiled and timed).
async fn parse_document(document: String) -> Result<Policy, ApiError> {
    tokio::task::spawn_blocking(move || Policy::parse(&document, Format::detect(&document)))
        .await
        .map_err(|_| ApiError::Unavailable("validation was interrupted".into()))?
        .map_err(ApiError::InvalidPolicy)
}

fn audit_entry(caller: &Caller<'_>, action: &str, group: &str, detail: Value) -> AuditEntry {
    AuditEntry {
        at_ms: now_ms(),
        tenant: caller.tenant.to_string(),
        actor: caller.actor.to_string(),
        action: action.into(),
        target: group.to_string(),
        detail,
    }
}

/// `POST …/policy`: a new revision from a document; stable at once, or a canary for `canary_percent` %.
async fn apply(policies: &Policies, caller: &Caller<'_>, group: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request: ApplyRequest = parse_body(body, "apply")?;
    let (message, author) = note(request.message, None, request.author)?;
    let percent = match request.canary_percent {
        None => None,
        Some(p @ 1..=99) => Some(p as u8),
        Some(_) => return Err(ApiError::InvalidRequest("`canary_percent` must be 1 to 99".into())),
    };
    let policy = parse_document(request.document).await?;
    let tenant = caller.tenant;
    let writer = policies.lock().await;
    let mut rollout = policies.store().rollout(tenant, group)?;
    let (_, previous) = policies.stable_policy(tenant, group, &rollout)?;
    let new = NewRevision {
        policy,
        author: author.clone(),
        message: message.clone(),
        source: RevisionSource::Apply,
        canary_percent: percent,
        copied_from: None,
    };
    let record = policies.create_revision(&writer, tenant, group, new)?;
    match percent {
        Some(percent) => {
            rollout.canary = Some(Canary {
                revision: record.revision,
                percent,
                status: CanaryStatus::Active,
                halted_by: None,
                halted_error: None,
                halted_at_ms: None,
            })
        }
        None => rollout = Rollout { stable: Some(record.revision), canary: None },
    }
    let mut detail = change_detail(&record, &author, &message, &previous);
    detail["canary_percent"] = json!(percent);
    let audit = audit_entry(caller, "policy_apply", group, detail);
    policies.commit(&writer, tenant, group, Some(&record), rollout, audit).await?;
    tracing::info!(tenant, group, revision = record.revision, hash = record.hash, canary = ?percent, "policy applied");
    Ok(revision_json(&record, true))
}

/// `POST …/policy/rollback`: a new stable revision with the content of an older one.
async fn rollback(policies: &Policies, caller: &Caller<'_>, group: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request: RollbackRequest = parse_body(body, "rollback")?;
    let default = format!("rollback to revision {}", request.revision);
    let (message, author) = note(request.message, Some(default), request.author)?;
    let tenant = caller.tenant;
    let writer = policies.lock().await;
    let old = policies.store().policy_revision(tenant, group, request.revision)?.ok_or(ApiError::RevisionNotFound)?;
    let rollout = policies.store().rollout(tenant, group)?;
    let (_, previous) = policies.stable_policy(tenant, group, &rollout)?;
    let new = NewRevision {
        policy: old.policy,
        author: author.clone(),
        message: message.clone(),
        source: RevisionSource::Rollback,
        canary_percent: None,
        copied_from: Some(old.revision),
    };
    let record = policies.create_revision(&writer, tenant, group, new)?;
    let mut detail = change_detail(&record, &author, &message, &previous);
    detail["copied_from"] = json!(old.revision);
    let audit = audit_entry(caller, "policy_rollback", group, detail);
    let rollout = Rollout { stable: Some(record.revision), canary: None };
    policies.commit(&writer, tenant, group, Some(&record), rollout, audit).await?;
    tracing::info!(tenant, group, revision = record.revision, from = old.revision, "policy rolled back");
    Ok(revision_json(&record, true))
}

fn active_canary(rollout: &Rollout) -> Result<&Canary, ApiError> {
    let canary = rollout.canary.as_ref().ok_or(ApiError::NoCanary)?;
    if canary.status == CanaryStatus::Halted {
        return Err(ApiError::CanaryHalted {
            revision: canary.revision,
            runner: canary.halted_by.clone().unwrap_or_else(|| "?".into()),
            error: error_text(canary.halted_error.as_ref()),
        });
    }
    Ok(canary)
}

/// A reported error in one line: `code: message (at path)`, bounded.
fn error_text(error: Option<&Value>) -> String {
    let Some(error) = error.filter(|e| !e.is_null()) else { return "no error given".into() };
    let text = match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => match error["path"].as_str().filter(|p| !p.is_empty()) {
            Some(path) => format!("{code}: {message} (at {path})"),
            None => format!("{code}: {message}"),
        },
        _ => error.to_string(),
    };
    text.chars().take(1000).collect()
}

/// `POST …/policy/promote`: the canary's revision becomes stable for everyone.
async fn promote(policies: &Policies, caller: &Caller<'_>, group: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request: NoteRequest = if body.is_empty() { NoteRequest::default() } else { parse_body(body, "promote")? };
    let tenant = caller.tenant;
    let writer = policies.lock().await;
    let rollout = policies.store().rollout(tenant, group)?;
    let revision = active_canary(&rollout)?.revision;
    let (message, author) = note(request.message, Some(format!("promote canary revision {revision}")), request.author)?;
    let (_, previous) = policies.stable_policy(tenant, group, &rollout)?;
    let record = policies.store().policy_revision(tenant, group, revision)?.ok_or(ApiError::RevisionNotFound)?;
    let audit = audit_entry(caller, "policy_promote", group, change_detail(&record, &author, &message, &previous));
    let rollout = Rollout { stable: Some(revision), canary: None };
    let answer = rollout_json(group, &rollout);
    policies.commit(&writer, tenant, group, None, rollout, audit).await?;
    tracing::info!(tenant, group, revision, "canary promoted");
    Ok(answer)
}

/// `POST …/policy/abort`: a new stable revision with the stable content (the default policy if none), so the
/// canary's runners move forward to it; the canary ends.
async fn abort(policies: &Policies, caller: &Caller<'_>, group: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request: NoteRequest = if body.is_empty() { NoteRequest::default() } else { parse_body(body, "abort")? };
    let tenant = caller.tenant;
    let writer = policies.lock().await;
    let rollout = policies.store().rollout(tenant, group)?;
    let canary = rollout.canary.as_ref().ok_or(ApiError::NoCanary)?.revision;
    let (message, author) = note(request.message, Some(format!("abort canary revision {canary}")), request.author)?;
    let (stable, previous) = policies.stable_policy(tenant, group, &rollout)?;
    let new = NewRevision {
        policy: previous.clone(),
        author: author.clone(),
        message: message.clone(),
        source: RevisionSource::Abort,
        canary_percent: None,
        copied_from: stable,
    };
    let record = policies.create_revision(&writer, tenant, group, new)?;
    let mut detail = change_detail(&record, &author, &message, &previous);
    detail["aborted_revision"] = json!(canary);
    let audit = audit_entry(caller, "policy_abort", group, detail);
    let rollout = Rollout { stable: Some(record.revision), canary: None };
    policies.commit(&writer, tenant, group, Some(&record), rollout, audit).await?;
    tracing::info!(tenant, group, revision = record.revision, aborted = canary, "canary aborted");
    Ok(revision_json(&record, true))
}

/// `POST …/policy/diff`: field changes from `from` to `to`, each a revision number or `{"document": text}`.
async fn diff_request(policies: &Policies, tenant: &str, group: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request: DiffRequest = parse_body(body, "diff")?;
    let mut resolved = Vec::with_capacity(2);
    for side in [request.from, request.to] {
        let policy = match side {
            Side::Revision(revision) => {
                policies.store().policy_revision(tenant, group, revision)?.ok_or(ApiError::RevisionNotFound)?.policy
            }
            Side::Document { document } => parse_document(document).await?,
        };
        resolved.push((policy.hash(), serde_json::to_value(&policy).unwrap_or_default()));
    }
    let (from, to) = (&resolved[0], &resolved[1]);
    Ok(json!({ "from_hash": from.0, "to_hash": to.0, "changes": diff(&from.1, &to.1) }))
}

/// `GET …/policy/status`: the rollout, and each non-revoked runner of the group with its cohort, the revision
/// meant for it and what it last reported.
fn status(policies: &Policies, tenant: &str, group: &str) -> Result<Value, ApiError> {
    let rollout = policies.store().rollout(tenant, group)?;
    let runners: Vec<RunnerRecord> =
        policies.store().runners_of(tenant)?.into_iter().filter(|r| r.group == group && !r.revoked).collect();
    Ok(status_json(group, &rollout, &runners))
}

#[derive(Default)]
struct Tally {
    runners: u64,
    applied: u64,
    failed: u64,
    pending: u64,
}

impl Tally {
    fn json(&self) -> Value {
        json!({ "runners": self.runners, "applied": self.applied, "failed": self.failed, "pending": self.pending })
    }
}

/// The status answer, from the rollout and the runners' last reports. A halted canary's cohort keeps the canary
/// revision as its target here (pushing it is paused), so its failures stay visible.
pub fn status_json(group: &str, rollout: &Rollout, runners: &[RunnerRecord]) -> Value {
    let (mut stable, mut canary) = (Tally::default(), Tally::default());
    let mut rows = Vec::with_capacity(runners.len());
    for runner in runners {
        let report: PolicyReport = serde_json::from_value(runner.policy.clone()).unwrap_or_default();
        let cohort = cohort(rollout, &runner.runner_id);
        let target = match (cohort, &rollout.canary) {
            (Cohort::Canary, Some(c)) => Some(c.revision),
            _ => target(rollout, &runner.runner_id),
        };
        let tally = if cohort == Cohort::Canary { &mut canary } else { &mut stable };
        tally.runners += 1;
        let wanted = target.unwrap_or(0);
        if report.active() == wanted {
            tally.applied += 1;
        } else if report.state == ReportState::Failed && report.revision == wanted {
            tally.failed += 1;
        } else {
            tally.pending += 1;
        }
        rows.push(json!({
            "runner_id": runner.runner_id,
            "cohort": cohort,
            "target_revision": target,
            "revision": report.revision,
            "state": report.state,
            "error": report.error,
            "active_revision": report.active(),
            "floored": report.floored,
            "last_seen_ms": runner.last_seen_ms,
        }));
    }
    let mut answer = rollout_json(group, rollout);
    answer["cohorts"] = json!({ "stable": stable.json(), "canary": canary.json() });
    answer["runners"] = Value::Array(rows);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(id: &str, policy: Value) -> RunnerRecord {
        RunnerRecord {
            runner_id: id.into(),
            tenant: "t".into(),
            group: "g".into(),
            hostname: String::new(),
            version: String::new(),
            enrolled_at_ms: 0,
            last_seen_ms: Some(1),
            buffer: json!({}),
            outcomes: json!({}),
            upload: json!({}),
            policy,
            cert_not_after_ms: 0,
            revoked: false,
            revoked_at_ms: None,
        }
    }

    #[test]
    fn status_counts_applied_failed_and_pending_per_cohort() {
        let ids: Vec<String> = (0..100).map(|i| format!("r_{i}")).collect();
        let inside = ids.iter().find(|id| traceflow_protocol::policy::in_canary(id, 50)).unwrap();
        let outside = ids.iter().find(|id| !traceflow_protocol::policy::in_canary(id, 50)).unwrap();
        let halted = Canary {
            revision: 3,
            percent: 50,
            status: CanaryStatus::Halted,
            halted_by: Some(inside.clone()),
            halted_error: Some(json!({"code": "invalid_policy", "message": "m"})),
            halted_at_ms: Some(1),
        };
        let rollout = Rollout { stable: Some(2), canary: Some(halted) };
        let runners = [
            runner(inside, json!({"revision": 3, "state": "failed", "active_revision": 2, "error": {"code": "x"}})),
            runner(outside, json!({"revision": 2, "state": "applied"})),
            runner("r_new", json!({})),
        ];
        let status = status_json("g", &rollout, &runners);
        assert_eq!(status["canary"]["status"], "halted");
        let failed = &status["runners"][0];
        assert_eq!((failed["cohort"].as_str(), failed["target_revision"].as_u64()), (Some("canary"), Some(3)));
        assert_eq!(failed["state"], "failed");
        let total = |field: &str| {
            status["cohorts"]["stable"][field].as_u64().unwrap() + status["cohorts"]["canary"][field].as_u64().unwrap()
        };
        assert_eq!((total("runners"), total("applied"), total("failed"), total("pending")), (3, 1, 1, 1));
        assert_eq!(status["cohorts"]["canary"]["failed"], 1);
        assert_eq!(
            error_text(Some(&json!({"code": "invalid_policy", "message": "bad", "path": "pii.x"}))),
            "invalid_policy: bad (at pii.x)"
        );
    }

    #[test]
    fn notes_need_a_message_and_bound_both_fields() {
        assert_eq!(note(Some(" why ".into()), None, None).unwrap(), ("why".into(), "admin".into()));
        assert!(note(None, None, None).is_err());
        assert!(note(Some("  ".into()), None, None).is_err());
        assert_eq!(note(None, Some("d".into()), Some("ann".into())).unwrap(), ("d".into(), "ann".into()));
        assert!(note(Some("m".into()), None, Some(String::new())).is_err());
        assert!(note(Some("x".repeat(MAX_MESSAGE_LEN + 1)), None, None).is_err());
    }
}
