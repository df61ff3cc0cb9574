//! Version subsets and the routes between them, as Istio programs Envoy:
//!
//! - a **subset** (DestinationRule `subsets`, pods selected by their `version` label) is the
//!   replicas of one module version of a service: the declared replicas (version 0), or a
//!   second Deployment of its own (`replicas`, its module loaded as `<service>@subset<i>`);
//! - a **route** (VirtualService `http.route` weights and `http.match.headers`) is applied by
//!   the caller's proxy — the gateway or a meshed caller's sidecar: the first header rule the
//!   request matches picks its subset, else a weighted draw from the `mesh-route` stream;
//!   the balancer then picks among that subset's discovered replicas (none: the request fails
//!   as with no replica, Envoy's 503 "no healthy upstream"). A caller without a sidecar
//!   balances over every replica of every subset (a Kubernetes Service selects them all);
//! - the **control plane** (istiod → Envoy over xDS): a push publishes configuration
//!   `i + 1` (push `i` in time order) replacing one destination's route; it reaches each proxy
//!   (the gateway, each meshed service) after a delay drawn from `propagation` on the
//!   `mesh-control-plane` stream, in push order (one ordered xDS stream per proxy), so proxies
//!   briefly disagree. Until its push lands a proxy routes by its previous configuration.
//!
//! A proxy here is one per caller (the gateway, each calling service), as the balancer's
//! views are: the replicas of a calling service share it. The proxy's own retries (a mesh
//! retry policy) stay in the subset the first try was routed to, as Envoy retries within the
//! cluster its route picked (traced `retry`); an application's retry is a new request, routed
//! anew. Everything is traced (`mesh_route`): which configuration every
//! proxy holds at any instant, and where each routed request went, follow from the trace.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{Distribution, Route};

use super::super::Sim;
use super::super::balancer::Caller;
use super::super::event::Event;
use super::super::ids::{ReqId, ServiceId, VersionIdx};
use super::super::requests::Origin;
use super::super::world::ServiceSpec;
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// The name the host knows subset `index`'s module of `service` by (`[[mesh.subset]]`
/// `index`, counting every subset of the mesh).
#[must_use]
pub fn subset_runtime_name(service: &str, index: usize) -> String {
    format!("{service}@subset{index}")
}

/// One subset of a service.
#[derive(Debug, Clone)]
pub(crate) struct SubsetSpec {
    pub(crate) name: String,
    pub(crate) version: VersionIdx,
    /// The host's name of its module (a subset of its own), else `None` (the declared one).
    pub(crate) runtime: Option<String>,
    /// Its replica positions.
    pub(crate) positions: std::ops::Range<u32>,
}

/// One destination's route: weights and header rules, by subset index.
#[derive(Debug, Clone)]
pub(crate) struct RouteCfg {
    weights: Vec<(usize, u32)>,
    matches: Vec<(Vec<(String, String)>, usize)>,
    /// The weights as the trace shows them (`v1=90,v2=10`).
    text: String,
}

/// One push: when, and which destination's route it replaces.
#[derive(Debug, Clone, Copy)]
struct PushSpec {
    at: SimTime,
    service: ServiceId,
}

/// `[[mesh.subset]]`, `[[mesh.route]]` and the control plane, resolved.
#[derive(Debug)]
pub(crate) struct Routing {
    /// Per service, its subsets (empty: none declared).
    pub(crate) subsets: Vec<Vec<SubsetSpec>>,
    /// Per configuration (0 the scenario's routes, `i + 1` after push `i`), per service.
    configs: Vec<Vec<Option<RouteCfg>>>,
    pushes: Vec<PushSpec>,
    propagation: Distribution,
    /// The proxies a push reaches: the gateway, then each meshed service.
    proxies: Vec<Caller>,
}

/// Which configuration each proxy routes by.
#[derive(Debug, Default)]
pub(crate) struct RouteState {
    applied: BTreeMap<Caller, u32>,
    /// When the latest push scheduled for each proxy lands (the next lands no earlier).
    landing: BTreeMap<Caller, SimTime>,
}

impl RouteState {
    /// The configuration `proxy` routes by now.
    pub(crate) fn applied(&self, proxy: Caller) -> u32 {
        self.applied.get(&proxy).copied().unwrap_or(0)
    }
}

