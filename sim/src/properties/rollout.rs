//! Rollout safe: no request failed because of a rollout (`[[rollout]]`), judged on the trace.
//!
//! Which module version each replica runs follows from the `rollout` lines
//! (`system/rollout.rs`): from `started` on, the replicas the service had run the old
//! version; `starting`, `swapped` and `restarted` put a replica on the line's version; an
//! invocation runs the version of its replica when it starts. A request failed because of the
//! swap when:
//!
//! - (a) a replica the rollout retired while it served (`terminating`, `draining`, and once
//!   stopped) refused one of its tries — a caller still sent it there (a stale discovery
//!   cache, no drain delay) — and the request failed: the client's answer was a failure, or
//!   the call gave up. A refused try that a retry recovered (the gateway's or a sidecar's
//!   retries, Envoy's `retry_on: unavailable`; a channel's retries) failed no request: only
//!   what the caller finally got counts, as a user of the system sees it. Nor does a request
//!   (or call) one of whose tries a fault lost — dropped at a crashed replica, with a crashed
//!   node, or by the network (`dropped` lines): its retry was defeated by the fault, which
//!   would have failed it without the rollout (the notes count these). A message delivery a
//!   retiring replica refused (`nacked`, naming the delivery's request) fails the message on
//!   an at-most-once channel, which never delivers it again, and on an at-least-once channel
//!   if it is dead-lettered; acknowledged later, a redelivery recovered it;
//! - (b) its invocation ran the new version and did not answer (a guest fault, a contract
//!   violation, an unexpected application error, an OOM kill) — except an application error
//!   after one of its host operations failed for want of an answer (`op_timeout`: a store,
//!   cache or broker the network or a crash cut off) or one of its calls gave up: that is how
//!   any version answers when a fault takes what it needs away (a call that gave up because
//!   retiring replicas refused it is judged under (a));
//! - (c) its invocation failed right after the answer it got to its last call came from the
//!   new version (the new module broke what the caller relies on). The answer must have
//!   reached it: a new-version invocation whose answer a fault dropped, or that came after the
//!   caller's try timed out (`call_failed` of that try), or a wire duplicate's (which the
//!   caller never takes) answered nothing, and a caller that failed because its call gave up
//!   failed for want of an answer (clause (a) judges that call's refused tries).
//!
//! (b) and (c) are judged per invocation whatever the retries do: a new version that fails is
//! a defect of the module that no retry hides once every replica runs it.
//!
//! Not exercised when the scenario has no rollout, none started within the run, or no
//! invocation ran a new version (and nothing failed). The notes
//! give each rollout's timing: when it started and finished and how long two versions served
//! side by side (the skew window), as the report shows them.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;
use fusebench_model::scenario::Delivery;

