//! Prometheus metrics of the runner: every request and event outcome, bytes through each stage, the buffer's
//! size and depth, and group-commit latency. Label values are fixed strings from this code, never from input.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EntityLabel {
    pub entity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: Outcome,
}

/// Every value the `outcome` label takes, by metric family; the label's text is [`Outcome::as_str`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    // Batches and events: every one ends in exactly one of these.
    Accepted,
    Duplicate,
    Filtered,
    Invalid,
    Unauthorized,
    RateLimited,
    Unavailable,
    // Chunk uploads (also `Duplicate`).
    Delivered,
    Retry,
    Refused,
    DeadLetter,
    Expired,
    // Certificate renewals and policy applies (also `Failed`).
    Renewed,
    Applied,
    Failed,
    // Detokenize requests.
    Ok,
    NotAToken,
    Unknown,
    Erased,
    KeyDestroyed,
    Tampered,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Filtered => "filtered",
            Outcome::Invalid => "invalid",
            Outcome::Unauthorized => "unauthorized",
            Outcome::RateLimited => "rate_limited",
            Outcome::Unavailable => "unavailable",
            Outcome::Delivered => "delivered",
            Outcome::Retry => "retry",
            Outcome::Refused => "refused",
            Outcome::DeadLetter => "dead_letter",
            Outcome::Expired => "expired",
            Outcome::Renewed => "renewed",
            Outcome::Applied => "applied",
            Outcome::Failed => "failed",
            Outcome::Ok => "ok",
            Outcome::NotAToken => "not_a_token",
            Outcome::Unknown => "unknown",
            Outcome::Erased => "erased",
            Outcome::KeyDestroyed => "key_destroyed",
            Outcome::Tampered => "tampered",
            Outcome::Error => "error",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<StatusLabel, Counter>,
    pub batches: Family<OutcomeLabel, Counter>,
    pub events: Family<OutcomeLabel, Counter>,
    pub bytes_received: Counter,
    pub bytes_decoded: Counter,
    pub bytes_stored: Counter,
    pub buffer_live_bytes: Gauge,
    pub buffer_disk_bytes: Gauge,
    pub buffer_depth: Gauge,
    pub flushes: Counter,
    pub flush_seconds: Histogram,
    pub group_batches: Histogram,
    pub request_seconds: Histogram,
    pub damaged_chunks: Counter,
    pub uploads: Family<OutcomeLabel, Counter>,
    pub pii_replaced: Family<EntityLabel, Counter>,
    pub pii_strings_scanned: Counter,
    pub upload_bytes: Counter,
    pub upload_seconds: Histogram,
    pub checkins: Family<StatusLabel, Counter>,
    pub renewals: Family<OutcomeLabel, Counter>,
    pub vault_tokens: Counter,
    pub vault_entries_written: Counter,
    pub vault_store_errors: Counter,
    pub vault_detokenize: Family<OutcomeLabel, Counter>,
    pub policy_revision: Gauge,
    pub buffer_disk_budget: Gauge,
    pub policy_applies: Family<OutcomeLabel, Counter>,
    pub ingest_in_flight: Gauge,
    pub storage_free_bytes: Gauge,
    pub storage_low: Gauge,
    pub checkin_bad_answers: Counter,
    pub values_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("traceflow_runner");
        let requests = Family::<StatusLabel, Counter>::default();
        let batches = Family::<OutcomeLabel, Counter>::default();
        let events = Family::<OutcomeLabel, Counter>::default();
        let flush_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let group_batches = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let request_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register("http_requests", "Ingest API requests by status code", requests.clone());
        registry.register("batches", "SDK batches by outcome", batches.clone());
        registry.register("events", "Events (analytics plus replay) by outcome", events.clone());
        registry.register("buffer_flush_seconds", "Group-commit flush latency", flush_seconds.clone());
        registry.register("buffer_group_batches", "Batches made durable by one flush", group_batches.clone());
        registry.register(
            "ingest_request_seconds",
            "Time from request head to answer for POST /v1/batch",
            request_seconds.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let metric = Counter::default();
            registry.register(name, help, metric.clone());
            metric
        };
        let bytes_received = counter(&mut registry, "received_bytes", "Request body bytes as received");
        let bytes_decoded = counter(&mut registry, "decoded_bytes", "Request body bytes after decompression");
        let values_dropped = counter(
            &mut registry,
            "oversized_values_dropped",
            "Values over limits.max_string_bytes replaced in a batch that was kept",
        );
        let bytes_stored = counter(&mut registry, "stored_bytes", "Compressed bytes written to the buffer");
        let flushes = counter(&mut registry, "buffer_flushes", "Group-commit flushes");
        let damaged_chunks =
            counter(&mut registry, "buffer_damaged_chunks", "Damaged chunks found and removed on open");
        let vault_tokens = counter(&mut registry, "vault_tokens", "Values replaced by a vault token");
        let vault_entries_written =
            counter(&mut registry, "vault_entries_written", "Encrypted originals written to the vault");
        let vault_store_errors =
            counter(&mut registry, "vault_store_errors", "Originals the vault could not store (request answered 503)");
        let vault_detokenize = Family::<OutcomeLabel, Counter>::default();
        registry.register("vault_detokenize", "Detokenize requests by outcome", vault_detokenize.clone());
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let metric = Gauge::default();
            registry.register(name, help, metric.clone());
            metric
        };
        let buffer_live_bytes = gauge(&mut registry, "buffer_live_bytes", "Bytes of chunks held in the buffer");
        let buffer_disk_bytes = gauge(&mut registry, "buffer_disk_bytes", "Size of the buffer's files on disk");
        let buffer_depth = gauge(&mut registry, "buffer_depth_chunks", "Chunks held in the buffer");
        let pii_replaced = Family::<EntityLabel, Counter>::default();
        registry.register("pii_replaced", "PII values replaced before buffering, by entity", pii_replaced.clone());
        let pii_strings_scanned =
            counter(&mut registry, "pii_strings_scanned", "JSON string values examined by the PII scrubber");
        let uploads = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "upload_chunks",
            "Chunk uploads by outcome (delivered, duplicate, retry, refused, dead_letter)",
            uploads.clone(),
        );
        let upload_bytes = counter(&mut registry, "upload_bytes", "Chunk bytes delivered to the control plane");
        let upload_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register("upload_seconds", "Latency of successful chunk uploads", upload_seconds.clone());
        let checkins = Family::<StatusLabel, Counter>::default();
        registry.register("checkins", "Status reports to the control plane by answer status", checkins.clone());
        let renewals = Family::<OutcomeLabel, Counter>::default();
        registry.register("certificate_renewals", "Client certificate renewals by outcome", renewals.clone());
        let policy_revision =
            gauge(&mut registry, "policy_revision", "Revision of the active signed policy (0: local configuration)");
        let policy_applies = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "policy_applies",
            "Signed policies received, by outcome (applied, failed)",
            policy_applies.clone(),
        );
        let buffer_disk_budget = gauge(
            &mut registry,
            "buffer_disk_budget_bytes",
            "Disk budget in force (the smaller of the configuration's and the policy's)",
        );
        let ingest_in_flight =
            gauge(&mut registry, "ingest_in_flight", "POST /v1/batch requests between arrival and answer");
        let checkin_bad_answers = counter(
            &mut registry,
            "checkin_bad_answers",
            "Check-in answers from the control plane that could not be read (reported as a failed policy state)",
        );
        let storage_free_bytes =
            gauge(&mut registry, "storage_free_bytes", "Free bytes on the data dir's filesystem at the last check");
        let storage_low = gauge(
            &mut registry,
            "storage_low",
            "1 while free space is below storage.min_free_bytes (new batches refused), else 0",
        );
        Metrics {
            storage_free_bytes,
            storage_low,
            ingest_in_flight,
            checkin_bad_answers,
            policy_revision,
            buffer_disk_budget,
            policy_applies,
            registry,
            requests,
            batches,
            events,
            bytes_received,
            bytes_decoded,
            values_dropped,
            bytes_stored,
            buffer_live_bytes,
            buffer_disk_bytes,
            buffer_depth,
            flushes,
            flush_seconds,
            group_batches,
            request_seconds,
            damaged_chunks,
            uploads,
            pii_replaced,
            pii_strings_scanned,
            upload_bytes,
            upload_seconds,
            checkins,
            renewals,
            vault_tokens,
            vault_entries_written,
            vault_store_errors,
            vault_detokenize,
        }
    }

    pub fn outcome(&self, outcome: Outcome, events: usize) {
        self.batches.get_or_create(&OutcomeLabel { outcome }).inc();
        if events > 0 {
            self.events.get_or_create(&OutcomeLabel { outcome }).inc_by(events as u64);
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
