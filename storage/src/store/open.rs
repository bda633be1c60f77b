//! Opening the store: a new file is created with every table, its format marker and a first
//! snapshot; an existing one is checked (redb's magic number before redb sees it, then our
//! format marker) and handed to `recover`. Kept apart from recovery because these checks
//! decide whether a file is ours at all, while recovery trusts that and rebuilds the matcher.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use matchwright_ecs::{Config, Matcher};
use redb::{Database, ReadableDatabase, TableError};

use super::snapshot_files::{DirectorySink, SnapshotSink};
use super::{Opened, RecoveryReport, Store, StoreOptions};
use crate::error::{StoreError, from_redb};
use crate::tables::{
    ACCOUNTS, AVOID_LISTS, FORMAT_KEY, HISTORY, HISTORY_COUNTS, JOURNAL, MAGIC, MATCHES, META,
    NEXT_OUTBOX_KEY, OUTBOX, RATINGS, REFRESH_TOKENS, SNAPSHOT_FILES, STORE_FORMAT, USERNAMES,
};

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
        let sink: Arc<dyn SnapshotSink> = Arc::new(DirectorySink::beside(&path));
        // redb panics on some pages damaged outside it; that is damage to report, not a crash.
        let label = path.clone();
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let db = Database::builder()
                .set_cache_size(options.cache_bytes)
                .create(&path)
                .map_err(|error| io_path_error(&path, "opening", error))?;
            Self::finish_open(db, path, fresh, config, seed, options, started)
        }));
        let mut opened = opened.unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(StoreError::Corrupt {
                path: label,
                detail: format!("redb failed reading it: {why}"),
            })
        })?;
        opened.store.sink = Some(sink);
        opened.store.start_follower();
        Ok(opened)
    }

    /// As [`Store::open`], on a redb storage backend of the caller's (tests use one that
    /// fails like a full disk). `label` names it in errors. Such a store has no directory
    /// for snapshot files: its snapshots are written in the tick.
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
            sink: None,
            follower: None,
            snapshot_in_flight: None,
            group: Arc::default(),
            deleting: None,
        };
        let (matcher, mut recovery) = if fresh || !store.has_format()? {
            if !fresh {
                return Err(StoreError::Foreign {
                    path: store.path.clone(),
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
            snapshot_load_ms = recovery.snapshot_load_ms,
            "store open"
        );
        Ok(Opened {
            store,
            matcher,
            recovery,
        })
    }

    /// Whether the file carries our format marker (and refuses another format's).
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
            txn.open_table(HISTORY_COUNTS)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(crate::leaderboard::LEADERBOARD)?;
            txn.open_table(AVOID_LISTS)?;
            txn.open_table(crate::tables::BANS)?;
            txn.open_table(crate::tables::AUDIT)?;
            txn.open_table(SNAPSHOT_FILES)?;
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
            snapshot_load_ms: 0,
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
}

/// Checks the first bytes of an existing file before redb opens it: redb trusts a cleanly
/// closed file and may panic on one damaged outside it, and names a foreign file only
/// vaguely. Our file starts with redb's magic number.
pub(super) fn check_header(path: &Path) -> Result<(), StoreError> {
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
