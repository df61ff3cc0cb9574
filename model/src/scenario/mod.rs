//! The scenario: one system M = (S, I, D, C, Q) with its bounded contexts, topology, gateway,
//! registry, workload and fault plan, parsed strictly from TOML.
//!
//! [`parse`] returns the scenario (when it could be built) and *every* problem found, each with
//! file, line, column and field. After a parse with no error diagnostics, every name reference
//! resolves (architecture invariant relied upon by checks and the simulator).

mod autoscale;
mod channel;
mod data;
mod fault;
mod invariant;
mod journey;
mod library;
mod mesh;
mod property;
mod quality;
mod reader;
mod resolve;
mod rollout;
mod service;
mod temporal;
mod topology;
mod workload;

use std::fmt;

use serde::Serialize;

pub use autoscale::{
    Autoscale, ColdStart, Forecast, PolicyModule, ScaleMetric, ScalePolicy, ScaleToZero,
};
pub use channel::{Channel, ChannelKind, Delivery};
pub use data::{ConflictPolicy, Consistency, Store, StoreKind, stored_bytes};
pub use fault::{Fault, FaultKind, FaultTarget};
pub use invariant::{BUILTIN_PROPERTY_IDS, Invariant, When};
pub use library::{Library, RESERVED_LIBRARY_NAMES};
pub use mesh::{
    ABORT_STATUSES, Authorization, AuthzAction, AuthzDecision, CircuitBreaker, ENVOY_MAX_PENDING,
    FILTER_CAPABILITIES, FaultAbort, FaultDelay, FilterAt, GATEWAY_IDENTITY, Mesh, MeshFault,
    MeshFilter, MeshPolicy, MtlsMode, OutlierDetection, PeerAuthentication, RateLimit, Retries,
    RetryBudget, RetryOn,
};
pub use mesh::{ControlPlane, HeaderMatch, MeshConfig, Push, Route, Subset, Weight};
pub use property::WasmProperty;
pub use quality::{Quality, Slo};
pub use rollout::{
    EndpointChange, Rollout, STARTUP_MS_DEFAULT, Strategy, default_max_surge,
    default_max_unavailable,
};
pub use service::{
    Api, Call, Effect, EffectAction, Endpoint, InstancePolicy, LoadBalancing, Method, Service,
    ServiceTime, Subscription, TimeResource,
};
pub use temporal::{Condition, FieldPath, On, Op, Pattern, Root, Same, Scope, Selector, Temporal};
pub use topology::{Distribution, Link, Node, Tier};
pub use workload::{
    Arrival, Journey, JourneyStep, MixEntry, RateStep, StepRef, StopOn, Template, Workload,
};

use crate::diagnostic::{Diagnostic, LineIndex, Location, Span};
use reader::{Cx, Obj};

/// A reference to a named element, with the place it was written (for diagnostics).
/// Serialises as the bare name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameRef {
    pub name: String,
    pub span: Span,
}

impl NameRef {
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        NameRef { name: name.into(), span: Span::default() }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl From<(String, Span)> for NameRef {
    fn from((name, span): (String, Span)) -> Self {
        NameRef { name, span }
    }
}

impl fmt::Display for NameRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Serialize for NameRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

/// A bounded context (domain-driven design): a group of services sharing one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundedContext {
    pub name: String,
    pub description: String,
    #[serde(skip)]
    pub span: Span,
}

/// The API gateway: routes public endpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gateway {
    pub node: NameRef,
    /// Per-route timeout, in milliseconds.
    pub timeout_ms: f64,
    #[serde(skip)]
    pub span: Span,
}

/// The service registry (seed §5.1): heartbeats, expiry and the client-side discovery cache.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Registry {
    pub heartbeat_ms: f64,
    /// An instance that missed heartbeats this long is expired.
    pub ttl_ms: f64,
    /// How long a discovery answer is cached by callers.
    pub discovery_cache_ms: f64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { heartbeat_ms: 1000.0, ttl_ms: 3000.0, discovery_cache_ms: 500.0 }
    }
}

