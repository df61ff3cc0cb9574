//! `[[mesh.filter]]`: custom filters as WebAssembly modules (guests/ABI.md, "Mesh filters"),
//! the proxy-wasm idea — code the proxy runs on every request it forwards — with fusebench's
//! guest ABI. Each filter names its module, the destination services whose requests it sees,
//! where it runs (the gateway, meshed callers' sidecars, or both) and what it is granted. The
//! filters form one chain, in the order they are written.

use std::collections::BTreeSet;

use serde::Serialize;

use super::super::NameRef;
use super::super::reader::{Cx, Obj};
use crate::capability::Capability;
use crate::diagnostic::{Span, did_you_mean};

/// Where a filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterAt {
    /// On client requests, at the gateway.
    Gateway,
    /// On calls, at the sidecar of a meshed caller (outbound).
    Sidecar,
    /// Both.
    Both,
}

impl FilterAt {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FilterAt::Gateway => "gateway",
            FilterAt::Sidecar => "sidecar",
            FilterAt::Both => "both",
        }
    }

    /// Whether it runs at the gateway.
    #[must_use]
    pub fn gateway(self) -> bool {
        matches!(self, FilterAt::Gateway | FilterAt::Both)
    }

    /// Whether it runs at meshed callers' sidecars.
    #[must_use]
    pub fn sidecar(self) -> bool {
        matches!(self, FilterAt::Sidecar | FilterAt::Both)
    }
}

/// The capabilities a filter may be granted: it runs inline in the proxy, so nothing that
/// waits on the simulated world (stores, calls, channels).
pub const FILTER_CAPABILITIES: [Capability; 3] =
    [Capability::Log, Capability::Clock, Capability::Random];

/// `[[mesh.filter]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshFilter {
    pub name: String,
    /// The module (`.wasm` or `.wat`), relative to the scenario file.
    pub module: NameRef,
    /// The destinations whose requests it sees; empty: every service.
    pub services: Vec<NameRef>,
    pub at: FilterAt,
    /// Granted capabilities (default: `log`); a subset of [`FILTER_CAPABILITIES`].
    pub capabilities: BTreeSet<Capability>,
    /// Fuel per call of the filter (default: the quality's `fuel_budget`).
    pub fuel_budget: Option<u64>,
    /// Memory limit of its instance (default: the quality's `memory_max_kib`).
    pub memory_max_kib: Option<u64>,
    /// The proxy's CPU cost of the fuel the filter burns, as a service's
    /// `service_time.ns_per_fuel`: that much CPU on the proxy's node (shared with the guests
    /// there) before the request is forwarded.
    pub ns_per_fuel: f64,
    /// The `[[mesh.push]]` (file index) that brings it; `None`: declared in `[[mesh.filter]]`.
    #[serde(skip)]
    pub pushed: Option<usize>,
    #[serde(skip)]
    pub span: Span,
}

impl MeshFilter {
    /// Whether it sees requests to `service`.
    #[must_use]
    pub fn applies_to(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s.name == service)
    }

    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<MeshFilter> {
        let name = o.req_str(cx, "name", "the filter's name (in traces and reports)");
        let module = o.req_str(cx, "module", "the filter's WebAssembly module (.wasm or .wat)");
        let services: Vec<NameRef> =
            o.str_list(cx, "services").into_iter().map(NameRef::from).collect();
        let at = o
            .opt_enum(
                cx,
                "at",
                &[
                    ("gateway", FilterAt::Gateway),
                    ("sidecar", FilterAt::Sidecar),
                    ("both", FilterAt::Both),
                ],
            )
            .unwrap_or(FilterAt::Both);
        let mut capabilities = BTreeSet::from([Capability::Log]);
        if o.has("capabilities") {
            capabilities.clear();
            for (cap, span) in o.str_list(cx, "capabilities") {
                match cap.parse::<Capability>() {
                    Ok(c) if FILTER_CAPABILITIES.contains(&c) => {
                        capabilities.insert(c);
                    }
                    Ok(c) => cx.error(
                        "parse.value",
                        span,
                        &o.field("capabilities"),
                        format!(
                            "a filter runs inline in the proxy and cannot be granted `{c}`: only log, clock, random"
                        ),
                    ),
                    Err(e) => cx.error_hint(
                        "parse.value",
                        span,
                        &o.field("capabilities"),
                        format!("{e} (a filter may have: log, clock, random)"),
                        did_you_mean(&cap, FILTER_CAPABILITIES.iter().map(|c| c.name()))
                            .map(|n| format!("did you mean `{n}`?")),
                    ),
                }
            }
        }
        let fuel_budget = o.opt_u64(cx, "fuel_budget", 1, 10_000_000_000);
        let memory_max_kib = o.opt_u64(cx, "memory_max_kib", 64, 4 * 1024 * 1024);
        let ns_per_fuel = o.opt_f64(cx, "ns_per_fuel", 0.0, 1e6).unwrap_or(1.0);
        let span = o.span;
        o.finish(cx);
        Some(MeshFilter {
            name: name?.0,
            module: module?.into(),
            services,
            at,
            capabilities,
            fuel_budget,
            memory_max_kib,
            ns_per_fuel,
            pushed: None,
            span,
        })
    }
}

/// Filter names are unique; every destination exists.
pub(crate) fn resolve(cx: &mut Cx<'_>, filters: &[MeshFilter], services: &[&str]) {
    resolve_at(cx, filters, services, "mesh.filter");
}

/// [`resolve`] for the filters at `at` (`mesh.filter`, or a push's `mesh.push[i].filter`).
pub(super) fn resolve_at(cx: &mut Cx<'_>, filters: &[MeshFilter], services: &[&str], at: &str) {
    for (i, f) in filters.iter().enumerate() {
        if let Some(first) = filters[..i].iter().find(|g| g.name == f.name) {
            let line = cx.locate(first.span).line;
            cx.error(
                "parse.duplicate",
                f.span,
                &format!("{at}[{i}].name"),
                format!("a second mesh filter named `{}` (the first is at line {line})", f.name),
            );
        }
        for s in &f.services {
            super::super::resolve::expect(
                cx,
                s,
                "service",
                &format!("{at}[{i}].services"),
                services,
            );
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
