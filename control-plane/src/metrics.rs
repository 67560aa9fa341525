//! Prometheus metrics of the control plane (prefix `traceflow_cp_`): requests by route and status, uploads,
//! enrollments, renewals and check-ins by outcome, bytes received and stored, records stored and duplicated,
//! group-commit latency, held check-ins and policy bundles pushed. Label values are fixed strings from this code, never from input.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabel, Counter>,
    pub uploads: Family<OutcomeLabel, Counter>,
    pub enrollments: Family<OutcomeLabel, Counter>,
    pub renewals: Family<OutcomeLabel, Counter>,
    pub checkins: Family<OutcomeLabel, Counter>,
    pub admin_requests: Family<OutcomeLabel, Counter>,
    /// Wrong admin tokens presented (admin API and `/metrics`).
    pub admin_auth_failures: Counter,
    /// Requests refused 429 because their address presented too many wrong admin tokens.
    pub admin_auth_throttled: Counter,
    /// Upload bodies as they came over the wire.
    pub received_bytes: Counter,
    /// Compressed record bytes newly stored.
    pub stored_bytes: Counter,
    /// Uncompressed size of the records newly stored.
    pub stored_raw_bytes: Counter,
    pub records_stored: Counter,
    /// Records already stored from another chunk (same tenant, project, session and seq).
    pub records_duplicate: Counter,
    pub uploads_in_flight: Gauge,
    /// Group commits that failed (their uploads were answered 503).
    pub commit_failures: Counter,
    /// Free bytes on the data dir's filesystem at the last check.
    pub storage_free_bytes: Gauge,
    /// 1 while free space is below `min_free_bytes` (uploads refused).
    pub storage_low: Gauge,
    /// Check-ins held waiting for a newer policy.
    pub checkins_waiting: Gauge,
    /// Signed policy bundles sent in check-in answers.
    pub policy_pushes: Counter,
    pub upload_seconds: Histogram,
    pub flush_seconds: Histogram,
    pub group_uploads: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("traceflow_cp");
        let requests = Family::<RouteLabel, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        let family = |registry: &mut Registry, name: &str, help: &str| {
            let metric = Family::<OutcomeLabel, Counter>::default();
            registry.register(name, help, metric.clone());
            metric
        };
        let uploads = family(&mut registry, "uploads", "Chunk uploads by outcome (stored, duplicate, or error code)");
        let enrollments = family(&mut registry, "enrollments", "Enrollment attempts by outcome");
        let renewals = family(&mut registry, "renewals", "Certificate renewals by outcome");
        let checkins = family(&mut registry, "checkins", "Runner check-ins by outcome");
        let admin_requests = family(&mut registry, "admin_requests", "Admin API requests by outcome");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let metric = Counter::default();
            registry.register(name, help, metric.clone());
            metric
        };
        let received_bytes = counter(&mut registry, "upload_received_bytes", "Upload body bytes as received");
        let admin_auth_failures =
            counter(&mut registry, "admin_auth_failures", "Wrong admin tokens presented (admin API and /metrics)");
        let admin_auth_throttled = counter(
            &mut registry,
            "admin_auth_throttled",
            "Requests refused because their address presented too many wrong admin tokens",
        );
        let stored_bytes = counter(&mut registry, "stored_bytes", "Compressed record bytes newly stored");
        let stored_raw_bytes =
            counter(&mut registry, "stored_raw_bytes", "Uncompressed size of the record bytes newly stored");
        let records_stored = counter(&mut registry, "records_stored", "Records (SDK batches) newly stored");
        let records_duplicate =
            counter(&mut registry, "records_duplicate", "Records already stored from another chunk, not stored again");
        let uploads_in_flight = Gauge::default();
        registry.register("uploads_in_flight", "Uploads being received or committed", uploads_in_flight.clone());
        let commit_failures =
            counter(&mut registry, "commit_failures", "Group commits that failed (their uploads were answered 503)");
        let storage_free_bytes = Gauge::default();
        registry.register(
            "storage_free_bytes",
            "Free bytes on the data dir's filesystem at the last check",
            storage_free_bytes.clone(),
        );
        let storage_low = Gauge::default();
        registry.register(
            "storage_low",
            "1 while free space is below the floor (uploads refused)",
            storage_low.clone(),
        );
        let checkins_waiting = Gauge::default();
        registry.register("checkins_waiting", "Check-ins held waiting for a newer policy", checkins_waiting.clone());
        let policy_pushes = counter(&mut registry, "policy_pushes", "Signed policy bundles sent in check-in answers");
        let upload_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register("upload_seconds", "Time from request head to answer for uploads", upload_seconds.clone());
        let flush_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register("store_flush_seconds", "Group-commit flush latency", flush_seconds.clone());
        let group_uploads = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("store_group_uploads", "Uploads made durable by one flush", group_uploads.clone());
        Metrics {
            registry,
            requests,
            uploads,
            enrollments,
            renewals,
            checkins,
            admin_requests,
            admin_auth_failures,
            admin_auth_throttled,
            received_bytes,
            stored_bytes,
            stored_raw_bytes,
            records_stored,
            records_duplicate,
            uploads_in_flight,
            commit_failures,
            storage_free_bytes,
            storage_low,
            checkins_waiting,
            policy_pushes,
            upload_seconds,
            flush_seconds,
            group_uploads,
        }
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