/// One whole scenario file.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// The file name it was parsed from, as given by the caller.
    pub file: String,
    pub name: String,
    pub description: String,
    pub contexts: Vec<BoundedContext>,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub services: Vec<Service>,
    /// `[[library]]`: modules services link against (composed services). Left out of the
    /// serialisation when empty, so the replay hash of a scenario without any is as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<Library>,
    pub stores: Vec<Store>,
    pub channels: Vec<Channel>,
    pub quality: Quality,
    pub gateway: Option<Gateway>,
    pub registry: Registry,
    pub workload: Option<Workload>,
    pub faults: Vec<Fault>,
    /// `[[property]]`: properties whose checker is a WebAssembly module.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<WasmProperty>,
    /// User-stated invariants (`[[invariant]]`), judged on runs like the built-in properties.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<Invariant>,
    /// Temporal properties the scenario states (`[[temporal]]`), judged on every run. Left out
    /// of the serialisation when empty, so the replay hash of a scenario without any is as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub temporal: Vec<Temporal>,
    /// The service mesh (`[mesh]`). Left out of the serialisation when absent, so the replay
    /// hash of a scenario without one is as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<Mesh>,
    /// `[[rollout]]`: modules replaced while the system runs. Left out of the serialisation
    /// when empty, so the replay hash of a scenario without any is as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<Rollout>,
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    lines: LineIndex,
}

impl Scenario {
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    #[must_use]
    pub fn library(&self, name: &str) -> Option<&Library> {
        self.libraries.iter().find(|l| l.name == name)
    }

    /// The libraries `service`'s composition holds, each once, in instantiation order: every
    /// library after the libraries it links (a depth-first post-order from the service's
    /// links, in their written order). Links that do not resolve and links closing a cycle are
    /// left out (the parser and `link-cycle` report them).
    #[must_use]
    pub fn composition(&self, service: &Service) -> Vec<&Library> {
        fn visit<'a>(
            s: &'a Scenario,
            name: &str,
            path: &mut Vec<String>,
            out: &mut Vec<&'a Library>,
        ) {
            if out.iter().any(|l| l.name == name) || path.iter().any(|p| p == name) {
                return;
            }
            let Some(lib) = s.library(name) else { return };
            path.push(name.to_owned());
            for l in &lib.links {
                visit(s, &l.name, path, out);
            }
            path.pop();
            out.push(lib);
        }
        let mut out = Vec::new();
        for l in &service.links {
            visit(self, &l.name, &mut Vec::new(), &mut out);
        }
        out
    }

    #[must_use]
    pub fn store(&self, name: &str) -> Option<&Store> {
        self.stores.iter().find(|s| s.name == name)
    }

    #[must_use]
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    #[must_use]
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The source text it was parsed from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where a span of this scenario's source is, for diagnostics about its elements.
    #[must_use]
    pub fn locate(&self, span: Span) -> Location {
        let (line, column) = self.lines.line_col(&self.source, span.start);
        Location { file: self.file.clone(), line, column }
    }

    /// Where the value at `path` (table keys from the root, e.g. `["workload", "arrival",
    /// "rate_rps"]`) is written in this scenario's source, if it is: for messages about values
    /// the parsed types keep no span for (resource limits, replay validation).
    #[must_use]
    pub fn locate_key(&self, path: &[&str]) -> Option<Location> {
        let (root, _) = toml::de::DeTable::parse_recoverable(&self.source);
        let (last, parents) = path.split_last()?;
        let mut table = root.get_ref();
        for key in parents {
            match table.get(*key)?.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        let v = table.get(*last)?;
        Some(self.locate(Span::from(v.span())))
    }

    /// The effective fuel budget of a service (its own, or the quality default).
    #[must_use]
    pub fn fuel_budget(&self, service: &Service) -> u64 {
        service.fuel_budget.unwrap_or(self.quality.fuel_budget)
    }

    /// Every replica `service` runs from the start: its declared ones and those of its mesh
    /// subsets that are Deployments of their own (`[[mesh.subset]]` with `replicas`, on the
    /// service's node).
    #[must_use]
    pub fn replicas_of(&self, service: &Service) -> u32 {
        service.replicas + self.mesh.as_ref().map_or(0, |m| m.subset_replicas(&service.name))
    }

    /// The effective memory limit of one instance of a service, in KiB.
    #[must_use]
    pub fn memory_max_kib(&self, service: &Service) -> u64 {
        service.memory_max_kib.unwrap_or(self.quality.memory_max_kib)
    }
}

