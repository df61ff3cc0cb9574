//! Version subsets, weighted and header-based routing, and the control plane that changes them:
//!
//! - `[[mesh.subset]]` — Istio's DestinationRule `subsets` (a subset selects a destination's
//!   pods by their `version` label): the service's declared replicas are one subset (no
//!   `replicas`, no `module`), and each subset with `replicas` is a second Deployment of the
//!   service, labelled with its own version, running `module` (default: the declared one);
//! - `[[mesh.route]]` — Istio's VirtualService `http.route` with `weight`s per subset (they sum
//!   to 100) and `http.match.headers` (exact values; the first matching rule sends the request
//!   to its subset, else the weights decide);
//!
//! A `[[mesh.push]]` (`push.rs`) may replace a destination's route at a later time.

use serde::Serialize;

use super::super::reader::{Cx, Obj, Value, span_of, type_name};
use super::super::{NameRef, Scenario};
use crate::diagnostic::{Span, did_you_mean};

/// `[[mesh.subset]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subset {
    pub service: NameRef,
    pub name: NameRef,
    /// The module its replicas run (only with `replicas`; default: the declared module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<NameRef>,
    /// Its own replicas (a second Deployment); `None`: the service's declared replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip)]
    pub span: Span,
}

/// One weight of a route: `subset` gets `percent` % of the requests no header rule took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weight {
    pub subset: NameRef,
    pub percent: u32,
}

/// `match = [{ headers = {...}, subset = "..." }]`: Istio's `http.match.headers` with `exact`
/// values; every header listed must be present with that value (names are case-insensitive,
/// kept lower-case as HTTP/2 carries them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeaderMatch {
    pub headers: Vec<(String, String)>,
    pub subset: NameRef,
    #[serde(skip)]
    pub span: Span,
}

impl HeaderMatch {
    /// Whether a request with `headers` matches.
    #[must_use]
    pub fn matches(&self, headers: &std::collections::BTreeMap<String, String>) -> bool {
        self.headers.iter().all(|(k, v)| headers.get(k) == Some(v))
    }
}

/// `[[mesh.route]]` (and what a `[[mesh.push]]` replaces it with).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub service: NameRef,
    pub weights: Vec<Weight>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HeaderMatch>,
    #[serde(skip)]
    pub span: Span,
}

impl Subset {
    pub(super) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Subset> {
        let service = o.req_str(cx, "service", "the destination service");
        let name = o.req_str(cx, "name", "the subset's name (its version label)");
        let module = o.opt_str(cx, "module").map(NameRef::from);
        let replicas = o.opt_u64(cx, "replicas", 1, 10_000).map(|n| n as u32);
        if module.is_some() && replicas.is_none() {
            let msg = "a subset with its own `module` is a second Deployment: give it `replicas` too (without them the subset is the service's declared replicas, running the declared module)";
            cx.error("parse.missing-field", o.span, &o.field("replicas"), msg);
        }
        let span = o.span;
        o.finish(cx);
        Some(Subset { service: service?.into(), name: name?.into(), module, replicas, span })
    }
}

impl Route {
    pub(super) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>) -> Option<Route> {
        let service = o.req_str(cx, "service", "the destination service");
        let weights = match o.get("weights") {
            Some(v) => read_weights(cx, v, &o.field("weights")),
            None => {
                let msg = "missing required field `weights` (percent per subset, e.g. `{ v1 = 90, v2 = 10 }`)";
                cx.error("parse.missing-field", o.span, &o.field("weights"), msg);
                None
            }
        };
        let mut matches = Vec::new();
        if let Some(v) = o.get("match") {
            let field = o.field("match");
            match v.get_ref().as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("{field}[{i}]");
                        let Some(mut m) = Obj::of(cx, item, &path) else { continue };
                        let subset = m.req_str(cx, "subset", "where matching requests go");
                        let mut headers = Vec::new();
                        match m.opt_table(cx, "headers") {
                            Some(h) => {
                                for (k, span, value) in h.entries() {
                                    match value.get_ref().as_str() {
                                        Some(s) => headers.push((k.to_ascii_lowercase(), s.to_owned())),
                                        None => cx.error(
                                            "parse.type",
                                            span,
                                            &h.field(k),
                                            format!(
                                                "header `{k}` must be a string (the exact value), found {}",
                                                type_name(value.get_ref())
                                            ),
                                        ),
                                    }
                                }
                                if headers.is_empty() {
                                    let msg = "a header rule with no header would match every request: list at least one";
                                    cx.error("parse.value", h.span, &h.field(""), msg);
                                }
                            }
                            None => {
                                let msg = "missing required field `headers` (exact header values a request must carry)";
                                cx.error("parse.missing-field", m.span, &m.field("headers"), msg);
                            }
                        }
                        let span = m.span;
                        m.finish(cx);
                        if let Some(subset) = subset {
                            matches.push(HeaderMatch { headers, subset: subset.into(), span });
                        }
                    }
                }
                None => cx.error(
                    "parse.type",
                    span_of(v),
                    &field,
                    format!(
                        "`match` must be an array of `{{ headers = {{...}}, subset = \"...\" }}`, found {}",
                        type_name(v.get_ref())
                    ),
                ),
            }
        }
        Some(Route { service: service?.into(), weights: weights?, matches, span: o.span })
    }
}

