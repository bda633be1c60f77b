//! # matchwright-storage: durable hot state
//!
//! Owns the redb file a server runs on, and the Postgres mirror fed from it.
//!
//! - [`Store`]: the redb store. Its tables: the tick journal, matcher snapshots, accounts and
//!   refresh tokens, the state the server reads (matches and their sessions, ratings per mode
//!   and season, match history), and the outbox of rows for Postgres. [`store`] is a folder
//!   with a file per job (open, recover, commit, the journal's invariants, projecting events
//!   into rows, prune, outbox, export); the table definitions are in `tables`.
//! - [`mirror`]: the Postgres mirror: migrations (`storage/migrations`, run by
//!   `sqlx::migrate!`) and the task that drains the outbox in batches.
//!
//! ## Recovery: a snapshot plus the journal after it
//! The matcher's state is rebuilt from the newest snapshot (`Matcher::snapshot`, taken with a
//! tick's commit every `snapshot_every_ticks` ticks or `snapshot_every_commands` commands),
//! then every journaled tick after it is replayed: checked to follow the one before (its tick
//! the previous plus one, its chain hash the previous one extended with its event hash; the
//! commit asserts the same of each entry it writes), its commands submitted, the tick run at
//! its time, and the events hashed and compared with the hash the journal recorded. A journal
//! that does not follow is reported as damage (`StoreError::Corrupt`). So recovery is
//! exact by construction (the core is deterministic and a restored matcher continues exactly as
//! the original), it checks itself as it goes, and its cost is bounded by the snapshot cadence,
//! not by the server's age. State tables were the alternative; they would need every system
//! to report what it changed, and a missed change would be a silent divergence.
//!
//! ## What is durable when
//! Modelled on redb's own design notes, stated as guarantees:
//!
//! 1. **A tick is durable when [`Store::commit_tick`] returns `Ok`.** One redb write
//!    transaction holds the tick's journal entry (every command submitted, the event count
//!    and hash, the chained hash), the state its events change, its outbox rows and, when due,
//!    a snapshot. redb commits with `Durability::Immediate`: the data and then the new root
//!    are fsynced before `commit` returns. The server acknowledges commands and publishes
//!    events only after that, so every acknowledged command survives `kill -9` and power loss.
//! 2. **A tick is all or nothing.** A crash before the commit returns leaves the store at the
//!    previous tick; nothing of the interrupted tick is visible after recovery (its commands
//!    were never acknowledged; clients retry them). redb's copy-on-write pages and checksummed
//!    root make a torn commit impossible to observe.
//! 3. **Recovery reproduces the state, not an approximation of it.** After reopening, the
//!    matcher is at the last committed tick, and its next events are byte-identical to those an
//!    uninterrupted run would have produced (tested by killing a real writer process with
//!    SIGKILL many times: `tests/crash.rs`).
//! 4. **Accounts and refresh tokens are durable when their call returns** (each is its own
//!    transaction, committed the same way).
//! 5. **A failed write is never half-acknowledged.** If a commit fails (disk full, I/O
//!    error), the call returns the error saying why, the store refuses further writes, and a
//!    restart recovers to the last committed tick. The matcher in memory had run ahead and
//!    must be dropped.
//! 6. **Postgres is a mirror, eventually consistent.** A row reaches Postgres after its tick is
//!    durable in redb, in outbox order, in batches split into partitions by key; each
//!    partition's high-water mark is stored in Postgres in the same transaction as its rows,
//!    and rows are deleted from the outbox only after every partition's transaction commits.
//!    Upserts make a re-sent batch harmless; `partitions = 1` makes each batch one transaction. While Postgres is
//!    away, rows wait in the outbox up to `outbox_limit`; at the bound, [`Store::admission`]
//!    refuses new work rather than drop anything.
//! 7. **Pruning keeps recovery and replay possible.** [`Store::prune`] drops journal entries
//!    and snapshots older than `journal_keep_ms`, but always keeps a base snapshot and the whole
//!    journal after it.

pub mod error;
mod group;
pub mod handle;
pub mod leaderboard;
pub mod mirror;
pub mod operators;
pub mod records;
pub mod shared;
pub mod store;
mod tables;
pub mod webhooks;

pub use error::StoreError;
pub use handle::{Rotation, StoreHandle};
pub use records::{
    AUDIT_KEEP, Account, AuditRecord, BanRecord, JournalEntry, MAX_BAN_REASON_CHARS, MatchRow,
    MatchState, MirrorRow, RatingRecord, RefreshToken, WebhookCursor, WebhookRow,
};
pub use store::{
    Backpressure, CommitReport, ExportBase, JournalExport, Opened, OutboxReader, RecoveryReport,
    STORE_FORMAT, Store, StoreOptions, TickInput, rating_key,
};
