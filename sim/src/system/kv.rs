//! Key-value stores with replicas: strong stores write through a primary and wait for a
//! majority quorum of acknowledgements (Raft-style); eventual stores accept a write at any
//! replica and replicate it after a lag (Dynamo-style), resending until it gets through. A
//! conflict policy decides what a replica keeps: last-writer-wins by version, or arrival order.
//!
//! What replication guarantees (and so what `eventual-consistency` can catch): every write is
//! sent to every other replica; with `anti_entropy` (the default) a copy the network drops is
//! resent every 100 ms until it arrives, so once traffic stops and faults heal every replica
//! receives every write. Versions come from one global counter in acceptance order, so under
//! last-writer-wins every replica then holds the highest version: an LWW store can only diverge
//! while copies are in flight, or when `anti_entropy = false` dropped a copy for good. Under
//! arrival order a replica keeps whatever arrived last, so replicas may diverge for good, and an
//! acknowledged write can be replaced by an older one (`acked-writes-survive`). Store replicas
//! never crash: data is lost only through those policies.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};

use fusebench_model::scenario::{ConflictPolicy, Consistency, StoreKind};
use serde::Serialize;

use super::Sim;
use super::cache::Standing;
use super::event::Event;
use super::ids::{OpId, ReplicaIdx, StoreId};
use super::world::World;
use crate::dist::sample_nanos;
use crate::rng::SimRng;
use crate::runtime::{CasExpect, HostCode, HostReply, ScanEntry, encode_scan};
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// How long a replica waits before resending a replicated write that did not get through.
const REPLICATION_RETRY_NANOS: u64 = 100_000_000;

/// A value with the version that wrote it (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versioned {
    pub value: Option<Vec<u8>>,
    /// The write's position in the run's global write order (a hybrid clock).
    pub version: u64,
}

/// One replica's data.
pub type KvReplica = BTreeMap<Vec<u8>, Versioned>;

/// A replicated write in flight from replica `from` to `replica` of `store`.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaWrite {
    pub(crate) store: StoreId,
    pub(crate) replica: ReplicaIdx,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Versioned,
    pub(crate) from: ReplicaIdx,
    pub(crate) sent: SimTime,
    /// The strong write waiting for this replica's acknowledgement.
    pub(crate) ack_op: Option<OpId>,
}

/// The run-time state of one store (of any kind: a cache keeps its entries in `cache`).
#[derive(Debug)]
pub(crate) struct StoreState {
    pub(crate) replicas: Vec<KvReplica>,
    pub(crate) cache: super::cache::CacheState,
    /// Extra replication lag from active `replica-lag` faults.
    pub(crate) extra_lag_nanos: u64,
    /// Replica 0's last values per key, for caches fronting this store (`cache-staleness`).
    pub(crate) changes: BTreeMap<Vec<u8>, KeyHistory>,
    pub(crate) rng: SimRng,
}

/// How many of replica 0's values of a key are remembered: a cache fill of a value replica 0
/// has replaced since is stale from the change that replaced it, known exactly while that
/// change is among these.
const HISTORY: usize = 4;

/// Replica 0's last values of one key, oldest first (at most [`HISTORY`]): what a cache fill
/// is compared with to tell when the value it caches was replaced.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyHistory(VecDeque<Held>);

#[derive(Debug, Clone)]
struct Held {
    version: u64,
    value: Option<Vec<u8>>,
    /// When replica 0 took it (`None` for the value it held before its first recorded change).
    since: Option<SimTime>,
}

/// What applying a write at a replica did.
#[derive(Debug, Clone, Copy)]
struct Applied {
    /// The replica took the write (the conflict policy accepted it).
    applied: bool,
    /// The version held before (0 when absent).
    prev_version: u64,
    /// The value it now holds differs from the one it held.
    changed: bool,
    /// The replica held a live value (not a deletion) for the key before.
    existed: bool,
}

