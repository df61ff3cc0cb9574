//! The service registry (seed §5.1): replicas register, renew with heartbeats and are
//! deregistered when their TTL lapses without one; callers discover replicas through a
//! per-caller cache that may be stale for `discovery_cache_ms` — as client-side discovery with
//! Eureka or Consul does.

use std::collections::BTreeMap;

use super::Sim;
use super::event::Event;
use super::ids::{ReplicaIdx, ServiceId};
use crate::time::SimTime;
use crate::trace::TraceEvent;

#[derive(Debug, Clone, Copy)]
struct Entry {
    registered: bool,
    last_heartbeat: SimTime,
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Per service, per replica.
    entries: Vec<Vec<Entry>>,
    /// (caller service, or `None` for the gateway and broker; target) → (fetched at, replicas).
    discovery: BTreeMap<(Option<ServiceId>, ServiceId), (SimTime, Vec<ReplicaIdx>)>,
}

impl Registry {
    pub(crate) fn new(replicas: impl Iterator<Item = u32>) -> Self {
        let entries = replicas
            .map(|n| vec![Entry { registered: false, last_heartbeat: SimTime::ZERO }; n as usize])
            .collect();
        Registry { entries, discovery: BTreeMap::new() }
    }
}

impl Sim {
    pub(crate) fn start_registry(&mut self) {
        let now = self.q.now();
        let hb = self.world.heartbeat;
        for s in 0..self.world.services.len() {
            let service = ServiceId(s as u32);
            let n = u64::from(self.world.services[s].replicas);
            for r in 0..n {
                let replica = r as ReplicaIdx;
                self.register(service, replica, now);
                // Spread heartbeats over the period so they do not all land at once.
                self.q
                    .after(hb * (r + 1) / n.max(1), Event::Heartbeat { service, replica, life: 0 });
            }
        }
        self.q.after(hb, Event::RegistrySweep);
    }

    pub(crate) fn register(&mut self, service: ServiceId, replica: ReplicaIdx, now: SimTime) {
        let e = &mut self.registry.entries[service.index()][replica as usize];
        e.last_heartbeat = now;
        if !e.registered {
            e.registered = true;
            let name = &self.world.service(service).name;
            self.trace.emit(now, &TraceEvent::Registered { service: name, replica });
        }
    }

    pub(crate) fn on_heartbeat(&mut self, service: ServiceId, replica: ReplicaIdx, life: u32) {
        let r = self.replica(service, replica);
        if !r.is_up() || r.life != life {
            // A crashed replica is silent (its restart resumes the heartbeats); a stopped one
            // is gone, and a later replica in its position has heartbeats of its own.
            return;
        }
        let now = self.q.now();
        self.register(service, replica, now);
        if now < self.end {
            self.q.after(self.world.heartbeat, Event::Heartbeat { service, replica, life });
        }
    }

    /// A replica leaves the registry at once (it is scaled down), as a Kubernetes pod leaves
    /// its Service's endpoints when it starts terminating.
    pub(crate) fn deregister(&mut self, service: ServiceId, replica: ReplicaIdx, reason: &str) {
        let e = &mut self.registry.entries[service.index()][replica as usize];
        if e.registered {
            e.registered = false;
            let now = self.q.now();
            let name = &self.world.service(service).name;
            self.trace.emit(now, &TraceEvent::Deregistered { service: name, replica, reason });
        }
    }

    pub(crate) fn on_registry_sweep(&mut self) {
        let now = self.q.now();
        let ttl = self.world.registry_ttl;
        for (s, replicas) in self.registry.entries.iter_mut().enumerate() {
            for (i, e) in replicas.iter_mut().enumerate() {
                if e.registered && now - e.last_heartbeat > ttl {
                    e.registered = false;
                    self.trace.emit(
                        now,
                        &TraceEvent::Deregistered {
                            service: &self.world.services[s].name,
                            replica: i as ReplicaIdx,
                            reason: "heartbeat expired",
                        },
                    );
                }
            }
        }
        if now < self.end {
            self.q.after(self.world.heartbeat, Event::RegistrySweep);
        }
    }

    /// Registered replicas of `service` as `caller` sees them (through its discovery cache),
    /// into `out` (emptied first).
    pub(crate) fn discover(
        &mut self,
        caller: Option<ServiceId>,
        service: ServiceId,
        out: &mut Vec<ReplicaIdx>,
    ) {
        let now = self.q.now();
        out.clear();
        if let Some((at, list)) = self.registry.discovery.get(&(caller, service))
            && now - *at < self.world.discovery_cache
        {
            out.extend_from_slice(list);
            return;
        }
        out.extend(
            self.registry.entries[service.index()]
                .iter()
                .enumerate()
                .filter(|(_, e)| e.registered)
                .map(|(i, _)| i as ReplicaIdx),
        );
        // The cached list is refreshed in place (no new `Vec` per look-up when the cache
        // is off or stale).
        let (at, list) =
            self.registry.discovery.entry((caller, service)).or_insert_with(|| (now, Vec::new()));
        *at = now;
        list.clear();
        list.extend_from_slice(out);
    }
}
