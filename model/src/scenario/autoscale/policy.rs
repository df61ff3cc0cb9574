//! `policy` of `[service.autoscale]`: what turns the measured metric into a desired replica
//! count before the HPA's stabilisation and rate limits apply (`sim/src/system/autoscale.rs`).
//!
//! - `"reactive"` (the default): the HPA's own formula on the metric just measured.
//! - `"holt-winters"` (or a table with `kind = "holt-winters"`): the metric forecast
//!   `horizon_s` ahead by Holt's linear method (double exponential smoothing: level and trend,
//!   no season) over the last `window` intervals, fed to the HPA's formula instead of the
//!   measurement — the idea of AWS EC2 Auto Scaling's predictive scaling and of KEDA's
//!   predictkube scaler: act on the load expected when a replica started now is ready.
//! - a table with `module = "…wasm"`: a WebAssembly module decides (guests/ABI.md, "Scaling
//!   policies"), handed the same history and its `params`.

use std::collections::BTreeMap;

use serde::Serialize;
use toml::de::DeValue;

use super::super::reader::{Cx, Obj, span_of, type_name};
use crate::scenario::NameRef;

/// How the desired replica count is derived from the metric.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ScalePolicy {
    /// The HPA's formula on the last interval's measurement.
    #[default]
    Reactive,
    /// The HPA's formula on a Holt forecast of the metric.
    HoltWinters(Forecast),
    /// A WebAssembly policy module.
    Module(PolicyModule),
}

impl ScalePolicy {
    #[must_use]
    pub fn is_reactive(&self) -> bool {
        *self == ScalePolicy::Reactive
    }

    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            ScalePolicy::Reactive => "reactive",
            ScalePolicy::HoltWinters(_) => "holt-winters",
            ScalePolicy::Module(m) => &m.module.name,
        }
    }

    /// The intervals of history a predictive policy looks at (0 for the reactive one).
    #[must_use]
    pub fn window(&self) -> u32 {
        match self {
            ScalePolicy::Reactive => 0,
            ScalePolicy::HoltWinters(f) => f.window,
            ScalePolicy::Module(m) => m.window,
        }
    }

    /// How far ahead a predictive policy looks, seconds, when the scenario says.
    #[must_use]
    pub fn horizon_s(&self) -> Option<f64> {
        match self {
            ScalePolicy::Reactive => None,
            ScalePolicy::HoltWinters(f) => f.horizon_s,
            ScalePolicy::Module(m) => m.horizon_s,
        }
    }
}

/// Holt's linear method's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Level smoothing, 0 < α ≤ 1 (default 0.5).
    pub alpha: f64,
    /// Trend smoothing, 0 ≤ β ≤ 1 (default 0.3).
    pub beta: f64,
    /// Forecast this far ahead (default: the replicas' `startup_ms` plus one interval, the
    /// lead time a replica started now needs before a decision can see it serve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_s: Option<f64>,
    /// Past intervals the forecast is computed from (default 60).
    pub window: u32,
}

/// A policy module and what it is handed besides the metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyModule {
    /// The module (`.wasm` or `.wat`), relative to the scenario file.
    pub module: NameRef,
    /// Numbers handed to the module as they are (`params` of its input).
    pub params: BTreeMap<String, f64>,
    /// Handed to the module as `horizon_s` (same default as the built-in forecast's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_s: Option<f64>,
    /// Past intervals handed as `history` (default 60).
    pub window: u32,
}

const KINDS: &str = "`reactive`, `holt-winters`, or a table with `kind` or `module`";
const WINDOW_DEFAULT: u64 = 60;

/// Reads `policy` of the autoscale table `o`: absent means reactive.
pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>) -> Option<ScalePolicy> {
    let field = o.field("policy");
    let Some(v) = o.get("policy") else { return Some(ScalePolicy::Reactive) };
    if v.get_ref().as_str().is_some() {
        let kind = o.opt_enum(cx, "policy", &[("reactive", false), ("holt-winters", true)])?;
        return Some(if kind {
            ScalePolicy::HoltWinters(Forecast::DEFAULT)
        } else {
            ScalePolicy::Reactive
        });
    }
    if v.get_ref().as_table().is_none() {
        let msg = format!("`policy` must be {KINDS}, found {}", type_name(v.get_ref()));
        cx.error("parse.type", span_of(v), &field, msg);
        return None;
    }
    let mut t = Obj::of(cx, v, &field)?;
    let horizon_s = t.opt_f64(cx, "horizon_s", 0.0, 86_400.0);
    let window = t.opt_u64(cx, "window", 2, 10_000).unwrap_or(WINDOW_DEFAULT);
    let window = u32::try_from(window).unwrap_or(u32::MAX);
    let policy = if t.has("module") {
        let module = t.req_str(cx, "module", "the policy's WebAssembly module (.wasm or .wat)");
        let params = read_params(cx, &mut t);
        if t.has("kind") {
            let msg = "a policy names a `kind` or a `module`, not both";
            cx.error("parse.value", t.span, &t.field("kind"), msg);
            t.finish(cx);
            return None;
        }
        module.map(|m| {
            ScalePolicy::Module(PolicyModule {
                module: m.into(),
                params: params.unwrap_or_default(),
                horizon_s,
                window,
            })
        })
    } else {
        match t.opt_enum(cx, "kind", &[("reactive", "reactive"), ("holt-winters", "holt-winters")])
        {
            Some("holt-winters") => {
                let alpha = t.opt_f64(cx, "alpha", 1e-6, 1.0).unwrap_or(Forecast::DEFAULT.alpha);
                let beta = t.opt_f64(cx, "beta", 0.0, 1.0).unwrap_or(Forecast::DEFAULT.beta);
                Some(ScalePolicy::HoltWinters(Forecast { alpha, beta, horizon_s, window }))
            }
            Some(_) => Some(ScalePolicy::Reactive),
            None => {
                if !t.has("kind") {
                    let msg = format!("missing required field `kind` (a policy table is {KINDS})");
                    cx.error("parse.missing-field", t.span, &t.field("kind"), msg);
                }
                // Its other fields depend on the kind: one error is enough.
                return None;
            }
        }
    };
    t.finish(cx);
    policy
}

/// `params = { name = number, … }`.
fn read_params(cx: &mut Cx<'_>, t: &mut Obj<'_, '_>) -> Option<BTreeMap<String, f64>> {
    let p = t.opt_table(cx, "params")?;
    let mut out = BTreeMap::new();
    for (name, span, v) in p.entries() {
        let number = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64)
            }
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match number.filter(|x| x.is_finite()) {
            Some(x) => {
                out.insert(name.to_owned(), x);
            }
            None => {
                let field = format!("{}.{name}", p.path);
                let msg = format!(
                    "policy parameter `{name}` must be a number, found {}",
                    type_name(v.get_ref())
                );
                cx.error("parse.type", span, &field, msg);
            }
        }
    }
    Some(out)
}

impl Forecast {
    pub const DEFAULT: Forecast =
        Forecast { alpha: 0.5, beta: 0.3, horizon_s: None, window: WINDOW_DEFAULT as u32 };
}
