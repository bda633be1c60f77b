//! The queue pool: per queue, the incremental indexes the matcher works from, so that a tick
//! touches only what changed or what is due, never the whole queue.
//!
//! - `by_rating`: every queued ticket, ordered by rating. A match is built by walking outward
//!   from one ticket's rating. Each entry carries the few numbers the walk needs (enqueue time,
//!   sigma bonus, accepted regions, size), so the walk never leaves this tree.
//! - `due`: tickets to try as the anchor of a match, oldest first (no starvation).
//! - `wakes`: tickets that found no match, by the time they should be tried again (their window
//!   will have widened, a region will open, or they will expire).
//! - `by_group`: in a queue whose first match-wide `equal` rule groups tickets (one platform
//!   per match, say), the tickets with a value, by a hash of it and then by rating, so that an
//!   anchor the rule binds walks only tickets of its own value. It holds a copy of each
//!   entry (kept equal to the one in `by_rating` by every change here), so that a walk in a
//!   group reads its entries in order instead of looking each up in `by_rating`. A hash collision only merges
//!   two groups (the rule is still checked on every ticket); tickets whose party members
//!   differ have no group (they match only anchors the rule no longer binds, which walk
//!   `by_rating`).
//!
//! - `rules`: a slab of the queued tickets' rules data (`Arc<TicketRules>`, shared with the
//!   ticket's component), indexed by `PoolEntry::slot`, so that the walk reaches a
//!   candidate's rules without looking the ticket up in the world. A slot is taken when a
//!   ticket enters the pool (enqueue, requeue after a declined match, restore from a
//!   snapshot) and freed when it leaves (matched, cancelled, expired, backfilled), both only
//!   here. The pool also keeps the queue's interned texts (`rules::Interner`), from which
//!   every ticket's rules data in the queue is built.
//!
//! Invariant: every queued ticket is in `by_rating` and in exactly one of `due` or `wakes`;
//! `PoolEntry::wake_at_ms` says which (`DUE` for `due`). A ticket with rules data holds one
//! slot of `rules`, the others none; a slot is either held by exactly one queued ticket or
//! free.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bevy_ecs::entity::Entity;

use crate::config::QueueConfig;
use crate::curve::Direction;
use crate::ids::{MatchId, TicketId};
use crate::rules::TicketRules;

/// `PoolEntry::wake_at_ms` of a ticket in the due set.
pub(crate) const DUE: u64 = u64::MAX;

/// Maps a rating to a `u64` with the same order (IEEE 754 total order), so that ratings can key
/// a `BTreeMap` exactly, without rounding.
pub(crate) fn rating_key(rating: f64) -> u64 {
    let bits = rating.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The rating a [`rating_key`] came from.
pub(crate) fn rating_from_key(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// A ticket's place in `by_rating`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PoolKey {
    /// `rating_key` of the ticket's combined rating.
    pub rating: u64,
    /// The ticket (ties broken by id).
    pub ticket: TicketId,
}

impl PoolKey {
    /// Greater than every key.
    pub(crate) const MAX: Self = Self {
        rating: u64::MAX,
        ticket: TicketId(u64::MAX),
    };

    /// The key of a ticket with this rating.
    pub(crate) fn new(rating: f64, ticket: TicketId) -> Self {
        Self {
            rating: rating_key(rating),
            ticket,
        }
    }

    /// The rating.
    pub(crate) fn rating(&self) -> f64 {
        rating_from_key(self.rating)
    }
}

/// A ticket's place in `due`: oldest first, ties by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DueKey {
    /// When the ticket was enqueued.
    pub enqueued_at_ms: u64,
    /// Its pool key.
    pub key: PoolKey,
}

