//! The proxies' CPU on the way of a message: a request (or its answer) is first handled by the
//! sending side's proxy — the gateway, or the caller's sidecar — on that proxy's node, then
//! crosses the wire (network, sidecar latency, injected delay), then is handled by the
//! receiving side's sidecar on its node. What each proxy spends is CPU on its node's cores
//! (`cpu.rs`, processor sharing with the guests computing there), as Istio's sidecar-injected
//! Envoy runs in the pod, on the node's CPUs, next to the application: a busy node slows its
//! sidecars, and sidecars slow the guests next to them.
//!
//! A proxy's CPU for one message is `sidecar_cpu_us` (`[mesh]`; Istio's published figure for
//! Envoy is about 0.35 vCPU per 1000 requests per second through a proxy) plus the fuel its
//! WebAssembly filters burnt × their `ns_per_fuel`. A leg with no CPU on either side is the
//! single delayed event it always was, so a mesh without CPU costs runs as before.

use std::collections::BTreeMap;

use super::super::Sim;
use super::super::cpu::CpuJob;
use super::super::event::Event;
use super::super::ids::NodeId;

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The sending proxy computes.
    Out,
    /// On the wire.
    Wire,
    /// The receiving sidecar computes.
    In,
}

/// One message on its way through proxies that compute.
#[derive(Debug)]
struct Leg {
    stage: Stage,
    wire: u64,
    /// The receiving sidecar's node and CPU (nanoseconds).
    inbound: (NodeId, u64),
    /// What happens when the message has arrived.
    then: Event,
}

/// The legs under way.
#[derive(Debug, Default)]
pub(crate) struct Legs {
    next: u64,
    live: BTreeMap<u64, Leg>,
}

impl Legs {
    /// The legs under way.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether leg `id` is computing on a node now (for the invariants).
    pub(crate) fn computing(&self, id: u64) -> bool {
        self.live.get(&id).is_some_and(|l| matches!(l.stage, Stage::Out | Stage::In))
    }
}

impl Sim {
    /// Delivers `then` after the message has had `outbound.1` ns of CPU on `outbound.0` (the
    /// sending proxy's node), `wire` ns on the wire, and `inbound.1` ns of CPU on `inbound.0`
    /// (the receiving sidecar's node). Without CPU on either side it is one event `wire` ns
    /// from now.
    ///
    /// That case inlined into the caller, so the event is built in its queue slot (passed to
    /// a call, it was built on the stack and read back at once, a store-forwarding stall;
    /// benches/README.md, "Eleventh round").
    #[inline(always)]
    pub(crate) fn proxy_leg(
        &mut self,
        outbound: (NodeId, u64),
        wire: u64,
        inbound: (NodeId, u64),
        then: Event,
    ) {
        if outbound.1 == 0 && inbound.1 == 0 {
            self.q.after(wire, then);
            return;
        }
        self.proxy_leg_computed(outbound, wire, inbound, then);
    }

    /// [`Sim::proxy_leg`] with CPU on either side.
    #[inline(never)]
    fn proxy_leg_computed(
        &mut self,
        outbound: (NodeId, u64),
        wire: u64,
        inbound: (NodeId, u64),
        then: Event,
    ) {
        let legs = &mut self.mesh.legs;
        let id = legs.next;
        legs.next += 1;
        legs.live.insert(id, Leg { stage: Stage::Out, wire, inbound, then });
        if outbound.1 > 0 {
            self.cpu_start_job(outbound.0, CpuJob::Proxy(id), outbound.1);
        } else {
            self.proxy_computed(id);
        }
    }

    /// Leg `id`'s proxy has had its CPU (called by `cpu.rs`).
    pub(crate) fn proxy_computed(&mut self, id: u64) {
        let leg = self.mesh.legs.live.get_mut(&id).expect("a computing leg is live");
        match leg.stage {
            Stage::Out if leg.inbound.1 == 0 => {
                let leg = self.mesh.legs.live.remove(&id).expect("live");
                self.q.after(leg.wire, leg.then);
            }
            Stage::Out => {
                leg.stage = Stage::Wire;
                let wire = leg.wire;
                self.q.after(wire, Event::ProxyWire(id));
            }
            Stage::In => {
                let leg = self.mesh.legs.live.remove(&id).expect("live");
                self.q.after(0, leg.then);
            }
            Stage::Wire => unreachable!("leg {id} computed while on the wire"),
        }
    }

    /// Leg `id` has crossed the wire: the receiving sidecar computes.
    pub(crate) fn on_proxy_wire(&mut self, id: u64) {
        let leg = self.mesh.legs.live.get_mut(&id).expect("a leg on the wire is live");
        debug_assert_eq!(leg.stage, Stage::Wire);
        leg.stage = Stage::In;
        let (node, cpu) = leg.inbound;
        self.cpu_start_job(node, CpuJob::Proxy(id), cpu);
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
