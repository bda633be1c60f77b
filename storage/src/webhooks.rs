//! The webhook outbox: the match and session events of committed ticks, queued for studios'
//! backends in the tick's own transaction (so an event is never sent for a tick that did not
//! commit, nor lost across a restart), and each endpoint's cursor through them. The server's
//! webhook sender reads rows from its endpoint's cursor, delivers them, and saves the cursor;
//! rows every endpoint has passed are deleted with that save.
//!
//! Bounds: the outbox holds what the slowest endpoint has not taken; the sender gives up on
//! (dead-letters) rows beyond its own bound (`[webhooks] max_pending`), so the table never
//! grows past it by more than what arrives between two of its reads.

use std::collections::BTreeMap;

use matchwright_ecs::{Event, codec};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use crate::error::StoreError;
use crate::handle::StoreHandle;
use crate::records::{WebhookCursor, WebhookRow};
use crate::tables::{
    META, NEXT_WEBHOOK_KEY, WEBHOOK_CURSORS, WEBHOOK_OUTBOX, decode_at, read_counter,
};

/// Whether backends hear of `event`: matches formed and backfilled, sessions started, ended
/// and abandoned, ratings changed.
pub fn is_backend_event(event: &Event) -> bool {
    matches!(
        event,
        Event::MatchFormed { .. }
            | Event::BackfillFilled { .. }
            | Event::SessionActive { .. }
            | Event::SessionEnded { .. }
            | Event::SessionAbandoned { .. }
            | Event::RatingsUpdated { .. }
    )
}

/// Appends a tick's backend events to the webhook outbox inside `txn`, numbered after the last
/// number handed out. Returns how many.
pub(crate) fn append_webhook_rows(
    txn: &WriteTransaction,
    tick: u64,
    at_ms: u64,
    events: &[Event],
) -> Result<u64, redb::Error> {
    let mut rows = events
        .iter()
        .filter(|event| is_backend_event(event))
        .peekable();
    if rows.peek().is_none() {
        return Ok(0);
    }
    let mut meta = txn.open_table(META)?;
    let first = read_counter(&meta, NEXT_WEBHOOK_KEY)?;
    let mut next = first;
    let mut outbox = txn.open_table(WEBHOOK_OUTBOX)?;
    for event in rows {
        let row = WebhookRow {
            tick,
            at_ms,
            event: event.clone(),
        };
        outbox.insert(next, codec::encode(&row).as_slice())?;
        next += 1;
    }
    meta.insert(NEXT_WEBHOOK_KEY, next.to_le_bytes().as_slice())?;
    Ok(next - first)
}

/// Deletes the rows every endpoint in `cursors` has passed (every row, with none).
fn trim_passed(
    txn: &WriteTransaction,
    cursors: &redb::Table<'_, &str, &[u8]>,
) -> Result<(), redb::Error> {
    let mut lowest = u64::MAX;
    for item in cursors.iter()? {
        let (_, bytes) = item?;
        let cursor: WebhookCursor = codec::decode(bytes.value())
            .map_err(|error| redb::Error::Corrupted(format!("a webhook cursor: {error}")))?;
        lowest = lowest.min(cursor.next);
    }
    txn.open_table(WEBHOOK_OUTBOX)?
        .retain_in(..lowest, |_, _| false)?;
    Ok(())
}

impl StoreHandle {
    /// Up to `limit` webhook outbox rows from number `from` on, in order.
    pub fn webhook_rows(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, WebhookRow)>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = match read.open_table(WEBHOOK_OUTBOX) {
            Ok(table) => table,
            // No row was ever queued.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(self.read_error()(error.into())),
        };
        let mut rows = Vec::with_capacity(limit.min(1_024));
        for item in table
            .range(from..)
            .map_err(|e| self.read_error()(e.into()))?
            .take(limit)
        {
            let (number, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            let number = number.value();
            let what = format_args!("webhook outbox row {number}");
            rows.push((number, decode_at(&self.path, what, bytes.value())?));
        }
        Ok(rows)
    }

    /// The number the next webhook outbox row will get: rows so far are below it.
    pub fn webhook_head(&self) -> Result<u64, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let meta = read
            .open_table(META)
            .map_err(|e| self.read_error()(e.into()))?;
        read_counter(&meta, NEXT_WEBHOOK_KEY).map_err(self.read_error())
    }

    /// Sets which endpoints there are (by name): an endpoint already known keeps its cursor,
    /// a new one starts at the head (it gets events from now on), the cursors of endpoints no
    /// longer named are forgotten, and the rows every endpoint has passed are deleted (all of
    /// them, with no endpoint). Returns the cursors.
    pub fn configure_webhooks(
        &self,
        names: Vec<String>,
    ) -> Result<BTreeMap<String, WebhookCursor>, StoreError> {
        self.write("configuring webhooks in", move |txn| {
            let head = read_counter(&txn.open_table(META)?, NEXT_WEBHOOK_KEY)?;
            let mut table = txn.open_table(WEBHOOK_CURSORS)?;
            let mut known = BTreeMap::new();
            for item in table.iter()? {
                let (name, bytes) = item?;
                let cursor: WebhookCursor = codec::decode(bytes.value()).map_err(|error| {
                    redb::Error::Corrupted(format!(
                        "the webhook cursor of `{}`: {error}",
                        name.value()
                    ))
                })?;
                known.insert(name.value().to_owned(), cursor);
            }
            let mut cursors = BTreeMap::new();
            for name in names {
                let cursor = known.remove(&name).unwrap_or(WebhookCursor {
                    next: head,
                    dead_letters: 0,
                });
                table.insert(name.as_str(), codec::encode(&cursor).as_slice())?;
                cursors.insert(name, cursor);
            }
            for gone in known.keys() {
                table.remove(gone.as_str())?;
            }
            trim_passed(txn, &table)?;
            Ok((cursors, 0))
        })
    }

    /// Saves one endpoint's cursor (it must have been configured) and deletes the rows every
    /// endpoint has now passed. Durable when it returns.
    pub fn save_webhook_cursor(
        &self,
        name: String,
        cursor: WebhookCursor,
    ) -> Result<(), StoreError> {
        self.write("saving a webhook cursor in", move |txn| {
            let mut table = txn.open_table(WEBHOOK_CURSORS)?;
            let known = table.get(name.as_str())?.is_some();
            debug_assert!(known, "the cursor of an endpoint never configured: {name}");
            if known {
                table.insert(name.as_str(), codec::encode(&cursor).as_slice())?;
                trim_passed(txn, &table)?;
            }
            Ok(((), 0))
        })
    }
}