/// What the matching walk needs to know about a queued ticket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PoolEntry {
    /// The ticket entity (to read its members when a match is found).
    pub entity: Entity,
    /// When it was enqueued (its waiting time, and so its windows, follow from it).
    pub enqueued_at_ms: u64,
    /// When it is tried again, or [`DUE`].
    pub wake_at_ms: u64,
    /// Extra skill window for rating uncertainty, in MMR.
    pub sigma_bonus: f32,
    /// Regions it accepts now: bit `r` for region `r`. Only ever grows while it waits; updated
    /// when it wakes, so it may lag behind (never ahead of) the latency window.
    pub regions: u32,
    /// Its number of players.
    pub players: u8,
    /// Whether it has an avoid list (so a match with it checks avoid lists).
    pub avoids: bool,
    /// Its group in `by_group` ([`NO_GROUP`] for none).
    pub group: u64,
    /// What the walk may check of its rules without reading the ticket.
    pub hint: crate::rules::RuleHint,
    /// Its slot in the pool's rules slab ([`NO_SLOT`] without rules data), set by the pool.
    pub slot: u32,
}

// The walk reads one entry per candidate: it should stay one cache line.
const _: () = assert!(size_of::<PoolEntry>() <= 64);

/// A queued ticket as a snapshot restores it into its pool ([`QueuePool::restore_all`]).
#[derive(Debug)]
pub(crate) struct Restored {
    /// Its place in `by_rating`.
    pub key: PoolKey,
    /// Its entry; `slot` is set by the pool.
    pub entry: PoolEntry,
    /// Its rules data.
    pub rules: Option<Arc<TicketRules>>,
}

/// `PoolEntry::slot` of a ticket without rules data.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// `PoolEntry::group` of a ticket in no group.
pub(crate) const NO_GROUP: u64 = 0;

/// The group of a value of a queue's grouping rule: FNV-1a of its bytes, never [`NO_GROUP`].
pub(crate) fn group_of(value: &str) -> u64 {
    let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash.max(1)
}

impl PoolEntry {
    /// How long it has waited at `now_ms`.
    pub(crate) fn waited_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.enqueued_at_ms)
    }

    /// Its skill window at `now_ms`: the largest rating difference it accepts.
    pub(crate) fn window(&self, queue: &QueueConfig, now_ms: u64) -> f64 {
        skill_window(queue, self.waited_ms(now_ms), self.sigma_bonus)
    }
}

/// A ticket's skill window after `waited_ms`.
pub(crate) fn skill_window(queue: &QueueConfig, waited_ms: u64, sigma_bonus: f32) -> f64 {
    queue.skill_window.value_at(waited_ms) + f64::from(sigma_bonus)
}

/// The window a ticket gains from its rating uncertainty.
pub(crate) fn sigma_bonus(queue: &QueueConfig, sigma: f64) -> f32 {
    let widening = &queue.sigma_widening;
    (widening.per_sigma * (sigma - widening.above_sigma).max(0.0)) as f32
}

/// The highest ping a ticket accepts after `waited_ms`: the queue's latency window, but never
/// below the ticket's best ping (its best region is always acceptable), and never above the
/// ticket's own cap.
pub(crate) fn ping_limit(
    queue: &QueueConfig,
    waited_ms: u64,
    best_ms: u16,
    own_max_ms: u16,
) -> f64 {
    queue
        .latency_window
        .value_at(waited_ms)
        .max(f64::from(best_ms))
        .min(f64::from(own_max_ms))
}

/// The regions whose ping is within `limit`.
pub(crate) fn regions_within(pings_ms: &[u16], limit: f64) -> u32 {
    pings_ms
        .iter()
        .enumerate()
        .filter(|(_, ping)| **ping != crate::command::NO_PING && f64::from(**ping) <= limit)
        .fold(0, |mask, (region, _)| mask | (1 << region))
}

/// The waiting time at which the next region not yet in `accepted` opens, if any will.
pub(crate) fn next_region_opening_ms(
    queue: &QueueConfig,
    pings_ms: &[u16],
    accepted: u32,
    own_max_ms: u16,
) -> Option<u64> {
    pings_ms
        .iter()
        .enumerate()
        .filter(|(region, ping)| {
            accepted & (1 << region) == 0
                && **ping != crate::command::NO_PING
                && **ping <= own_max_ms
        })
        .filter_map(|(_, ping)| {
            queue
                .latency_window
                .waited_ms_to_reach(f64::from(*ping), Direction::NonDecreasing)
        })
        .min()
}

