//! Eventual consistency (seed §2.3, lim State(s_i) = State(s_j)): once faults heal and traffic
//! stops, every replica of each key-value store holds the same value for every key. Runs are
//! judged `quality.convergence_ms` after the last fault heals, so agreement at the end is
//! convergence within that bound; the slowest replication is reported (partitions delay it by
//! design).

use std::collections::BTreeSet;

use fusebench_model::Scenario;

use super::{Verdict, show};
use crate::system::RunResult;

pub(super) const ID: &str = "eventual-consistency";

pub(super) fn check(_s: &Scenario, run: &RunResult) -> Verdict {
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut subjects = Vec::new();
    for (store, replicas) in &run.stores {
        if replicas.len() < 2 {
            continue;
        }
        let keys: BTreeSet<&Vec<u8>> = replicas.iter().flat_map(|r| r.keys()).collect();
        let mut diverging = 0;
        for k in &keys {
            let values: Vec<Option<&Vec<u8>>> =
                replicas.iter().map(|r| r.get(*k).and_then(|v| v.value.as_ref())).collect();
            if values.iter().any(|v| *v != values[0]) {
                diverging += 1;
                if diverging <= 5 {
                    subjects.push(store.clone());
                    subjects.push(String::from_utf8_lossy(k).into_owned());
                    let shown: Vec<String> = values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("replica {i} = {}", show(*v)))
                        .collect();
                    findings.push(format!(
                        "store `{store}` key `{}` diverges: {}",
                        String::from_utf8_lossy(k),
                        shown.join(", ")
                    ));
                }
            }
        }
        if diverging > 5 {
            findings.push(format!("store `{store}`: {diverging} keys diverge in all"));
        }
        if let Some(h) = run.metrics.replication_lag.get(store) {
            let q = |p: f64| h.value_at_quantile(p) as f64 / 1e3;
            notes.push(format!(
                "store `{store}`: time to converge over {} replicated writes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                h.len(),
                q(0.5),
                q(0.99),
                h.max() as f64 / 1e3
            ));
        }
    }
    Verdict::new(ID, findings, notes).about(subjects)
}
