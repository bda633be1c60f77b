//! Deadlines for matches: acceptance, allocation and heartbeat deadlines, and backfill expiry.
//! Ordered by (time, id) so that what fires in one tick fires in a fixed order.

use std::collections::BTreeSet;

/// A set of `(deadline_ms, key)`, earliest first.
#[derive(Debug)]
pub(crate) struct DeadlineQueue<K: Ord + Copy> {
    deadlines: BTreeSet<(u64, K)>,
}

impl<K: Ord + Copy> Default for DeadlineQueue<K> {
    fn default() -> Self {
        Self {
            deadlines: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Copy> DeadlineQueue<K> {
    /// Adds a deadline.
    pub(crate) fn schedule(&mut self, at_ms: u64, key: K) {
        self.deadlines.insert((at_ms, key));
    }

    /// Removes a deadline (the caller knows when it was set for).
    pub(crate) fn cancel(&mut self, at_ms: u64, key: K) {
        self.deadlines.remove(&(at_ms, key));
    }

    /// Moves a deadline.
    pub(crate) fn reschedule(&mut self, from_ms: u64, to_ms: u64, key: K) {
        self.cancel(from_ms, key);
        self.schedule(to_ms, key);
    }

    /// Removes and returns every deadline at or before `now_ms`, earliest first.
    pub(crate) fn pop_due(&mut self, now_ms: u64) -> Vec<(u64, K)> {
        let mut fired = Vec::new();
        while let Some(first) = self.deadlines.first().copied() {
            if first.0 > now_ms {
                break;
            }
            self.deadlines.pop_first();
            fired.push(first);
        }
        fired
    }

    /// The earliest deadline.
    pub(crate) fn next_ms(&self) -> Option<u64> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// How many deadlines are set.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.deadlines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_time_then_key_order() {
        let mut queue = DeadlineQueue::default();
        queue.schedule(20, 2_u64);
        queue.schedule(10, 9);
        queue.schedule(20, 1);
        queue.reschedule(10, 30, 9);
        assert_eq!(queue.pop_due(25), vec![(20, 1), (20, 2)]);
        assert_eq!(queue.next_ms(), Some(30));
        assert_eq!(queue.len(), 1);
    }
}
