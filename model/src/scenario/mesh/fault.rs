//! `fault` in a `[[mesh.policy]]`: Envoy's HTTP fault filter as Istio's VirtualService `fault`
//! configures it — a `delay` (`percentage` of requests held `fixed_delay_ms` before they leave
//! the caller's proxy) and an `abort` (`percentage` of requests answered `http_status` by the
//! caller's proxy itself, never sent).

use serde::Serialize;

use super::super::reader::{Cx, Obj};
use crate::diagnostic::Span;

/// The abort statuses the simulator can answer, and the outcome each becomes (the outcome the
/// same failure gives when the destination itself fails that way).
pub const ABORT_STATUSES: [(u16, &str); 4] =
    [(429, "rate-limited"), (500, "guest-fault"), (503, "rejected"), (504, "timeout")];

/// `fault = { delay = {...}, abort = {...} }` (at least one of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshFault {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
    #[serde(skip)]
    pub span: Span,
}

/// Istio `fault.delay`: `percentage` % of requests wait `fixed_delay_ms` in the caller's proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultDelay {
    pub percentage: f64,
    pub fixed_delay_ms: f64,
    #[serde(skip)]
    pub span: Span,
}

/// Istio `fault.abort`: `percentage` % of requests are answered `http_status` by the caller's
/// proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultAbort {
    pub percentage: f64,
    pub http_status: u16,
    #[serde(skip)]
    pub span: Span,
}

impl MeshFault {
    pub(super) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<MeshFault> {
        let delay = o.opt_table(cx, "delay").and_then(|mut t| {
            let percentage = percentage(cx, &mut t);
            let ms =
                t.req_f64(cx, "fixed_delay_ms", 0.0, 3.6e6, "how long a delayed request waits");
            let span = t.span;
            t.finish(cx);
            Some(FaultDelay { percentage: percentage?, fixed_delay_ms: ms?, span })
        });
        let abort = o.opt_table(cx, "abort").and_then(|mut t| {
            let percentage = percentage(cx, &mut t);
            let status = t.req_u64(cx, "http_status", 200, 599, "the status the proxy answers");
            let field = t.field("http_status");
            let known = status.filter(|s| ABORT_STATUSES.iter().any(|(k, _)| u64::from(*k) == *s));
            if let (Some(s), None) = (status, known) {
                let listed: Vec<String> =
                    ABORT_STATUSES.iter().map(|(k, o)| format!("{k} ({o})")).collect();
                cx.error_hint(
                    "parse.value",
                    t.span,
                    &field,
                    format!("`http_status` = {s} has no outcome in the simulator"),
                    Some(format!("use one of: {}", listed.join(", "))),
                );
            }
            let span = t.span;
            t.finish(cx);
            Some(FaultAbort {
                percentage: percentage?,
                http_status: u16::try_from(known?).ok()?,
                span,
            })
        });
        let span = o.span;
        if delay.is_none() && abort.is_none() && !o.has("delay") && !o.has("abort") {
            cx.error(
                "parse.missing-field",
                span,
                &o.field("abort"),
                "a `fault` injects nothing: give it `delay = { percentage, fixed_delay_ms }` or `abort = { percentage, http_status }`",
            );
        }
        o.finish(cx);
        Some(MeshFault { delay, abort, span })
    }
}

/// `percentage`, 0 to 100 (Istio's `percentage.value`).
fn percentage(cx: &mut Cx<'_>, t: &mut Obj<'_, '_>) -> Option<f64> {
    t.req_f64(cx, "percentage", 0.0, 100.0, "the share of requests, 0 to 100")
}
