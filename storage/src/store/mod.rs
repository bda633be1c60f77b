//! The redb store the tick loop owns: the [`Store`] type, its options, the reports it gives,
//! and its small accessors. Each of its jobs is a file of its own, so the way a tick goes to
//! disk and comes back reads in order:
//!
//! - `open`: opening or creating the file, and the checks made before redb trusts it;
//! - `recover`: the matcher rebuilt from the newest snapshot and the journal after it;
//! - `commit`: one tick in one transaction (journal entry, projected rows, outbox rows, and a
//!   snapshot when one is due);
//! - `journal`: the journal's two invariants (each tick is the previous plus one; each chain
//!   hash is the previous one extended by the tick's event hash), checked when an entry is
//!   written and again whenever one is read;
//! - `snapshot`: the stored snapshot, how it is written and how the oldest is read;
//! - `project`: a tick's events projected into the rows handlers read (matches, ratings,
//!   history) and into rows for the mirror;
//! - `prune`: what may be deleted, and what never is;
//! - `outbox`: the mirror's reader of the outbox;
//! - `export`: the store opened read-only, for `matchwright trace export`.
//!
//! The tables are in `tables`. See the crate documentation for what is durable when.

mod commit;
mod export;
mod follower;
mod journal;
mod open;
mod outbox;
pub(crate) mod project;
mod prune;
mod recover;
mod snapshot;
mod snapshot_files;
mod space;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use matchwright_ecs::{Command, Config, Event, Matcher};
use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition, WriteTransaction};

use crate::error::{StoreError, from_redb};
use crate::handle::StoreHandle;
pub use crate::tables::STORE_FORMAT;
use crate::tables::{JOURNAL, OutboxCounter};

pub use export::{ExportBase, JournalExport};
pub use outbox::OutboxReader;
pub use project::rating_key;
pub use snapshot_files::{DirectorySink, SnapshotSink};
pub use space::{SpaceReport, TableSpace};

/// How the store behaves. Every bound says what happens when it is reached.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreOptions {
    /// The season new ratings are kept under.
    pub season: String,
    /// A snapshot is written with the tick after this many ticks since the last one.
    pub snapshot_every_ticks: u64,
    /// ... or after this many journaled commands since the last one, whichever comes first.
    /// Recovery replays at most about this many commands.
    pub snapshot_every_commands: u64,
    /// Journal entries and snapshots older than this may be pruned (the newest snapshot and
    /// the journal after it are never pruned: recovery needs them). Finished matches older
    /// than this leave the `matches` table too.
    pub journal_keep_ms: u64,
    /// Whether rows are queued for the Postgres mirror. Off when no mirror is configured: the
    /// server then runs on redb alone and the outbox stays empty.
    pub mirror: bool,
    /// The outbox's bound, in rows. At the bound, [`Store::admission`] refuses new work
    /// (nothing is dropped); a tick in flight still commits.
    pub outbox_limit: u64,
    /// Match history kept per player in redb (the oldest goes first; Postgres keeps all).
    pub history_per_player: u64,
    /// redb's page cache.
    pub cache_bytes: usize,
    /// Whether snapshots are taken off the tick thread, by a follower matcher, into files
    /// beside the store (`follower`). Off, or on a storage backend without a directory, a
    /// snapshot is written inside the tick's transaction (the tick waits for it).
    pub background_snapshots: bool,
    /// Whether each tick queues its match and session events for the webhook sender
    /// (`webhooks`). Off when no endpoint is configured.
    pub webhooks: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            season: "default".into(),
            snapshot_every_ticks: 6_000,
            snapshot_every_commands: 200_000,
            journal_keep_ms: 60 * 60 * 1_000,
            mirror: false,
            outbox_limit: 1_000_000,
            history_per_player: 500,
            cache_bytes: 256 << 20,
            background_snapshots: true,
            webhooks: false,
        }
    }
}

/// What opening the store found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Whether the store was created now.
    pub created: bool,
    /// The tick of the snapshot recovery started from.
    pub snapshot_tick: u64,
    /// Journal ticks replayed after it.
    pub replayed_ticks: u64,
    /// Commands in those ticks.
    pub replayed_commands: u64,
    /// The last committed tick: the matcher is at it.
    pub last_tick: u64,
    /// The event chain hash at that tick.
    pub chain_hash: [u8; 32],
    /// Whether the config given differs from the one stored (the matcher now runs under the
    /// given one, from a fresh snapshot).
    pub config_changed: bool,
    /// Tickets queued in the recovered matcher.
    pub queued_tickets: usize,
    /// Time taken, in milliseconds.
    pub elapsed_ms: u64,
    /// Of that, loading the snapshot and restoring the matcher from it (the rest is mostly
    /// the journal's replay).
    pub snapshot_load_ms: u64,
}

