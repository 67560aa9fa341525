//! Fault injection behind the storage interface, for the runner's buffer and vault: a realistic run (batches with
//! tokenized e-mails and replay-sized payloads appended through the group commit, uploaded chunks deleted) is
//! repeated with ENOSPC, then EIO, at every write, resize or sync the run makes. After each, the store is reopened
//! as a dead process leaves it and as a power cut leaves it: it must open, hold every batch that was acknowledged
//! and not yet deleted, and detokenize every token in them.

use std::collections::BTreeMap;
use std::sync::Arc;

use traceflow_pii::Tokens;
use traceflow_protocol::{Chunk, Codec, Record, RecordMeta};
use traceflow_runner::buffer::{session_key, Appended, Buffer, BufferOptions, BufferStore, Pending};
use traceflow_runner::config::{BufferConfig, VaultConfig};
use traceflow_runner::metrics::Metrics;
use traceflow_runner::vault::{Vault, VaultOptions};
use traceflow_store::testing::{self, Crash, Fault, SimDisk};

const BATCHES: u64 = 24;

/// An acknowledged batch: its chunk, and the token and original it carries.
#[derive(Clone, Debug)]
struct Acked {
    chunk: u64,
    token: String,
    original: String,
}

struct Run {
    acked: BTreeMap<u64, Acked>,
    deleted: Vec<u64>,
}

fn options() -> BufferOptions {
    BufferOptions {
        min_free_bytes: Some(0),
        commit_delay: std::time::Duration::ZERO,
        ..BufferOptions::from(&BufferConfig::default())
    }
}

/// The run: each batch is tokenized, appended and, every fourth one, the oldest acknowledged chunks are deleted as
/// an upload would. Stops at the first refusal, as a client would back off.
fn run(disk: &SimDisk, dir: &std::path::Path, fail: Option<(u64, Fault)>) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut out = Run { acked: BTreeMap::new(), deleted: Vec::new() };
    let db = match testing::open(disk, traceflow_store::Options::default()) {
        Ok(db) => db,
        Err(_) => return out,
    };
    let metrics = Arc::new(Metrics::new());
    let Ok(vault) = Vault::open(&db, VaultOptions::new(dir, &VaultConfig::default()), metrics.clone()) else {
        return out;
    };
    let store = BufferStore::from_db(db).unwrap();
    let Ok((buffer, _)) = Buffer::open_on(dir, store, options(), metrics) else {
        return out;
    };
    if let Some((at, fault)) = fail {
        disk.fail_at(at, fault);
    }
    runtime.block_on(async {
        for seq in 0..BATCHES {
            let original = format!("person{seq}@example.com");
            let generation = buffer.store().db.generation();
            let mut session = vault.session();
            let token = session.tokenize("email", &original);
            if session.finish().is_err() {
                break;
            }
            // A replay-sized payload (8-40 KB) beside the event, as snapshots make it.
            let filler = "x".repeat(8_000 + (seq as usize * 1_400));
            let json = format!(
                r#"{{"session_id":"s{}","seq":{seq},"events":[{{"email":"{token}"}}],"dom":"{filler}"}}"#,
                seq % 3
            );
            let meta = RecordMeta {
                project: "p".into(),
                session_id: format!("s{}", seq % 3),
                seq,
                received_at_ms: 1,
                events: 1,
                replay: 0,
            };
            let record = Record::new(meta, Codec::Zstd, 1, json.as_bytes()).unwrap();
            let session = session_key("p", &format!("s{}", seq % 3));
            match buffer.append(Pending { record, session, generation }, buffer.preparing()).await {
                Ok(Appended::Stored { chunk_seq }) => {
                    out.acked.insert(seq, Acked { chunk: chunk_seq, token, original });
                }
                Ok(Appended::Duplicate) => panic!("batch {seq} taken for a duplicate"),
                Err(_) => break,
            }
            if seq % 4 == 3 {
                let oldest: Vec<u64> =
                    out.acked.values().map(|a| a.chunk).filter(|c| !out.deleted.contains(c)).take(2).collect();
                if buffer.remove(oldest.clone()).await.is_err() {
                    break;
                }
                // Deletions are durable with the next flush; until then they may come back, which is harmless.
                out.deleted.extend(oldest);
            }
        }
        buffer.shutdown().await;
    });
    out
}

/// Batches in the store, by `seq`, with the e-mail token each carries.
fn stored(store: &BufferStore) -> BTreeMap<u64, String> {
    let (chunks, error) = store.chunks(0);
    let mut out = BTreeMap::new();
    for item in chunks {
        let (_, bytes) = item.expect("a chunk reads back");
        for record in Chunk::decode(&bytes).expect("a chunk decodes").records {
            let json: serde_json::Value = serde_json::from_slice(&record.json().unwrap()).unwrap();
            out.insert(record.meta.seq, json["events"][0]["email"].as_str().unwrap().to_string());
        }
    }
    assert!(error.get().is_none());
    out
}

#[test]
fn enospc_or_eio_at_any_write_or_sync_of_a_run_keeps_every_acked_batch_and_vault_entry() {
    let dir = tempfile::tempdir().unwrap();
    let total = {
        let disk = SimDisk::new();
        let clean = run(&disk, dir.path(), None);
        assert_eq!(clean.acked.len() as u64, BATCHES, "a run without faults acknowledges every batch");
        disk.ops()
    };
    eprintln!("runner fault injection: {total} disk operations per run, each failed with ENOSPC and with EIO");
    let mut refused_runs = 0;
    for fault in [Fault::NoSpace, Fault::Io] {
        for at in 1..=total {
            let disk = SimDisk::new();
            let outcome = run(&disk, dir.path(), Some((at, fault)));
            refused_runs += u64::from((outcome.acked.len() as u64) < BATCHES);
            for crash in [Crash::Process, Crash::PowerLoss] {
                let context = format!("{fault:?} at operation {at} of {total}, then {crash:?}");
                let db = testing::open(&disk.crash(crash), traceflow_store::Options::default())
                    .unwrap_or_else(|e| panic!("{context}: the store does not open: {e}"));
                let vault =
                    Vault::open(&db, VaultOptions::new(dir.path(), &VaultConfig::default()), Arc::new(Metrics::new()))
                        .unwrap_or_else(|e| panic!("{context}: the vault does not open: {e}"));
                let store = BufferStore::from_db(db).unwrap();
                let held = stored(&store);
                for (seq, acked) in &outcome.acked {
                    if outcome.deleted.contains(&acked.chunk) {
                        continue;
                    }
                    let token = held.get(seq).unwrap_or_else(|| panic!("{context}: acked batch {seq} is gone"));
                    assert_eq!(token, &acked.token, "{context}");
                    assert_eq!(
                        vault.detokenize(token).unwrap_or_else(|e| panic!("{context}: batch {seq}'s token: {e}")),
                        acked.original,
                        "{context}"
                    );
                }
            }
        }
    }
    assert!(refused_runs >= total, "the faults stopped the runs ({refused_runs} of {})", 2 * total);
}
