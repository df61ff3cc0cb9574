//! Retry amplification, measured from traffic: for each public endpoint (a path's root) and
//! each service its requests reach, the requests sent to that service on behalf of the
//! endpoint's client requests ÷ those client requests — what every retry on the way (the
//! gateway's, each sidecar's, each channel's) multiplies, fan-out included. Above
//! `quality.retry_amplification_max` (default 10) a failure upstream turns into a retry storm
//! downstream (the Google SRE book's "retries multiply" rule; Envoy and Linkerd answer it with
//! retry budgets).
//!
//! Sends are counted from the trace: a client request is one send to its service, and each
//! gateway retry (`gateway_try` after the first) another; a call's first try (`call_start`)
//! and each of its retries (`call_retry`) is a send to the callee, on the path of the client
//! request that caused the calling invocation (followed through `invocation_start`'s cause
//! and source). A message a path's invocation publishes carries the path on: each delivery
//! of it that starts a consumer's invocation is a send to that consumer (a redelivery a retry;
//! a duplication fault's copy, like a call's wire copy, not counted). Not exercised when no
//! request was retried and none reached a service twice on its path: then nothing was
//! amplified.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Judged, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "retry-amplification";

/// A path's root: a public endpoint, named `service.endpoint`.
struct Root<'a> {
    name: String,
    /// The service its gateway retries are sent to: the name up to its first dot.
    first: &'a str,
    /// Its client requests so far.
    clients: u64,
}

