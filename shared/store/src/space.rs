//! The free-space guard: a service stops writing new data before the storage engine can meet a full
//! filesystem, which sled does not survive (a stale `snap.*.generating` file makes the store unopenable, sled
//! issue #1527). Below the guard's floor, writes that add data are refused; writes that free space (deleting
//! what was uploaded) and the engine's own bookkeeping still have the reserve, so the store can drain itself.
//! The state is read from the filesystem (`statvfs`) whenever [`SpaceGuard::refresh`] runs, so space freed by a
//! drain or by an operator lifts the guard without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The default floor is the larger of this and [`DEFAULT_MIN_FREE_PERCENT`] of the filesystem.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;
/// See [`DEFAULT_MIN_FREE_BYTES`].
pub const DEFAULT_MIN_FREE_PERCENT: u64 = 2;

/// The default floor for a filesystem of `total` bytes.
pub fn default_floor(total: u64) -> u64 {
    DEFAULT_MIN_FREE_BYTES.max(total / 100 * DEFAULT_MIN_FREE_PERCENT).min(total / 4)
}

/// Free space of the filesystem holding a data dir, against a floor.
#[derive(Debug)]
pub struct SpaceGuard {
    dir: PathBuf,
    min_free: u64,
    free: AtomicU64,
    low: AtomicBool,
}

impl SpaceGuard {
    /// A guard for the filesystem of `dir` with the floor `min_free` bytes, or by default the larger of 256 MiB
    /// and 2 % of the filesystem, but never more than a quarter of it (so a small filesystem still takes data).
    /// Reads the free space once.
    pub fn new(dir: &Path, min_free: Option<u64>) -> std::io::Result<SpaceGuard> {
        let min_free = match min_free {
            Some(bytes) => bytes,
            None => default_floor(fs2::total_space(dir)?),
        };
        let guard = SpaceGuard {
            dir: dir.to_path_buf(),
            min_free,
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        };
        guard.refresh()?;
        Ok(guard)
    }

    /// Reads the free space again; returns whether the guard's state (low or not) changed.
    pub fn refresh(&self) -> std::io::Result<bool> {
        let free = fs2::available_space(&self.dir)?;
        self.free.store(free, Ordering::Relaxed);
        let low = free < self.min_free;
        Ok(self.low.swap(low, Ordering::SeqCst) != low)
    }

    /// [`SpaceGuard::refresh`], logging once when the state changes; `refused` names what the service refuses
    /// while space is low ("batches", "uploads").
    pub fn watch(&self, refused: &str) {
        match self.refresh() {
            Ok(true) if self.is_low() => tracing::warn!(
                free_bytes = self.free_bytes(),
                min_free_bytes = self.min_free,
                "free disk space below the floor: refusing new {refused} until space returns"
            ),
            Ok(true) => tracing::info!(free_bytes = self.free_bytes(), "free disk space is back: accepting {refused}"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, dir = %self.dir.display(), "cannot read the free space"),
        }
    }

    /// Whether new data must be refused: free space is below the floor.
    pub fn is_low(&self) -> bool {
        self.low.load(Ordering::SeqCst)
    }

    /// Free bytes at the last refresh.
    pub fn free_bytes(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    /// The floor in bytes.
    pub fn min_free(&self) -> u64 {
        self.min_free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_low_below_its_floor_and_reports_changes() {
        let dir = tempfile::tempdir().unwrap();
        let roomy = SpaceGuard::new(dir.path(), Some(0)).unwrap();
        assert!(!roomy.is_low());
        assert!(roomy.free_bytes() > 0);
        assert!(!roomy.refresh().unwrap(), "no change");
        let strict = SpaceGuard::new(dir.path(), Some(u64::MAX)).unwrap();
        assert!(strict.is_low(), "no filesystem has that much free");
        let default = SpaceGuard::new(dir.path(), None).unwrap();
        assert!(default.min_free() >= DEFAULT_MIN_FREE_BYTES);
    }
}
