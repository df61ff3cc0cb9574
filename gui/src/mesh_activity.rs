//! What the service mesh did during a run, read from its trace as the run goes: requests the
//! mesh refused on each edge (authorization denials, rate limits, open circuit breakers, retry
//! budgets), the replicas each proxy's outlier detection ejected and for how long, and circuit
//! breaker refusals over time — the inspector's mesh views and the graph's denial marks.
//!
//! Every figure is counted from trace events (`mesh_refused`, `ejected`), so it can be
//! recomputed from an exported trace. Memory stays bounded whatever the run's length: refusals
//! over time are kept at a fixed resolution ([`BINS`] per run) and ejections up to
//! [`EJECTIONS_MAX`] (their count stays exact).

use std::collections::BTreeMap;

use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{TraceEvent, TraceLine};

use crate::diagram::{Diagram, NodeKind};

/// Time bins per run for refusals over time.
pub const BINS: usize = 100;

/// Ejection intervals kept (the earliest); later ones are only counted.
pub const EJECTIONS_MAX: usize = 10_000;

/// The `mesh_refused` filter of an authorization denial (Envoy RBAC at the callee's sidecar).
pub const DENIED: &str = "rbac";

/// The `mesh_refused` filter of a plaintext call refused by a STRICT mTLS sidecar (Istio
/// PeerAuthentication): a denial too, of the caller's missing identity.
pub const MTLS: &str = "mtls";

/// The filters whose refusals are access denials (marked on the graph's edges).
pub const DENIALS: [&str; 2] = [DENIED, MTLS];

/// The `mesh_refused` filter of a circuit breaker refusal.
pub const BREAKER: &str = "circuit-breaker";

/// One replica ejected by one proxy's outlier detection (Envoy ejects per proxy: the gateway
/// and each meshed caller keep their own view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ejection {
    /// `gateway` or the meshed calling service.
    pub caller: String,
    pub replica: u32,
    pub from: SimTime,
    pub until: SimTime,
}

#[derive(Debug, Clone)]
pub struct MeshActivity {
    end: SimTime,
    /// Per diagram edge: refusals by the filter that refused them.
    refused: Vec<BTreeMap<String, u64>>,
    /// Per service node: its ejections, in trace order.
    ejections: BTreeMap<usize, Vec<Ejection>>,
    /// Per service node: ejections seen (kept or not).
    ejections_seen: BTreeMap<usize, u64>,
    /// Per service node: circuit breaker refusals per time bin.
    breaker: BTreeMap<usize, Vec<u64>>,
}

impl MeshActivity {
    /// Nothing seen yet, for a run of `diagram`'s system ending at `end`.
    #[must_use]
    pub fn new(diagram: &Diagram, end: SimTime) -> MeshActivity {
        MeshActivity {
            end,
            refused: vec![BTreeMap::new(); diagram.edges.len()],
            ejections: BTreeMap::new(),
            ejections_seen: BTreeMap::new(),
            breaker: BTreeMap::new(),
        }
    }

    fn bin(&self, t: SimTime) -> usize {
        if self.end.nanos() == 0 {
            return 0;
        }
        let at = u128::from(t.nanos()) * BINS as u128 / u128::from(self.end.nanos());
        usize::try_from(at).unwrap_or(BINS).min(BINS - 1)
    }

    /// Takes in one trace line.
    pub fn note(&mut self, line: &TraceLine, diagram: &Diagram) {
        match &line.event {
            TraceEvent::MeshRefused { caller, target, filter, .. } => {
                let from = if caller == "gateway" {
                    diagram.fixed(NodeKind::Gateway)
                } else {
                    diagram.service(caller)
                };
                let to = diagram.service(target.split('.').next().unwrap_or_default());
                if let Some(edge) = from.zip(to).and_then(|(a, b)| diagram.edge_between(a, b))
                    && let Some(counts) = self.refused.get_mut(edge)
                {
                    *counts.entry(filter.clone()).or_default() += 1;
                }
                if filter == BREAKER
                    && let Some(service) = to
                {
                    let bin = self.bin(line.t);
                    self.breaker.entry(service).or_insert_with(|| vec![0; BINS])[bin] += 1;
                }
            }
            TraceEvent::Ejected { caller, service, replica, until_ns } => {
                let Some(node) = diagram.service(service) else { return };
                *self.ejections_seen.entry(node).or_default() += 1;
                let kept = self.ejections.entry(node).or_default();
                if kept.len() < EJECTIONS_MAX {
                    kept.push(Ejection {
                        caller: caller.clone(),
                        replica: *replica,
                        from: line.t,
                        until: SimTime(*until_ns),
                    });
                }
            }
            _ => {}
        }
    }

    /// Refusals on `edge`, by filter (empty when none).
    #[must_use]
    pub fn refused(&self, edge: usize) -> &BTreeMap<String, u64> {
        static NONE: BTreeMap<String, u64> = BTreeMap::new();
        self.refused.get(edge).unwrap_or(&NONE)
    }

    /// Access denials on `edge`: authorization policies and STRICT mTLS.
    #[must_use]
    pub fn denied(&self, edge: usize) -> u64 {
        DENIALS.iter().filter_map(|f| self.refused(edge).get(*f)).sum()
    }

    /// The ejections of `service`'s replicas kept, and how many there were.
    #[must_use]
    pub fn ejections(&self, service: usize) -> (&[Ejection], u64) {
        (
            self.ejections.get(&service).map_or(&[], Vec::as_slice),
            self.ejections_seen.get(&service).copied().unwrap_or(0),
        )
    }

    /// Over the run, how many of `service`'s replicas at least one proxy held ejected: a step
    /// function as `[seconds, replicas]` corners, from 0 to the run's end.
    #[must_use]
    pub fn ejected_over_time(&self, service: usize) -> Vec<[f64; 2]> {
        let Some(list) = self.ejections.get(&service) else { return Vec::new() };
        // +1 at each start, -1 at each end, per replica; a replica counts while any proxy
        // holds it ejected.
        let mut changes: BTreeMap<SimTime, Vec<(u32, i64)>> = BTreeMap::new();
        for e in list {
            changes.entry(e.from).or_default().push((e.replica, 1));
            changes.entry(e.until.max(e.from)).or_default().push((e.replica, -1));
        }
        let mut holders: BTreeMap<u32, i64> = BTreeMap::new();
        let mut points = vec![[0.0, 0.0]];
        for (t, deltas) in changes {
            if t > self.end {
                break;
            }
            for (replica, d) in deltas {
                *holders.entry(replica).or_default() += d;
            }
            let ejected = holders.values().filter(|&&n| n > 0).count() as f64;
            let secs = t.as_secs_f64();
            let last = points.last().map_or(0.0, |p: &[f64; 2]| p[1]);
            points.push([secs, last]);
            points.push([secs, ejected]);
        }
        let last = points.last().map_or(0.0, |p| p[1]);
        points.push([self.end.as_secs_f64(), last]);
        points
    }

    /// Circuit breaker refusals of requests to `service` per second, one point per time bin
    /// (`None`: none in the whole run).
    #[must_use]
    pub fn breaker_rate(&self, service: usize) -> Option<Vec<[f64; 2]>> {
        let bins = self.breaker.get(&service)?;
        let width = self.end.as_secs_f64() / BINS as f64;
        if width <= 0.0 {
            return None;
        }
        Some(
            bins.iter()
                .enumerate()
                .map(|(i, &n)| [(i as f64 + 0.5) * width, n as f64 / width])
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests;
