//! The data layer: key-value stores with replicas (strong: synchronous quorum through a
//! primary; eventual: any replica accepts a write and replicates it after a lag), conflict
//! policies (last-writer-wins by version, or arrival order), caches with TTL and LRU capacity,
//! and the message broker (queues and event streams, at-least-once redelivery on ack timeout,
//! consumer groups).

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{
    ChannelKind, ConflictPolicy, Consistency, Delivery, Distribution, StoreKind,
};
use serde::Serialize;

use super::serving::{Origin, Req};
use super::{Event, InvId, ReplicaWrite, Sim};
use crate::dist::sample_nanos;
use crate::metrics::Outcome;
use crate::rng::{Seed, SimRng};
use crate::runtime::{HostCode, HostOp, HostReply};
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

/// How long an invocation waits for a store or broker before its operation fails (`-3`).
const OP_TIMEOUT_NANOS: u64 = 1_000_000_000;
/// How long a replica waits before resending a replicated write that did not get through.
const REPLICATION_RETRY_NANOS: u64 = 100_000_000;
/// Deliveries of one message to one group before it is dead-lettered.
const DELIVERIES_MAX: u32 = 50;

/// A value with the version that wrote it (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versioned {
    pub value: Option<Vec<u8>>,
    /// The write's position in the run's global write order (a hybrid clock).
    pub version: u64,
}

/// One replica's data.
pub type KvReplica = BTreeMap<Vec<u8>, Versioned>;

#[derive(Debug)]
pub(crate) struct StoreState {
    pub(crate) name: String,
    kind: StoreKind,
    nodes: Vec<usize>,
    consistency: Consistency,
    conflict: ConflictPolicy,
    lag: Distribution,
    latency: Distribution,
    pub(crate) extra_lag_nanos: u64,
    rng: SimRng,
    replicas: Vec<KvReplica>,
    cache: CacheState,
}

#[derive(Debug, Default)]
struct CacheState {
    capacity: u64,
    ttl_nanos: u64,
    entries: BTreeMap<Vec<u8>, (Vec<u8>, SimTime, u64)>,
    lru: BTreeMap<u64, Vec<u8>>,
    tick: u64,
}

#[derive(Debug)]
struct PendingOp {
    inv: InvId,
    /// Node of the invoking replica.
    node: usize,
    acks: u32,
    needed: u32,
    /// The reply, once decided (sent back when `needed` acks are in).
    reply: Option<HostReply>,
    replied: bool,
    timer: crate::engine::TimerId,
    store: usize,
    op: Option<HostOp>,
}

#[derive(Debug)]
struct Group {
    channel: usize,
    svc: usize,
    endpoint: String,
    name: String,
}

#[derive(Debug)]
struct Message {
    channel: usize,
    body: Vec<u8>,
    /// Per group: (attempts, acked).
    groups: BTreeMap<usize, (u32, bool)>,
}

#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) stores: Vec<StoreState>,
    index: BTreeMap<String, usize>,
    ops: BTreeMap<u64, PendingOp>,
    next_op: u64,
    next_version: u64,
    groups: Vec<Group>,
    messages: BTreeMap<u64, Message>,
    next_msg: u64,
    /// Per channel: active duplication rate and reorder jitter (faults).
    pub(crate) dup_rate: BTreeMap<usize, f64>,
    pub(crate) jitter_nanos: BTreeMap<usize, u64>,
}

