//! What the engine reads and writes: the database file, the file seen through an in-memory overlay (read-only
//! opens), or a simulated disk ([`crate::testing`]). Every backend carries a fence: once the database that uses it
//! is fenced off after an I/O error, the backend refuses every write, so a retired database can never write over
//! the one reopened in its place.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redb::{BackendError, StorageBackend};

use crate::testing::SimDisk;

/// Where a database's bytes live; each (re)open makes a fresh [`Backend`] from it.
pub(crate) enum Source {
    File(PathBuf),
    Overlay(PathBuf),
    Sim(SimDisk),
}

impl Source {
    pub(crate) fn backend(&self, fence: Arc<AtomicBool>) -> std::io::Result<Backend> {
        let kind = match self {
            Source::File(path) => {
                let file =
                    std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
                Kind::File(file)
            }
            Source::Overlay(path) => Kind::Overlay(Overlay::new(File::open(path)?)?),
            Source::Sim(disk) => Kind::Sim(disk.clone()),
        };
        Ok(Backend { kind, fence })
    }

    pub(crate) fn size(&self) -> u64 {
        match self {
            Source::File(path) | Source::Overlay(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Source::Sim(disk) => disk.len(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Backend {
    kind: Kind,
    fence: Arc<AtomicBool>,
}

#[derive(Debug)]
enum Kind {
    File(File),
    Overlay(Overlay),
    Sim(SimDisk),
}

impl Backend {
    fn fenced(&self) -> Result<(), BackendError> {
        if self.fence.load(Ordering::Acquire) {
            return Err(BackendError::Io(std::io::Error::other("the database was reopened after an I/O error")));
        }
        Ok(())
    }
}

impl StorageBackend for Backend {
    fn len(&self) -> Result<u64, BackendError> {
        match &self.kind {
            Kind::File(file) => Ok(file.metadata()?.len()),
            Kind::Overlay(overlay) => Ok(overlay.len()),
            Kind::Sim(disk) => Ok(disk.len()),
        }
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        match &self.kind {
            Kind::File(file) => Ok(file.read_exact_at(out, offset)?),
            Kind::Overlay(overlay) => Ok(overlay.read(offset, out)?),
            Kind::Sim(disk) => Ok(disk.read(offset, out)?),
        }
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        self.fenced()?;
        match &self.kind {
            Kind::File(file) => Ok(file.set_len(len)?),
            Kind::Overlay(overlay) => {
                overlay.set_len(len);
                Ok(())
            }
            Kind::Sim(disk) => Ok(disk.set_len(len)?),
        }
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        self.fenced()?;
        match &self.kind {
            Kind::File(file) => Ok(file.sync_data()?),
            Kind::Overlay(_) => Ok(()),
            Kind::Sim(disk) => Ok(disk.sync()?),
        }
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        self.fenced()?;
        match &self.kind {
            Kind::File(file) => Ok(file.write_all_at(data, offset)?),
            Kind::Overlay(overlay) => {
                overlay.write(offset, data)?;
                Ok(())
            }
            Kind::Sim(disk) => Ok(disk.write(offset, data)?),
        }
    }
}

const BLOCK: u64 = 4096;

/// A file read as it is, with every write kept in memory: what a read-only open needs to recover a file left by a
/// crash without touching it. Memory grows with what recovery writes, not with the file.
#[derive(Debug)]
struct Overlay {
    file: File,
    state: Mutex<OverlayState>,
}

#[derive(Debug)]
struct OverlayState {
    len: u64,
    /// Bytes of the file the database can still see: a shrink hides the file's bytes past it for good.
    visible: u64,
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl Overlay {
    fn new(file: File) -> std::io::Result<Overlay> {
        let file_len = file.metadata()?.len();
        Ok(Overlay {
            file,
            state: Mutex::new(OverlayState { len: file_len, visible: file_len, blocks: BTreeMap::new() }),
        })
    }

    fn len(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).len
    }

    fn set_len(&self, len: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if len < state.len {
            // Whatever lies past the new end reads as zeros if the file grows again.
            let first_gone = len / BLOCK;
            let kept: Vec<u64> = state.blocks.range(first_gone..).map(|(k, _)| *k).collect();
            for index in kept {
                let mut block = state.blocks.remove(&index).unwrap_or_else(|| vec![0; BLOCK as usize].into());
                if index == first_gone {
                    block[(len % BLOCK) as usize..].fill(0);
                    state.blocks.insert(index, block);
                }
            }
        }
        state.len = len;
        state.visible = state.visible.min(len);
    }

    /// The block at `index` as the database sees it now.
    fn block(&self, state: &OverlayState, index: u64) -> std::io::Result<Box<[u8]>> {
        if let Some(block) = state.blocks.get(&index) {
            return Ok(block.clone());
        }
        let mut block = vec![0u8; BLOCK as usize];
        let start = index * BLOCK;
        // Bytes of the file the database can still see; the rest reads as zeros.
        let visible = state.visible;
        if start < visible {
            let n = (visible - start).min(BLOCK) as usize;
            self.file.read_exact_at(&mut block[..n], start)?;
        }
        Ok(block.into())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if offset + out.len() as u64 > state.len {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end"));
        }
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let (index, within) = (at / BLOCK, (at % BLOCK) as usize);
            let n = (BLOCK as usize - within).min(out.len() - done);
            match state.blocks.get(&index) {
                Some(block) => out[done..done + n].copy_from_slice(&block[within..within + n]),
                None => out[done..done + n].copy_from_slice(&self.block(&state, index)?[within..within + n]),
            }
            done += n;
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / BLOCK, (at % BLOCK) as usize);
            let n = (BLOCK as usize - within).min(data.len() - done);
            let mut block = self.block(&state, index)?;
            block[within..within + n].copy_from_slice(&data[done..done + n]);
            state.blocks.insert(index, block);
            done += n;
        }
        state.len = state.len.max(offset + data.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod overlay_tests {
    use super::*;

    #[test]
    fn writes_stay_in_memory_and_read_back_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 10_000]).unwrap();
        let overlay = Overlay::new(File::open(&path).unwrap()).unwrap();
        overlay.write(4090, &[9u8; 20]).unwrap();
        let mut out = vec![0u8; 30];
        overlay.read(4085, &mut out).unwrap();
        assert_eq!(&out[..5], &[1; 5]);
        assert_eq!(&out[5..25], &[9; 20]);
        assert_eq!(&out[25..], &[1; 5]);
        overlay.set_len(4095);
        overlay.set_len(12_000);
        let mut tail = vec![7u8; 3];
        overlay.read(4094, &mut tail).unwrap();
        assert_eq!(tail, [9, 0, 0], "bytes past a shrink read as zeros when the file grows again");
        overlay.write(11_999, &[5]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), vec![1u8; 10_000], "the file is untouched");
    }
}
