//! Retry amplification on written traces: the broken designs it must catch (retries at the
//! gateway, retries multiplying down a chain, retries on top of fan-out), the correct ones it
//! must pass, and "not exercised" when nothing was retried.

use super::super::Status;
use super::super::tests::{run_with, verdict_of};
use crate::trace::TraceEvent;

type Ev = TraceEvent<&'static str>;

fn arrival(req: u64, service: &'static str) -> Ev {
    TraceEvent::Arrival { req, service, endpoint: "get", body: Default::default() }
}

fn gateway_try(req: u64, attempt: u32, try_req: u64) -> Ev {
    TraceEvent::GatewayTry {
        req,
        attempt,
        try_req,
        after: if attempt == 0 { "" } else { "timeout" },
    }
}

/// Invocation `inv` of `service` serving `req`, delivered by `cause` (`client` or `call`) from
/// `source` (the client request or the call).
fn start(inv: u64, req: u64, service: &'static str, cause: &'static str, source: u64) -> Ev {
    TraceEvent::InvocationStart {
        inv,
        req,
        service,
        endpoint: "get",
        replica: 0,
        instance: 1,
        fresh: false,
        cause,
        source,
        group: "",
        attempt: 0,
        copy: 0,
        idem_key: "",
        input: Default::default(),
    }
}

fn call(call: u64, inv: u64, service: &'static str) -> Ev {
    TraceEvent::CallStart { call, inv, service, endpoint: "get" }
}

fn retry(call: u64, attempt: u32) -> Ev {
    TraceEvent::CallRetry { call, attempt, reason: "timeout" }
}

/// `clients` client requests to `a`, each answered by an invocation that calls `b` once with
/// `b_tries` tries; the gateway tries `a` `a_tries` times for each.
fn one_hop(clients: u64, a_tries: u32, b_tries: u32) -> Vec<Ev> {
    let mut ev = Vec::new();
    let (mut ids, mut calls) = (1000, 0);
    for req in 1..=clients {
        ev.push(arrival(req, "a"));
        for attempt in 0..a_tries {
            ids += 1;
            let (try_req, inv) = (ids, ids);
            ev.push(gateway_try(req, attempt, try_req));
            calls += 1;
            ev.push(start(inv, try_req, "a", "call", 0));
            ev.push(call(calls, inv, "b"));
            for r in 1..b_tries {
                ev.push(retry(calls, r));
            }
        }
    }
    ev
}

fn judge(events: &[Ev]) -> super::super::Verdict {
    let (s, run) = run_with(events);
    verdict_of(&s, &run, "retry-amplification")
}

#[test]
fn nothing_retried_is_not_exercised() {
    let v = judge(&one_hop(5, 1, 1));
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
}

/// A message a path publishes carries the path on: its deliveries to the consumer are sends
/// (redeliveries retries), so a broker redelivering into a failing consumer is a storm on the
/// client request's path; a duplication fault's copy is not counted, as a call's wire copy is
/// not.
#[test]
fn redeliveries_of_a_message_the_path_published_amplify_it() {
    let delivery = |inv: u64, attempt: u32, copy: u32| {
        let mut e = start(inv, 0, "c", "message", 7);
        if let TraceEvent::InvocationStart { attempt: a, copy: c, .. } = &mut e {
            (*a, *c) = (attempt, copy);
        }
        e
    };
    let mut ev = vec![
        arrival(1, "a"),
        start(1, 1, "a", "client", 1),
        TraceEvent::Publish { channel: "jobs", msg: 7, inv: 1, body: Default::default() },
    ];
    for attempt in 1..=12 {
        ev.push(delivery(100 + u64::from(attempt), attempt, 0));
    }
    ev.push(delivery(200, 3, 1));
    let v = judge(&ev);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("reached c 12.0 times each"), "{:?}", v.findings);
    assert!(v.notes.iter().any(|n| n == "11 retries sent"), "{:?}", v.notes);
    // Delivered once: one send, nothing amplified.
    let v = judge(&ev[..4]);
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
}

