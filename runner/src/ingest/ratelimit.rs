//! Per-project token buckets on events, so one noisy project cannot take the runner's capacity.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitConfig;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `None` when rate limiting is off.
    pub fn new(config: &RateLimitConfig) -> Option<RateLimiter> {
        (config.events_per_second > 0).then(|| {
            let rate = config.events_per_second as f64;
            let burst = if config.burst == 0 { rate } else { config.burst as f64 };
            RateLimiter { rate, burst, buckets: Mutex::new(HashMap::new()) }
        })
    }

    /// Takes `events` tokens from `project`'s bucket, or says how many seconds to wait.
    /// A batch larger than the whole bucket passes when the bucket is full, and leaves it in debt.
    pub fn take(&self, project: &str, events: usize, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(project.to_owned()).or_insert(Bucket { tokens: self.burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        let needed = (events as f64).min(self.burst);
        if bucket.tokens >= needed {
            bucket.tokens -= events as f64;
            Ok(())
        } else {
            Err(((needed - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_over_time() {
        let limiter = RateLimiter::new(&RateLimitConfig { events_per_second: 10, burst: 20 }).unwrap();
        let t0 = Instant::now();
        assert!(limiter.take("p", 15, t0).is_ok());
        assert_eq!(limiter.take("p", 10, t0), Err(1));
        assert!(limiter.take("other", 20, t0).is_ok());
        assert!(limiter.take("p", 10, t0 + Duration::from_millis(500)).is_ok());
        assert!(RateLimiter::new(&RateLimitConfig::default()).is_none());
    }
}
