//! A table of live records keyed by a sequential typed id (requests, invocations, calls,
//! store operations): the runtime's slab of parked invocations ([`Parked`], a slab with a
//! window of slot numbers from the oldest live id) behind a map's interface. Lookups,
//! inserts and removals are O(1) and move only the record, where a `BTreeMap` searched and
//! rebalanced nodes on every event (benches/README.md, "Engine speed-ups (issue 16 item 1)").
//!
//! Iteration is in id order, as the `BTreeMap` it replaces iterated, so no output depends on
//! the change. Memory: a slot per live record, and 4 bytes per id between the oldest live one
//! and the newest (records live while something refers to them: a request until it is
//! answered or timed out, an invocation until it ends).

use std::fmt;
use std::ops::Index;

use crate::runtime::parked::Parked;

/// A typed id numbered in creation order.
pub(crate) trait SeqId: Copy + fmt::Display {
    fn seq(self) -> u64;
}

/// Records by id. See the [module docs](self).
pub(crate) struct IdTable<K, V> {
    slab: Parked<(K, V)>,
}

impl<K, V> Default for IdTable<K, V> {
    fn default() -> Self {
        IdTable { slab: Parked::default() }
    }
}

impl<K: SeqId + fmt::Debug, V: fmt::Debug> fmt::Debug for IdTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: SeqId, V> IdTable<K, V> {
    /// Inserts `value` under `id`; the value it replaces, if any.
    ///
    /// One look-up, and `value` moved once, into its slot (benches/README.md, "Seventh
    /// round": building the `(id, value)` pair and then placing it moved each request and
    /// invocation twice).
    #[inline]
    pub(crate) fn insert(&mut self, id: K, value: V) -> Option<V> {
        let slot = self.slab.entry(id.seq());
        if let Some(held) = &mut *slot {
            return Some(std::mem::replace(&mut held.1, value));
        }
        *slot = Some((id, value));
        None
    }

    pub(crate) fn get(&self, id: &K) -> Option<&V> {
        self.slab.get(id.seq()).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        self.slab.get_mut(id.seq()).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, id: &K) -> bool {
        self.slab.get(id.seq()).is_some()
    }

    #[inline]
    pub(crate) fn remove(&mut self, id: &K) -> Option<V> {
        self.slab.remove(id.seq()).map(|(_, v)| v)
    }

    /// Removes the record of `id` and drops it where it lies (a [`IdTable::remove`] whose
    /// value is not wanted moved it out of its slot first); whether there was one.
    #[inline]
    pub(crate) fn discard(&mut self, id: &K) -> bool {
        self.slab.discard(id.seq())
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// The records in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slab.values().map(|(k, v)| (k, v))
    }
}

impl<K: SeqId, V> Index<&K> for IdTable<K, V> {
    type Output = V;

    fn index(&self, id: &K) -> &V {
        self.get(id).unwrap_or_else(|| panic!("{id} has no record"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::ids::ReqId;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The table answers as the `BTreeMap` it replaces, iteration order included, for
        /// any order of inserts (ids may be reserved before their record exists) and removals.
        #[test]
        fn behaves_as_a_btreemap(ops in prop::collection::vec((0u64..60, 0u8..4), 1..400)) {
            let mut t = IdTable::default();
            let mut model = BTreeMap::new();
            for (n, (id, op)) in ops.into_iter().enumerate() {
                let id = ReqId(id);
                match op {
                    0 | 1 => prop_assert_eq!(t.insert(id, n), model.insert(id, n)),
                    2 => prop_assert_eq!(t.remove(&id), model.remove(&id)),
                    _ => prop_assert_eq!(t.discard(&id), model.remove(&id).is_some()),
                }
                if let Some(v) = t.get_mut(&ReqId(n as u64 % 60)) {
                    *v += 1000;
                }
                if let Some(v) = model.get_mut(&ReqId(n as u64 % 60)) {
                    *v += 1000;
                }
                prop_assert_eq!(t.len(), model.len());
                prop_assert_eq!(t.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
                for k in 0..60 {
                    prop_assert_eq!(t.get(&ReqId(k)), model.get(&ReqId(k)));
                    prop_assert_eq!(t.contains_key(&ReqId(k)), model.contains_key(&ReqId(k)));
                }
            }
        }
    }

    #[test]
    fn a_missing_record_is_named_when_indexed() {
        let mut t = IdTable::default();
        t.insert(ReqId(3), 'x');
        assert_eq!(t[&ReqId(3)], 'x');
        let e = std::panic::catch_unwind(|| t[&ReqId(4)]).expect_err("no record");
        assert_eq!(e.downcast_ref::<String>().map(String::as_str), Some("ReqId#4 has no record"));
    }
}
