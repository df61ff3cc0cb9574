//! No loss: nothing the system accepted disappears without an answer.
//!
//! **Requests.** Every client request ends in exactly one answer. An answer by the system —
//! a response, an application error, or an explicit failure with a reason (a rejection by a
//! full queue or for want of a healthy instance, a bad request, a contract violation, a guest
//! fault) — is not a loss: the client was told. A *gateway timeout* is the client giving up,
//! never the system's answer. It is a loss when the system dropped the request silently on
//! its own — on a link of the design's topology that loses it (its declared `loss`) or has no
//! route, between the gateway and a replica either way — and a failed but not lost request when
//! the system was still working on it (a slow answer is availability's concern, judged by the
//! SLOs). A request dropped by an injected or declared fault (a crashed or down replica, a
//! partition, a loss fault) is counted apart and not blamed on the design: the gateway, as
//! modelled, has no retry a design could configure, so no design could have saved it; calls
//! and messages, which do retry, are judged by what reaches the client and by the messages'
//! fate. A request or response lost between the client and the gateway never reached the
//! system: reported, not blamed. A system whose links drop every request fails.
//!
//! **Messages.** Every message on an at-least-once channel is acknowledged by every consumer
//! group. A message still unacknowledged at the cutoff is lost when it was given up
//! (dead-lettered) or when its consumer ran it and refused it (answered a delivery with a
//! guest fault or a contract violation): redelivering it cannot help. One merely waiting in a
//! consumer's backlog or for its next redelivery at the cutoff is pending, not lost — the run
//! drains for a settle period after the workload and the last fault, so a consumer that keeps
//! up has acknowledged everything by then.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;
use fusebench_model::scenario::Delivery;

