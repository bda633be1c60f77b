//! Pruning: journal entries, snapshots and finished matches older than `journal_keep_ms`
//! go, but the newest snapshot old enough to be a base and the whole journal after it always
//! stay, so the store still recovers and still exports. Apart from `commit` because it is
//! the one write that deletes history, and its rule (what is never deleted) is the point.

use matchwright_ecs::codec;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::Store;
use super::snapshot::StoredSnapshot;
use super::snapshot_files::{SnapshotFileRow, retire_files};
use crate::error::StoreError;
use crate::records::MatchRow;
use crate::tables::{JOURNAL, MATCHES, SNAPSHOT_FILES, SNAPSHOTS};

impl Store {
    /// Deletes journal entries and snapshots older than `journal_keep_ms` before `now_ms`, and
    /// finished matches as old. Keeps the newest snapshot old enough to be a base, and every
    /// journal entry after it, so the store still recovers and still replays from that base.
    /// Returns the journal entries deleted.
    pub fn prune(&mut self, now_ms: u64) -> Result<u64, StoreError> {
        let cutoff = now_ms.saturating_sub(self.options.journal_keep_ms);
        let txn = self.begin_write()?;
        let result = (|| -> Result<(u64, Vec<String>), redb::Error> {
            let Some((pruned, mut files)) = prune_journal(&txn, cutoff)? else {
                return Ok((0, Vec::new()));
            };
            prune_matches(&txn, cutoff)?;
            files.extend(retire_files(&txn, self.options.journal_keep_ms)?);
            Ok((pruned, files))
        })();
        let (pruned, files) = result.map_err(|error| self.fail("pruning", error))?;
        self.commit(txn)?;
        self.delete_snapshot_files(&files);
        Ok(pruned)
    }
}

/// Deletes the snapshots (in the table and in files) before the base (the newest taken at or
/// before `cutoff`) and the journal up to it; returns the journal entries deleted and the
/// files to delete once committed, or `None` if no snapshot is old enough to be a base (then
/// nothing is deleted, matches included).
fn prune_journal(
    txn: &WriteTransaction,
    cutoff: u64,
) -> Result<Option<(u64, Vec<String>)>, redb::Error> {
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
    let mut files = txn.open_table(SNAPSHOT_FILES)?;
    let mut rows = Vec::new();
    for item in files.iter()? {
        let (_, bytes) = item?;
        let row: SnapshotFileRow = codec::decode(bytes.value())
            .map_err(|e| redb::Error::Corrupted(format!("snapshot file row: {e}")))?;
        if row.now_ms <= cutoff {
            base = base.max(Some(row.tick));
        }
        rows.push(row);
    }
    let Some(base) = base else {
        return Ok(None);
    };
    snapshots.retain_in(..base, |_, _| false)?;
    let mut retired = Vec::new();
    for row in rows.into_iter().filter(|row| row.tick < base) {
        files.remove(row.tick)?;
        retired.push(row.name);
    }
    let mut journal = txn.open_table(JOURNAL)?;
    let before = journal.len()?;
    journal.retain_in(..=base, |_, _| false)?;
    Ok(Some((before - journal.len()?, retired)))
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
