//! `[[rollout]]`: a service's module replaced by a new version while the system runs, the
//! seed's "update without restart". Two strategies:
//!
//! - `rolling` — a Kubernetes Deployment's `RollingUpdate`: new replicas start beside the old
//!   ones (at most `max_surge` above the desired count), an old one drains only once enough new
//!   ones are ready (never more than `max_unavailable` below it). The defaults are Kubernetes':
//!   `max_surge` 25 % of the replicas rounded up (1 for 1–4 replicas), `max_unavailable` 25 %
//!   rounded down (0 for 1–3 replicas).
//! - `in-place` — every replica keeps running: between requests its idle instances are
//!   dropped and new invocations instantiate the new module, running ones finish on the old
//!   one (wasmtime-style module replacement behind a pooling allocator).
//!
//! A rollout may state what the new module changes in its endpoints' interfaces
//! (`[rollout.endpoints.<name>]`: `version`, `request`, `response` in the services' contract
//! syntax); the static check `rollout-contract` holds every caller against them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::reader::{Cx, Obj};
use super::service::{read_shape, read_version};
use super::{NameRef, Scenario};
use crate::contract::Shape;
use crate::diagnostic::Span;

/// How the new module replaces the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Replica by replica (Kubernetes `RollingUpdate`).
    Rolling,
    /// In every replica at once, between requests.
    InPlace,
}

/// What the new module changes in one endpoint's interface; what it leaves out is unchanged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointChange {
    /// The endpoint (a key of `[rollout.endpoints]`).
    pub endpoint: NameRef,
    pub version: Option<semver::Version>,
    pub request: Option<Shape>,
    pub response: Option<Shape>,
}

/// One `[[rollout]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub service: NameRef,
    /// The new module, relative to the scenario's directory.
    pub module: NameRef,
    pub at_s: f64,
    pub strategy: Strategy,
    /// Replicas above the desired count while rolling. `None` (unset, for an autoscaled
    /// service): Kubernetes' 25 % of the desired count at each moment, rounded up — the HPA
    /// moves the desired count during the rollout and the controller resolves its percentages
    /// against the current one. Unset for a service of fixed size: resolved here.
    pub max_surge: Option<u32>,
    /// Replicas below the desired count (ready) while rolling; `None` as for `max_surge`
    /// (25 % rounded down).
    pub max_unavailable: Option<u32>,
    /// How long a new replica takes to become ready once started.
    pub startup_ms: f64,
    /// How long an old replica keeps serving after it left the registry, before it drains (a
    /// pod's `preStop` sleep); `None`: the registry's `discovery_cache_ms`, so that no
    /// caller's cached discovery still names it when it stops taking requests.
    pub drain_delay_ms: Option<f64>,
    pub endpoints: Vec<EndpointChange>,
    #[serde(skip)]
    pub span: Span,
}

/// A new replica's start-up delay when the rollout states none.
pub const STARTUP_MS_DEFAULT: f64 = 1000.0;

