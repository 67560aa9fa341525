//! The admin API's reads and changes: authentication by admin token, sessions and their events, runners and
//! revocation, the audit log. Every function works within the tenant the admin token belongs to. (Policies have
//! their own endpoints in `policies::admin`.)

use serde_json::{json, Value};
pub use traceflow_protocol::url::decode_path_segment;
use traceflow_protocol::url::query_pairs;

use crate::error::ApiError;
use crate::store::{self, batch, keys, AdminToken, AuditEntry, SessionSummary, Store, StoreError};
use crate::{now_ms, sha256};

pub const DEFAULT_SESSIONS: usize = 50;
pub const MAX_SESSIONS: usize = 1000;
/// Batches one events answer holds at most (more are paged with `after_seq`).
pub const DEFAULT_BATCHES: usize = 1000;
pub const MAX_BATCHES: usize = 10_000;
/// Uncompressed batch bytes one events answer holds at most; at least one batch is always returned.
pub const MAX_EVENTS_BYTES: usize = 64 * 1024 * 1024;

/// Most audit entries one answer holds, and the default.
pub const DEFAULT_AUDIT: usize = 100;
pub const MAX_AUDIT: usize = 10_000;

/// An authenticated admin: the token's tenant, and how the audit log names the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    pub tenant: String,
    /// `admin:` and the first 16 hex digits of the token's SHA-256 (enough to tell tokens apart, useless to
    /// guess one).
    pub actor: String,
}

/// The admin of the token in an `Authorization: Bearer …` header, looked up by the presented token's SHA-256
/// (tokens are stored only as digests, keyed by them: a lookup's timing can tell about a digest, never a token).
pub fn authenticate(store: &Store, authorization: Option<&str>) -> Result<Admin, ApiError> {
    // The scheme is case-insensitive (RFC 7235): `bearer` and `BEARER` name it as well as `Bearer`.
    let token = authorization
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::AdminTokenInvalid)?;
    let presented = sha256(token.as_bytes());
    let key = store::token_key(store::ADMIN_TOKEN_PREFIX, &presented);
    let record: AdminToken = store::get_json(&store.tokens, "tokens", &key)?.ok_or(ApiError::AdminTokenInvalid)?;
    let tenant = record.tenant;
    let hex = hex::encode(&presented[..8]);
    Ok(Admin { tenant, actor: format!("admin:{hex}") })
}

/// Query parameters, percent-decoded.
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query_pairs(query.unwrap_or_default()).map(|(name, value)| (name.into_owned(), value.into_owned())).collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

pub fn number(params: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    param(params, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| ApiError::InvalidRequest(format!("`{name}` must be a non-negative integer")))
        })
        .transpose()
}

fn summary_json(session: &str, project: &str, summary: &SessionSummary) -> Value {
    json!({
        "session_id": session,
        "project": project,
        "batches": summary.batches,
        "events": summary.events,
        "replay": summary.replay,
        "first_received_ms": summary.first_received_ms,
        "last_received_ms": summary.last_received_ms,
    })
}

/// `GET /v1/admin/sessions?project=&limit=`: newest first.
pub fn sessions(store: &Store, tenant: &str, query: Option<&str>) -> Result<Value, ApiError> {
    let params = query_params(query);
    let limit = number(&params, "limit")?.map_or(DEFAULT_SESSIONS, |n| n as usize);
    if limit == 0 || limit > MAX_SESSIONS {
        return Err(ApiError::InvalidRequest(format!("`limit` must be 1 to {MAX_SESSIONS}")));
    }
    let scope = param(&params, "project").unwrap_or_default();
    let prefix = keys::recent_prefix(tenant, scope);
    let mut sessions = Vec::new();
    for entry in store.recent.scan_prefix(&prefix) {
        if sessions.len() == limit {
            break;
        }
        let (key, _) = entry.map_err(StoreError::from)?;
        let Some((project, session)) = keys::recent_entry(&key, prefix.len()) else { continue };
        let summary: Option<SessionSummary> =
            store::get_json(&store.sessions, "sessions", &keys::session_key(tenant, &session, &project))?;
        if let Some(summary) = summary {
            sessions.push(summary_json(&session, &project, &summary));
        }
    }
    Ok(json!({ "sessions": sessions }))
}

