//! The journal's two invariants, and the one function that checks them on both sides of the
//! disk:
//!
//! 1. **Tick continuity**: each entry's tick is the previous entry's plus one, the first after
//!    a snapshot is the snapshot's tick plus one, and an entry is stored under its own tick.
//! 2. **The hash chain**: each entry's `chain` is the previous chain (the snapshot's, for the
//!    first) extended with this entry's event hash (`EventChain::push`).
//!
//! [`JournalHead::follow`] is that check. `commit` runs it on the entry it is about to write,
//! `recover` and `export` on every entry they read, and [`Store::read_journal`] between the
//! entries it visits. Written and read by the same function, an entry that passes one side
//! passes the other; a read that fails it is damage, reported as [`StoreError::Corrupt`]
//! (never a panic: the file may have been damaged outside redb, or written by a broken build).

use std::fmt;
use std::path::Path;

use matchwright_ecs::EventChain;
use redb::ReadableDatabase;

use super::Store;
use crate::error::{StoreError, from_redb};
use crate::records::JournalEntry;
use crate::tables::{JOURNAL, decode_at};

/// Where the journal stands: its last tick and the event chain after it. The next entry must
/// record the tick after it, and this chain extended with its own event hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct JournalHead {
    /// The last tick (a snapshot's, before the first entry after it).
    pub(super) tick: u64,
    /// The chain after it.
    pub(super) chain: EventChain,
}

/// How an entry fails to follow the head before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum JournalBreak {
    /// The entry is stored under another tick than the one it records.
    Misfiled {
        /// The tick it is stored under.
        key: u64,
        /// The tick it records.
        tick: u64,
    },
    /// The entry's tick is not the one after the head's: a hole, a repeat or a step back.
    Gap {
        /// The head's tick.
        after: u64,
        /// The entry's tick.
        tick: u64,
    },
    /// The entry's chain is not the head's extended with the entry's event hash.
    Chain {
        /// The entry's tick.
        tick: u64,
    },
}

impl JournalHead {
    /// The head after `entry`, stored under the tick `key`, if the entry follows this head;
    /// which invariant it breaks otherwise.
    pub(super) fn follow(self, key: u64, entry: &JournalEntry) -> Result<Self, JournalBreak> {
        let tick = entry.record.tick;
        if key != tick {
            return Err(JournalBreak::Misfiled { key, tick });
        }
        if self.tick.checked_add(1) != Some(tick) {
            return Err(JournalBreak::Gap {
                after: self.tick,
                tick,
            });
        }
        let mut chain = self.chain;
        chain.push(&entry.record.event_hash);
        if chain != entry.chain {
            return Err(JournalBreak::Chain { tick });
        }
        Ok(Self { tick, chain })
    }
}

impl fmt::Display for JournalBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misfiled { key, tick } => {
                write!(f, "journal entry {key} records tick {tick}")
            }
            Self::Gap { after, tick } => write!(
                f,
                "journal entry {tick} follows tick {after} (holes are not possible in a store \
                 written by Matchwright)"
            ),
            Self::Chain { tick } => write!(
                f,
                "journal entry {tick} has a chain hash that does not follow (the previous \
                 chain extended with its event hash)"
            ),
        }
    }
}

impl JournalBreak {
    /// The break as read from `path`: the file is damaged.
    pub(super) fn corrupt(&self, path: &Path) -> StoreError {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: self.to_string(),
        }
    }
}

/// Walks the journal of `db` from `from_tick` on, in order: checks each entry follows `head`
/// (with no head, the first entry read is taken as it is), then hands it to `visit`, which
/// says whether to go on or stops the walk with an error of its own (`Err(Err(..))`). A
/// break in the journal is `Err(Ok(StoreError::Corrupt))`; nothing after it is visited.
/// Returns the head after the last entry visited. The one reader of the journal's entries
/// ([`Store::read_journal`] and [`crate::JournalExport::entries`]).
pub(super) fn walk<E>(
    db: &impl ReadableDatabase,
    path: &Path,
    from_tick: u64,
    mut head: Option<JournalHead>,
    mut visit: impl FnMut(JournalEntry) -> Result<bool, E>,
) -> Result<Option<JournalHead>, Result<StoreError, E>> {
    let read_error = |error: redb::Error| Ok(from_redb(path, "reading", error));
    let read = db.begin_read().map_err(|e| read_error(e.into()))?;
    let journal = read.open_table(JOURNAL).map_err(|e| read_error(e.into()))?;
    for item in journal
        .range(from_tick..)
        .map_err(|e| read_error(e.into()))?
    {
        let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
        let tick = tick.value();
        let entry: JournalEntry =
            decode_at(path, format_args!("journal entry {tick}"), bytes.value()).map_err(Ok)?;
        head = Some(match head {
            Some(head) => head
                .follow(tick, &entry)
                .map_err(|broken| Ok(broken.corrupt(path)))?,
            // The first entry read: nothing before it to follow.
            None => JournalHead {
                tick,
                chain: entry.chain,
            },
        });
        if !visit(entry).map_err(Err)? {
            break;
        }
    }
    Ok(head)
}

