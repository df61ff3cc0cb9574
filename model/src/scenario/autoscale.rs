//! `[service.autoscale]`: a service whose replica count follows its load, as the Kubernetes
//! Horizontal Pod Autoscaler (`autoscaling/v2`, with its `behavior` defaults) sets a
//! Deployment's, and, for consumers, on their broker backlog as KEDA's queue scalers do.
//!
//! The simulator (`sim/src/system/autoscale.rs`) applies it; this file only reads and checks it.

mod policy;

use serde::Serialize;

pub use policy::{Forecast, PolicyModule, ScalePolicy};

use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

/// What the autoscaler measures, per replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleMetric {
    /// Requests in the replica (running and queued), averaged over the last interval: HPA with
    /// a per-pod `AverageValue` target, Knative's concurrency target.
    Concurrency,
    /// CPU used over the last interval as a percentage of `cpu_request`: HPA's resource metric
    /// with an `averageUtilization` target.
    Utilisation,
    /// Messages the service's consumer groups have not acknowledged, per replica: KEDA's queue
    /// length scalers (an external metric with an `AverageValue` target).
    Queue,
}

impl ScaleMetric {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ScaleMetric::Concurrency => "concurrency",
            ScaleMetric::Utilisation => "utilisation",
            ScaleMetric::Queue => "queue",
        }
    }
}

/// What starting a replica costs on top of `startup_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColdStart {
    /// `startup_ms` alone.
    Declared,
    /// `startup_ms`, plus fetching the module to the node (the node's `module_fetch`), plus
    /// compiling it (its code section's size times the host's calibrated cost per byte), plus
    /// instantiating it (the host's calibrated constant): what the simulated runtime pays.
    Module,
}

impl ColdStart {
    fn is_declared(&self) -> bool {
        *self == ColdStart::Declared
    }
}

/// Scale to zero in the style of Knative's autoscaler (`min_replicas = 0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScaleToZero {
    /// How long the service must have had no request before its last replica goes (Knative's
    /// `scale-to-zero-grace-period`, default 30 s).
    pub grace_s: f64,
    /// Requests the activator holds while no replica is ready; one more is refused (default 100).
    pub activator_capacity: u32,
    /// How long a request may wait in the activator before it fails (Knative's revision
    /// `timeoutSeconds`, default 300 s).
    pub activator_timeout_s: f64,
}

/// A service's autoscaling policy. Times in seconds unless the name says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoscale {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metric: ScaleMetric,
    /// The per-replica value aimed at: requests (concurrency), percent of `cpu_request`
    /// (utilisation), messages (queue).
    pub target: f64,
    /// How often the autoscaler decides (HPA's `--horizontal-pod-autoscaler-sync-period`).
    pub interval_s: f64,
    /// A ratio of metric to target within 1 ± tolerance changes nothing (HPA: 0.1).
    pub tolerance: f64,
    /// Scale up to the lowest recommendation of this window (HPA default 0).
    pub scale_up_stabilisation_s: f64,
    /// Scale down to the highest recommendation of this window (HPA default 300).
    pub scale_down_stabilisation_s: f64,
    /// Scale-up policies (HPA defaults: 100 % or 4 pods per 15 s, whichever allows more).
    pub scale_up_percent: f64,
    pub scale_up_pods: u32,
    pub scale_up_period_s: f64,
    /// Scale-down policy (HPA default: 100 % per 15 s).
    pub scale_down_percent: f64,
    pub scale_down_period_s: f64,
    /// From placement to ready (and registered): image pull, module compilation, warm-up.
    pub startup_ms: f64,
    /// Cores one replica requests (Kubernetes `resources.requests.cpu`): placement counts it,
    /// and `utilisation` is measured against it.
    pub cpu_request: Option<f64>,
    /// What a replica start costs besides `startup_ms`.
    #[serde(skip_serializing_if = "ColdStart::is_declared")]
    pub cold_start: ColdStart,
    /// `Some` when `min_replicas = 0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_to_zero: Option<ScaleToZero>,
    /// What turns the metric into a desired count (default: the HPA's reactive formula).
    #[serde(skip_serializing_if = "ScalePolicy::is_reactive")]
    pub policy: ScalePolicy,
    #[serde(skip)]
    pub span: Span,
}

