//! Interned texts: the `equal` values and `overlap` list items of a queue's tickets, one
//! shared allocation per distinct text, so that the matching walk compares two values by
//! pointer (`Interned::same`) instead of reading both strings (the candidate's would be one
//! more cache miss per rule). Each text also has a small id, unique among the queue's live
//! texts, so that a short list is also a bit set of ids (`ListValue::bits`) that an `overlap`
//! check intersects without reading the list.
//!
//! Each queue's pool keeps one [`Interner`] (`pool::QueuePool::interner`); every ticket's
//! rules data in that queue is built through it (at enqueue and at restore), so two values of
//! one queue are the same text exactly when they are the same allocation (and have the same
//! id). Texts no ticket holds any more are dropped by a sweep each time the set has doubled
//! since the last one (amortised O(1) per interned text), so the set stays as large as the
//! live values, and their ids are given again, smallest first. Nothing observable depends on
//! the pointers or ids: only on whether two are equal, which is whether the texts are.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

/// A text shared through its queue's [`Interner`]. Equality (`==`) compares the texts; the
/// hot paths use [`Interned::same`].
#[derive(Clone, Debug, Eq)]
pub(crate) struct Interned(Arc<Text>);

/// An interned text and its id.
#[derive(Debug, Eq)]
struct Text {
    id: u32,
    text: Box<str>,
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Interned {
    /// Its id: unique among the texts of its interner that some value holds.
    pub(crate) fn id(&self) -> u32 {
        self.0.id
    }

    /// Whether two texts interned by the same interner are equal: one pointer compare.
    #[inline]
    pub(crate) fn same(&self, other: &Self) -> bool {
        let same = Arc::ptr_eq(&self.0, &other.0);
        debug_assert_eq!(
            same,
            self.0.text == other.0.text,
            "`{}` and `{}` were interned apart",
            self.0.text,
            other.0.text
        );
        same
    }

    /// A text outside any interner (tests: it is `==` to, but never `same` as, an interned
    /// one).
    #[cfg(test)]
    pub(crate) fn unshared(text: &str) -> Self {
        Self(Arc::new(Text {
            id: u32::MAX,
            text: text.into(),
        }))
    }
}

impl PartialEq for Interned {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.text == other.0.text
    }
}

impl PartialOrd for Interned {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Interned {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.text.cmp(&other.0.text)
    }
}

impl core::ops::Deref for Interned {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0.text
    }
}

/// One queue's interned texts (behind a lock so that intake, which reads the world, can
/// intern; the matcher is single-threaded, so it is never contended).
#[derive(Debug, Default)]
pub(crate) struct Interner(Mutex<Texts>);

#[derive(Debug, Default)]
struct Texts {
    set: BTreeSet<Key>,
    /// The set's size at which the next sweep runs.
    sweep_at: usize,
    /// Ids of swept texts, to give again (smallest first).
    free_ids: BTreeSet<u32>,
    /// The next id never given.
    next_id: u32,
}

/// A text in the set, ordered and looked up by its text.
#[derive(Debug, Eq, PartialEq)]
struct Key(Arc<Text>);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.text.cmp(&other.0.text)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl core::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0.text
    }
}

/// The fewest texts a sweep waits for.
const MIN_SWEEP: usize = 64;

impl Interner {
    /// The shared allocation of `text`.
    pub(crate) fn intern(&self, text: &str) -> Interned {
        let mut texts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = texts.set.get(text) {
            return Interned(Arc::clone(&found.0));
        }
        if texts.set.len() >= texts.sweep_at.max(MIN_SWEEP) {
            texts.sweep();
        }
        let id = match texts.free_ids.pop_first() {
            Some(id) => id,
            None => {
                texts.next_id += 1;
                texts.next_id - 1
            }
        };
        let shared = Arc::new(Text {
            id,
            text: text.into(),
        });
        texts.set.insert(Key(Arc::clone(&shared)));
        Interned(shared)
    }

    /// How many texts it holds (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set
            .len()
    }
}

impl Texts {
    /// Drops the texts only the set holds (no ticket has them any more) and frees their ids.
    fn sweep(&mut self) {
        let mut freed = Vec::new();
        self.set.retain(|held| {
            let live = Arc::strong_count(&held.0) > 1;
            if !live {
                freed.push(held.0.id);
            }
            live
        });
        self.free_ids.extend(freed);
        self.sweep_at = 2 * self.set.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation_and_dropped_ones_are_swept() {
        let interner = Interner::default();
        let pc = interner.intern("pc");
        assert!(pc.same(&interner.intern("pc")));
        assert!(!pc.same(&interner.intern("xbox")));
        assert_eq!(pc, Interned::unshared("pc"));
        let held: Vec<Interned> = (0..MIN_SWEEP)
            .map(|n| interner.intern(&format!("kept-{n}")))
            .collect();
        for n in 0..10 * MIN_SWEEP {
            drop(interner.intern(&format!("dropped-{n}")));
        }
        // Never more than about twice the texts still held, and every held one is still
        // shared.
        assert!(
            interner.len() <= 2 * (held.len() + 2) + MIN_SWEEP,
            "{}",
            interner.len()
        );
        for (n, text) in held.iter().enumerate() {
            assert!(text.same(&interner.intern(&format!("kept-{n}"))));
        }
        assert!(pc.same(&interner.intern("pc")));
        // Live texts keep distinct ids, and swept ids are given again: the ids stay about as
        // many as the live texts.
        let mut ids: Vec<u32> = held.iter().chain([&pc]).map(Interned::id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), held.len() + 1);
        assert!(interner.intern("new").id() < 3 * MIN_SWEEP as u32);
    }
}
