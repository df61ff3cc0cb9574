//! The mesh's configuration as the trace tells it (`mesh_route` lines,
//! `system/mesh/route.rs`): each control-plane push, when each proxy applied it, and how many
//! requests each proxy sent to each subset under each configuration — for the report's
//! section, which the simulator keeps by feeding this same reader every line it writes (so the
//! two agree by construction; `read` rebuilds it from a trace file).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{TraceEvent, TraceLine};
use crate::time::SimTime;

/// One push and its arrival at each proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushTimeline {
    pub config: u32,
    pub service: String,
    /// What it changes (`Push::describe`): a route's weights (`v1=90,v2=10`), `policy s`,
    /// `filter auth`…
    pub change: String,
    pub pushed: SimTime,
    /// (proxy, when it applied the push), in the order they did.
    pub applied: Vec<(String, SimTime)>,
}

impl PushTimeline {
    /// How long from the push to its last proxy, ns (`None` while one has not applied it).
    #[must_use]
    pub fn spread_ns(&self, proxies: usize) -> Option<u64> {
        (self.applied.len() >= proxies)
            .then(|| self.applied.iter().map(|(_, t)| *t - self.pushed).max().unwrap_or(0))
    }
}

/// Everything the `mesh_route` lines say.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RouteLog {
    pub pushes: Vec<PushTimeline>,
    /// (destination, configuration, subset) → requests routed there (by weight or header).
    pub routed: BTreeMap<(String, u32, String), u64>,
    /// Of those, sent by a header rule.
    pub matched: BTreeMap<(String, u32, String), u64>,
    /// Every proxy that applied a push, in order of first appearance.
    pub proxies: Vec<String>,
}

impl RouteLog {
    /// Takes one trace line (only `mesh_route` lines change anything).
    pub fn line<S: AsRef<str>>(&mut self, t: SimTime, e: &TraceEvent<S>) {
        let TraceEvent::MeshRoute { proxy, service, action, config, detail, .. } = e else {
            return;
        };
        let (proxy, service, detail) = (proxy.as_ref(), service.as_ref(), detail.as_ref());
        match action.as_ref() {
            "push" => self.pushes.push(PushTimeline {
                config: *config,
                service: service.to_owned(),
                change: detail.to_owned(),
                pushed: t,
                applied: Vec::new(),
            }),
            "applied" => {
                if !self.proxies.iter().any(|p| p == proxy) {
                    self.proxies.push(proxy.to_owned());
                }
                if let Some(p) = self.pushes.iter_mut().find(|p| p.config == *config) {
                    p.applied.push((proxy.to_owned(), t));
                }
            }
            a @ ("routed" | "matched") => {
                let key = (service.to_owned(), *config, detail.to_owned());
                *self.routed.entry(key.clone()).or_default() += 1;
                if a == "matched" {
                    *self.matched.entry(key).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    /// Whether the trace had any routing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pushes.is_empty() && self.routed.is_empty()
    }
}

/// Reads the route log back from a trace's lines.
#[must_use]
pub fn read<'a>(lines: impl IntoIterator<Item = &'a TraceLine>) -> RouteLog {
    let mut log = RouteLog::default();
    for l in lines {
        log.line(l.t, &l.event);
    }
    log
}
