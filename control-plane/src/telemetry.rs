//! Logging setup. Logs carry request outcomes, sizes, runner ids and chunk ids, never payload contents or secrets.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber on stderr; `RUST_LOG` overrides `level`. Safe to call more than once.
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
