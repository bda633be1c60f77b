//! Snapshots off the tick thread: a follower. A second matcher, on a thread of its own, is
//! rebuilt from the store at open exactly as recovery rebuilds the tick loop's, then is fed
//! every committed journal entry and re-runs it (`TickRecord::apply`, which checks the event
//! hash, and the journal's chain check): it holds the tick loop's state a few ticks behind.
//! When a snapshot is due, the tick thread only marks the entry; the follower exports its own
//! state, encodes it and writes it through the [`SnapshotSink`], and reports the file's row,
//! which the tick thread commits with a later tick. So the tick that makes a snapshot due
//! costs what its neighbours cost, whatever the queue's size.
//!
//! Bounds: at most `FOLLOWER_LAG_BOUND` entries wait for the follower. At the bound, or if the
//! follower fails (a diverged replay, a failed write), the store stops feeding it, logs why,
//! and writes its snapshots in the tick again (as it does on a storage backend without a
//! directory): slower ticks, never a lost snapshot.
//!
//! The follower is also a standing check of determinism: it re-runs every tick and compares
//! event hashes with the tick loop's. The store's side (starting the follower, recording the
//! rows it reports, giving it up) is here too.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::JoinHandle;

use matchwright_ecs::{Config, EventChain, Matcher};
use redb::{Database, ReadableDatabase};

use super::journal::JournalHead;
use super::recover::{rebuild, replay_journal};
use super::snapshot::StoredSnapshot;
use super::snapshot_files::{SnapshotFileRow, SnapshotSink, file_rows, retire_files, write_file};
use crate::error::{StoreError, from_redb};
use crate::records::JournalEntry;
use crate::tables::SNAPSHOT_FILES;
use matchwright_ecs::codec;

/// Journal entries that may wait for the follower before it is given up.
pub(crate) const FOLLOWER_LAG_BOUND: usize = 20_000;

/// A committed tick for the follower; `snapshot` when one is due with it.
struct Job {
    entry: JournalEntry,
    snapshot: bool,
}

/// What the follower tells the tick thread.
#[derive(Debug)]
pub(crate) enum FollowerReport {
    /// A snapshot file is durable: commit its row.
    Written(SnapshotFileRow),
    /// The follower stopped: why.
    Failed(String),
}

