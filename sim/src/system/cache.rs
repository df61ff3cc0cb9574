//! Caches: entries with a time to live and a capacity; when a put exceeds the capacity, the
//! least recently *used* entry (read or written) is evicted — the LRU policy of Memcached and
//! of Redis' `allkeys-lru`.

use std::collections::BTreeMap;

use super::Sim;
use super::Versioned;
use super::ids::StoreId;
use crate::runtime::{HostCode, HostReply};
use crate::time::SimTime;
use crate::trace::TraceEvent;

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    entries: BTreeMap<Vec<u8>, Entry>,
    /// last use tick → key, least recently used first.
    lru: BTreeMap<u64, Vec<u8>>,
    tick: u64,
    /// The last value of each key evicted or invalidated since: a put of that same value again
    /// is no change (`idempotence`: refilling what a read could only have refilled).
    gone: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: SimTime,
    /// Last use tick.
    used: u64,
    /// Where the value stands against the fronted store (`cache-staleness`).
    standing: Standing,
}

/// Where a cached value stands against the store the cache fronts: the version it is and
/// since when replica 0 has held a newer, different value. Only a *newer* value of replica 0
/// makes an entry stale: a value written through at another replica, not yet at replica 0,
/// is ahead of it, not behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// The store's version of the value (for a value of unknown origin, the version replica 0
    /// held when it was put: a lower bound, it is stale from replica 0's next change).
    pub(crate) version: u64,
    /// Since when replica 0 has held a newer, different value; `None`: it has not.
    pub(crate) stale_since: Option<SimTime>,
}

impl CacheState {
    /// The value under `key` if present and fresh at `now`, with where it stands; a hit
    /// counts as a use.
    pub(crate) fn get(&mut self, key: &[u8], now: SimTime) -> Option<(Vec<u8>, Standing)> {
        let e = self.entries.get_mut(key)?;
        if e.expires <= now {
            return None;
        }
        self.tick += 1;
        self.lru.remove(&e.used);
        e.used = self.tick;
        self.lru.insert(self.tick, key.to_vec());
        Some((e.value.clone(), e.standing))
    }

    /// Whether a put of `value` under `key` changes what the cache holds: whether it differs
    /// from the last value put there — fresh, expired, evicted or invalidated alike, since a
    /// put of the same value again only refills what a read would have refilled from the
    /// store (a key never put differs from any value). Not a use.
    pub(crate) fn differs(&self, key: &[u8], value: &[u8]) -> bool {
        let last = self.entries.get(key).map(|e| &e.value).or_else(|| self.gone.get(key));
        last.is_none_or(|v| v != value)
    }

    /// Removes `key` (invalidation); returns whether a fresh entry was there. An expired entry
    /// goes too, but a read would have missed it anyway.
    pub(crate) fn remove(&mut self, key: &[u8], now: SimTime) -> bool {
        let Some(e) = self.entries.remove(key) else { return false };
        self.lru.remove(&e.used);
        self.gone.insert(key.to_vec(), e.value);
        e.expires > now
    }

    /// Stores `value` under `key` until `expires`; returns the keys evicted to stay within
    /// `capacity`, least recently used first (at least one entry is always kept).
    pub(crate) fn put(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        expires: SimTime,
        capacity: u64,
        standing: Standing,
    ) -> Vec<Vec<u8>> {
        self.tick += 1;
        if let Some(old) = self.entries.remove(&key) {
            self.lru.remove(&old.used);
        }
        self.gone.remove(&key);
        self.entries.insert(key.clone(), Entry { value, expires, used: self.tick, standing });
        self.lru.insert(self.tick, key);
        let mut evicted = Vec::new();
        while self.entries.len() as u64 > capacity.max(1) {
            let Some((_, victim)) = self.lru.pop_first() else { break };
            if let Some(e) = self.entries.remove(&victim) {
                self.gone.insert(victim.clone(), e.value);
            }
            evicted.push(victim);
        }
        evicted
    }

    /// Replica 0 of the fronted store now holds `now_held` for `key`: an entry holding the
    /// same value is that version and fresh; one holding an older, different value is stale
    /// from now on (if it was not already). Expired entries are stamped too: harmless, a read
    /// misses them.
    pub(crate) fn stamp(&mut self, key: &[u8], now_held: &Versioned, now: SimTime) {
        let Some(e) = self.entries.get_mut(key) else { return };
        if now_held.value.as_deref() == Some(e.value.as_slice()) {
            e.standing = Standing { version: now_held.version, stale_since: None };
        } else if now_held.version > e.standing.version && e.standing.stale_since.is_none() {
            e.standing.stale_since = Some(now);
        }
    }
}

