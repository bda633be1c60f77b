//! The per-tick group commit: one redb transaction holds a tick's journal entry, the rows its
//! events change (`project`), its outbox rows, its webhook outbox rows (`webhooks`), the handlers' writes waiting (`group`), the rows of snapshot files the follower has
//! finished (`snapshot_files`) and, when due and no follower runs, a snapshot. Once durable,
//! the entry goes to the follower (`follower`), marked when a snapshot is due. This file owns
//! the order of those writes and the store's head (last tick, time, chain) moving with them;
//! it is the write side of the journal's invariants (`journal`).

use matchwright_ecs::codec;
use matchwright_ecs::{EventChain, Matcher, TickRecord};
use redb::WriteTransaction;

use super::journal::JournalHead;
use super::project::project_events;
use super::{CommitReport, Store, TickInput};
use crate::error::StoreError;
use crate::records::JournalEntry;
use crate::tables::{JOURNAL, append_outbox};
use crate::webhooks::append_webhook_rows;

impl Store {
    /// Commits one tick in one redb transaction: its journal entry, the state its events
    /// change (matches, ratings, history), its outbox rows, and a snapshot when one is due.
    /// Returns once the transaction is durable (fsynced): only then may the tick's commands be
    /// acknowledged and its events published. On an error nothing of the tick is committed,
    /// and the store takes no more writes: restart, and recovery brings the matcher back to
    /// the last committed tick (the caller's matcher has run ahead of it and must be dropped).
    pub fn commit_tick(
        &mut self,
        input: TickInput<'_>,
        matcher: &Matcher,
    ) -> Result<CommitReport, StoreError> {
        // The caller's tick number comes from outside the store: a mistake there is an error
        // the caller can act on, not a bug of ours.
        if input.tick != self.last_tick + 1 {
            return Err(StoreError::TickOutOfOrder {
                expected: self.last_tick + 1,
                given: input.tick,
            });
        }
        self.follow_config(&input, matcher);
        let entry = self.journal_entry(&input);
        let event_hash = entry.record.event_hash;
        let chain_hash = entry.chain.0;
        let txn = self.begin_write()?;
        let queued = self.write_tick(&txn, &input, &entry)?;
        let (handler_rows, handler_writes) = match self.group.run_into(&txn) {
            Ok(ran) => ran,
            Err(error) => return Err(self.fail("writing handlers' writes to", error)),
        };
        let reports = self
            .follower
            .as_ref()
            .map(|f| f.reports())
            .unwrap_or_default();
        let retired = self.take_reports(&txn, reports)?;
        // Counted as if committed; if the commit fails the store stops taking writes anyway.
        let previous = (self.last_tick, self.last_now_ms, self.chain_hash);
        let snapshot = self.advance(&input, chain_hash);
        let in_tick = snapshot && self.follower.is_none();
        if let Err(error) = self.finish(txn, matcher, in_tick) {
            (self.last_tick, self.last_now_ms, self.chain_hash) = previous;
            handler_writes.answer(&Err(format!("the tick's commit failed: {error}")));
            return Err(error);
        }
        handler_writes.answer(&Ok(()));
        self.delete_snapshot_files(&retired);
        self.feed_follower(entry, snapshot && !in_tick);
        if self.options.mirror {
            self.outbox
                .add(queued + handler_rows, self.options.outbox_limit);
        }
        metrics::counter!("matchwright_store_ticks_committed_total").increment(1);
        Ok(CommitReport {
            tick: input.tick,
            chain_hash,
            event_hash,
            snapshot,
            outbox_rows: if self.options.mirror { queued } else { 0 },
        })
    }

    /// Takes the matcher's config as the one snapshots are written under when the tick
    /// reloaded it (`Command::ReloadConfig` took).
    fn follow_config(&mut self, input: &TickInput<'_>, matcher: &Matcher) {
        let reloaded = input
            .events
            .iter()
            .any(|event| matches!(event, matchwright_ecs::Event::ConfigReloaded { .. }));
        if reloaded {
            self.config = matcher.config().clone();
        }
    }

