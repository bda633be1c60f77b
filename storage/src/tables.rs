//! The store's layout: the redb tables and what each holds, the format marker, the outbox
//! counter and the outbox append, and the one way a stored value is decoded. The store, its
//! handle and the mirror's reader all use these, and this module uses none of them.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use matchwright_ecs::codec;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::error::StoreError;
use crate::records::MirrorRow;

/// The store format this build writes and reads. A file of another format is refused.
pub const STORE_FORMAT: u32 = 3;
pub(crate) const MAGIC: &[u8] = b"matchwright-store";

pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
pub(crate) const JOURNAL: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("journal");
pub(crate) const SNAPSHOTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("snapshots");
/// Snapshots written to files off the tick thread: tick -> `SnapshotFileRow`.
pub(crate) const SNAPSHOT_FILES: TableDefinition<'_, u64, &[u8]> =
    TableDefinition::new("snapshot_files");
pub(crate) const ACCOUNTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("accounts");
pub(crate) const USERNAMES: TableDefinition<'_, &str, u64> = TableDefinition::new("usernames");
pub(crate) const REFRESH_TOKENS: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("refresh_tokens");
pub(crate) const RATINGS: TableDefinition<'_, (u64, &str, &str), &[u8]> =
    TableDefinition::new("ratings");
pub(crate) const MATCHES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("matches");
pub(crate) const HISTORY: TableDefinition<'_, (u64, u64), &[u8]> = TableDefinition::new("history");
/// How many `HISTORY` rows each player has, so that trimming a player's history to
/// `history_per_player` is a look-up rather than a walk of it. Kept by the projection alone;
/// a player missing here (a store written before it existed) is counted once. A build from
/// before this table, run on the file in between, leaves its players' counts low: they keep
/// up to that many rows above the bound (debug builds' walk check names the player).
pub(crate) const HISTORY_COUNTS: TableDefinition<'_, u64, u64> =
    TableDefinition::new("history_counts");
pub(crate) const OUTBOX: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("outbox");
/// Each player's avoid list (the players it will not be matched with), by player: the
/// encoded `Vec<PlayerId>`, sorted. Written by the profile API, read at enqueue. Not mirrored.
pub(crate) const AVOID_LISTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("avoid_lists");

/// Banned players, by player: the encoded `BanRecord`. Written by the admin API, read with
/// every token. Not mirrored.
pub(crate) const BANS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("bans");
/// The operators' actions, by number: the encoded `AuditRecord`, the newest `AUDIT_KEEP`.
pub(crate) const AUDIT: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("audit");

/// The webhook outbox, by number: the encoded `WebhookRow`. Filled by the tick's commit when
/// webhooks are on, emptied behind the slowest endpoint (`webhooks`).
pub(crate) const WEBHOOK_OUTBOX: TableDefinition<'_, u64, &[u8]> =
    TableDefinition::new("webhook_outbox");
/// Each webhook endpoint's `WebhookCursor`, by endpoint name.
pub(crate) const WEBHOOK_CURSORS: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("webhook_cursors");
pub(crate) const NEXT_WEBHOOK_KEY: &str = "next_webhook";

pub(crate) const FORMAT_KEY: &str = "format";
pub(crate) const NEXT_OUTBOX_KEY: &str = "next_outbox";

/// Outbox rows waiting, shared with the mirror's reader.
#[derive(Debug, Default)]
pub(crate) struct OutboxCounter {
    rows: AtomicU64,
    warned_level: AtomicU64,
}

impl OutboxCounter {
    /// Rows waiting now.
    pub(crate) fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, rows: u64, limit: u64) {
        let now = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        self.report(now, limit);
    }

    pub(crate) fn remove(&self, rows: u64, limit: u64) {
        let now = self
            .rows
            .fetch_sub(rows, Ordering::Relaxed)
            .saturating_sub(rows);
        self.report(now, limit);
    }

    fn report(&self, rows: u64, limit: u64) {
        metrics::gauge!("matchwright_outbox_rows").set(rows as f64);
        // A log line each time the backlog crosses another tenth of the bound (and when it
        // is back under a tenth), so an operator sees it grow without a line per tick.
        let level = (rows.saturating_mul(10) / limit.max(1)).min(10);
        let previous = self.warned_level.swap(level, Ordering::Relaxed);
        if level > previous {
            tracing::warn!(
                rows,
                limit,
                "the Postgres mirror outbox is growing: {rows} rows waiting ({}% of its bound)",
                level * 10
            );
        } else if level == 0 && previous > 0 {
            tracing::info!(rows, "the Postgres mirror outbox has drained");
        }
    }
}

pub(crate) fn decode_at<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: impl std::fmt::Display,
    bytes: &[u8],
) -> Result<T, StoreError> {
    codec::decode(bytes).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("{what} does not decode: {error}"),
    })
}

/// Appends rows to the outbox inside `txn`, numbered after the last number handed out. The
/// counter lives in `meta`, inside the transaction, so every writer (the tick, account writes)
/// numbers its rows in commit order.
pub(crate) fn append_outbox(txn: &WriteTransaction, rows: &[MirrorRow]) -> Result<(), redb::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut meta = txn.open_table(META)?;
    let mut next = read_counter(&meta, NEXT_OUTBOX_KEY)?;
    let mut outbox = txn.open_table(OUTBOX)?;
    for row in rows {
        outbox.insert(next, codec::encode(row).as_slice())?;
        next += 1;
    }
    meta.insert(NEXT_OUTBOX_KEY, next.to_le_bytes().as_slice())?;
    Ok(())
}

/// A counter kept in `meta` under `key` (0 when it was never written).
pub(crate) fn read_counter(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, redb::Error> {
    match meta.get(key)? {
        Some(bytes) => Ok(u64::from_le_bytes(bytes.value().try_into().map_err(
            |_| redb::Error::Corrupted(format!("the counter `{key}` is not 8 bytes")),
        )?)),
        None => Ok(0),
    }
}