/// The result of parsing: the scenario when one could be built, and every diagnostic.
#[derive(Debug)]
pub struct Parsed {
    pub scenario: Option<Scenario>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The scenario if it parsed without errors.
    #[must_use]
    pub fn ok(self) -> Option<Scenario> {
        if self.has_errors() { None } else { self.scenario }
    }
}

/// Parses a scenario. `file` names the source in diagnostics; no file is read.
#[must_use]
pub fn parse(file: &str, text: &str) -> Parsed {
    let mut cx = Cx::new(file, text);
    let (root, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    for e in &syntax_errors {
        let span = e.span().map(Span::from).unwrap_or_default();
        let msg = format!("invalid TOML: {}", e.message().trim_end());
        cx.error("parse.syntax", span, "", msg);
    }
    if !syntax_errors.is_empty() {
        // A damaged tree would only add confusing follow-on errors.
        return Parsed { scenario: None, diagnostics: cx.diags };
    }
    let scenario = read_scenario(&mut cx, &root);
    let mut scenario = scenario.map(|mut s| {
        s.source = text.to_owned();
        s.lines = LineIndex::new(text);
        s
    });
    if let Some(s) = &mut scenario {
        resolve::resolve(&mut cx, s);
        temporal::resolve(&mut cx, s);
        rollout::resolve(&mut cx, s);
    }
    let mut diagnostics = cx.diags;
    diagnostics.sort_by(|a, b| a.location.cmp(&b.location).then_with(|| a.code.cmp(&b.code)));
    diagnostics.dedup();
    Parsed { scenario, diagnostics }
}

fn read_scenario(cx: &mut Cx<'_>, root: &toml::Spanned<toml::de::DeTable<'_>>) -> Option<Scenario> {
    let mut o = Obj::root(root);
    let (name, description) = match o.opt_table(cx, "system") {
        Some(mut t) => {
            let name = t.req_str(cx, "name", "the system's name").map(|n| n.0);
            let description = t.opt_str(cx, "description").map(|d| d.0).unwrap_or_default();
            t.finish(cx);
            (name, description)
        }
        None => {
            cx.error(
                "parse.missing-field",
                o.span,
                "system",
                "missing `[system]` table (with at least `name`)",
            );
            (None, String::new())
        }
    };
    let contexts = o
        .table_list(cx, "context")
        .into_iter()
        .filter_map(|mut t| {
            let name = t.req_str(cx, "name", "the context's name");
            let description = t.opt_str(cx, "description").map(|d| d.0).unwrap_or_default();
            let span = t.span;
            t.finish(cx);
            Some(BoundedContext { name: name?.0, description, span })
        })
        .collect();
    let nodes = o.table_list(cx, "node").into_iter().filter_map(|t| Node::read(cx, t)).collect();
    let links = o.table_list(cx, "link").into_iter().filter_map(|t| Link::read(cx, t)).collect();
    let services =
        o.table_list(cx, "service").into_iter().filter_map(|t| Service::read(cx, t)).collect();
    let libraries =
        o.table_list(cx, "library").into_iter().filter_map(|t| Library::read(cx, t)).collect();
    let stores: Vec<Store> =
        o.table_list(cx, "store").into_iter().filter_map(|t| Store::read(cx, t)).collect();
    let channels =
        o.table_list(cx, "channel").into_iter().filter_map(|t| Channel::read(cx, t)).collect();
    let quality = o.opt_table(cx, "quality").map(|t| Quality::read(cx, t)).unwrap_or_default();
    let gateway = o.opt_table(cx, "gateway").and_then(|mut t| {
        let node = t.req_str(cx, "node", "the node the gateway runs on");
        let timeout_ms = t.opt_f64(cx, "timeout_ms", 0.001, 3.6e6).unwrap_or(5000.0);
        let span = t.span;
        t.finish(cx);
        Some(Gateway { node: node?.into(), timeout_ms, span })
    });
    let registry = o
        .opt_table(cx, "registry")
        .map(|mut t| {
            let d = Registry::default();
            let r = Registry {
                heartbeat_ms: t.opt_f64(cx, "heartbeat_ms", 1.0, 3.6e6).unwrap_or(d.heartbeat_ms),
                ttl_ms: t.opt_f64(cx, "ttl_ms", 1.0, 3.6e6).unwrap_or(d.ttl_ms),
                discovery_cache_ms: t.opt_f64(cx, "discovery_cache_ms", 0.0, 3.6e6).unwrap_or(d.discovery_cache_ms),
            };
            if r.ttl_ms <= r.heartbeat_ms {
                cx.error("parse.range", t.span, &t.field("ttl_ms"), "`ttl_ms` must exceed `heartbeat_ms`, or every instance expires between heartbeats");
            }
            t.finish(cx);
            r
        })
        .unwrap_or_default();
    let workload = o.opt_table(cx, "workload").and_then(|t| Workload::read(cx, t));
    let faults = o.table_list(cx, "fault").into_iter().filter_map(|t| Fault::read(cx, t)).collect();
    let properties: Vec<WasmProperty> = o
        .table_list(cx, "property")
        .into_iter()
        .filter_map(|t| WasmProperty::read(cx, t))
        .collect();
    property::check_unique(cx, &properties);
    let invariants = invariant::read_all(o.table_list(cx, "invariant"), cx, &stores);
    let temporal: Vec<Temporal> =
        o.table_list(cx, "temporal").into_iter().filter_map(|t| Temporal::read(cx, t)).collect();
    user_property_names(cx, &invariants, &temporal, &properties);
    let mesh = o.opt_table(cx, "mesh").map(|t| Mesh::read(cx, t));
    let rollouts =
        o.table_list(cx, "rollout").into_iter().filter_map(|t| Rollout::read(cx, t)).collect();
    o.finish(cx);
    Some(Scenario {
        file: cx.file.to_owned(),
        name: name?,
        description,
        contexts,
        nodes,
        links,
        services,
        libraries,
        stores,
        channels,
        quality,
        gateway,
        registry,
        workload,
        faults,
        properties,
        invariants,
        temporal,
        mesh,
        rollouts,
        source: String::new(),
        lines: LineIndex::default(),
    })
}

/// A verdict is known by its property's id: a name the scenario gives one of its own
/// properties (invariant, temporal, WebAssembly) must be unique across all three kinds and
/// differ from every built-in property. Each kind checks its own duplicates; this checks the rest.
fn user_property_names(
    cx: &mut Cx<'_>,
    invariants: &[Invariant],
    temporal: &[Temporal],
    properties: &[WasmProperty],
) {
    let named: Vec<(&str, Span, &str)> = invariants
        .iter()
        .map(|i| (i.name.as_str(), i.span, "invariant"))
        .chain(temporal.iter().map(|t| (t.name.as_str(), t.span, "temporal property")))
        .chain(properties.iter().map(|p| (p.name.as_str(), p.span, "property")))
        .collect();
    for (k, (name, span, kind)) in named.iter().enumerate() {
        if *kind != "invariant" && BUILTIN_PROPERTY_IDS.contains(name) {
            let msg = format!("{kind} name `{name}` is the id of a built-in property");
            cx.error("parse.duplicate", *span, "name", msg);
        }
        if let Some((_, _, first)) =
            named[..k].iter().find(|(other, _, other_kind)| other == name && other_kind != kind)
        {
            let msg = format!(
                "{kind} `{name}` has the name of an existing {first}: verdicts need distinct names"
            );
            cx.error("parse.duplicate", *span, "name", msg);
        }
    }
}

#[cfg(test)]
mod tests;
