//! No loss: every client request ends in exactly one answer (a response or an explicit failure
//! such as a timeout), and every message published on an at-least-once channel is acknowledged
//! by every consumer group.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Verdict, each_event, unreadable};
use crate::system::RunResult;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "no-loss";

pub(super) fn check(_s: &Scenario, run: &RunResult) -> Verdict {
    let mut findings = Vec::new();
    if run.requests_answered != run.requests_sent {
        findings.push(format!(
            "{} client request(s) sent, {} answered",
            run.requests_sent, run.requests_answered
        ));
    }
    // Exactly one answer per request, from the trace.
    let mut answers: BTreeMap<u64, u32> = BTreeMap::new();
    let read = each_event(run, |line| {
        if let TraceEvent::Response { req, .. } = line.event {
            *answers.entry(req).or_default() += 1;
        }
    });
    if let Err(e) = read {
        findings.push(unreadable(&e));
    }
    for (req, n) in answers.iter().filter(|(_, n)| **n > 1).take(5) {
        findings.push(format!("request {req} was answered {n} times"));
    }
    for (channel, msg, group) in run.unacked.iter().take(10) {
        findings.push(format!("message {msg} on at-least-once channel `{channel}` was never consumed by group `{group}`"));
    }
    if run.unacked.len() > 10 {
        findings.push(format!("{} unconsumed messages in all", run.unacked.len()));
    }
    for (channel, c) in &run.metrics.channels {
        if c.dead_lettered > 0 {
            findings.push(format!(
                "channel `{channel}`: {} message(s) given up after too many deliveries",
                c.dead_lettered
            ));
        }
    }
    let subjects: Vec<String> = run
        .unacked
        .iter()
        .take(10)
        .flat_map(|(c, m, g)| [format!("msg:{m}"), c.clone(), g.clone()])
        .collect();
    let notes = vec![format!(
        "{} requests, {} answered; {} unconsumed messages",
        run.requests_sent,
        run.requests_answered,
        run.unacked.len()
    )];
    let v = Verdict::new(ID, findings, notes);
    // Channels and groups alone would match every delivery: keep the message ids, and the
    // names only to label them.
    let ids: Vec<String> = subjects.into_iter().filter(|x| x.starts_with("msg:")).collect();
    v.about(ids)
}
