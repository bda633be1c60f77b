//! The redb store: opening and recovery, the per-tick group commit, accounts, and the outbox
//! the Postgres mirror drains (its tables are in `tables`). See the crate documentation for what is durable when.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use matchwright_ecs::codec;
use matchwright_ecs::event::RatingUpdate;
use matchwright_ecs::{
    Command, Config, Event, EventChain, MatchId, MatchSummary, Matcher, Snapshot, TickRecord,
};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, from_redb};
use crate::handle::StoreHandle;
use crate::records::{JournalEntry, MatchRow, MatchState, MirrorRow, RatingRecord};
pub use crate::tables::STORE_FORMAT;
use crate::tables::{
    ACCOUNTS, FORMAT_KEY, HISTORY, JOURNAL, MAGIC, MATCHES, META, NEXT_OUTBOX_KEY, OUTBOX,
    OutboxCounter, RATINGS, REFRESH_TOKENS, SNAPSHOTS, USERNAMES, append_outbox, decode_at,
};

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
        }
    }
}

/// A snapshot as stored: the matcher's state, the config it ran under (as TOML: the config's
/// tagged enums need a self-describing format), and where the event chain stood.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    tick: u64,
    now_ms: u64,
    chain_hash: [u8; 32],
    config_toml: String,
    state: Snapshot,
}

impl StoredSnapshot {
    fn config(&self, path: &Path) -> Result<Config, StoreError> {
        Config::from_toml_str(&self.config_toml).map_err(|error| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "snapshot {} holds a config that does not load: {error}",
                self.tick
            ),
        })
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
}

fn io_path_error(path: &Path, doing: &'static str, error: impl Into<redb::Error>) -> StoreError {
    from_redb(path, doing, error.into())
}