impl Rollout {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Rollout> {
        let service = o.req_str(cx, "service", "the service whose module is replaced");
        let module = o.req_str(cx, "module", "the new module (`.wasm` or `.wat`)");
        let at_s = o.req_f64(cx, "at_s", 0.0, 1e9, "when the rollout starts, seconds");
        let strategy = o
            .opt_enum(
                cx,
                "strategy",
                &[("rolling", Strategy::Rolling), ("in-place", Strategy::InPlace)],
            )
            .unwrap_or(Strategy::Rolling);
        let max_surge = o.opt_u64(cx, "max_surge", 0, 10_000).map(|n| n as u32);
        let max_unavailable = o.opt_u64(cx, "max_unavailable", 0, 10_000).map(|n| n as u32);
        let startup_ms = o.opt_f64(cx, "startup_ms", 0.0, 3.6e6).unwrap_or(STARTUP_MS_DEFAULT);
        let drain_delay_ms = o.opt_f64(cx, "drain_delay_ms", 0.0, 3.6e6);
        let mut endpoints = Vec::new();
        if let Some(table) = o.opt_table(cx, "endpoints") {
            for (name, span, value) in table.entries() {
                let path = table.field(name);
                let Some(mut e) = Obj::of(cx, value, &path) else { continue };
                let version = read_version(cx, &mut e, "version");
                let request = e.get("request").and_then(|v| read_shape(cx, v, &e.field("request")));
                let response =
                    e.get("response").and_then(|v| read_shape(cx, v, &e.field("response")));
                e.finish(cx);
                let endpoint = NameRef { name: name.to_owned(), span };
                endpoints.push(EndpointChange { endpoint, version, request, response });
            }
            // Its keys are endpoint names (data), resolved against the service later.
        }
        if (strategy == Strategy::InPlace)
            && (max_surge.is_some() || max_unavailable.is_some() || drain_delay_ms.is_some())
        {
            let msg = "`max_surge`, `max_unavailable` and `drain_delay_ms` apply to a rolling rollout only (an in-place one keeps every replica)";
            cx.error("parse.value", o.span, &o.field("strategy"), msg);
        }
        if max_surge == Some(0) && max_unavailable.is_none_or(|n| n == 0) {
            let msg = "`max_surge` and `max_unavailable` cannot both be 0: the rollout could never make progress (Kubernetes refuses it too)";
            cx.error("parse.value", o.span, &o.field("max_surge"), msg);
        }
        let span = o.span;
        o.finish(cx);
        Some(Rollout {
            service: service?.into(),
            module: module?.into(),
            at_s: at_s?,
            strategy,
            // Resolved against the service's replicas by `resolve` (Kubernetes' 25 %), or
            // left to the simulator for an autoscaled service.
            max_surge,
            max_unavailable,
            startup_ms,
            drain_delay_ms,
            endpoints,
            span,
        })
    }

    /// The endpoint as callers see it once the new module serves it: `old` with what the
    /// rollout changes.
    #[must_use]
    pub fn endpoint_after(&self, old: &super::Endpoint) -> super::Endpoint {
        let mut new = old.clone();
        if let Some(c) = self.endpoints.iter().find(|c| c.endpoint.name == old.name) {
            if let Some(v) = &c.version {
                new.version = v.clone();
            }
            if let Some(r) = &c.request {
                new.request = r.clone();
            }
            if let Some(r) = &c.response {
                new.response = r.clone();
            }
        }
        new
    }
}

/// Kubernetes' default `maxSurge`: 25 % of the replicas, rounded up.
#[must_use]
pub fn default_max_surge(replicas: u32) -> u32 {
    replicas.div_ceil(4)
}

/// Kubernetes' default `maxUnavailable`: 25 % of the replicas, rounded down.
#[must_use]
pub fn default_max_unavailable(replicas: u32) -> u32 {
    replicas / 4
}

