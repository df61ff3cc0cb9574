//! Policy modules (`policy = { module = "…" }`): a WebAssembly module decides the desired
//! replica count of its service every interval, in the services' sandbox (fuel and memory
//! limits of the scenario's `[quality]`, no capability but `log`, whose lines are dropped, a
//! fresh instance per decision so that nothing but the input decides). The ABI is in
//! guests/ABI.md ("Scaling policies"): `handle_decide` is handed [`Input`] as JSON and answers
//! `{"desired": n}`.
//!
//! A module that traps, runs out of fuel, calls the host or answers anything else is contained:
//! the interval's decision is the reactive one, a `policy_fault` line says why and the report
//! counts it. An answer outside `min..=max` is no fault: it is bounded like any
//! recommendation (the `scale` line's reason says `max replicas` or `min replicas`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Sample;
use crate::runtime::{DiscardLog, HostContext, RandomSource, ServiceHost, SliceOutcome};

/// The name a policy module is loaded under in the host: `policy:<service>`.
#[must_use]
pub fn runtime_name(service: &str) -> String {
    format!("policy:{service}")
}

/// The endpoint every policy module serves (`handle_decide`).
pub const ENDPOINT: &str = "decide";

/// What `handle_decide` is handed. Times are integer milliseconds and the metric integer
/// thousandths, so that a module computes on exactly the numbers the host has.
#[derive(Debug, Serialize)]
pub(crate) struct Input<'a> {
    pub(crate) t_ms: u64,
    pub(crate) interval_ms: u64,
    /// How far ahead a predictive policy should look (its replicas' start-up plus one
    /// interval unless the scenario says).
    pub(crate) horizon_ms: u64,
    pub(crate) metric: &'a str,
    /// The per-replica value aimed at, and the HPA's tolerance around it.
    pub(crate) target: f64,
    pub(crate) tolerance: f64,
    /// Replicas wanted now (ready or not yet), and ready.
    pub(crate) current: u32,
    pub(crate) ready: u32,
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) params: &'a BTreeMap<String, f64>,
    /// The last `window` intervals, oldest first, this one last.
    pub(crate) history: &'a [Sample],
}

/// What `handle_decide` answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    desired: u32,
}

/// Asks `service`'s policy module for a count; `Err` says why it could not decide.
pub(crate) fn ask(
    host: &mut dyn ServiceHost,
    service: &str,
    input: &Input<'_>,
    now_nanos: u64,
    random: &mut dyn RandomSource,
) -> Result<u32, String> {
    let bytes = serde_json::to_vec(input).map_err(|e| format!("input not serialisable: {e}"))?;
    let mut log = DiscardLog;
    let mut ctx = HostContext { now_nanos, random, log: &mut log };
    let name = runtime_name(service);
    let slice = host.start(&name, ENDPOINT, &bytes, &mut ctx).map_err(|e| e.to_string())?;
    let body = match slice.outcome {
        SliceOutcome::Done(r) => r.body.into_bytes(),
        SliceOutcome::Failed(f) => return Err(format!("handle_decide faulted: {f}")),
        SliceOutcome::Pending(op) => {
            host.abandon(slice.invocation);
            return Err(format!(
                "handle_decide called the host ({}); policies may only log",
                op.import()
            ));
        }
    };
    match serde_json::from_slice::<Answer>(&body) {
        Ok(a) => Ok(a.desired),
        Err(e) => {
            let shown: String = String::from_utf8_lossy(&body).chars().take(80).collect();
            Err(format!("handle_decide answered {shown}: expected {{\"desired\": n}} ({e})"))
        }
    }
}
