//! Recovery: the matcher rebuilt from the newest snapshot, then every journal entry after it
//! checked (tick and chain, `journal`) and re-run with `TickRecord::apply`, which compares the
//! events with the hash the entry recorded. So recovery is exact by construction and checks
//! itself as it goes; its cost is bounded by the snapshot cadence. This file also carries a
//! changed config over to the recovered state. See the crate documentation for why recovery
//! replays rather than reading state tables.

use std::path::Path;

use matchwright_ecs::{Config, EventChain, Matcher};
use redb::{ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::journal::JournalHead;
use super::snapshot::StoredSnapshot;
use super::{RecoveryReport, Store};
use crate::error::{StoreError, from_redb};
use crate::records::JournalEntry;
use crate::tables::{JOURNAL, META, NEXT_OUTBOX_KEY, OUTBOX, SNAPSHOTS, decode_at};

/// How far replaying the journal after a snapshot got.
struct Replayed {
    /// The last tick replayed (the snapshot's, if none) and the chain after it.
    head: JournalHead,
    /// The matcher time of that tick.
    now_ms: u64,
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
        let stored = newest_snapshot(&path, &read)?;
        let stored_config = stored.config(&path)?;
        let mut matcher =
            Matcher::restore(stored_config.clone(), &stored.state).map_err(|error| {
                StoreError::Matcher {
                    path: path.clone(),
                    detail: error.to_string(),
                }
            })?;
        let replayed = replay_journal(&path, &read, &stored, &mut matcher)?;
        let outbox_rows = outbox_rows(&path, &read)?;
        drop(read);

        self.last_tick = replayed.head.tick;
        self.last_now_ms = replayed.now_ms;
        self.chain_hash = replayed.head.chain.0;
        self.ticks_since_snapshot = replayed.ticks;
        self.commands_since_snapshot = replayed.commands;
        self.config = stored_config.clone();
        self.outbox.add(outbox_rows, self.options.outbox_limit);
        let config_changed = stored_config != config;
        if config_changed {
            matcher = self.adopt_config(&matcher, config)?;
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

fn newest_snapshot(path: &Path, read: &ReadTransaction) -> Result<StoredSnapshot, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let snapshots = read
        .open_table(SNAPSHOTS)
        .map_err(|e| read_error(e.into()))?;
    let (_, newest) = snapshots
        .last()
        .map_err(|e| read_error(e.into()))?
        .ok_or_else(|| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "it holds no snapshot to recover from".into(),
        })?;
    decode_at(path, "the newest snapshot", newest.value())
}

/// Re-runs every journal entry after `stored` on `matcher`. Each entry is first checked to
/// follow the one before (the read side of the journal's invariants: a break is
/// [`StoreError::Corrupt`]), then applied and its events checked against its hash (a
/// mismatch is [`StoreError::JournalDiverged`]).
fn replay_journal(
    path: &Path,
    read: &ReadTransaction,
    stored: &StoredSnapshot,
    matcher: &mut Matcher,
) -> Result<Replayed, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
    let mut replayed = Replayed {
        head: JournalHead {
            tick: stored.tick,
            chain: EventChain(stored.chain_hash),
        },
        now_ms: stored.now_ms,
        ticks: 0,
        commands: 0,
    };
    let mut events = Vec::new();
    for item in journal
        .range(stored.tick + 1..)
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
