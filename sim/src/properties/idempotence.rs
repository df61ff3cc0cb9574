//! Idempotence (seed §2.2, f(f(r)) = f(r)): the run with duplicated deliveries must leave every
//! store as its duplicate-free twin does. A difference is reported with the store, the key,
//! both values, and the idempotent endpoints that received duplicates.

use std::collections::BTreeSet;

use fusebench_model::Scenario;

use super::{Verdict, show};
use crate::system::RunResult;

pub(super) const ID: &str = "idempotence";

pub(super) fn check(s: &Scenario, run: &RunResult, twin: Option<&RunResult>) -> Verdict {
    let Some(twin) = twin else {
        return Verdict::not_exercised(ID, "the run duplicated nothing");
    };
    let duplicated: u64 = run.metrics.channels.values().map(|c| c.duplicated).sum();
    let mut notes = vec![format!(
        "{duplicated} message(s) delivered twice; compared with the duplicate-free twin"
    )];
    let mut endpoints: Vec<String> = Vec::new();
    for svc in &s.services {
        for sub in &svc.subscriptions {
            if svc.endpoint(&sub.endpoint.name).is_some_and(|e| e.idempotent) {
                let key = sub.endpoint.name.clone();
                let name = format!("{}.{}", svc.name, key);
                if let Some(ep) = svc.endpoint(&key) {
                    let k = ep.idempotency_key.as_deref().unwrap_or("(no key)");
                    endpoints.push(format!("{name} (idempotency key `{k}`)"));
                }
            }
        }
    }
    let mut findings = Vec::new();
    let mut subjects = Vec::new();
    for (store, replicas) in &run.stores {
        let (Some(a), Some(b)) = (replicas.first(), twin.stores.get(store).and_then(|r| r.first()))
        else {
            continue;
        };
        let keys: BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let (x, y) =
                (a.get(k).and_then(|v| v.value.as_ref()), b.get(k).and_then(|v| v.value.as_ref()));
            if x != y {
                subjects.push(store.clone());
                subjects.push(String::from_utf8_lossy(k).into_owned());
                findings.push(format!(
                    "store `{store}` key `{}`: {} with duplicates, {} after single deliveries",
                    String::from_utf8_lossy(k),
                    show(x),
                    show(y)
                ));
            }
        }
    }
    if !findings.is_empty() && !endpoints.is_empty() {
        findings.insert(
            0,
            format!(
                "duplicated deliveries changed stored state; idempotent consumers: {}",
                endpoints.join(", ")
            ),
        );
    }
    findings.truncate(20);
    if findings.is_empty() {
        notes.push("every store equals its duplicate-free twin".into());
    }
    let v = Verdict::new(ID, findings, notes);
    if v.passed() { v } else { v.about(subjects) }
}
