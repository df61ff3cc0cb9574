//! Suspended invocations, indexed by invocation id: a slab of values with a free list, and a
//! window of slot numbers from the oldest id still parked to the newest (ids are a sequence,
//! so the window is a `VecDeque` indexed by `id - base`). Suspend and resume, a few times per
//! request, each cost O(1) and move only the value (a boxed instance and the call) instead of
//! rebalancing a `BTreeMap` whose leaves held whole instances (benches/README.md, "Engine
//! speed-ups (issue 16 item 1)"). The same layout as a slab allocator (e.g. the `slab`
//! crate) keyed by a monotonic id.
//!
//! Memory: a slot per invocation parked at once, and 4 bytes per id between the oldest one still
//! parked and the newest (the window's leading free ids are dropped when a new id is parked).

use std::collections::VecDeque;

/// No slot: the id is not parked.
const NONE: u32 = u32::MAX;

/// Values parked by id. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Parked<T> {
    /// The id of `index[0]`.
    base: u64,
    /// Per id from `base`: its slot, or [`NONE`].
    index: VecDeque<u32>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Parked<T> {
    fn default() -> Self {
        Parked { base: 0, index: VecDeque::new(), slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Parked<T> {
    /// Values parked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Parks `value` under `id`, replacing what was parked there.
    #[inline]
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        *self.entry(id) = Some(value);
    }

    /// The slot of `id`, given one if it has none (holding `None` until the caller fills it,
    /// which it must: the slot already counts in [`Parked::len`]). A caller writes its value
    /// straight into the slot: one move of the value, where building it first and then
    /// placing it moved it twice (benches/README.md, "Seventh round").
    #[inline]
    pub(crate) fn entry(&mut self, id: u64) -> &mut Option<T> {
        if id >= self.base + self.index.len() as u64 {
            // A new id at the back: drop the free ids at the front first.
            while self.index.front() == Some(&NONE) {
                self.index.pop_front();
                self.base += 1;
            }
            if self.index.is_empty() {
                self.base = id;
            }
        }
        while id < self.base {
            self.index.push_front(NONE);
            self.base -= 1;
        }
        let at = usize::try_from(id - self.base).expect("the window fits in memory");
        if at == self.index.len() {
            // The next id (the common case: ids are a sequence): one push, not a `resize`.
            self.index.push_back(NONE);
        } else if at > self.index.len() {
            self.index.resize(at + 1, NONE);
        }
        let slot = match self.index[at] {
            NONE => {
                let slot = match self.free.pop() {
                    Some(slot) => slot,
                    None => {
                        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 parked");
                        self.slots.push(None);
                        slot
                    }
                };
                self.index[at] = slot;
                self.len += 1;
                slot
            }
            slot => slot,
        };
        &mut self.slots[slot as usize]
    }

    #[inline]
    fn slot(&self, id: u64) -> Option<u32> {
        let at = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.index.get(at).copied().filter(|&s| s != NONE)
    }

    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        self.slots[self.slot(id)? as usize].as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let slot = self.slot(id)?;
        self.slots[slot as usize].as_mut()
    }

    /// Takes what is parked under `id`. The window is not trimmed here, so the same id can be
    /// parked again without moving it (a resume that suspends again).
    #[inline]
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let slot = self.vacate(id)?;
        self.slots[slot].take()
    }

    /// Drops what is parked under `id` where it lies (no move out of its slot); whether
    /// anything was.
    #[inline]
    pub(crate) fn discard(&mut self, id: u64) -> bool {
        match self.vacate(id) {
            Some(slot) => {
                self.slots[slot] = None;
                true
            }
            None => false,
        }
    }

    /// Frees the slot of `id` (its value still in it, for the caller to take or drop).
    #[inline]
    fn vacate(&mut self, id: u64) -> Option<usize> {
        let slot = self.slot(id)?;
        self.index[usize::try_from(id - self.base).ok()?] = NONE;
        self.free.push(slot);
        self.len -= 1;
        Some(slot as usize)
    }

    /// The parked values, in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.index.iter().filter(|&&s| s != NONE).filter_map(|&s| self.slots[s as usize].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn parks_takes_and_reparks_by_id() {
        let mut p = Parked::default();
        p.insert(3, "three");
        p.insert(4, "four");
        p.insert(7, "seven");
        assert_eq!((p.len(), p.get(4), p.get(5), p.get(2)), (3, Some(&"four"), None, None));
        assert_eq!(p.remove(3), Some("three"));
        assert_eq!(p.remove(3), None, "taken once");
        // Resumed and suspended again: parked under the same id.
        assert_eq!(p.remove(4), Some("four"));
        p.insert(4, "four again");
        assert_eq!(p.values().copied().collect::<Vec<_>>(), ["four again", "seven"]);
        // A new id drops the free ids at the front; old ones are still found.
        p.insert(8, "eight");
        assert_eq!((p.base, p.get(4), p.get(8)), (4, Some(&"four again"), Some(&"eight")));
        assert_eq!(p.slots.len(), 3, "freed slots are reused");
    }

    #[test]
    fn the_window_follows_the_oldest_parked_id() {
        let mut p = Parked::default();
        for id in 0..10_000u64 {
            p.insert(id, id);
            if id >= 2 {
                assert_eq!(p.remove(id - 2), Some(id - 2));
            }
        }
        assert_eq!(p.len(), 2);
        assert!(p.index.len() <= 3, "window of {} ids for 2 parked", p.index.len());
        assert!(p.slots.len() <= 3, "{} slots for 2 parked", p.slots.len());
    }

    #[test]
    fn an_id_before_the_window_is_parked_too() {
        let mut p = Parked::default();
        p.insert(10, 'a');
        p.insert(12, 'b');
        assert_eq!(p.remove(10), Some('a'));
        p.insert(13, 'c'); // drops id 10 and 11 from the window
        p.insert(10, 'd');
        assert_eq!(p.values().copied().collect::<String>(), "dbc");
    }

    proptest! {
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((0u64..40, 0u8..5), 1..300)) {
            let mut p = Parked::default();
            let mut model = BTreeMap::new();
            for (n, (id, op)) in ops.into_iter().enumerate() {
                let n = n as u64;
                match op {
                    0 | 1 => {
                        p.insert(id, n);
                        model.insert(id, n);
                    }
                    2 => prop_assert_eq!(p.remove(id), model.remove(&id)),
                    3 => prop_assert_eq!(p.discard(id), model.remove(&id).is_some()),
                    _ => {
                        // Filled or replaced through its slot, as `IdTable::insert` does.
                        let slot = p.entry(id);
                        let old = slot.replace(n);
                        prop_assert_eq!(old, model.insert(id, n));
                    }
                }
                prop_assert_eq!(p.len(), model.len());
                prop_assert_eq!(p.values().copied().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
                for id in 0..40 {
                    prop_assert_eq!(p.get(id), model.get(&id));
                }
            }
        }
    }
}
