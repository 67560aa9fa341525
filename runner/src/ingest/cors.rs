//! Cross-origin rules for browser SDKs: which origins may post batches, and the preflight answer.

use std::collections::HashSet;

use hyper::header::{HeaderMap, HeaderValue, ORIGIN};

use crate::config::CorsConfig;

pub struct Cors {
    any: bool,
    origins: HashSet<String>,
    max_age: HeaderValue,
}

/// What the CORS rules say about one request.
#[derive(Debug, PartialEq, Eq)]
pub enum CorsDecision {
    /// No `Origin` header: not a browser cross-origin request.
    NotCors,
    /// Allowed; echo this origin back.
    Allowed(HeaderValue),
    Denied,
}

pub const ALLOWED_HEADERS: &str = "authorization, content-type, content-encoding, x-traceflow-key";

impl Cors {
    pub fn new(config: &CorsConfig) -> Cors {
        Cors {
            any: config.allowed_origins.iter().any(|o| o == "*"),
            origins: config.allowed_origins.iter().map(|o| o.to_ascii_lowercase()).collect(),
            max_age: HeaderValue::from(config.max_age_secs),
        }
    }

    pub fn check(&self, headers: &HeaderMap) -> CorsDecision {
        let Some(origin) = headers.get(ORIGIN) else {
            return CorsDecision::NotCors;
        };
        let allowed = self.any || origin.to_str().is_ok_and(|o| self.origins.contains(&o.to_ascii_lowercase()));
        if allowed {
            CorsDecision::Allowed(origin.clone())
        } else {
            CorsDecision::Denied
        }
    }

    /// Headers added to every answer of an allowed cross-origin request.
    pub fn apply(&self, decision: &CorsDecision, headers: &mut HeaderMap) {
        if let CorsDecision::Allowed(origin) = decision {
            headers.insert("access-control-allow-origin", origin.clone());
            headers.insert("access-control-expose-headers", HeaderValue::from_static("retry-after"));
            headers.append("vary", HeaderValue::from_static("Origin"));
        }
    }

    /// Extra headers of a successful preflight answer.
    pub fn apply_preflight(&self, headers: &mut HeaderMap) {
        headers.insert("access-control-allow-methods", HeaderValue::from_static("POST, OPTIONS"));
        headers.insert("access-control-allow-headers", HeaderValue::from_static(ALLOWED_HEADERS));
        headers.insert("access-control-max-age", self.max_age.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers
    }

    #[test]
    fn listed_origins_only() {
        let cors = Cors::new(&CorsConfig { allowed_origins: vec!["https://App.example.com".into()], max_age_secs: 60 });
        assert_eq!(cors.check(&HeaderMap::new()), CorsDecision::NotCors);
        assert!(matches!(cors.check(&with_origin("https://app.example.com")), CorsDecision::Allowed(_)));
        assert_eq!(cors.check(&with_origin("https://evil.example.com")), CorsDecision::Denied);
        let any = Cors::new(&CorsConfig::default());
        assert!(matches!(any.check(&with_origin("https://x.test")), CorsDecision::Allowed(_)));
    }
}
