//! Key-value stores with replicas: strong stores write through a primary and wait for a
//! majority quorum of acknowledgements (Raft-style); eventual stores accept a write at any
//! replica and replicate it after a lag (Dynamo-style), resending until it gets through. A
//! conflict policy decides what a replica keeps: last-writer-wins by version, or arrival order.

use std::collections::BTreeMap;

use fusebench_model::scenario::{ConflictPolicy, Consistency, StoreKind};
use serde::Serialize;

use super::Sim;
use super::event::Event;
use super::ids::{OpId, ReplicaIdx, StoreId};
use crate::dist::sample_nanos;
use crate::rng::SimRng;
use crate::runtime::{HostCode, HostReply};
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
    pub(crate) rng: SimRng,
}

/// Applies a write at a replica under the store's conflict policy; returns whether it changed
/// the replica.
fn apply(conflict: ConflictPolicy, replica: &mut KvReplica, key: &[u8], value: &Versioned) -> bool {
    match (conflict, replica.get(key)) {
        (ConflictPolicy::LwwVersion, Some(cur)) if cur.version >= value.version => false,
        _ => {
            replica.insert(key.to_vec(), value.clone());
            true
        }
    }
}

impl Sim {
    pub(crate) fn kv_read(&self, store: StoreId, replica: ReplicaIdx, key: &[u8]) -> HostReply {
        match self.stores[store.index()].replicas[replica as usize]
            .get(key)
            .and_then(|v| v.value.clone())
        {
            Some(v) => HostReply::Value(v),
            None => HostReply::Error(HostCode::NotFound),
        }
    }

    /// A write accepted at `replica`, replicated to the others; returns the reply and how
    /// many acknowledgements it waits for (a strong store: a majority, counting itself).
    pub(crate) fn kv_write(
        &mut self,
        op: OpId,
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
        let held = d.replicas[replica as usize].get(key);
        let existed = held.is_some_and(|v| v.value.is_some());
        let prev_version = held.map_or(0, |v| v.version);
        let differs = held.and_then(|v| v.value.as_ref()) != value.as_ref();
        let deleting = value.is_none();
        let v = Versioned { value, version };
        let applied = apply(spec.conflict, &mut d.replicas[replica as usize], key, &v);
        let key_text = String::from_utf8_lossy(key);
        // The writer, for idempotence: a write is judged by the invocation that made it.
        let inv = self.ops.get(op).map_or(0, |p| p.inv.0);
        self.trace.emit(
            now,
            &TraceEvent::StoreWrite {
                store: &spec.name,
                replica,
                key: &key_text,
                version,
                inv,
                prev_version,
                changed: applied && differs,
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
        let reply = if deleting && !existed {
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
            None => {
                self.q.after(REPLICATION_RETRY_NANOS, Event::ReplicateRetry(Box::new(w)));
            }
        }
    }

    pub(crate) fn on_replicate(&mut self, w: &ReplicaWrite) {
        let now = self.q.now();
        let spec = self.world.store(w.store);
        let d = &mut self.stores[w.store.index()];
        let applied = apply(spec.conflict, &mut d.replicas[w.replica as usize], &w.key, &w.value);
        let key_text = String::from_utf8_lossy(&w.key);
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
        self.rec.replication_lag(w.store, now - w.sent);
        if let Some(op) = w.ack_op {
            let (a, b) = (spec.nodes[w.replica as usize], spec.nodes[w.from as usize]);
            if let Some(net) = self.transit(a, b, "replica-ack", op.0) {
                self.q.after(net, Event::ReplicaAck(op));
            }
        }
    }

    /// Final state of every key-value store, replica by replica.
    pub(crate) fn kv_snapshot(&self) -> BTreeMap<String, Vec<KvReplica>> {
        self.world
            .stores
            .iter()
            .zip(&self.stores)
            .filter(|(spec, _)| spec.kind == StoreKind::Kv)
            .map(|(spec, d)| (spec.name.clone(), d.replicas.clone()))
            .collect()
    }
}
