//! TRACEFLOW's HTTP plumbing, shared by both services and the tools.
//!
//! In the data flow every HTTP exchange goes through here: SDKs reach the runner's ingest listener and runners and
//! admins reach the control plane's through [`serve`] (bounded accepting that stops on request, HTTP/1.1 connections
//! with a header timeout and graceful shutdown, JSON answers, the shutdown signal) and [`body`] (bodies read whole within a bound); the runner's uploader, check-ins
//! and enrollment, the admin CLI and the benchmarks call out through [`client`] (hyper-util's pooled client over
//! rustls, with a deadline per request and a bounded response body). TLS configurations come from
//! `traceflow-certs`; nothing here knows a route.

#![forbid(unsafe_code)]

pub mod body;
pub mod client;
pub mod serve;
