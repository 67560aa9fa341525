//! Throttling of admin-token guessing: an address that presents [`MAX_FAILURES`] wrong admin tokens within a
//! [`WINDOW`] is answered 429 with `Retry-After` until the window ends, before any token of its is looked at.
//! Right tokens are never counted; the table is bounded, forgetting the oldest windows first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens one address may present per window.
pub const MAX_FAILURES: u32 = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at once.
const MAX_ADDRESSES: usize = 10_000;

/// Failures per address, each with the start of its window.
#[derive(Default)]
pub struct AuthThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthThrottle {
    /// `Some(seconds)` to wait when `addr` is throttled at `now`.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, since) = failures.get(&addr)?;
        let elapsed = now.saturating_duration_since(since);
        (count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    /// Counts a wrong token from `addr` at `now`.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&addr) {
            failures.retain(|_, (_, since)| now.saturating_duration_since(*since) < WINDOW);
            if failures.len() >= MAX_ADDRESSES {
                let oldest = failures.iter().min_by_key(|(_, (_, since))| *since).map(|(addr, _)| *addr);
                if let Some(oldest) = oldest {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(addr).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_throttled_after_too_many_failures_until_its_window_ends() {
        let throttle = AuthThrottle::default();
        let (one, two): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed(one, start);
        }
        assert_eq!(throttle.check(one, start), None, "one failure short");
        throttle.failed(one, start);
        assert_eq!(throttle.check(one, start + Duration::from_secs(15)), Some(45));
        assert_eq!(throttle.check(two, start), None, "other addresses are not affected");
        assert_eq!(throttle.check(one, start + WINDOW), None, "the window ended");
        throttle.failed(one, start + WINDOW);
        assert_eq!(throttle.check(one, start + WINDOW), None, "a new window starts from one failure");
    }
}
