//! The runner's configuration file (`runner.toml`): one documented struct per section, a default for every
//! field, unknown fields rejected, and [`RunnerConfig::validate`] for what serde cannot check.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use traceflow_pii::PiiConfig;
use traceflow_protocol::policy::Floor;
use traceflow_protocol::{Codec, Limits};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The filesystem under the data dir.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Free bytes kept on the data dir's filesystem: below it new batches get 503 `disk_full` and `/readyz` says
    /// not ready, while uploads (which free space) go on. Default: the larger of 256 MiB and 2 % of the filesystem, at most a quarter of it.
    pub min_free_bytes: Option<u64>,
}

/// Top level of `runner.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Address the SDK ingest API listens on.
    pub listen: SocketAddr,
    /// Directory for the durable buffer and runner state. Created if missing.
    pub data_dir: PathBuf,
    /// Project keys SDKs authenticate with. At least one is required to accept data.
    pub project_keys: Vec<String>,
    /// Seconds a SIGTERM waits for in-flight requests before closing connections.
    pub shutdown_grace_secs: u64,
    /// Concurrent client connections; at the limit the longest-idle keep-alive connection is closed for a new one
    /// (a new client waits only while every connection has a request in progress).
    pub max_connections: usize,
    /// `Retry-After` seconds sent with 503 answers.
    pub retry_after_secs: u64,
    /// Sessions whose sensitive replay inputs (password, card, … fields of a snapshot) are remembered between
    /// batches, so what is typed into them later is tokenized whole rather than scanned; 0 disables.
    pub replay_sessions: usize,
    /// Threads that replace PII and compress the result, so the scrubber's tables stay in their core's caches; 0
    /// (the default) means half the cores, at least two.
    pub scrub_threads: usize,
    pub limits: Limits,
    pub buffer: BufferConfig,
    pub storage: StorageConfig,
    pub cors: CorsConfig,
    pub rate_limit: RateLimitConfig,
    /// HTTPS for the ingest listener; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
    pub log: LogConfig,
    pub upload: UploadConfig,
    pub vault: VaultConfig,
    /// PII detection and the action per entity and per field (tokenize by default). A signed policy from the
    /// control plane replaces this section (within `floor`).
    pub pii: PiiConfig,
    /// What no remote policy can lower: the weakest PII action and the largest share of sessions sampled out.
    pub floor: Floor,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7480)),
            data_dir: PathBuf::from("./traceflow-runner-data"),
            project_keys: Vec::new(),
            shutdown_grace_secs: 10,
            max_connections: 1024,
            retry_after_secs: 5,
            replay_sessions: 16384,
            scrub_threads: 0,
            limits: Limits::default(),
            buffer: BufferConfig::default(),
            storage: StorageConfig::default(),
            cors: CorsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            tls: None,
            log: LogConfig::default(),
            upload: UploadConfig::default(),
            pii: PiiConfig::default(),
            vault: VaultConfig::default(),
            floor: Floor::default(),
        }
    }
}

/// Uploads to the control plane. Active once the data dir holds an enrolled identity
/// (`traceflow-runner enroll`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// Set to false to only buffer (e.g. while an outage is planned).
    pub enabled: bool,
    /// Overrides the control-plane URL recorded at enrollment (`https://host:port`).
    pub control_plane_url: Option<String>,
    /// Concurrent uploads on the very first start; afterwards the adapted value is remembered.
    pub initial_concurrency: usize,
    pub min_concurrency: usize,
    pub max_concurrency: usize,
    /// Uploads slower than this count as congestion and halve the concurrency.
    pub latency_target_ms: u64,
    /// Consecutive buffered chunks are joined into one upload up to about this many bytes (a backlog drains in
    /// few large requests; a live stream still sends each chunk as it comes). 0 sends every chunk on its own.
    pub max_upload_bytes: u64,
    /// Connect plus answer time of one upload before it counts as failed (and is retried).
    pub request_timeout_secs: u64,
    /// First retry waits up to this long; each further failure doubles the ceiling (full jitter).
    pub backoff_base_ms: u64,
    /// Longest wait between retries.
    pub backoff_max_secs: u64,
    /// Seconds between status reports (buffer, outcomes, upload lag) to the control plane.
    pub status_interval_secs: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            enabled: true,
            control_plane_url: None,
            initial_concurrency: 4,
            min_concurrency: 1,
            max_concurrency: 16,
            latency_target_ms: 2000,
            max_upload_bytes: 1 << 20,
            request_timeout_secs: 30,
            backoff_base_ms: 250,
            backoff_max_secs: 60,
            status_interval_secs: 10,
        }
    }
}

