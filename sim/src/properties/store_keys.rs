//! The (store, key) pairs a trace names, interned once per judged run into dense ids.
//!
//! Eventual consistency, acked writes and lost update each kept maps keyed by (store, key)
//! names, so every store event cost each of them a few `BTreeMap` searches, every step a
//! `memcmp` of a store name and then of a key (shop keys share long prefixes). Now the names
//! of a store event's pair are hashed once per run and the properties index plain vectors by
//! the pair's id.
//!
//! Ids are given in the order pairs first appear in the trace, so they depend on the trace
//! alone; the hash table is only ever probed, never iterated, so no hash order can reach a
//! verdict.

use std::hash::BuildHasher as _;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::{Event, Line};
use crate::trace::TraceEvent;

/// No pair: the line is not a store event.
const NONE: u32 = u32::MAX;

/// The (store, key) a store event names: `store_write`, `store_apply`, `store_read`,
/// `store_acked` and `replica_missed`.
pub(crate) fn pair<'a>(event: &'a Event<'_>) -> Option<(&'a str, &'a str)> {
    match event {
        TraceEvent::StoreWrite { store, key, .. }
        | TraceEvent::StoreApply { store, key, .. }
        | TraceEvent::StoreRead { store, key, .. }
        | TraceEvent::StoreAcked { store, key, .. }
        | TraceEvent::ReplicaMissed { store, key, .. } => Some((store, key)),
        _ => None,
    }
}

/// The interned pairs of a run's lines read back.
#[derive(Debug, Default)]
pub(crate) struct StoreKeys {
    /// Per line (as `Judged::lines` reads them): its pair's id, or [`NONE`].
    of_line: Vec<u32>,
    /// Per id: the line it first appeared on (its names are read from there).
    first: Vec<u32>,
    /// Per id: the hash of its names (to grow the table without hashing them again).
    hashes: Vec<u64>,
    /// The ids, found by the hash of their names: probed, never iterated.
    table: HashTable<u32>,
}

impl Drop for StoreKeys {
    /// Hands the per-line ids' allocation to the next run judged on this thread: a shop case
    /// has ≈ 230,000 lines (0.9 MB of ids), allocated and freed per case otherwise.
    fn drop(&mut self) {
        crate::spare::give_back(&SPARE_OF_LINE, std::mem::take(&mut self.of_line));
    }
}

