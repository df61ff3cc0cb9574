//! Caches: entries with a time to live and a capacity; the least recently written entry is
//! evicted when a put exceeds it.

use std::collections::BTreeMap;

use super::Sim;
use super::ids::StoreId;
use crate::runtime::{HostCode, HostReply};
use crate::time::SimTime;

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    /// key → (value, expires at, write tick).
    entries: BTreeMap<Vec<u8>, (Vec<u8>, SimTime, u64)>,
    /// write tick → key, oldest first.
    lru: BTreeMap<u64, Vec<u8>>,
    tick: u64,
}

impl Sim {
    pub(crate) fn cache_get(&mut self, store: StoreId, key: &[u8]) -> HostReply {
        let now = self.q.now();
        let c = &self.stores[store.index()].cache;
        let hit = match c.entries.get(key) {
            Some((v, expires, _)) if *expires > now => Some(v.clone()),
            _ => None,
        };
        self.metrics.cache_access(&self.world.store(store).name, hit.is_some());
        hit.map_or(HostReply::Error(HostCode::NotFound), HostReply::Value)
    }

    pub(crate) fn cache_put(&mut self, store: StoreId, key: Vec<u8>, value: Vec<u8>) -> HostReply {
        let now = self.q.now();
        let spec = self.world.store(store);
        let c = &mut self.stores[store.index()].cache;
        c.tick += 1;
        if let Some((_, _, old)) = c.entries.remove(&key) {
            c.lru.remove(&old);
        }
        c.entries.insert(key.clone(), (value, now + spec.ttl_nanos, c.tick));
        c.lru.insert(c.tick, key);
        while c.entries.len() as u64 > spec.capacity.max(1) {
            let Some((_, victim)) = c.lru.pop_first() else { break };
            c.entries.remove(&victim);
            self.metrics.caches.entry(spec.name.clone()).or_default().evictions += 1;
        }
        HostReply::Ack
    }
}