/// Largest `upload.max_upload_bytes`: well under the control plane's 64 MiB chunk limit, since one buffered chunk
/// may take an upload past it.
pub const MAX_UPLOAD_BYTES: u64 = 32 << 20;

impl UploadConfig {
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

/// The durable buffer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BufferConfig {
    /// Most bytes the buffer's files may take on disk; beyond it ingest answers 503 until uploads free space.
    pub disk_budget_bytes: u64,
    /// Compression of stored batches: "zstd", "lz4" or "none".
    pub compression: Codec,
    /// zstd level, 1 (fastest) to 19.
    pub zstd_level: i32,
    /// Largest chunk (compressed bytes) one group commit writes; bounds upload request size.
    pub max_chunk_bytes: usize,
    /// How long a session's seen `seq` numbers are remembered for deduplicating retries.
    pub dedup_window_secs: u64,
    /// Memory the storage engine may use as page cache.
    pub cache_bytes: u64,
    /// Decompressed request bytes held in memory across all in-flight requests; further requests wait.
    pub max_inflight_bytes: usize,
    /// Longest a group commit waits, in microseconds, for requests already being decoded before it flushes.
    /// It never waits when no other request is in progress, so a lone request is not delayed.
    pub commit_delay_us: u64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            disk_budget_bytes: 10 * 1024 * 1024 * 1024,
            compression: Codec::Zstd,
            zstd_level: 1,
            max_chunk_bytes: 1024 * 1024,
            dedup_window_secs: 24 * 3600,
            cache_bytes: 32 * 1024 * 1024,
            max_inflight_bytes: 128 * 1024 * 1024,
            commit_delay_us: 1000,
        }
    }
}

/// The token vault (originals of tokenized values, encrypted in the runner's own storage).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// Key file (token, hash and encryption keys; mode 0600). Default `<data_dir>/vault.keys`, created on first
    /// start. A file configured here must exist unless `create_key_file` is set: a missing secret mount must not
    /// silently become a new key, which would change every token and orphan the vault's entries.
    pub key_file: Option<PathBuf>,
    /// Create `key_file` (mode 0600) when it does not exist.
    pub create_key_file: bool,
    /// Recently stored tokens remembered in memory (by a keyed hash of the value, never the value), so a value
    /// that repeats gets its token without the HMAC and the storage lookup; 0 disables.
    pub recent_tokens: usize,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig { key_file: None, create_key_file: false, recent_tokens: 65536 }
    }
}

/// Cross-origin access for browser SDKs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to send batches (`https://app.example.com`), or `"*"` for any.
    /// Requests without an `Origin` header (mobile and backend SDKs) are not affected.
    pub allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig { allowed_origins: vec!["*".into()], max_age_secs: 86400 }
    }
}

