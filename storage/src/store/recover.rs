//! Recovery: the matcher rebuilt from the newest snapshot, then every journal entry after it
//! checked (tick and chain, `journal`) and re-run with `TickRecord::apply`, which compares the
//! events with the hash the entry recorded. So recovery is exact by construction and checks
//! itself as it goes; its cost is bounded by the snapshot cadence. This file also carries a
//! changed config over to the recovered state. See the crate documentation for why recovery
//! replays rather than reading state tables.

use std::path::Path;

use matchwright_ecs::{Config, EventChain, Matcher};
use redb::{ReadTransaction, ReadableDatabase, ReadableTableMetadata};

use super::journal::JournalHead;
use super::snapshot::StoredSnapshot;
use super::snapshot_files::{catalog, load};
use super::{RecoveryReport, Store};
use crate::error::{StoreError, from_redb};
use crate::records::JournalEntry;
use crate::tables::{JOURNAL, META, NEXT_OUTBOX_KEY, OUTBOX, decode_at};

/// How far replaying the journal after a snapshot got.
pub(super) struct Replayed {
    /// The last tick replayed (the snapshot's, if none) and the chain after it.
    pub(super) head: JournalHead,
    /// The matcher time of that tick.
    pub(super) now_ms: u64,
    /// Ticks replayed.
    ticks: u64,
    /// Commands in them.
    commands: u64,
}

impl Store {
    /// Rebuilds the matcher at the last committed tick and sets the store's head to it. If
    /// `config` differs from the stored one, the state continues under `config`, and a
    /// snapshot under it is written at once.
    pub(super) fn recover(
        &mut self,
        config: Config,
    ) -> Result<(Matcher, RecoveryReport), StoreError> {
        let path = self.path.clone();
        let read = self
            .db
            .begin_read()
            .map_err(|e| from_redb(&path, "reading", e.into()))?;
        let loading = std::time::Instant::now();
        let (stored, mut matcher) = rebuild(&path, &read)?;
        let snapshot_load_ms = loading.elapsed().as_millis() as u64;
        let replayed = replay_journal(&path, &read, &stored.base(), &mut matcher)?;
        let outbox_rows = outbox_rows(&path, &read)?;
        drop(read);

        self.last_tick = replayed.head.tick;
        self.last_now_ms = replayed.now_ms;
        self.chain_hash = replayed.head.chain.0;
        self.ticks_since_snapshot = replayed.ticks;
        self.commands_since_snapshot = replayed.commands;
        // The config the journal left in force (a reload after the snapshot changed it).
        let current = matcher.config().clone();
        self.config = current.clone();
        self.outbox.add(outbox_rows, self.options.outbox_limit);
        let config_changed = current != config;
        if config_changed {
            matcher = self.adopt_config(&matcher, config)?;
        } else if self.snapshot_due() {
            // A long journal after the newest snapshot (the process before died before its
            // follower's snapshot was recorded): snapshot now, so that a process killed
            // again and again still recovers in bounded time.
            let txn = self.begin_write()?;
            self.write_snapshot(&txn, &matcher, &current)?;
            self.commit(txn)?;
        }
        let recovery = RecoveryReport {
            created: false,
            snapshot_tick: stored.tick,
            replayed_ticks: replayed.ticks,
            replayed_commands: replayed.commands,
            last_tick: replayed.head.tick,
            chain_hash: replayed.head.chain.0,
            config_changed,
            queued_tickets: matcher.queued_tickets(),
            elapsed_ms: 0,
            snapshot_load_ms,
        };
        Ok((matcher, recovery))
    }

    /// The recovered state under `config`, with a snapshot under it written.
    fn adopt_config(&mut self, matcher: &Matcher, config: Config) -> Result<Matcher, StoreError> {
        let state = matcher.snapshot().map_err(|error| StoreError::Matcher {
            path: self.path.clone(),
            detail: error.to_string(),
        })?;
        let matcher =
            Matcher::restore(config.clone(), &state).map_err(|error| StoreError::Matcher {
                path: self.path.clone(),
                detail: format!("the new config does not fit the stored state: {error}"),
            })?;
        let txn = self.begin_write()?;
        self.write_snapshot(&txn, &matcher, &config)?;
        self.commit(txn)?;
        self.config = config;
        tracing::info!(
            tick = self.last_tick,
            "the config changed; a snapshot under it was written"
        );
        Ok(matcher)
    }
}