use super::{Judged, Link, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "no-loss";

/// Outcomes of a consumer that ran a delivery and refused it: it will refuse it again.
const REFUSED: &[&str] = &["guest-fault", "contract-violation", "bad-request"];

#[derive(Default)]
struct Seen {
    /// Client requests that reached the gateway.
    arrived: BTreeSet<u64>,
    /// Client answers: request → outcomes (one, unless the request was answered twice).
    answers: BTreeMap<u64, Vec<String>>,
    /// When each answer of `answers` came (same order).
    answered_at: BTreeMap<u64, Vec<SimTime>>,
    /// Request or response drops: id → (where, reason, dropped on the gateway's own leg).
    drops: BTreeMap<u64, Vec<WireDrop>>,
    /// Rejection reasons traced by replicas.
    rejections: BTreeMap<String, u64>,
    /// (channel, msg, group) → refusing outcomes of its deliveries.
    refused: BTreeMap<(String, u64, String), Vec<String>>,
    /// (channel, msg, group) → when its consumer first refused it.
    first_refused: BTreeMap<(String, u64, String), SimTime>,
    /// Channel → its first dead-lettered message and when (the broker traces it as dropped).
    dead_lettered: BTreeMap<String, (SimTime, u64)>,
    /// Publishes lost on the wire before the broker (the publisher was told `-3`).
    publishes_dropped: u64,
}

struct WireDrop {
    what: String,
    from: String,
    to: String,
    reason: String,
    /// Whether an injected or declared fault explains the drop.
    by_fault: bool,
    /// When it was dropped: the moment a loss happens.
    t: SimTime,
}

fn read(run: &Judged<'_>) -> Result<Seen, String> {
    let mut seen = Seen::default();
    let read = each_event(run, |line| match &line.event {
        TraceEvent::Arrival { req, .. } => {
            seen.arrived.insert(*req);
        }
        TraceEvent::Response { req, outcome, .. } => {
            seen.answers.entry(*req).or_default().push(outcome.to_string());
            seen.answered_at.entry(*req).or_default().push(line.t);
        }
        TraceEvent::Dropped { what, id, from, to, reason } => {
            if what == "request" || what == "response" {
                // The design's own links: a declared `loss` or no route. A loss fault
                // (`loss fault`, its own reason: `system/network.rs`), a down or crashed
                // replica, a partition: only faults do that.
                let by_fault = !matches!(&**reason, "loss" | "no route");
                let d = WireDrop {
                    what: what.to_string(),
                    from: from.to_string(),
                    to: to.to_string(),
                    reason: reason.to_string(),
                    by_fault,
                    t: line.t,
                };
                seen.drops.entry(*id).or_default().push(d);
            } else if what == "publish" {
                seen.publishes_dropped += 1;
            } else if what == "message" && reason == "dead-lettered" {
                seen.dead_lettered.entry(from.to_string()).or_insert((line.t, *id));
            }
        }
        TraceEvent::Rejected { reason, .. } => {
            *seen.rejections.entry(reason.to_string()).or_default() += 1;
        }
        TraceEvent::Nacked { channel, msg, group, outcome, .. }
            if REFUSED.contains(&&**outcome) =>
        {
            let key = (channel.to_string(), *msg, group.to_string());
            seen.first_refused.entry(key.clone()).or_insert(line.t);
            seen.refused.entry(key).or_default().push(outcome.to_string());
        }
        _ => {}
    });
    read.map_err(|e| unreadable(&e))?;
    Ok(seen)
}

/// Where a client request was dropped inside the system, if it was: not on the client's leg
/// (before it reached the gateway, or the gateway's answer on its way back).
fn dropped_inside<'a>(seen: &'a Seen, req: u64, gateway: &str) -> Option<&'a WireDrop> {
    seen.drops.get(&req)?.iter().find(|d| {
        let before_gateway = d.what == "request" && !seen.arrived.contains(&req);
        let answer_to_client = d.what == "response" && d.from == gateway;
        !before_gateway && !answer_to_client
    })
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let seen = match read(run) {
        Ok(seen) => seen,
        Err(why) => return Verdict::unjudged(ID, why),
    };
    let mut findings = Vec::new();
    let at_least_once: BTreeSet<&str> = s
        .channels
        .iter()
        .filter(|c| c.delivery == Delivery::AtLeastOnce)
        .map(|c| c.name.as_str())
        .collect();
    let published: u64 = run
        .metrics
        .channels
        .iter()
        .filter(|(c, _)| at_least_once.contains(c.as_str()))
        .map(|(_, c)| c.published)
        .sum();
    if run.requests_sent == 0 && published == 0 && findings.is_empty() {
        return Verdict::not_exercised(
            ID,
            "no client request was sent and no message was published on an at-least-once channel",
        );
    }
    let gateway = s.gateway.as_ref().map_or("", |g| g.node.name.as_str());
    let mut subjects = Vec::new();
    // When the first loss shows: a request answered twice (its second answer), a request
    // dropped silently (the drop), a message refused for good (its first refusal), a channel
    // giving up a message (its first dead-lettering).
    let mut first: Option<SimTime> = None;
    let mut date = |t: SimTime| first = Some(first.map_or(t, |f: SimTime| f.min(t)));

    // Requests.
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut lost: Vec<(u64, &WireDrop)> = Vec::new();
    let (mut slow, mut client_leg, mut to_faults) = (0u64, 0u64, 0u64);
    for (req, answers) in &seen.answers {
        if answers.len() > 1 {
            findings.push(format!("request {req} was answered {} times", answers.len()));
            subjects.push(Link::Req(*req).to_string());
            if let Some(&t) = seen.answered_at.get(req).and_then(|ts| ts.get(1)) {
                date(t);
            }
        }
        let outcome = answers[0].as_str();
        *outcomes.entry(outcome).or_default() += 1;
        if outcome != "timeout" {
            continue;
        }
        match dropped_inside(&seen, *req, gateway) {
            Some(d) if d.by_fault => to_faults += 1,
            Some(d) => lost.push((*req, d)),
            None if seen.drops.contains_key(req) => client_leg += 1,
            None => slow += 1,
        }
    }
    // Requests the cutoff found unanswered: lost if the system dropped them already.
    let unanswered = run.requests_sent.saturating_sub(seen.answers.len() as u64);
    for req in seen.arrived.iter().filter(|r| !seen.answers.contains_key(r)) {
        if let Some(d) = dropped_inside(&seen, *req, gateway).filter(|d| !d.by_fault) {
            lost.push((*req, d));
        }
    }
    if !lost.is_empty() {
        let mut by_reason: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (req, d) in &lost {
            let place = if d.from == d.to {
                format!("{} at `{}`", d.reason, d.from)
            } else {
                format!("{} {} `{}` → `{}`", d.what, d.reason, d.from, d.to)
            };
            let first_here = by_reason.entry(place).or_insert((0, *req));
            first_here.0 += 1;
            if first_here.0 == 1 {
                subjects.push(Link::Req(*req).to_string());
            }
            date(d.t);
            subjects.push(d.from.clone());
        }
        for (place, (n, first)) in &by_reason {
            findings.push(format!(
                "{n} client request(s) silently dropped by the system ({place}; first: request {first}): the client only saw its gateway timeout"
            ));
        }
    }
    let answered: u64 = outcomes.iter().filter(|(o, _)| **o != "timeout").map(|(_, n)| n).sum();
    let timed_out = outcomes.get("timeout").copied().unwrap_or(0);
    let mut notes = vec![format!(
        "{} client request(s): {answered} answered by the system ({}), {timed_out} timed out at the gateway ({} lost by the system, {to_faults} lost to an injected fault, {client_leg} lost between client and gateway, {slow} still being served: failed, not lost), {unanswered} unresolved at the cutoff",
        run.requests_sent,
        show_counts(&outcomes, "timeout"),
        lost.iter().filter(|(r, _)| seen.answers.contains_key(r)).count(),
    )];
    if !seen.rejections.is_empty() {
        notes.push(format!(
            "rejections with a reason are answers, not losses: {}",
            show_counts(&seen.rejections.iter().map(|(r, n)| (r.as_str(), *n)).collect(), "")
        ));
    }

    // Messages.
    for (channel, c) in &run.metrics.channels {
        if c.dead_lettered > 0 {
            findings.push(format!(
                "channel `{channel}`: {} message(s) given up after too many deliveries",
                c.dead_lettered
            ));
            subjects.push(channel.clone());
            if let Some(&(t, msg)) = seen.dead_lettered.get(channel) {
                date(t);
                subjects.push(Link::Msg(msg).to_string());
            }
        }
    }
    let mut pending = 0u64;
    let mut refused_lost = 0usize;
    for (channel, msg, group) in &run.unacked {
        let key = (channel.clone(), *msg, group.clone());
        match seen.refused.get(&key) {
            Some(outcomes) => {
                refused_lost += 1;
                if let Some(&t) = seen.first_refused.get(&key) {
                    date(t);
                }
                if refused_lost <= 10 {
                    findings.push(format!(
                        "message {msg} on at-least-once channel `{channel}` is lost for group `{group}`: its consumer refused it {} time(s) ({}) and never acknowledged it",
                        outcomes.len(),
                        outcomes[0]
                    ));
                    subjects.push(Link::Msg(*msg).to_string());
                }
            }
            None => pending += 1,
        }
    }
    if refused_lost > 10 {
        findings.push(format!("{refused_lost} refused, unacknowledged messages in all"));
    }
    notes.push(format!(
        "{published} message(s) published on at-least-once channels; {} unacknowledged at the cutoff ({refused_lost} refused by their consumer: lost, {pending} waiting in a backlog or for redelivery: pending, not lost)",
        run.unacked.len()
    ));
    if seen.publishes_dropped > 0 {
        notes.push(format!(
            "{} publish(es) dropped on the wire before the broker (each publisher was told -3)",
            seen.publishes_dropped
        ));
    }
    let v = Verdict::new(ID, findings, notes).about(subjects);
    if v.passed() { v } else { v.at_opt(first) }
}

fn show_counts(counts: &BTreeMap<&str, u64>, skip: &str) -> String {
    let parts: Vec<String> =
        counts.iter().filter(|(k, _)| **k != skip).map(|(k, n)| format!("{k} {n}")).collect();
    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
}
