//! Which mesh configuration each proxy applied over a run, read from its trace as the run goes:
//! istiod's pushes (Istio's control plane over xDS, `system/mesh/control.rs`), when each proxy
//! — the gateway and each meshed service's sidecar, named as the trace names them — applied
//! each one, what each push changed, and the requests each configuration routed to each
//! version subset — the inspector's control plane view (`panels/control_plane.rs`).
//!
//! Every figure comes from the `mesh_route` lines through the simulator's own reader
//! (`fusebench_sim::trace::mesh_route::RouteLog`, the one the report's "Mesh routes" section
//! is built from), so the view agrees with the report. Memory stays bounded whatever the run's
//! length: one entry per declared push and proxy, one count per destination, configuration and
//! subset.

use fusebench_sim::time::SimTime;
use fusebench_sim::trace::TraceLine;
use fusebench_sim::trace::mesh_route::{PushTimeline, RouteLog};

/// One configuration in force at one proxy: from when the proxy applied it (0 for the
/// scenario's own configuration) until it applied the next (`None`: still in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub config: u32,
    pub from: SimTime,
    pub until: Option<SimTime>,
}

/// The requests one configuration sent to one subset of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub config: u32,
    pub subset: String,
    pub requests: u64,
    /// Of those, sent by a header rule.
    pub by_header: u64,
}

#[derive(Debug, Clone, Default)]
pub struct MeshConfigs {
    log: RouteLog,
}

impl MeshConfigs {
    /// Nothing seen yet.
    #[must_use]
    pub fn new() -> MeshConfigs {
        MeshConfigs::default()
    }

    /// Takes in one trace line (only `mesh_route` lines change anything).
    pub fn note(&mut self, line: &TraceLine) {
        self.log.line(line.t, &line.event);
    }

    /// Whether the control plane pushed anything so far.
    #[must_use]
    pub fn has_pushes(&self) -> bool {
        !self.log.pushes.is_empty()
    }

    /// Each push so far, in the order istiod sent them: configuration `k` is the `k`-th.
    #[must_use]
    pub fn pushes(&self) -> &[PushTimeline] {
        &self.log.pushes
    }

    /// The push that published `config` (`None` for 0, the scenario's own).
    #[must_use]
    pub fn push(&self, config: u32) -> Option<&PushTimeline> {
        self.log.pushes.iter().find(|p| p.config == config)
    }

    /// Every proxy that applied a push so far, in the order they first did.
    #[must_use]
    pub fn proxies(&self) -> &[String] {
        &self.log.proxies
    }

    /// The configurations `proxy` applied, in order, from time 0: the scenario's own (0) until
    /// its first `applied` line, each next one from its own `applied` line. Empty for a proxy
    /// that applied no push (the trace says nothing of it).
    #[must_use]
    pub fn bands(&self, proxy: &str) -> Vec<Band> {
        let mut applied: Vec<(SimTime, u32)> = self
            .log
            .pushes
            .iter()
            .flat_map(|p| {
                p.applied.iter().filter(|(who, _)| who == proxy).map(|(_, t)| (*t, p.config))
            })
            .collect();
        if applied.is_empty() {
            return Vec::new();
        }
        // A proxy applies pushes in push order (one ordered xDS stream); two landing at the
        // same instant apply in configuration order.
        applied.sort_unstable();
        let mut bands = vec![Band { config: 0, from: SimTime::ZERO, until: None }];
        for (t, config) in applied {
            if let Some(last) = bands.last_mut() {
                last.until = Some(t);
            }
            bands.push(Band { config, from: t, until: None });
        }
        bands
    }

    /// The configuration `proxy` applied at `t` (an `applied` line at `t` is in force from
    /// `t` on).
    #[must_use]
    pub fn config_at(&self, proxy: &str, t: SimTime) -> u32 {
        self.bands(proxy).iter().rev().find(|b| b.from <= t).map_or(0, |b| b.config)
    }

    /// The requests routed to `service`'s subsets, per configuration then subset.
    #[must_use]
    pub fn routed(&self, service: &str) -> Vec<Routed> {
        self.log
            .routed
            .iter()
            .filter(|((s, _, _), _)| s == service)
            .map(|(key, &requests)| Routed {
                config: key.1,
                subset: key.2.clone(),
                requests,
                by_header: self.log.matched.get(key).copied().unwrap_or(0),
            })
            .collect()
    }

    /// The simulator's route log as read so far (what the report is built from).
    #[must_use]
    pub fn log(&self) -> &RouteLog {
        &self.log
    }
}

#[cfg(test)]
mod tests;