/// Applies a write at a replica under the store's conflict policy; for replica 0 of a store a
/// cache fronts (`fronted`) it also records the value in the key's history, which a cache fill
/// is placed against ([`Sim::standing`]; the caller stamps the cached entries,
/// [`Sim::stamp_caches`]).
fn apply(
    d: &mut StoreState,
    conflict: ConflictPolicy,
    fronted: bool,
    replica: ReplicaIdx,
    key: &[u8],
    value: &Versioned,
    now: SimTime,
) -> Applied {
    // One search of the replica: a held key is updated in place, a new one inserted where the
    // search ended (most writes create their key: a look-up and then an insert searched twice;
    // the key's copy is made up front and dropped for a held key). The value held before is
    // kept only where replica 0 records a change.
    let record = fronted && replica == 0;
    let r = &mut d.replicas[replica as usize];
    let (prev_version, changed, held, existed) = match r.entry(key.to_vec()) {
        Entry::Occupied(mut e) => {
            let cur = e.get_mut();
            let existed = cur.value.is_some();
            if conflict == ConflictPolicy::LwwVersion && cur.version >= value.version {
                let prev_version = cur.version;
                return Applied { applied: false, prev_version, changed: false, existed };
            }
            let prev_version = cur.version;
            let changed = cur.value != value.value;
            let held = if record && changed {
                std::mem::replace(&mut cur.value, value.value.clone())
            } else {
                cur.value.clone_from(&value.value);
                None
            };
            cur.version = value.version;
            (prev_version, changed, held, existed)
        }
        Entry::Vacant(e) => {
            e.insert(value.clone());
            // Absent counts as no value: a deletion of an absent key changes nothing.
            (0, value.value.is_some(), None, false)
        }
    };
    if record && changed {
        let h = d.changes.entry(key.to_vec()).or_insert_with(|| {
            KeyHistory(VecDeque::from([Held { version: prev_version, value: held, since: None }]))
        });
        h.0.push_back(Held {
            version: value.version,
            value: value.value.clone(),
            since: Some(now),
        });
        if h.0.len() > HISTORY {
            h.0.pop_front();
        }
    }
    Applied { applied: true, prev_version, changed, existed }
}

/// Whether a cache fronts `store` (its `of`): only then are replica 0's changes recorded.
fn fronted(world: &World, store: StoreId) -> bool {
    world.stores.iter().any(|s| s.of == Some(store))
}

impl Sim {
    /// A read decided at `replica`, traced with the version it saw (a deletion's version
    /// included: a later write is judged against what was read).
    pub(crate) fn kv_read(
        &mut self,
        inv: u64,
        store: StoreId,
        replica: ReplicaIdx,
        key: &[u8],
    ) -> HostReply {
        let (value, _) = self.kv_read_versioned(inv, store, replica, key);
        value.map_or(HostReply::Error(HostCode::NotFound), HostReply::Value)
    }

    /// [`Sim::kv_read`] with the version read (the one `store_read` traces; a deleted or
    /// absent key gives `None`).
    pub(crate) fn kv_read_versioned(
        &mut self,
        inv: u64,
        store: StoreId,
        replica: ReplicaIdx,
        key: &[u8],
    ) -> (Option<Vec<u8>>, u64) {
        let now = self.q.now();
        let held = self.stores[store.index()].replicas[replica as usize].get(key);
        let version = held.map_or(0, |v| v.version);
        let value = held.and_then(|v| v.value.clone());
        let key_text = crate::trace::bytes_text(key);
        let spec = self.world.store(store);
        self.trace.emit(
            now,
            &TraceEvent::StoreRead { inv, store: &spec.name, replica, key: &key_text, version },
        );
        (value, version)
    }

    /// A scan decided at `replica` (the one a `kv_get` would read): the live keys starting
    /// with `prefix`, in key order, at most `limit`. Each key it returns is traced as a
    /// `store_read` with its version, and so is each deleted key it passes over before the
    /// last one returned (it observed them absent, as a `kv_get` would): a later write of any
    /// of them is judged against what the scan saw (`no-lost-update`).
    pub(crate) fn kv_scan(
        &mut self,
        inv: u64,
        store: StoreId,
        replica: ReplicaIdx,
        prefix: &[u8],
        limit: u32,
    ) -> HostReply {
        let now = self.q.now();
        let data = &self.stores[store.index()].replicas[replica as usize];
        let mut seen: Vec<(&[u8], u64)> = Vec::new();
        let mut entries = Vec::new();
        for (key, held) in data.range(prefix.to_vec()..) {
            if !key.starts_with(prefix) || entries.len() >= limit as usize {
                break;
            }
            seen.push((key, held.version));
            if let Some(value) = &held.value {
                entries.push(ScanEntry::new(key, value, held.version));
            }
        }
        let spec = self.world.store(store);
        for (key, version) in seen {
            let key_text = crate::trace::bytes_text(key);
            self.trace.emit(
                now,
                &TraceEvent::StoreRead { inv, store: &spec.name, replica, key: &key_text, version },
            );
        }
        HostReply::Value(encode_scan(&entries))
    }

