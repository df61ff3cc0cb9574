//! Store, cache and broker operations made by invocations: each travels to a store replica (or
//! the broker), is decided there, waits for a write quorum where the store is strong, and its
//! reply travels back to resume the invocation — or the invocation gives up after
//! [`OP_TIMEOUT_NANOS`] with `unavailable`.

use fusebench_model::scenario::{Consistency, StoreKind};

use super::Sim;
use super::event::Event;
use super::ids::{Counter, InvId, NodeId, OpId, ReplicaIdx, StoreId};
use super::idtable::IdTable;
use super::requests::Origin;
use crate::dist::sample_nanos;
use crate::engine::TimerId;
use crate::runtime::{HostCode, HostOp, HostReply};
use crate::trace::TraceEvent;

/// How long an invocation waits for a store or broker before its operation fails (`-3`).
const OP_TIMEOUT_NANOS: u64 = 1_000_000_000;

#[derive(Debug)]
pub(crate) enum OpState {
    /// Travelling to a store replica.
    ToStore(HostOp),
    /// A publication travelling to the broker (the message rides on the event).
    ToBroker,
    /// Decided; a strong write waits for `needed` replica acknowledgements first.
    Collecting { reply: HostReply, acks: u32, needed: u32 },
    /// The reply travels back to the invocation.
    Replied(HostReply),
}