/// `weights = { v1 = 90, v2 = 10 }`: whole percentages, summing to 100.
fn read_weights(cx: &mut Cx<'_>, v: &Value<'_>, field: &str) -> Option<Vec<Weight>> {
    let o = Obj::of(cx, v, field)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (name, span, value) in o.entries() {
        let n = match value.get_ref() {
            toml::de::DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        match n.filter(|n| *n <= 100) {
            Some(n) => out.push(Weight {
                subset: NameRef { name: name.to_owned(), span },
                percent: n as u32,
            }),
            None => {
                ok = false;
                cx.error(
                    "parse.range",
                    span_of(value),
                    &o.field(name),
                    format!("the weight of subset `{name}` must be a whole percentage, 0 to 100"),
                );
            }
        }
    }
    let total: u32 = out.iter().map(|w| w.percent).sum();
    if ok && total != 100 {
        cx.error(
            "parse.value",
            o.span,
            field,
            format!("the weights sum to {total}, not 100 (Istio's route weights are percentages)"),
        );
        return None;
    }
    ok.then_some(out)
}

/// The subsets of a destination, its route: every name resolves; one route per
/// destination; a subset with its own module belongs to a service with a module, not
/// autoscaled and not rolled out (its replicas are a Deployment of their own).
pub(crate) fn resolve(cx: &mut Cx<'_>, s: &Scenario, services: &[&str]) {
    let Some(mesh) = &s.mesh else { return };
    let expect = super::super::resolve::expect;
    for (i, sub) in mesh.subsets.iter().enumerate() {
        let field = format!("mesh.subset[{i}]");
        if !expect(cx, &sub.service, "service", &format!("{field}.service"), services) {
            continue;
        }
        let Some(svc) = s.service(&sub.service.name) else { continue };
        if let Some(first) = mesh.subsets[..i]
            .iter()
            .find(|o| o.service.name == sub.service.name && o.name.name == sub.name.name)
        {
            let line = cx.locate(first.span).line;
            let msg = format!(
                "a second subset `{}` of `{}` (the first is at line {line})",
                sub.name.name, svc.name
            );
            cx.error("parse.duplicate", sub.name.span, &format!("{field}.name"), msg);
        }
        if sub.replicas.is_none()
            && mesh.subsets[..i]
                .iter()
                .any(|o| o.service.name == sub.service.name && o.replicas.is_none())
        {
            let msg = format!(
                "two subsets of `{}` without `replicas` would both be its declared replicas: give the second its own `replicas`",
                svc.name
            );
            cx.error("parse.value", sub.span, &format!("{field}.replicas"), msg);
        }
        if sub.module.is_some() && svc.module.is_none() {
            let msg = format!(
                "`{}` is an abstract service (no module): a subset cannot run a module",
                svc.name
            );
            cx.error("parse.value", sub.span, &format!("{field}.module"), msg);
        }
        if sub.replicas.is_some() && svc.autoscale.is_some() {
            let msg = format!(
                "`{}` is autoscaled: a subset with its own replicas of an autoscaled service is not supported",
                svc.name
            );
            cx.error("parse.value", sub.span, &format!("{field}.replicas"), msg);
        }
        // A rollout replaces the module of the service's replicas, and a subset is told apart
        // by the module (version) its replicas run: like a `module-swap` (`refuse_swaps`), it
        // would leave a route's subsets without replicas, whether the subset is the declared
        // replicas or a Deployment of its own.
        if s.rollouts.iter().any(|r| r.service.name == svc.name) {
            let msg = format!(
                "`{}` has a `[[rollout]]`: a rollout and version subsets of one service are not supported together (a canary is pushed as route weights)",
                svc.name
            );
            cx.error("parse.value", sub.span, &field, msg);
        }
    }
    refuse_swaps(cx, s, mesh);
    for (i, r) in mesh.routes.iter().enumerate() {
        let field = format!("mesh.route[{i}]");
        resolve_route(cx, mesh, r, &field, services);
        if let Some(first) = mesh.routes[..i].iter().find(|o| o.service.name == r.service.name) {
            let line = cx.locate(first.span).line;
            let msg = format!(
                "a second route for `{}` (the first is at line {line}): one route per destination",
                r.service.name
            );
            cx.error("parse.duplicate", r.service.span, &format!("{field}.service"), msg);
        }
    }
}

/// A `module-swap` fault replaces the module of every replica of its service at once; a
/// service with version subsets is several Deployments told apart by their version label
/// (Istio's DestinationRule subsets), and flipping them all to one module would leave every
/// subset running it — and the routes' subsets matching no replica. An Istio user changes one
/// Deployment's image: here, a subset's own `module`, shifted to by pushed route weights. So a
/// swap of a subsetted service is refused, located at the fault, with that hint.
fn refuse_swaps(cx: &mut Cx<'_>, s: &Scenario, mesh: &super::Mesh) {
    use super::super::{FaultKind, FaultTarget};
    for (i, f) in s.faults.iter().enumerate() {
        let (FaultKind::ModuleSwap { .. }, FaultTarget::Service { service, .. }) =
            (&f.kind, &f.target)
        else {
            continue;
        };
        let subsets: Vec<&str> = mesh
            .subsets
            .iter()
            .filter(|x| x.service.name == service.name)
            .map(|x| x.name.name.as_str())
            .collect();
        if subsets.is_empty() {
            continue;
        }
        let msg = format!(
            "a `module-swap` of `{}`, which has version subsets ({}): the swap would replace every subset's module at once, so no replica would be left in the subsets its routes name",
            service.name,
            subsets.join(", ")
        );
        let hint = "give the new module to a subset of its own (`[[mesh.subset]]` with `module` and `replicas`) and shift traffic to it with route weights (`[[mesh.push]]`), as an Istio canary updates one Deployment".to_owned();
        cx.error_hint("parse.value", f.span, &format!("fault[{i}].kind"), msg, Some(hint));
    }
}

pub(super) fn resolve_route(
    cx: &mut Cx<'_>,
    mesh: &super::Mesh,
    r: &Route,
    field: &str,
    services: &[&str],
) {
    if !super::super::resolve::expect(
        cx,
        &r.service,
        "service",
        &format!("{field}.service"),
        services,
    ) {
        return;
    }
    let known: Vec<&str> = mesh
        .subsets
        .iter()
        .filter(|s| s.service.name == r.service.name)
        .map(|s| s.name.name.as_str())
        .collect();
    if known.is_empty() {
        let msg = format!(
            "`{}` has no `[[mesh.subset]]`: a route splits requests between subsets",
            r.service.name
        );
        cx.error("parse.unknown-reference", r.service.span, &format!("{field}.service"), msg);
        return;
    }
    let names = r
        .weights
        .iter()
        .map(|w| (&w.subset, "weights"))
        .chain(r.matches.iter().map(|m| (&m.subset, "match")));
    for (subset, key) in names {
        if known.contains(&subset.name.as_str()) {
            continue;
        }
        let hint = did_you_mean(&subset.name, known.iter().copied())
            .map(|n| format!("did you mean `{n}`?"))
            .or_else(|| Some(format!("subsets of `{}`: {}", r.service.name, known.join(", "))));
        cx.error_hint(
            "parse.unknown-reference",
            subset.span,
            &format!("{field}.{key}"),
            format!("unknown subset `{}` of `{}`", subset.name, r.service.name),
            hint,
        );
    }
}

#[cfg(test)]
mod tests;