    /// Where `value`, put into a cache fronting `store` under `key`, stands against the store
    /// (`cache-staleness`): the version it is and since when replica 0 has held a newer,
    /// different value. Replica 0's current value is fresh; one of its remembered earlier
    /// values is stale from the change that replaced it (a fill racing a write); a value
    /// another replica holds is that version — ahead of replica 0 if newer (written through
    /// before replication reached replica 0), stale from replica 0's first newer change
    /// remembered if older. A value of unknown origin (derived, or forgotten) counts as
    /// replica 0's current version: stale only from its next change, a lower bound, so a
    /// finding is never a false alarm.
    pub(crate) fn standing(&self, store: StoreId, key: &[u8], value: &[u8]) -> Standing {
        let d = &self.stores[store.index()];
        let cur = d.replicas[0].get(key);
        let version = cur.map_or(0, |c| c.version);
        if cur.and_then(|c| c.value.as_deref()) == Some(value) {
            return Standing { version, stale_since: None };
        }
        let history = d.changes.get(key).map(|h| &h.0);
        // The newest earlier value of replica 0 that is this one, and the change after it.
        if let Some(h) = history {
            for (was, next) in h.iter().zip(h.iter().skip(1)).rev() {
                if was.value.as_deref() == Some(value) {
                    let stale_since = (was.version < version).then_some(next.since).flatten();
                    return Standing { version: was.version, stale_since };
                }
            }
        }
        let other = d.replicas[1..]
            .iter()
            .filter_map(|r| r.get(key))
            .filter(|v| v.value.as_deref() == Some(value))
            .map(|v| v.version)
            .max();
        match other {
            Some(ahead) if ahead > version => Standing { version: ahead, stale_since: None },
            Some(behind) => {
                // Replica 0's first remembered newer value: when it took it, or later.
                let stale_since = history
                    .and_then(|h| h.iter().filter(|x| x.version > behind).find_map(|x| x.since));
                Standing { version: behind, stale_since }
            }
            None => Standing { version, stale_since: None },
        }
    }

    /// Replica 0 of `store` now holds `now_held` for `key`: every cache fronting it places
    /// its entry for the key against it ([`super::cache::CacheState::stamp`]).
    fn stamp_caches(&mut self, store: StoreId, key: &[u8], now_held: &Versioned) {
        let now = self.q.now();
        for (spec, d) in self.world.stores.iter().zip(self.stores.iter_mut()) {
            if spec.of == Some(store) {
                d.cache.stamp(key, now_held, now);
            }
        }
    }

    /// Whether `replica` of `store` holds what `expect` says for `key`: the test of a
    /// compare-and-set, decided where the write would be accepted. A version matches only a
    /// live value (a deletion's version is "absent").
    pub(crate) fn kv_holds(
        &self,
        store: StoreId,
        replica: ReplicaIdx,
        key: &[u8],
        expect: &CasExpect,
    ) -> bool {
        let held = self.stores[store.index()].replicas[replica as usize].get(key);
        let live = held.filter(|v| v.value.is_some());
        match expect {
            CasExpect::Absent => live.is_none(),
            CasExpect::Value(bytes) => live.and_then(|v| v.value.as_deref()) == Some(bytes),
            CasExpect::Version(version) => live.is_some_and(|v| v.version == *version),
        }
    }