impl Autoscale {
    /// Reads the table; `replicas` is the service's declared (initial) count, which must lie
    /// within `[min_replicas, max_replicas]`; `consumes` whether it subscribes to a channel.
    pub(crate) fn read(
        cx: &mut Cx<'_>,
        mut o: Obj<'_, '_>,
        replicas: u32,
        consumes: bool,
    ) -> Option<Autoscale> {
        let min = o.opt_u64(cx, "min_replicas", 0, 10_000).unwrap_or(1);
        let max = o.req_u64(cx, "max_replicas", 1, 10_000, "the most replicas it may scale to");
        let metric = if o.has("metric") {
            o.opt_enum(
                cx,
                "metric",
                &[
                    ("concurrency", ScaleMetric::Concurrency),
                    ("utilisation", ScaleMetric::Utilisation),
                    ("queue", ScaleMetric::Queue),
                ],
            )
        } else {
            let msg = "missing required field `metric` (`concurrency`, `utilisation` or `queue`)";
            cx.error("parse.missing-field", o.span, &o.field("metric"), msg);
            None
        };
        let target = o.req_f64(cx, "target", 1e-3, 1e9, "the per-replica value aimed at");
        let interval_s = o.opt_f64(cx, "interval_s", 0.1, 3600.0).unwrap_or(15.0);
        let tolerance = o.opt_f64(cx, "tolerance", 0.0, 1.0).unwrap_or(0.1);
        let up_window = o.opt_f64(cx, "scale_up_stabilisation_s", 0.0, 3600.0).unwrap_or(0.0);
        let down_window = o.opt_f64(cx, "scale_down_stabilisation_s", 0.0, 3600.0).unwrap_or(300.0);
        let scale_up_percent = o.opt_f64(cx, "scale_up_percent", 0.0, 10_000.0).unwrap_or(100.0);
        let scale_up_pods = o.opt_u64(cx, "scale_up_pods", 0, 10_000).unwrap_or(4);
        let scale_up_period_s = o.opt_f64(cx, "scale_up_period_s", 1.0, 1800.0).unwrap_or(15.0);
        let scale_down_percent = o.opt_f64(cx, "scale_down_percent", 0.0, 100.0).unwrap_or(100.0);
        let scale_down_period_s = o.opt_f64(cx, "scale_down_period_s", 1.0, 1800.0).unwrap_or(15.0);
        let startup_ms = o.opt_f64(cx, "startup_ms", 0.0, 3.6e6).unwrap_or(0.0);
        let cpu_request = o.opt_f64(cx, "cpu_request", 1e-3, 1e5);
        let cold_start = if o.has("cold_start") {
            o.opt_enum(
                cx,
                "cold_start",
                &[("declared", ColdStart::Declared), ("module", ColdStart::Module)],
            )
        } else {
            Some(ColdStart::Declared)
        };
        let zero_keys = ["scale_to_zero_grace_s", "activator_capacity", "activator_timeout_s"];
        let zero_key = zero_keys.into_iter().find(|&k| o.has(k));
        let grace_s = o.opt_f64(cx, "scale_to_zero_grace_s", 0.0, 86_400.0).unwrap_or(30.0);
        let activator_capacity = o.opt_u64(cx, "activator_capacity", 1, 1_000_000).unwrap_or(100);
        let activator_timeout_s =
            o.opt_f64(cx, "activator_timeout_s", 0.001, 86_400.0).unwrap_or(300.0);
        let policy = policy::read(cx, &mut o);
        let span = o.span;
        let field = |k: &str| o.field(k);
        let (f_max, f_metric) = (field("max_replicas"), field("metric"));
        let f_zero = zero_key.map(&field);
        o.finish(cx);
        let scale_to_zero = (min == 0).then(|| ScaleToZero {
            grace_s,
            activator_capacity: u32::try_from(activator_capacity).unwrap_or(u32::MAX),
            activator_timeout_s,
        });
        if let (Some(f_zero), false) = (&f_zero, min == 0) {
            let msg = "scale-to-zero settings (`scale_to_zero_grace_s`, `activator_capacity`, `activator_timeout_s`) apply only with `min_replicas` = 0";
            cx.error("parse.value", span, f_zero, msg);
            return None;
        }
        if min == 0 && metric == Some(ScaleMetric::Utilisation) {
            let msg = "`min_replicas` = 0 scales from zero on requests (concurrency) or backlog (queue): with no replica there is no utilisation to measure";
            cx.error("parse.value", span, &f_metric, msg);
            return None;
        }
        let max = max?;
        let (min, max) = (u32::try_from(min).ok()?, u32::try_from(max).ok()?);
        if min > max {
            let msg = format!("`min_replicas` = {min} exceeds `max_replicas` = {max}");
            cx.error("parse.range", span, &f_max, msg);
            return None;
        }
        if !(min..=max).contains(&replicas) {
            let msg = format!(
                "the service starts with `replicas` = {replicas}, outside `min_replicas` = {min} ..= `max_replicas` = {max}"
            );
            cx.error("parse.range", span, &f_max, msg);
            return None;
        }
        let metric = metric?;
        if metric == ScaleMetric::Utilisation && cpu_request.is_none() {
            let msg = "`metric = \"utilisation\"` is measured against `cpu_request` (cores per replica), which is missing";
            cx.error("parse.missing-field", span, &f_metric, msg);
            return None;
        }
        if metric == ScaleMetric::Queue && !consumes {
            let msg = "`metric = \"queue\"` scales on the backlog of the service's subscriptions, and it has no `[[service.subscribe]]`";
            cx.error("parse.value", span, &f_metric, msg);
            return None;
        }
        Some(Autoscale {
            min_replicas: min,
            max_replicas: max,
            metric,
            target: target?,
            interval_s,
            tolerance,
            scale_up_stabilisation_s: up_window,
            scale_down_stabilisation_s: down_window,
            scale_up_percent,
            scale_up_pods: u32::try_from(scale_up_pods).unwrap_or(u32::MAX),
            scale_up_period_s,
            scale_down_percent,
            scale_down_period_s,
            startup_ms,
            cpu_request,
            cold_start: cold_start?,
            scale_to_zero,
            policy: policy?,
            span,
        })
    }
}
