//! The TRACEFLOW Runner: the on-prem daemon SDKs send events and session replays to.
//!
//! In the data flow it is the first hop: [`ingest`] decodes, validates and tokenizes each SDK batch after
//! [`traffic`] control (project keys, rate limits, quotas), [`buffer`] makes it durable with a group-commit sync
//! before the 202 goes out, and [`upload`] drains the buffer to the control plane over mTLS ([`link`]) with the
//! certificate of the runner's [`identity`] (enrollment and renewal). [`policy`] verifies and applies the signed
//! policies the control plane pushes. [`server`] wires these behind HTTP(S), [`config`] is the runner's TOML file,
//! and [`metrics`] and [`telemetry`] make it observable; [`sdk`] serves the browser SDK the binary embeds.
//! [`vault`] keeps the originals of tokenized PII, encrypted, in the same database as the buffer
//! (`traceflow_store`).

pub mod buffer;
mod clock;
pub mod config;
pub mod generations;
pub mod identity;
pub mod ingest;
pub mod link;
pub mod metrics;
pub mod policy;
pub mod sdk;
pub mod server;
pub mod telemetry;
pub mod traffic;
pub mod upload;
pub mod vault;
