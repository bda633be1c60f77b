//! What the admin API keeps in the store: bans and the audit log of operators' actions. Both
//! are written by request handlers (never by a tick) through `StoreHandle::write`, so they
//! join the next tick's transaction when group commit is on, and neither is mirrored.
//!
//! Bounds: one ban per player (banning again replaces the record); the audit log keeps the
//! newest [`AUDIT_KEEP`] records, writing one more deletes the oldest in the same
//! transaction; a page of it is at most [`MAX_AUDIT_PAGE`] records.

use matchwright_ecs::PlayerId;
use matchwright_ecs::codec;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::error::StoreError;
use crate::handle::StoreHandle;
use crate::records::{AUDIT_KEEP, AuditRecord, BanRecord};
use crate::tables::{AUDIT, BANS, decode_at};

/// The most audit records one page holds.
pub const MAX_AUDIT_PAGE: usize = 500;

impl StoreHandle {
    /// Bans a player (replacing an earlier ban's record). Durable when it returns.
    pub fn put_ban(&self, ban: &BanRecord) -> Result<(), StoreError> {
        let (player, bytes) = (ban.player, codec::encode(ban));
        self.write("writing a ban to", move |txn| {
            txn.open_table(BANS)?.insert(player.0, bytes.as_slice())?;
            Ok(((), 0))
        })
    }

    /// Lifts a player's ban. Returns whether there was one.
    pub fn remove_ban(&self, player: PlayerId) -> Result<bool, StoreError> {
        self.write("lifting a ban in", move |txn| {
            let removed = txn.open_table(BANS)?.remove(player.0)?.is_some();
            Ok((removed, 0))
        })
    }

    /// A player's ban, if they are banned.
    pub fn ban(&self, player: PlayerId) -> Result<Option<BanRecord>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = match read.open_table(BANS) {
            Ok(table) => table,
            // A store from before bans: nobody is banned.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(self.read_error()(error.into())),
        };
        let Some(bytes) = table
            .get(player.0)
            .map_err(|e| self.read_error()(e.into()))?
        else {
            return Ok(None);
        };
        decode_at(
            &self.path,
            format_args!("the ban of player {}", player.0),
            bytes.value(),
        )
        .map(Some)
    }

    /// Appends an operator's action to the audit log, numbered after the last one, and drops
    /// the oldest beyond [`AUDIT_KEEP`]. Returns its number. Durable when it returns.
    pub fn append_audit(&self, record: &AuditRecord) -> Result<u64, StoreError> {
        let mut record = record.clone();
        self.write("writing the audit log to", move |txn| {
            let mut table = txn.open_table(AUDIT)?;
            let last = table.last()?.map(|(key, _)| key.value());
            record.id = last.map_or(1, |id| id + 1);
            table.insert(record.id, codec::encode(&record).as_slice())?;
            while table.len()? > AUDIT_KEEP {
                table.pop_first()?;
            }
            Ok((record.id, 0))
        })
    }

    /// The audit log, newest first: up to `limit` records (at most [`MAX_AUDIT_PAGE`])
    /// numbered below `before` (all of them when `None`).
    pub fn audit_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = match read.open_table(AUDIT) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(self.read_error()(error.into())),
        };
        let range = table
            .range(..before.unwrap_or(u64::MAX))
            .map_err(|e| self.read_error()(e.into()))?;
        let mut page = Vec::new();
        for row in range.rev().take(limit.min(MAX_AUDIT_PAGE)) {
            let (key, bytes) = row.map_err(|e| self.read_error()(e.into()))?;
            page.push(decode_at(
                &self.path,
                format_args!("audit record {}", key.value()),
                bytes.value(),
            )?);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreOptions};

    fn store() -> (tempfile::TempDir, StoreHandle) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let opened = Store::open(
            dir.path().join("store.redb"),
            matchwright_ecs::Config::default(),
            1,
            StoreOptions::default(),
        )
        .expect("the store opens");
        (dir, opened.store.handle())
    }

    fn action(n: u64) -> AuditRecord {
        AuditRecord {
            id: 0,
            at_ms: n,
            operator: "ops".into(),
            action: "cancel_ticket".into(),
            target: format!("ticket {n}"),
            outcome: "done".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn a_ban_is_kept_replaced_and_lifted() {
        let (_dir, store) = store();
        let player = PlayerId(7);
        assert_eq!(store.ban(player).expect("reads"), None);
        let mut ban = BanRecord {
            player,
            reason: "cheating".into(),
            by: "ops".into(),
            at_ms: 5,
        };
        store.put_ban(&ban).expect("writes");
        assert_eq!(store.ban(player).expect("reads"), Some(ban.clone()));
        ban.reason = "still cheating".into();
        store.put_ban(&ban).expect("writes");
        assert_eq!(store.ban(player).expect("reads"), Some(ban));
        assert_eq!(store.ban(PlayerId(8)).expect("reads"), None);
        assert!(store.remove_ban(player).expect("writes"));
        assert!(!store.remove_ban(player).expect("writes"));
        assert_eq!(store.ban(player).expect("reads"), None);
    }

    #[test]
    fn the_audit_log_is_numbered_and_paged_newest_first() {
        let (_dir, store) = store();
        assert!(store.audit_page(None, 10).expect("reads").is_empty());
        for n in 1..=5 {
            assert_eq!(store.append_audit(&action(n)).expect("writes"), n);
        }
        let ids = |page: Vec<AuditRecord>| page.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(store.audit_page(None, 2).expect("reads")), [5, 4]);
        assert_eq!(
            ids(store.audit_page(Some(4), 10).expect("reads")),
            [3, 2, 1]
        );
        assert_eq!(store.audit_page(None, 1).expect("reads")[0], {
            let mut last = action(5);
            last.id = 5;
            last
        });
    }
}
