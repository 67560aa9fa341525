//! The writer thread: the only code that modifies the buffer, so the dedup index and counters never race.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use traceflow_protocol::frame;
use traceflow_protocol::{Chunk, Record};

use super::dedup::SeenSeqs;
use super::store::{self, BufferStore, State};
use super::{Appended, BufferError, BufferOptions, Gauges, Pending};
use crate::metrics::Metrics;

/// Most batches in one group commit.
const MAX_GROUP: usize = 4096;
/// How often a lingering group commit looks for new arrivals.
const LINGER_POLL: Duration = Duration::from_micros(50);
/// How often dedup entries past their window are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Most dedup entries examined per prune, to keep one tick short.
const PRUNE_SCAN_LIMIT: usize = 200_000;

pub(super) enum Command {
    Append(Pending, oneshot::Sender<Result<Appended, BufferError>>),
    Remove(Vec<u64>, oneshot::Sender<Result<(), BufferError>>),
    Tick,
    Shutdown(oneshot::Sender<()>),
}

pub(super) struct Writer {
    store: BufferStore,
    state: State,
    gauges: Arc<Gauges>,
    metrics: Arc<Metrics>,
    options: BufferOptions,
    /// Writes applied but not yet flushed (a failed flush, or removals).
    dirty: bool,
    last_prune: Instant,
    /// When the size of the files was last read; reading it lists a directory, too costly for every flush.
    last_disk_check: Instant,
    /// The store's generation `state` was read in.
    generation: u64,
}

/// How stale the disk-size figure may get under load.
const DISK_CHECK_EVERY: Duration = Duration::from_millis(100);

type Reply = oneshot::Sender<Result<Appended, BufferError>>;

use crate::clock::now_ms;