/// `GET /v1/admin/sessions/{session_id}/events[?project=&after_seq=&limit=]`: the batches in `seq` order, and
/// their events and replay events concatenated. An answer that stops early carries `next_after_seq`.
pub fn session_events(store: &Store, tenant: &str, session: &str, query: Option<&str>) -> Result<Value, ApiError> {
    let params = query_params(query);
    let limit = number(&params, "limit")?.map_or(DEFAULT_BATCHES, |n| n as usize);
    if limit == 0 || limit > MAX_BATCHES {
        return Err(ApiError::InvalidRequest(format!("`limit` must be 1 to {MAX_BATCHES}")));
    }
    let after_seq = number(&params, "after_seq")?;
    let project = match param(&params, "project") {
        Some(project) => {
            if !store.sessions.contains_key(keys::session_key(tenant, session, project)).map_err(StoreError::from)? {
                return Err(ApiError::SessionNotFound);
            }
            project.to_string()
        }
        None => {
            let prefix = keys::session_prefix(tenant, session);
            let mut projects = Vec::new();
            for entry in store.sessions.scan_prefix(&prefix).keys().take(2) {
                let key = entry.map_err(StoreError::from)?;
                projects.extend(keys::session_project(&key, prefix.len()));
            }
            match projects.len() {
                0 => return Err(ApiError::SessionNotFound),
                1 => projects.remove(0),
                _ => {
                    return Err(ApiError::InvalidRequest(
                        "this session id exists in several projects; add ?project=".into(),
                    ))
                }
            }
        }
    };
    let (stored, mut more) = batch::read_session(&store.batches, tenant, &project, session, after_seq, limit)?;
    let mut batches = Vec::with_capacity(stored.len());
    let mut events = Vec::new();
    let mut replay = Vec::new();
    let mut bytes = 0usize;
    let mut last_seq = None;
    for (index, batch) in stored.iter().enumerate() {
        if index > 0 && bytes + batch.raw_len as usize > MAX_EVENTS_BYTES {
            more = true;
            break;
        }
        bytes += batch.raw_len as usize;
        let mut document: Value = serde_json::from_slice(&batch.json()?)
            .map_err(|e| StoreError::Corrupt { tree: "batches", reason: format!("seq {}: {e}", batch.seq) })?;
        for (field, into) in [("events", &mut events), ("replay", &mut replay)] {
            if let Some(Value::Array(items)) = document.get(field) {
                into.extend(items.iter().cloned());
            }
        }
        batches.push(json!({
            "seq": batch.seq,
            "received_at_ms": batch.received_at_ms,
            "runner_id": batch.runner_id,
            "batch": std::mem::take(&mut document),
        }));
        last_seq = Some(batch.seq);
    }
    let mut answer = json!({
        "session_id": session,
        "project": project,
        "batches": batches,
        "events": events,
        "replay": replay,
    });
    if let (true, Some(seq)) = (more, last_seq) {
        answer["next_after_seq"] = seq.into();
    }
    Ok(answer)
}

/// `GET /v1/admin/runners`.
pub fn runners(store: &Store, tenant: &str) -> Result<Value, ApiError> {
    let runners: Vec<Value> = store
        .runners_of(tenant)?
        .into_iter()
        .map(|r| {
            json!({
                "runner_id": r.runner_id,
                "group": r.group,
                "hostname": r.hostname,
                "version": r.version,
                "enrolled_at_ms": r.enrolled_at_ms,
                "last_seen_ms": r.last_seen_ms,
                "buffer": r.buffer,
                "outcomes": r.outcomes,
                "upload": r.upload,
                "policy": r.policy,
                "cert_not_after_ms": r.cert_not_after_ms,
                "revoked": r.revoked,
            })
        })
        .collect();
    Ok(json!({ "runners": runners }))
}

/// `POST /v1/admin/runners/{runner_id}/revoke`: from now on every call with any of its certificates gets 403.
pub async fn revoke(store: &Store, admin: &Admin, runner_id: &str) -> Result<Value, ApiError> {
    let tenant = admin.tenant.as_str();
    match store.runner(runner_id)? {
        Some(runner) if runner.tenant == tenant => {}
        _ => return Err(ApiError::RunnerNotFound),
    }
    let now = now_ms();
    store.update_runner(runner_id, |r| {
        if !r.revoked {
            r.revoked = true;
            r.revoked_at_ms = Some(now);
        }
    })?;
    store.audit(&AuditEntry {
        at_ms: now,
        tenant: tenant.to_string(),
        actor: admin.actor.clone(),
        action: "revoke_runner".into(),
        target: runner_id.to_string(),
        detail: Value::Null,
    })?;
    store.sync().await?;
    tracing::info!(runner_id, "runner revoked");
    Ok(json!({ "runner_id": runner_id, "revoked": true }))
}

/// `GET /v1/admin/audit?limit=`: the tenant's audit log, newest first.
pub fn audit(store: &Store, tenant: &str, query: Option<&str>) -> Result<Value, ApiError> {
    let limit = number(&query_params(query), "limit")?.map_or(DEFAULT_AUDIT, |n| n as usize);
    if limit == 0 || limit > MAX_AUDIT {
        return Err(ApiError::InvalidRequest(format!("`limit` must be 1 to {MAX_AUDIT}")));
    }
    let entries: Vec<Value> = store
        .audit_entries(tenant, limit)?
        .into_iter()
        .map(|(id, e)| {
            json!({
                "id": id,
                "at_ms": e.at_ms,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(json!({ "entries": entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        assert_eq!(query_params(Some("a%2Fb+c%zz%4=1"))[0].0, "a/b c%zz%4");
        assert_eq!(query_params(Some("x=%41"))[0].1, "A");
        let params = query_params(Some("project=p%201&limit=5&flag"));
        assert_eq!(param(&params, "project"), Some("p 1"));
        assert_eq!(number(&params, "limit").unwrap(), Some(5));
        assert_eq!(param(&params, "flag"), Some(""));
        assert!(number(&query_params(Some("limit=-1")), "limit").is_err());
    }
}
