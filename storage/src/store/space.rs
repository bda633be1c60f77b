//! The store's space: how many bytes each table holds and how many the file has allocated,
//! so a benchmark or an operator can tell live data from space redb keeps for reuse. It reads
//! every table, so it lives apart from the modules that write them. It changes nothing, but
//! the file's figures need redb's write lock: it runs on the store's own (tick) thread
//! between commits, and walks every tree twice (about 3 s on a file holding 1.4 GB of tables
//! on the 2-core VM): a tool for benchmarks and maintenance, not for every tick.

use redb::{
    ReadTransaction, ReadableDatabase, ReadableTableMetadata, TableDefinition, TableError,
    TableHandle,
};

use super::Store;
use crate::error::{StoreError, from_redb};
use crate::leaderboard::LEADERBOARD;
use crate::tables::{
    ACCOUNTS, AVOID_LISTS, HISTORY, HISTORY_COUNTS, JOURNAL, MATCHES, META, OUTBOX, RATINGS,
    REFRESH_TOKENS, SNAPSHOT_FILES, SNAPSHOTS, USERNAMES,
};
/// Where the store's file goes: per table, the bytes of its keys and values and the bytes its
/// tree occupies; for the whole file, the bytes allocated (live trees, and freed pages not yet
/// reusable). A file much larger than its tables is space redb holds for reuse or has grown
/// into ahead of need, not live data.
#[derive(Debug, Clone, Default)]
pub struct SpaceReport {
    /// Every table, in a fixed order.
    pub tables: Vec<TableSpace>,
    /// Bytes of the pages allocated in the file.
    pub allocated_bytes: u64,
}

/// One table's share of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpace {
    /// The table's name in the file.
    pub name: &'static str,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of its tree: keys and values, index and fragmentation.
    pub occupied_bytes: u64,
}

impl SpaceReport {
    /// Bytes occupied by all the tables' trees.
    pub fn occupied_bytes(&self) -> u64 {
        self.tables.iter().map(|table| table.occupied_bytes).sum()
    }
}

impl Store {
    /// Measures every table and the file's allocated pages (a write transaction is begun for
    /// the file's figures and dropped without a commit). A failure here is returned and does
    /// not mark the store failed: the tick's writes go on.
    pub fn space(&mut self) -> Result<SpaceReport, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| from_redb(&self.path, "reading", e.into()))?;
        let measure = |read: &ReadTransaction| -> Result<Vec<TableSpace>, redb::Error> {
            Ok(vec![
                table_space(read, &JOURNAL)?,
                table_space(read, &SNAPSHOTS)?,
                table_space(read, &SNAPSHOT_FILES)?,
                table_space(read, &MATCHES)?,
                table_space(read, &HISTORY)?,
                table_space(read, &HISTORY_COUNTS)?,
                table_space(read, &RATINGS)?,
                table_space(read, &LEADERBOARD)?,
                table_space(read, &OUTBOX)?,
                table_space(read, &ACCOUNTS)?,
                table_space(read, &USERNAMES)?,
                table_space(read, &REFRESH_TOKENS)?,
                table_space(read, &AVOID_LISTS)?,
                table_space(read, &crate::tables::BANS)?,
                table_space(read, &crate::tables::AUDIT)?,
                table_space(read, &META)?,
            ])
        };
        let tables = measure(&read).map_err(|e| from_redb(&self.path, "measuring", e))?;
        drop(read);
        let txn = self
            .db
            .begin_write()
            .map_err(|e| from_redb(&self.path, "measuring", e.into()))?;
        let stats = txn
            .stats()
            .map_err(|e| from_redb(&self.path, "measuring", e.into()))?;
        txn.abort()
            .map_err(|e| from_redb(&self.path, "measuring", e.into()))?;
        Ok(SpaceReport {
            tables,
            allocated_bytes: stats.allocated_pages() * stats.page_size() as u64,
        })
    }
}

/// One table's stored bytes and the bytes its tree occupies (stored, index and fragmentation:
/// a page count would undercount values larger than a page); a table not yet created is empty.
fn table_space<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &ReadTransaction,
    table: &'static TableDefinition<'static, K, V>,
) -> Result<TableSpace, redb::Error> {
    let name = table.name();
    match read.open_table(*table) {
        Ok(opened) => {
            let stats = opened.stats()?;
            Ok(TableSpace {
                name,
                stored_bytes: stats.stored_bytes(),
                occupied_bytes: stats.stored_bytes()
                    + stats.metadata_bytes()
                    + stats.fragmented_bytes(),
            })
        }
        Err(TableError::TableDoesNotExist(_)) => Ok(TableSpace {
            name,
            stored_bytes: 0,
            occupied_bytes: 0,
        }),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use matchwright_ecs::{Command, Config, EnqueueTicket, Event, PlayerId, Rating, TicketId};

    use crate::store::{Opened, Store, StoreOptions, TickInput};

    #[test]
    fn space_names_every_table_and_counts_the_journal_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matchwright.redb");
        let Opened {
            mut store,
            mut matcher,
            ..
        } = Store::open(&path, Config::default(), 7, StoreOptions::default()).unwrap();
        let empty = store.space().unwrap();
        // Every table the file has is listed (tables not created yet are listed as empty).
        let listed: Vec<&str> = empty.tables.iter().map(|table| table.name).collect();
        let in_file = tables_in(&store);
        assert!(
            in_file.len() >= 10,
            "the store creates its tables: {in_file:?}"
        );
        for name in in_file {
            assert!(listed.contains(&name.as_str()), "{name} is not listed");
        }
        let journal = |report: &super::SpaceReport| {
            report
                .tables
                .iter()
                .find(|table| table.name == "journal")
                .unwrap()
                .stored_bytes
        };
        for tick in 1..=20u64 {
            let command = Command::Enqueue(EnqueueTicket::solo(
                TicketId(tick),
                "duel-1v1",
                PlayerId(tick),
                Rating::new(1500.0, 100.0),
                vec![30, 90, 200, 250],
            ));
            matcher.submit(command.clone()).unwrap();
            let report = matcher.tick(tick * 100).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            let input = TickInput {
                tick: report.tick,
                now_ms: tick * 100,
                commands: &[command],
                events: &events,
            };
            store.commit_tick(input, &matcher).unwrap();
        }
        let full = store.space().unwrap();
        assert!(
            journal(&full) > journal(&empty),
            "20 journal entries take room: {full:?}"
        );
        assert!(
            full.allocated_bytes >= full.occupied_bytes(),
            "the file's allocated pages hold every table: {full:?}"
        );
        // Measuring changes nothing: the store goes on committing, and recovers every tick.
        let report = matcher.tick(2_100).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        let input = TickInput {
            tick: report.tick,
            now_ms: 2_100,
            commands: &[],
            events: &events,
        };
        store.commit_tick(input, &matcher).unwrap();
        assert_eq!(store.space().unwrap().tables.len(), full.tables.len());
        drop((store, matcher));
        let opened = Store::open(&path, Config::default(), 7, StoreOptions::default()).unwrap();
        assert_eq!(opened.recovery.last_tick, 21);
    }

    /// The names of the tables the store's file holds.
    fn tables_in(store: &Store) -> Vec<String> {
        use redb::{ReadableDatabase, TableHandle};
        let read = store.db.begin_read().unwrap();
        read.list_tables()
            .unwrap()
            .map(|table| table.name().to_string())
            .collect()
    }
}
