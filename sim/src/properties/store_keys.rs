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
    /// Per id: the hash of its names (to grow the table without hashing again).
    hashes: Vec<u64>,
    /// Open addressing, linear probing: id + 1 per slot, 0 for an empty one. A power of two
    /// long, at most half full.
    slots: Vec<u32>,
}

/// FxHash's step over 8 bytes at a time; the store's length goes first so that `("a", "bc")`
/// and `("ab", "c")` hash apart (equality compares both names anyway).
fn hash(store: &str, key: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = 0;
    let mut add = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    add(store.len() as u64);
    for bytes in [store.as_bytes(), key.as_bytes()] {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }
    // FxHash leaves its low bits poor, and the table indexes by them: MurmurHash3's finalizer
    // spreads every bit over them (without it, shop keys probe long runs of slots).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl StoreKeys {
    /// Interns the pair of every store event of `lines`.
    pub(crate) fn of(lines: &[Line<'_>]) -> Self {
        let mut keys = StoreKeys {
            of_line: Vec::with_capacity(lines.len()),
            slots: vec![0; 1024],
            ..StoreKeys::default()
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
        self.first
            .get(id)
            .and_then(|l| lines.get(*l as usize))
            .and_then(|l| pair(&l.event))
            .unwrap_or(("", ""))
    }

    /// The id of (`store`, `key`), if some store event of `lines` names it.
    pub(crate) fn id(&self, lines: &[Line<'_>], store: &str, key: &str) -> Option<usize> {
        let h = hash(store, key);
        let mask = self.slots.len() - 1;
        let mut at = h as usize & mask;
        loop {
            match self.slots[at] {
                0 => return None,
                s => {
                    let id = (s - 1) as usize;
                    if self.hashes[id] == h && self.names(lines, id) == (store, key) {
                        return Some(id);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn intern(&mut self, lines: &[Line<'_>], store: &str, key: &str, line: usize) -> u32 {
        let h = hash(store, key);
        let mask = self.slots.len() - 1;
        let mut at = h as usize & mask;
        loop {
            match self.slots[at] {
                0 => break,
                s => {
                    let id = s - 1;
                    if self.hashes[id as usize] == h
                        && self.names(lines, id as usize) == (store, key)
                    {
                        return id;
                    }
                }
            }
            at = (at + 1) & mask;
        }
        let id = self.first.len() as u32;
        self.first.push(line as u32);
        self.hashes.push(h);
        self.slots[at] = id + 1;
        if self.first.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let mut slots = vec![0u32; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (id, h) in self.hashes.iter().enumerate() {
            let mut at = *h as usize & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = id as u32 + 1;
        }
        self.slots = slots;
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
    }

    /// Keys named as the shop names them (long shared prefixes, numbered suffixes) sit at or
    /// right beside their hash's slot: the table indexes by the hash's low bits, which FxHash
    /// alone leaves poor (without the finalizer, runs of hundreds of slots).
    #[test]
    fn shop_like_keys_spread_over_the_table() {
        let mut lines = Vec::new();
        for i in 0..20_000 {
            let key = format!("reservation/ord-k{}-{}", i % 7, i);
            lines.push(read("inventory-db".to_owned(), key));
        }
        let keys = StoreKeys::of(&lines);
        let mask = keys.slots.len() - 1;
        let displaced: usize = (keys.slots.iter().enumerate())
            .filter(|(_, s)| **s != 0)
            .map(|(at, s)| {
                (at + keys.slots.len() - (keys.hashes[*s as usize - 1] as usize & mask)) & mask
            })
            .sum();
        let mean = displaced as f64 / keys.len() as f64;
        assert!(mean < 2.0, "mean displacement {mean:.1} slots");
    }
}