/// Every rollout names a service with a module (one rollout per service) and endpoints it
/// has; unset surge and unavailability get Kubernetes' defaults — for an autoscaled service
/// they stay unset, resolved against the desired count of the moment while it rolls.
pub(crate) fn resolve(cx: &mut Cx<'_>, s: &mut Scenario) {
    let services: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut defaults = Vec::with_capacity(s.rollouts.len());
    for (i, r) in s.rollouts.iter().enumerate() {
        let field = format!("rollout[{i}]");
        if !super::resolve::expect(
            cx,
            &r.service,
            "service",
            &format!("{field}.service"),
            &services,
        ) {
            defaults.push(None);
            continue;
        }
        let Some(svc) = s.service(&r.service.name) else {
            defaults.push(None);
            continue;
        };
        if seen.insert(svc.name.clone(), ()).is_some() {
            let msg = format!("a second rollout of `{}`: one rollout per service", svc.name);
            cx.error("parse.duplicate", r.span, &format!("{field}.service"), msg);
        }
        if svc.module.is_none() {
            let msg = format!(
                "`{}` has no module to replace (an abstract service): a rollout brings a new module",
                svc.name
            );
            cx.error("parse.value", r.service.span, &format!("{field}.service"), msg);
        }
        for c in &r.endpoints {
            if svc.endpoint(&c.endpoint.name).is_none() {
                let known: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
                super::resolve::expect(
                    cx,
                    &c.endpoint,
                    &format!("endpoint of `{}`", svc.name),
                    &format!("{field}.endpoints"),
                    &known,
                );
            }
        }
        defaults.push(svc.autoscale.is_none().then_some(svc.replicas));
    }
    for (r, replicas) in s.rollouts.iter_mut().zip(defaults) {
        let Some(replicas) = replicas else { continue };
        let surge = *r.max_surge.get_or_insert(default_max_surge(replicas));
        let unavailable = *r.max_unavailable.get_or_insert(default_max_unavailable(replicas));
        if surge == 0 && unavailable == 0 {
            let msg = "with these replicas `max_surge` and `max_unavailable` are both 0: the rollout could never make progress";
            cx.error("parse.value", r.span, "rollout.max_surge", msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Strategy, parse};

    const BASE: &str = r#"
[system]
name = "t"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[service]]
name = "a"
context = "c"
node = "n"
module = "a.wat"
replicas = 3
[[service.endpoint]]
name = "get"
response = { id = "string", price = "number" }
"#;

    fn parse_with(extra: &str) -> crate::scenario::Parsed {
        parse("t.toml", &format!("{BASE}{extra}"))
    }

    #[test]
    fn reads_a_rolling_rollout_with_kubernetes_defaults_and_a_contract_change() {
        let p = parse_with(
            "[[rollout]]\nservice = \"a\"\nmodule = \"a2.wat\"\nat_s = 2\n[rollout.endpoints.get]\nversion = \"2.0.0\"\nresponse = { id = \"string\" }\n",
        );
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let s = p.ok().expect("parsed");
        let r = &s.rollouts[0];
        assert_eq!(
            (r.strategy, r.max_surge, r.max_unavailable),
            (Strategy::Rolling, Some(1), Some(0))
        );
        let after = r.endpoint_after(&s.services[0].endpoints[0]);
        assert_eq!(after.version.to_string(), "2.0.0");
        assert!(
            after.response.fields.contains_key("id")
                && !after.response.fields.contains_key("price")
        );
    }

    #[test]
    fn an_autoscaled_services_rollout_resolves_its_limits_against_the_desired_count() {
        // Unset: left to the simulator (25 % of the desired count of the moment); stated: kept.
        let scaled = BASE.replace(
            "replicas = 3\n",
            "replicas = 3\n[service.autoscale]\nmin_replicas = 1\nmax_replicas = 8\nmetric = \"concurrency\"\ntarget = 1\n",
        );
        let rollout = "[[rollout]]\nservice = \"a\"\nmodule = \"a2.wat\"\nat_s = 2\n";
        let p = parse("t.toml", &format!("{scaled}{rollout}"));
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let s = p.ok().expect("parsed");
        assert_eq!((s.rollouts[0].max_surge, s.rollouts[0].max_unavailable), (None, None));
        let p = parse("t.toml", &format!("{scaled}{rollout}max_unavailable = 1\n"));
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let s = p.ok().expect("parsed");
        assert_eq!((s.rollouts[0].max_surge, s.rollouts[0].max_unavailable), (None, Some(1)));
    }

    #[test]
    fn refuses_bad_rollouts_with_located_errors() {
        for (extra, needle) in [
            ("[[rollout]]\nservice = \"b\"\nmodule = \"x.wat\"\nat_s = 1\n", "unknown service `b`"),
            (
                "[[rollout]]\nservice = \"a\"\nmodule = \"x.wat\"\nat_s = 1\nsurge = 1\n",
                "unknown field `surge`",
            ),
            (
                "[[rollout]]\nservice = \"a\"\nmodule = \"x.wat\"\nat_s = 1\nmax_surge = 0\n",
                "both be 0",
            ),
            (
                "[[rollout]]\nservice = \"a\"\nmodule = \"x.wat\"\nat_s = 1\nstrategy = \"in-place\"\nmax_surge = 2\n",
                "rolling rollout only",
            ),
            (
                "[[rollout]]\nservice = \"a\"\nmodule = \"x.wat\"\nat_s = 1\n[rollout.endpoints.put]\nversion = \"2.0.0\"\n",
                "unknown endpoint of `a` `put`",
            ),
            (
                "[[rollout]]\nservice = \"a\"\nmodule = \"x.wat\"\nat_s = 1\n[[rollout]]\nservice = \"a\"\nmodule = \"y.wat\"\nat_s = 2\n",
                "one rollout per service",
            ),
            ("[[rollout]]\nservice = \"a\"\nat_s = 1\n", "missing required field `module`"),
        ] {
            let p = parse_with(extra);
            let d = p.diagnostics.iter().find(|d| d.message.contains(needle));
            let d = d.unwrap_or_else(|| panic!("no `{needle}` in {:?}", p.diagnostics));
            assert!(
                d.location.as_ref().is_some_and(|l| l.line > 14),
                "located in the rollout: {d:?}"
            );
        }
    }
}