impl Store {
    /// Opens the store at `path` (creating it, and a matcher from `config` and `seed`, if the
    /// file does not exist) and recovers the matcher at the last committed tick: the newest
    /// snapshot, then every journal entry after it replayed and checked against its event
    /// hash. If `config` differs from the stored one, the recovered state continues under
    /// `config` (and a snapshot under it is written at once).
    pub fn open(
        path: impl AsRef<Path>,
        config: Config,
        seed: u64,
        options: StoreOptions,
    ) -> Result<Opened, StoreError> {
        let started = Instant::now();
        let path = path.as_ref().to_path_buf();
        let fresh = match std::fs::metadata(&path) {
            Ok(meta) => meta.len() == 0,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
            Err(error) => {
                return Err(StoreError::Io {
                    path,
                    doing: "reading",
                    detail: error.to_string(),
                    disk_full: false,
                });
            }
        };
        if !fresh {
            check_header(&path)?;
        }
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|error| io_path_error(&path, "opening", error))?;
        Self::finish_open(db, path, fresh, config, seed, options, started)
    }

    /// As [`Store::open`], on a redb storage backend of the caller's (tests use one that
    /// fails like a full disk). `label` names it in errors.
    pub fn open_with_backend(
        label: impl AsRef<Path>,
        backend: impl redb::StorageBackend,
        config: Config,
        seed: u64,
        options: StoreOptions,
    ) -> Result<Opened, StoreError> {
        let started = Instant::now();
        let path = label.as_ref().to_path_buf();
        let fresh = backend.len().map_err(|error| StoreError::Io {
            path: path.clone(),
            doing: "reading",
            detail: error.to_string(),
            disk_full: false,
        })? == 0;
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create_with_backend(backend)
            .map_err(|error| io_path_error(&path, "opening", error))?;
        Self::finish_open(db, path, fresh, config, seed, options, started)
    }

    fn finish_open(
        db: Database,
        path: PathBuf,
        fresh: bool,
        config: Config,
        seed: u64,
        options: StoreOptions,
        started: Instant,
    ) -> Result<Opened, StoreError> {
        let mut store = Self {
            db: Arc::new(db),
            path,
            options,
            config: config.clone(),
            last_tick: 0,
            last_now_ms: 0,
            chain_hash: [0; 32],
            ticks_since_snapshot: 0,
            commands_since_snapshot: 0,
            outbox: Arc::default(),
            failed: None,
        };
        let (matcher, mut recovery) = if fresh || !store.has_format()? {
            if !fresh {
                return Err(StoreError::Foreign {
                    path: store.path,
                    detail: "a redb database without Matchwright's format marker".into(),
                });
            }
            store.create(config, seed)?
        } else {
            let recovered = store.recover(config)?;
            store.build_leaderboard_if_missing()?;
            recovered
        };
        recovery.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            path = %store.path.display(),
            created = recovery.created,
            snapshot_tick = recovery.snapshot_tick,
            replayed_ticks = recovery.replayed_ticks,
            last_tick = recovery.last_tick,
            queued_tickets = recovery.queued_tickets,
            elapsed_ms = recovery.elapsed_ms,
            "store open"
        );
        Ok(Opened {
            store,
            matcher,
            recovery,
        })
    }

    fn has_format(&self) -> Result<bool, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|error| io_path_error(&self.path, "reading", error))?;
        let meta = match read.open_table(META) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(error) => return Err(io_path_error(&self.path, "reading", error)),
        };
        let Some(format) = meta
            .get(FORMAT_KEY)
            .map_err(|error| io_path_error(&self.path, "reading", error))?
        else {
            return Ok(false);
        };
        let bytes = format.value();
        let found = bytes
            .strip_prefix(MAGIC)
            .and_then(|rest| rest.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| StoreError::Foreign {
                path: self.path.clone(),
                detail: "its format marker is not Matchwright's".into(),
            })?;
        if found != STORE_FORMAT {
            return Err(StoreError::UnsupportedFormat {
                path: self.path.clone(),
                found,
                reads: STORE_FORMAT,
            });
        }
        Ok(true)
    }

    fn create(
        &mut self,
        config: Config,
        seed: u64,
    ) -> Result<(Matcher, RecoveryReport), StoreError> {
        let matcher = Matcher::new(config.clone(), seed).map_err(|error| StoreError::Matcher {
            path: self.path.clone(),
            detail: error.to_string(),
        })?;
        let txn = self.begin_write()?;
        let result = (|| -> Result<(), redb::Error> {
            let mut meta = txn.open_table(META)?;
            let mut marker = MAGIC.to_vec();
            marker.extend_from_slice(&STORE_FORMAT.to_le_bytes());
            meta.insert(FORMAT_KEY, marker.as_slice())?;
            meta.insert(NEXT_OUTBOX_KEY, 0_u64.to_le_bytes().as_slice())?;
            drop(meta);
            // Every table exists from the start, so readers never meet a missing one.
            txn.open_table(JOURNAL)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(USERNAMES)?;
            txn.open_table(REFRESH_TOKENS)?;
            txn.open_table(RATINGS)?;
            txn.open_table(MATCHES)?;
            txn.open_table(HISTORY)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(crate::leaderboard::LEADERBOARD)?;
            Ok(())
        })();
        result.map_err(|error| self.fail("creating", error))?;
        self.write_snapshot(&txn, &matcher, &config)?;
        self.commit(txn)?;
        let recovery = RecoveryReport {
            created: true,
            snapshot_tick: 0,
            replayed_ticks: 0,
            replayed_commands: 0,
            last_tick: 0,
            chain_hash: [0; 32],
            config_changed: false,
            queued_tickets: 0,
            elapsed_ms: 0,
        };
        Ok((matcher, recovery))
    }

    /// Stores written before the leaderboard index get it built from their ratings.
    fn build_leaderboard_if_missing(&mut self) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        let built = crate::leaderboard::build_if_missing(&txn, RATINGS)
            .map_err(|error| self.fail("indexing the leaderboard of", error))?;
        self.commit(txn)?;
        if built > 0 {
            tracing::info!(
                entries = built,
                "built the leaderboard index from the ratings"
            );
        }
        Ok(())
    }

    fn recover(&mut self, config: Config) -> Result<(Matcher, RecoveryReport), StoreError> {
        let path = self.path.clone();
        let read_error = |error: redb::Error| from_redb(&path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let snapshots = read
            .open_table(SNAPSHOTS)
            .map_err(|e| read_error(e.into()))?;
        let (_, newest) = snapshots
            .last()
            .map_err(|e| read_error(e.into()))?
            .ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                detail: "it holds no snapshot to recover from".into(),
            })?;
        let stored: StoredSnapshot = decode_at(&path, "the newest snapshot", newest.value())?;
        drop(newest);
        let stored_config = stored.config(&path)?;
        let mut matcher =
            Matcher::restore(stored_config.clone(), &stored.state).map_err(|error| {
                StoreError::Matcher {
                    path: path.clone(),
                    detail: error.to_string(),
                }
            })?;
        let mut chain = EventChain(stored.chain_hash);
        let mut last_tick = stored.tick;
        let mut last_now_ms = stored.now_ms;
        let (mut replayed_ticks, mut replayed_commands) = (0, 0);
        let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
        let mut events = Vec::new();
        for item in journal
            .range(stored.tick + 1..)
            .map_err(|e| read_error(e.into()))?
        {
            let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
            let tick = tick.value();
            let entry: JournalEntry =
                decode_at(&path, format_args!("journal entry {tick}"), bytes.value())?;
            if entry.record.tick != last_tick + 1 || tick != entry.record.tick {
                return Err(StoreError::Corrupt {
                    path: path.clone(),
                    detail: format!(
                        "journal entry {tick} follows tick {last_tick} (holes are not possible \
                         in a store written by Matchwright)"
                    ),
                });
            }
            entry
                .record
                .apply(&mut matcher, &mut events)
                .map_err(|error| StoreError::JournalDiverged {
                    path: path.clone(),
                    tick,
                    detail: error.to_string(),
                })?;
            chain.push(&entry.record.event_hash);
            if chain != entry.chain {
                return Err(StoreError::Corrupt {
                    path: path.clone(),
                    detail: format!("journal entry {tick} has a chain hash that does not follow"),
                });
            }
            last_tick = tick;
            last_now_ms = entry.record.now_ms;
            replayed_ticks += 1;
            replayed_commands += entry.record.commands.len() as u64;
        }
        let meta = read.open_table(META).map_err(|e| read_error(e.into()))?;
        // Checked here so a damaged counter is found at start, not at the first write.
        let _next_outbox: u64 = match meta
            .get(NEXT_OUTBOX_KEY)
            .map_err(|e| read_error(e.into()))?
        {
            Some(bytes) => {
                u64::from_le_bytes(bytes.value().try_into().map_err(|_| StoreError::Corrupt {
                    path: path.clone(),
                    detail: "the outbox counter is not 8 bytes".into(),
                })?)
            }
            None => 0,
        };
        let outbox_rows = read
            .open_table(OUTBOX)
            .and_then(|table| Ok(table.len()?))
            .map_err(|e| read_error(e.into()))?;
        drop((snapshots, journal, meta));
        drop(read);

        self.last_tick = last_tick;
        self.last_now_ms = last_now_ms;
        self.chain_hash = chain.0;
        self.ticks_since_snapshot = replayed_ticks;
        self.commands_since_snapshot = replayed_commands;
        self.config = stored_config.clone();
        self.outbox.add(outbox_rows, self.options.outbox_limit);
        let config_changed = stored_config != config;
        if config_changed {
            let state = matcher.snapshot().map_err(|error| StoreError::Matcher {
                path: path.clone(),
                detail: error.to_string(),
            })?;
            matcher =
                Matcher::restore(config.clone(), &state).map_err(|error| StoreError::Matcher {
                    path: path.clone(),
                    detail: format!("the new config does not fit the stored state: {error}"),
                })?;
            let txn = self.begin_write()?;
            self.write_snapshot(&txn, &matcher, &config)?;
            self.commit(txn)?;
            self.config = config;
            tracing::info!(
                tick = last_tick,
                "the config changed; a snapshot under it was written"
            );
        }
        let recovery = RecoveryReport {
            created: false,
            snapshot_tick: stored.tick,
            replayed_ticks,
            replayed_commands,
            last_tick,
            chain_hash: chain.0,
            config_changed,
            queued_tickets: matcher.queued_tickets(),
            elapsed_ms: 0,
        };
        Ok((matcher, recovery))
    }

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
        }
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

    fn fail(&mut self, doing: &'static str, error: impl Into<redb::Error>) -> StoreError {
        let error = from_redb(&self.path, doing, error.into());
        if self.failed.is_none() {
            self.failed = Some(error.to_string());
            tracing::error!(path = %self.path.display(), %error, "store write failed");
        }
        error
    }

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

    fn write_snapshot(
        &mut self,
        txn: &WriteTransaction,
        matcher: &Matcher,
        config: &Config,
    ) -> Result<(), StoreError> {
        let state = matcher.snapshot().map_err(|error| StoreError::Matcher {
            path: self.path.clone(),
            detail: error.to_string(),
        })?;
        let stored = StoredSnapshot {
            tick: self.last_tick,
            now_ms: self.last_now_ms,
            chain_hash: self.chain_hash,
            config_toml: config.to_toml_string(),
            state,
        };
        let bytes = codec::encode(&stored);
        let result = (|| -> Result<(), redb::Error> {
            txn.open_table(SNAPSHOTS)?
                .insert(self.last_tick, bytes.as_slice())?;
            Ok(())
        })();
        result.map_err(|error| self.fail("writing a snapshot to", error))?;
        self.ticks_since_snapshot = 0;
        self.commands_since_snapshot = 0;
        Ok(())
    }

    /// Commits one tick in one redb transaction: its journal entry, the state its events
    /// change (matches, ratings, history), its outbox rows, and a snapshot when one is due.
    /// Returns once the transaction is durable (fsynced): only then may the tick's commands be
    /// acknowledged and its events published. On an error nothing of the tick is committed,
    /// and the store takes no more writes: restart, and recovery brings the matcher back to
    /// the last committed tick (the caller's matcher has run ahead of it and must be dropped).
    pub fn commit_tick(
        &mut self,
        input: TickInput<'_>,
        matcher: &Matcher,
    ) -> Result<CommitReport, StoreError> {
        if input.tick != self.last_tick + 1 {
            return Err(StoreError::TickOutOfOrder {
                expected: self.last_tick + 1,
                given: input.tick,
            });
        }
        let record = TickRecord::of(
            input.tick,
            input.now_ms,
            input.commands.to_vec(),
            input.events,
        );
        let event_hash = record.event_hash;
        let mut chain = EventChain(self.chain_hash);
        chain.push(&event_hash);
        let chain_hash = chain.0;
        let entry = JournalEntry { record, chain };
        let txn = self.begin_write()?;
        let written = (|| -> Result<u64, redb::Error> {
            txn.open_table(JOURNAL)?
                .insert(input.tick, codec::encode(&entry).as_slice())?;
            let mut rows = Vec::new();
            apply_events(&txn, &self.options, input.now_ms, input.events, &mut rows)?;
            let queued = rows.len() as u64;
            if self.options.mirror {
                append_outbox(&txn, &rows)?;
            }
            Ok(queued)
        })();
        let queued = written.map_err(|error| self.fail("writing tick to", error))?;
        // Counted as if committed; if the commit fails the store stops taking writes anyway.
        let (previous_tick, previous_now, previous_chain) =
            (self.last_tick, self.last_now_ms, self.chain_hash);
        self.last_tick = input.tick;
        self.last_now_ms = input.now_ms;
        self.chain_hash = chain_hash;
        self.ticks_since_snapshot += 1;
        self.commands_since_snapshot += input.commands.len() as u64;
        let snapshot = self.ticks_since_snapshot >= self.options.snapshot_every_ticks
            || self.commands_since_snapshot >= self.options.snapshot_every_commands;
        let config = self.config.clone();
        let outcome = (|| {
            if snapshot {
                self.write_snapshot(&txn, matcher, &config)?;
            }
            self.commit(txn)
        })();
        if let Err(error) = outcome {
            self.last_tick = previous_tick;
            self.last_now_ms = previous_now;
            self.chain_hash = previous_chain;
            return Err(error);
        }
        if self.options.mirror {
            self.outbox.add(queued, self.options.outbox_limit);
        }
        metrics::counter!("matchwright_store_ticks_committed").increment(1);
        Ok(CommitReport {
            tick: input.tick,
            chain_hash,
            event_hash,
            snapshot,
            outbox_rows: if self.options.mirror { queued } else { 0 },
        })
    }

    /// Deletes journal entries and snapshots older than `journal_keep_ms` before `now_ms`, and
    /// finished matches as old. Keeps the newest snapshot old enough to be a base, and every
    /// journal entry after it, so the store still recovers and still replays from that base.
    /// Returns the journal entries deleted.
    pub fn prune(&mut self, now_ms: u64) -> Result<u64, StoreError> {
        let cutoff = now_ms.saturating_sub(self.options.journal_keep_ms);
        let txn = self.begin_write()?;
        let result = (|| -> Result<u64, redb::Error> {
            let mut snapshots = txn.open_table(SNAPSHOTS)?;
            // The base: the newest snapshot taken at or before the cutoff.
            let mut base = None;
            for item in snapshots.iter()? {
                let (tick, bytes) = item?;
                let stored: StoredSnapshot = codec::decode(bytes.value())
                    .map_err(|e| redb::Error::Corrupted(format!("snapshot: {e}")))?;
                if stored.now_ms <= cutoff {
                    base = Some(tick.value());
                } else {
                    break;
                }
            }
            let Some(base) = base else {
                return Ok(0);
            };
            snapshots.retain_in(..base, |_, _| false)?;
            let mut journal = txn.open_table(JOURNAL)?;
            let before = journal.len()?;
            journal.retain_in(..=base, |_, _| false)?;
            let pruned = before - journal.len()?;
            let mut matches = txn.open_table(MATCHES)?;
            let mut old = Vec::new();
            for item in matches.iter()? {
                let (id, bytes) = item?;
                let row: MatchRow = codec::decode(bytes.value())
                    .map_err(|e| redb::Error::Corrupted(format!("match: {e}")))?;
                if row.state.is_final() && row.updated_at_ms <= cutoff {
                    old.push(id.value());
                }
            }
            for id in old {
                matches.remove(id)?;
            }
            Ok(pruned)
        })();
        let pruned = result.map_err(|error| self.fail("pruning", error))?;
        self.commit(txn)?;
        Ok(pruned)
    }

    /// Reads journal entries from `from_tick` on, in order, calling `visit` for each (the
    /// replay tool's export reads the journal this way). Stops early if `visit` returns false.
    pub fn read_journal(
        &self,
        from_tick: u64,
        mut visit: impl FnMut(JournalEntry) -> bool,
    ) -> Result<(), StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
        for item in journal
            .range(from_tick..)
            .map_err(|e| read_error(e.into()))?
        {
            let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
            let entry = decode_at(
                &self.path,
                format_args!("journal entry {}", tick.value()),
                bytes.value(),
            )?;
            if !visit(entry) {
                break;
            }
        }
        Ok(())
    }

    /// The oldest snapshot kept (the base the journal can be replayed from): its tick, the
    /// config it ran under, and the state.
    pub fn base_snapshot(&self) -> Result<(u64, Config, Snapshot), StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let snapshots = read
            .open_table(SNAPSHOTS)
            .map_err(|e| read_error(e.into()))?;
        let (tick, bytes) = snapshots
            .first()
            .map_err(|e| read_error(e.into()))?
            .ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                detail: "it holds no snapshot".into(),
            })?;
        let stored: StoredSnapshot = decode_at(
            &self.path,
            format_args!("snapshot {}", tick.value()),
            bytes.value(),
        )?;
        let config = stored.config(&self.path)?;
        Ok((stored.tick, config, stored.state))
    }

    /// Journal entries kept.
    pub fn journal_len(&self) -> Result<u64, StoreError> {
        self.table_len(JOURNAL)
    }

    /// Snapshots kept.
    pub fn snapshot_count(&self) -> Result<u64, StoreError> {
        self.table_len(SNAPSHOTS)
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
}