/// Per-project token bucket on events (analytics plus replay). Off when `events_per_second` is 0.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub events_per_second: u64,
    /// Bucket size; defaults to one second's worth when 0.
    pub burst: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `traceflow_runner=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Text, level: "info".into() }
    }
}

impl RunnerConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<RunnerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config: RunnerConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), source: Box::new(e) })?;
        Ok(config)
    }

    /// Checks the bounds serde cannot express. `run` calls it after command-line overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        self.limits.validate().map_err(ConfigError::Invalid)?;
        // An enrolled runner may get its project keys from its signed policy instead.
        if self.project_keys.is_empty() && !crate::identity::Identity::exists(&self.data_dir) {
            return invalid("no project keys: set `project_keys` or pass --project-key (or enroll the runner with a control plane whose policy lists projects)".into());
        }
        if !(0.0..=1.0).contains(&self.floor.max_sampling_drop) {
            return invalid(format!("floor.max_sampling_drop = {} is outside 0.0..=1.0", self.floor.max_sampling_drop));
        }
        if let Some(key) =
            self.project_keys.iter().find(|k| k.len() < 8 || k.len() > 256 || k.chars().any(|c| !c.is_ascii_graphic()))
        {
            let shown: String = key.chars().take(4).collect();
            return invalid(format!("project key `{shown}…` must be 8 to 256 printable ASCII characters"));
        }
        if !(1..=19).contains(&self.buffer.zstd_level) {
            return invalid(format!("buffer.zstd_level = {} is outside 1..=19", self.buffer.zstd_level));
        }
        if self.buffer.disk_budget_bytes < 16 * 1024 * 1024 {
            return invalid("buffer.disk_budget_bytes must be at least 16 MiB".into());
        }
        if !(64 * 1024..=64 * 1024 * 1024).contains(&self.buffer.max_chunk_bytes) {
            return invalid("buffer.max_chunk_bytes must be between 64 KiB and 64 MiB".into());
        }
        if self.buffer.max_inflight_bytes < self.limits.max_decompressed_bytes {
            return invalid("buffer.max_inflight_bytes must be at least limits.max_decompressed_bytes".into());
        }
        if self.buffer.commit_delay_us > 100_000 {
            return invalid("buffer.commit_delay_us must be at most 100000 (100 ms)".into());
        }
        if self.vault.recent_tokens > 16 * 1024 * 1024 {
            return invalid("vault.recent_tokens must be at most 16777216".into());
        }
        if self.replay_sessions > 1024 * 1024 {
            return invalid("replay_sessions must be at most 1048576".into());
        }
        if self.scrub_threads > 256 {
            return invalid("scrub_threads must be at most 256".into());
        }
        if self.max_connections == 0 || self.retry_after_secs == 0 {
            return invalid("max_connections and retry_after_secs must be positive".into());
        }
        for origin in &self.cors.allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return invalid(format!(
                    "cors.allowed_origins: `{origin}` is not an origin like https://app.example.com"
                ));
            }
        }
        if let Err(errors) = self.pii.validate() {
            return invalid(format!("pii: {errors}"));
        }
        let upload = &self.upload;
        if upload.min_concurrency == 0
            || upload.max_concurrency < upload.min_concurrency
            || upload.max_concurrency > 256
        {
            return invalid("upload: need 1 <= min_concurrency <= max_concurrency <= 256".into());
        }
        if upload.max_upload_bytes > MAX_UPLOAD_BYTES {
            return invalid(format!("upload.max_upload_bytes: at most {MAX_UPLOAD_BYTES} (the control plane's limit)"));
        }
        if upload.backoff_base_ms == 0 || upload.backoff_max_secs == 0 || upload.status_interval_secs == 0 {
            return invalid(
                "upload: backoff_base_ms, backoff_max_secs and status_interval_secs must be positive".into(),
            );
        }
        if let Some(url) = &upload.control_plane_url {
            if !url.starts_with("https://") {
                return invalid(format!("upload.control_plane_url: `{url}` must be an https:// URL"));
            }
        }
        if let Some(tls) = &self.tls {
            for path in [&tls.cert, &tls.key] {
                if !path.is_file() {
                    return invalid(format!("tls: {} is not a readable file", path.display()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_unknown_fields_fail() {
        let config: RunnerConfig = toml::from_str("project_keys = [\"pk_test_123\"]").unwrap();
        config.validate().unwrap();
        assert!(toml::from_str::<RunnerConfig>("listn = \"1.2.3.4:5\"").is_err());
        assert!(toml::from_str::<RunnerConfig>("[buffer]\ncompresion = \"zstd\"").is_err());
        let bad: RunnerConfig = toml::from_str("project_keys = [\"pk_test_123\"]\n[buffer]\nzstd_level = 40").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("zstd_level"));
        let threads: RunnerConfig = toml::from_str("project_keys = [\"pk_test_123\"]\nscrub_threads = 300").unwrap();
        assert!(threads.validate().unwrap_err().to_string().contains("scrub_threads"));
        let no_keys = RunnerConfig::default();
        assert!(no_keys.validate().unwrap_err().to_string().contains("project keys"));
    }
}
