//! The connection pool of a proxy towards one destination (`circuit_breaker` with
//! `max_connections` and `max_pending_requests`): Envoy's HTTP/1.1 pool under its cluster
//! circuit breakers, as Istio's `connectionPool` (`maxConnections`, `http1MaxPendingRequests`)
//! sets them. Each request in flight holds one connection; with all `max_connections` busy a
//! request waits in the proxy, in arrival order, until one frees up (an answer, or its caller
//! giving up on it); with `max_pending_requests` already waiting one more fails fast
//! (`overflow`, Envoy's `upstream_rq_pending_overflow`). Per proxy (each meshed caller's sidecar,
//! the gateway), as Envoy keeps its pools and limits per cluster in each Envoy.
//!
//! A waiting request's try timeout runs while it waits (the caller's patience does not stop
//! for the pool); one whose caller gave up leaves the queue when it is next looked at.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::Outcome;
use crate::system::Sim;
use crate::system::balancer::Caller;
use crate::system::event::Event;
use crate::system::ids::{CallId, NodeId, ReqId, ServiceId};
use crate::system::requests::{ClientState, Origin};
use crate::time::SimTime;

/// Whether a request may take a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    Send,
    /// Every connection is busy: it waits.
    Pending,
    /// Every connection is busy and the queue is full: refused.
    Full,
}

/// Who waits for a pending request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// Try `attempt` of a call (a service's, or the gateway's with retries).
    Call { call: CallId, attempt: u32 },
    /// The client, through the gateway (no retry policy).
    Client,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Parked {
    pub(crate) req: ReqId,
    pub(crate) from: NodeId,
    /// When its caller gives up on it.
    pub(crate) deadline: SimTime,
    pub(crate) retry: bool,
    pub(crate) waiter: Waiter,
}

/// The pending requests of every (proxy, destination) pool, and the drain already scheduled
/// for each.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    pending: BTreeMap<(Caller, ServiceId), VecDeque<Parked>>,
    wakes: BTreeMap<(Caller, ServiceId), SimTime>,
}

impl Sim {
    /// Whether `caller`'s pool towards `service` (at most `connections` busy, `pending`
    /// waiting) lets a new request go now.
    pub(crate) fn pool_admit(
        &mut self,
        caller: Caller,
        service: ServiceId,
        connections: u32,
        pending: u32,
    ) -> Pool {
        self.pool_purge(caller, service);
        let busy = self.in_flight(caller, service).0;
        let queued = self.mesh.pools.pending.get(&(caller, service)).map_or(0, VecDeque::len);
        if queued == 0 && busy < u64::from(connections) {
            Pool::Send
        } else if queued < pending as usize {
            Pool::Pending
        } else {
            Pool::Full
        }
    }

    /// Queues `parked` in `caller`'s pool towards `service`.
    pub(crate) fn pool_park(&mut self, caller: Caller, service: ServiceId, parked: Parked) {
        self.mesh.pools.pending.entry((caller, service)).or_default().push_back(parked);
        self.pool_wake_at_next_deadline(caller, service);
    }

    /// A request of `caller` to `service` no longer holds a connection: the first waiting one
    /// may take it (at once, in an event of its own).
    pub(crate) fn pool_released(&mut self, caller: Caller, service: ServiceId) {
        if self.mesh.pools.pending.get(&(caller, service)).is_some_and(|q| !q.is_empty()) {
            let now = self.q.now();
            self.pool_schedule(caller, service, now);
        }
    }

    /// Sends the waiting requests that a free connection lets go, in order.
    pub(crate) fn on_pool_drain(&mut self, caller: Caller, service: ServiceId) {
        let now = self.q.now();
        if self.mesh.pools.wakes.get(&(caller, service)).is_some_and(|&t| t <= now) {
            self.mesh.pools.wakes.remove(&(caller, service));
        }
        let Some(connections) = self
            .world
            .mesh
            .as_ref()
            .and_then(|m| m.cluster(self.mesh_config(caller), service).pool)
            .map(|(connections, _)| connections)
        else {
            return;
        };
        loop {
            self.pool_purge(caller, service);
            if self.in_flight(caller, service).0 >= u64::from(connections) {
                break;
            }
            let Some(p) =
                self.mesh.pools.pending.get_mut(&(caller, service)).and_then(VecDeque::pop_front)
            else {
                break;
            };
            let patience = (p.deadline - now).max(1);
            if !self.dispatch_try(p.req, p.from, caller, patience, p.retry) {
                self.requests.settle(p.req);
                match p.waiter {
                    Waiter::Call { call, .. } => self.pool_try_failed(call),
                    Waiter::Client => self.answer_client(p.req, Outcome::Rejected, Vec::new()),
                }
            }
        }
        self.pool_wake_at_next_deadline(caller, service);
    }

    /// Drops the waiting requests whose callers gave up on them.
    fn pool_purge(&mut self, caller: Caller, service: ServiceId) {
        let now = self.q.now();
        let Some(queue) = self.mesh.pools.pending.get(&(caller, service)) else { return };
        let stale: Vec<ReqId> =
            queue.iter().filter(|p| !self.parked_waited(p, now)).map(|p| p.req).collect();
        if stale.is_empty() {
            return;
        }
        if let Some(q) = self.mesh.pools.pending.get_mut(&(caller, service)) {
            q.retain(|p| !stale.contains(&p.req));
        }
        for req in stale {
            self.requests.settle(req);
        }
    }

    fn parked_waited(&self, p: &Parked, now: SimTime) -> bool {
        p.deadline > now
            && match p.waiter {
                Waiter::Call { call, attempt } => self.call_try_waits(call, attempt),
                Waiter::Client => self.requests.get(p.req).is_some_and(|r| {
                    matches!(r.origin, Origin::Client { state: ClientState::Waiting { .. }, .. })
                }),
            }
    }

    /// While requests wait in the pool, a drain when the first request in flight times out
    /// (its caller giving up frees its connection; nothing else would announce it).
    fn pool_wake_at_next_deadline(&mut self, caller: Caller, service: ServiceId) {
        if self.mesh.pools.pending.get(&(caller, service)).is_none_or(VecDeque::is_empty) {
            return;
        }
        if let Some(at) = self.balancers.earliest_deadline((caller, service)) {
            self.pool_schedule(caller, service, at);
        }
    }

    fn pool_schedule(&mut self, caller: Caller, service: ServiceId, at: SimTime) {
        let wakes = &mut self.mesh.pools.wakes;
        if wakes.get(&(caller, service)).is_some_and(|&t| t <= at) {
            return;
        }
        wakes.insert((caller, service), at);
        let now = self.q.now();
        self.q.after(at.nanos().saturating_sub(now.nanos()), Event::PoolDrain { caller, service });
    }
}