use super::{Judged, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;
use crate::trace::rollout::Versions;

pub(super) const ID: &str = "rollout-safe";

/// Findings listed at most (the count says how many there were).
const SHOWN: usize = 10;

fn failed(outcome: &str) -> bool {
    !matches!(outcome, "ok" | "expected-error")
}

/// Tries refused by retiring replicas, held until their request's fate is known.
#[derive(Debug, Default)]
struct Refusals {
    /// A gateway try's request → its client request (`gateway_try`).
    try_of: BTreeMap<u64, u64>,
    /// A client request, or a call attempt's request → its refused tries.
    by_req: BTreeMap<u64, Refused>,
    /// A call → the refusals of its attempts.
    by_call: BTreeMap<u64, Refused>,
    /// A message on an at-least-once channel, for one consumer group → the refusals of its
    /// deliveries, until it is acknowledged (recovered) or dead-lettered.
    by_msg: BTreeMap<(u64, String), Refused>,
    /// Refused tries of client requests that got a good answer in the end.
    recovered: u32,
    /// Client requests (keyed as `by_req`) and call attempts' requests a fault lost a try of.
    lost_req: BTreeSet<u64>,
    /// Calls a fault lost an attempt of.
    lost_call: BTreeSet<u64>,
    /// Requests and calls that failed with refused tries, and a try lost to a fault.
    fault_failed: u32,
}

/// The refused tries of one request or call: how many, the first one told in full, and every
/// retiring replica that refused one (a retry may meet another retiring replica).
#[derive(Debug, Default)]
struct Refused {
    n: u32,
    /// The first refusal, told in full, and the replica that made it.
    first: String,
    first_by: String,
    /// Refused tries per replica.
    by: BTreeMap<String, u32>,
}

impl Refused {
    fn add(&mut self, other: Refused) {
        if self.n == 0 {
            self.first = other.first;
            self.first_by = other.first_by;
        }
        self.n += other.n;
        for (who, k) in other.by {
            *self.by.entry(who).or_default() += k;
        }
    }

    /// "(n refused tries)", naming the replicas that refused besides the first one's.
    fn told(&self) -> String {
        let others: Vec<String> = self
            .by
            .iter()
            .filter(|(who, _)| **who != self.first_by)
            .map(|(who, k)| format!("{who} ({k})"))
            .collect();
        let tries = if self.n == 1 { "y" } else { "ies" };
        if others.is_empty() {
            format!("({} refused tr{tries})", self.n)
        } else {
            format!("({} refused tr{tries}; also by {})", self.n, others.join(", "))
        }
    }
}

impl Refusals {
    /// The request (a client request for a gateway try) whose try `req` is.
    fn key(&self, req: u64) -> u64 {
        self.try_of.get(&req).copied().unwrap_or(req)
    }

    fn refused(&mut self, req: u64, who: String, what: String) {
        let key = self.key(req);
        let by = [(who.clone(), 1)].into_iter().collect();
        let one = Refused { n: 1, first: what, first_by: who, by };
        self.by_req.entry(key).or_default().add(one);
    }

    /// Refusals whose request ended well (retried), or had not ended by the run's end (a
    /// call that got its answer leaves no line saying so).
    fn unfailed(&self) -> u32 {
        let open = self.by_req.values().chain(self.by_call.values()).chain(self.by_msg.values());
        self.recovered + open.map(|r| r.n).sum::<u32>()
    }
}

/// One invocation as the property follows it.
#[derive(Debug, Clone)]
struct Inv {
    service: String,
    replica: u32,
    req: u64,
    /// It runs the rollout's new version.
    new: bool,
    /// The call this invocation answers (cause `call`; not a wire duplicate, whose answer the
    /// caller never takes).
    answers: Option<u64>,
    /// The last call it made.
    last_call: Option<u64>,
    /// The attempt (its request) whose answer to the last call it got, if the new version
    /// gave it: cleared when that attempt fails after all (`call_failed`: a timeout, a
    /// dropped answer) or the call gives up.
    new_answer: Option<u64>,
    /// A host operation of it got no answer (`op_timeout`) or a call of it gave up: an
    /// application error it answers with is the fault's.
    cut_off: bool,
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    if s.rollouts.is_empty() {
        return Verdict::not_exercised(ID, "the scenario has no rollout");
    }
    let mut v = Versions::default();
    let mut invs: BTreeMap<u64, Inv> = BTreeMap::new();
    // call → the invocation that made it.
    let mut callers: BTreeMap<u64, u64> = BTreeMap::new();
    // Call attempts (their requests) that failed before their callee's invocation ended: the
    // answer it gives goes nowhere.
    let mut unanswered: BTreeSet<u64> = BTreeSet::new();
    // Application errors of invocations a fault cut off, on or right after the new version.
    let mut cut_off_errors = 0u64;
    let mut on_new = 0u64;
    let mut refusals = Refusals::default();
    let at_most_once: BTreeSet<&str> = s
        .channels
        .iter()
        .filter(|c| c.delivery != Delivery::AtLeastOnce)
        .map(|c| c.name.as_str())
        .collect();
    let mut violations: Vec<(SimTime, String, String)> = Vec::new();
    let mut end = SimTime::ZERO;
    let read = each_event(run, |line| {
        end = line.t;
        let ms = line.t.nanos() as f64 / 1e6;
        match &line.event {
            TraceEvent::Rollout { service, step, replica, version, desired } => {
                v.step(line.t, service, step, *replica, *version, *desired);
            }
            TraceEvent::InvocationStart {
                inv, req, service, replica, cause, source, copy, ..
            } => {
                let new = v.runs_new(service, *replica);
                on_new += u64::from(new);
                let answers = (cause == "call" && *copy == 0).then_some(*source);
                let record = Inv {
                    service: service.to_string(),
                    replica: *replica,
                    req: *req,
                    new,
                    answers,
                    last_call: None,
                    new_answer: None,
                    cut_off: false,
                };
                invs.insert(*inv, record);
            }
            TraceEvent::CallStart { call, inv, .. } => {
                callers.insert(*call, *inv);
                if let Some(c) = invs.get_mut(inv) {
                    c.last_call = Some(*call);
                    c.new_answer = None;
                }
            }
            TraceEvent::ReplicaDown { service, replica } => v.crashed(service, *replica),
            TraceEvent::GatewayTry { req, try_req, .. } => {
                refusals.try_of.insert(*try_req, *req);
            }
            TraceEvent::Rejected { req, service, replica, reason } => {
                let key = (service.to_string(), *replica);
                // A full queue is load, not the swap; a retiring replica refuses anything else.
                if v.retiring.contains_key(&key) && reason != "queue full" {
                    refusals.refused(
                        *req,
                        format!("replica {replica} of `{service}`"),
                        format!("replica {replica} of `{service}`, which the rollout was retiring, refused a try of it ({reason}) at {ms:.1} ms"),
                    );
                }
            }
            // A try lost to a fault on its way, at a crashed replica or with its answer.
            TraceEvent::Dropped { what, id, .. } if matches!(&**what, "request" | "response") => {
                let key = refusals.key(*id);
                refusals.lost_req.insert(key);
            }
            TraceEvent::CallFailed { call, req, target, reason, gave_up, .. } => {
                // That attempt's answer, if one comes, reaches no one; none reached the caller
                // of a call that gave up.
                unanswered.insert(*req);
                if let Some(c) = callers.get(call).and_then(|caller| invs.get_mut(caller)) {
                    if *gave_up || c.new_answer == Some(*req) {
                        c.new_answer = None;
                    }
                    c.cut_off |= *gave_up;
                }
                if let Some(r) = refusals.by_req.remove(req) {
                    refusals.by_call.entry(*call).or_default().add(r);
                }
                if refusals.lost_req.remove(req) {
                    refusals.lost_call.insert(*call);
                }
                let lost = *gave_up && refusals.lost_call.remove(call);
                if *gave_up && let Some(r) = refusals.by_call.remove(call) {
                    if lost {
                        refusals.fault_failed += 1;
                        return;
                    }
                    let told = r.told();
                    violations.push((
                        line.t,
                        format!(
                            "call {call} to `{target}` gave up ({reason}) at {ms:.1} ms: {}, a caller still sending it there {told}",
                            r.first
                        ),
                        format!("call:{call}"),
                    ));
                }
            }
            TraceEvent::Nacked { channel, msg, group, req, .. } => {
                let Some(r) = refusals.by_req.remove(req) else { return };
                if !at_most_once.contains(&**channel) {
                    refusals.by_msg.entry((*msg, group.to_string())).or_default().add(r);
                    return;
                }
                violations.push((
                    line.t,
                    format!(
                        "message {msg} on at-most-once channel `{channel}` was lost for group `{group}` at {ms:.1} ms: {}, and it is never delivered again",
                        r.first
                    ),
                    format!("msg:{msg}"),
                ));
            }
            TraceEvent::Acked { msg, group, .. } => {
                if let Some(r) = refusals.by_msg.remove(&(*msg, group.to_string())) {
                    refusals.recovered += r.n;
                }
            }
            TraceEvent::Dropped { what, id, to, reason, .. }
                if what == "message" && reason == "dead-lettered" =>
            {
                if let Some(r) = refusals.by_msg.remove(&(*id, to.to_string())) {
                    let told = r.told();
                    violations.push((
                        line.t,
                        format!(
                            "message {id} was dead-lettered for group `{to}` at {ms:.1} ms: {}, the broker still delivering it there {told}",
                            r.first
                        ),
                        format!("msg:{id}"),
                    ));
                }
            }
            TraceEvent::Response { req, outcome, .. } => {
                let lost = refusals.lost_req.remove(req);
                let Some(r) = refusals.by_req.remove(req) else { return };
                if !failed(outcome) {
                    refusals.recovered += r.n;
                } else if lost {
                    refusals.fault_failed += 1;
                } else {
                    let told = r.told();
                    violations.push((
                        line.t,
                        format!(
                            "request {req} failed ({outcome}) at {ms:.1} ms: {}, a caller still sending it there {told}",
                            r.first
                        ),
                        format!("req:{req}"),
                    ));
                }
            }
            TraceEvent::OpTimeout { inv, .. } => {
                if let Some(c) = invs.get_mut(inv) {
                    c.cut_off = true;
                }
            }
            TraceEvent::InvocationEnd { inv, outcome, .. } => {
                let Some(done) = invs.remove(inv) else { return };
                let fault_s = done.cut_off && outcome == "app-error";
                if fault_s {
                    cut_off_errors += u64::from(done.new || done.new_answer.is_some());
                } else if failed(outcome) && done.new {
                    violations.push((
                        line.t,
                        format!(
                            "inv {inv} (request {}) on replica {} of `{}` ran the new version and ended {outcome} at {ms:.1} ms",
                            done.req, done.replica, done.service
                        ),
                        format!("inv:{inv}"),
                    ));
                } else if failed(outcome) && done.new_answer.is_some() {
                    violations.push((
                        line.t,
                        format!(
                            "inv {inv} (request {}) of `{}` ended {outcome} at {ms:.1} ms, right after the new version answered its call",
                            done.req, done.service
                        ),
                        format!("inv:{inv}"),
                    ));
                }
                // Its answer reaches its caller unless that attempt failed already, and counts
                // only while it answers the caller's last call.
                if let Some(call) = done.answers
                    && !unanswered.remove(&done.req)
                    && let Some(c) = callers.get(&call).and_then(|caller| invs.get_mut(caller))
                    && c.last_call == Some(call)
                {
                    c.new_answer = done.new.then_some(done.req);
                }
            }
            _ => {}
        }
    });
    if let Err(e) = read {
        return Verdict::unjudged(ID, unreadable(&e));
    }
    let timelines = v.finish(end);
    if timelines.is_empty() {
        return Verdict::not_exercised(ID, "no rollout started within the run");
    }
    if on_new == 0 && violations.is_empty() {
        // Started, but nothing ran on the new version: the swap was not put to the test.
        return Verdict::not_exercised(ID, "no invocation ran a rollout's new version");
    }
    let mut notes: Vec<String> = timelines
        .iter()
        .map(|t| {
            let ms = |x: SimTime| x.nanos() as f64 / 1e6;
            let finished = t.finished.map_or_else(
                || "did not finish within the run".to_owned(),
                |f| format!("finished at {:.1} ms ({:.1} ms)", ms(f), ms(f) - ms(t.started)),
            );
            format!(
                "rollout of `{}` to version {}: started at {:.1} ms, {finished}; {} replica step(s); two versions side by side for {:.1} ms",
                t.service,
                t.version,
                ms(t.started),
                t.steps,
                t.skew_ns as f64 / 1e6
            )
        })
        .collect();
    notes.push(format!("{on_new} invocation(s) ran a new version"));
    if refusals.fault_failed > 0 {
        notes.push(format!(
            "{} request(s) or call(s) with tries refused by retiring replicas failed after a fault lost another of their tries (a crash or the network): not counted against the rollout",
            refusals.fault_failed
        ));
    }
    if cut_off_errors > 0 {
        notes.push(format!(
            "{cut_off_errors} invocation(s) on or right after the new version answered an application error after a host operation got no answer or a call gave up (a fault cut them off): not counted against the rollout"
        ));
    }
    let recovered = refusals.unfailed();
    if recovered > 0 {
        notes.push(format!(
            "{recovered} tr(ies) refused by retiring replicas failed no request (a retry got an answer, or the request was still open at the end)"
        ));
    }
    let mut findings: Vec<String> =
        violations.iter().take(SHOWN).map(|(_, f, _)| f.clone()).collect();
    if violations.len() > SHOWN {
        findings
            .push(format!("… {} requests failed because of the rollout in all", violations.len()));
    }
    let subjects: Vec<String> = violations.iter().take(SHOWN).map(|(_, _, x)| x.clone()).collect();
    let mut verdict = Verdict::new(ID, findings, notes).about(subjects);
    if let Some((t, _, _)) = violations.first() {
        verdict = verdict.at_time(*t);
    }
    verdict
}

#[cfg(test)]
mod autoscaled;
#[cfg(test)]
mod tests;
