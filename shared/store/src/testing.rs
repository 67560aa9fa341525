//! Fault injection behind the storage interface: a simulated disk that fails the N-th write, resize or sync with
//! ENOSPC or EIO, and survives a crash as a real one does. Services open their stores on it ([`open`]) to prove
//! that a failing disk at any point of a run loses no synced write and never leaves a store that cannot open.
//!
//! The disk keeps two images: what was written (the page cache, as a process that dies leaves it) and what was
//! synced (what a power cut leaves). A write that fails is torn: its first half lands, as a short write does.

use std::sync::{Arc, Mutex};

use crate::{disk, Db, Error, Options};

/// How a planned fault fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// The filesystem is full (ENOSPC).
    #[default]
    NoSpace,
    /// The device failed (EIO).
    Io,
}

/// What a crash leaves of a [`SimDisk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The process died: everything written is there, synced or not.
    Process,
    /// The machine lost power: only what was synced is there.
    PowerLoss,
}

/// An in-memory disk with planned faults. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct SimDisk(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    current: Vec<u8>,
    durable: Vec<u8>,
    ops: u64,
    fail_at: Option<(u64, Fault)>,
    failing: Option<Fault>,
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Plans a fault: the `op`-th write, resize or sync from now on (1 is the next one) fails with `fault`, and so
    /// does every one after it until [`SimDisk::heal`].
    pub fn fail_at(&self, op: u64, fault: Fault) {
        let mut state = self.state();
        state.fail_at = Some((state.ops + op.max(1), fault));
    }

    /// The disk works again (space was freed, the device came back).
    pub fn heal(&self) {
        let mut state = self.state();
        state.failing = None;
        state.fail_at = None;
    }

    /// Writes, resizes and syncs so far (failed ones included).
    pub fn ops(&self) -> u64 {
        self.state().ops
    }

    /// Whether a planned fault has fired.
    pub fn failed(&self) -> bool {
        self.state().failing.is_some()
    }

    /// The disk as a crash leaves it, with no fault planned.
    pub fn crash(&self, crash: Crash) -> SimDisk {
        let state = self.state();
        let image = match crash {
            Crash::Process => state.current.clone(),
            Crash::PowerLoss => state.durable.clone(),
        };
        SimDisk(Arc::new(Mutex::new(State { current: image.clone(), durable: image, ..State::default() })))
    }

    /// Counts an operation and fails it when a fault is due.
    fn operate(state: &mut State) -> std::io::Result<()> {
        state.ops += 1;
        if let Some((at, fault)) = state.fail_at {
            if state.ops >= at {
                state.failing = Some(fault);
            }
        }
        match state.failing {
            None => Ok(()),
            Some(Fault::NoSpace) => Err(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            Some(Fault::Io) => Err(std::io::Error::from_raw_os_error(libc::EIO)),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.state().current.len() as u64
    }

    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let state = self.state();
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let bytes = state
            .current
            .get(start..start + out.len())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut state = self.state();
        let result = SimDisk::operate(&mut state);
        // A failed write is torn: its first half lands.
        let landed = if result.is_ok() { data } else { &data[..data.len() / 2] };
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        if state.current.len() < start + landed.len() {
            state.current.resize(start + landed.len(), 0);
        }
        state.current[start..start + landed.len()].copy_from_slice(landed);
        result
    }

    pub(crate) fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut state = self.state();
        SimDisk::operate(&mut state)?;
        state.current.resize(usize::try_from(len).map_err(std::io::Error::other)?, 0);
        Ok(())
    }

    pub(crate) fn sync(&self) -> std::io::Result<()> {
        let mut state = self.state();
        SimDisk::operate(&mut state)?;
        state.durable = state.current.clone();
        Ok(())
    }
}

/// Opens (or creates) a database on a simulated disk; `path` only names it in messages.
pub fn open(disk: &SimDisk, options: Options) -> Result<Db, Error> {
    Db::with_source(std::path::Path::new("<simulated disk>"), disk::Source::Sim(disk.clone()), options, false, None)
}