impl Routing {
    /// Resolves the mesh's subsets and routes (`None`: it declares no subset).
    pub(crate) fn new(s: &Scenario, services: &[ServiceSpec], meshed: &[bool]) -> Option<Routing> {
        let mesh = s.mesh.as_ref()?;
        if mesh.subsets.is_empty() {
            return None;
        }
        let index = |name: &str| services.iter().position(|x| x.name == name);
        let mut subsets: Vec<Vec<SubsetSpec>> = services.iter().map(|_| Vec::new()).collect();
        for (i, x) in s.services.iter().enumerate() {
            let mut next = x.replicas;
            let mut version = 0;
            for (k, sub) in mesh.subsets.iter().enumerate() {
                if sub.service.name != x.name {
                    continue;
                }
                let spec = match sub.replicas {
                    None => SubsetSpec {
                        name: sub.name.name.clone(),
                        version: VersionIdx(0),
                        runtime: None,
                        positions: 0..x.replicas,
                    },
                    Some(n) => {
                        version += 1;
                        next += n;
                        SubsetSpec {
                            name: sub.name.name.clone(),
                            version: VersionIdx(version),
                            runtime: Some(subset_runtime_name(&x.name, k)),
                            positions: next - n..next,
                        }
                    }
                };
                subsets[i].push(spec);
            }
        }
        let cfg = |r: &Route| -> Option<(usize, RouteCfg)> {
            let i = index(&r.service.name)?;
            let by_name = |n: &str| subsets[i].iter().position(|x| x.name == n);
            let weights: Vec<(usize, u32)> = r
                .weights
                .iter()
                .filter_map(|w| Some((by_name(&w.subset.name)?, w.percent)))
                .collect();
            let text = r
                .weights
                .iter()
                .map(|w| format!("{}={}", w.subset.name, w.percent))
                .collect::<Vec<_>>()
                .join(",");
            let matches = r
                .matches
                .iter()
                .filter_map(|m| Some((m.headers.clone(), by_name(&m.subset.name)?)))
                .collect();
            Some((i, RouteCfg { weights, matches, text }))
        };
        let mut first: Vec<Option<RouteCfg>> = services.iter().map(|_| None).collect();
        for r in &mesh.routes {
            if let Some((i, c)) = cfg(r) {
                first[i] = Some(c);
            }
        }
        let mut order: Vec<usize> = (0..mesh.pushes.len()).collect();
        order.sort_by(|&a, &b| mesh.pushes[a].at_s.total_cmp(&mesh.pushes[b].at_s));
        let mut configs = vec![first];
        let mut pushes = Vec::with_capacity(order.len());
        for p in order.into_iter().map(|i| &mesh.pushes[i]) {
            let mut next = configs.last().cloned().unwrap_or_default();
            let Some((i, c)) = cfg(&p.route) else { continue };
            next[i] = Some(c);
            configs.push(next);
            pushes.push(PushSpec {
                at: SimTime::from_secs_f64(p.at_s),
                service: ServiceId(i as u32),
            });
        }
        let proxies = std::iter::once(Caller::Gateway)
            .chain(
                meshed
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| **m)
                    .map(|(i, _)| Caller::Service(ServiceId(i as u32))),
            )
            .collect();
        Some(Routing {
            subsets,
            configs,
            pushes,
            propagation: mesh
                .control_plane
                .as_ref()
                .map_or(Distribution::Constant { ms: 0.0 }, |c| c.propagation),
            proxies,
        })
    }
}

impl Sim {
    fn routing(&self) -> Option<&Routing> {
        self.world.mesh.as_ref()?.routing.as_ref()
    }

    /// Each subset of its own runs its version from the start (the host knows its module by
    /// [`subset_runtime_name`]), and the pushes are scheduled.
    pub(crate) fn start_routing(&mut self) {
        let Some(routing) = self.world.mesh.as_ref().and_then(|m| m.routing.as_ref()) else {
            return;
        };
        for (i, subs) in routing.subsets.iter().enumerate() {
            for sub in subs {
                let Some(runtime) = &sub.runtime else { continue };
                let state = &mut self.services[i];
                let v = state.version_named(runtime);
                debug_assert_eq!(v, sub.version, "subset versions are numbered in order");
                for p in sub.positions.clone() {
                    state.replicas[p as usize].version = v;
                }
            }
        }
        for (i, p) in routing.pushes.iter().enumerate() {
            self.q.schedule(p.at, Event::MeshPush(i));
        }
    }

