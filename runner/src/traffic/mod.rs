//! Traffic control: which projects may send ([`projects`], by the SHA-256 of their keys) and how much
//! ([`ratelimit`], token buckets and daily quotas). The active policy builds both; ingest consults them for
//! every request.

pub mod projects;
pub mod ratelimit;
