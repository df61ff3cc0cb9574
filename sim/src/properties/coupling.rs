//! Dynamic coupling: what services actually did, against what they declare.
//!
//! **Undeclared dependencies.** The host refuses every call, store access, cache access and
//! publish a service did not declare (the import returns `-2`, traced as `refused`), so an
//! undeclared dependency never happens — it is attempted. Each refused attempt is a finding
//! naming the service, the operation and its target: the module depends on something the
//! design does not show.
//!
//! **Coupling on traffic.** The static check measures Coupling(a, b) on the declared graph;
//! here the same measure is weighted by the traffic of the run: every call is an interaction
//! of weight 1, every publish ½ per subscribed service (only a message format is shared), every
//! read of a store another service owns 1, every client request 1 for its service. Coupling(a,
//! b) = weight between a and b ÷ weight of everything touching a or b. An interaction is
//! counted once however often faults made it happen: of the invocations serving one client
//! request, one call (its retries, the network's duplicates of it) or one message in one
//! consumer group (its redeliveries and duplicates), only the first counts — the others
//! re-run it — and so does nothing a re-run caused (the calls it made, the messages it
//! published, and what served those). A fault that repeats work must not make a design look
//! more coupled than it is, nor, at the end of a chain of retries, less. Above
//! `quality.coupling_max` the pair fails (exactly ½ is what any link of a pipeline measures
//! when its other traffic is idle, so the bound is strict here): the design looked loosely
//! coupled, the traffic says otherwise (a chatty pair, one service used mostly by one other).

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "dynamic-coupling";

/// The end of an interaction that is not a service: the clients through the gateway.
const CLIENTS: &str = "(clients)";

