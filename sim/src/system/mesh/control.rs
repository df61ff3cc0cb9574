//! The control plane, as istiod pushes configuration to every Envoy over xDS: push `i` (in
//! time order) publishes configuration `i + 1` — the previous one with the push's route,
//! policies and filter modules applied (`fusebench_model::scenario::MeshConfig`). It reaches
//! each proxy (the gateway, each meshed service) after a delay drawn from `propagation` on the
//! `mesh-control-plane` stream, in push order (one ordered xDS stream per proxy), so proxies
//! briefly disagree. Until a push lands a proxy applies its previous configuration: its
//! routes (`route.rs`), its policies (`RouteSpec`/`ClusterSpec` of that configuration) and
//! its filter chain (`filter.rs`). What a request already started keeps: a call's retry
//! policy as it was at its first try (Envoy snapshots the route per stream), and an answer
//! passes the response filters of the chain its request went through (Envoy's filter chain
//! is per stream). Each push and each proxy's applying it are traced `mesh_route` (`push`,
//! `applied`, with the configuration number and what changed).

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::Distribution;

use super::super::Sim;
use super::super::balancer::Caller;
use super::super::event::Event;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// One push: when, the destination it names and what it changes (for the trace).
#[derive(Debug, Clone)]
struct PushSpec {
    at: SimTime,
    subject: String,
    change: String,
}

/// `[mesh.control_plane]` and the `[[mesh.push]]`es, in the order they apply.
#[derive(Debug)]
pub(crate) struct ControlPlane {
    pushes: Vec<PushSpec>,
    propagation: Distribution,
    /// The proxies a push reaches: the gateway, then each meshed service.
    proxies: Vec<Caller>,
}

impl ControlPlane {
    /// `None`: the scenario pushes nothing.
    pub(crate) fn new(s: &Scenario, meshed: &[bool]) -> Option<ControlPlane> {
        let mesh = s.mesh.as_ref()?;
        if mesh.pushes.is_empty() {
            return None;
        }
        let pushes = mesh
            .push_order()
            .into_iter()
            .map(|i| &mesh.pushes[i])
            .map(|p| PushSpec {
                at: SimTime::from_secs_f64(p.at_s),
                subject: p.subject().to_owned(),
                change: p.describe(),
            })
            .collect();
        let proxies = std::iter::once(Caller::Gateway)
            .chain(
                meshed
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| **m)
                    .map(|(i, _)| Caller::Service(super::super::ids::ServiceId(i as u32))),
            )
            .collect();
        Some(ControlPlane {
            pushes,
            propagation: mesh
                .control_plane
                .as_ref()
                .map_or(Distribution::Constant { ms: 0.0 }, |c| c.propagation),
            proxies,
        })
    }

    /// How many configurations there are (the scenario's, then one per push).
    pub(crate) fn configurations(&self) -> usize {
        self.pushes.len() + 1
    }
}

/// Which configuration each proxy applies.
#[derive(Debug, Default)]
pub(crate) struct ControlState {
    applied: BTreeMap<Caller, u32>,
    /// When the latest push scheduled for each proxy lands (the next lands no earlier).
    landing: BTreeMap<Caller, SimTime>,
}

impl ControlState {
    /// The configuration `proxy` applies now.
    pub(crate) fn applied(&self, proxy: Caller) -> u32 {
        self.applied.get(&proxy).copied().unwrap_or(0)
    }
}

impl Sim {
    fn control_plane(&self) -> Option<&ControlPlane> {
        self.world.mesh.as_ref()?.control.as_ref()
    }

    /// Schedules the pushes.
    pub(crate) fn start_control_plane(&mut self) {
        let Some(control) = self.control_plane() else { return };
        let at: Vec<SimTime> = control.pushes.iter().map(|p| p.at).collect();
        for (i, at) in at.into_iter().enumerate() {
            self.q.schedule(at, Event::MeshPush(i));
        }
    }

    /// The configuration `caller`'s proxy applies now (0 without pushes, or for a caller
    /// without a sidecar, which applies no mesh configuration).
    pub(crate) fn mesh_config(&self, caller: Caller) -> u32 {
        self.mesh.control.applied(caller)
    }

    /// Push `i`: configuration `i + 1` leaves the control plane for every proxy.
    pub(crate) fn on_mesh_push(&mut self, i: usize) {
        let Some(control) = self.control_plane() else { return };
        let config = i as u32 + 1;
        let push = control.pushes[i].clone();
        let propagation = control.propagation;
        let proxies = control.proxies.clone();
        let now = self.q.now();
        let e = TraceEvent::MeshRoute {
            proxy: "istiod",
            service: push.subject.as_str(),
            action: "push",
            config,
            req: 0,
            detail: push.change.as_str(),
        };
        self.trace.emit(now, &e);
        self.route_log.line(now, &e);
        for proxy in proxies {
            let delay = crate::dist::sample_nanos(&propagation, &mut self.rng_control);
            let state = &mut self.mesh.control;
            let at = (now + delay).max(state.landing.get(&proxy).copied().unwrap_or(now));
            state.landing.insert(proxy, at);
            self.q.schedule(at, Event::MeshApply { proxy, config });
        }
    }

    /// Configuration `config` reached `proxy`: it applies it from now on.
    pub(crate) fn on_mesh_apply(&mut self, proxy: Caller, config: u32) {
        let Some(control) = self.control_plane() else { return };
        let push = control.pushes[config as usize - 1].clone();
        self.mesh.control.applied.insert(proxy, config);
        let now = self.q.now();
        let name = self.caller_name(proxy).to_owned();
        let e = TraceEvent::MeshRoute {
            proxy: name.as_str(),
            service: push.subject.as_str(),
            action: "applied",
            config,
            req: 0,
            detail: push.change.as_str(),
        };
        self.trace.emit(now, &e);
        self.route_log.line(now, &e);
    }
}
