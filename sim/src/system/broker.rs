//! The message broker: publications travel to it and are acknowledged to the publisher; each
//! message is handed to every consumer group of its channel, and within a group to one member
//! in turn (an event stream's groups are its subscriptions by group name; a queue has one group
//! of competing consumers) and, on at-least-once channels, redelivered after the ack timeout
//! until a member acknowledges it — as with Kafka consumer groups or RabbitMQ queues with
//! manual acks (a redelivery may go to another member).

use std::collections::BTreeMap;

use fusebench_model::scenario::Delivery;

use super::Sim;
use super::balancer::Caller;
use super::event::Event;
use super::ids::{ChannelId, Counter, GroupId, InvId, MsgId, OpId, ReqId};
use super::network::combined_chance;
use super::requests::{Origin, Request};
use super::storeops::OpState;
use crate::metrics::Outcome;
use crate::runtime::{HostCode, HostReply};
use crate::trace::TraceEvent;

/// Deliveries of one message to one group before it is dead-lettered.
const DELIVERIES_MAX: u32 = 50;

/// Where a message stands with one consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consumption {
    /// Delivered `deliveries` times so far, not acknowledged.
    Unacked {
        deliveries: u32,
    },
    Acked,
}

#[derive(Debug)]
struct Message {
    channel: ChannelId,
    body: Vec<u8>,
    groups: BTreeMap<GroupId, Consumption>,
}

#[derive(Debug)]
pub(crate) struct Broker {
    messages: BTreeMap<MsgId, Message>,
    ids: Counter,
    /// Per channel: the chance a delivery (async) or a call's request (sync: `calls.rs` reads
    /// it) is duplicated, from the active `duplication` faults (fault index → rate, combined
    /// as independent events).
    dup_faults: Vec<BTreeMap<usize, f64>>,
    dup_rate: Vec<f64>,
    /// Per channel: the reorder jitter of the active `reorder` faults (the largest applies).
    jitter_faults: Vec<BTreeMap<usize, u64>>,
    jitter_nanos: Vec<u64>,
    /// Per group: deliveries so far (the round robin over its members).
    handed: Vec<u64>,
}

impl Broker {
    pub(crate) fn new(channels: usize, groups: usize) -> Self {
        Broker {
            messages: BTreeMap::new(),
            ids: Counter::default(),
            dup_faults: vec![BTreeMap::new(); channels],
            dup_rate: vec![0.0; channels],
            jitter_faults: vec![BTreeMap::new(); channels],
            jitter_nanos: vec![0; channels],
            handed: vec![0; groups],
        }
    }

    /// Duplication fault `fault` starts (`Some(rate)`) or ends (`None`) on `channel`.
    pub(crate) fn set_duplication(&mut self, channel: ChannelId, fault: usize, rate: Option<f64>) {
        let active = &mut self.dup_faults[channel.index()];
        match rate {
            Some(r) => active.insert(fault, r),
            None => active.remove(&fault),
        };
        self.dup_rate[channel.index()] = combined_chance(0.0, active.values().copied());
    }

    /// Reorder fault `fault` starts (`Some(jitter)`) or ends (`None`) on `channel`.
    pub(crate) fn set_jitter(&mut self, channel: ChannelId, fault: usize, jitter: Option<u64>) {
        let active = &mut self.jitter_faults[channel.index()];
        match jitter {
            Some(j) => active.insert(fault, j),
            None => active.remove(&fault),
        };
        self.jitter_nanos[channel.index()] = active.values().copied().max().unwrap_or(0);
    }

    /// The chance that a request or delivery on `channel` is duplicated now.
    pub(crate) fn duplication_rate(&self, channel: ChannelId) -> f64 {
        self.dup_rate[channel.index()]
    }

    /// Messages not yet acknowledged by every group.
    pub(crate) fn pending(&self) -> usize {
        self.messages.len()
    }

    /// Messages `group` has not acknowledged yet, dead-lettered ones left out: its backlog
    /// (RabbitMQ's message count, ready and unacknowledged, which KEDA scales on).
    pub(crate) fn backlog(&self, group: GroupId) -> u64 {
        self.messages
            .values()
            .filter(|m| {
                matches!(
                    m.groups.get(&group),
                    Some(Consumption::Unacked { deliveries }) if *deliveries <= DELIVERIES_MAX
                )
            })
            .count() as u64
    }
}

impl Sim {
    /// A guest publishes to an async channel: the message travels to the broker.
    pub(crate) fn publish(&mut self, inv: InvId, channel: &str, message: Vec<u8>) {
        let Some(ci) = self.world.channel_id(channel) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let spec = self.world.channel(ci);
        let (Some(broker), Some(to)) = (spec.broker, spec.broker_node) else {
            self.resume(inv, HostReply::Error(HostCode::InvalidArgument));
            return;
        };
        let (op, from) = self.new_op(inv, broker, OpState::ToBroker);
        if let Some(d) = self.transit(from, to, "publish", op.0) {
            self.q.after(d, Event::AtBroker { op, inv, channel: ci, message });
        }
    }