impl Data {
    pub(crate) fn new(s: &Scenario, seed: Seed) -> Self {
        let nodes: BTreeMap<&str, usize> =
            s.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let stores: Vec<StoreState> = s
            .stores
            .iter()
            .map(|d| {
                let placed: Vec<usize> = d
                    .nodes
                    .iter()
                    .map(|n| nodes.get(n.name.as_str()).copied().unwrap_or(0))
                    .collect();
                let n = d.replicas.max(1) as usize;
                StoreState {
                    name: d.name.clone(),
                    kind: d.kind,
                    nodes: (0..n)
                        .map(|i| placed.get(i % placed.len().max(1)).copied().unwrap_or(0))
                        .collect(),
                    consistency: d.consistency,
                    conflict: d.conflict,
                    lag: d.replication_lag,
                    latency: d.latency,
                    extra_lag_nanos: 0,
                    rng: SimRng::stream(seed, &format!("store/{}", d.name)),
                    replicas: vec![initial(d); n],
                    cache: CacheState {
                        capacity: d.capacity.unwrap_or(0),
                        ttl_nanos: millis_to_nanos(d.ttl_ms.unwrap_or(0.0)),
                        ..CacheState::default()
                    },
                }
            })
            .collect();
        let index = stores.iter().enumerate().map(|(i, d)| (d.name.clone(), i)).collect();
        let mut groups = Vec::new();
        for (ci, c) in s.channels.iter().enumerate() {
            for (si, svc) in s.services.iter().enumerate() {
                for sub in svc.subscriptions.iter().filter(|x| x.channel.name == c.name) {
                    groups.push(Group {
                        channel: ci,
                        svc: si,
                        endpoint: sub.endpoint.name.clone(),
                        name: sub.group.clone(),
                    });
                }
            }
        }
        Data {
            stores,
            index,
            ops: BTreeMap::new(),
            next_op: 0,
            next_version: 1,
            groups,
            messages: BTreeMap::new(),
            next_msg: 0,
            dup_rate: BTreeMap::new(),
            jitter_nanos: BTreeMap::new(),
        }
    }

    pub(crate) fn store_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Messages on at-least-once channels not acknowledged by every group.
    pub(crate) fn unacked(&self, s: &Scenario) -> Vec<(String, u64, String)> {
        let mut out = Vec::new();
        for (id, m) in &self.messages {
            let c = &s.channels[m.channel];
            if c.delivery != Delivery::AtLeastOnce {
                continue;
            }
            for (g, (_, acked)) in &m.groups {
                if !acked {
                    out.push((c.name.clone(), *id, self.groups[*g].name.clone()));
                }
            }
        }
        out
    }

    /// Final state of every key-value store, replica by replica.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<KvReplica>> {
        self.stores
            .iter()
            .filter(|d| d.kind == StoreKind::Kv)
            .map(|d| (d.name.clone(), d.replicas.clone()))
            .collect()
    }
}