    /// A write accepted at `replica`, replicated to the others; returns the reply and how
    /// many acknowledgements it waits for (a strong store: a majority, counting itself).
    pub(crate) fn kv_write(
        &mut self,
        op: OpId,
        inv: u64,
        store: StoreId,
        replica: ReplicaIdx,
        key: &[u8],
        value: Option<Vec<u8>>,
    ) -> (HostReply, u32) {
        let now = self.q.now();
        let version = self.next_version;
        self.next_version += 1;
        let spec = self.world.store(store);
        let d = &mut self.stores[store.index()];
        let deleting = value.is_none();
        let v = Versioned { value, version };
        let fronted = fronted(&self.world, store);
        let a = apply(d, spec.conflict, fronted, replica, key, &v, now);
        let stamp = fronted && replica == 0 && a.changed;
        let key_text = crate::trace::bytes_text(key);
        self.trace.emit(
            now,
            &TraceEvent::StoreWrite {
                store: &spec.name,
                replica,
                key: &key_text,
                version,
                inv,
                prev_version: a.prev_version,
                changed: a.changed,
                value: v.value.as_deref().map(crate::trace::bytes_text).as_deref(),
            },
        );
        let n = d.replicas.len() as u32;
        let strong = spec.consistency == Consistency::Strong;
        let needed = if strong { n / 2 } else { 0 };
        for other in (0..n).filter(|o| *o != replica) {
            let w = ReplicaWrite {
                store,
                replica: other,
                key: key.to_vec(),
                value: v.clone(),
                from: replica,
                sent: now,
                ack_op: strong.then_some(op),
            };
            self.send_replicate(w);
        }
        if stamp {
            self.stamp_caches(store, key, &v);
        }
        let reply = if deleting && !a.existed {
            HostReply::Error(HostCode::NotFound)
        } else {
            HostReply::Ack
        };
        (reply, needed)
    }

    pub(crate) fn send_replicate(&mut self, w: ReplicaWrite) {
        let spec = self.world.store(w.store);
        let (a, b) = (spec.nodes[w.from as usize], spec.nodes[w.replica as usize]);
        let strong = spec.consistency == Consistency::Strong;
        let anti_entropy = spec.anti_entropy;
        match self.transit(a, b, "replication", w.value.version) {
            Some(net) => {
                let spec = self.world.store(w.store);
                let d = &mut self.stores[w.store.index()];
                let lag = if strong {
                    0
                } else {
                    sample_nanos(&spec.lag, &mut d.rng) + d.extra_lag_nanos
                };
                self.q.after(net + lag, Event::Replicate(Box::new(w)));
            }
            // Resend until it gets through (anti-entropy): replicas converge after a heal.
            None if anti_entropy => {
                self.q.after(REPLICATION_RETRY_NANOS, Event::ReplicateRetry(Box::new(w)));
            }
            // No anti-entropy: the copy is gone, the replica stays stale for this write.
            None => {
                let now = self.q.now();
                let key_text = crate::trace::bytes_text(&w.key);
                self.trace.emit(
                    now,
                    &TraceEvent::ReplicaMissed {
                        store: &self.world.store(w.store).name,
                        replica: w.replica,
                        key: &key_text,
                        version: w.value.version,
                    },
                );
            }
        }
    }

    pub(crate) fn on_replicate(&mut self, w: &ReplicaWrite) {
        let now = self.q.now();
        let spec = self.world.store(w.store);
        let d = &mut self.stores[w.store.index()];
        let fronted = fronted(&self.world, w.store);
        let a = apply(d, spec.conflict, fronted, w.replica, &w.key, &w.value, now);
        let applied = a.applied;
        let key_text = crate::trace::bytes_text(&w.key);
        self.trace.emit(
            now,
            &TraceEvent::StoreApply {
                store: &spec.name,
                replica: w.replica,
                key: &key_text,
                version: w.value.version,
                applied,
            },
        );
        if fronted && w.replica == 0 && a.changed {
            self.stamp_caches(w.store, &w.key, &w.value);
        }
        let spec = self.world.store(w.store);
        self.rec.replication_lag(w.store, now - w.sent);
        if let Some(op) = w.ack_op {
            let (a, b) = (spec.nodes[w.replica as usize], spec.nodes[w.from as usize]);
            if let Some(net) = self.transit(a, b, "replica-ack", op.0) {
                self.q.after(net, Event::ReplicaAck(op));
            }
        }
    }

