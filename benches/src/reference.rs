//! The machine's yardstick: a fixed plain-Rust workload of the kind of work a tick does
//! (walking an ordered index, touching small records scattered in memory, 1% of it replaced),
//! with no matcher code in it. The tick gate times it in the same process, between the ticks
//! it measures, and budgets the tick as a multiple of it: a slower machine (or a slower day on
//! a shared VM) slows both alike and the ratio holds, while a slower tick moves only the tick.
//!
//! Sized like the gate's queue: `entries` records in a `BTreeMap`, like a queue's rating
//! index; each run replaces 1% of them and walks 2,000 windows of 32 neighbours.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A record about the size of a queued ticket's hot data.
type Record = [u64; 6];

/// The reference workload and its state (it changes a little each run, as a queue does).
pub struct Reference {
    index: BTreeMap<u64, Record>,
    keys: Vec<u64>,
    rng: u64,
}

impl Reference {
    /// An index of `entries` records (at least 1,000), built from a fixed seed.
    pub fn new(entries: usize) -> Self {
        let entries = entries.max(1_000);
        let mut reference = Self {
            index: BTreeMap::new(),
            keys: Vec::with_capacity(entries),
            rng: 0x9E37_79B9_7F4A_7C15,
        };
        for _ in 0..entries {
            let key = reference.next();
            reference.index.insert(key, [key; 6]);
            reference.keys.push(key);
        }
        reference
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: fixed, fast, and the same on every machine.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// One run; returns its wall time.
    pub fn run(&mut self) -> Duration {
        let started = Instant::now();
        let churn = self.keys.len() / 100;
        for _ in 0..churn {
            let slot = (self.next() % self.keys.len() as u64) as usize;
            let old = self.keys[slot];
            self.index.remove(&old);
            let key = self.next();
            self.index.insert(key, [key; 6]);
            self.keys[slot] = key;
        }
        let mut sum = 0_u64;
        for _ in 0..2_000 {
            let from = self.next();
            for (key, record) in self.index.range(from..).take(32) {
                sum = sum.wrapping_add(key ^ record[3]);
            }
        }
        black_box(sum);
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_keeps_its_size_and_runs_the_same_work() {
        let mut one = Reference::new(5_000);
        let mut two = Reference::new(5_000);
        for _ in 0..3 {
            one.run();
            two.run();
        }
        assert_eq!(one.index.len(), 5_000);
        assert_eq!(one.keys, two.keys, "the workload is fixed");
        assert_eq!(one.index, two.index);
    }
}
