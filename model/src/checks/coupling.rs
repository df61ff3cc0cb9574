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
//! only with each other — effectively one service split in two. A pair fails *above*
//! `quality.coupling_max`, as the dynamic property judges the traffic: exactly ½ is what every
//! link of a pipeline measures (a backend whose one caller has one other duty, the simplest
//! two-tier design), and a pair only interacts *mostly* with each other beyond it.
//!
//! **Cohesion(s)** = the fraction of pairs of s's endpoints that share a data entity: a
//! top-level contract field name (request or response) other than `error`/`ok`. A service with
//! one endpoint has cohesion 1. Low cohesion means unrelated responsibilities in one service.
//! An endpoint that declares no contract field says nothing about the data it touches: it is
//! left out, and a service with fewer than two endpoints that declare some is not judged (a
//! warning says so) — scoring them as sharing nothing failed every service written without
//! contracts.

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

/// The data entities of each endpoint that declares some: its top-level contract field names.
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
                .collect::<BTreeSet<&str>>()
        })
        .filter(|set| !set.is_empty())
        .collect()
}

/// Whether a service's cohesion says something: one endpoint (cohesive by itself), or at
/// least two that declare contract fields.
#[must_use]
pub fn cohesion_judged(svc: &Service) -> bool {
    svc.endpoints.len() < 2 || entities(svc).len() >= 2
}

/// Cohesion of a service, in [0, 1], over its endpoints that declare contract fields (1 when
/// fewer than two do: see [`cohesion_judged`]).
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
        if c > max {
            let span = s.service(&a).map(|x| x.span).unwrap_or_default();
            f.error(
                COUPLING_ID,
                span,
                format!("Coupling({a}, {b}) = {c:.2} is above quality.coupling_max = {max}"),
            )
            .hint = Some(format!(
                "{:.0} % of the interaction weight touching `{a}` and `{b}` is between the two: merge them, or move the shared responsibility",
                c * 100.0
            ));
        }
    }
    let min = s.quality.cohesion_min;
    for svc in &s.services {
        if !cohesion_judged(svc) {
            let declared = entities(svc).len();
            f.warning(
                COHESION_ID,
                svc.span,
                format!(
                    "Cohesion({}) not judged: {declared} of its {} endpoints declare contract fields, the data entities cohesion compares",
                    svc.name,
                    svc.endpoints.len()
                ),
            )
            .hint = Some("declare the endpoints' `request` and `response` fields".into());
            continue;
        }
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
            .hint = Some(format!(
                "{:.0} % of its pairs of endpoints share a data entity: split it along its responsibilities",
                c * 100.0
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{COHESION_ID, COUPLING_ID};
    use crate::checks::fixture::{findings, front_calls_back};
    use crate::diagnostic::Severity;

    /// `front_calls_back` at the default `coupling_max` (0.5), `back` with `extra` after its
    /// `get` endpoint.
    fn two_tier(extra: &str) -> String {
        front_calls_back(extra, "").replace("[quality]\ncoupling_max = 0.9\n", "")
    }

    #[test]
    fn a_pipeline_link_at_one_half_passes_the_default_and_a_pair_mostly_together_fails() {
        // front: the gateway's route and its call to back; back: that call alone.
        let text = two_tier("");
        assert_eq!(
            crate::checks::coupling(
                &crate::parse("a.toml", &text).ok().expect("valid"),
                "front",
                "back"
            ),
            0.5
        );
        assert_eq!(findings(&text, COUPLING_ID), []);
        // A second endpoint of back that front calls too: 2 of 3 weights between them.
        let call = "  [[service.call]]\n  service = \"back\"\n  endpoint = \"get\"\n  channel = \"rest\"\n";
        let text = two_tier("  [[service.endpoint]]\n  name = \"put\"\n").replacen(
            call,
            &format!("{call}{}", call.replace("get", "put")),
            1,
        );
        let found = findings(&text, COUPLING_ID);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.contains("= 0.67 is above quality.coupling_max = 0.5"),
            "{found:#?}"
        );
    }

    #[test]
    fn cohesion_is_judged_on_declared_data_only() {
        let endpoint = |name: &str, contract: &str| {
            format!("  [[service.endpoint]]\n  name = \"{name}\"\n{contract}")
        };
        // get, put and list without contracts: nothing to compare, a warning, no failure.
        let bare = two_tier(&format!("{}{}", endpoint("put", ""), endpoint("list", "")));
        let found = findings(&bare, COHESION_ID);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.contains("Cohesion(back) not judged: 0 of its 3 endpoints"));
        // Two endpoints with disjoint data (and one without): judged over the two, failed.
        let disjoint = two_tier(&format!(
            "{}{}",
            endpoint("put", "  request = { sku = \"string\" }\n"),
            endpoint("list", "  response = { invoice = \"string\" }\n")
        ));
        let found = findings(&disjoint, COHESION_ID);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(found[0].message.contains("Cohesion(back) = 0.00"), "{found:#?}");
        // Sharing `sku`: cohesive, though `get` declares nothing.
        let shared = disjoint.replace("invoice = \"string\"", "sku = \"string\"");
        assert_eq!(findings(&shared, COHESION_ID), []);
    }
}