    /// The subset (as its version) `caller`'s proxy sends `req` to, traced; `None`: every
    /// replica (no route for the destination, or a caller without a sidecar).
    pub(crate) fn route_subset(
        &mut self,
        req: ReqId,
        caller: Caller,
        service: ServiceId,
    ) -> Option<VersionIdx> {
        let mesh = self.world.mesh.as_ref()?;
        let routing = mesh.routing.as_ref()?;
        if !mesh.applies(caller) {
            return None;
        }
        let config = self.mesh.routes.applied(caller);
        let cfg = routing.configs[config as usize][service.index()].as_ref()?;
        let request = self.requests.live(req);
        let call = match request.origin {
            Origin::Call { call, attempt } => Some((call, attempt)),
            _ => None,
        };
        let kept = call.and_then(|(c, attempt)| self.calls.retry_subset(c, attempt));
        let kept =
            kept.and_then(|v| routing.subsets[service.index()].iter().position(|x| x.version == v));
        let headers = &request.headers;
        let (subset, action) = if let Some(k) = kept {
            (k, "retry")
        } else {
            match cfg.matches.iter().find(|(h, _)| h.iter().all(|(k, v)| headers.get(k) == Some(v)))
            {
                Some((_, k)) => (*k, "matched"),
                None => {
                    let mut x = self.rng_route.below(100) as u32;
                    let mut pick = cfg.weights.last().map_or(0, |w| w.0);
                    for &(k, w) in &cfg.weights {
                        if x < w {
                            pick = k;
                            break;
                        }
                        x -= w;
                    }
                    (pick, "routed")
                }
            }
        };
        let sub = &routing.subsets[service.index()][subset];
        let version = sub.version;
        let now = self.q.now();
        let proxy = self.caller_name(caller).to_owned();
        let e = TraceEvent::MeshRoute {
            proxy: proxy.as_str(),
            service: self.world.service(service).name.as_str(),
            action,
            config,
            req: req.0,
            detail: sub.name.as_str(),
        };
        self.trace.emit(now, &e);
        self.route_log.line(now, &e);
        if let Some((c, _)) = call {
            self.calls.routed(c, version);
        }
        Some(version)
    }

    /// Push `i`: configuration `i + 1` leaves the control plane for every proxy.
    pub(crate) fn on_mesh_push(&mut self, i: usize) {
        let Some(routing) = self.routing() else { return };
        let config = i as u32 + 1;
        let service = routing.pushes[i].service;
        let propagation = routing.propagation;
        let proxies = routing.proxies.clone();
        let text = routing.configs[config as usize][service.index()]
            .as_ref()
            .map_or(String::new(), |c| c.text.clone());
        let now = self.q.now();
        let e = TraceEvent::MeshRoute {
            proxy: "istiod",
            service: self.world.service(service).name.as_str(),
            action: "push",
            config,
            req: 0,
            detail: text.as_str(),
        };
        self.trace.emit(now, &e);
        self.route_log.line(now, &e);
        for proxy in proxies {
            let delay = crate::dist::sample_nanos(&propagation, &mut self.rng_control);
            let state = &mut self.mesh.routes;
            let at = (now + delay).max(state.landing.get(&proxy).copied().unwrap_or(now));
            state.landing.insert(proxy, at);
            self.q.schedule(at, Event::MeshApply { proxy, config });
        }
    }

    /// Configuration `config` reached `proxy`: it routes by it from now on.
    pub(crate) fn on_mesh_apply(&mut self, proxy: Caller, config: u32) {
        let Some(routing) = self.routing() else { return };
        let service = routing.pushes[config as usize - 1].service;
        let text = routing.configs[config as usize][service.index()]
            .as_ref()
            .map_or(String::new(), |c| c.text.clone());
        self.mesh.routes.applied.insert(proxy, config);
        let now = self.q.now();
        let name = self.caller_name(proxy).to_owned();
        let e = TraceEvent::MeshRoute {
            proxy: name.as_str(),
            service: self.world.service(service).name.as_str(),
            action: "applied",
            config,
            req: 0,
            detail: text.as_str(),
        };
        self.trace.emit(now, &e);
        self.route_log.line(now, &e);
    }
}