impl Store {
    /// Reads journal entries from `from_tick` on, in order, calling `visit` for each (the
    /// crash test reads the journal this way; `trace export` uses [`crate::JournalExport`]).
    /// Stops early if `visit` returns false.
    /// Each entry after the first read is checked to follow the one before it (tick and
    /// chain); one that does not is [`StoreError::Corrupt`].
    pub fn read_journal(
        &self,
        from_tick: u64,
        mut visit: impl FnMut(JournalEntry) -> bool,
    ) -> Result<(), StoreError> {
        let walked = walk(&*self.db, &self.path, from_tick, None, |entry| {
            Ok::<bool, std::convert::Infallible>(visit(entry))
        });
        match walked {
            Ok(_) => Ok(()),
            Err(Ok(error)) => Err(error),
            Err(Err(never)) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use matchwright_ecs::TickRecord;

    use super::*;

    /// A journal of `ticks` empty ticks after a snapshot at `base`.
    fn journal(base: JournalHead, ticks: u64) -> Vec<JournalEntry> {
        let mut chain = base.chain;
        (base.tick + 1..=base.tick + ticks)
            .map(|tick| {
                let record = TickRecord::of(tick, tick * 100, Vec::new(), &[]);
                chain.push(&record.event_hash);
                JournalEntry { record, chain }
            })
            .collect()
    }

    fn walk(base: JournalHead, entries: &[JournalEntry]) -> Result<JournalHead, JournalBreak> {
        entries
            .iter()
            .try_fold(base, |head, entry| head.follow(entry.record.tick, entry))
    }

    fn base() -> JournalHead {
        JournalHead {
            tick: 40,
            chain: EventChain([7; 32]),
        }
    }

    #[test]
    fn a_journal_written_in_order_follows_its_snapshot() {
        let entries = journal(base(), 5);
        let head = walk(base(), &entries).unwrap();
        assert_eq!(head.tick, 45);
        assert_eq!(head.chain, entries[4].chain);
    }

    #[test]
    fn a_first_entry_that_is_not_the_snapshot_tick_plus_one_is_a_gap() {
        let entries = journal(base(), 3);
        let after_snapshot = JournalHead { tick: 39, ..base() };
        assert_eq!(
            walk(after_snapshot, &entries),
            Err(JournalBreak::Gap {
                after: 39,
                tick: 41
            })
        );
    }

    #[test]
    fn a_hole_in_the_ticks_is_a_gap() {
        let mut entries = journal(base(), 5);
        entries.remove(2);
        let broken = walk(base(), &entries).unwrap_err();
        assert_eq!(
            broken,
            JournalBreak::Gap {
                after: 42,
                tick: 44
            }
        );
        assert!(
            broken
                .to_string()
                .contains("journal entry 44 follows tick 42")
        );
    }

    #[test]
    fn a_repeated_tick_is_a_gap_too() {
        let mut entries = journal(base(), 3);
        entries.insert(1, entries[0].clone());
        assert!(matches!(
            walk(base(), &entries),
            Err(JournalBreak::Gap {
                after: 41,
                tick: 41
            })
        ));
    }

    #[test]
    fn a_wrong_chain_is_named_with_its_tick() {
        let mut entries = journal(base(), 4);
        entries[2].chain.0[0] ^= 1;
        let broken = walk(base(), &entries).unwrap_err();
        assert_eq!(broken, JournalBreak::Chain { tick: 43 });
        assert!(
            broken
                .to_string()
                .contains("chain hash that does not follow")
        );
    }

    #[test]
    fn an_event_hash_changed_under_its_chain_breaks_the_chain() {
        let mut entries = journal(base(), 3);
        entries[1].record.event_hash[31] ^= 1;
        assert_eq!(
            walk(base(), &entries),
            Err(JournalBreak::Chain { tick: 42 })
        );
    }

    #[test]
    fn a_chain_from_another_snapshot_does_not_follow() {
        let entries = journal(base(), 2);
        let other = JournalHead {
            chain: EventChain([8; 32]),
            ..base()
        };
        assert_eq!(walk(other, &entries), Err(JournalBreak::Chain { tick: 41 }));
    }

    #[test]
    fn an_entry_under_another_key_is_misfiled() {
        let entries = journal(base(), 1);
        assert_eq!(
            base().follow(42, &entries[0]),
            Err(JournalBreak::Misfiled { key: 42, tick: 41 })
        );
    }
}