/// A store and the matcher recovered from it.
#[derive(Debug)]
pub struct Opened {
    /// The store.
    pub store: Store,
    /// The matcher, at the store's last committed tick.
    pub matcher: Matcher,
    /// What recovery did.
    pub recovery: RecoveryReport,
}

/// One tick handed to [`Store::commit_tick`]: what went in and what came out.
#[derive(Clone, Copy, Debug)]
pub struct TickInput<'a> {
    /// The tick's number (from `TickReport::tick`).
    pub tick: u64,
    /// The time given to `Matcher::tick`.
    pub now_ms: u64,
    /// Every command submitted for it, in order.
    pub commands: &'a [Command],
    /// Every event it emitted, in order.
    pub events: &'a [Event],
}

/// What a commit wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitReport {
    /// The tick committed.
    pub tick: u64,
    /// The chain hash after it.
    pub chain_hash: [u8; 32],
    /// The hash of the tick's events (`codec::EventHasher` over them, in order).
    pub event_hash: [u8; 32],
    /// Whether a snapshot went with it.
    pub snapshot: bool,
    /// Outbox rows queued.
    pub outbox_rows: u64,
}

/// Why the store refuses new work now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// The outbox is at its bound: Postgres has been away too long.
    OutboxFull {
        /// Rows waiting.
        rows: u64,
        /// The bound.
        limit: u64,
    },
    /// A write failed; restart to recover.
    Failed(String),
}

impl std::fmt::Display for Backpressure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutboxFull { rows, limit } => write!(
                f,
                "the Postgres mirror is {rows} rows behind (bound {limit}); new work is refused \
                 until it catches up"
            ),
            Self::Failed(cause) => write!(f, "the store failed ({cause}); restart to recover"),
        }
    }
}

/// The store. One per data directory; the tick loop owns it.
#[derive(Debug)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
    options: StoreOptions,
    config: Config,
    last_tick: u64,
    last_now_ms: u64,
    chain_hash: [u8; 32],
    ticks_since_snapshot: u64,
    commands_since_snapshot: u64,
    outbox: Arc<OutboxCounter>,
    failed: Option<String>,
    /// Where snapshots taken off the tick thread go (`None` on a backend without a directory).
    sink: Option<Arc<dyn SnapshotSink>>,
    /// The follower taking them (`None`: snapshots are written in the tick).
    follower: Option<follower::Follower>,
    /// The tick of the snapshot the follower is taking: one at a time, so that a follower
    /// slower than the cadence skips snapshots rather than falls behind.
    snapshot_in_flight: Option<u64>,
    /// Handlers' writes waiting for the next tick's transaction.
    group: Arc<crate::group::GroupCommit>,
    /// The thread deleting retired snapshot files, if one runs.
    deleting: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        // No tick will take them now: handlers write on their own again.
        self.group.set_on(false);
        self.group.fail_waiting("the store closed");
    }
}

impl Store {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last committed tick.
    pub fn last_tick(&self) -> u64 {
        self.last_tick
    }

    /// The event chain hash at the last committed tick.
    pub fn chain_hash(&self) -> [u8; 32] {
        self.chain_hash
    }

    /// The options.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Whether new work may be taken now. Check before accepting a command from a client:
    /// refused when the mirror outbox is at its bound or a write has failed.
    pub fn admission(&self) -> Result<(), Backpressure> {
        if let Some(cause) = &self.failed {
            return Err(Backpressure::Failed(cause.clone()));
        }
        let rows = self.outbox.rows();
        if self.options.mirror && rows >= self.options.outbox_limit {
            return Err(Backpressure::OutboxFull {
                rows,
                limit: self.options.outbox_limit,
            });
        }
        Ok(())
    }

    /// Outbox rows waiting for the mirror.
    pub fn outbox_rows(&self) -> u64 {
        self.outbox.rows()
    }

    /// A handle for request handlers: reads, and the writes that are not part of a tick
    /// (accounts, refresh tokens). See [`StoreHandle`].
    pub fn handle(&self) -> StoreHandle {
        StoreHandle {
            db: Arc::clone(&self.db),
            path: self.path.clone(),
            season: self.options.season.clone(),
            mirror: self.options.mirror,
            outbox: Arc::clone(&self.outbox),
            outbox_limit: self.options.outbox_limit,
            group: Arc::clone(&self.group),
        }
    }