/// The contents a store's replicas start with (version 0: any write wins over them).
fn initial(d: &fusebench_model::scenario::Store) -> KvReplica {
    d.initial_entries().map(|(k, v)| (k, Versioned { value: Some(v), version: 0 })).collect()
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
    fn new_op(&mut self, inv: InvId, store: usize, op: Option<HostOp>) -> Option<u64> {
        let node = self.serving.invs.get(&inv).map(|i| self.serving.svcs[i.svc].node)?;
        let id = self.data.next_op;
        self.data.next_op += 1;
        let timer = self.q.after(OP_TIMEOUT_NANOS, Event::OpTimeout { op: id });
        self.data.ops.insert(
            id,
            PendingOp {
                inv,
                node,
                acks: 0,
                needed: 0,
                reply: None,
                replied: false,
                timer,
                store,
                op,
            },
        );
        Some(id)
    }

    /// A key-value or cache operation from a guest.
    pub(crate) fn store_op(&mut self, inv: InvId, op: HostOp) {
        let name = match &op {
            HostOp::KvGet { store, .. }
            | HostOp::KvPut { store, .. }
            | HostOp::KvDelete { store, .. } => store,
            HostOp::CacheGet { cache, .. } | HostOp::CachePut { cache, .. } => cache,
            _ => return,
        };
        let Some(store) = self.data.store_index(name) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let is_write = matches!(op, HostOp::KvPut { .. } | HostOp::KvDelete { .. });
        let d = &mut self.data.stores[store];
        let n = d.replicas.len() as u64;
        let replica = match (d.kind, d.consistency) {
            (StoreKind::Kv, Consistency::Eventual) => d.rng.below(n) as u32,
            _ => 0,
        };
        if is_write {
            self.metrics.store(name).writes += 1;
        } else {
            self.metrics.store(name).reads += 1;
        }
        let Some(id) = self.new_op(inv, store, Some(op)) else { return };
        let from = self.data.ops[&id].node;
        let to = self.data.stores[store].nodes[replica as usize];
        if let Some(net) = self.transit(from, to, "store-op", id) {
            let d = &mut self.data.stores[store];
            let service = sample_nanos(&d.latency, &mut d.rng);
            self.q.after(net + service, Event::StoreAt { op: id, replica });
        }
    }

    pub(crate) fn on_store_at(&mut self, op: u64, replica: u32) {
        let now = self.q.now();
        let Some(p) = self.data.ops.get_mut(&op) else { return };
        let Some(host_op) = p.op.take() else { return };
        let store = p.store;
        let d = &mut self.data.stores[store];
        let r = replica as usize;
        let reply = match host_op {
            HostOp::KvGet { key, .. } => {
                match d.replicas[r].get(&key).and_then(|v| v.value.clone()) {
                    Some(v) => HostReply::Value(v),
                    None => HostReply::Error(HostCode::NotFound),
                }
            }
            HostOp::CacheGet { key, .. } => {
                let hit = match d.cache.entries.get(&key) {
                    Some((v, expires, _)) if *expires > now => Some(v.clone()),
                    _ => None,
                };
                let name = d.name.clone();
                self.metrics.cache_access(&name, hit.is_some());
                hit.map_or(HostReply::Error(HostCode::NotFound), HostReply::Value)
            }
            HostOp::CachePut { key, value, .. } => {
                let c = &mut d.cache;
                c.tick += 1;
                if let Some((_, _, old)) = c.entries.remove(&key) {
                    c.lru.remove(&old);
                }
                c.entries.insert(key.clone(), (value, now + c.ttl_nanos, c.tick));
                c.lru.insert(c.tick, key);
                while c.entries.len() as u64 > c.capacity.max(1) {
                    let Some((_, victim)) = c.lru.pop_first() else { break };
                    c.entries.remove(&victim);
                    let name = d.name.clone();
                    self.metrics.caches.entry(name).or_default().evictions += 1;
                }
                HostReply::Ack
            }
            HostOp::KvPut { key, value, .. } => self.write(op, store, replica, &key, Some(value)),
            HostOp::KvDelete { key, .. } => self.write(op, store, replica, &key, None),
            HostOp::Publish { .. } | HostOp::Call { .. } => {
                HostReply::Error(HostCode::InvalidArgument)
            }
        };
        if let Some(p) = self.data.ops.get_mut(&op) {
            p.reply = Some(reply);
            if p.acks >= p.needed {
                self.send_op_reply(op, store, replica);
            }
        }
    }

    /// A write accepted at `replica`; replicates it (synchronously for strong stores: the op
    /// waits for a quorum of acknowledgements).
    fn write(
        &mut self,
        op: u64,
        store: usize,
        replica: u32,
        key: &[u8],
        value: Option<Vec<u8>>,
    ) -> HostReply {
        let now = self.q.now();
        let version = self.data.next_version;
        self.data.next_version += 1;
        let d = &mut self.data.stores[store];
        let existed = d.replicas[replica as usize].get(key).is_some_and(|v| v.value.is_some());
        let deleting = value.is_none();
        let v = Versioned { value, version };
        apply(d.conflict, &mut d.replicas[replica as usize], key, &v);
        let key_text = String::from_utf8_lossy(key).into_owned();
        self.trace.emit(
            now,
            &TraceEvent::StoreWrite { store: &d.name, replica, key: &key_text, version },
        );
        let n = d.replicas.len() as u32;
        let strong = d.consistency == Consistency::Strong;
        if strong {
            let quorum = n / 2 + 1;
            if let Some(p) = self.data.ops.get_mut(&op) {
                p.needed = quorum - 1;
            }
        }
        for other in (0..n).filter(|o| *o != replica) {
            let ack_op = strong.then_some(op);
            self.send_replicate(store, other, key.to_vec(), v.clone(), replica, now, ack_op);
        }
        if deleting && !existed { HostReply::Error(HostCode::NotFound) } else { HostReply::Ack }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_replicate(
        &mut self,
        store: usize,
        to: u32,
        key: Vec<u8>,
        value: Versioned,
        from: u32,
        sent: SimTime,
        ack_op: Option<u64>,
    ) {
        let d = &self.data.stores[store];
        let (a, b) = (d.nodes[from as usize], d.nodes[to as usize]);
        let strong = d.consistency == Consistency::Strong;
        match self.transit(a, b, "replication", value.version) {
            Some(net) => {
                let d = &mut self.data.stores[store];
                let lag =
                    if strong { 0 } else { sample_nanos(&d.lag, &mut d.rng) + d.extra_lag_nanos };
                self.q.after(
                    net + lag,
                    Event::Replicate(Box::new(ReplicaWrite {
                        store,
                        replica: to,
                        key,
                        value,
                        from,
                        sent,
                        ack_op,
                    })),
                );
            }
            None => {
                // Resend until it gets through (anti-entropy): replicas converge after a heal.
                self.q.after(
                    REPLICATION_RETRY_NANOS,
                    Event::ReplicateRetry(Box::new(ReplicaWrite {
                        store,
                        replica: to,
                        key,
                        value,
                        from,
                        sent,
                        ack_op,
                    })),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_replicate(
        &mut self,
        store: usize,
        replica: u32,
        key: &[u8],
        value: &Versioned,
        from: u32,
        sent: SimTime,
        ack_op: Option<u64>,
    ) {
        let now = self.q.now();
        let d = &mut self.data.stores[store];
        let applied = apply(d.conflict, &mut d.replicas[replica as usize], key, value);
        let key_text = String::from_utf8_lossy(key).into_owned();
        self.trace.emit(
            now,
            &TraceEvent::StoreApply {
                store: &d.name,
                replica,
                key: &key_text,
                version: value.version,
                applied,
            },
        );
        let name = d.name.clone();
        self.metrics.replication_lag(&name, now - sent);
        if let Some(op) = ack_op {
            let (a, b) = (d.nodes[replica as usize], d.nodes[from as usize]);
            if let Some(net) = self.transit(a, b, "replica-ack", op) {
                self.q.after(net, Event::ReplicaAck { op });
            }
        }
    }

    pub(crate) fn on_replica_ack(&mut self, op: u64) {
        let Some(p) = self.data.ops.get_mut(&op) else { return };
        p.acks += 1;
        if p.acks >= p.needed && p.reply.is_some() && !p.replied {
            let store = p.store;
            self.send_op_reply(op, store, 0);
        }
    }

    fn send_op_reply(&mut self, op: u64, store: usize, replica: u32) {
        let Some(p) = self.data.ops.get_mut(&op) else { return };
        if p.replied {
            return;
        }
        p.replied = true;
        let to = p.node;
        let from = self.data.stores[store].nodes[replica as usize];
        if let Some(d) = self.transit(from, to, "store-reply", op) {
            self.q.after(d, Event::OpReply { op });
        }
    }

    pub(crate) fn on_op_reply(&mut self, op: u64) {
        let Some(p) = self.data.ops.remove(&op) else { return };
        self.q.cancel(p.timer);
        let reply = p.reply.unwrap_or(HostReply::Error(HostCode::Unavailable));
        self.resume(p.inv, reply);
    }

    pub(crate) fn on_op_timeout(&mut self, op: u64) {
        if let Some(p) = self.data.ops.remove(&op) {
            self.resume(p.inv, HostReply::Error(HostCode::Unavailable));
        }
    }

    // ---- broker --------------------------------------------------------------------------

    /// A guest publishes to an async channel: the message travels to the broker, which
    /// acknowledges it to the publisher and delivers it to the subscribed groups.
    pub(crate) fn publish(&mut self, inv: InvId, channel: &str, message: Vec<u8>) {
        let Some(ci) = self.s.channels.iter().position(|c| c.name == channel) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let broker =
            self.s.channels[ci].broker.as_ref().and_then(|b| self.data.store_index(&b.name));
        let Some(broker) = broker else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let Some(op) = self.new_op(inv, broker, None) else { return };
        let from = self.data.ops[&op].node;
        let to = self.data.stores[broker].nodes[0];
        if let Some(d) = self.transit(from, to, "publish", op) {
            self.q.after(d, Event::AtBroker { op, channel: ci, message });
        }
    }

    pub(crate) fn on_at_broker(&mut self, op: u64, channel: usize, message: Vec<u8>) {
        let now = self.q.now();
        let msg = self.data.next_msg;
        self.data.next_msg += 1;
        let c = &self.s.channels[channel];
        self.trace.emit(now, &TraceEvent::Publish { channel: &c.name, msg });
        self.metrics.channel(&c.name).published += 1;
        let mut groups: Vec<usize> = self
            .data
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.channel == channel)
            .map(|(i, _)| i)
            .collect();
        if c.kind == ChannelKind::Queue {
            groups.truncate(1); // a queue hands each message to one consumer group
        }
        self.data.messages.insert(
            msg,
            Message {
                channel,
                body: message,
                groups: groups.iter().map(|g| (*g, (0, false))).collect(),
            },
        );
        for g in groups {
            let jitter = self.data.jitter_nanos.get(&channel).copied().unwrap_or(0);
            let delay = if jitter > 0 { self.rng_broker.below(jitter) } else { 0 };
            self.q.after(delay, Event::Deliver { msg, group: g, redelivery: false });
        }
        if let Some(p) = self.data.ops.get_mut(&op) {
            p.reply = Some(HostReply::Ack);
            let store = p.store;
            self.send_op_reply(op, store, 0);
        }
    }

    pub(crate) fn on_deliver(&mut self, msg: u64, group: usize, redelivery: bool) {
        let now = self.q.now();
        let Some(m) = self.data.messages.get_mut(&msg) else { return };
        let Some(state) = m.groups.get_mut(&group) else { return };
        if state.1 {
            return;
        }
        state.0 += 1;
        let attempt = state.0;
        let (channel, body) = (m.channel, m.body.clone());
        let c = &self.s.channels[channel];
        let g = &self.data.groups[group];
        if attempt > DELIVERIES_MAX {
            self.metrics.channel(&c.name).dead_lettered += 1;
            return;
        }
        self.trace
            .emit(now, &TraceEvent::Deliver { channel: &c.name, msg, group: &g.name, attempt });
        let stats = self.metrics.channel(&c.name);
        stats.delivered += 1;
        if redelivery {
            stats.redelivered += 1;
        }
        let (svc, endpoint) = (g.svc, g.endpoint.clone());
        let broker_node = c
            .broker
            .as_ref()
            .and_then(|b| self.data.store_index(&b.name))
            .map_or(0, |b| self.data.stores[b].nodes[0]);
        let at_least_once = c.delivery == Delivery::AtLeastOnce;
        let timeout = millis_to_nanos(c.timeout_ms);
        let dup = self.data.dup_rate.get(&channel).copied().unwrap_or(0.0);
        let copies = if self.rng_broker.chance(dup) {
            let name = c.name.clone();
            self.metrics.channel(&name).duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let req = self.serving.new_req(Req {
                svc,
                endpoint: endpoint.clone(),
                body: body.clone(),
                origin: Origin::Message { msg, group, attempt },
                sent: now,
                reply_to: broker_node,
                done: false,
                arrived: now,
            });
            if !self.dispatch_request(req, broker_node, None) {
                self.serving.reqs.remove(&req);
            }
        }
        if at_least_once {
            self.q.after(timeout, Event::AckTimeout { msg, group, attempt });
        }
    }

    pub(crate) fn on_consumer_reply(
        &mut self,
        msg: u64,
        group: usize,
        _attempt: u32,
        outcome: Outcome,
    ) {
        let now = self.q.now();
        if !outcome.is_success() {
            return; // not acknowledged: at-least-once redelivers on the ack timeout
        }
        let Some(m) = self.data.messages.get_mut(&msg) else { return };
        let Some(state) = m.groups.get_mut(&group) else { return };
        if state.1 {
            return;
        }
        state.1 = true;
        let c = &self.s.channels[m.channel];
        self.trace.emit(
            now,
            &TraceEvent::Acked { channel: &c.name, msg, group: &self.data.groups[group].name },
        );
        self.metrics.channel(&c.name).acked += 1;
        if m.groups.values().all(|(_, acked)| *acked) {
            self.data.messages.remove(&msg);
        }
    }

    pub(crate) fn on_ack_timeout(&mut self, msg: u64, group: usize, attempt: u32) {
        let pending = self
            .data
            .messages
            .get(&msg)
            .and_then(|m| m.groups.get(&group))
            .is_some_and(|(n, acked)| !acked && *n == attempt);
        if pending {
            self.on_deliver(msg, group, true);
        }
    }

    /// Messages published on at-least-once channels and not yet acknowledged by every group.
    #[must_use]
    pub fn unacked_messages(&self) -> usize {
        self.data.messages.len()
    }
}