/// One queue's indexes. See the module comment.
#[derive(Debug, Default)]
pub(crate) struct QueuePool {
    by_rating: BTreeMap<PoolKey, PoolEntry>,
    by_group: BTreeMap<(u64, PoolKey), PoolEntry>,
    due: BTreeSet<DueKey>,
    wakes: BTreeSet<(u64, PoolKey)>,
    /// Open backfill requests, oldest first.
    backfill: BTreeSet<(u64, MatchId)>,
    players: u64,
    /// The queued tickets' rules data, by `PoolEntry::slot` (`None`: a free slot).
    rules: Vec<Option<Arc<TicketRules>>>,
    /// Free slots of `rules`, the last freed last.
    free_slots: Vec<u32>,
    /// The texts of the queue's rules data (`rules::Interner`).
    interner: crate::rules::Interner,
}

impl QueuePool {
    /// Tickets queued.
    pub(crate) fn len(&self) -> usize {
        self.by_rating.len()
    }

    /// Players queued.
    pub(crate) fn players(&self) -> u64 {
        self.players
    }

    /// Tickets waiting to be tried as anchors.
    pub(crate) fn due_len(&self) -> usize {
        self.due.len()
    }

    /// Adds a ticket as due (to be tried at the next matching pass), with its rules data.
    pub(crate) fn insert_due(
        &mut self,
        key: PoolKey,
        mut entry: PoolEntry,
        rules: Option<Arc<TicketRules>>,
    ) {
        entry.wake_at_ms = DUE;
        entry.slot = self.take_slot(rules);
        let previous = self.by_rating.insert(key, entry);
        assert!(previous.is_none(), "{key:?} queued twice");
        if entry.group != NO_GROUP {
            self.by_group.insert((entry.group, key), entry);
        }
        self.due.insert(DueKey {
            enqueued_at_ms: entry.enqueued_at_ms,
            key,
        });
        self.players += u64::from(entry.players);
    }

    /// Fills an empty pool with the queued tickets of a snapshot, each as it was when the
    /// snapshot was taken (due if its `wake_at_ms` is [`DUE`], else waiting to wake then),
    /// with its rules data. Every index is built from a sorted list at once, not by one
    /// insert per ticket. Returns a key found twice.
    pub(crate) fn restore_all(&mut self, mut tickets: Vec<Restored>) -> Result<(), PoolKey> {
        assert!(self.by_rating.is_empty(), "a pool is restored when empty");
        tickets.sort_unstable_by_key(|ticket| ticket.key);
        if let Some(pair) = tickets.windows(2).find(|pair| pair[0].key == pair[1].key) {
            return Err(pair[0].key);
        }
        let mut due = Vec::new();
        let mut wakes = Vec::new();
        let mut grouped = Vec::new();
        let mut by_rating = Vec::with_capacity(tickets.len());
        for Restored {
            key,
            mut entry,
            rules,
        } in tickets
        {
            entry.slot = self.take_slot(rules);
            self.players += u64::from(entry.players);
            if entry.wake_at_ms == DUE {
                due.push(DueKey {
                    enqueued_at_ms: entry.enqueued_at_ms,
                    key,
                });
            } else {
                wakes.push((entry.wake_at_ms, key));
            }
            if entry.group != NO_GROUP {
                grouped.push(((entry.group, key), entry));
            }
            by_rating.push((key, entry));
        }
        due.sort_unstable();
        wakes.sort_unstable();
        grouped.sort_unstable_by_key(|(key, _)| *key);
        // From sorted input, each collect builds its tree in one pass.
        self.by_rating = by_rating.into_iter().collect();
        self.by_group = grouped.into_iter().collect();
        self.due = due.into_iter().collect();
        self.wakes = wakes.into_iter().collect();
        Ok(())
    }

    /// Removes a ticket, wherever it waits.
    pub(crate) fn remove(&mut self, key: &PoolKey) -> Option<PoolEntry> {
        let entry = self.by_rating.remove(key)?;
        if entry.group != NO_GROUP {
            let removed = self.by_group.remove(&(entry.group, *key));
            assert!(removed.is_some(), "{key:?} was missing from its group");
        }
        self.unschedule(key, &entry);
        self.players -= u64::from(entry.players);
        self.free_slot(entry.slot);
        Some(entry)
    }

