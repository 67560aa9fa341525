//! Data dirs written by releases that stored them with sled 0.34 (`conf`, `db`, `snap.*`, `blobs/` in the database
//! directory). The first writable open imports every tree, entry for entry, into a new file, syncs it, renames it
//! into place and only then removes sled's files, so an import cut short by a crash or a full disk leaves the sled
//! data as it was and runs again on the next start. Its keys and values are copied unchanged: the layouts the
//! services keep in them are the same in both engines.

use std::fs::File;
use std::path::Path;

use redb::{Durability, TableDefinition};

use crate::{Error, META_TABLE, NEXT_ID_KEY};

const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";
/// Entries copied per transaction.
const CHUNK: usize = 4096;

/// Whether `path` holds sled's files.
pub(crate) fn present(path: &Path) -> bool {
    path.join("conf").is_file() && path.join("db").is_file()
}

/// Imports the sled database in `path` into the engine file `target`, then removes sled's files.
pub(crate) fn import(path: &Path, target: &Path) -> Result<(), Error> {
    if !target.exists() {
        copy(path, target)?;
    }
    remove_sled_files(path)?;
    File::open(path)?.sync_all()?;
    Ok(())
}

/// Opens the earlier store. sled lets go of its lock file only when its background flusher has stopped, a moment
/// after the last handle is dropped (a process that used it just before, or is still exiting): a lock held
/// that way is waited for, up to a few seconds.
fn open_sled(path: &Path) -> Result<sled::Db, Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            // sled reports the lock as an I/O error of kind `Other` naming it.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(Error::Engine(format!("reading the earlier store: {e}"))),
        }
    }
}

fn copy(path: &Path, target: &Path) -> Result<(), Error> {
    remove_unfinished_snapshots(path)?;
    let partial = target.with_extension("redb.import");
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    tracing::info!(dir = %path.display(), "importing a data dir stored by an earlier release");
    let sled = open_sled(path)?;
    let db = redb::Database::create(&partial).map_err(|e| Error::from(redb::Error::from(e)))?;
    let engine = |e: redb::Error| Error::from(e);
    let mut entries = 0u64;
    for name in sled.tree_names() {
        let tree = sled.open_tree(&name).map_err(|e| Error::Engine(e.to_string()))?;
        if name.as_ref() == SLED_DEFAULT_TREE && tree.is_empty() {
            continue;
        }
        let name = String::from_utf8(name.to_vec()).map_err(|_| Error::Engine("a tree name is not UTF-8".into()))?;
        let definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let mut iter = tree.iter().peekable();
        loop {
            let mut txn = db.begin_write().map_err(|e| engine(e.into()))?;
            txn.set_durability(Durability::None).map_err(|e| engine(e.into()))?;
            {
                let mut table = txn.open_table(definition).map_err(|e| engine(e.into()))?;
                for (key, value) in iter
                    .by_ref()
                    .take(CHUNK)
                    .map(|e| e.map_err(|e| Error::Engine(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?
                {
                    table.insert(key.as_ref(), value.as_ref()).map_err(|e| engine(e.into()))?;
                    entries += 1;
                }
            }
            txn.commit().map_err(|e| engine(e.into()))?;
            if iter.peek().is_none() {
                break;
            }
        }
    }
    let next_id = sled.generate_id().map_err(|e| Error::Engine(e.to_string()))?;
    let mut txn = db.begin_write().map_err(|e| engine(e.into()))?;
    txn.set_durability(Durability::Immediate).map_err(|e| engine(e.into()))?;
    {
        let mut meta =
            txn.open_table(TableDefinition::<&[u8], &[u8]>::new(META_TABLE)).map_err(|e| engine(e.into()))?;
        meta.insert(NEXT_ID_KEY, &next_id.to_be_bytes()[..]).map_err(|e| engine(e.into()))?;
    }
    txn.commit().map_err(|e| engine(e.into()))?;
    drop(db);
    drop(sled);
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, target)?;
    File::open(path)?.sync_all()?;
    tracing::info!(dir = %path.display(), entries, "imported the earlier store");
    Ok(())
}

fn remove_sled_files(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "conf" || name == "db" || name.starts_with("snap.") {
            std::fs::remove_file(entry.path())?;
        } else if name == "blobs" {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Removes the snapshot files sled was still writing when it stopped (`snap.<lsn>.generating`). sled renames a
/// snapshot to `snap.<lsn>` once it is whole, and on open it takes the snapshot file that sorts last, which is a
/// leftover `.generating` one when present: a half-written file that fails its checksum and makes every open fail
/// (sled issue #1527, left behind by a full disk or a crash). Without it, sled opens from the last whole snapshot
/// and replays the log after it, so nothing written is lost.
fn remove_unfinished_snapshots(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %entry.path().display(), "removing a snapshot the earlier engine never finished");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
