//! Pruning: journal entries, snapshots and finished matches older than `journal_keep_ms`
//! go, but the newest snapshot old enough to be a base and the whole journal after it always
//! stay, so the store still recovers and still exports. Apart from `commit` because it is
//! the one write that deletes history, and its rule (what is never deleted) is the point.

use matchwright_ecs::codec;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::Store;
use super::snapshot::StoredSnapshot;
use crate::error::StoreError;
use crate::records::MatchRow;
use crate::tables::{JOURNAL, MATCHES, SNAPSHOTS};

impl Store {
    /// Deletes journal entries and snapshots older than `journal_keep_ms` before `now_ms`, and
    /// finished matches as old. Keeps the newest snapshot old enough to be a base, and every
    /// journal entry after it, so the store still recovers and still replays from that base.
    /// Returns the journal entries deleted.
    pub fn prune(&mut self, now_ms: u64) -> Result<u64, StoreError> {
        let cutoff = now_ms.saturating_sub(self.options.journal_keep_ms);
        let txn = self.begin_write()?;
        let result = (|| -> Result<u64, redb::Error> {
            let Some(pruned) = prune_journal(&txn, cutoff)? else {
                return Ok(0);
            };
            prune_matches(&txn, cutoff)?;
            Ok(pruned)
        })();
        let pruned = result.map_err(|error| self.fail("pruning", error))?;
        self.commit(txn)?;
        Ok(pruned)
    }
}

/// Deletes the snapshots before the base (the newest taken at or before `cutoff`) and the
/// journal up to it; returns the journal entries deleted, or `None` if no snapshot is old
/// enough to be a base (then nothing is deleted, matches included).
fn prune_journal(txn: &WriteTransaction, cutoff: u64) -> Result<Option<u64>, redb::Error> {
    let mut snapshots = txn.open_table(SNAPSHOTS)?;
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
        return Ok(None);
    };
    snapshots.retain_in(..base, |_, _| false)?;
    let mut journal = txn.open_table(JOURNAL)?;
    let before = journal.len()?;
    journal.retain_in(..=base, |_, _| false)?;
    Ok(Some(before - journal.len()?))
}

/// Deletes finished matches last changed at or before `cutoff`.
fn prune_matches(txn: &WriteTransaction, cutoff: u64) -> Result<(), redb::Error> {
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
    Ok(())
}