/// What a refused import was trying to do.
fn attempted(import: &str) -> &'static str {
    match import {
        "call" | "call_timeout" => "called",
        "kv_put" | "kv_delete" | "kv_cas" | "kv_cas_version" => "wrote store",
        "kv_get" | "kv_scan" | "kv_get_versioned" => "read store",
        "cache_get" | "cache_put" | "cache_delete" => "used cache",
        "publish" => "published to channel",
        _ => "used",
    }
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let mut findings = Vec::new();
    // invocation id → service, to attribute host operations.
    // Names borrow from the scenario and from the lines read back: nothing is allocated per
    // event.
    let mut inv_service: BTreeMap<u64, &str> = BTreeMap::new();
    let mut guest_invocations = 0u64;
    // (service, import, target) → refusals.
    // (service, import, target) → (times refused, the first refusal's time and invocation).
    let mut refused: BTreeMap<(String, String, String), (u64, SimTime, u64)> = BTreeMap::new();
    // (from, to, kind) → weight of the interactions of the run.
    let mut traffic: BTreeMap<(&str, &str, &str), f64> = BTreeMap::new();
    // What an invocation serves (`client`, `call` or `message`; its id; a message's group):
    // the executions seen, the invocations that re-ran one or were caused by a re-run, and
    // the calls and messages those made.
    let mut seen: BTreeSet<(&str, u64, &str)> = BTreeSet::new();
    let mut reruns: BTreeSet<u64> = BTreeSet::new();
    let (mut rerun_calls, mut rerun_msgs) = (BTreeSet::new(), BTreeSet::new());
    let mut made: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let subscribers = |channel: &str| -> Vec<&str> {
        let mut out: Vec<&str> = s
            .services
            .iter()
            .filter(|x| x.subscriptions.iter().any(|sub| sub.channel.name == channel))
            .map(|x| x.name.as_str())
            .collect();
        out.dedup();
        out
    };
    let owners = |store: &str| -> Vec<&str> {
        s.services
            .iter()
            .filter(|x| x.owns.iter().any(|o| o.name == store))
            .map(|x| x.name.as_str())
            .collect()
    };
    let read = each_event(run, |line| match &line.event {
        TraceEvent::InvocationStart { inv, service, cause, source, group, .. } => {
            if s.service(service).is_some_and(|x| x.module.is_some()) {
                guest_invocations += 1;
            }
            inv_service.insert(*inv, service);
            let caused_by_rerun = match &**cause {
                "call" => rerun_calls.contains(source),
                "message" => rerun_msgs.contains(source),
                _ => false,
            };
            if !seen.insert((cause, *source, group)) || caused_by_rerun {
                reruns.insert(*inv);
            }
        }
        TraceEvent::CallStart { call, inv, .. } if reruns.contains(inv) => {
            rerun_calls.insert(*call);
        }
        TraceEvent::Publish { msg, inv, .. } if reruns.contains(inv) => {
            rerun_msgs.insert(*msg);
        }
        TraceEvent::Arrival { service, .. } => {
            *traffic.entry((CLIENTS, service, "client")).or_default() += 1.0;
        }
        TraceEvent::HostOp { inv, op, target } => {
            let Some(&from) = inv_service.get(inv) else { return };
            if reruns.contains(inv) {
                return;
            }
            match &**op {
                "call" => {
                    let to = target.split('.').next().unwrap_or_default();
                    *made.entry((from, target)).or_default() += 1;
                    *traffic.entry((from, to, "call")).or_default() += 1.0;
                }
                "publish" => {
                    for to in subscribers(target) {
                        *traffic.entry((from, to, "message")).or_default() += 0.5;
                    }
                }
                // A scan reads like a get (`call_timeout` is traced as `call`).
                "kv_get" | "kv_scan" | "kv_get_versioned" => {
                    for to in owners(target).into_iter().filter(|o| *o != from) {
                        *traffic.entry((from, to, "read")).or_default() += 1.0;
                    }
                }
                _ => {}
            }
        }
        TraceEvent::Refused { inv, import, target, .. } => {
            // Refusals are traced as `service:target`.
            let (service, target) = target.split_once(':').unwrap_or(("", target));
            let key = (service.to_owned(), import.to_string(), target.to_owned());
            refused.entry(key).or_insert((0, line.t, *inv)).0 += 1;
        }
        _ => {}
    });
    if let Err(e) = read {
        return Verdict::unjudged(ID, unreadable(&e));
    }
    if guest_invocations == 0 && traffic.is_empty() && refused.is_empty() && findings.is_empty() {
        return Verdict::not_exercised(ID, "no guest ran and no service interacted with another");
    }
    for ((service, import, target), (n, _, _)) in &refused {
        findings.push(format!(
            "`{service}` {} `{target}` without declaring it: refused by the host {n} time(s) (`{import}` returned -2): an undeclared dependency",
            attempted(import)
        ));
    }
    let mut notes = Vec::new();
    let total: u64 = made.values().sum();
    for ((caller, target), n) in &made {
        let share = if total == 0 { 0.0 } else { *n as f64 / total as f64 };
        notes.push(format!("{caller} → {target}: {n} calls ({:.0} % of all calls)", share * 100.0));
    }
    let mut pairs: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for (&(a, b, _), w) in &traffic {
        if a != b && a != CLIENTS {
            let key = if a <= b { (a, b) } else { (b, a) };
            *pairs.entry(key).or_default() += w;
        }
    }
    let max = s.quality.coupling_max;
    let mut chatty = Vec::new();
    for ((a, b), between) in &pairs {
        let touching: f64 = traffic
            .iter()
            .filter(|((x, y, _), _)| [x, y].iter().any(|n| *n == a || *n == b))
            .map(|(_, w)| w)
            .sum();
        let c = if touching == 0.0 { 0.0 } else { between / touching };
        if c > max {
            findings.push(format!(
                "measured Coupling({a}, {b}) = {c:.2} on this run's traffic exceeds quality.coupling_max = {max}: {between} of {touching} interaction weight touching them is between the two"
            ));
            chatty.extend([a.to_string(), b.to_string()]);
        } else {
            notes.push(format!("measured Coupling({a}, {b}) = {c:.2}"));
        }
    }
    for svc in &s.services {
        for c in &svc.calls {
            let target = format!("{}.{}", c.service.name, c.endpoint.name);
            if !made.contains_key(&(svc.name.as_str(), target.as_str())) {
                notes.push(format!("{} → {target}: declared, never called in this run", svc.name));
            }
        }
    }
    let subjects = refused
        .iter()
        .flat_map(|((service, _, _), (_, _, inv))| [service.clone(), Link::Inv(*inv).to_string()])
        .chain(chatty);
    let v = Verdict::new(ID, findings, notes).about(subjects);
    // Dated by the first refused access; coupling measured over the whole run's traffic has
    // no single moment, so a verdict failing on that alone stays undated.
    let first = refused.values().map(|(_, t, _)| *t).min();
    if v.passed() { v } else { v.at_opt(first) }
}
