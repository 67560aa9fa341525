use super::testing::{Crash, Fault, SimDisk};
use super::*;

fn open(dir: &Path) -> Db {
    Db::open(&dir.join("db"), Options::default()).unwrap()
}

#[test]
fn writes_survive_a_reopen_after_sync() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        let tree = db.tree("t").unwrap();
        tree.insert(b"k", b"v").unwrap();
        let mut batch = Batch::default();
        batch.insert(b"a", b"1");
        batch.insert(b"b", b"2");
        batch.remove(b"k");
        tree.apply(batch).unwrap();
        db.sync().unwrap();
        assert_eq!(db.sync_count(), 2, "the open's own sync and this one");
    }
    let db = open(dir.path());
    let tree = db.tree("t").unwrap();
    let keys: Vec<Vec<u8>> = tree.iter().keys().map(|k| k.unwrap().into()).collect();
    assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(tree.len(), 2);
}

#[test]
fn apply_atomic_writes_every_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let (one, two) = (db.tree("one").unwrap(), db.tree("two").unwrap());
    let (mut first, mut second) = (Batch::default(), Batch::default());
    first.insert(b"x", b"1");
    second.insert(b"y", b"2");
    db.apply_atomic(&[(&one, &first), (&two, &second)]).unwrap();
    assert_eq!(one.get(b"x").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(two.get(b"y").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn compare_and_swap_only_swaps_the_expected_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let tree = db.tree("t").unwrap();
    assert!(tree.compare_and_swap(b"k", None, Some(b"1")).unwrap());
    assert!(!tree.compare_and_swap(b"k", None, Some(b"2")).unwrap());
    assert!(tree.compare_and_swap(b"k", Some(b"1"), Some(b"2")).unwrap());
    assert_eq!(tree.get(b"k").unwrap().as_deref(), Some(&b"2"[..]));
    assert!(tree.compare_and_swap(b"k", Some(b"2"), None).unwrap());
    assert!(!tree.contains_key(b"k").unwrap());
}

#[test]
fn ranges_and_prefixes_iterate_in_key_order_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let tree = db.tree("t").unwrap();
    for n in [3u64, 1, 2, 10] {
        tree.insert([&b"p"[..], &n.to_be_bytes()].concat(), b"").unwrap();
    }
    tree.insert(b"q", b"").unwrap();
    tree.insert([0xffu8, 0xff], b"").unwrap();
    let numbers = |iter: Iter| -> Vec<u64> {
        iter.keys().map(|k| u64::from_be_bytes(k.unwrap()[1..].try_into().unwrap())).collect()
    };
    assert_eq!(numbers(tree.scan_prefix(b"p")), vec![1, 2, 3, 10]);
    let newest: Vec<u64> =
        tree.scan_prefix(b"p").rev().map(|e| u64::from_be_bytes(e.unwrap().0[1..].try_into().unwrap())).collect();
    assert_eq!(newest, vec![10, 3, 2, 1]);
    let from_two = [&b"p"[..], &2u64.to_be_bytes()].concat();
    assert_eq!(numbers(tree.range(from_two.as_slice()..b"q".as_slice())), vec![2, 3, 10]);
    assert_eq!(tree.scan_prefix([0xffu8]).count(), 1, "a prefix of 0xff bytes has no end key");
    assert_eq!(tree.range(b"q".as_slice()..b"p".as_slice()).count(), 0, "an inverted range is empty");
}

#[test]
fn ids_increase_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let db = open(dir.path());
        let (a, b) = (db.generate_id().unwrap(), db.generate_id().unwrap());
        assert!(b > a);
        db.sync().unwrap();
        b
    };
    assert!(open(dir.path()).generate_id().unwrap() > first);
}

#[test]
fn a_second_open_of_the_same_dir_is_refused_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _db = open(dir.path());
    for second in [
        Db::open(&dir.path().join("db"), Options::default()),
        Db::open_read_only(&dir.path().join("db"), Options::default()),
    ] {
        match second {
            Err(Error::Locked(_)) => {}
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a held data dir opened twice"),
        }
    }
    assert_eq!(Db::lock_holder(&dir.path().join("db")), Some(std::process::id()));
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::metadata(&path).unwrap();
        out.push((path.clone(), std::fs::read(&path).unwrap(), meta.modified().unwrap()));
    }
    out.sort();
    out
}

#[test]
fn a_read_only_open_writes_nothing_even_on_a_file_left_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    // A process that dies with writes synced and more not: copy its files while it still holds them.
    let db = open(dir.path());
    let tree = db.tree("t").unwrap();
    for n in 0u32..500 {
        tree.insert(n.to_be_bytes(), vec![3u8; 300]).unwrap();
    }
    db.sync().unwrap();
    tree.insert(b"unsynced", b"x").unwrap();
    let crashed = dir.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    std::fs::copy(path.join(FILE_NAME), crashed.join(FILE_NAME)).unwrap();
    drop(db);

    let before = snapshot(&crashed);
    let reader = Db::open_read_only(&crashed, Options::default()).unwrap();
    let tree = reader.tree("t").unwrap();
    assert!(tree.len() >= 500, "every synced write is there");
    assert!(matches!(tree.insert(b"k", b"v"), Err(Error::ReadOnly)));
    assert_eq!(reader.tree("never-made").unwrap().len(), 0);
    drop(reader);
    assert_eq!(snapshot(&crashed), before, "not a byte or a timestamp changed");
}