    /// Final state of every key-value store, replica by replica.
    /// Takes every key-value store's replicas out of the run (at its end: moved, not cloned —
    /// cloning and then dropping every replica was 3.4 % of a shop run, benches/README.md).
    pub(crate) fn take_kv_snapshot(&mut self) -> BTreeMap<String, Vec<KvReplica>> {
        self.world
            .stores
            .iter()
            .zip(&mut self.stores)
            .filter(|(spec, _)| spec.kind == StoreKind::Kv)
            .map(|(spec, d)| (spec.name.clone(), std::mem::take(&mut d.replicas)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use fusebench_model::Scenario;

    use crate::runtime::fake::FakeHost;
    use crate::runtime::{CasExpect, HostOp, ServiceHost};
    use crate::system::{RunOptions, RunResult, Sim};
    use crate::trace::{self, TraceEvent, TraceMode};

    /// One service `w` owning `db` (`store` is the store's extra fields), on node `a`, with
    /// the store's replicas on `a` and `b`, and a workload of `rate` requests per second.
    fn scenario(store: &str, faults: &str, rate: u32) -> Scenario {
        let text = format!(
            r#"
[system]
name = "t"
[[context]]
name = "c"
[[node]]
name = "a"
tier = "cloud"
[[node]]
name = "b"
tier = "cloud"
[[link]]
between = ["a", "b"]
latency = {{ dist = "constant", ms = 1.0 }}
[gateway]
node = "a"
timeout_ms = 2000
[[store]]
name = "db"
kind = "kv"
nodes = ["a", "b"]
{store}
[[service]]
name = "w"
context = "c"
node = "a"
module = "w.wasm"
capabilities = ["kv"]
owns = ["db"]
concurrency = 64
  [[service.endpoint]]
  name = "put"
  method = "POST"
  path = "/w"
  public = true
[workload]
duration_s = 2
arrival = {{ kind = "constant", rate_rps = {rate} }}
  [[workload.mix]]
  service = "w"
  endpoint = "put"
{faults}
"#
        );
        let parsed = fusebench_model::parse("t.toml", &text);
        assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
        parsed.ok().expect("valid")
    }

    fn run(s: Scenario, host: Box<dyn ServiceHost>) -> (RunResult, Vec<TraceEvent>) {
        let mut o = RunOptions::new(1);
        o.trace = TraceMode::Full;
        let r = Sim::new(s, host, &o).run();
        let events = trace::read(&r.trace).map(|l| l.expect("reads back").event).collect();
        (r, events)
    }

    #[test]
    fn compare_and_set_writes_once_and_nothing_over_another_value() {
        // Every invocation claims `k` if absent: exactly the first succeeds.
        let host = FakeHost::new(serde_json::json!({}), |_, _| {
            vec![HostOp::KvCas {
                store: "db".into(),
                key: b"k".to_vec(),
                expect: CasExpect::Absent,
                new: b"mine".to_vec(),
            }]
        });
        let (r, events) = run(scenario("consistency = \"strong\"", "", 5), Box::new(host));
        let count = |f: fn(&TraceEvent) -> bool| events.iter().filter(|e| f(e)).count();
        let tries = count(|e| matches!(e, TraceEvent::HostOp { op, .. } if op == "kv_cas"));
        assert!(tries >= 5, "{tries}");
        assert_eq!(count(|e| matches!(e, TraceEvent::StoreWrite { .. })), 1);
        assert_eq!(count(|e| matches!(e, TraceEvent::StoreAcked { .. })), 1);
        assert_eq!(r.stores["db"][1][b"k".as_slice()].value.as_deref(), Some(&b"mine"[..]));
    }

    #[test]
    fn without_anti_entropy_a_dropped_copy_is_missed_for_good() {
        let host = || {
            Box::new(FakeHost::new(serde_json::json!({}), |_, ctx| {
                let key = ctx.random.next_u64().to_string().into_bytes();
                vec![HostOp::KvPut { store: "db".into(), key, value: b"v".to_vec() }]
            }))
        };
        let store = "consistency = \"eventual\"\nanti_entropy = false";
        let fault = "[[fault]]\nkind = \"partition\"\nbetween = [\"a\", \"b\"]\nat_s = 0.5\nduration_s = 0.5\n";
        let (r, events) = run(scenario(store, fault, 20), host());
        let missed =
            events.iter().filter(|e| matches!(e, TraceEvent::ReplicaMissed { .. })).count();
        assert!(missed > 0, "copies across the partition are dropped");
        assert_ne!(r.stores["db"][0].len(), r.stores["db"][1].len(), "and never repaired");
        // With anti-entropy (the default) the same run converges.
        let (r, events) = run(scenario("consistency = \"eventual\"", fault, 20), host());
        assert!(!events.iter().any(|e| matches!(e, TraceEvent::ReplicaMissed { .. })));
        assert_eq!(r.stores["db"][0], r.stores["db"][1]);
    }
}