    /// A slot holding `rules` ([`NO_SLOT`] for none): the last freed, else a new one.
    fn take_slot(&mut self, rules: Option<Arc<TicketRules>>) -> u32 {
        let Some(rules) = rules else {
            return NO_SLOT;
        };
        match self.free_slots.pop() {
            Some(slot) => {
                let place = &mut self.rules[slot as usize];
                debug_assert!(place.is_none(), "free slot {slot} is held");
                *place = Some(rules);
                slot
            }
            None => {
                let slot = u32::try_from(self.rules.len())
                    .ok()
                    .filter(|slot| *slot != NO_SLOT)
                    .expect("fewer than 2^32 - 1 tickets are queued");
                self.rules.push(Some(rules));
                slot
            }
        }
    }

    fn free_slot(&mut self, slot: u32) {
        if slot == NO_SLOT {
            return;
        }
        let held = self.rules[slot as usize].take();
        debug_assert!(held.is_some(), "slot {slot} freed twice");
        self.free_slots.push(slot);
    }

    /// The queue's interned texts: every ticket's rules data in this queue is built with it.
    pub(crate) fn interner(&self) -> &crate::rules::Interner {
        &self.interner
    }

    /// The rules data of a queued ticket, by its entry.
    pub(crate) fn rules_of(&self, entry: &PoolEntry) -> Option<&TicketRules> {
        self.rules.get(entry.slot as usize)?.as_deref()
    }

    /// The shared rules data of a queued ticket, by its entry (for invariant checks).
    pub(crate) fn rules_arc(&self, entry: &PoolEntry) -> Option<&Arc<TicketRules>> {
        self.rules.get(entry.slot as usize)?.as_ref()
    }

    /// Checks the slab: every held slot belongs to exactly one queued ticket, every other
    /// slot is free exactly once. Panics otherwise (invariant checks and tests).
    pub(crate) fn check_slots(&self) {
        let mut held_by = vec![0_u32; self.rules.len()];
        for (key, entry) in &self.by_rating {
            if entry.slot == NO_SLOT {
                continue;
            }
            let slot = entry.slot as usize;
            assert!(
                slot < self.rules.len(),
                "{key:?} holds slot {slot} beyond the slab"
            );
            assert!(self.rules[slot].is_some(), "{key:?} holds free slot {slot}");
            held_by[slot] += 1;
        }
        let mut free = vec![false; self.rules.len()];
        for slot in &self.free_slots {
            let slot = *slot as usize;
            assert!(!free[slot], "slot {slot} is free twice");
            assert!(
                self.rules[slot].is_none(),
                "free slot {slot} holds rules data"
            );
            free[slot] = true;
        }
        for (slot, count) in held_by.iter().enumerate() {
            let held = self.rules[slot].is_some();
            assert_eq!(*count, u32::from(held), "slot {slot} is held {count} times");
            assert_eq!(free[slot], !held, "slot {slot} is neither held nor free");
        }
    }

    fn unschedule(&mut self, key: &PoolKey, entry: &PoolEntry) {
        let removed = if entry.wake_at_ms == DUE {
            self.due.remove(&DueKey {
                enqueued_at_ms: entry.enqueued_at_ms,
                key: *key,
            })
        } else {
            self.wakes.remove(&(entry.wake_at_ms, *key))
        };
        assert!(removed, "{key:?} was neither due nor waiting to wake");
    }

    /// The entry of a queued ticket.
    pub(crate) fn get(&self, key: &PoolKey) -> Option<&PoolEntry> {
        self.by_rating.get(key)
    }

    /// Parks a due ticket until `wake_at_ms`, with the regions it accepts now.
    pub(crate) fn park(&mut self, key: &PoolKey, wake_at_ms: u64, regions: u32) {
        assert!(wake_at_ms != DUE);
        let Some(entry) = self.by_rating.get_mut(key) else {
            return;
        };
        let entry_copy = *entry;
        entry.wake_at_ms = wake_at_ms;
        entry.regions = regions;
        let changed = *entry;
        self.unschedule(key, &entry_copy);
        self.wakes.insert((wake_at_ms, *key));
        self.update_group_copy(key, changed);
    }

