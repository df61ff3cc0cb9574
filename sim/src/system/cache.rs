//! Caches: entries with a time to live and a capacity; when a put exceeds the capacity, the
//! least recently *used* entry (read or written) is evicted — the LRU policy of Memcached and
//! of Redis' `allkeys-lru`.

use std::collections::BTreeMap;

use super::Sim;
use super::ids::StoreId;
use crate::runtime::{HostCode, HostReply};
use crate::time::SimTime;
use crate::trace::TraceEvent;

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    /// key → (value, expires at, last use tick).
    entries: BTreeMap<Vec<u8>, (Vec<u8>, SimTime, u64)>,
    /// last use tick → key, least recently used first.
    lru: BTreeMap<u64, Vec<u8>>,
    tick: u64,
}

impl CacheState {
    /// The value under `key` if present and fresh at `now`; a hit counts as a use.
    pub(crate) fn get(&mut self, key: &[u8], now: SimTime) -> Option<Vec<u8>> {
        let (value, expires, used) = self.entries.get_mut(key)?;
        if *expires <= now {
            return None;
        }
        self.tick += 1;
        self.lru.remove(used);
        *used = self.tick;
        self.lru.insert(self.tick, key.to_vec());
        Some(value.clone())
    }

    /// Whether `value` differs from what a read of `key` at `now` would return (an absent or
    /// expired entry differs from any value). Not a use.
    pub(crate) fn differs(&self, key: &[u8], value: &[u8], now: SimTime) -> bool {
        self.peek(key, now).is_none_or(|v| v != value)
    }

    /// The value under `key` if present and fresh at `now`, without counting as a use.
    fn peek(&self, key: &[u8], now: SimTime) -> Option<&Vec<u8>> {
        self.entries.get(key).filter(|(_, expires, _)| *expires > now).map(|(v, _, _)| v)
    }

    /// Removes `key` (invalidation); returns whether a fresh entry was there. An expired entry
    /// goes too, but a read would have missed it anyway.
    pub(crate) fn remove(&mut self, key: &[u8], now: SimTime) -> bool {
        let Some((_, expires, used)) = self.entries.remove(key) else { return false };
        self.lru.remove(&used);
        expires > now
    }

    /// Stores `value` under `key` until `expires`; returns how many entries were evicted to
    /// stay within `capacity` (at least one entry is always kept).
    pub(crate) fn put(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        expires: SimTime,
        capacity: u64,
    ) -> u64 {
        self.tick += 1;
        if let Some((_, _, old)) = self.entries.remove(&key) {
            self.lru.remove(&old);
        }
        self.entries.insert(key.clone(), (value, expires, self.tick));
        self.lru.insert(self.tick, key);
        let mut evicted = 0;
        while self.entries.len() as u64 > capacity.max(1) {
            let Some((_, victim)) = self.lru.pop_first() else { break };
            self.entries.remove(&victim);
            evicted += 1;
        }
        evicted
    }
}

impl Sim {
    /// A read; a hit on a cache fronting a store is traced with how long the store's value has
    /// differed from the one returned (`cache-staleness`).
    pub(crate) fn cache_get(&mut self, inv: u64, store: StoreId, key: &[u8]) -> HostReply {
        let now = self.q.now();
        let hit = self.stores[store.index()].cache.get(key, now);
        let cache = &self.world.store(store).name;
        self.trace.emit(now, &TraceEvent::CacheLookup { inv, cache, hit: hit.is_some() });
        self.rec.cache_access(store, hit.is_some());
        if let (Some(value), Some(of)) = (&hit, self.world.store(store).of) {
            let (store_version, differs_ns) = self.differs_for(of, key, value);
            let key_text = crate::trace::bytes_text(key);
            self.trace.emit(
                now,
                &TraceEvent::CacheRead {
                    inv,
                    cache: &self.world.store(store).name,
                    key: &key_text,
                    store_version,
                    differs_ns,
                },
            );
        }
        hit.map_or(HostReply::Error(HostCode::NotFound), HostReply::Value)
    }

