//! `[service.autoscale]`: a service whose replica count follows its load, as the Kubernetes
//! Horizontal Pod Autoscaler (`autoscaling/v2`, with its `behavior` defaults) sets a
//! Deployment's, and, for consumers, on their broker backlog as KEDA's queue scalers do.
//!
//! The simulator (`sim/src/system/autoscale.rs`) applies it; this file only reads and checks it.

use serde::Serialize;

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
        let span = o.span;
        let field = |k: &str| o.field(k);
        let (f_min, f_max, f_metric) =
            (field("min_replicas"), field("max_replicas"), field("metric"));
        o.finish(cx);
        if min == 0 {
            let msg = "`min_replicas` = 0 (scale to zero) is not modelled yet: the lowest is 1";
            cx.error("parse.range", span, &f_min, msg);
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
            span,
        })
    }
}
