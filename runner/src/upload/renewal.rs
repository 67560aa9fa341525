//! Renewal: replaces the client certificate at two thirds of its lifetime, switching only after a check-in with
//! the new one succeeded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::checkin::checkin;
use super::pacing::Backoff;
use super::{now_ms, Shared};
use crate::identity::Identity;
use crate::link::{self, Link};
use crate::metrics::{Outcome, OutcomeLabel};

pub(super) async fn renew_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(300) };
    let mut failures = 0u32;
    loop {
        let identity = shared.identity.borrow().identity.clone();
        let due = identity.renew_at_ms();
        let wait = if failures > 0 {
            backoff.delay(failures, None, fastrand::f64())
        } else {
            Duration::from_millis(due.saturating_sub(now_ms()))
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if now_ms() < identity.renew_at_ms() {
            continue;
        }
        match renew(&shared, &identity).await {
            Ok((renewed, link)) => {
                failures = 0;
                tracing::info!(not_after_ms = renewed.info.not_after_ms, "client certificate renewed");
                shared.metrics.renewals.get_or_create(&OutcomeLabel { outcome: Outcome::Renewed }).inc();
                shared.identity.send_modify(|current| {
                    current.generation += 1;
                    current.identity = Arc::new(renewed);
                    current.link = link;
                });
            }
            Err(reason) => {
                failures = failures.saturating_add(1);
                shared.metrics.renewals.get_or_create(&OutcomeLabel { outcome: Outcome::Failed }).inc();
                tracing::warn!(%reason, "certificate renewal failed; the current certificate stays in use");
            }
        }
    }
}

/// `POST /v1/runner/renew` with a fresh key, then one checkin with the new certificate, then the switch.
async fn renew(shared: &Shared, identity: &Identity) -> Result<(Identity, Link), String> {
    let pair = traceflow_certs::generate_key_and_csr(&identity.info.runner_id).map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&serde_json::json!({ "csr_pem": pair.csr_pem })).unwrap_or_default();
    let reply = link::call_once(identity.tls.clone(), &shared.url, "/v1/runner/renew", &[], body.into())
        .await
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(reply.describe());
    }
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
    let cert_pem = answer["cert_pem"].as_str().ok_or("renew answer without cert_pem")?.to_string();
    let not_after_ms = answer["not_after_ms"].as_u64().ok_or("renew answer without not_after_ms")?;
    let renewed = identity
        .with_certificate(traceflow_certs::KeyAndCert { key_pem: pair.key_pem, cert_pem }, now_ms(), not_after_ms)
        .map_err(|e| e.to_string())?;
    renewed.save_next(&shared.data_dir).map_err(|e| e.to_string())?;
    let link = Link::new(renewed.tls.clone(), &shared.url).map_err(|e| e.to_string())?;
    checkin(shared, &renewed, &link, Duration::ZERO)
        .await
        .map_err(|e| format!("the renewed certificate does not work yet: {e}"))?;
    renewed.promote_next(&shared.data_dir).map_err(|e| e.to_string())?;
    Ok((renewed, link))
}