impl Sim {
    /// A read; a hit on a cache fronting a store is traced with how long the store's replica 0
    /// has held a newer value than the one returned (`cache-staleness`).
    pub(crate) fn cache_get(&mut self, inv: u64, store: StoreId, key: &[u8]) -> HostReply {
        let now = self.q.now();
        let hit = self.stores[store.index()].cache.get(key, now);
        let cache = &self.world.store(store).name;
        self.trace.emit(now, &TraceEvent::CacheLookup { inv, cache, hit: hit.is_some() });
        self.rec.cache_access(store, hit.is_some());
        let Some((value, standing)) = hit else { return HostReply::Error(HostCode::NotFound) };
        if let Some(of) = self.world.store(store).of {
            let store_version =
                self.stores[of.index()].replicas[0].get(key).map_or(0, |c| c.version);
            let differs_ns = standing.stale_since.map_or(0, |since| now - since);
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
        HostReply::Value(value)
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
        let changed = c.differs(&key, &value);
        let key_text = crate::trace::bytes_text(&key);
        self.trace
            .emit(now, &TraceEvent::CacheWrite { inv, cache: &spec.name, key: &key_text, changed });
        let standing = spec.of.map_or_else(Standing::default, |of| self.standing(of, &key, &value));
        let spec = self.world.store(store);
        let c = &mut self.stores[store.index()].cache;
        let evicted = c.put(key, value, now + spec.ttl_nanos, spec.capacity, standing);
        if !evicted.is_empty() {
            self.rec.evictions(store, evicted.len() as u64);
            let cache = &self.world.store(store).name;
            for victim in &evicted {
                let key = crate::trace::bytes_text(victim);
                self.trace.emit(now, &TraceEvent::CacheEvict { inv, cache, key: &key });
            }
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

    fn got(c: &mut CacheState, key: &[u8], now: SimTime) -> Option<Vec<u8>> {
        c.get(key, now).map(|(value, _)| value)
    }

    #[test]
    fn a_read_keeps_an_entry_from_eviction() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), LATER, 2, Standing::default());
        c.put(b"b".to_vec(), b"2".to_vec(), LATER, 2, Standing::default());
        assert_eq!(got(&mut c, b"a", SimTime::ZERO), Some(b"1".to_vec()));
        let evicted = c.put(b"c".to_vec(), b"3".to_vec(), LATER, 2, Standing::default());
        assert_eq!(evicted, [b"b".to_vec()], "the least recently used key is named");
        assert_eq!(got(&mut c, b"a", SimTime::ZERO), Some(b"1".to_vec()), "the used entry stays");
        assert_eq!(got(&mut c, b"b", SimTime::ZERO), None, "the least recently used one goes");
        assert_eq!(got(&mut c, b"c", SimTime::ZERO), Some(b"3".to_vec()));
    }

    #[test]
    fn a_put_differs_unless_the_last_value_put_is_the_same() {
        let mut c = CacheState::default();
        assert!(c.differs(b"a", b"1"), "never put");
        c.put(b"a".to_vec(), b"1".to_vec(), SimTime(10), 1, Standing::default());
        assert!(!c.differs(b"a", b"1"), "the same value (fresh or expired alike)");
        assert!(c.differs(b"a", b"2"), "another value");
        // Invalidated: refilling the same value is no change, another value is.
        c.remove(b"a", SimTime(5));
        assert!(!c.differs(b"a", b"1") && c.differs(b"a", b"2"));
        // Evicted by a put of another key (capacity 1): the same.
        c.put(b"a".to_vec(), b"3".to_vec(), SimTime(10), 1, Standing::default());
        c.put(b"b".to_vec(), b"4".to_vec(), SimTime(10), 1, Standing::default());
        assert_eq!(got(&mut c, b"a", SimTime::ZERO), None, "evicted");
        assert!(!c.differs(b"a", b"3") && c.differs(b"a", b"1"));
    }

    #[test]
    fn an_invalidated_entry_is_gone_and_its_slot_free() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), LATER, 2, Standing::default());
        c.put(b"b".to_vec(), b"2".to_vec(), LATER, 2, Standing::default());
        assert!(c.remove(b"a", SimTime::ZERO), "a fresh entry was there");
        assert!(!c.remove(b"a", SimTime::ZERO), "and is gone");
        assert_eq!(got(&mut c, b"a", SimTime::ZERO), None);
        // Its slot is free: a new put evicts nothing.
        assert_eq!(
            c.put(b"c".to_vec(), b"3".to_vec(), LATER, 2, Standing::default()),
            [] as [Vec<u8>; 0]
        );
        assert_eq!(got(&mut c, b"b", SimTime::ZERO), Some(b"2".to_vec()));
        c.put(b"d".to_vec(), b"4".to_vec(), SimTime(10), 8, Standing::default());
        assert!(!c.remove(b"d", SimTime(10)), "an expired entry counts as absent");
    }

    #[test]
    fn entries_expire_and_an_expired_read_is_no_use() {
        let mut c = CacheState::default();
        c.put(b"a".to_vec(), b"1".to_vec(), SimTime(10), 4, Standing::default());
        assert_eq!(got(&mut c, b"a", SimTime(9)), Some(b"1".to_vec()));
        assert_eq!(got(&mut c, b"a", SimTime(10)), None);
    }
}
