//! The fault plan: what goes wrong, where and when (crash/restart, partition, latency spike,
//! loss, duplication, reordering, replica lag, module swap).

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// A service's replica (or every replica on a node) stops; it restarts after
    /// `restart_after_s` if given.
    Crash { restart_after_s: Option<f64> },
    /// Messages between two nodes are dropped for the duration.
    Partition,
    /// Extra latency on a link.
    LatencySpike { extra_ms: f64 },
    /// A fraction of messages on a link is lost.
    Loss { rate: f64 },
    /// A fraction of messages on a channel is delivered twice.
    Duplication { rate: f64 },
    /// Messages on a channel get extra random delay up to `jitter_ms`, so they overtake each other.
    Reorder { jitter_ms: f64 },
    /// Replication of a store lags by an extra amount.
    ReplicaLag { extra_ms: f64 },
    /// A service's module is replaced by another at `at_s` (a rolling deployment).
    ModuleSwap { module: NameRef },
}

impl FaultKind {
    /// The `kind` as the scenario file (and the trace) writes it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash { .. } => "crash",
            FaultKind::Partition => "partition",
            FaultKind::LatencySpike { .. } => "latency-spike",
            FaultKind::Loss { .. } => "loss",
            FaultKind::Duplication { .. } => "duplication",
            FaultKind::Reorder { .. } => "reorder",
            FaultKind::ReplicaLag { .. } => "replica-lag",
            FaultKind::ModuleSwap { .. } => "module-swap",
        }
    }
}

/// What a fault applies to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FaultTarget {
    Service { service: NameRef, replica: Option<u32> },
    Node { node: NameRef },
    Link { between: [NameRef; 2] },
    Channel { channel: NameRef },
    Store { store: NameRef },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// When it starts, in seconds of simulated time.
    pub at_s: f64,
    /// How long it lasts; `None` for instantaneous faults (crash, module swap).
    pub duration_s: Option<f64>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq)]
enum K {
    Crash,
    Partition,
    LatencySpike,
    Loss,
    Duplication,
    Reorder,
    ReplicaLag,
    ModuleSwap,
}

impl Fault {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Fault> {
        let choices = [
            ("crash", K::Crash),
            ("partition", K::Partition),
            ("latency-spike", K::LatencySpike),
            ("loss", K::Loss),
            ("duplication", K::Duplication),
            ("reorder", K::Reorder),
            ("replica-lag", K::ReplicaLag),
            ("module-swap", K::ModuleSwap),
        ];
        if !o.has("kind") {
            let names: Vec<&str> = choices.iter().map(|c| c.0).collect();
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("kind"),
                format!("missing required field `kind` ({})", names.join(", ")),
            );
        }
        let kind = o.opt_enum(cx, "kind", &choices);
        let at_s = o.req_f64(cx, "at_s", 0.0, 1e7, "seconds from the start");
        let instantaneous = matches!(kind, Some(K::Crash | K::ModuleSwap));
        let duration_s =
            if instantaneous { None } else { o.req_f64(cx, "duration_s", 0.0, 1e7, "seconds") };
        let target = read_target(cx, &mut o, kind?);
        let fault_kind = match kind? {
            K::Crash => {
                FaultKind::Crash { restart_after_s: o.opt_f64(cx, "restart_after_s", 0.0, 1e7) }
            }
            K::Partition => FaultKind::Partition,
            K::LatencySpike => FaultKind::LatencySpike {
                extra_ms: o.req_f64(cx, "extra_ms", 0.0, 3.6e6, "milliseconds")?,
            },
            K::Loss => FaultKind::Loss { rate: o.req_f64(cx, "rate", 0.0, 1.0, "a probability")? },
            K::Duplication => {
                FaultKind::Duplication { rate: o.req_f64(cx, "rate", 0.0, 1.0, "a probability")? }
            }
            K::Reorder => FaultKind::Reorder {
                jitter_ms: o.req_f64(cx, "jitter_ms", 0.0, 3.6e6, "milliseconds")?,
            },
            K::ReplicaLag => FaultKind::ReplicaLag {
                extra_ms: o.req_f64(cx, "extra_ms", 0.0, 3.6e6, "milliseconds")?,
            },
            K::ModuleSwap => FaultKind::ModuleSwap {
                module: o.req_str(cx, "module", "the replacement module file")?.into(),
            },
        };
        let span = o.span;
        o.finish(cx);
        let duration_s = if instantaneous { None } else { Some(duration_s?) };
        Some(Fault { kind: fault_kind, target: target?, at_s: at_s?, duration_s, span })
    }
}

/// Each kind takes exactly the target keys that make sense for it.
fn read_target(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>, kind: K) -> Option<FaultTarget> {
    let need = |cx: &mut Cx<'_>, o: &Obj<'_, '_>, what: &str| {
        cx.error(
            "parse.missing-field",
            o.span,
            &o.field("target"),
            format!("this fault needs {what}"),
        );
    };
    match kind {
        K::Crash | K::ModuleSwap => {
            let service = o.opt_str(cx, "service").map(NameRef::from);
            let node =
                if kind == K::Crash { o.opt_str(cx, "node").map(NameRef::from) } else { None };
            let replica =
                o.opt_u64(cx, "replica", 0, 10_000).map(|r| u32::try_from(r).unwrap_or(u32::MAX));
            match (service, node) {
                (Some(service), None) => Some(FaultTarget::Service { service, replica }),
                (None, Some(node)) => Some(FaultTarget::Node { node }),
                _ if kind == K::ModuleSwap => {
                    need(cx, o, "a `service`");
                    None
                }
                _ => {
                    need(cx, o, "exactly one of `service` (with an optional `replica`) or `node`");
                    None
                }
            }
        }
        K::Partition | K::LatencySpike | K::Loss => {
            let ends = o.str_list(cx, "between");
            if ends.len() == 2 {
                Some(FaultTarget::Link {
                    between: [ends[0].clone().into(), ends[1].clone().into()],
                })
            } else {
                need(cx, o, "`between` = two node names");
                None
            }
        }
        K::Duplication | K::Reorder => match o.opt_str(cx, "channel") {
            Some(c) => Some(FaultTarget::Channel { channel: c.into() }),
            None => {
                need(cx, o, "a `channel`");
                None
            }
        },
        K::ReplicaLag => match o.opt_str(cx, "store") {
            Some(s) => Some(FaultTarget::Store { store: s.into() }),
            None => {
                need(cx, o, "a `store`");
                None
            }
        },
    }
}
