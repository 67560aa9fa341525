//! The documented hashes behind session sampling and canary cohorts (FNV-1a, simple enough for any SDK).

/// FNV-1a, 64 bits: the documented hash behind sampling and canary cohorts (simple enough for any SDK).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether a session is kept at `rate`: FNV-1a of the session id, as a fraction of 2^64, below the rate.
pub fn keep_session(session_id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    (fnv1a64(session_id.as_bytes()) as f64) / 18_446_744_073_709_551_616.0 < rate
}

/// Whether a runner belongs to a canary of `percent` %: FNV-1a of `canary:<runner_id>` modulo 100 below it.
pub fn in_canary(runner_id: &str, percent: u8) -> bool {
    fnv1a64(format!("canary:{runner_id}").as_bytes()) % 100 < u64::from(percent)
}
