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
//! - the **control plane** (`control.rs`, istiod → Envoy over xDS): a push publishes
//!   configuration `i + 1` (push `i` in time order), which may replace a destination's route;
//!   a proxy routes by the configuration it holds — its previous one until the push lands.
//!
//! A proxy here is one per caller (the gateway, each calling service), as the balancer's
//! views are: the replicas of a calling service share it. The proxy's own retries (a mesh
//! retry policy) stay in the subset the first try was routed to, as Envoy retries within the
//! cluster its route picked (traced `retry`); an application's retry is a new request, routed
//! anew. Everything is traced (`mesh_route`): which configuration every
//! proxy holds at any instant, and where each routed request went, follow from the trace.

use fusebench_model::Scenario;
use fusebench_model::scenario::Route;

use super::super::Sim;
use super::super::balancer::Caller;
use super::super::ids::{ReqId, ServiceId, VersionIdx};
use super::super::requests::Origin;
use super::super::world::ServiceSpec;
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
}

/// `[[mesh.subset]]`, `[[mesh.route]]` and the control plane, resolved.
#[derive(Debug)]
pub(crate) struct Routing {
    /// Per service, its subsets (empty: none declared).
    pub(crate) subsets: Vec<Vec<SubsetSpec>>,
    /// Per configuration (0 the scenario's routes, `i + 1` after push `i`), per service.
    configs: Vec<Vec<Option<RouteCfg>>>,
}

impl Routing {
    /// Resolves the mesh's subsets and routes (`None`: it declares no subset).
    pub(crate) fn new(s: &Scenario, services: &[ServiceSpec]) -> Option<Routing> {
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
            let matches = r
                .matches
                .iter()
                .filter_map(|m| Some((m.headers.clone(), by_name(&m.subset.name)?)))
                .collect();
            Some((i, RouteCfg { weights, matches }))
        };
        let mut first: Vec<Option<RouteCfg>> = services.iter().map(|_| None).collect();
        for r in &mesh.routes {
            if let Some((i, c)) = cfg(r) {
                first[i] = Some(c);
            }
        }
        // One configuration per push, in the order they apply (a push without a route keeps
        // the routes as they were).
        let mut configs = vec![first];
        for p in mesh.push_order().into_iter().map(|i| &mesh.pushes[i]) {
            let mut next = configs.last().cloned().unwrap_or_default();
            if let Some((i, c)) = p.route.as_ref().and_then(cfg) {
                next[i] = Some(c);
            }
            configs.push(next);
        }
        Some(Routing { subsets, configs })
    }
}

impl Sim {
    /// Each subset of its own runs its version from the start (the host knows its module by
    /// [`subset_runtime_name`]), and the control plane's pushes are scheduled.
    pub(crate) fn start_routing(&mut self) {
        self.start_control_plane();
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
        let config = self.mesh.control.applied(caller);
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
}