#[test]
fn a_data_dir_stored_by_sled_is_imported_with_every_entry_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let last_id = {
        let sled = sled::Config::new().path(&path).open().unwrap();
        let tree = sled.open_tree("buffer").unwrap();
        for n in 0u32..3000 {
            tree.insert(n.to_be_bytes(), vec![n as u8; 200]).unwrap();
        }
        sled.open_tree("vault").unwrap().insert(b"tok", b"sealed").unwrap();
        let id = sled.generate_id().unwrap();
        sled.flush().unwrap();
        id
    };
    // What a full disk left behind in the releases before.
    std::fs::write(path.join("snap.FFFFFFFFFFFFFFFF.generating"), [1u8; 40]).unwrap();
    assert!(matches!(Db::open_read_only(&path, Options::default()), Err(Error::NeedsImport(_))));

    let db = Db::open(&path, Options::default()).unwrap();
    let buffer = db.tree("buffer").unwrap();
    assert_eq!(buffer.len(), 3000);
    assert_eq!(buffer.get(2999u32.to_be_bytes()).unwrap().unwrap().as_ref(), &vec![2999u32 as u8; 200][..]);
    assert_eq!(db.tree("vault").unwrap().get(b"tok").unwrap().as_deref(), Some(&b"sealed"[..]));
    assert!(db.generate_id().unwrap() > last_id);
    let left: Vec<String> =
        std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|name| name == FILE_NAME || name == "lock"), "sled's files are gone: {left:?}");
}

/// A run of writes in the shape the services use: atomic batches, single inserts, removals, a sync after each
/// step. Returns the keys that were synced (what the services would have acknowledged), and stops at the first
/// error, as a service refusing writes does.
fn run(db: &Db, synced: &mut Vec<Vec<u8>>) -> Result<(), Error> {
    let (data, index) = (db.tree("data")?, db.tree("index")?);
    for step in 0u32..40 {
        let mut batch = Batch::default();
        let mut keys = Vec::new();
        for n in 0..3 {
            let key = format!("k{step:04}-{n}").into_bytes();
            batch.insert(&key, vec![step as u8; 700 + 500 * n as usize]);
            keys.push(key);
        }
        let mut entry = Batch::default();
        entry.insert(step.to_be_bytes(), b"seen");
        db.apply_atomic(&[(&data, &batch), (&index, &entry)])?;
        if step % 4 == 3 {
            // Deleting what was uploaded.
            let mut gone = Batch::default();
            let old = step - 3;
            for n in 0..3 {
                gone.remove(format!("k{old:04}-{n}").into_bytes());
            }
            data.apply(gone)?;
            synced.retain(|k| !k.starts_with(format!("k{old:04}-").as_bytes()));
        }
        db.sync()?;
        synced.extend(keys);
    }
    Ok(())
}

#[test]
fn enospc_or_eio_at_any_write_or_sync_loses_no_synced_write_and_the_store_always_opens() {
    let total = {
        let disk = SimDisk::new();
        let db = testing::open(&disk, Options::default()).unwrap();
        run(&db, &mut Vec::new()).unwrap();
        disk.ops()
    };
    assert!(total > 100, "a run of {total} disk operations");
    eprintln!("fault injection: {total} disk operations per run, each failed with ENOSPC and EIO");
    let mut fired = 0;
    for fault in [Fault::NoSpace, Fault::Io] {
        for at in 1..=total {
            let disk = SimDisk::new();
            let db = testing::open(&disk, Options::default()).unwrap();
            disk.fail_at(at, fault);
            let mut synced = Vec::new();
            let outcome = run(&db, &mut synced);
            fired += u64::from(outcome.is_err());
            drop(db);
            for crash in [Crash::Process, Crash::PowerLoss] {
                let reopened = testing::open(&disk.crash(crash), Options::default())
                    .unwrap_or_else(|e| panic!("{fault:?} at op {at}, {crash:?}: the store does not open: {e}"));
                let data = reopened.tree("data").unwrap();
                for key in &synced {
                    assert!(
                        data.contains_key(key).unwrap(),
                        "{fault:?} at op {at}, {crash:?}: synced key {} lost",
                        String::from_utf8_lossy(key)
                    );
                }
                // And it takes writes again.
                data.insert(b"after", b"1").unwrap();
                reopened.sync().unwrap();
            }
        }
    }
    assert!(fired > total, "the faults fired ({fired} of {} runs)", 2 * total);
}

#[test]
fn after_an_io_error_the_same_handle_reopens_and_works_once_the_disk_does() {
    let disk = SimDisk::new();
    let db = testing::open(&disk, Options::default()).unwrap();
    let tree = db.tree("t").unwrap();
    tree.insert(b"synced", b"1").unwrap();
    db.sync().unwrap();
    disk.fail_at(1, Fault::NoSpace);
    assert!(tree.insert(b"refused", vec![0u8; 64 << 10]).and_then(|_| db.sync()).is_err());
    assert!(db.sync().is_err(), "the disk is still full");
    disk.heal();
    tree.insert(b"later", b"2").unwrap();
    db.sync().unwrap();
    assert!(db.generation() >= 1, "callers can tell that unsynced writes may be gone");
    assert_eq!(tree.get(b"synced").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(tree.get(b"later").unwrap().as_deref(), Some(&b"2"[..]));
}