thread_local! {
    /// The allocation of the per-line ids of the last run judged on this thread.
    static SPARE_OF_LINE: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A fixed seed: the table's layout, and so its speed, is the same on every run (its order
/// never reaches a verdict either way).
const HASHER: FixedState = FixedState::with_seed(0);

/// The hash of a pair; hashing the tuple writes each name's length, so `("a", "bc")` and
/// `("ab", "c")` hash apart (equality compares both names anyway).
fn hash(store: &str, key: &str) -> u64 {
    HASHER.hash_one((store, key))
}

/// The names of pair `id`, read from the line it first appeared on.
fn names_at<'a>(lines: &'a [Line<'_>], first: &[u32], id: usize) -> (&'a str, &'a str) {
    first
        .get(id)
        .and_then(|l| lines.get(*l as usize))
        .and_then(|l| pair(&l.event))
        .unwrap_or(("", ""))
}

impl StoreKeys {
    /// Interns the pair of every store event of `lines`.
    pub(crate) fn of(lines: &[Line<'_>]) -> Self {
        // The per-line ids go into the allocation the previous run left on this thread.
        let mut of_line = SPARE_OF_LINE.take();
        of_line.reserve_exact(lines.len());
        let mut keys = StoreKeys {
            of_line,
            first: Vec::new(),
            hashes: Vec::new(),
            table: HashTable::with_capacity(1024),
        };
        for (i, line) in lines.iter().enumerate() {
            let id = match pair(&line.event) {
                Some((store, key)) => keys.intern(lines, store, key, i),
                None => NONE,
            };
            keys.of_line.push(id);
        }
        keys
    }

    /// How many distinct pairs: ids run from 0 to this, excluded.
    pub(crate) fn len(&self) -> usize {
        self.first.len()
    }

    /// The id of line `i`'s pair (`None` for a line that is no store event).
    pub(crate) fn of_line(&self, i: usize) -> Option<usize> {
        self.of_line.get(i).filter(|id| **id != NONE).map(|id| *id as usize)
    }

    /// The names of pair `id`, borrowed from `lines` (the lines it was built from).
    pub(crate) fn names<'a>(&self, lines: &'a [Line<'_>], id: usize) -> (&'a str, &'a str) {
        names_at(lines, &self.first, id)
    }

    /// The id of (`store`, `key`), if some store event of `lines` names it.
    pub(crate) fn id(&self, lines: &[Line<'_>], store: &str, key: &str) -> Option<usize> {
        let h = hash(store, key);
        let same = |id: &u32| {
            self.hashes[*id as usize] == h && self.names(lines, *id as usize) == (store, key)
        };
        self.table.find(h, same).map(|id| *id as usize)
    }

    fn intern(&mut self, lines: &[Line<'_>], store: &str, key: &str, line: usize) -> u32 {
        let h = hash(store, key);
        let StoreKeys { first, hashes, table, .. } = self;
        let same = |id: &u32| {
            hashes[*id as usize] == h && names_at(lines, first, *id as usize) == (store, key)
        };
        match table.entry(h, same, |id| hashes[*id as usize]) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let id = first.len() as u32;
                v.insert(id);
                first.push(line as u32);
                hashes.push(h);
                id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use super::StoreKeys;
    use crate::properties::Line;
    use crate::time::SimTime;
    use crate::trace::TraceEvent;

    fn read(store: String, key: String) -> Line<'static> {
        let event = TraceEvent::StoreRead {
            inv: 0,
            store: Cow::Owned(store),
            replica: 0,
            key: Cow::Owned(key),
            version: 0,
        };
        Line { t: SimTime(0), event }
    }

    /// Ids as a `BTreeMap` keyed by names would give them (first appearance order), over
    /// pairs that share prefixes, join alike (`a` + `bc`, `ab` + `c`) and repeat, enough of
    /// them to grow the table several times; and lines that are no store event have none.
    #[test]
    fn ids_are_those_of_a_map_keyed_by_names() {
        let mut lines = Vec::new();
        for i in 0..5000u32 {
            let n = (i * 7919) % 1800;
            let store = ["a", "ab", "", "inventory-db"][(n % 4) as usize];
            let key = format!("{}c/sku-{}", if n % 3 == 0 { "b" } else { "" }, n / 12);
            lines.push(read(store.to_owned(), key));
            if i % 10 == 0 {
                lines.push(Line { t: SimTime(0), event: TraceEvent::RunEnd { events: 0 } });
            }
        }
        let keys = StoreKeys::of(&lines);
        let mut by_name: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(pair) = super::pair(&line.event) else {
                assert_eq!(keys.of_line(i), None);
                continue;
            };
            let next = by_name.len();
            let id = *by_name.entry(pair).or_insert(next);
            assert_eq!(keys.of_line(i), Some(id), "line {i}: {pair:?}");
            assert_eq!(keys.id(&lines, pair.0, pair.1), Some(id));
            assert_eq!(keys.names(&lines, id), pair);
        }
        assert_eq!(keys.len(), by_name.len());
        assert!(keys.len() > 1000, "{}", keys.len());
        assert_eq!(keys.id(&lines, "a", "zzz"), None);
        assert_eq!(keys.of_line(lines.len()), None);
        // The next run on this thread reuses the per-line ids' allocation, and has only its
        // own lines' ids: a shorter trace with other pairs first.
        drop(keys);
        let fewer = &lines[4000..];
        let again = StoreKeys::of(fewer);
        let mut by_name: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, line) in fewer.iter().enumerate() {
            let next = by_name.len();
            let id = super::pair(&line.event).map(|pair| *by_name.entry(pair).or_insert(next));
            assert_eq!(again.of_line(i), id, "line {i} of the shorter trace");
        }
        assert_eq!(again.of_line(fewer.len()), None);
    }
}