/// The tick thread's side of the follower.
#[derive(Debug)]
pub(crate) struct Follower {
    jobs: Option<SyncSender<Job>>,
    /// Set to make the thread stop before its next entry.
    halt: Arc<AtomicBool>,
    reports: Receiver<FollowerReport>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Starts a follower that rebuilds itself from `db` as it stands now (the caller commits
    /// nothing before this returns), then follows the entries given to [`Follower::feed`].
    pub(crate) fn start(db: Arc<Database>, path: PathBuf, sink: Arc<dyn SnapshotSink>) -> Self {
        let (jobs, inbox) = sync_channel(FOLLOWER_LAG_BOUND);
        let (outbox, reports) = sync_channel(64);
        // Begun here, so the follower sees exactly what is committed before the first entry it
        // is fed.
        let read = db.begin_read();
        let halt = Arc::new(AtomicBool::new(false));
        let halted = Arc::clone(&halt);
        let thread = std::thread::Builder::new()
            .name("matchwright-snapshots".into())
            .spawn(move || {
                lower_priority();
                let started = read
                    .map_err(|error| format!("reading the store: {error}"))
                    .and_then(|read| State::rebuild(path, &read));
                drop(db);
                let state = match started {
                    Ok(state) => state,
                    Err(why) => {
                        let why =
                            format!("the snapshot follower could not rebuild the state: {why}");
                        let _ = outbox.send(FollowerReport::Failed(why));
                        return;
                    }
                };
                state.run(&inbox, &outbox, sink.as_ref(), &halted);
            })
            .expect("spawning the snapshot thread");
        Self {
            jobs: Some(jobs),
            halt,
            reports,
            thread: Some(thread),
        }
    }

    /// Hands a committed entry to the follower. `Err` when it cannot take it (it failed, or
    /// is `FOLLOWER_LAG_BOUND` entries behind): the caller stops using it.
    pub(crate) fn feed(&self, entry: JournalEntry, snapshot: bool) -> Result<(), String> {
        let Some(jobs) = &self.jobs else {
            return Err("the snapshot follower was stopped".into());
        };
        match jobs.try_send(Job { entry, snapshot }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(format!(
                "the snapshot follower is {FOLLOWER_LAG_BOUND} ticks behind"
            )),
            Err(TrySendError::Disconnected(_)) => Err("the snapshot follower stopped".into()),
        }
    }

    /// The reports waiting, without blocking.
    pub(crate) fn reports(&self) -> Vec<FollowerReport> {
        let mut all = Vec::new();
        loop {
            match self.reports.try_recv() {
                Ok(report) => all.push(report),
                Err(TryRecvError::Empty) => return all,
                Err(TryRecvError::Disconnected) => {
                    if all.is_empty() {
                        all.push(FollowerReport::Failed(
                            "the snapshot follower stopped".into(),
                        ));
                    }
                    return all;
                }
            }
        }
    }

    /// Waits until the follower has handled every entry fed so far and returns its reports
    /// (for tests and benchmarks: the tick thread never waits).
    pub(crate) fn settle(&mut self) -> Vec<FollowerReport> {
        self.jobs = None;
        let mut all = Vec::new();
        while let Ok(report) = self.reports.recv() {
            all.push(report);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        all
    }

    /// Stops the thread without waiting for it (it may be thousands of entries behind); what
    /// it was writing is left unfinished and cleaned at the next open.
    pub(crate) fn abandon(mut self) {
        self.halt.store(true, Ordering::Relaxed);
        self.jobs = None;
        drop(self.thread.take());
    }

    /// Stops the thread before its next entry and waits for it (at most the snapshot it is
    /// writing).
    fn stop(&mut self) {
        self.halt.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The follower thread's state.
struct State {
    path: PathBuf,
    config: Config,
    config_toml: String,
    matcher: Matcher,
    head: JournalHead,
    now_ms: u64,
}

impl State {
    /// The state at the store's last committed tick, as recovery rebuilds it.
    fn rebuild(path: PathBuf, read: &redb::ReadTransaction) -> Result<Self, String> {
        let (stored, matcher) = rebuild(&path, read).map_err(|e| e.to_string())?;
        let base = stored.base();
        let mut state = Self::new(path, stored, matcher);
        let replayed = replay_journal(&state.path, read, &base, &mut state.matcher)
            .map_err(|e| e.to_string())?;
        state.head = replayed.head;
        state.now_ms = replayed.now_ms;
        // A reload in the journal after the snapshot is the config in force now.
        if state.matcher.config() != &state.config {
            state.config = state.matcher.config().clone();
            state.config_toml = state.config.to_toml_string();
        }
        Ok(state)
    }

    fn new(path: PathBuf, stored: StoredSnapshot, matcher: Matcher) -> Self {
        let config = stored
            .config(&path)
            .expect("`rebuild` loaded this config already");
        Self {
            path,
            config,
            config_toml: stored.config_toml,
            matcher,
            head: JournalHead {
                tick: stored.tick,
                chain: EventChain(stored.chain_hash),
            },
            now_ms: stored.now_ms,
        }
    }

    fn run(
        mut self,
        inbox: &Receiver<Job>,
        outbox: &SyncSender<FollowerReport>,
        sink: &dyn SnapshotSink,
        halt: &AtomicBool,
    ) {
        let mut events = Vec::new();
        for job in inbox {
            if halt.load(Ordering::Relaxed) {
                return;
            }
            match self.follow(job, &mut events, sink) {
                Ok(None) => {}
                Ok(Some(row)) => {
                    if outbox.send(FollowerReport::Written(row)).is_err() {
                        return;
                    }
                }
                Err(why) => {
                    tracing::error!(%why, "the snapshot follower stops");
                    let _ = outbox.send(FollowerReport::Failed(why));
                    return;
                }
            }
        }
    }

    /// Re-runs one entry (entries the rebuild already covered are skipped); writes a snapshot
    /// when asked.
    fn follow(
        &mut self,
        job: Job,
        events: &mut Vec<matchwright_ecs::Event>,
        sink: &dyn SnapshotSink,
    ) -> Result<Option<SnapshotFileRow>, String> {
        let tick = job.entry.record.tick;
        if tick > self.head.tick {
            self.head = self
                .head
                .follow(tick, &job.entry)
                .map_err(|broken| format!("the entries fed broke the journal: {broken}"))?;
            job.entry
                .record
                .apply(&mut self.matcher, events)
                .map_err(|error| format!("tick {tick} re-ran differently: {error}"))?;
            self.now_ms = job.entry.record.now_ms;
            // A reloaded config is the one the next snapshot is written under.
            if events
                .iter()
                .any(|event| matches!(event, matchwright_ecs::Event::ConfigReloaded { .. }))
            {
                self.config = self.matcher.config().clone();
                self.config_toml = self.config.to_toml_string();
            }
        }
        if !job.snapshot {
            return Ok(None);
        }
        self.write_snapshot(sink).map(Some)
    }

    fn write_snapshot(&self, sink: &dyn SnapshotSink) -> Result<SnapshotFileRow, String> {
        let state = self
            .matcher
            .snapshot()
            .map_err(|error| format!("exporting the state: {error}"))?;
        let stored = StoredSnapshot {
            tick: self.head.tick,
            now_ms: self.now_ms,
            chain_hash: self.head.chain.0,
            config_toml: self.config_toml.clone(),
            state,
        };
        debug_assert!(stored.config(&self.path).is_ok_and(|c| c == self.config));
        write_file(sink, &stored)
            .map_err(|error| format!("writing the snapshot of tick {}: {error}", stored.tick))
    }
}

/// Makes the calling thread yield to the tick thread when both want a core: the follower may
/// lag, the tick may not. Linux sets `nice` per thread; elsewhere this does nothing.
#[allow(unsafe_code)] // Two libc calls about this thread; nothing else is unsafe in the crate.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` and `setpriority` on the calling thread touch no memory of ours.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0 {
            tracing::debug!("could not lower the snapshot thread's priority");
        }
    }
}

impl super::Store {
    /// Starts the follower, when snapshots are to be taken off the tick thread and the store
    /// has a directory for them. Files a crash left without a row are deleted first.
    pub(super) fn start_follower(&mut self) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        if !self.options.background_snapshots || self.failed.is_some() {
            return;
        }
        let kept = self
            .db
            .begin_read()
            .map_err(|e| from_redb(&self.path, "reading", e.into()))
            .and_then(|read| file_rows(&self.path, &read));
        match kept.map(|rows| {
            rows.into_iter()
                .map(|row| row.name)
                .collect::<Vec<String>>()
        }) {
            Ok(names) => match sink.clean(&names) {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "deleted unfinished snapshot files"),
                Err(error) => tracing::warn!(%error, "could not clean the snapshot directory"),
            },
            Err(error) => {
                tracing::error!(%error, "snapshots stay in the tick");
                return;
            }
        }
        self.follower = Some(Follower::start(
            Arc::clone(&self.db),
            self.path.clone(),
            sink,
        ));
    }

    /// Stops using the follower: snapshots are written in the tick from now on.
    pub(super) fn give_up_follower(&mut self, why: &str) {
        self.snapshot_in_flight = None;
        if let Some(follower) = self.follower.take() {
            follower.abandon();
            tracing::error!(%why, "snapshots are written in the tick from now on");
            metrics::counter!("matchwright_store_snapshot_follower_failures_total").increment(1);
        }
    }

    /// Records the snapshot files the follower finished (their rows, in `txn`) and retires the
    /// file snapshots no longer needed; returns the files to delete once `txn` is durable. A
    /// failure report gives the follower up.
    pub(super) fn take_reports(
        &mut self,
        txn: &redb::WriteTransaction,
        reports: Vec<FollowerReport>,
    ) -> Result<Vec<String>, StoreError> {
        let mut rows = Vec::new();
        for report in reports {
            match report {
                FollowerReport::Written(row) => {
                    assert_eq!(
                        self.snapshot_in_flight,
                        Some(row.tick),
                        "the follower wrote a snapshot nobody asked for"
                    );
                    self.snapshot_in_flight = None;
                    rows.push(row);
                }
                FollowerReport::Failed(why) => self.give_up_follower(&why),
            }
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let keep_ms = self.options.journal_keep_ms;
        let result = (|| -> Result<Vec<String>, redb::Error> {
            let mut table = txn.open_table(SNAPSHOT_FILES)?;
            for row in &rows {
                // A snapshot of the follower is never ahead of the committed head.
                assert!(row.tick <= self.last_tick, "a snapshot from the future");
                table.insert(row.tick, codec::encode(row).as_slice())?;
            }
            drop(table);
            retire_files(txn, keep_ms)
        })();
        metrics::counter!("matchwright_store_snapshots_total").increment(rows.len() as u64);
        result.map_err(|error| self.fail("recording snapshot files in", error))
    }

    /// Deletes snapshot files whose rows are gone (after the commit that removed them), on a
    /// thread of its own: unlinking a file of hundreds of MB can take the filesystem tens of
    /// milliseconds, which the tick does not wait for. One deletion runs at a time; a crash
    /// before it ends leaves files without rows, deleted at the next open.
    pub(super) fn delete_snapshot_files(&mut self, names: &[String]) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        if names.is_empty() {
            return;
        }
        self.wait_for_deletions();
        let names = names.to_vec();
        let deleting = std::thread::Builder::new()
            .name("matchwright-snapshot-delete".into())
            .spawn(move || {
                for name in names {
                    if let Err(error) = sink.delete(&name) {
                        tracing::warn!(%name, %error, "could not delete a retired snapshot file");
                    }
                }
            });
        match deleting {
            Ok(thread) => self.deleting = Some(thread),
            Err(error) => tracing::warn!(%error, "could not start deleting snapshot files"),
        }
    }

    /// Waits for the files being deleted.
    pub(super) fn wait_for_deletions(&mut self) {
        if let Some(thread) = self.deleting.take() {
            let _ = thread.join();
        }
    }
}
