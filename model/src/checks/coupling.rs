//! Coupling and cohesion, computed on the declared service graph.
//!
//! **Interactions.** Every service has a weighted set of interaction edges: each synchronous
//! call to an endpoint (weight 1), each subscription reached through a channel it publishes to
//! or consumes from (weight ½ — only a message format is shared), each read of a store another
//! service owns (weight 1), and each public endpoint the gateway routes to it (weight 1, its
//! duty to clients).
//!
//! **Coupling(s_i, s_j)** = weight of the edges between s_i and s_j ÷ weight of all edges
//! touching s_i or s_j. It is 0 for services that never interact and 1 for a pair that interacts
//! only with each other — effectively one service split in two.
//!
//! **Cohesion(s)** = the fraction of pairs of s's endpoints that share a data entity: a
//! top-level contract field name (request or response) other than `error`/`ok`. A service with
//! one endpoint has cohesion 1. Low cohesion means unrelated responsibilities in one service.

use std::collections::{BTreeMap, BTreeSet};

use super::Findings;
use crate::graph::ServiceGraph;
use crate::scenario::{Scenario, Service};

pub(super) const COUPLING_ID: &str = "coupling";
pub(super) const COHESION_ID: &str = "cohesion";

/// Weighted interaction edges per service: (other end or `gateway`, label) → weight.
fn interactions(s: &Scenario) -> BTreeMap<String, BTreeMap<(String, String, String), f64>> {
    let graph = ServiceGraph::new(s);
    let mut map: BTreeMap<String, BTreeMap<(String, String, String), f64>> = BTreeMap::new();
    for e in graph.edges() {
        let key = (e.from.clone(), e.to.clone(), format!("{:?}:{}", e.kind, e.target));
        map.entry(e.from.clone()).or_default().insert(key.clone(), e.kind.weight());
        map.entry(e.to.clone()).or_default().insert(key, e.kind.weight());
    }
    for svc in &s.services {
        let entry = map.entry(svc.name.clone()).or_default();
        for ep in svc.endpoints.iter().filter(|e| e.public) {
            entry.insert(("gateway".into(), svc.name.clone(), ep.name.clone()), 1.0);
        }
    }
    map
}

/// Coupling between two services, in [0, 1].
#[must_use]
pub fn coupling(s: &Scenario, a: &str, b: &str) -> f64 {
    pair(&interactions(s), a, b)
}

fn pair(map: &BTreeMap<String, BTreeMap<(String, String, String), f64>>, a: &str, b: &str) -> f64 {
    let empty = BTreeMap::new();
    let ea = map.get(a).unwrap_or(&empty);
    let eb = map.get(b).unwrap_or(&empty);
    let union: BTreeMap<_, f64> = ea.iter().chain(eb).map(|(k, w)| (k, *w)).collect();
    let total: f64 = union.values().sum();
    let between: f64 = union
        .iter()
        .filter(|((x, y, _), _)| (x == a && y == b) || (x == b && y == a))
        .map(|(_, w)| w)
        .sum();
    if total == 0.0 { 0.0 } else { between / total }
}

/// Coupling of every pair of services that interact, sorted by name.
#[must_use]
pub fn coupling_matrix(s: &Scenario) -> Vec<(String, String, f64)> {
    let map = interactions(s);
    let mut out = Vec::new();
    for (i, a) in s.services.iter().enumerate() {
        for b in &s.services[i + 1..] {
            let c = pair(&map, &a.name, &b.name);
            if c > 0.0 {
                out.push((a.name.clone(), b.name.clone(), c));
            }
        }
    }
    out
}

/// The data entities an endpoint touches: its top-level contract field names.
fn entities(svc: &Service) -> Vec<BTreeSet<&str>> {
    svc.endpoints
        .iter()
        .map(|e| {
            e.request
                .fields
                .keys()
                .chain(e.response.fields.keys())
                .map(String::as_str)
                .filter(|f| !matches!(*f, "error" | "ok"))
                .collect()
        })
        .collect()
}

/// Cohesion of a service, in [0, 1].
#[must_use]
pub fn cohesion(svc: &Service) -> f64 {
    let sets = entities(svc);
    let n = sets.len();
    if n < 2 {
        return 1.0;
    }
    let mut sharing = 0usize;
    for i in 0..n {
        for j in i + 1..n {
            if !sets[i].is_disjoint(&sets[j]) {
                sharing += 1;
            }
        }
    }
    sharing as f64 / (n * (n - 1) / 2) as f64
}

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let max = s.quality.coupling_max;
    for (a, b, c) in coupling_matrix(s) {
        if c >= max {
            let span = s.service(&a).map(|x| x.span).unwrap_or_default();
            f.error(
                COUPLING_ID,
                span,
                format!("Coupling({a}, {b}) = {c:.2} is not below quality.coupling_max = {max}"),
            )
            .hint = Some(format!(
                "`{a}` and `{b}` interact mostly with each other: merge them, or move the shared responsibility"
            ));
        }
    }
    let min = s.quality.cohesion_min;
    for svc in &s.services {
        let c = cohesion(svc);
        if c <= min {
            f.error(
                COHESION_ID,
                svc.span,
                format!(
                    "Cohesion({}) = {c:.2} is not above quality.cohesion_min = {min}",
                    svc.name
                ),
            )
            .hint = Some(
                "its endpoints share no data entities: split it along its responsibilities".into(),
            );
        }
    }
}