    /// The journal entry for `input`: its tick record, and the chain extended with its event
    /// hash.
    fn journal_entry(&self, input: &TickInput<'_>) -> JournalEntry {
        let record = TickRecord::of(
            input.tick,
            input.now_ms,
            input.commands.to_vec(),
            input.events,
        );
        let head = JournalHead {
            tick: self.last_tick,
            chain: EventChain(self.chain_hash),
        };
        let mut chain = head.chain;
        chain.push(&record.event_hash);
        let entry = JournalEntry { record, chain };
        // The write side of the journal's invariants: the check recovery and export make on
        // every entry they read. A debug assertion, not a returned error: the tick number was
        // checked above (a caller's mistake is `TickOutOfOrder`), and the entry is built here
        // from the store's own head, so only a bug in this file can break it. Tests and debug
        // builds stop at the bug; in any build, the read side refuses such an entry as
        // corruption at the next open or export, so it is never replayed silently.
        debug_assert_eq!(
            head.follow(input.tick, &entry),
            Ok(JournalHead {
                tick: input.tick,
                chain
            }),
            "a journal entry that does not follow the store's head"
        );
        entry
    }

    /// Writes the journal entry, the projected rows and the outbox rows into `txn`; returns
    /// the rows queued for the mirror.
    fn write_tick(
        &mut self,
        txn: &WriteTransaction,
        input: &TickInput<'_>,
        entry: &JournalEntry,
    ) -> Result<u64, StoreError> {
        let written = (|| -> Result<u64, redb::Error> {
            txn.open_table(JOURNAL)?
                .insert(input.tick, codec::encode(entry).as_slice())?;
            let mut rows = Vec::new();
            project_events(txn, &self.options, input.now_ms, input.events, &mut rows)?;
            let queued = rows.len() as u64;
            if self.options.mirror {
                append_outbox(txn, &rows)?;
            }
            if self.options.webhooks {
                append_webhook_rows(txn, input.tick, input.now_ms, input.events)?;
            }
            Ok(queued)
        })();
        written.map_err(|error| self.fail("writing tick to", error))
    }

    /// Moves the store's head to `input`'s tick; returns whether a snapshot is due with it.
    fn advance(&mut self, input: &TickInput<'_>, chain_hash: [u8; 32]) -> bool {
        self.last_tick = input.tick;
        self.last_now_ms = input.now_ms;
        self.chain_hash = chain_hash;
        self.ticks_since_snapshot += 1;
        self.commands_since_snapshot += input.commands.len() as u64;
        self.snapshot_due()
    }

    /// Whether the journal since the last snapshot is long enough for the next.
    pub(super) fn snapshot_due(&self) -> bool {
        self.ticks_since_snapshot >= self.options.snapshot_every_ticks
            || self.commands_since_snapshot >= self.options.snapshot_every_commands
    }

    /// Hands a committed entry to the follower; gives the follower up (snapshots are then
    /// written in the tick) when it cannot take it.
    fn feed_follower(&mut self, entry: JournalEntry, snapshot: bool) {
        let Some(follower) = &self.follower else {
            return;
        };
        // While one is being taken, the next waits (still due) for it to be recorded.
        let snapshot = snapshot && self.snapshot_in_flight.is_none();
        match follower.feed(entry, snapshot) {
            Ok(()) if snapshot => {
                self.snapshot_in_flight = Some(self.last_tick);
                self.ticks_since_snapshot = 0;
                self.commands_since_snapshot = 0;
            }
            Ok(()) => {}
            // Still due: the next tick writes it in the tick.
            Err(why) => self.give_up_follower(&why),
        }
    }

    /// Adds the snapshot when due and commits.
    fn finish(
        &mut self,
        txn: WriteTransaction,
        matcher: &Matcher,
        snapshot: bool,
    ) -> Result<(), StoreError> {
        if snapshot {
            let config = self.config.clone();
            self.write_snapshot(&txn, matcher, &config)?;
        }
        self.commit(txn)
    }
}
