//! The admin API's routes (`/v1/admin/...`): sessions, runners, enrollment tokens, the audit log and policies.

use super::*;

#[derive(Deserialize)]
pub(super) struct NewTokenRequest {
    #[serde(default = "default_group")]
    group: String,
    #[serde(default = "one")]
    uses: u32,
    #[serde(default = "hour")]
    ttl_secs: u64,
}

pub(super) fn default_group() -> String {
    "default".into()
}

pub(super) fn one() -> u32 {
    1
}

pub(super) fn hour() -> u64 {
    3600
}

pub(super) async fn admin_route(
    app: &Arc<App>,
    remote: Option<IpAddr>,
    method: &Method,
    rest: &[String],
    request: &mut Exchange,
) -> Result<Response<Body>, ApiError> {
    let result = async {
        let caller = admin_caller(app, remote, request)?;
        let tenant = caller.tenant.clone();
        let query = request.head.uri.query().map(str::to_string);
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let (get, post) = (method == Method::GET, method == Method::POST);
        match rest.as_slice() {
            ["sessions"] if get => {
                let store = app.store.clone();
                blocking(move || admin::sessions(&store, &tenant, query.as_deref())).await.map(ok)
            }
            ["sessions", session, "events"] if get => {
                let (store, session) = (app.store.clone(), admin::decode_path_segment(session));
                blocking(move || admin::session_events(&store, &tenant, &session, query.as_deref())).await.map(ok)
            }
            ["runners"] if get => admin::runners(&app.store, &tenant).map(ok),
            ["runners", runner_id, "revoke"] if post => {
                admin::revoke(&app.store, &caller, &admin::decode_path_segment(runner_id)).await.map(ok)
            }
            ["audit"] if get => {
                let store = app.store.clone();
                blocking(move || admin::audit(&store, &tenant, query.as_deref())).await.map(ok)
            }
            ["groups", group, "policy", rest @ ..] => {
                let body = if post {
                    request
                        .body(MAX_POLICY_BODY_BYTES)
                        .await
                        .map_err(|e| body_error(e, ApiError::RequestTooLarge(MAX_POLICY_BODY_BYTES)))?
                } else {
                    Vec::new()
                };
                let policy_caller = policies::admin::Caller { tenant: &caller.tenant, actor: &caller.actor };
                let group = admin::decode_path_segment(group);
                let (status, answer) = policies::admin::route(
                    &app.policies,
                    &policy_caller,
                    &group,
                    method,
                    rest,
                    query.as_deref(),
                    &body,
                )
                .await?;
                Ok(json_response(status, &answer))
            }
            ["enrollment-tokens"] if post => {
                let body = request.json_body().await?;
                let new: NewTokenRequest = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::InvalidRequest(format!("invalid enrollment token request: {e}")))?;
                let token =
                    app.enrollment.create_token(&tenant, &caller.actor, &new.group, new.uses, new.ttl_secs).await?;
                Ok(json_response(StatusCode::CREATED, &json!(token)))
            }
            ["enrollment-tokens"] if get => {
                let tokens: Vec<Value> = app
                    .enrollment
                    .tokens(&tenant)?
                    .into_iter()
                    .map(|t| {
                        json!({
                            "id": t.id,
                            "group": t.group,
                            "uses": t.uses,
                            "used": t.used,
                            "expires_at_ms": t.expires_at_ms,
                            "created_at_ms": t.created_at_ms,
                        })
                    })
                    .collect();
                Ok(ok(json!({ "tokens": tokens })))
            }
            ["sessions"]
            | ["sessions", _, "events"]
            | ["runners"]
            | ["runners", _, "revoke"]
            | ["audit"]
            | ["enrollment-tokens"] => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }
    .await;
    app.metrics.admin_requests.get_or_create(&outcome(&result, "ok")).inc();
    result
}
