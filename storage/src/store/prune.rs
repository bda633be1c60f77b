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

/// Deletes finished matches last changed at or before `cutoff`. Match ids are handed out in
/// the order matches form, so the walk stops at the first match formed after `cutoff`: none
/// after it can have changed before. A prune reads the matches old enough to go (and the
/// few old ones still open), not every match kept. Were ids ever out of formation order, a
/// match would only be pruned later, never early.
fn prune_matches(txn: &WriteTransaction, cutoff: u64) -> Result<(), redb::Error> {
    let mut matches = txn.open_table(MATCHES)?;
    let mut old = Vec::new();
    for item in matches.iter()? {
        let (id, bytes) = item?;
        let row: MatchRow = codec::decode(bytes.value())
            .map_err(|e| redb::Error::Corrupted(format!("match: {e}")))?;
        if row.formed_at_ms > cutoff {
            break;
        }
        if row.state.is_final() && row.updated_at_ms <= cutoff {
            old.push(id.value());
        }
    }
    for id in old {
        matches.remove(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use matchwright_ecs::{MatchId, codec};
    use redb::{Database, ReadableDatabase, ReadableTable};

    use super::prune_matches;
    use crate::records::{MatchRow, MatchState};
    use crate::tables::MATCHES;

    fn row(id: u64, formed_at_ms: u64, state: MatchState, updated_at_ms: u64) -> MatchRow {
        MatchRow {
            match_id: MatchId(id),
            queue: "duel-1v1".into(),
            mode: "duel".into(),
            region: "eu-west".into(),
            formed_at_ms,
            quality: 0.9,
            players: Vec::new(),
            roles: Vec::new(),
            state,
            updated_at_ms,
            placements: None,
            server: None,
        }
    }

    /// The ids left after pruning `rows` at `cutoff`.
    fn kept_after(rows: &[MatchRow], cutoff: u64) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("prune.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(MATCHES).unwrap();
            for row in rows {
                let bytes = codec::encode(row);
                table.insert(row.match_id.0, bytes.as_slice()).unwrap();
            }
        }
        prune_matches(&txn, cutoff).unwrap();
        txn.commit().unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(MATCHES).unwrap();
        table
            .iter()
            .unwrap()
            .map(|item| item.unwrap().0.value())
            .collect()
    }

    #[test]
    fn finished_old_matches_go_open_and_recent_ones_stay() {
        let rows = [
            row(1, 1_000, MatchState::Ended, 5_000), // finished before the cutoff: goes
            row(2, 2_000, MatchState::Active, 2_000), // still playing: stays
            row(3, 3_000, MatchState::Cancelled, 3_500), // cancelled before: goes
            row(4, 4_000, MatchState::Ended, 12_000), // ended after the cutoff: stays
            row(5, 9_000, MatchState::Abandoned, 9_500), // given up before: goes
            row(6, 11_000, MatchState::Ended, 11_000), // formed after the cutoff: stays
            row(7, 12_000, MatchState::Proposed, 12_000), // formed after: stays
        ];
        assert_eq!(kept_after(&rows, 10_000), [2, 4, 6, 7]);
    }

    #[test]
    fn the_walk_stops_at_the_first_match_formed_after_the_cutoff() {
        // Ids out of formation order (never written so): a match behind one formed after the
        // cutoff is kept for a later prune, never deleted early.
        let rows = [
            row(1, 1_000, MatchState::Ended, 1_000),
            row(2, 20_000, MatchState::Ended, 20_000),
            row(3, 1_000, MatchState::Ended, 1_000),
        ];
        assert_eq!(kept_after(&rows, 10_000), [2, 3]);
        assert_eq!(kept_after(&rows, 30_000), Vec::<u64>::new());
    }
}
