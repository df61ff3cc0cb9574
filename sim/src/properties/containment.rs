//! Sandbox containment (seed §3.3): a guest fault is a defect to report (which service, which
//! cause, on which input), and it must stay inside its own invocation — the services that did
//! not fault keep answering as designed.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Verdict, each_event, unreadable};
use crate::metrics::Outcome;
use crate::system::RunResult;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "sandbox-containment";

pub(super) fn check(_s: &Scenario, run: &RunResult) -> Verdict {
    // (service, cause) → (count, first input)
    let mut faults: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let read = each_event(run, |line| {
        if let TraceEvent::GuestFault { service, cause, input, .. } = &line.event {
            faults.entry((service.clone(), cause.clone())).or_insert((0, input.clone())).0 += 1;
        }
    });
    let mut findings = Vec::new();
    if let Err(e) = read {
        findings.push(unreadable(&e));
    }
    for ((service, cause), (n, input)) in &faults {
        findings.push(format!(
            "guest of `{service}` faulted {n} time(s): {cause}; first on input {input}"
        ));
    }
    let faulty: Vec<&str> = faults.keys().map(|(s, _)| s.as_str()).collect();
    let mut notes = Vec::new();
    if !faults.is_empty() {
        // Isolation: the other services' own invocations all completed without faults.
        let others: Vec<(&String, u64)> = run
            .metrics
            .services
            .iter()
            .filter(|(name, _)| !faulty.contains(&name.as_str()))
            .map(|(name, st)| (name, st.invocations))
            .collect();
        let broken: Vec<&&String> = others
            .iter()
            .map(|(n, _)| n)
            .filter(|n| run.metrics.services[**n].guest_faults.values().sum::<u64>() > 0)
            .collect();
        if broken.is_empty() {
            let n: u64 = others.iter().map(|(_, i)| i).sum();
            notes.push(format!(
                "contained: {} other service(s) ran {n} invocations without a fault",
                others.len()
            ));
        } else {
            findings.push(format!("not contained: services {broken:?} faulted too"));
        }
        let wrong: u64 = run
            .metrics
            .endpoints
            .iter()
            .filter(|(name, _)| !faulty.iter().any(|f| name.starts_with(&format!("{f}."))))
            .map(|(_, e)| e.outcomes.get(&Outcome::GuestFault).copied().unwrap_or(0))
            .sum();
        if wrong > 0 {
            notes.push(format!("{wrong} client request(s) to other services failed because a call into the faulting guest failed"));
        }
    }
    let subjects = faulty.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Verdict::new(ID, findings, notes).about(subjects)
}