/// Fan-out alone multiplies as retries do: eleven calls to `b` per client request are judged
/// (and fail above 10) with no retry at all, as they are once a retry is added.
#[test]
fn fan_out_without_retries_is_judged() {
    let mut ev = Vec::new();
    let mut calls = 0;
    for req in 1..=4 {
        ev.push(arrival(req, "a"));
        ev.push(start(req, req, "a", "client", req));
        for _ in 0..11 {
            calls += 1;
            ev.push(call(calls, req, "b"));
        }
    }
    let v = judge(&ev);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("reached b 11.0 times each"), "{:?}", v.findings);
    assert!(v.notes.iter().any(|n| n == "0 retries sent"), "{:?}", v.notes);
}

#[test]
fn retries_at_one_hop_within_the_threshold_hold() {
    // The gateway tries 3 times, `b` is called once per try: 3 requests each, below 10.
    let v = judge(&one_hop(5, 3, 1));
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("on the path of a.get, 3.00 requests per client request")),
        "{:?}",
        v.notes
    );
}

#[test]
fn retries_multiplying_down_a_chain_fail_naming_the_service_and_path() {
    // 4 gateway tries × 4 tries to `b` = 16 requests at `b` per client request.
    let v = judge(&one_hop(5, 4, 4));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
    assert!(
        v.findings[0].starts_with(
            "client requests to a.get reached b 16.0 times each (80 requests for 5 client requests)"
        ),
        "{}",
        v.findings[0]
    );
    assert_eq!(v.subjects, ["b"]);
    assert!(v.at.is_some(), "dated at the send that passed the threshold");
}

#[test]
fn gateway_retries_alone_can_storm_their_service() {
    let v = judge(&one_hop(3, 12, 1));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings.iter().any(|f| f.contains("reached a 12.0 times")), "{:?}", v.findings);
}

#[test]
fn retries_on_top_of_fan_out_are_caught_and_each_path_is_judged_on_its_own() {
    // `a` calls `b` four times per request, each call tried 3 times: 12 at `b`.
    let mut ev = Vec::new();
    for req in 1..=4u64 {
        ev.push(arrival(req, "a"));
        ev.push(start(req, req, "a", "client", req));
        for k in 0..4 {
            let c = req * 10 + k;
            ev.push(call(c, req, "b"));
            ev.push(retry(c, 1));
            ev.push(retry(c, 2));
        }
    }
    // Many client requests straight to `b` (another path) do not dilute `a`'s path.
    for req in 100..200 {
        ev.push(arrival(req, "b"));
    }
    let v = judge(&ev);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("to a.get reached b 12.0 times"), "{:?}", v.findings);
}

#[test]
fn a_call_whose_invocation_is_unknown_is_not_attributed() {
    // A call from an invocation the trace never started (cut trace): counted nowhere.
    let ev = vec![arrival(1, "a"), call(1, 99, "b"), retry(1, 1), retry(1, 2)];
    let v = judge(&ev);
    assert_eq!(v.status, Status::Held, "{v:#?}");
}

#[test]
fn endpoints_whose_names_join_alike_are_one_root() {
    // `a.x` + `get` and `a` + `x.get` are both the root `a.x.get`: its two client requests are
    // counted together, and its gateway retries go to `a`, the name up to its first dot.
    let mut ev = Vec::new();
    for (req, service, endpoint) in [(1, "a.x", "get"), (2, "a", "x.get")] {
        ev.push(TraceEvent::Arrival { req, service, endpoint, body: Default::default() });
        for attempt in 0..12 {
            ev.push(gateway_try(req, attempt, 100 + req * 20 + u64::from(attempt)));
        }
    }
    let v = judge(&ev);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert_eq!(
        v.findings,
        ["client requests to a.x.get reached a 11.5 times each (23 requests for 2 client \
          requests), above 10: retries and fan-out multiply along the path"],
    );
}
