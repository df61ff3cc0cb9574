//! Dynamic coupling: the calls services actually made, compared with the declared graph. A call
//! to an endpoint the caller did not declare (refused by the host with `-2`) is a finding;
//! the coupling measured from the calls made is reported against `quality.coupling_max`.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Verdict, each_event, unreadable};
use crate::system::RunResult;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "dynamic-coupling";

pub(super) fn check(s: &Scenario, run: &RunResult) -> Verdict {
    let mut findings = Vec::new();
    // invocation id → service, to attribute host operations.
    let mut inv_service: BTreeMap<u64, String> = BTreeMap::new();
    let mut made: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut undeclared: BTreeMap<(String, String), u64> = BTreeMap::new();
    let read = each_event(run, |line| match &line.event {
        TraceEvent::InvocationStart { inv, service, .. } => {
            inv_service.insert(*inv, service.clone());
        }
        TraceEvent::HostOp { inv, op, target } if op == "call" => {
            let caller = inv_service.get(inv).cloned().unwrap_or_default();
            *made.entry((caller, target.clone())).or_default() += 1;
        }
        TraceEvent::Refused { import, target, .. } if import == "call" => {
            // Refusals are traced as `service:target`.
            let (caller, callee) = target.split_once(':').unwrap_or(("", target));
            *undeclared.entry((caller.to_owned(), callee.to_owned())).or_default() += 1;
        }
        _ => {}
    });
    if let Err(e) = read {
        findings.push(unreadable(&e));
    }
    for ((caller, callee), n) in &undeclared {
        findings.push(format!("`{caller}` called `{callee}` {n} time(s) without declaring it (refused by the host: an undeclared dependency)"));
    }
    let mut notes = Vec::new();
    let total: u64 = made.values().sum();
    for ((caller, target), n) in &made {
        let declared = s.service(caller).is_some_and(|svc| {
            svc.calls.iter().any(|c| format!("{}.{}", c.service, c.endpoint) == *target)
        });
        let share = if total == 0 { 0.0 } else { *n as f64 / total as f64 };
        notes.push(format!(
            "{caller} → {target}: {n} calls ({:.0} % of all calls){}",
            share * 100.0,
            if declared { "" } else { ", undeclared" }
        ));
        if !declared {
            findings.push(format!("`{caller}` called `{target}`, which it does not declare"));
        }
    }
    // Coupling measured from the run: calls between two services ÷ all interactions touching
    // either (calls made or received, and client requests through the gateway). Above
    // quality.coupling_max it is reported as a warning: traffic volume, unlike the declared
    // graph, is not a design decision.
    let clients = |svc: &str| -> u64 {
        run.metrics
            .endpoints
            .iter()
            .filter(|(k, _)| k.split('.').next() == Some(svc))
            .map(|(_, e)| e.total())
            .sum()
    };
    let callee = |target: &str| target.split('.').next().unwrap_or_default().to_owned();
    let touching = |x: &str| -> u64 {
        made.iter().filter(|((c, t), _)| c == x || callee(t) == x).map(|(_, n)| n).sum()
    };
    let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((caller, target), n) in &made {
        let (a, b) = (caller.clone(), callee(target));
        let key = if a <= b { (a, b) } else { (b, a) };
        *pairs.entry(key).or_default() += n;
    }
    for ((a, b), n) in &pairs {
        let total = touching(a) + touching(b) - n + clients(a) + clients(b);
        let c = if total == 0 { 0.0 } else { *n as f64 / total as f64 };
        let flag = if c >= s.quality.coupling_max {
            format!(" — at or above quality.coupling_max = {} (warning)", s.quality.coupling_max)
        } else {
            String::new()
        };
        notes.push(format!("measured Coupling({a}, {b}) = {c:.2}{flag}"));
    }
    for svc in &s.services {
        for c in &svc.calls {
            let target = format!("{}.{}", c.service, c.endpoint);
            if !made.contains_key(&(svc.name.clone(), target.clone())) {
                notes.push(format!("{} → {target}: declared, never called in this run", svc.name));
            }
        }
    }
    let subjects: Vec<String> = undeclared.keys().map(|(caller, _)| caller.clone()).collect();
    Verdict::new(ID, findings, notes).about(subjects)
}
