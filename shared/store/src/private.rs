//! Data dirs are private: tokenized sessions, vault ciphertext, keys and buffers are for the service's own user.
//! The binaries create everything with umask 077 (directories 0700, files 0600, whatever the caller's umask);
//! [`tighten`] closes what an earlier run or an operator left open to the group or others.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Removes group and other permissions from `dir` and everything under it (symlinks are not followed). Returns
/// the paths it changed, so the caller can warn about them; a missing `dir` changes nothing.
pub fn tighten(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(changed),
        Err(e) => return Err(e),
    };
    let mut pending = vec![(dir.to_path_buf(), meta)];
    while let Some((path, meta)) = pending.pop() {
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7700))?;
            changed.push(path.clone());
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                let entry = entry?;
                pending.push((entry.path(), entry.metadata()?));
            }
        }
    }
    Ok(changed)
}

/// [`tighten`]s the data dir `dir`, warning about what was open (a data dir made by an earlier version, or opened
/// by an operator); an error is only logged, since the service can run on.
pub fn make_private(dir: &Path) {
    match tighten(dir) {
        Ok(changed) if !changed.is_empty() => tracing::warn!(
            dir = %dir.display(),
            paths = changed.len(),
            first = %changed[0].display(),
            "the data dir was open to the group or others; closed it"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot make the data dir private"),
    }
}

/// Paths under `dir` (itself included) that the group or others may access; empty when the dir is private.
pub fn open_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut open = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.permissions().mode() & 0o077 != 0 {
            open.push(path.clone());
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tighten_closes_every_path_and_reports_it() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("db/conf"), b"x").unwrap();
        std::fs::write(dir.join("vault.keys"), b"k").unwrap();
        for (path, mode) in [(&dir, 0o755), (&dir.join("db"), 0o775), (&dir.join("db/conf"), 0o644)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::set_permissions(dir.join("vault.keys"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(open_paths(&dir).unwrap().len(), 3);
        let mut changed = tighten(&dir).unwrap();
        changed.sort();
        assert_eq!(changed, vec![dir.clone(), dir.join("db"), dir.join("db/conf")]);
        assert!(open_paths(&dir).unwrap().is_empty());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&dir.join("db/conf"))), (0o700, 0o600));
        assert!(tighten(&dir).unwrap().is_empty(), "nothing left to change");
        assert!(tighten(&temp.path().join("missing")).unwrap().is_empty());
    }
}
