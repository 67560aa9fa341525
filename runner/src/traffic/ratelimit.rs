//! Per-project traffic control: a token bucket on events (so one noisy project cannot take the runner's
//! capacity) and a daily quota (events per UTC day). The limits come from the active policy or the local
//! configuration and may change at any time; the buckets and day counters live here and survive those changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

const DAY_MS: u64 = 86_400_000;

/// One project's limits. Zero turns each part off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub events_per_second: u64,
    /// Bucket size; one second's worth when 0.
    pub burst: u64,
    pub daily_quota: u64,
}

impl Limit {
    pub fn is_off(&self) -> bool {
        self.events_per_second == 0 && self.daily_quota == 0
    }
}

impl From<&traceflow_protocol::policy::RateLimit> for Limit {
    fn from(limit: &traceflow_protocol::policy::RateLimit) -> Limit {
        Limit { events_per_second: limit.events_per_second, burst: limit.burst, daily_quota: limit.daily_quota_events }
    }
}

/// Why a batch was refused, with the seconds to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    RateLimited(u64),
    /// The project used its daily quota; the seconds until the next UTC day.
    QuotaExceeded(u64),
}

struct State {
    tokens: f64,
    updated: Instant,
    day: u64,
    used_today: u64,
}

#[derive(Default)]
pub struct RateLimiter {
    projects: Mutex<HashMap<String, State>>,
}

impl RateLimiter {
    /// Takes `events` from `project`'s bucket and quota under `limit`, or says how long to wait. `now_ms` is the
    /// wall clock (for the UTC day). A batch larger than the whole bucket passes when the bucket is full, and
    /// leaves it in debt.
    pub fn take(&self, limit: &Limit, project: &str, events: usize, now: Instant, now_ms: u64) -> Result<(), Refusal> {
        if limit.is_off() {
            return Ok(());
        }
        let mut projects = self.projects.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let rate = limit.events_per_second as f64;
        let burst = if limit.burst == 0 { rate } else { limit.burst as f64 };
        let day = now_ms / DAY_MS;
        let state =
            projects.entry(project.to_owned()).or_insert(State { tokens: burst, updated: now, day, used_today: 0 });
        if state.day != day {
            state.day = day;
            state.used_today = 0;
        }
        if limit.daily_quota > 0 && state.used_today + events as u64 > limit.daily_quota {
            let until_tomorrow = ((day + 1) * DAY_MS - now_ms).div_ceil(1000);
            return Err(Refusal::QuotaExceeded(until_tomorrow.max(1)));
        }
        if rate > 0.0 {
            let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
            state.tokens = (state.tokens + elapsed * rate).min(burst);
            state.updated = now;
            let needed = (events as f64).min(burst);
            if state.tokens < needed {
                return Err(Refusal::RateLimited(((needed - state.tokens) / rate).ceil().max(1.0) as u64));
            }
            state.tokens -= events as f64;
        }
        state.used_today += events as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_over_time() {
        let limiter = RateLimiter::default();
        let limit = Limit { events_per_second: 10, burst: 20, daily_quota: 0 };
        let t0 = Instant::now();
        assert!(limiter.take(&limit, "p", 15, t0, 0).is_ok());
        assert_eq!(limiter.take(&limit, "p", 10, t0, 0), Err(Refusal::RateLimited(1)));
        assert!(limiter.take(&limit, "other", 20, t0, 0).is_ok());
        assert!(limiter.take(&limit, "p", 10, t0 + Duration::from_millis(500), 0).is_ok());
        assert!(limiter.take(&Limit::default(), "p", 1_000_000, t0, 0).is_ok());
    }

    #[test]
    fn daily_quota_resets_at_utc_midnight() {
        let limiter = RateLimiter::default();
        let limit = Limit { events_per_second: 0, burst: 0, daily_quota: 100 };
        let t0 = Instant::now();
        let noon = 10 * DAY_MS + DAY_MS / 2;
        assert!(limiter.take(&limit, "p", 60, t0, noon).is_ok());
        assert!(limiter.take(&limit, "p", 40, t0, noon).is_ok());
        assert_eq!(limiter.take(&limit, "p", 1, t0, noon), Err(Refusal::QuotaExceeded(43_200)));
        assert!(limiter.take(&limit, "p", 100, t0, 11 * DAY_MS).is_ok());
    }
}