    /// Keeps the entry's copy in `by_group` equal to the one in `by_rating`.
    fn update_group_copy(&mut self, key: &PoolKey, entry: PoolEntry) {
        if entry.group == NO_GROUP {
            return;
        }
        let copy = self
            .by_group
            .get_mut(&(entry.group, *key))
            .expect("a grouped ticket is in its group");
        *copy = entry;
    }

    /// Makes a waiting ticket due now, with the regions it accepts now.
    pub(crate) fn wake(&mut self, key: &PoolKey, regions: u32) {
        let Some(entry) = self.by_rating.get_mut(key) else {
            return;
        };
        let entry_copy = *entry;
        entry.regions = regions;
        if entry_copy.wake_at_ms != DUE {
            entry.wake_at_ms = DUE;
        }
        let changed = *entry;
        self.update_group_copy(key, changed);
        if entry_copy.wake_at_ms == DUE {
            return;
        }
        self.unschedule(key, &entry_copy);
        self.due.insert(DueKey {
            enqueued_at_ms: entry_copy.enqueued_at_ms,
            key: *key,
        });
    }

    /// The oldest due ticket, taken out of `due` (it stays queued; the caller parks it or
    /// removes it).
    pub(crate) fn oldest_due(&self) -> Option<DueKey> {
        self.due.first().copied()
    }

    /// Tickets whose wake time has come, earliest first, at most `limit`.
    pub(crate) fn wakes_due(&self, now_ms: u64, limit: usize) -> Vec<PoolKey> {
        self.wakes
            .range(..=(now_ms, PoolKey::MAX))
            .take(limit)
            .map(|(_, key)| *key)
            .collect()
    }

    /// Whether a wake time has come for any ticket.
    pub(crate) fn count_wakes_due(&self, now_ms: u64) -> usize {
        self.wakes.range(..=(now_ms, PoolKey::MAX)).count()
    }

    /// The earliest wake time, if any ticket is parked.
    pub(crate) fn next_wake_ms(&self) -> Option<u64> {
        self.wakes.first().map(|(at, _)| *at)
    }