impl Writer {
    pub(super) fn new(
        store: BufferStore,
        state: State,
        gauges: Arc<Gauges>,
        metrics: Arc<Metrics>,
        options: BufferOptions,
    ) -> Self {
        let now = Instant::now();
        let generation = store.db.generation();
        let mut writer = Writer {
            store,
            state,
            gauges,
            metrics,
            options,
            dirty: false,
            last_prune: now,
            last_disk_check: now,
            generation,
        };
        writer.publish_disk();
        writer.publish();
        writer
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.blocking_recv() {
            let mut next = Some(command);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(pending, reply) => {
                        let mut bytes = pending.record.data.len();
                        let mut group = vec![(pending, reply)];
                        let started = Instant::now();
                        // Everything that queued up during the previous flush joins this one, and so does what
                        // is already on its way, for up to the commit delay: one flush costs far more than a
                        // short wait (an fsync, I/O threads, and on VMs a trap to the hypervisor).
                        while bytes < self.options.max_chunk_bytes && group.len() < MAX_GROUP {
                            match rx.try_recv() {
                                Ok(Command::Append(pending, reply)) => {
                                    bytes += pending.record.data.len();
                                    group.push((pending, reply));
                                }
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => {
                                    let on_the_way = self.gauges.preparing.load(Ordering::SeqCst) > 0;
                                    if !on_the_way || started.elapsed() >= self.options.commit_delay {
                                        break;
                                    }
                                    std::thread::sleep(LINGER_POLL);
                                }
                            }
                        }
                        self.commit(group);
                    }
                    Command::Remove(seqs, reply) => {
                        let _ = reply.send(self.remove(&seqs));
                    }
                    Command::Tick => self.tick(),
                    Command::Shutdown(reply) => {
                        if let Err(e) = self.flush() {
                            tracing::error!(error = %e, "final buffer flush failed");
                        }
                        self.gauges.writer_alive.store(false, Ordering::SeqCst);
                        let _ = reply.send(());
                        return;
                    }
                }
            }
        }
        let _ = self.flush();
        self.gauges.writer_alive.store(false, Ordering::SeqCst);
    }

    fn commit(&mut self, group: Vec<(Pending, Reply)>) {
        let generation = self.follow_reopen();
        let (group, stale): (Vec<_>, Vec<_>) =
            group.into_iter().partition(|(pending, _)| pending.generation == generation);
        for (_, reply) in stale {
            let _ = reply.send(Err(BufferError::Storage("the store was reopened after an I/O error; retry".into())));
        }
        let now = now_ms();
        let mut sessions: HashMap<[u8; 16], SeenSeqs> = HashMap::new();
        let mut records: Vec<Record> = Vec::with_capacity(group.len());
        let mut replies: Vec<(Reply, bool)> = Vec::with_capacity(group.len());
        for (pending, reply) in group {
            let seen = match sessions.entry(pending.session) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(self.load_seen(&pending.session)),
            };
            seen.last_seen_ms = now;
            let fresh = seen.insert(pending.record.meta.seq);
            if fresh {
                records.push(pending.record);
            }
            replies.push((reply, fresh));
        }
        let result = if records.is_empty() {
            self.flush().map(|()| None)
        } else {
            self.write_chunk(&records, &sessions).map(Some)
        };
        for (reply, fresh) in replies {
            let answer = match (&result, fresh) {
                (Ok(Some(chunk_seq)), true) => Ok(Appended::Stored { chunk_seq: *chunk_seq }),
                (Ok(_), _) => Ok(Appended::Duplicate),
                (Err(e), _) => Err(e.clone()),
            };
            let _ = reply.send(answer);
        }
    }

    /// If the store was reopened after an I/O error, writes not synced before it may be gone, so the counters are
    /// read back from the store. Returns the store's generation.
    fn follow_reopen(&mut self) -> u64 {
        let generation = self.store.db.generation();
        if generation == self.generation {
            return generation;
        }
        self.generation = generation;
        match self.store.state() {
            Ok(state) => {
                self.state = state.unwrap_or_default();
                self.dirty = false;
                self.publish();
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the buffer's state after the store reopened"),
        }
        generation
    }

    fn load_seen(&self, session: &[u8; 16]) -> SeenSeqs {
        match self.store.tree.get(store::dedup_key(session)) {
            Ok(Some(bytes)) => SeenSeqs::decode(&bytes).unwrap_or_default(),
            Ok(None) => SeenSeqs::default(),
            Err(e) => {
                tracing::warn!(error = %e, "dedup index read failed; treating session as new");
                SeenSeqs::default()
            }
        }
    }

    fn write_chunk(&mut self, records: &[Record], sessions: &HashMap<[u8; 16], SeenSeqs>) -> Result<u64, BufferError> {
        let chunk_seq = self.state.next_seq;
        let chunk = Chunk::encode(records);
        let frames = frame::split(chunk_seq, &chunk).map_err(|e| BufferError::Storage(e.to_string()))?;
        let mut batch = traceflow_store::Batch::default();
        let mut stored = 0u64;
        for (index, frame) in frames.into_iter().enumerate() {
            stored += frame.len() as u64;
            batch.insert(&store::frame_key(chunk_seq, index as u16)[..], frame);
        }
        for (session, seen) in sessions {
            batch.insert(&store::dedup_key(session)[..], seen.encode());
        }
        let next =
            State { next_seq: chunk_seq + 1, live_bytes: self.state.live_bytes + stored, depth: self.state.depth + 1 };
        batch.insert(store::STATE_KEY, &next.encode()[..]);
        self.store.tree.apply(batch).map_err(|e| BufferError::Storage(e.to_string()))?;
        self.state = next;
        self.dirty = true;
        self.metrics.bytes_stored.inc_by(stored);
        self.flush()?;
        self.metrics.group_batches.observe(records.len() as f64);
        Ok(chunk_seq)
    }

    fn flush(&mut self) -> Result<(), BufferError> {
        if !self.dirty {
            return Ok(());
        }
        let started = Instant::now();
        self.store.db.sync().map_err(|e| BufferError::Storage(e.to_string()))?;
        self.metrics.flush_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.flushes.inc();
        self.dirty = false;
        if self.last_disk_check.elapsed() >= DISK_CHECK_EVERY {
            self.publish_disk();
        }
        self.publish();
        Ok(())
    }

    fn remove(&mut self, seqs: &[u64]) -> Result<(), BufferError> {
        self.follow_reopen();
        let storage = |e: super::StoreError| BufferError::Storage(e.to_string());
        let mut batch = traceflow_store::Batch::default();
        let mut state = self.state;
        for &seq in seqs {
            let frames = self.store.frame_sizes(seq).map_err(storage)?;
            if frames.is_empty() {
                continue;
            }
            for (key, size) in frames {
                state.live_bytes = state.live_bytes.saturating_sub(size);
                batch.remove(key);
            }
            state.depth = state.depth.saturating_sub(1);
        }
        batch.insert(store::STATE_KEY, &state.encode()[..]);
        self.store.tree.apply(batch).map_err(|e| BufferError::Storage(e.to_string()))?;
        self.state = state;
        self.dirty = true;
        self.publish();
        Ok(())
    }

    fn tick(&mut self) {
        self.follow_reopen();
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "buffer flush failed");
        }
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            self.prune_dedup();
        }
        self.publish_disk();
        self.publish();
    }

    /// Forgets sessions not seen for the dedup window. Not flushed: a crash only brings them back for a while.
    fn prune_dedup(&mut self) {
        let cutoff = now_ms().saturating_sub(self.options.dedup_window_ms);
        let mut batch = traceflow_store::Batch::default();
        let mut removed = 0usize;
        for item in self.store.dedup_entries().take(PRUNE_SCAN_LIMIT) {
            let Ok((key, value)) = item else { break };
            if SeenSeqs::decode(&value).is_none_or(|seen| seen.last_seen_ms < cutoff) {
                batch.remove(key);
                removed += 1;
            }
        }
        if removed > 0 {
            match self.store.tree.apply(batch) {
                Ok(()) => tracing::debug!(removed, "pruned dedup index"),
                Err(e) => tracing::warn!(error = %e, "dedup prune failed"),
            }
        }
    }

    fn publish_disk(&mut self) {
        self.last_disk_check = Instant::now();
        let disk = self.store.size_on_disk();
        self.gauges.disk_bytes.store(disk, Ordering::Relaxed);
        self.metrics.buffer_disk_bytes.set(disk as i64);
    }

    /// Copies counters to the lock-free gauges and metrics.
    fn publish(&self) {
        self.gauges.live_bytes.store(self.state.live_bytes, Ordering::Relaxed);
        self.gauges.depth.store(self.state.depth, Ordering::Relaxed);
        self.gauges.next_seq.store(self.state.next_seq, Ordering::Relaxed);
        self.metrics.buffer_live_bytes.set(self.state.live_bytes as i64);
        self.metrics.buffer_depth.set(self.state.depth as i64);
    }
}