#[cfg(test)]
mod tests {
    use matchwright_ecs::event::AbandonReason;
    use matchwright_ecs::{Config, MatchId};

    use super::*;
    use crate::store::{Opened, Store, StoreOptions, TickInput};

    fn open(path: &std::path::Path, webhooks: bool) -> Opened {
        // A snapshot with every tick, in the tick: a reopened store replays nothing, so the
        // made-up events below are never checked against the matcher's.
        let options = StoreOptions {
            webhooks,
            snapshot_every_ticks: 1,
            background_snapshots: false,
            ..StoreOptions::default()
        };
        Store::open(path, Config::default(), 7, options).unwrap()
    }

    /// Commits tick `tick` with `events` (the store does not check them against the matcher).
    fn commit(opened: &mut Opened, tick: u64, events: &[Event]) {
        let input = TickInput {
            tick,
            now_ms: tick * 100,
            commands: &[],
            events,
        };
        opened.store.commit_tick(input, &opened.matcher).unwrap();
    }

    fn ended(id: u64) -> Event {
        Event::SessionEnded {
            match_id: MatchId(id),
            placements: Some(vec![1, 2]),
        }
    }

    #[test]
    fn backend_events_are_queued_with_their_tick_and_trimmed_behind_the_slowest_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = open(&dir.path().join("s.redb"), true);
        let handle = opened.store.handle();
        let cursors = handle
            .configure_webhooks(vec!["a".into(), "b".into()])
            .unwrap();
        assert_eq!(cursors["a"], WebhookCursor::default());
        let abandoned = Event::SessionAbandoned {
            match_id: MatchId(2),
            reason: AbandonReason::Empty,
        };
        // A player's own event is not a backend's.
        let left = Event::PlayerLeftSession {
            match_id: MatchId(1),
            player: matchwright_ecs::PlayerId(3),
        };
        commit(&mut opened, 1, &[ended(1), left, abandoned.clone()]);
        commit(&mut opened, 2, &[]);
        assert_eq!(handle.webhook_head().unwrap(), 2);
        let rows = handle.webhook_rows(0, 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].0, rows[0].1.tick, rows[0].1.at_ms), (0, 1, 100));
        assert_eq!(rows[1].1.event, abandoned);
        let passed = |next| WebhookCursor {
            next,
            dead_letters: 0,
        };
        handle.save_webhook_cursor("a".into(), passed(2)).unwrap();
        assert_eq!(handle.webhook_rows(0, 10).unwrap().len(), 2, "b has not");
        handle.save_webhook_cursor("b".into(), passed(1)).unwrap();
        assert_eq!(handle.webhook_rows(0, 10).unwrap()[0].0, 1);
        // A new endpoint starts at the head; a forgotten one no longer holds rows back.
        let cursors = handle
            .configure_webhooks(vec!["a".into(), "c".into()])
            .unwrap();
        assert_eq!((cursors["a"].next, cursors["c"].next), (2, 2));
        assert!(handle.webhook_rows(0, 10).unwrap().is_empty());
        // No endpoint: nothing is kept.
        commit(&mut opened, 3, &[ended(3)]);
        handle.configure_webhooks(Vec::new()).unwrap();
        assert!(handle.webhook_rows(0, 10).unwrap().is_empty());
        assert_eq!(
            handle.webhook_head().unwrap(),
            3,
            "numbers are never reused"
        );
    }

    #[test]
    fn rows_and_cursors_survive_a_restart_and_nothing_is_queued_when_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let mut opened = open(&path, true);
            opened
                .store
                .handle()
                .configure_webhooks(vec!["a".into()])
                .unwrap();
            commit(&mut opened, 1, &[ended(1), ended(2)]);
            let cursor = WebhookCursor {
                next: 1,
                dead_letters: 4,
            };
            opened
                .store
                .handle()
                .save_webhook_cursor("a".into(), cursor)
                .unwrap();
        }
        let mut opened = open(&path, false);
        let handle = opened.store.handle();
        let rows = handle.webhook_rows(0, 10).unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1]);
        assert_eq!(rows[0].1.event, ended(2));
        let cursors = handle.configure_webhooks(vec!["a".into()]).unwrap();
        assert_eq!(cursors["a"].dead_letters, 4);
        commit(&mut opened, 2, &[ended(3)]);
        assert_eq!(handle.webhook_head().unwrap(), 2, "off: nothing queued");
    }

    #[test]
    fn a_store_that_never_queued_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(&dir.path().join("s.redb"), false);
        let handle = opened.store.handle();
        assert!(handle.webhook_rows(0, 10).unwrap().is_empty());
        assert_eq!(handle.webhook_head().unwrap(), 0);
    }
}