    /// Tickets at or below `key`, nearest first.
    pub(crate) fn below(&self, key: PoolKey) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> + '_ {
        self.by_rating.range(..key).rev()
    }

    /// Tickets above `key`, nearest first.
    pub(crate) fn above(&self, key: PoolKey) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> + '_ {
        use core::ops::Bound;
        self.by_rating
            .range((Bound::Excluded(key), Bound::Unbounded))
    }

    /// Tickets of `group` below `key`, nearest first.
    pub(crate) fn group_below(
        &self,
        group: u64,
        key: PoolKey,
    ) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> + '_ {
        let start = PoolKey {
            rating: 0,
            ticket: TicketId(0),
        };
        self.by_group
            .range((group, start)..(group, key))
            .rev()
            .map(|((_, key), entry)| (key, entry))
    }

    /// Tickets of `group` above `key`, nearest first.
    pub(crate) fn group_above(
        &self,
        group: u64,
        key: PoolKey,
    ) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> + '_ {
        use core::ops::Bound;
        self.by_group
            .range((
                Bound::Excluded((group, key)),
                Bound::Included((group, PoolKey::MAX)),
            ))
            .map(|((_, key), entry)| (key, entry))
    }

    /// Tickets in groups (for invariant checks).
    pub(crate) fn grouped_len(&self) -> usize {
        self.by_group.len()
    }

    /// The copy of a ticket's entry in its group, if it has one (for invariant checks).
    pub(crate) fn group_copy(&self, key: &PoolKey, group: u64) -> Option<&PoolEntry> {
        self.by_group.get(&(group, *key))
    }

    /// Every queued ticket, by rating.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> + '_ {
        self.by_rating.iter()
    }

    /// Whether `(wake_at_ms, key)` is among the wake timers.
    pub(crate) fn has_wake(&self, wake_at_ms: u64, key: &PoolKey) -> bool {
        self.wakes.contains(&(wake_at_ms, *key))
    }

    /// Sizes of the due set and the wake timers (for invariant checks).
    pub(crate) fn schedule_sizes(&self) -> (usize, usize) {
        (self.due.len(), self.wakes.len())
    }

    /// Opens a backfill request.
    pub(crate) fn add_backfill(&mut self, requested_at_ms: u64, match_id: MatchId) {
        self.backfill.insert((requested_at_ms, match_id));
    }

    /// Closes a backfill request.
    pub(crate) fn remove_backfill(&mut self, requested_at_ms: u64, match_id: MatchId) {
        self.backfill.remove(&(requested_at_ms, match_id));
    }

    /// Whether any backfill request is open.
    pub(crate) fn has_backfill(&self) -> bool {
        !self.backfill.is_empty()
    }

    /// Open backfill requests, oldest first.
    pub(crate) fn backfill_requests(&self) -> Vec<(u64, MatchId)> {
        self.backfill.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(enqueued_at_ms: u64) -> PoolEntry {
        PoolEntry {
            entity: Entity::PLACEHOLDER,
            enqueued_at_ms,
            wake_at_ms: DUE,
            sigma_bonus: 0.0,
            regions: 1,
            players: 1,
            avoids: false,
            group: NO_GROUP,
            hint: crate::rules::RuleHint::NONE,
            slot: NO_SLOT,
        }
    }

    #[test]
    fn rating_keys_keep_order_and_round_trip() {
        let ratings = [
            -1e9,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            1.0,
            1500.0,
            1_500.000_000_1,
            1e9,
        ];
        for pair in ratings.windows(2) {
            assert!(rating_key(pair[0]) <= rating_key(pair[1]), "{pair:?}");
        }
        for rating in ratings {
            assert_eq!(
                rating_from_key(rating_key(rating)).to_bits(),
                rating.to_bits()
            );
        }
    }

    #[test]
    fn a_ticket_is_always_either_due_or_waiting() {
        let mut pool = QueuePool::default();
        let key = PoolKey::new(1500.0, TicketId(1));
        pool.insert_due(key, entry(10), None);
        assert_eq!(pool.schedule_sizes(), (1, 0));
        pool.park(&key, 500, 3);
        assert_eq!(pool.schedule_sizes(), (0, 1));
        assert_eq!(pool.wakes_due(499, 10), vec![]);
        assert_eq!(pool.wakes_due(500, 10), vec![key]);
        pool.wake(&key, 7);
        assert_eq!(pool.schedule_sizes(), (1, 0));
        assert_eq!(pool.get(&key).unwrap().regions, 7);
        assert!(pool.remove(&key).is_some());
        assert_eq!(pool.schedule_sizes(), (0, 0));
        assert_eq!(pool.players(), 0);
    }

    fn rules(player: u64) -> Arc<TicketRules> {
        Arc::new(TicketRules::for_tests(&[crate::ids::PlayerId(player)]))
    }

    #[test]
    fn the_rules_slab_follows_every_entry_and_exit() {
        let mut pool = QueuePool::default();
        let keys: Vec<PoolKey> = (0..4)
            .map(|id| PoolKey::new(1500.0 + id as f64, TicketId(id)))
            .collect();
        let held: Vec<Arc<TicketRules>> = (0..4).map(rules).collect();
        pool.insert_due(keys[0], entry(1), Some(Arc::clone(&held[0])));
        pool.insert_due(keys[1], entry(2), None);
        let mut parked = entry(3);
        parked.wake_at_ms = 900;
        let mut restored = QueuePool::default();
        let parked = Restored {
            key: keys[2],
            entry: parked,
            rules: Some(Arc::clone(&held[2])),
        };
        restored.restore_all(vec![parked]).unwrap();
        assert_eq!(restored.schedule_sizes(), (0, 1));
        restored.check_slots();
        let parked = restored.remove(&keys[2]).unwrap();
        pool.insert_due(keys[2], parked, Some(Arc::clone(&held[2])));
        pool.park(&keys[2], 900, parked.regions);
        pool.check_slots();
        let of = |pool: &QueuePool, key: &PoolKey| pool.rules_arc(pool.get(key).unwrap()).cloned();
        assert!(Arc::ptr_eq(&of(&pool, &keys[0]).unwrap(), &held[0]));
        assert!(of(&pool, &keys[1]).is_none());
        assert_eq!(pool.get(&keys[1]).unwrap().slot, NO_SLOT);
        assert!(Arc::ptr_eq(&of(&pool, &keys[2]).unwrap(), &held[2]));
        // Parking and waking keep the slot.
        let slot = pool.get(&keys[0]).unwrap().slot;
        pool.park(&keys[0], 500, 1);
        pool.wake(&keys[2], 1);
        assert_eq!(pool.get(&keys[0]).unwrap().slot, slot);
        pool.check_slots();
        // A freed slot is taken again by the next ticket with rules data, and its old
        // data is dropped.
        pool.remove(&keys[0]);
        assert_eq!(Arc::strong_count(&held[0]), 1);
        pool.check_slots();
        pool.insert_due(keys[3], entry(4), Some(Arc::clone(&held[3])));
        assert_eq!(pool.get(&keys[3]).unwrap().slot, slot);
        assert!(Arc::ptr_eq(&of(&pool, &keys[3]).unwrap(), &held[3]));
        pool.check_slots();
        for key in &keys[1..] {
            pool.remove(key);
            pool.check_slots();
        }
        assert!(held.iter().all(|rules| Arc::strong_count(rules) == 1));
    }

    #[test]
    fn a_group_walk_sees_entries_as_parked_and_woken() {
        let mut pool = QueuePool::default();
        let group = group_of("pc");
        for id in 0..3 {
            let mut grouped = entry(id);
            grouped.group = group;
            pool.insert_due(
                PoolKey::new(1500.0 + id as f64, TicketId(id)),
                grouped,
                None,
            );
        }
        let middle = PoolKey::new(1501.0, TicketId(1));
        let low = PoolKey::new(1500.0, TicketId(0));
        pool.park(&low, 700, 0b110);
        let seen = |pool: &QueuePool| *pool.group_below(group, middle).next().unwrap().1;
        assert_eq!(seen(&pool), *pool.get(&low).unwrap());
        assert_eq!((seen(&pool).wake_at_ms, seen(&pool).regions), (700, 0b110));
        pool.wake(&low, 0b111);
        assert_eq!(seen(&pool), *pool.get(&low).unwrap());
        assert_eq!((seen(&pool).wake_at_ms, seen(&pool).regions), (DUE, 0b111));
        let above: Vec<_> = pool
            .group_above(group, middle)
            .map(|(key, _)| key.ticket)
            .collect();
        assert_eq!(above, vec![TicketId(2)]);
        pool.remove(&low);
        assert_eq!(pool.group_below(group, middle).count(), 0);
        assert_eq!(pool.grouped_len(), 2);
    }

    #[test]
    fn due_is_oldest_first_and_walks_go_outward() {
        let mut pool = QueuePool::default();
        for (id, (rating, at)) in [(1500.0, 30), (1400.0, 10), (1600.0, 20)]
            .iter()
            .enumerate()
        {
            pool.insert_due(PoolKey::new(*rating, TicketId(id as u64)), entry(*at), None);
        }
        assert_eq!(pool.oldest_due().unwrap().key.ticket, TicketId(1));
        let middle = PoolKey::new(1500.0, TicketId(0));
        let below: Vec<_> = pool.below(middle).map(|(key, _)| key.ticket).collect();
        let above: Vec<_> = pool.above(middle).map(|(key, _)| key.ticket).collect();
        assert_eq!(below, vec![TicketId(1)]);
        assert_eq!(above, vec![TicketId(2)]);
    }

    #[test]
    fn the_best_region_is_always_accepted_and_the_own_cap_always_holds() {
        let queue = QueueConfig::default(); // latency 80 -> 200 over 30 s
        assert_eq!(ping_limit(&queue, 0, 150, u16::MAX - 1), 150.0);
        assert_eq!(ping_limit(&queue, 0, 20, u16::MAX - 1), 80.0);
        assert_eq!(ping_limit(&queue, 60_000, 20, 120), 120.0);
        assert_eq!(
            regions_within(&[30, 90, crate::command::NO_PING], 100.0),
            0b011
        );
        let opening = next_region_opening_ms(&queue, &[30, 140, 500], 0b001, 300).unwrap();
        assert_eq!(opening, 15_000);
    }
}
