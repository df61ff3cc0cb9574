//! Sandbox containment (seed §3.3): a guest fault is a defect to report (which service, which
//! cause, on which input), every sandbox limit a guest hits is one too (even when the host
//! absorbs it: a log line cut or dropped, a refused `memory.grow`), and a fault must stay inside
//! its own invocations — a healthy service whose calls into the faulting one time out, whose
//! requests then fail or whose queue fills while it waits, is a cascade, reported with the
//! evidence.
//!
//! **Attribution.** A failed call attempt from a healthy service `h` to a faulting service `f`
//! is blamed on `f`'s guest when the attempt's own request faulted in `f`, or when it failed
//! (timed out, was rejected) while an invocation of `f` that later faulted was running. A crash
//! or a network fault is not a guest fault: calls that fail because of them are never blamed,
//! and a run without guest faults has no cascade to report.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "sandbox-containment";

/// Everything the property reads from the trace (names borrowed from its lines).
#[derive(Default)]
struct Seen<'a> {
    /// (service, cause) → (count, first input, first time).
    faults: BTreeMap<(String, String), (u64, String, SimTime, u64)>,
    /// (service, limit) → (count, first time).
    limits: BTreeMap<(String, String), (u64, SimTime, u64)>,
    /// invocation → (service, request, start, end).
    invs: BTreeMap<u64, Inv<'a>>,
    /// Invocations that faulted.
    faulted: BTreeSet<u64>,
    /// request → the invocations that served it.
    served_by: BTreeMap<u64, Vec<u64>>,
    /// Failed call attempts: (time, calling invocation, request, callee service, reason).
    failed_calls: Vec<(SimTime, u64, u64, &'a str, &'a str)>,
    /// Client answers: request → (service, outcome).
    answers: BTreeMap<u64, (&'a str, &'a str)>,
    /// Queue-full rejections: (time, service).
    rejections: Vec<(SimTime, &'a str)>,
    /// Guest invocations started (the property judges guests).
    guest_invocations: u64,
}

struct Inv<'a> {
    service: &'a str,
    req: u64,
    start: SimTime,
    end: Option<SimTime>,
    outcome: &'a str,
}

/// What a guest fault did to one healthy service.
#[derive(Default)]
struct Cascade {
    timeouts: u64,
    other_failures: u64,
    first: Option<SimTime>,
    /// The healthy invocation whose call failed first.
    first_inv: u64,
    /// Its requests that failed while waiting on the faulting service.
    failed_requests: u64,
    /// Queue-full rejections while its slots waited on the faulting service.
    rejections: u64,
}

fn read<'a>(s: &Scenario, run: &'a Judged<'_>) -> Result<Seen<'a>, String> {
    let mut seen = Seen::default();
    let guest = |name: &str| s.service(name).is_some_and(|x| x.module.is_some());
    let read = each_event(run, |line| match &line.event {
        TraceEvent::GuestFault { inv, service, cause, input } => {
            let e = seen.faults.entry((service.to_string(), cause.to_string()));
            e.or_insert((0, input.to_string(), line.t, *inv)).0 += 1;
            seen.faulted.insert(*inv);
        }
        TraceEvent::LimitHit { inv, service, limit, count } => {
            let e = seen.limits.entry((service.to_string(), limit.to_string()));
            e.or_insert((0, line.t, *inv)).0 += count;
        }
        TraceEvent::InvocationStart { inv, req, service, .. } => {
            if guest(service) {
                seen.guest_invocations += 1;
            }
            let new = Inv { service, req: *req, start: line.t, end: None, outcome: "" };
            seen.invs.insert(*inv, new);
            seen.served_by.entry(*req).or_default().push(*inv);
        }
        TraceEvent::InvocationEnd { inv, outcome, .. } => {
            if let Some(i) = seen.invs.get_mut(inv) {
                i.end = Some(line.t);
                i.outcome = outcome;
            }
        }
        TraceEvent::CallFailed { inv, req, target, reason, .. } => {
            let callee = target.split('.').next().unwrap_or_default();
            seen.failed_calls.push((line.t, *inv, *req, callee, reason));
        }
        TraceEvent::Response { req, service, outcome, .. } => {
            seen.answers.insert(*req, (service, outcome));
        }
        TraceEvent::Rejected { service, .. } => seen.rejections.push((line.t, service)),
        _ => {}
    });
    read.map_err(|e| unreadable(&e))?;
    Ok(seen)
}

/// A failed attempt into `callee` is the guest's doing: its own request faulted there, or it
/// failed while an invocation of `callee` that later faulted was running.
fn blamed_on_guest(seen: &Seen, t: SimTime, req: u64, callee: &str) -> bool {
    let own =
        seen.served_by.get(&req).is_some_and(|invs| invs.iter().any(|i| seen.faulted.contains(i)));
    own || seen.faulted.iter().any(|i| {
        seen.invs.get(i).is_some_and(|inv| {
            inv.service == callee && inv.start <= t && inv.end.is_none_or(|end| t <= end)
        })
    })
}