/// The matcher rebuilt from the newest snapshot (not yet the journal after it), and the
/// snapshot. The snapshot is checked against the journal: if the entry of its tick is still
/// kept, its chain must be the snapshot's (the entries after it are checked by the replay).
pub(super) fn rebuild(
    path: &Path,
    read: &ReadTransaction,
) -> Result<(StoredSnapshot, Matcher), StoreError> {
    let newest = catalog(path, read)?
        .pop()
        .ok_or_else(|| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "it holds no snapshot to recover from".into(),
        })?;
    let stored = load(path, read, &newest)?;
    check_against_journal(path, read, &stored)?;
    let config = stored.config(path)?;
    let matcher = Matcher::restore(config, &stored.state).map_err(|error| StoreError::Matcher {
        path: path.to_path_buf(),
        detail: error.to_string(),
    })?;
    Ok((stored, matcher))
}

/// A snapshot's tick and chain against the journal entry of its tick, when it is kept.
fn check_against_journal(
    path: &Path,
    read: &ReadTransaction,
    stored: &StoredSnapshot,
) -> Result<(), StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
    let Some(bytes) = journal.get(stored.tick).map_err(|e| read_error(e.into()))? else {
        return Ok(());
    };
    let entry: JournalEntry = decode_at(
        path,
        format_args!("journal entry {}", stored.tick),
        bytes.value(),
    )?;
    if entry.record.tick != stored.tick || entry.chain.0 != stored.chain_hash {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "the snapshot of tick {} does not match the journal entry of its tick (tick {}, \
                 another chain hash)",
                stored.tick, entry.record.tick
            ),
        });
    }
    Ok(())
}

/// Where a snapshot stands: the journal replays from the entry after `tick`.
pub(super) struct Base {
    pub(super) tick: u64,
    pub(super) now_ms: u64,
    pub(super) chain_hash: [u8; 32],
}

impl StoredSnapshot {
    pub(super) fn base(&self) -> Base {
        Base {
            tick: self.tick,
            now_ms: self.now_ms,
            chain_hash: self.chain_hash,
        }
    }
}

/// Re-runs every journal entry after `base` on `matcher`. Each entry is first checked to
/// follow the one before (the read side of the journal's invariants: a break is
/// [`StoreError::Corrupt`]), then applied and its events checked against its hash (a
/// mismatch is [`StoreError::JournalDiverged`]).
pub(super) fn replay_journal(
    path: &Path,
    read: &ReadTransaction,
    base: &Base,
    matcher: &mut Matcher,
) -> Result<Replayed, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
    let mut replayed = Replayed {
        head: JournalHead {
            tick: base.tick,
            chain: EventChain(base.chain_hash),
        },
        now_ms: base.now_ms,
        ticks: 0,
        commands: 0,
    };
    let mut events = Vec::new();
    for item in journal
        .range(base.tick + 1..)
        .map_err(|e| read_error(e.into()))?
    {
        let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
        let tick = tick.value();
        let entry: JournalEntry =
            decode_at(path, format_args!("journal entry {tick}"), bytes.value())?;
        replayed.head = replayed
            .head
            .follow(tick, &entry)
            .map_err(|broken| broken.corrupt(path))?;
        entry
            .record
            .apply(matcher, &mut events)
            .map_err(|error| StoreError::JournalDiverged {
                path: path.to_path_buf(),
                tick,
                detail: error.to_string(),
            })?;
        replayed.now_ms = entry.record.now_ms;
        replayed.ticks += 1;
        replayed.commands += entry.record.commands.len() as u64;
    }
    Ok(replayed)
}

/// The outbox rows waiting. The outbox counter is checked here too, so a damaged one is found
/// at start, not at the first write.
fn outbox_rows(path: &Path, read: &ReadTransaction) -> Result<u64, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let meta = read.open_table(META).map_err(|e| read_error(e.into()))?;
    if let Some(bytes) = meta
        .get(NEXT_OUTBOX_KEY)
        .map_err(|e| read_error(e.into()))?
    {
        <[u8; 8]>::try_from(bytes.value()).map_err(|_| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "the outbox counter is not 8 bytes".into(),
        })?;
    }
    read.open_table(OUTBOX)
        .and_then(|table| Ok(table.len()?))
        .map_err(|e| read_error(e.into()))
}