#[derive(Debug)]
pub(crate) struct PendingOp {
    pub(crate) inv: InvId,
    /// Node of the invoking replica.
    node: NodeId,
    pub(crate) store: StoreId,
    timer: TimerId,
    pub(crate) state: OpState,
    /// A key-value write the store accepted: its key and version, traced as acknowledged when
    /// a success reply reaches the invocation.
    written: Option<(Vec<u8>, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct StoreOps {
    table: IdTable<OpId, PendingOp>,
    ids: Counter,
}

impl StoreOps {
    pub(crate) fn contains(&self, id: OpId) -> bool {
        self.table.contains_key(&id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&OpId, &PendingOp)> {
        self.table.iter()
    }
}

impl Sim {
    /// Registers an operation of `inv` on `store`, with its timeout.
    pub(crate) fn new_op(&mut self, inv: InvId, store: StoreId, state: OpState) -> (OpId, NodeId) {
        let service = self.invocations.get(inv).expect("the invoker is running").service;
        let node = self.world.service(service).node;
        let id = OpId(self.ops.ids.next());
        let timer = self.q.timer_after(OP_TIMEOUT_NANOS, Event::OpTimeout(id));
        self.ops.table.insert(id, PendingOp { inv, node, store, timer, state, written: None });
        (id, node)
    }

    /// A key-value or cache operation from a guest.
    pub(crate) fn store_op(&mut self, inv: InvId, op: HostOp) {
        let name = match &op {
            HostOp::KvGet { store, .. }
            | HostOp::KvGetVersioned { store, .. }
            | HostOp::KvPut { store, .. }
            | HostOp::KvDelete { store, .. }
            | HostOp::KvCas { store, .. }
            | HostOp::KvScan { store, .. } => store,
            HostOp::CacheGet { cache, .. }
            | HostOp::CachePut { cache, .. }
            | HostOp::CacheDelete { cache, .. } => cache,
            HostOp::Publish { .. } | HostOp::Call { .. } | HostOp::CallTimeout { .. } => {
                unreachable!("publish and call are not store operations")
            }
        };
        let Some(store) = self.world.store_id(name) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        // A cache put or invalidation is a write (a put was once counted as a read, so caches
        // showed 0 writes). A scan is a read, at the replica a `kv_get` would read.
        let is_write = matches!(
            op,
            HostOp::KvPut { .. }
                | HostOp::KvDelete { .. }
                | HostOp::KvCas { .. }
                | HostOp::CachePut { .. }
                | HostOp::CacheDelete { .. }
        );
        let spec = self.world.store(store);
        let state = &mut self.stores[store.index()];
        let n = spec.nodes.len() as u64;
        let replica = match (spec.kind, spec.consistency) {
            (StoreKind::Kv, Consistency::Eventual) => state.rng.below(n) as ReplicaIdx,
            _ => 0,
        };
        let stats = self.rec.store(store);
        if is_write {
            stats.writes += 1;
        } else {
            stats.reads += 1;
        }
        let (id, from) = self.new_op(inv, store, OpState::ToStore(op));
        let to = self.world.store(store).nodes[replica as usize];
        if let Some(net) = self.transit(from, to, "store-op", id.0) {
            let state = &mut self.stores[store.index()];
            let service = sample_nanos(&self.world.store(store).latency, &mut state.rng);
            self.q.after(net + service, Event::StoreAt { op: id, replica });
        }
    }

    pub(crate) fn on_store_at(&mut self, op: OpId, replica: ReplicaIdx) {
        let Some(p) = self.ops.table.get_mut(&op) else {
            return; // the invocation gave up waiting (timeout) while it travelled
        };
        let OpState::ToStore(host_op) = std::mem::replace(&mut p.state, OpState::ToBroker) else {
            unreachable!("{op} reached a store twice")
        };
        let (store, inv) = (p.store, p.inv.0);
        let before = self.next_version;
        let (reply, needed, key) = match host_op {
            HostOp::KvGet { key, .. } => {
                self.trace_work_of(InvId(inv));
                (self.kv_read(inv, store, replica, &key), 0, key)
            }
            HostOp::KvGetVersioned { key, .. } => {
                self.trace_work_of(InvId(inv));
                let (value, version) = self.kv_read_versioned(inv, store, replica, &key);
                let reply = value.map_or(HostReply::Error(HostCode::NotFound), |value| {
                    HostReply::Versioned { value, version }
                });
                (reply, 0, key)
            }
            HostOp::KvScan { prefix, limit, .. } => {
                self.trace_work_of(InvId(inv));
                (self.kv_scan(inv, store, replica, &prefix, limit), 0, prefix)
            }
            HostOp::CacheGet { key, .. } => (self.cache_get(inv, store, &key), 0, key),
            HostOp::CacheDelete { key, .. } => (self.cache_delete(inv, store, &key), 0, key),
            HostOp::CachePut { key, value, .. } => {
                (self.cache_put(inv, store, key.clone(), value), 0, key)
            }
            HostOp::KvPut { key, value, .. } => {
                let (r, n) = self.kv_write(op, inv, store, replica, &key, Some(value));
                (r, n, key)
            }
            HostOp::KvDelete { key, .. } => {
                let (r, n) = self.kv_write(op, inv, store, replica, &key, None);
                (r, n, key)
            }
            // Compare-and-set: written only over the expected value or version, else nothing
            // is written.
            HostOp::KvCas { key, expect, new, .. } => {
                if self.kv_holds(store, replica, &key, &expect) {
                    let (r, n) = self.kv_write(op, inv, store, replica, &key, Some(new));
                    (r, n, key)
                } else {
                    (HostReply::Error(HostCode::Conflict), 0, key)
                }
            }
            HostOp::Publish { .. } | HostOp::Call { .. } | HostOp::CallTimeout { .. } => {
                unreachable!("only store operations travel to a store")
            }
        };
        if self.next_version != before && reply == HostReply::Ack {
            let p = self.ops.table.get_mut(&op).expect("a decided op is pending");
            p.written = Some((key, before));
        }
        self.decide(op, reply, needed, replica);
    }

    /// Traces what a reading invocation works on when another invocation may do the same work
    /// (a message's deliveries to one group, a call's attempts): `no-lost-update` leaves their
    /// races to idempotence.
    fn trace_work_of(&mut self, inv: InvId) {
        let Some(req) = self.invocations.get(inv).map(|i| i.req) else { return };
        let work = match self.requests.get(req).map(|r| &r.origin) {
            Some(Origin::Message { msg, group, .. }) => format!("msg:{}/{}", msg.0, group.0),
            Some(Origin::Call { call, .. }) => format!("call:{}", call.0),
            Some(Origin::Client { .. }) | None => return,
        };
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::WorkOf { inv: inv.0, work: &work });
    }

    /// The store decided `op`'s reply; it goes back once `needed` replicas acknowledged.
    pub(crate) fn decide(&mut self, op: OpId, reply: HostReply, needed: u32, replica: ReplicaIdx) {
        let p = self.ops.table.get_mut(&op).expect("a decided op is pending");
        p.state = OpState::Collecting { reply, acks: 0, needed };
        if needed == 0 {
            self.send_op_reply(op, replica);
        }
    }

    pub(crate) fn on_replica_ack(&mut self, op: OpId) {
        let Some(p) = self.ops.table.get_mut(&op) else {
            return; // the invocation gave up waiting (timeout)
        };
        let OpState::Collecting { acks, needed, .. } = &mut p.state else {
            return; // an acknowledgement beyond the quorum: the reply is on its way already
        };
        *acks += 1;
        if *acks >= *needed {
            self.send_op_reply(op, 0);
        }
    }

    fn send_op_reply(&mut self, op: OpId, replica: ReplicaIdx) {
        let p = self.ops.table.get_mut(&op).expect("a replying op is pending");
        let OpState::Collecting { reply, .. } = std::mem::replace(&mut p.state, OpState::ToBroker)
        else {
            unreachable!("{op} replied twice")
        };
        p.state = OpState::Replied(reply);
        let to = p.node;
        let from = self.world.store(p.store).nodes[replica as usize];
        if let Some(d) = self.transit(from, to, "store-reply", op.0) {
            self.q.after(d, Event::OpReply(op));
        }
    }

    pub(crate) fn on_op_reply(&mut self, op: OpId) {
        let Some(p) = self.ops.table.remove(&op) else {
            return; // the invocation gave up waiting (timeout) while the reply travelled
        };
        self.q.cancel(p.timer);
        let OpState::Replied(reply) = p.state else {
            unreachable!("{op}: a reply arrived before one was sent")
        };
        // The writer is told only if it is still there: an invocation whose replica crashed
        // while the reply travelled learns nothing (`acked-writes-survive` holds the store to
        // what it acknowledged to a writer, `store_acked`).
        let alive = self.invocations.get(p.inv).is_some();
        if let (HostReply::Ack, Some((key, version)), true) = (&reply, &p.written, alive) {
            let now = self.q.now();
            let key_text = crate::trace::bytes_text(key);
            self.trace.emit(
                now,
                &TraceEvent::StoreAcked {
                    inv: p.inv.0,
                    store: &self.world.store(p.store).name,
                    key: &key_text,
                    version: *version,
                },
            );
        }
        self.resume(p.inv, reply);
    }

    pub(crate) fn on_op_timeout(&mut self, op: OpId) {
        let p = self.ops.table.remove(&op).expect("a timed-out op is pending");
        // Only a waiting invocation is cut off; one its replica's crash ended waits for nothing.
        if self.invocations.get(p.inv).is_some() {
            let target = &self.world.store(p.store).name;
            self.trace.emit(self.q.now(), &TraceEvent::OpTimeout { inv: p.inv.0, target });
        }
        self.resume(p.inv, HostReply::Error(HostCode::Unavailable));
    }
}
