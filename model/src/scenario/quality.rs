//! Q: quality targets — latency SLOs, availability, throughput, coupling and cohesion thresholds,
//! and the default resource budgets of a module instance.

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// Coupling(s_i, s_j) must stay below this (see `scenarios/README.md` for the metric).
    pub coupling_max: f64,
    /// Cohesion(s) must stay above this.
    pub cohesion_min: f64,
    /// Default fuel one invocation may burn, for services that set none.
    pub fuel_budget: u64,
    /// Default memory one instance may grow to, in KiB.
    pub memory_max_kib: u64,
    /// After faults heal and traffic stops, replicas must agree within this long.
    pub convergence_ms: f64,
    /// Requests reaching a service per client request on a call path, at most (the static
    /// `mesh-retry-amplification` check and the `retry-amplification` property; default 10).
    /// Left out of the serialisation when unset, so replay hashes stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_amplification_max: Option<f64>,
    pub slos: Vec<Slo>,
}

/// The default of `quality.retry_amplification_max`.
pub const RETRY_AMPLIFICATION_MAX: f64 = 10.0;

impl Quality {
    /// `retry_amplification_max`, or its default.
    #[must_use]
    pub fn retry_amplification_max(&self) -> f64 {
        self.retry_amplification_max.unwrap_or(RETRY_AMPLIFICATION_MAX)
    }
}

impl Default for Quality {
    fn default() -> Self {
        Quality {
            coupling_max: 0.5,
            cohesion_min: 0.2,
            fuel_budget: 50_000_000,
            memory_max_kib: 2048,
            convergence_ms: 5000.0,
            retry_amplification_max: None,
            slos: Vec::new(),
        }
    }
}

/// A service-level objective for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    pub service: NameRef,
    pub endpoint: NameRef,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Fraction of requests answered successfully, e.g. 0.999.
    pub availability: Option<f64>,
    pub throughput_min_rps: Option<f64>,
    #[serde(skip)]
    pub span: Span,
}

impl Quality {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Quality {
        let d = Quality::default();
        let coupling_max = o.opt_f64(cx, "coupling_max", 0.0, 1.0).unwrap_or(d.coupling_max);
        let cohesion_min = o.opt_f64(cx, "cohesion_min", 0.0, 1.0).unwrap_or(d.cohesion_min);
        let fuel_budget = o.opt_u64(cx, "fuel_budget", 1_000, 1 << 40).unwrap_or(d.fuel_budget);
        let memory_max_kib =
            o.opt_u64(cx, "memory_max_kib", 64, 4 << 20).unwrap_or(d.memory_max_kib);
        let convergence_ms =
            o.opt_f64(cx, "convergence_ms", 0.0, 3.6e6).unwrap_or(d.convergence_ms);
        let retry_amplification_max = o.opt_f64(cx, "retry_amplification_max", 1.0, 1e6);
        let slos = o.table_list(cx, "slo").into_iter().filter_map(|t| Slo::read(cx, t)).collect();
        o.finish(cx);
        Quality {
            coupling_max,
            cohesion_min,
            fuel_budget,
            memory_max_kib,
            convergence_ms,
            retry_amplification_max,
            slos,
        }
    }
}

impl Slo {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Slo> {
        let service = o.req_str(cx, "service", "the service");
        let endpoint = o.req_str(cx, "endpoint", "the endpoint");
        let p50_ms = o.opt_f64(cx, "p50_ms", 0.0, 3.6e6);
        let p99_ms = o.opt_f64(cx, "p99_ms", 0.0, 3.6e6);
        let availability = o.opt_f64(cx, "availability", 0.0, 1.0);
        let throughput_min_rps = o.opt_f64(cx, "throughput_min_rps", 0.0, 1e9);
        let span = o.span;
        if let (Some(p50), Some(p99)) = (p50_ms, p99_ms)
            && p50 > p99
        {
            cx.error(
                "parse.range",
                span,
                &o.field("p50_ms"),
                format!("p50_ms ({p50}) must not exceed p99_ms ({p99})"),
            );
        }
        o.finish(cx);
        Some(Slo {
            service: service?.into(),
            endpoint: endpoint?.into(),
            p50_ms,
            p99_ms,
            availability,
            throughput_min_rps,
            span,
        })
    }
}