    /// The broker accepts a message (even if its publisher gave up waiting: the publish
    /// happened), hands it to the groups and acknowledges it.
    pub(crate) fn on_at_broker(
        &mut self,
        op: OpId,
        inv: InvId,
        channel: ChannelId,
        message: Vec<u8>,
    ) {
        let now = self.q.now();
        let msg = MsgId(self.broker.ids.next());
        let spec = self.world.channel(channel);
        self.trace.emit(
            now,
            &TraceEvent::Publish {
                channel: &spec.name,
                msg: msg.0,
                inv: inv.0,
                body: &crate::trace::bytes_text(&message),
            },
        );
        self.rec.channel(channel).published += 1;
        let groups = spec.groups.clone();
        self.broker.messages.insert(
            msg,
            Message {
                channel,
                body: message,
                groups: groups
                    .iter()
                    .map(|g| (*g, Consumption::Unacked { deliveries: 0 }))
                    .collect(),
            },
        );
        for group in groups {
            let jitter = self.broker.jitter_nanos[channel.index()];
            let delay = if jitter > 0 { self.rng_broker.below(jitter) } else { 0 };
            self.q.after(delay, Event::Deliver { msg, group, redelivery: false });
        }
        if self.ops.contains(op) {
            self.decide(op, HostReply::Ack, 0, 0);
        }
    }

    pub(crate) fn on_deliver(&mut self, msg: MsgId, group: GroupId, redelivery: bool) {
        let now = self.q.now();
        let m = self.broker.messages.get_mut(&msg).expect("a delivered message is pending");
        let state = m.groups.get_mut(&group).expect("a message is delivered to its own groups");
        let Consumption::Unacked { deliveries } = state else {
            unreachable!("{msg} delivered to a group that acknowledged it")
        };
        *deliveries += 1;
        let attempt = *deliveries;
        let channel = m.channel;
        let spec = self.world.channel(channel);
        let g = self.world.group(group);
        if attempt > DELIVERIES_MAX {
            // Traced, so the report's dead-letter count (and the consumer lag, which a
            // dead-lettered message leaves) can be recomputed from the trace.
            self.trace.emit(
                now,
                &TraceEvent::Dropped {
                    what: "message",
                    id: msg.0,
                    from: &spec.name,
                    to: &g.name,
                    reason: "dead-lettered",
                },
            );
            self.rec.channel(channel).dead_lettered += 1;
            return;
        }
        self.trace.emit(
            now,
            &TraceEvent::Deliver { channel: &spec.name, msg: msg.0, group: &g.name, attempt },
        );
        let stats = self.rec.channel(channel);
        stats.delivered += 1;
        if redelivery {
            stats.redelivered += 1;
        }
        let turn = &mut self.broker.handed[group.index()];
        let (service, endpoint) = g.members[(*turn % g.members.len() as u64) as usize];
        *turn += 1;
        let broker_node = spec.consumers_from;
        let at_least_once = spec.delivery == Delivery::AtLeastOnce;
        let ack_timeout = spec.ack_timeout;
        let dup = self.broker.dup_rate[channel.index()];
        let copies = if self.rng_broker.chance(dup) {
            self.rec.channel(channel).duplicated += 1;
            2
        } else {
            1
        };
        for copy in 0..copies {
            let body = self.broker.messages[&msg].body.clone();
            let origin = Origin::Message { msg, group, attempt };
            let mut request = Request::new(service, endpoint, body, origin, now, broker_node);
            request.copy = copy;
            let req = self.requests.add(request);
            if !self.dispatch_request(req, broker_node, Caller::Broker, ack_timeout) {
                self.requests.settle(req);
            }
        }
        if at_least_once {
            self.q.after(ack_timeout, Event::AckTimeout { msg, group, attempt });
        }
    }

    pub(crate) fn on_consumer_reply(
        &mut self,
        req: ReqId,
        msg: MsgId,
        group: GroupId,
        attempt: u32,
        outcome: Outcome,
    ) {
        let now = self.q.now();
        if !outcome.is_answer() {
            // Not acknowledged: at-least-once redelivers on the ack timeout.
            if let Some(m) = self.broker.messages.get(&msg) {
                let spec = self.world.channel(m.channel);
                let g = self.world.group(group);
                self.trace.emit(
                    now,
                    &TraceEvent::Nacked {
                        channel: &spec.name,
                        msg: msg.0,
                        group: &g.name,
                        attempt,
                        outcome: outcome.name(),
                        req: req.0,
                    },
                );
            }
            return;
        }
        let Some(m) = self.broker.messages.get_mut(&msg) else {
            return; // every group acknowledged it already (a duplicate's answer)
        };
        let state = m.groups.get_mut(&group).expect("a consumer answers for its own group");
        if *state == Consumption::Acked {
            return; // a duplicate or an earlier delivery acknowledged it already
        }
        *state = Consumption::Acked;
        let spec = self.world.channel(m.channel);
        let g = self.world.group(group);
        self.trace
            .emit(now, &TraceEvent::Acked { channel: &spec.name, msg: msg.0, group: &g.name });
        self.rec.channel(m.channel).acked += 1;
        if m.groups.values().all(|c| *c == Consumption::Acked) {
            self.broker.messages.remove(&msg);
        }
    }

    pub(crate) fn on_ack_timeout(&mut self, msg: MsgId, group: GroupId, attempt: u32) {
        let pending = self
            .broker
            .messages
            .get(&msg)
            .and_then(|m| m.groups.get(&group))
            .is_some_and(|c| *c == Consumption::Unacked { deliveries: attempt });
        if pending {
            self.on_deliver(msg, group, true);
        }
    }

    /// Messages on at-least-once channels some consumer group never acknowledged:
    /// (channel, message id, group).
    pub(crate) fn unacked(&self) -> Vec<(String, u64, String)> {
        let mut out = Vec::new();
        for (id, m) in &self.broker.messages {
            let c = self.world.channel(m.channel);
            if c.delivery != Delivery::AtLeastOnce {
                continue;
            }
            for (g, state) in &m.groups {
                if *state != Consumption::Acked {
                    out.push((c.name.clone(), id.0, self.world.group(*g).name.clone()));
                }
            }
        }
        out
    }
}
