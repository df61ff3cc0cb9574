//! Topology: the nodes services and stores run on (cloud, regional edge, local edge) and the
//! links between them, each with a latency distribution.

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

/// Where a node sits in the edge hierarchy (seed §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    Cloud,
    RegionalEdge,
    LocalEdge,
}

impl Tier {
    pub const CHOICES: &[(&str, Tier)] = &[
        ("cloud", Tier::Cloud),
        ("regional-edge", Tier::RegionalEdge),
        ("local-edge", Tier::LocalEdge),
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Tier::Cloud => "cloud",
            Tier::RegionalEdge => "regional-edge",
            Tier::LocalEdge => "local-edge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    pub tier: Tier,
    /// CPU cores available to the replicas placed here.
    pub cpu_cores: u32,
    pub memory_mib: u64,
    /// Time to fetch a service's module onto this node when a replica starts there with
    /// `cold_start = "module"` (`[service.autoscale]`): an image pull from the registry, which
    /// is what makes a cold start at the edge dearer than in the cloud. `None`: nothing to fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_fetch: Option<Distribution>,
    #[serde(skip)]
    pub span: Span,
}

/// A bidirectional link between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub between: [NameRef; 2],
    pub latency: Distribution,
    /// Probability that a message on this link is lost.
    pub loss: f64,
    #[serde(skip)]
    pub span: Span,
}

/// A distribution of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Distribution {
    Constant { ms: f64 },
    Uniform { min_ms: f64, max_ms: f64 },
    Normal { mean_ms: f64, stddev_ms: f64 },
    LogNormal { median_ms: f64, sigma: f64 },
    Exponential { mean_ms: f64 },
}

const MS_MAX: f64 = 86_400_000.0;

impl Distribution {
    /// The mean, in milliseconds (used by static estimates and the GUI).
    #[must_use]
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Distribution::Constant { ms } => ms,
            Distribution::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Distribution::Normal { mean_ms, .. } | Distribution::Exponential { mean_ms } => mean_ms,
            Distribution::LogNormal { median_ms, sigma } => {
                median_ms * libm::exp(sigma * sigma / 2.0)
            }
        }
    }

    /// Reads `{ dist = "...", ... }`.
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Distribution> {
        #[derive(Clone, Copy)]
        enum K {
            Constant,
            Uniform,
            Normal,
            LogNormal,
            Exponential,
        }
        let choices = [
            ("constant", K::Constant),
            ("uniform", K::Uniform),
            ("normal", K::Normal),
            ("lognormal", K::LogNormal),
            ("exponential", K::Exponential),
        ];
        let kind = if o.has("dist") {
            o.opt_enum(cx, "dist", &choices)
        } else {
            let msg = "missing required field `dist` (constant, uniform, normal, lognormal or exponential)";
            cx.error("parse.missing-field", o.span, &o.field("dist"), msg);
            None
        };
        let d = match kind? {
            K::Constant => {
                Distribution::Constant { ms: o.req_f64(cx, "ms", 0.0, MS_MAX, "milliseconds")? }
            }
            K::Uniform => {
                let min_ms = o.req_f64(cx, "min_ms", 0.0, MS_MAX, "milliseconds");
                let max_ms = o.req_f64(cx, "max_ms", 0.0, MS_MAX, "milliseconds");
                let (min_ms, max_ms) = (min_ms?, max_ms?);
                if min_ms > max_ms {
                    cx.error(
                        "parse.range",
                        o.span,
                        &o.field("min_ms"),
                        "`min_ms` must not exceed `max_ms`",
                    );
                    return None;
                }
                Distribution::Uniform { min_ms, max_ms }
            }
            K::Normal => Distribution::Normal {
                mean_ms: o.req_f64(cx, "mean_ms", 0.0, MS_MAX, "milliseconds")?,
                stddev_ms: o.req_f64(cx, "stddev_ms", 0.0, MS_MAX, "milliseconds")?,
            },
            K::LogNormal => Distribution::LogNormal {
                median_ms: o.req_f64(cx, "median_ms", 0.0, MS_MAX, "milliseconds")?,
                sigma: o.req_f64(cx, "sigma", 0.0, 10.0, "shape parameter")?,
            },
            K::Exponential => Distribution::Exponential {
                mean_ms: o.req_f64(cx, "mean_ms", 0.0, MS_MAX, "milliseconds")?,
            },
        };
        o.finish(cx);
        Some(d)
    }
}

impl Node {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Node> {
        let name = o.req_str(cx, "name", "the node's name");
        let tier = if o.has("tier") {
            o.opt_enum(cx, "tier", Tier::CHOICES)
        } else {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("tier"),
                "missing required field `tier` (cloud, regional-edge or local-edge)",
            );
            None
        };
        let cpu_cores = o.opt_u64(cx, "cpu_cores", 1, 100_000).unwrap_or(4);
        let memory_mib = o.opt_u64(cx, "memory_mib", 1, 1 << 40).unwrap_or(8192);
        let module_fetch = o.opt_table(cx, "module_fetch").and_then(|t| Distribution::read(cx, t));
        let span = o.span;
        o.finish(cx);
        let cpu_cores = u32::try_from(cpu_cores).unwrap_or(u32::MAX);
        // A node with a bad tier still resolves references to it; the error is recorded.
        let tier = tier.unwrap_or(Tier::Cloud);
        Some(Node { name: name?.0, tier, cpu_cores, memory_mib, module_fetch, span })
    }
}

impl Link {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Link> {
        let ends = o.str_list(cx, "between");
        if ends.len() != 2 && o.has("between") {
            cx.error(
                "parse.value",
                o.span,
                &o.field("between"),
                "`between` must name exactly two nodes",
            );
        } else if !o.has("between") {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("between"),
                "missing required field `between` (two node names)",
            );
        }
        let latency = match o.opt_table(cx, "latency") {
            Some(t) => Distribution::read(cx, t),
            None => Some(Distribution::Constant { ms: 1.0 }),
        };
        let loss = o.opt_f64(cx, "loss", 0.0, 1.0).unwrap_or(0.0);
        let span = o.span;
        o.finish(cx);
        if ends.len() != 2 {
            return None;
        }
        let between = [NameRef::from(ends[0].clone()), NameRef::from(ends[1].clone())];
        Some(Link {
            between,
            latency: latency.unwrap_or(Distribution::Constant { ms: 1.0 }),
            loss,
            span,
        })
    }
}