/// Names borrow from the lines read back, and a root's name is written once per endpoint,
/// not per request.
#[derive(Default)]
struct Seen<'a> {
    /// A client request's (service, endpoint) → its root in `roots`.
    root_index: BTreeMap<(&'a str, &'a str), usize>,
    /// A root's name → its index: two (service, endpoint) pairs that write the same name are
    /// one root, as when roots were keyed by their names.
    by_name: BTreeMap<String, usize>,
    roots: Vec<Root<'a>>,
    /// Client request → its path's root.
    root_of_client: BTreeMap<u64, usize>,
    /// A gateway try's request → the client request it carries.
    try_of: BTreeMap<u64, u64>,
    /// Invocation → the client request at the root of what caused it.
    inv_root: BTreeMap<u64, u64>,
    /// Call → (client request at its root, callee service).
    call_root: BTreeMap<u64, (u64, &'a str)>,
    /// Message → the client request at the root of the invocation that published it.
    msg_root: BTreeMap<u64, u64>,
    /// (root, service) → requests sent to the service on that path.
    sends: BTreeMap<(usize, &'a str), u64>,
    /// (root, service) → when the cumulative ratio first passed the threshold.
    passed_at: BTreeMap<(usize, &'a str), SimTime>,
    retries: u64,
}

impl<'a> Seen<'a> {
    fn root(&mut self, service: &'a str, endpoint: &'a str) -> usize {
        if let Some(&i) = self.root_index.get(&(service, endpoint)) {
            return i;
        }
        let name = format!("{service}.{endpoint}");
        let next = self.roots.len();
        let i = *self.by_name.entry(name.clone()).or_insert(next);
        if i == next {
            let first = service.split('.').next().unwrap_or(service);
            self.roots.push(Root { name, first, clients: 0 });
        }
        self.root_index.insert((service, endpoint), i);
        i
    }

    fn send(&mut self, client: u64, service: &'a str, t: SimTime, max: f64) {
        let Some(&root) = self.root_of_client.get(&client) else { return };
        let key = (root, service);
        let n = self.sends.entry(key).or_default();
        *n += 1;
        let clients = self.roots[root].clients.max(1);
        if *n as f64 > max * clients as f64 {
            self.passed_at.entry(key).or_insert(t);
        }
    }
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let max = s.quality.retry_amplification_max();
    let mut seen = Seen::default();
    let read = each_event(run, |line| {
        let t = line.t;
        match &line.event {
            TraceEvent::Arrival { req, service, endpoint, .. } => {
                let root = seen.root(service, endpoint);
                seen.roots[root].clients += 1;
                seen.root_of_client.insert(*req, root);
                seen.send(*req, service, t, max);
            }
            TraceEvent::GatewayTry { req, attempt, try_req, .. } => {
                seen.try_of.insert(*try_req, *req);
                if *attempt > 0 {
                    seen.retries += 1;
                    if let Some(&root) = seen.root_of_client.get(req) {
                        seen.send(*req, seen.roots[root].first, t, max);
                    }
                }
            }
            TraceEvent::InvocationStart {
                inv, req, service, cause, source, attempt, copy, ..
            } => {
                let root = match &**cause {
                    "client" => Some(*req),
                    "call" => seen
                        .try_of
                        .get(req)
                        .copied()
                        .or_else(|| seen.call_root.get(source).map(|(r, _)| *r)),
                    "message" => seen.msg_root.get(source).copied(),
                    _ => None,
                };
                if let Some(root) = root {
                    seen.inv_root.insert(*inv, root);
                    if cause == "message" && *copy == 0 {
                        // Delivery attempts count from 1: a later one is a redelivery.
                        seen.retries += u64::from(*attempt > 1);
                        seen.send(root, service, t, max);
                    }
                }
            }
            TraceEvent::Publish { msg, inv, .. } => {
                if let Some(&root) = seen.inv_root.get(inv) {
                    seen.msg_root.insert(*msg, root);
                }
            }
            TraceEvent::CallStart { call, inv, service, .. } => {
                if let Some(&root) = seen.inv_root.get(inv) {
                    seen.call_root.insert(*call, (root, service));
                    seen.send(root, service, t, max);
                }
            }
            TraceEvent::CallRetry { call, .. } => {
                seen.retries += 1;
                if let Some(&(root, service)) = seen.call_root.get(call) {
                    seen.send(root, service, t, max);
                }
            }
            _ => {}
        }
    });
    if let Err(e) = read {
        return Verdict::unjudged(ID, unreadable(&e));
    }
    // Fan-out counts as retries do (the property's statement): a path that reached a service
    // more than once per client request is judged, retried or not — else one retry in an
    // explored case would turn a fan-out the declared case leaves unjudged into a failure.
    let multiplied = seen.sends.iter().any(|(&(r, _), &n)| n > seen.roots[r].clients.max(1));
    if seen.retries == 0 && !multiplied {
        return Verdict::not_exercised(ID, "no request was retried or sent twice along its path");
    }
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut subjects = Vec::new();
    let mut at: Option<SimTime> = None;
    let mut worst: Option<(f64, &str, &str)> = None;
    // In the order of the roots' names, then the services'.
    let mut sends: Vec<(&str, &str, usize, u64)> = seen
        .sends
        .iter()
        .map(|(&(r, service), &n)| (&*seen.roots[r].name, service, r, n))
        .collect();
    sends.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (root, service, r, n) in sends {
        let clients = seen.roots[r].clients.max(1);
        let ratio = n as f64 / clients as f64;
        if worst.is_none_or(|(w, _, _)| ratio > w) {
            worst = Some((ratio, root, service));
        }
        if ratio > max {
            findings.push(format!(
                "client requests to {root} reached {service} {ratio:.1} times each ({n} requests for {clients} client requests), above {max}: retries and fan-out multiply along the path"
            ));
            subjects.push(service.to_owned());
            if let Some(&t) = seen.passed_at.get(&(r, service)) {
                at = Some(at.map_or(t, |a: SimTime| a.min(t)));
            }
        }
    }
    notes.push(format!("{} retries sent", seen.retries));
    if let Some((ratio, root, service)) = worst {
        notes.push(format!(
            "highest: {service} on the path of {root}, {ratio:.2} requests per client request"
        ));
    }
    let mut v = Verdict::new(ID, findings, notes).about(subjects);
    if let Some(t) = at {
        v = v.at_time(t);
    }
    v
}

#[cfg(test)]
mod tests;