    pub(crate) fn cache_put(
        &mut self,
        inv: u64,
        store: StoreId,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> HostReply {
        let now = self.q.now();
        let spec = self.world.store(store);
        let c = &mut self.stores[store.index()].cache;
        let changed = c.differs(&key, &value, now);
        let key_text = crate::trace::bytes_text(&key);
        self.trace
            .emit(now, &TraceEvent::CacheWrite { inv, cache: &spec.name, key: &key_text, changed });
        let c = &mut self.stores[store.index()].cache;
        let evicted = c.put(key, value, now + spec.ttl_nanos, spec.capacity);
        if evicted > 0 {
            self.rec.evictions(store, evicted);
        }
        HostReply::Ack
    }
}

impl Sim {
    /// Invalidation: the entry goes, so the next read misses and fetches from the store again
    /// (`cache-staleness` judges hits only, so a key invalidated on every write never reads
    /// stale). `-1` when no fresh entry was there.
    pub(crate) fn cache_delete(&mut self, inv: u64, store: StoreId, key: &[u8]) -> HostReply {
        let now = self.q.now();
        let existed = self.stores[store.index()].cache.remove(key, now);
        let key_text = crate::trace::bytes_text(key);
        let cache = &self.world.store(store).name;
        self.trace.emit(now, &TraceEvent::CacheDelete { inv, cache, key: &key_text, existed });
        if existed { HostReply::Ack } else { HostReply::Error(HostCode::NotFound) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATER: SimTime = SimTime(1_000_000);

    #[test]
    fn a_read_keeps_an_entry_from_eviction() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), LATER, 2);
        c.put(b"b".to_vec(), b"2".to_vec(), LATER, 2);
        assert_eq!(c.get(b"a", SimTime::ZERO), Some(b"1".to_vec()));
        assert_eq!(c.put(b"c".to_vec(), b"3".to_vec(), LATER, 2), 1);
        assert_eq!(c.get(b"a", SimTime::ZERO), Some(b"1".to_vec()), "the used entry stays");
        assert_eq!(c.get(b"b", SimTime::ZERO), None, "the least recently used one goes");
        assert_eq!(c.get(b"c", SimTime::ZERO), Some(b"3".to_vec()));
    }

    #[test]
    fn a_put_differs_unless_the_fresh_entry_holds_the_same_value() {
        let mut c = CacheState::default();
        assert!(c.differs(b"a", b"1", SimTime::ZERO), "absent");
        c.put(b"a".to_vec(), b"1".to_vec(), SimTime(10), 4);
        assert!(!c.differs(b"a", b"1", SimTime(9)), "the same fresh value");
        assert!(c.differs(b"a", b"2", SimTime(9)), "another value");
        assert!(c.differs(b"a", b"1", SimTime(10)), "expired: a read would miss");
    }

    #[test]
    fn an_invalidated_entry_is_gone_and_its_slot_free() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), LATER, 2);
        c.put(b"b".to_vec(), b"2".to_vec(), LATER, 2);
        assert!(c.remove(b"a", SimTime::ZERO), "a fresh entry was there");
        assert!(!c.remove(b"a", SimTime::ZERO), "and is gone");
        assert_eq!(c.get(b"a", SimTime::ZERO), None);
        // Its slot is free: a new put evicts nothing.
        assert_eq!(c.put(b"c".to_vec(), b"3".to_vec(), LATER, 2), 0);
        assert_eq!(c.get(b"b", SimTime::ZERO), Some(b"2".to_vec()));
        c.put(b"d".to_vec(), b"4".to_vec(), SimTime(10), 8);
        assert!(!c.remove(b"d", SimTime(10)), "an expired entry counts as absent");
    }

    #[test]
    fn entries_expire_and_an_expired_read_is_no_use() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), SimTime(10), 4);
        assert_eq!(c.get(b"a", SimTime(9)), Some(b"1".to_vec()));
        assert_eq!(c.get(b"a", SimTime(10)), None);
    }
}