    /// Makes handlers' writes (accounts, tokens, avoid lists) join the ticks' transactions:
    /// the tick loop turns this on once it commits a tick every interval (a handler's write
    /// waits for the next). See `group`.
    pub fn enable_group_commit(&self) {
        self.group.set_on(true);
    }

    /// A handle the mirror task reads the outbox through (and acknowledges rows with).
    pub fn outbox_reader(&self) -> OutboxReader {
        OutboxReader {
            db: Arc::clone(&self.db),
            path: self.path.clone(),
            counter: Arc::clone(&self.outbox),
            limit: self.options.outbox_limit,
        }
    }

    /// Journal entries kept.
    pub fn journal_len(&self) -> Result<u64, StoreError> {
        self.table_len(JOURNAL)
    }

    /// Snapshots kept (in the table and in files).
    pub fn snapshot_count(&self) -> Result<u64, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| from_redb(&self.path, "reading", e.into()))?;
        Ok(snapshot_files::catalog(&self.path, &read)?.len() as u64)
    }

    /// Whether snapshots are being taken off the tick thread now.
    pub fn snapshots_in_background(&self) -> bool {
        self.follower.is_some()
    }

    /// Waits until the follower has re-run every committed tick and written every snapshot
    /// asked of it, commits their rows and waits for retired files to be deleted; then starts
    /// a new follower. For tests and benchmarks (a tick never waits for the follower).
    pub fn settle_snapshots(&mut self) -> Result<(), StoreError> {
        let Some(mut follower) = self.follower.take() else {
            return Ok(());
        };
        let reports = follower.settle();
        drop(follower);
        let txn = self.begin_write()?;
        let retired = self.take_reports(&txn, reports)?;
        self.commit(txn)?;
        self.delete_snapshot_files(&retired);
        self.wait_for_deletions();
        self.start_follower();
        Ok(())
    }

    fn table_len<K: redb::Key + 'static>(
        &self,
        table: TableDefinition<'_, K, &'static [u8]>,
    ) -> Result<u64, StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let table = read.open_table(table).map_err(|e| read_error(e.into()))?;
        table.len().map_err(|e| read_error(e.into()))
    }

    /// Marks the store failed (the first cause is kept and logged) and returns the error.
    fn fail(&mut self, doing: &'static str, error: impl Into<redb::Error>) -> StoreError {
        let error = from_redb(&self.path, doing, error.into());
        self.group.set_on(false);
        self.group
            .fail_waiting(&format!("the store failed: {error}"));
        if self.failed.is_none() {
            self.failed = Some(error.to_string());
            tracing::error!(path = %self.path.display(), %error, "store write failed");
        }
        error
    }

    /// A write transaction, refused once a write has failed.
    fn begin_write(&mut self) -> Result<WriteTransaction, StoreError> {
        if let Some(cause) = &self.failed {
            return Err(StoreError::Failed {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        self.db
            .begin_write()
            .map_err(|error| self.fail("writing", error))
    }

    fn commit(&mut self, txn: WriteTransaction) -> Result<(), StoreError> {
        txn.commit()
            .map_err(|error| self.fail("committing to", error))
    }
}

/// How long a commit took, for the tick loop's metrics.
pub fn record_commit_time(elapsed: Duration) {
    metrics::histogram!("matchwright_store_commit_seconds").record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    //! The read side of the journal's invariants on real files: a journal broken on disk is
    //! named as damage by recovery, by the export and by `read_journal`, never a panic.

    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};

    use matchwright_ecs::codec;
    use matchwright_ecs::{EnqueueTicket, EventChain, PlayerId, Rating, TicketId};
    use redb::ReadableTable;

    use super::*;
    use crate::records::JournalEntry;

    /// A store of `ticks` ticks, one player queued in each, a snapshot every `snapshot_every`.
    fn store_with_ticks(dir: &Path, ticks: u64, snapshot_every: u64) -> PathBuf {
        let path = dir.join("matchwright.redb");
        let options = StoreOptions {
            snapshot_every_ticks: snapshot_every,
            ..StoreOptions::default()
        };
        let Opened {
            mut store,
            mut matcher,
            ..
        } = Store::open(&path, Config::default(), 7, options).unwrap();
        for tick in 1..=ticks {
            let commands = vec![Command::Enqueue(EnqueueTicket::solo(
                TicketId(tick),
                "duel-1v1",
                PlayerId(tick),
                Rating::new(1500.0 + tick as f64, 100.0),
                vec![30, 90, 200, 250],
            ))];
            matcher.submit(commands[0].clone()).unwrap();
            let report = matcher.tick(tick * 100).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            let input = TickInput {
                tick: report.tick,
                now_ms: tick * 100,
                commands: &commands,
                events: &events,
            };
            store.commit_tick(input, &matcher).unwrap();
        }
        store.settle_snapshots().unwrap();
        path
    }

    /// Edits the journal on disk, behind the store's back.
    fn tamper(path: &Path, edit: impl FnOnce(&mut redb::Table<'_, u64, &[u8]>)) {
        let db = Database::open(path).unwrap();
        let txn = db.begin_write().unwrap();
        edit(&mut txn.open_table(JOURNAL).unwrap());
        txn.commit().unwrap();
    }

    /// Rewrites journal entry `tick` through `edit`.
    fn rewrite(path: &Path, tick: u64, edit: impl FnOnce(&mut JournalEntry)) {
        tamper(path, |journal| {
            let bytes = journal.get(tick).unwrap().unwrap().value().to_vec();
            let mut entry: JournalEntry = codec::decode(&bytes).unwrap();
            edit(&mut entry);
            journal
                .insert(tick, codec::encode(&entry).as_slice())
                .unwrap();
        });
    }

    fn damage(error: StoreError) -> String {
        match error {
            StoreError::Corrupt { detail, .. } => detail,
            other => panic!("not reported as damage: {other}"),
        }
    }

    fn export_error(path: &Path) -> String {
        let export = JournalExport::open(path).unwrap();
        let base = export.base().unwrap();
        match export.entries(base.tick, base.chain, |_| Ok::<(), ()>(())) {
            Err(Ok(error)) => damage(error),
            other => panic!("the export went on: {other:?}"),
        }
    }

    fn options() -> StoreOptions {
        StoreOptions {
            snapshot_every_ticks: 1_000,
            ..StoreOptions::default()
        }
    }

    /// The default config with a queue `late` added, and the commands that reload to it and
    /// queue a ticket there.
    fn reload_to_late() -> (Config, Vec<Command>) {
        let mut grown = Config::default();
        grown.queues.push(matchwright_ecs::QueueConfig {
            name: "late".into(),
            teams: 2,
            team_size: 1,
            max_party_size: 1,
            ..matchwright_ecs::QueueConfig::default()
        });
        let commands = vec![
            Command::ReloadConfig {
                config_toml: grown.to_toml_string(),
            },
            Command::Enqueue(EnqueueTicket::solo(
                TicketId(1),
                "late",
                PlayerId(1),
                Rating::new(1500.0, 100.0),
                vec![30, 90, 200, 250],
            )),
        ];
        (grown, commands)
    }

    /// Runs and commits one tick per entry of `ticks`, 100 ms apart.
    fn commit_ticks(store: &mut Store, matcher: &mut Matcher, ticks: &[Vec<Command>]) {
        for commands in ticks {
            for command in commands {
                matcher.submit(command.clone()).unwrap();
            }
            let now_ms = (store.last_tick + 1) * 100;
            let report = matcher.tick(now_ms).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            let input = TickInput {
                tick: report.tick,
                now_ms,
                commands,
                events: &events,
            };
            store.commit_tick(input, matcher).unwrap();
        }
    }

    #[test]
    fn a_reloaded_config_is_the_one_snapshots_are_written_under() {
        for background in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("matchwright.redb");
            let options = StoreOptions {
                snapshot_every_ticks: 2,
                background_snapshots: background,
                ..StoreOptions::default()
            };
            let Opened {
                mut store,
                mut matcher,
                ..
            } = Store::open(&path, Config::default(), 7, options.clone()).unwrap();
            let (grown, reload) = reload_to_late();
            commit_ticks(&mut store, &mut matcher, &[reload, Vec::new()]);
            store.settle_snapshots().unwrap();
            drop(store);
            // Under the old config, the snapshot after the reload would not even load.
            let opened = Store::open(&path, grown.clone(), 7, options).unwrap();
            assert_eq!(opened.recovery.snapshot_tick, 2, "background: {background}");
            assert!(!opened.recovery.config_changed);
            assert_eq!(opened.matcher.queued_tickets(), 1);
        }
    }

    #[test]
    fn a_reload_replayed_at_start_is_the_config_the_follower_snapshots_under() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matchwright.redb");
        let options = StoreOptions {
            snapshot_every_ticks: 3,
            background_snapshots: true,
            ..StoreOptions::default()
        };
        let (grown, reload) = reload_to_late();
        {
            let Opened {
                mut store,
                mut matcher,
                ..
            } = Store::open(&path, Config::default(), 7, options.clone()).unwrap();
            commit_ticks(&mut store, &mut matcher, &[reload]);
        }
        // Stopped before a snapshot: the reload is replayed from the journal at start, and
        // the follower's next snapshot is under the reloaded config.
        let Opened {
            mut store,
            mut matcher,
            recovery,
        } = Store::open(&path, grown.clone(), 7, options.clone()).unwrap();
        assert_eq!(
            (recovery.snapshot_tick, recovery.config_changed),
            (0, false)
        );
        commit_ticks(&mut store, &mut matcher, &[Vec::new(), Vec::new()]);
        store.settle_snapshots().unwrap();
        drop(store);
        let opened = Store::open(&path, grown, 7, options).unwrap();
        assert_eq!(opened.recovery.snapshot_tick, 3);
        assert_eq!(opened.matcher.queued_tickets(), 1);
    }

    #[test]
    fn an_intact_journal_recovers_and_exports_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 6, 1_000);
        let export = JournalExport::open(&path).unwrap();
        let base = export.base().unwrap();
        assert_eq!((base.tick, base.chain), (0, EventChain::default()));
        let mut chains = Vec::new();
        let walked = export.entries(base.tick, base.chain, |entry| {
            chains.push(entry.chain);
            Ok::<(), ()>(())
        });
        assert_eq!(walked.unwrap(), 6);
        drop(export);
        let opened = Store::open(&path, Config::default(), 7, options()).unwrap();
        assert_eq!(opened.recovery.last_tick, 6);
        assert_eq!(chains.last().unwrap().0, opened.recovery.chain_hash);
    }

    #[test]
    fn a_hole_in_the_journal_is_damage_to_recovery_and_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 6, 1_000);
        tamper(&path, |journal| {
            journal.remove(3).unwrap();
        });
        let error = Store::open(&path, Config::default(), 7, options()).unwrap_err();
        let shown = error.to_string();
        assert!(
            damage(error).contains("journal entry 4 follows tick 2"),
            "{shown}"
        );
        assert!(export_error(&path).contains("journal entry 4 follows tick 2"));
    }

    #[test]
    fn a_first_entry_that_does_not_follow_its_snapshot_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 3, 1_000);
        tamper(&path, |journal| {
            journal.remove(1).unwrap();
        });
        let error = Store::open(&path, Config::default(), 7, options()).unwrap_err();
        assert!(damage(error).contains("journal entry 2 follows tick 0"));
        assert!(export_error(&path).contains("journal entry 2 follows tick 0"));
    }

    #[test]
    fn a_wrong_chain_is_damage_to_recovery_and_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 6, 1_000);
        rewrite(&path, 5, |entry| entry.chain.0[0] ^= 1);
        let error = Store::open(&path, Config::default(), 7, options()).unwrap_err();
        assert!(damage(error).contains("journal entry 5 has a chain hash that does not follow"));
        assert!(export_error(&path).contains("journal entry 5 has a chain hash"));
    }

    #[test]
    fn an_event_hash_changed_under_its_chain_is_damage_not_divergence() {
        // The chain is checked before the entry replays: a record altered on disk is named
        // as damage, not blamed on the code replaying it.
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 4, 1_000);
        rewrite(&path, 2, |entry| entry.record.event_hash[0] ^= 1);
        let error = Store::open(&path, Config::default(), 7, options()).unwrap_err();
        assert!(damage(error).contains("journal entry 2 has a chain hash"));
    }

    #[test]
    fn a_break_before_the_newest_snapshot_is_found_by_export_and_read_journal() {
        // Recovery starts at the newest snapshot (tick 4) and never reads tick 2; the export
        // (from the oldest snapshot) and `read_journal` do, and say so.
        let dir = tempfile::tempdir().unwrap();
        let path = store_with_ticks(dir.path(), 6, 4);
        rewrite(&path, 2, |entry| entry.chain.0[31] ^= 1);
        assert!(export_error(&path).contains("journal entry 2 has a chain hash"));
        let opened = Store::open(&path, Config::default(), 7, options()).unwrap();
        assert_eq!(opened.recovery.snapshot_tick, 4);
        let mut visited = Vec::new();
        let error = opened
            .store
            .read_journal(0, |entry| {
                visited.push(entry.record.tick);
                true
            })
            .unwrap_err();
        assert!(damage(error).contains("journal entry 2 has a chain hash"));
        assert_eq!(visited, [1], "nothing from the break on is visited");
    }
}
