//! Pure pacing logic of the uploader: how many uploads run at once (AIMD) and how long a failed one waits
//! (exponential backoff with full jitter). No clocks or I/O: callers pass durations in, so both are unit-tested.

use std::time::Duration;

/// Additive-increase, multiplicative-decrease concurrency limit, like TCP's congestion window.
///
/// Each success under the latency target adds `1/limit` (so one slot per round of `limit` successes); a
/// success over the target, a timeout, or a 429/503 halves the limit, at most once per round so one burst of
/// failures from the same round counts as one signal.
#[derive(Clone, Debug)]
pub struct Aimd {
    limit: f64,
    min: f64,
    max: f64,
    latency_target: Duration,
    /// Successes left before another decrease is allowed.
    cooldown: u32,
}

/// What one upload attempt told the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Success(Duration),
    /// 429, 503 or a timeout: the receiver is overloaded.
    Overload,
}

impl Aimd {
    pub fn new(initial: f64, min: usize, max: usize, latency_target: Duration) -> Aimd {
        let (min, max) = (min.max(1) as f64, max.max(min.max(1)) as f64);
        Aimd { limit: initial.clamp(min, max), min, max, latency_target, cooldown: 0 }
    }

    /// The number of uploads that may run at once.
    pub fn limit(&self) -> usize {
        self.limit.floor() as usize
    }

    /// The exact value, to remember across restarts.
    pub fn raw(&self) -> f64 {
        self.limit
    }

    pub fn observe(&mut self, signal: Signal) {
        let overloaded = match signal {
            Signal::Success(latency) => latency > self.latency_target,
            Signal::Overload => true,
        };
        if overloaded {
            if self.cooldown == 0 {
                self.limit = (self.limit / 2.0).max(self.min);
                self.cooldown = self.limit() as u32;
            }
        } else {
            self.limit = (self.limit + 1.0 / self.limit).min(self.max);
        }
        if matches!(signal, Signal::Success(_)) {
            self.cooldown = self.cooldown.saturating_sub(1);
        }
    }
}

/// Exponential backoff with full jitter: attempt `n` (from 0) waits a uniform random time in
/// `[0, min(max, base × 2^n)]`, and never less than the server's `Retry-After`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// `unit` is a uniform random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(20)).min(self.max);
        let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
        match retry_after {
            Some(after) => jittered.max(after.min(self.max)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(500);
    const FAST: Signal = Signal::Success(Duration::from_millis(10));

    #[test]
    fn grows_by_about_one_per_round_and_stops_at_max() {
        let mut aimd = Aimd::new(2.0, 1, 8, TARGET);
        for _ in 0..2 {
            aimd.observe(FAST);
        }
        assert_eq!(aimd.limit(), 2, "2 + 1/2 + 1/2.5 < 3");
        for _ in 0..3 {
            aimd.observe(FAST);
        }
        assert_eq!(aimd.limit(), 3);
        for _ in 0..1000 {
            aimd.observe(FAST);
        }
        assert_eq!(aimd.limit(), 8);
    }

    #[test]
    fn halves_once_per_round_on_overload_and_slow_answers() {
        let mut aimd = Aimd::new(8.0, 1, 8, TARGET);
        aimd.observe(Signal::Overload);
        assert_eq!(aimd.limit(), 4);
        // The rest of the same round's failures do not halve again.
        aimd.observe(Signal::Overload);
        assert_eq!(aimd.limit(), 4);
        for _ in 0..4 {
            aimd.observe(FAST);
        }
        aimd.observe(Signal::Success(Duration::from_secs(2)));
        assert_eq!(aimd.limit(), 2);
        for _ in 0..10 {
            aimd.cooldown = 0;
            aimd.observe(Signal::Overload);
        }
        assert_eq!(aimd.limit(), 1, "never below the minimum");
    }

    #[test]
    fn restores_a_remembered_limit_within_bounds() {
        assert_eq!(Aimd::new(5.7, 1, 8, TARGET).limit(), 5);
        assert_eq!(Aimd::new(99.0, 1, 8, TARGET).limit(), 8);
        assert_eq!(Aimd::new(f64::NAN.max(0.0), 1, 8, TARGET).limit(), 1);
    }

    #[test]
    fn backoff_is_capped_jittered_and_honours_retry_after() {
        let backoff = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(10) };
        assert_eq!(backoff.delay(0, None, 0.999_999), Duration::from_millis(100).mul_f64(0.999_999));
        assert_eq!(backoff.delay(3, None, 0.5), Duration::from_millis(400));
        assert_eq!(backoff.delay(30, None, 1.0), Duration::from_secs(10));
        assert_eq!(backoff.delay(0, None, 0.0), Duration::ZERO);
        assert_eq!(backoff.delay(0, Some(Duration::from_secs(3)), 0.0), Duration::from_secs(3));
        assert_eq!(backoff.delay(0, Some(Duration::from_secs(3600)), 0.0), Duration::from_secs(10));
    }
}
