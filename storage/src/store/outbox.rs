//! The mirror's reader of the outbox: rows in order, deleted once Postgres has committed
//! them. The outbox is filled by `commit` (and by the handle's account writes, through
//! `tables::append_outbox`); this file owns only the draining side, which the mirror task
//! runs on its own thread beside the tick loop.

use std::path::PathBuf;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTableMetadata};

use crate::error::{StoreError, from_redb};
use crate::records::MirrorRow;
use crate::tables::{OUTBOX, OutboxCounter, decode_at};

/// The mirror's handle on the outbox: reads rows in order and deletes them once Postgres has
/// them. Shares the database with the store (redb readers never block the writer).
#[derive(Clone, Debug)]
pub struct OutboxReader {
    pub(super) db: Arc<Database>,
    pub(super) path: PathBuf,
    pub(super) counter: Arc<OutboxCounter>,
    pub(super) limit: u64,
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