/// Checks the first bytes of an existing file before redb opens it: redb trusts a cleanly
/// closed file and may panic on one damaged outside it, and names a foreign file only
/// vaguely. Our file starts with redb's magic number.
fn check_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    const REDB_MAGIC: &[u8] = b"redb";
    let mut head = [0_u8; 4];
    let read = std::fs::File::open(path).and_then(|mut file| file.read(&mut head));
    match read {
        Ok(n) if n == head.len() && head == REDB_MAGIC => Ok(()),
        Ok(_) => Err(StoreError::Foreign {
            path: path.to_path_buf(),
            detail: "it does not start with redb's magic number".into(),
        }),
        Err(error) => Err(StoreError::Io {
            path: path.to_path_buf(),
            doing: "reading",
            detail: error.to_string(),
            disk_full: false,
        }),
    }
}

/// Applies a tick's events to the derived tables (matches, ratings, history) and collects the
/// rows to mirror.
fn apply_events(
    txn: &WriteTransaction,
    options: &StoreOptions,
    now_ms: u64,
    events: &[Event],
    rows: &mut Vec<MirrorRow>,
) -> Result<(), redb::Error> {
    let mut matches = txn.open_table(MATCHES)?;
    let mut load = |id: MatchId,
                    matches: &mut redb::Table<'_, u64, &[u8]>|
     -> Result<Option<MatchRow>, redb::Error> {
        match matches.get(id.0)? {
            Some(bytes) => {
                Ok(Some(codec::decode(bytes.value()).map_err(|e| {
                    redb::Error::Corrupted(format!("match {}: {e}", id.0))
                })?))
            }
            None => Ok(None),
        }
    };
    let mut save = |row: MatchRow,
                    matches: &mut redb::Table<'_, u64, &[u8]>,
                    rows: &mut Vec<MirrorRow>|
     -> Result<(), redb::Error> {
        matches.insert(row.match_id.0, codec::encode(&row).as_slice())?;
        if options.mirror {
            rows.push(MirrorRow::Match(row));
        }
        Ok(())
    };
    for event in events {
        match event {
            Event::MatchProposed { summary, .. } => {
                save(
                    new_match_row(summary, MatchState::Proposed),
                    &mut matches,
                    rows,
                )?;
            }
            Event::MatchFormed { summary } => {
                save(
                    new_match_row(summary, MatchState::Allocating),
                    &mut matches,
                    rows,
                )?;
            }
            Event::MatchCancelled { match_id, .. } => {
                set_state(
                    &mut load,
                    &mut save,
                    &mut matches,
                    rows,
                    *match_id,
                    MatchState::Cancelled,
                    now_ms,
                    None,
                )?;
            }
            Event::SessionActive { match_id, server } => {
                if let Some(mut row) = load(*match_id, &mut matches)? {
                    row.server = Some(server.clone());
                    save(row, &mut matches, rows)?;
                }
                set_state(
                    &mut load,
                    &mut save,
                    &mut matches,
                    rows,
                    *match_id,
                    MatchState::Active,
                    now_ms,
                    None,
                )?;
            }
            Event::SessionEnded {
                match_id,
                placements,
            } => {
                set_state(
                    &mut load,
                    &mut save,
                    &mut matches,
                    rows,
                    *match_id,
                    MatchState::Ended,
                    now_ms,
                    placements.clone(),
                )?;
            }
            Event::SessionAbandoned { match_id, .. } => {
                set_state(
                    &mut load,
                    &mut save,
                    &mut matches,
                    rows,
                    *match_id,
                    MatchState::Abandoned,
                    now_ms,
                    None,
                )?;
            }
            Event::BackfillFilled {
                match_id, tickets, ..
            } => {
                if let Some(mut row) = load(*match_id, &mut matches)? {
                    for placed in tickets {
                        for player in &placed.ticket.players {
                            row.players.push((player.player, placed.team));
                        }
                    }
                    row.updated_at_ms = now_ms;
                    save(row, &mut matches, rows)?;
                }
            }
            Event::RatingsUpdated {
                match_id,
                mode,
                updates,
            } => {
                let mut row = load(*match_id, &mut matches)?;
                // The core rates before it ends the session (both in this tick): take the
                // placements from the session's end so history knows who placed where.
                if let Some(row) = row.as_mut().filter(|row| row.placements.is_none()) {
                    row.placements = events.iter().find_map(|later| match later {
                        Event::SessionEnded {
                            match_id: ended,
                            placements,
                        } if ended == match_id => placements.clone(),
                        _ => None,
                    });
                }
                rate(
                    txn,
                    options,
                    now_ms,
                    *match_id,
                    mode,
                    updates,
                    row.as_ref(),
                    rows,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn new_match_row(summary: &MatchSummary, state: MatchState) -> MatchRow {
    MatchRow {
        match_id: summary.match_id,
        queue: summary.queue.to_string(),
        mode: summary.mode.to_string(),
        region: summary.region.to_string(),
        formed_at_ms: summary.formed_at_ms,
        quality: summary.quality,
        players: summary
            .teams
            .iter()
            .enumerate()
            .flat_map(|(team, tickets)| {
                tickets.iter().flat_map(move |ticket| {
                    ticket.players.iter().map(move |p| (p.player, team as u8))
                })
            })
            .collect(),
        state,
        updated_at_ms: summary.formed_at_ms,
        placements: None,
        server: None,
    }
}

#[allow(clippy::type_complexity)]
fn set_state(
    load: &mut impl FnMut(
        MatchId,
        &mut redb::Table<'_, u64, &[u8]>,
    ) -> Result<Option<MatchRow>, redb::Error>,
    save: &mut impl FnMut(
        MatchRow,
        &mut redb::Table<'_, u64, &[u8]>,
        &mut Vec<MirrorRow>,
    ) -> Result<(), redb::Error>,
    matches: &mut redb::Table<'_, u64, &[u8]>,
    rows: &mut Vec<MirrorRow>,
    match_id: MatchId,
    state: MatchState,
    now_ms: u64,
    placements: Option<Vec<u32>>,
) -> Result<(), redb::Error> {
    if let Some(mut row) = load(match_id, matches)? {
        row.state = state;
        row.updated_at_ms = now_ms;
        if placements.is_some() {
            row.placements = placements;
        }
        save(row, matches, rows)?;
    }
    Ok(())
}

fn rate(
    txn: &WriteTransaction,
    options: &StoreOptions,
    now_ms: u64,
    match_id: MatchId,
    mode: &str,
    updates: &[RatingUpdate],
    row: Option<&MatchRow>,
    rows: &mut Vec<MirrorRow>,
) -> Result<(), redb::Error> {
    let mut ratings = txn.open_table(RATINGS)?;
    let mut history = txn.open_table(HISTORY)?;
    let mut leaderboard = txn.open_table(crate::leaderboard::LEADERBOARD)?;
    let season = options.season.as_str();
    for update in updates {
        let key = (update.player.0, mode, season);
        let old = match ratings.get(key)? {
            Some(bytes) => Some(
                codec::decode::<RatingRecord>(bytes.value())
                    .map_err(|e| redb::Error::Corrupted(format!("rating: {e}")))?,
            ),
            None => None,
        };
        let record = RatingRecord {
            rating: update.after,
            games: old.map_or(0, |old| old.games) + 1,
            updated_at_ms: now_ms,
        };
        ratings.insert(key, codec::encode(&record).as_slice())?;
        crate::leaderboard::index(
            &mut leaderboard,
            season,
            mode,
            update.player,
            old.map(|old| old.rating),
            &record,
        )?;
        let placement = row
            .and_then(|row| {
                let team = row.players.iter().find(|(p, _)| *p == update.player)?.1;
                row.placements.as_ref()?.get(usize::from(team)).copied()
            })
            .unwrap_or(u32::MAX);
        let entry = MirrorRow::History {
            player: update.player,
            match_id,
            mode: mode.to_string(),
            placement,
            before: update.before,
            after: update.after,
            at_ms: now_ms,
        };
        history.insert(
            (update.player.0, match_id.0),
            codec::encode(&entry).as_slice(),
        )?;
        // Bounded per player: the oldest rows go (Postgres keeps them all).
        let kept = history
            .range((update.player.0, 0)..=(update.player.0, u64::MAX))?
            .count() as u64;
        if kept > options.history_per_player {
            let excess = kept - options.history_per_player;
            let oldest: Vec<u64> = history
                .range((update.player.0, 0)..=(update.player.0, u64::MAX))?
                .take(excess as usize)
                .map(|item| item.map(|(key, _)| key.value().1))
                .collect::<Result<_, _>>()?;
            for id in oldest {
                history.remove((update.player.0, id))?;
            }
        }
        if options.mirror {
            rows.push(MirrorRow::Rating {
                player: update.player,
                mode: mode.to_string(),
                season: season.to_string(),
                record,
            });
            rows.push(entry);
        }
    }
    Ok(())
}

/// The mirror's handle on the outbox: reads rows in order and deletes them once Postgres has
/// them. Shares the database with the store (redb readers never block the writer).
#[derive(Clone, Debug)]
pub struct OutboxReader {
    db: Arc<Database>,
    path: PathBuf,
    counter: Arc<OutboxCounter>,
    limit: u64,
}

impl OutboxReader {
    /// Up to `limit` rows after sequence number `after` (or from the first, if `None`), in order.
    pub fn read_batch(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, MirrorRow)>, StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let table = read.open_table(OUTBOX).map_err(|e| read_error(e.into()))?;
        let start = after.map_or(0, |seq| seq + 1);
        let mut rows = Vec::with_capacity(limit.min(65_536));
        for item in table
            .range(start..)
            .map_err(|e| read_error(e.into()))?
            .take(limit)
        {
            let (seq, bytes) = item.map_err(|e| read_error(e.into()))?;
            let seq = seq.value();
            rows.push((
                seq,
                decode_at(&self.path, format_args!("outbox row {seq}"), bytes.value())?,
            ));
        }
        Ok(rows)
    }

    /// Deletes every row up to and including `upto` (Postgres has committed them).
    pub fn acknowledge(&self, upto: u64) -> Result<(), StoreError> {
        let write_error =
            |error: redb::Error| from_redb(&self.path, "acknowledging the outbox of", error);
        let txn = self.db.begin_write().map_err(|e| write_error(e.into()))?;
        let deleted = {
            let mut table = txn.open_table(OUTBOX).map_err(|e| write_error(e.into()))?;
            let before = table.len().map_err(|e| write_error(e.into()))?;
            table
                .retain_in(..=upto, |_, _| false)
                .map_err(|e| write_error(e.into()))?;
            before - table.len().map_err(|e| write_error(e.into()))?
        };
        txn.commit().map_err(|e| write_error(e.into()))?;
        self.counter.remove(deleted, self.limit);
        Ok(())
    }

    /// Rows waiting.
    pub fn rows(&self) -> u64 {
        self.counter.rows()
    }
}

/// How long a commit took, for the tick loop's metrics.
pub fn record_commit_time(elapsed: Duration) {
    metrics::histogram!("matchwright_store_commit_seconds").record(elapsed.as_secs_f64());
}

/// The store opened read-only, for `matchwright trace export`: the journal and the snapshot it
/// starts from, read without recovering or writing anything. Refused (`StoreError::InUse`)
/// while a server holds the file.
pub struct JournalExport {
    db: redb::ReadOnlyDatabase,
    path: PathBuf,
}

/// Where an export starts: a snapshot, and the journal after it.
#[derive(Clone, Debug)]
pub struct ExportBase {
    /// The snapshot's tick; the export's first tick is the one after.
    pub tick: u64,
    /// The matcher time of that tick.
    pub now_ms: u64,
    /// The config the journal after it ran under.
    pub config: Config,
    /// The matcher's state.
    pub state: Snapshot,
    /// When the journal kept before `tick` ran under another config (the server was restarted
    /// with a new one), the oldest snapshot kept: that part cannot replay under this config
    /// and is left out.
    pub other_config_from: Option<u64>,
}

impl JournalExport {
    /// Opens the store at `path` read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Err(error) = std::fs::metadata(&path) {
            return Err(StoreError::Io {
                path,
                doing: "reading",
                detail: error.to_string(),
                disk_full: false,
            });
        }
        check_header(&path)?;
        let db = redb::ReadOnlyDatabase::open(&path).map_err(|error| match error {
            redb::DatabaseError::RepairAborted => StoreError::Corrupt {
                path: path.clone(),
                detail: "it was not closed cleanly (the server crashed or was killed) and cannot \
                         be repaired read-only: start `matchwright serve` on it once, which \
                         recovers it, stop it, then export"
                    .into(),
            },
            other => from_redb(&path, "opening", other.into()),
        })?;
        Ok(Self { db, path })
    }

    /// The snapshot the export starts from: the oldest kept under the config in force now.
    pub fn base(&self) -> Result<ExportBase, StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let snapshots = read
            .open_table(SNAPSHOTS)
            .map_err(|e| read_error(e.into()))?;
        // Newest first: walk back while the config stays the newest one's.
        let mut base: Option<StoredSnapshot> = None;
        let mut other_config_from = None;
        for item in snapshots.iter().map_err(|e| read_error(e.into()))?.rev() {
            let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
            let stored: StoredSnapshot = decode_at(
                &self.path,
                format_args!("snapshot {}", tick.value()),
                bytes.value(),
            )?;
            match &base {
                Some(newer) if newer.config_toml != stored.config_toml => {
                    // The oldest snapshot of all, for the message.
                    other_config_from = snapshots
                        .first()
                        .map_err(|e| read_error(e.into()))?
                        .map(|(tick, _)| tick.value());
                    break;
                }
                _ => base = Some(stored),
            }
        }
        let base = base.ok_or_else(|| StoreError::Corrupt {
            path: self.path.clone(),
            detail: "it holds no snapshot to export from".into(),
        })?;
        let config = base.config(&self.path)?;
        Ok(ExportBase {
            tick: base.tick,
            now_ms: base.now_ms,
            config,
            state: base.state,
            other_config_from,
        })
    }

    /// Visits every journal entry after `base_tick`, in order; `visit` may stop the walk with
    /// an error of its own (returned as `Err(Err(..))`).
    pub fn entries<E>(
        &self,
        base_tick: u64,
        mut visit: impl FnMut(JournalEntry) -> Result<(), E>,
    ) -> Result<u64, Result<StoreError, E>> {
        let read_error = |error: redb::Error| Ok(from_redb(&self.path, "reading", error));
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
        let mut expected = base_tick + 1;
        for item in journal
            .range(base_tick + 1..)
            .map_err(|e| read_error(e.into()))?
        {
            let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
            let entry: JournalEntry = decode_at(
                &self.path,
                format_args!("journal entry {}", tick.value()),
                bytes.value(),
            )
            .map_err(Ok)?;
            if entry.record.tick != expected {
                return Err(Ok(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!(
                        "journal entry {} follows tick {} (holes are not possible in a store \
                         written by Matchwright)",
                        entry.record.tick,
                        expected - 1
                    ),
                }));
            }
            expected += 1;
            visit(entry).map_err(Err)?;
        }
        Ok(expected - 1 - base_tick)
    }
}