fn ms(t: SimTime) -> String {
    format!("{:.1} ms", t.nanos() as f64 / 1e6)
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let seen = match read(s, run) {
        Ok(seen) => seen,
        Err(why) => return Verdict::unjudged(ID, why),
    };
    let mut findings = Vec::new();
    if seen.guest_invocations == 0 && seen.faults.is_empty() && findings.is_empty() {
        return Verdict::not_exercised(ID, "no guest module ran in this run");
    }
    // When the violation shows: the first guest fault or limit hit, or the first failed call
    // of a healthy service that waited on a faulting guest; each names its invocation.
    let mut first: Option<SimTime> = None;
    let mut subjects: Vec<String> = Vec::new();
    let mut date = |t: SimTime, inv: u64, subjects: &mut Vec<String>| {
        first = Some(first.map_or(t, |f: SimTime| f.min(t)));
        subjects.push(Link::Inv(inv).to_string());
    };
    for ((service, cause), (n, input, t, inv)) in &seen.faults {
        date(*t, *inv, &mut subjects);
        findings.push(format!(
            "guest of `{service}` faulted {n} time(s): {cause}; first at {} on input {input}",
            ms(*t)
        ));
    }
    for ((service, limit), (n, t, inv)) in &seen.limits {
        date(*t, *inv, &mut subjects);
        findings.push(format!(
            "guest of `{service}` hit its sandbox limit `{limit}` {n} time(s) (absorbed by the host); first at {}",
            ms(*t)
        ));
    }
    let faulty: BTreeSet<&str> = seen.faults.keys().map(|(svc, _)| svc.as_str()).collect();
    // (faulting service, affected service) → what it did there.
    let mut cascades: BTreeMap<(String, String), Cascade> = BTreeMap::new();
    // Invocations of healthy services that waited on a blamed attempt: (faulting, affected) →
    // those invocations.
    let mut hit: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for (t, inv, req, callee, reason) in &seen.failed_calls {
        let Some(caller) = seen.invs.get(inv).map(|i| i.service) else { continue };
        if !faulty.contains(callee)
            || faulty.contains(caller)
            || !blamed_on_guest(&seen, *t, *req, callee)
        {
            continue;
        }
        let key = ((*callee).to_owned(), caller.to_owned());
        let c = cascades.entry(key.clone()).or_default();
        if *reason == "timeout" {
            c.timeouts += 1;
        } else {
            c.other_failures += 1;
        }
        if c.first.is_none_or(|f| *t < f) {
            c.first = Some(*t);
            c.first_inv = *inv;
        }
        hit.entry(key).or_default().insert(*inv);
    }
    for (key, invs) in &hit {
        let c = cascades.get_mut(key).expect("every hit has its cascade");
        for inv in invs {
            let i = &seen.invs[inv];
            let answered_badly = seen.answers.get(&i.req).is_some_and(|(_, o)| !ok(o));
            let ended_badly = i.end.is_some() && !ok(i.outcome);
            if answered_badly || ended_badly {
                c.failed_requests += 1;
            }
        }
        c.rejections = seen
            .rejections
            .iter()
            .filter(|(t, svc)| {
                *svc == key.1
                    && invs.iter().any(|inv| {
                        let i = &seen.invs[inv];
                        i.start <= *t && i.end.is_none_or(|end| *t <= end)
                    })
            })
            .count() as u64;
    }
    let mut affected = Vec::new();
    for ((faulting, victim), c) in &cascades {
        // Failing fast with an error answer the caller handled is containment working; waiting
        // out timeouts, failing its own requests or filling its queue is the fault spreading.
        if c.timeouts == 0 && c.failed_requests == 0 && c.rejections == 0 {
            continue;
        }
        affected.push(victim.clone());
        if let Some(t) = c.first {
            date(t, c.first_inv, &mut subjects);
        }
        findings.push(format!(
            "not contained: the faulting guest of `{faulting}` made healthy `{victim}` fail: {} call(s) to `{faulting}` timed out and {} failed otherwise (first at {}), {} of `{victim}`'s requests failed while waiting on it, {} request(s) were rejected by its full queue meanwhile",
            c.timeouts,
            c.other_failures,
            ms(c.first.unwrap_or_default()),
            c.failed_requests,
            c.rejections
        ));
    }
    let mut notes = vec![format!(
        "{} guest invocation(s); {} guest fault(s), {} absorbed limit hit(s)",
        seen.guest_invocations,
        seen.faults.values().map(|f| f.0).sum::<u64>(),
        seen.limits.values().map(|l| l.0).sum::<u64>()
    )];
    for ((faulting, victim), c) in &cascades {
        if !affected.contains(victim) {
            notes.push(format!(
                "contained: `{victim}` got {} failed answer(s) from `{faulting}` and handled them",
                c.other_failures
            ));
        }
    }
    subjects.extend(faulty.iter().map(|s| (*s).to_owned()));
    subjects.extend(seen.limits.keys().map(|(svc, _)| svc.clone()));
    subjects.extend(affected);
    let v = Verdict::new(ID, findings, notes).about(subjects);
    if v.passed() { v } else { v.at_opt(first) }
}

/// An outcome that answers as designed (an application error is still an answer).
fn ok(outcome: &str) -> bool {
    matches!(outcome, "ok" | "app-error")
}
