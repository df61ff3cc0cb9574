//! Rollout safe, on real runs: the broken rollouts it must catch (a new module that traps,
//! one that drops a response field, retiring replicas callers still reach, an in-place swap
//! to a faulting module), the correct ones it must pass under load, a crash and concurrency,
//! and "not exercised" without a rollout.

use fusebench_model::Scenario;

use super::super::tests::verdict_of;
use super::super::{Judged, Status};
use crate::setup::{ModuleFiles, build_runtime};
use crate::system::{RunOptions, RunResult, Sim};
use crate::trace::rollout::timelines;
use crate::trace::{self, TraceEvent, TraceMode};

/// A module whose `get` answers `answer` (JSON), or traps when `answer` is empty.
pub(crate) fn module(answer: &str) -> String {
    let escaped = answer.replace('"', "\\\"");
    let body = if answer.is_empty() {
        "unreachable".to_owned()
    } else {
        format!("(i64.const {})", answer.len())
    };
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{escaped}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_get") (param i32 i32) (result i64) {body}))"#
    )
}

pub(crate) const GOOD: &str = r#"{"id":"a","price":1}"#;
/// A correct new version: a new optional field.
pub(crate) const GOOD_V2: &str = r#"{"id":"a","price":1,"stock":3}"#;

/// Service `cat` (module `cat.wat`, `replicas`, public `get` answering `id` and `price`)
/// behind the gateway, clients at `rps` for 4 s; `extra` adds tables (a `[[rollout]]`, faults).
pub(crate) fn design(replicas: u32, rps: u32, service_extra: &str, extra: &str) -> Scenario {
    let arrival = format!("{{ kind = \"poisson\", rate_rps = {rps} }}");
    design_arrival(replicas, &arrival, service_extra, extra)
}

/// [`design`] with the workload's `arrival` given, for `duration_s`.
fn design_arrival(replicas: u32, arrival: &str, service_extra: &str, extra: &str) -> Scenario {
    let text = format!(
        r#"
[system]
name = "rollout"
[[context]]
name = "c"
[[node]]
name = "a"
tier = "cloud"
cpu_cores = 64
memory_mib = 65536
[gateway]
node = "a"
[[service]]
name = "cat"
context = "c"
node = "a"
module = "cat.wat"
replicas = {replicas}
concurrency = 4
{service_extra}
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/cat"
  public = true
  response = {{ id = "string", price = "number" }}
[workload]
duration_s = 4
arrival = {arrival}
  [[workload.mix]]
  service = "cat"
  endpoint = "get"
{extra}"#
    );
    let parsed = fusebench_model::parse("rollout.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

pub(crate) fn rollout(strategy: &str, extra: &str) -> String {
    format!(
        "[[rollout]]\nservice = \"cat\"\nmodule = \"cat2.wat\"\nat_s = 1\nstrategy = \"{strategy}\"\nstartup_ms = 200\n{extra}\n"
    )
}

pub(crate) fn run(s: &Scenario, new: &str, seed: u64) -> RunResult {
    let files: ModuleFiles = [("cat.wat", module(GOOD)), ("cat2.wat", module(new))]
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m.into_bytes()))
        .collect();
    let rt = build_runtime(s, &files).expect("the modules load");
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Full;
    Sim::new(s.clone(), Box::new(rt), &o).run()
}

fn status(s: &Scenario, r: &RunResult) -> (Status, Vec<String>) {
    let v = verdict_of(s, r, "rollout-safe");
    (v.status, v.findings)
}

fn failed_with(s: &Scenario, new: &str, needle: &str) {
    for seed in [1, 2] {
        let r = run(s, new, seed);
        let (status, findings) = status(s, &r);
        assert_eq!(status, Status::Failed, "seed {seed}: {findings:?}");
        assert!(findings.iter().any(|f| f.contains(needle)), "seed {seed}: {findings:?}");
    }
}

fn held(s: &Scenario, new: &str) -> RunResult {
    let mut last = None;
    for seed in [1, 2, 3] {
        let r = run(s, new, seed);
        let (status, findings) = status(s, &r);
        assert_eq!(status, Status::Held, "seed {seed}: {findings:?}");
        let tl = timelines(&lines(&r));
        assert!(tl.iter().all(|t| t.finished.is_some()), "seed {seed}: {tl:?}");
        last = Some(r);
    }
    last.expect("ran")
}

pub(crate) fn lines(r: &RunResult) -> Vec<trace::TraceLine> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).collect()
}

#[test]
fn catches_a_new_module_that_traps() {
    let s = design(3, 100, "", &rollout("rolling", ""));
    failed_with(&s, "", "ran the new version and ended guest-fault");
}

#[test]
fn catches_a_new_module_that_drops_a_response_field() {
    let s = design(3, 100, "", &rollout("rolling", ""));
    failed_with(&s, r#"{"id":"a"}"#, "ran the new version and ended contract-violation");
}

/// Every invocation's outcome, with whether it ran on the new version's replica (started
/// after the rollout placed it).
fn outcomes(r: &RunResult) -> (Vec<String>, Vec<String>) {
    let mut v = crate::trace::rollout::Versions::default();
    let (mut on_new, mut old, mut new) =
        (std::collections::BTreeMap::new(), Vec::new(), Vec::new());
    for l in lines(r) {
        match &l.event {
            TraceEvent::Rollout { service, step, replica, version, desired } => {
                v.step(l.t, service, step, *replica, *version, *desired);
            }
            TraceEvent::InvocationStart { inv, service, replica, .. } => {
                on_new.insert(*inv, v.runs_new(service, *replica));
            }
            TraceEvent::InvocationEnd { inv, outcome, .. } => {
                if on_new[inv] {
                    new.push(outcome.clone());
                } else {
                    old.push(outcome.clone());
                }
            }
            _ => {}
        }
    }
    (old, new)
}

#[test]
fn a_new_versions_answers_are_held_to_the_contract_the_rollout_states() {
    // The new version drops `price`, and the rollout says so: its answers are valid (the
    // callers' side is `rollout-contract`'s business), the old version's still need `price`.
    let stated = "[rollout.endpoints.get]\nversion = \"2.0.0\"\nresponse = { id = \"string\" }";
    let s = design(3, 100, "", &rollout("rolling", stated));
    for seed in [1, 2] {
        let r = run(&s, r#"{"id":"a"}"#, seed);
        let (old, new) = outcomes(&r);
        assert!(
            old.len() > 20 && new.len() > 100,
            "seed {seed}: {} old, {} new",
            old.len(),
            new.len()
        );
        assert!(old.iter().chain(&new).all(|o| o == "ok"), "seed {seed}: {old:?} {new:?}");
        assert_eq!(verdict_of(&s, &r, "rollout-safe").status, Status::Held, "seed {seed}");
    }
    // Held to it, not excused from any contract: a new version answering less than the
    // rollout states violates it.
    let stated = "[rollout.endpoints.get]\nresponse = { id = \"string\", stock = \"number\" }";
    let s = design(3, 100, "", &rollout("rolling", stated));
    let r = run(&s, GOOD, 1);
    let (old, new) = outcomes(&r);
    assert!(old.iter().all(|o| o == "ok"), "{old:?}");
    assert!(!new.is_empty() && new.iter().all(|o| o == "contract-violation"), "{new:?}");
    failed_with(&s, GOOD, "ran the new version and ended contract-violation");
    // A rollout that states nothing for the endpoint: the declared contract still holds.
    let s = design(3, 100, "", &rollout("rolling", ""));
    failed_with(&s, r#"{"id":"a"}"#, "ran the new version and ended contract-violation");
}

#[test]
fn catches_retired_replicas_that_callers_still_reach() {
    // No drain delay, two replicas down at once, and a 500 ms discovery cache: the gateway
    // keeps sending to replicas that stopped taking requests.
    let s = design(4, 200, "", &rollout("rolling", "max_unavailable = 2\ndrain_delay_ms = 0"));
    failed_with(&s, GOOD_V2, "which the rollout was retiring, refused a try");
}

/// The gateway's retries of `cat` (Envoy's `retry_on: unavailable`): `attempts` tries in all,
/// `base_ms` the back-off's base interval; with `eject`, outlier detection ejects a replica
/// after one failure for the discovery cache's 500 ms (so a retry goes elsewhere, as Envoy's
/// would).
fn gateway_retries(attempts: u32, base_ms: u32, eject: bool) -> String {
    let outlier = if eject {
        "\n  outlier_detection = { consecutive_5xx = 1, base_ejection_time_ms = 500, max_ejection_percent = 50 }"
    } else {
        ""
    };
    format!(
        "[mesh]\nall = true\n  [[mesh.policy]]\n  service = \"cat\"\n  retries = {{ attempts = {attempts}, base_interval_ms = {base_ms}, retry_on = [\"unavailable\"] }}{outlier}\n"
    )
}

/// Retiring two replicas at once with no drain delay, under a 500 ms discovery cache.
fn no_drain_delay() -> String {
    rollout("rolling", "max_unavailable = 2\ndrain_delay_ms = 0")
}

#[test]
fn refused_tries_a_retry_recovers_fail_no_request() {
    // Eight replicas, one above and one below the count at most, no drain delay: the
    // gateway's cached discovery still sends requests to replicas that stopped. Without
    // retries that fails requests …
    let bare = rollout("rolling", "drain_delay_ms = 0\nmax_surge = 1\nmax_unavailable = 1")
        .replace("startup_ms = 200", "startup_ms = 600");
    let s = design(8, 200, "", &bare);
    failed_with(&s, GOOD_V2, "which the rollout was retiring, refused a try");
    // … with the gateway retrying a refused try elsewhere (its outlier detection ejects the
    // replica that refused it, as Envoy's would), every request gets its answer: the swap
    // failed none.
    let s = design(8, 200, "", &format!("{bare}{}", gateway_retries(3, 25, true)));
    for seed in [1, 2, 3, 4] {
        let r = run(&s, GOOD_V2, seed);
        let v = verdict_of(&s, &r, "rollout-safe");
        assert_eq!(v.status, Status::Held, "seed {seed}: {:?}", v.findings);
        // Not by luck: retiring replicas did refuse tries, and retries recovered them.
        let refused = lines(&r)
            .iter()
            .filter(|l| matches!(&l.event, TraceEvent::Rejected { reason, .. } if reason != "queue full"))
            .count();
        assert!(refused > 0, "seed {seed}: no try was refused");
        assert!(
            v.notes.iter().any(|n| n.contains("refused by retiring replicas failed no request")),
            "seed {seed}: {:?}",
            v.notes
        );
    }
}

#[test]
fn refused_tries_whose_retries_fail_too_still_fail_it() {
    // Two replicas retired at once and one immediate retry: it goes out while the cache still
    // names the retired replicas, and some requests are refused on both tries.
    let s = design(4, 200, "", &format!("{}{}", no_drain_delay(), gateway_retries(2, 0, false)));
    failed_with(&s, GOOD_V2, "refused tries)");
}

/// A rollout of `cat` started with `cat`'s replica 1 retired, replica 2 on the new version.
fn retiring_one() -> Vec<TraceEvent<&'static str>> {
    let step = |step, replica, version| TraceEvent::Rollout {
        service: "cat",
        step,
        replica,
        version,
        desired: 2,
    };
    vec![
        step("started", 0, 1),
        step("starting", 2, 1),
        step("ready", 2, 1),
        step("terminating", 1, 0),
    ]
}

fn inv(
    inv: u64,
    req: u64,
    service: &'static str,
    replica: u32,
    cause: &'static str,
    source: u64,
) -> TraceEvent<&'static str> {
    TraceEvent::InvocationStart {
        inv,
        req,
        service,
        endpoint: "get",
        replica,
        instance: inv,
        fresh: false,
        cause,
        source,
        group: "",
        attempt: 0,
        copy: 0,
        idem_key: "",
        input: "",
    }
}

fn end(inv: u64, outcome: &'static str) -> TraceEvent<&'static str> {
    TraceEvent::InvocationEnd { inv, fuel: 1, outcome, output: "" }
}

fn refused_attempt(req: u64, attempt: u32, gave_up: bool) -> [TraceEvent<&'static str>; 2] {
    [
        TraceEvent::Rejected { req, service: "cat", replica: 1, reason: "replica down" },
        TraceEvent::CallFailed {
            call: 7,
            attempt,
            inv: 1,
            req,
            target: "cat.get",
            reason: "rejected",
            gave_up,
        },
    ]
}

#[test]
fn a_refusal_at_a_retired_position_is_the_swap_s_until_the_replica_crashes() {
    // Replica 1 retired, a new one starting in its place, a client request sent there by a
    // stale entry is refused and fails: the swap's doing …
    let s = design(3, 100, "", &rollout("rolling", ""));
    let refused = [
        TraceEvent::Rejected { req: 5, service: "cat", replica: 1, reason: "replica not running" },
        TraceEvent::Response {
            req: 5,
            service: "cat",
            endpoint: "get",
            outcome: "rejected",
            latency_ns: 1,
            body: "",
        },
    ];
    let starting = TraceEvent::Rollout {
        service: "cat",
        step: "starting",
        replica: 1,
        version: 1,
        desired: 2,
    };
    let mut swap = retiring_one();
    swap.push(starting.clone());
    swap.extend(refused.clone());
    let (_, run) = super::super::tests::run_with(&swap);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].starts_with("request 5 failed (rejected)"), "{:?}", v.findings);
    // … unless the retired replica crashed first (a node crash): the crash would have failed
    // that request without the rollout.
    let mut crash = retiring_one();
    crash.push(TraceEvent::ReplicaDown { service: "cat", replica: 1 });
    crash.push(starting);
    crash.extend(refused);
    crash.extend([inv(3, 12, "cat", 2, "client", 12), end(3, "ok")]);
    let (_, run) = super::super::tests::run_with(&crash);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Held, "{v:#?}");
}

#[test]
fn a_call_is_judged_by_whether_its_retries_gave_up() {
    // `front`'s invocation 1 calls `cat` (call 7); its first attempt is refused by the retired
    // replica. The channel's retry reaches the new version and is answered: no request failed.
    let s = design(3, 100, "", &rollout("rolling", ""));
    let mut ok = retiring_one();
    ok.extend([
        inv(1, 1, "front", 0, "client", 1),
        TraceEvent::CallStart { call: 7, inv: 1, service: "cat", endpoint: "get" },
    ]);
    ok.extend(refused_attempt(10, 0, false));
    ok.extend([inv(2, 11, "cat", 2, "call", 7), end(2, "ok"), end(1, "ok")]);
    let (_, run) = super::super::tests::run_with(&ok);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Held, "{v:#?}");
    // Its twin whose retry is refused too: the call gave up, and that is the swap's doing.
    let mut bad = retiring_one();
    bad.extend([
        inv(1, 1, "front", 0, "client", 1),
        TraceEvent::CallStart { call: 7, inv: 1, service: "cat", endpoint: "get" },
    ]);
    bad.extend(refused_attempt(10, 0, false));
    bad.extend(refused_attempt(11, 1, true));
    bad.extend([inv(3, 12, "cat", 2, "client", 12), end(3, "ok")]);
    let (_, run) = super::super::tests::run_with(&bad);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].starts_with("call 7 to `cat.get` gave up"), "{:?}", v.findings);
    assert!(v.findings[0].contains("(2 refused tries)"), "{:?}", v.findings);
    assert_eq!(v.subjects, vec!["call:7".to_owned()]);
}

#[test]
fn a_finding_names_every_retiring_replica_that_refused_its_tries() {
    // Two replicas retiring at once: the call's first attempt meets replica 1, its retries
    // replica 0 twice; the finding tells the first refusal and names replica 0 too.
    let s = design(3, 100, "", &rollout("rolling", ""));
    let mut bad = retiring_one();
    bad.push(TraceEvent::Rollout {
        service: "cat",
        step: "terminating",
        replica: 0,
        version: 0,
        desired: 2,
    });
    bad.extend([
        inv(1, 1, "front", 0, "client", 1),
        TraceEvent::CallStart { call: 7, inv: 1, service: "cat", endpoint: "get" },
    ]);
    bad.extend(refused_attempt(10, 0, false));
    for (req, attempt, gave_up) in [(11, 1, false), (12, 2, true)] {
        let mut by_zero = refused_attempt(req, attempt, gave_up);
        by_zero[0] =
            TraceEvent::Rejected { req, service: "cat", replica: 0, reason: "replica down" };
        bad.extend(by_zero);
    }
    let (_, run) = super::super::tests::run_with(&bad);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    let f = &v.findings[0];
    assert!(f.contains(": replica 1 of `cat`, which the rollout was retiring"), "{f}");
    assert!(f.ends_with("(3 refused tries; also by replica 0 of `cat` (2))"), "{f}");
}

#[test]
fn catches_an_in_place_swap_to_a_faulting_module() {
    let s = design(2, 100, "instance_policy = \"pooled\"", &rollout("in-place", ""));
    failed_with(&s, "", "ran the new version and ended guest-fault");
}

#[test]
fn a_rolling_rollout_under_load_holds_and_its_skew_is_traced() {
    let s = design(4, 300, "", &rollout("rolling", "max_surge = 2\nmax_unavailable = 1"));
    let r = held(&s, GOOD_V2);
    let tl = timelines(&lines(&r));
    assert_eq!(tl.len(), 1);
    assert!(tl[0].skew_ns > 0 && tl[0].steps >= 4 * 3, "{tl:?}");
    // Both versions served: the old before, the new after.
    let started =
        lines(&r).iter().filter(|l| matches!(&l.event, TraceEvent::InvocationStart { .. })).count();
    assert!(started > 100);
}

#[test]
fn a_rolling_rollout_never_exceeds_its_surge_nor_its_unavailability() {
    let s = design(4, 100, "", &rollout("rolling", "max_surge = 1\nmax_unavailable = 1"));
    let r = held(&s, GOOD_V2);
    // Replay the replica states: placed (starting/ready/draining) at most 4 + 1, ready (not
    // retired) never below 4 − 1 between the start and the end of the rollout.
    let (mut placed, mut ready) =
        (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    for r in 0..4u32 {
        placed.insert(r, ());
        ready.insert(r, ());
    }
    for l in lines(&r) {
        if let TraceEvent::Rollout { step, replica, .. } = &l.event {
            match step.as_str() {
                "starting" => {
                    placed.insert(*replica, ());
                }
                "ready" => {
                    ready.insert(*replica, ());
                }
                "terminating" => {
                    ready.remove(replica);
                }
                "stopped" => {
                    placed.remove(replica);
                    ready.remove(replica);
                }
                _ => {}
            }
            assert!(placed.len() <= 5, "surge exceeded at {:?}: {placed:?}", l.t);
            assert!(ready.len() >= 3, "unavailability exceeded at {:?}: {ready:?}", l.t);
        }
    }
}

#[test]
fn a_rolling_rollout_concurrent_with_a_crash_holds() {
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"cat\"\nreplica = 1\nat_s = 1.1\nrestart_after_s = 0.5\n";
    let s = design(3, 100, "", &format!("{}{crash}", rollout("rolling", "")));
    held(&s, GOOD_V2);
}

#[test]
fn an_old_replica_that_crashes_mid_rollout_restarts_old_and_is_retired_later() {
    // The kubelet restarts a crashed container in the same pod, with the same image: the old
    // replica comes back on the old version (not the Deployment's new template), and the
    // RollingUpdate controller then retires it like any other old pod. New pods (`starting`)
    // run the new version.
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"cat\"\nreplica = 2\nat_s = 1.05\nrestart_after_s = 0.05\n";
    let s = design(3, 100, "", &format!("{}{crash}", rollout("rolling", "")));
    let r = held(&s, GOOD_V2);
    let steps: Vec<(String, u32, u32)> = lines(&r)
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::Rollout { step, replica, version, .. } => {
                Some((step.clone(), *replica, *version))
            }
            _ => None,
        })
        .collect();
    let restarted = steps.iter().position(|(s, r, _)| s == "restarted" && *r == 2);
    let restarted = restarted.unwrap_or_else(|| panic!("no restart of replica 2: {steps:?}"));
    assert_eq!(steps[restarted].2, 0, "it restarted on the old version: {steps:?}");
    assert!(
        steps[restarted..].iter().any(|(s, r, _)| s == "terminating" && *r == 2),
        "the controller retires it afterwards: {steps:?}"
    );
    assert!(steps.iter().filter(|(s, _, _)| s == "starting").all(|(_, _, v)| *v == 1));
}

#[test]
fn a_new_replica_that_crashes_while_starting_is_ready_only_after_starting_again() {
    // Replica 1 is retired at 1 s (no surge) and stops after its drain delay (the discovery
    // cache's 500 ms); its new-version replacement starts there, ready after 1 s; it crashes at
    // 2 s and restarts at 2.2 s. It had never been ready: it starts again and is ready 1 s
    // after its restart — a Kubernetes pod whose
    // container restarts is Ready only once its readiness probe passes — not at its restart
    // (which would let the controller count it available and retire the next old replica).
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"cat\"\nreplica = 1\nat_s = 2\nrestart_after_s = 0.2\n";
    let rolling = rollout("rolling", "max_surge = 0\nmax_unavailable = 1")
        .replace("startup_ms = 200", "startup_ms = 1000");
    let s = design(2, 20, "", &format!("{rolling}{crash}"));
    let r = held(&s, GOOD_V2);
    let ls = lines(&r);
    let started = ls
        .iter()
        .find_map(|l| match &l.event {
            TraceEvent::Rollout { step, replica: 1, version: 1, .. } if step == "starting" => {
                Some(l.t.as_secs_f64())
            }
            _ => None,
        })
        .expect("a new replica starts in position 1");
    assert!(started > 1.0 && started < 2.0, "it was starting when it crashed: {started}");
    let states: Vec<(f64, String)> = ls
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::ReplicaState { replica: 1, state, .. } if l.t.as_secs_f64() >= 2.0 => {
                Some((l.t.as_secs_f64(), state.clone()))
            }
            _ => None,
        })
        .collect();
    let first_two: Vec<(f64, &str)> =
        states.iter().take(2).map(|(t, s)| ((t * 1e6).round() / 1e6, s.as_str())).collect();
    assert_eq!(first_two, [(2.2, "starting"), (3.2, "ready")], "{states:?}");
    // Nothing reached it between its crash and then: it was not in the registry.
    let early = ls.iter().any(|l| {
        (2.0..3.2).contains(&l.t.as_secs_f64())
            && matches!(l.event, TraceEvent::InvocationStart { replica: 1, .. })
    });
    assert!(!early, "replica 1 served before it was ready");
    // The other (old) replica was retired only once the new one was ready.
    let retired_0 = ls.iter().find_map(|l| match &l.event {
        TraceEvent::Rollout { step, replica: 0, .. } if step == "terminating" => {
            Some(l.t.as_secs_f64())
        }
        _ => None,
    });
    assert!(retired_0.is_some_and(|t| t >= 3.2), "{retired_0:?}");
}

#[test]
fn a_ready_new_replica_that_crashes_restarts_through_the_new_version_s_startup() {
    // No surge: position 1 is replaced first (ready at 1.7 s), then position 0 (at 2.4 s).
    // Ready new-version replica 1 crashes at 3 s and restarts at 3.2 s: the kubelet restarts
    // its container, and its pod is Ready again only once its readiness probe passes — after
    // the new version's start-up (200 ms), as when it was first placed. It serves nothing
    // before 3.4 s, and `rollout-safe` sees nothing wrong with it (no false alarm).
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"cat\"\nreplica = 1\nat_s = 3\nrestart_after_s = 0.2\n";
    let rolling = rollout("rolling", "max_surge = 0\nmax_unavailable = 1");
    let s = design(2, 50, "", &format!("{rolling}{crash}"));
    let r = held(&s, GOOD_V2);
    let ls = lines(&r);
    let states: Vec<(f64, String)> = ls
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::ReplicaState { replica: 1, state, .. } if l.t.as_secs_f64() >= 3.0 => {
                Some(((l.t.as_secs_f64() * 1e6).round() / 1e6, state.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(states[..2], [(3.2, "starting".to_owned()), (3.4, "ready".to_owned())]);
    let served: Vec<f64> = ls
        .iter()
        .filter_map(|l| match l.event {
            TraceEvent::InvocationStart { replica: 1, .. } if l.t.as_secs_f64() >= 3.0 => {
                Some(l.t.as_secs_f64())
            }
            _ => None,
        })
        .collect();
    assert!(served.iter().all(|&t| t >= 3.4), "served before ready: {served:?}");
    // It re-registers once ready (callers whose discovery cache still named it while it was
    // starting were refused by it, as by any replica that is not running, and may eject it).
    let registered = ls.iter().any(|l| {
        matches!(l.event, TraceEvent::Registered { replica: 1, .. })
            && (l.t.as_secs_f64() * 1e6).round() / 1e6 == 3.4
    });
    assert!(registered, "{states:?}");
}

#[test]
fn a_new_version_replica_s_cold_start_compiles_the_new_module() {
    // `cold_start = "module"`: starting a replica costs compiling the module it runs. The
    // new version has four times the code of the old one: each new-version replica's cold
    // start is charged the new module's code bytes, not the old one's.
    let autoscale = "  [service.autoscale]\n  min_replicas = 2\n  max_replicas = 2\n  metric = \"concurrency\"\n  target = 2\n  cold_start = \"module\"";
    let s = design(2, 20, autoscale, &rollout("rolling", ""));
    let padding: String = (0..60)
        .map(|i| format!("  (func (export \"pad{i}\") (result i64) (i64.const {i}) (i64.const 1) (i64.add))\n"))
        .collect();
    let old = module(GOOD);
    let new = module(GOOD_V2).replacen(
        "(func (export \"alloc\")",
        &format!("{padding}(func (export \"alloc\")"),
        1,
    );
    let files: ModuleFiles = [("cat.wat", old), ("cat2.wat", new)]
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m.into_bytes()))
        .collect();
    let rt = build_runtime(&s, &files).expect("the modules load");
    let (old_code, new_code) = {
        use crate::runtime::ServiceHost as _;
        let rolled = crate::system::rollout_runtime_name("cat", 0);
        (rt.code_bytes("cat"), rt.code_bytes(&rolled))
    };
    assert!(new_code > 4 * old_code && old_code > 0, "{old_code} {new_code}");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Full;
    let r = Sim::new(s.clone(), Box::new(rt), &o).run();
    let per_byte = crate::runtime::COMPILE_NS_PER_CODE_BYTE;
    let mut version = std::collections::BTreeMap::new();
    let mut charged = Vec::new();
    for l in lines(&r) {
        match l.event {
            TraceEvent::Rollout { step, replica, version: v, .. } if step == "starting" => {
                version.insert(replica, v);
            }
            TraceEvent::ColdStart { replica, compile_ns, .. } => {
                charged.push((version.get(&replica).copied(), compile_ns));
            }
            _ => {}
        }
    }
    let new_starts: Vec<u64> =
        charged.iter().filter(|(v, _)| *v == Some(1)).map(|(_, c)| *c).collect();
    assert!(new_starts.len() >= 2, "{charged:?}");
    assert!(new_starts.iter().all(|&c| c == new_code * per_byte), "{charged:?} ({new_code} B)");
}

#[test]
fn a_surge_onto_a_full_node_waits_for_the_retired_replica_to_go() {
    // The node has room for two replicas (64 cores, 32 requested each). The surge replica
    // stays pending; the old replica the controller retires keeps its place while it serves
    // its drain delay and drains — a terminating pod's resources stay reserved until it
    // exits — so the new one is placed only once it stopped, and never three at once. (The
    // pending replica is new-version while it waits: counted as old, the controller retired
    // it and asked for it again without end.)
    let autoscale = "  [service.autoscale]\n  min_replicas = 2\n  max_replicas = 2\n  metric = \"concurrency\"\n  target = 2\n  cpu_request = 32";
    let s = design(
        2,
        40,
        autoscale,
        &rollout("rolling", "max_surge = 1\nmax_unavailable = 1\ndrain_delay_ms = 300"),
    );
    let r = held(&s, GOOD_V2);
    let mut state: std::collections::BTreeMap<u32, String> = Default::default();
    let (mut most, mut pending_seen) = (0, false);
    let mut first_stop = None;
    let mut first_new_start = None;
    for l in lines(&r) {
        let t = l.t.as_secs_f64();
        match &l.event {
            TraceEvent::ReplicaState { replica, state: st, .. } => {
                state.insert(*replica, st.clone());
                pending_seen |= st == "pending";
                if st == "stopped" && first_stop.is_none() {
                    first_stop = Some(t);
                }
            }
            TraceEvent::Rollout { step, version: 1, .. } if step == "starting" => {
                first_new_start.get_or_insert(t);
            }
            _ => {}
        }
        let placed = state
            .values()
            .filter(|s| matches!(s.as_str(), "starting" | "ready" | "draining" | "down"))
            .count();
        most = most.max(placed);
    }
    assert!(pending_seen, "the surge replica waited for room");
    assert_eq!(most, 2, "never more replicas placed than the node holds");
    let (stop, start) = (first_stop.expect("an old one stopped"), first_new_start.expect("new"));
    assert!(start >= stop && stop >= 1.3, "placed at {start}, the retired one stopped at {stop}");
}

/// A Knative-style scale-to-zero `cat` (decisions every second, 0.3 s grace) under 20
/// requests/s until 0.5 s, silence, then again from 3 s; its rollout starts at `at_s`.
fn serverless_rollout(at_s: f64, startup_ms: u32) -> Scenario {
    let autoscale = "  [service.autoscale]\n  min_replicas = 0\n  max_replicas = 2\n  metric = \"concurrency\"\n  target = 1\n  interval_s = 1\n  scale_down_stabilisation_s = 0\n  scale_to_zero_grace_s = 0.3\n  startup_ms = 100";
    let arrival = r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 20 }, { at_s = 0.5, rate_rps = 0 }, { at_s = 3, rate_rps = 20 }] }"#;
    let rolling = rollout("rolling", "")
        .replace("at_s = 1\n", &format!("at_s = {at_s}\n"))
        .replace("startup_ms = 200", &format!("startup_ms = {startup_ms}"));
    design_arrival(1, arrival, autoscale, &rolling)
}

/// `(t, step, replica, version, desired)` of every `rollout` line, and `(t, action)` of every
/// `activator` line.
#[allow(clippy::type_complexity)]
fn rollout_and_activator(r: &RunResult) -> (Vec<(f64, String, u32, u32, u32)>, Vec<(f64, String)>) {
    let (mut steps, mut acts) = (Vec::new(), Vec::new());
    for l in lines(r) {
        let t = l.t.as_secs_f64();
        match l.event {
            TraceEvent::Rollout { step, replica, version, desired, .. } => {
                steps.push((t, step, replica, version, desired));
            }
            TraceEvent::Activator { action, .. } => acts.push((t, action)),
            _ => {}
        }
    }
    (steps, acts)
}

/// After the rollout, the service's replicas start from zero on the new version (Knative: the
/// new Revision's pods), the activator holding the requests meanwhile; none fails.
fn served_from_zero_by_the_new_version(r: &RunResult, after: f64) {
    let (steps, acts) = rollout_and_activator(r);
    let starts: Vec<_> = steps.iter().filter(|s| s.1 == "starting" && s.0 >= after).collect();
    assert!(!starts.is_empty(), "a replica starts for the requests from 3 s: {steps:?}");
    assert!(starts.iter().all(|s| s.3 == 1), "every start is new-version: {steps:?}");
    let buffered = acts.iter().filter(|a| a.1 == "buffered" && a.0 >= 3.0).count();
    let released = acts.iter().filter(|a| a.1 == "released" && a.0 >= 3.0).count();
    assert!(buffered > 0 && released == buffered, "{acts:?}");
    assert_eq!(r.requests_sent, r.requests_answered);
    let ok = r.metrics.endpoints["cat.get"].outcomes.get(&crate::metrics::Outcome::Ok).copied();
    assert_eq!(ok, Some(r.requests_sent), "{:?}", r.metrics.endpoints["cat.get"].outcomes);
}

#[test]
fn a_rollout_of_a_service_at_zero_replicas_is_its_next_revision() {
    // Knative: a new Revision of a service scaled to zero starts no pod of its own; the next
    // request goes to the activator, which buffers it while a pod of the new Revision starts.
    // The service scales to zero at its 2 s decision; the rollout at 2.8 s has nothing to
    // replace (desired 0) and is finished at once; the requests from 3 s are served by
    // new-version replicas.
    let s = serverless_rollout(2.8, 200);
    let r = held(&s, GOOD_V2);
    let (steps, _) = rollout_and_activator(&r);
    let before: Vec<(&str, u32)> =
        steps.iter().filter(|s| s.0 <= 2.8).map(|s| (s.1.as_str(), s.4)).collect();
    assert_eq!(before, [("started", 0), ("finished", 0)], "{steps:?}");
    served_from_zero_by_the_new_version(&r, 2.8);
}

#[test]
fn a_service_that_scales_to_zero_during_its_rollout_comes_back_new() {
    // The rollout starts at 0.3 s with one replica serving; its new replica needs 2 s to
    // start. At its 2 s decision the service is idle past its grace and scales to zero: the
    // controller
    // removes both (the desired count is 0) and the rollout finishes; the requests from 3 s
    // start new-version replicas through the activator.
    let s = serverless_rollout(0.3, 2000);
    let r = held(&s, GOOD_V2);
    let (steps, _) = rollout_and_activator(&r);
    let started = steps.iter().find(|s| s.1 == "started").expect("started");
    assert_eq!((started.0, started.4), (0.3, 1), "{steps:?}");
    let finished = steps.iter().find(|s| s.1 == "finished").expect("finished");
    assert!(finished.0 < 3.0 && finished.4 == 0, "finished at zero before 3 s: {steps:?}");
    served_from_zero_by_the_new_version(&r, finished.0);
}

#[test]
fn an_in_place_rollout_under_concurrency_holds() {
    let s = design(2, 400, "instance_policy = \"pooled\"", &rollout("in-place", ""));
    let r = held(&s, GOOD_V2);
    let swapped = lines(&r)
        .iter()
        .filter(|l| matches!(&l.event, TraceEvent::Rollout { step, .. } if step == "swapped"))
        .count();
    assert_eq!(swapped, 2);
}

#[test]
fn without_a_rollout_or_before_it_starts_it_is_not_exercised() {
    let s = design(2, 50, "", "");
    assert_eq!(status(&s, &run(&s, GOOD_V2, 1)).0, Status::NotExercised);
    let late = design(2, 50, "", &rollout("rolling", "").replace("at_s = 1", "at_s = 100"));
    assert_eq!(status(&late, &run(&late, GOOD_V2, 1)).0, Status::NotExercised);
    // Started, but its new replicas are still starting when the run ends: the swap was not
    // put to the test (no invocation ran the new version), which is not a pass.
    let slow = rollout("rolling", "")
        .replace("at_s = 1", "at_s = 3.9")
        .replace("startup_ms = 200", "startup_ms = 10000");
    let slow = design(2, 50, "", &slow);
    let r = run(&slow, GOOD_V2, 1);
    assert!(
        lines(&r)
            .iter()
            .any(|l| matches!(&l.event, TraceEvent::Rollout { step, .. } if step == "started"))
    );
    let (st, _) = status(&slow, &r);
    assert_eq!(st, Status::NotExercised);
}

#[test]
fn a_module_swap_fault_still_flips_every_replica_at_once() {
    // The per-replica versions keep the `module-swap` fault's behaviour: from its instant every
    // replica (and every one restarted later) runs the replacement, none before.
    let swap =
        "[[fault]]\nkind = \"module-swap\"\nservice = \"cat\"\nmodule = \"cat2.wat\"\nat_s = 1\n";
    let s = design(3, 100, "", swap);
    let files: ModuleFiles = [("cat.wat", module(GOOD)), ("cat2.wat", module(""))]
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m.into_bytes()))
        .collect();
    let rt = build_runtime(&s, &files).expect("the modules load");
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    let r = Sim::new(s.clone(), Box::new(rt), &o).run();
    let mut started = std::collections::BTreeMap::new();
    let (mut before, mut after, mut replicas_after) = (0, 0, std::collections::BTreeSet::new());
    for l in lines(&r) {
        match &l.event {
            TraceEvent::InvocationStart { inv, replica, .. } => {
                started.insert(*inv, (l.t.nanos() >= 1_000_000_000, *replica));
            }
            TraceEvent::InvocationEnd { inv, outcome, .. } => {
                let (late, replica) = started[inv];
                if late {
                    assert_eq!(outcome, "guest-fault", "inv {inv} after the swap");
                    after += 1;
                    replicas_after.insert(replica);
                } else {
                    assert_eq!(outcome, "ok", "inv {inv} before the swap");
                    before += 1;
                }
            }
            _ => {}
        }
    }
    assert!(before > 20 && after > 100, "{before} before, {after} after");
    assert_eq!(replicas_after.len(), 3, "every replica swapped: {replicas_after:?}");
    assert_eq!(status(&s, &r).0, Status::NotExercised, "a swap fault is not a rollout");
}

#[test]
fn a_request_whose_retry_a_fault_lost_is_the_fault_s_not_the_rollout_s() {
    // Client request 5: its first try is refused by retired replica 1, its retry is lost at a
    // crashed replica (or by the network), and the client times out. The retry would have
    // recovered the refusal but for the crash: not the rollout's failure.
    let s = design(3, 100, "", &rollout("rolling", ""));
    let lost = |id| TraceEvent::Dropped {
        what: "request",
        id,
        from: "n",
        to: "n",
        reason: "replica down",
    };
    let tries = |lost_retry: bool| {
        let mut events = retiring_one();
        events.extend([
            TraceEvent::GatewayTry { req: 5, attempt: 0, try_req: 6, after: "" },
            TraceEvent::Rejected {
                req: 6,
                service: "cat",
                replica: 1,
                reason: "replica not running",
            },
            TraceEvent::GatewayTry { req: 5, attempt: 1, try_req: 7, after: "rejected" },
        ]);
        if lost_retry {
            events.push(lost(7));
        }
        events.extend([
            TraceEvent::Response {
                req: 5,
                service: "cat",
                endpoint: "get",
                outcome: "timeout",
                latency_ns: 1,
                body: "",
            },
            inv(3, 12, "cat", 2, "client", 12),
            end(3, "ok"),
        ]);
        events
    };
    let (_, run) = super::super::tests::run_with(&tries(true));
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(
        v.notes.iter().any(|n| n.starts_with("1 request(s) or call(s) with tries refused by retiring replicas failed after a fault lost another")),
        "{v:#?}"
    );
    // The same request whose retry reached a live replica and timed out there: the refusal
    // spent a try, and the rollout is to blame.
    let (_, run) = super::super::tests::run_with(&tries(false));
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].starts_with("request 5 failed (timeout)"), "{:?}", v.findings);

    // A call: its first attempt refused, its second lost, and it gives up.
    let mut call = retiring_one();
    call.extend([
        inv(1, 1, "front", 0, "client", 1),
        TraceEvent::CallStart { call: 7, inv: 1, service: "cat", endpoint: "get" },
    ]);
    call.extend(refused_attempt(10, 0, false));
    call.extend([
        lost(11),
        TraceEvent::CallFailed {
            call: 7,
            attempt: 1,
            inv: 1,
            req: 11,
            target: "cat.get",
            reason: "timeout",
            gave_up: true,
        },
        inv(3, 12, "cat", 2, "client", 12),
        end(3, "ok"),
    ]);
    let (_, run) = super::super::tests::run_with(&call);
    let v = super::check(&s, &Judged::of(&run));
    assert_eq!(v.status, Status::Held, "{v:#?}");
}

#[test]
fn a_caller_fails_after_the_new_version_only_if_its_answer_reached_the_caller() {
    // `front`'s invocation 1 calls `cat` (call 7); attempt 0 (request 10) runs on new replica 2
    // and ends ok; then `front` ends with an application error.
    let s = design(3, 100, "", &rollout("rolling", ""));
    let failed = |attempt: u32, req: u64, gave_up: bool| TraceEvent::CallFailed {
        call: 7,
        attempt,
        inv: 1,
        req,
        target: "cat.get",
        reason: "timeout",
        gave_up,
    };
    let dropped = TraceEvent::Dropped {
        what: "response",
        id: 10,
        from: "dc",
        to: "edge",
        reason: "partition",
    };
    let call = |middle: Vec<TraceEvent<&'static str>>| {
        let mut events = retiring_one();
        events.extend([
            inv(1, 1, "front", 0, "client", 1),
            TraceEvent::CallStart { call: 7, inv: 1, service: "cat", endpoint: "get" },
        ]);
        events.extend(middle);
        events.push(end(1, "app-error"));
        events
    };
    let judge = |events: &[TraceEvent<&'static str>]| {
        let (_, run) = super::super::tests::run_with(events);
        super::check(&s, &Judged::of(&run))
    };
    // The answer reached `front`: the new version's answer is what it failed on.
    let v = judge(&call(vec![inv(2, 10, "cat", 2, "call", 7), end(2, "ok")]));
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].ends_with("right after the new version answered its call"), "{v:#?}");
    // A partition dropped that answer, the retry timed out too and the call gave up: `front`
    // failed for want of any answer — the partition's doing, not the new version's.
    let lost = call(vec![
        inv(2, 10, "cat", 2, "call", 7),
        end(2, "ok"),
        dropped,
        failed(0, 10, false),
        failed(1, 11, true),
    ]);
    assert_eq!(judge(&lost).status, Status::Held, "{:#?}", judge(&lost));
    // The answer came after the try had timed out (a slow link), and the retry's answer, from
    // an old replica, reached it: nothing of the new version's reached `front`.
    let late = call(vec![
        inv(2, 10, "cat", 2, "call", 7),
        failed(0, 10, false),
        end(2, "ok"),
        inv(3, 11, "cat", 0, "call", 7),
        end(3, "ok"),
    ]);
    assert_eq!(judge(&late).status, Status::Held, "{:#?}", judge(&late));
    // The same late answer, but the retry's came from the new version too: it reached `front`.
    let late_new = call(vec![
        inv(2, 10, "cat", 2, "call", 7),
        failed(0, 10, false),
        end(2, "ok"),
        inv(3, 11, "cat", 2, "call", 7),
        end(3, "ok"),
    ]);
    assert_eq!(judge(&late_new).status, Status::Failed, "{:#?}", judge(&late_new));
}

#[test]
fn an_application_error_after_a_fault_cut_an_invocation_off_is_the_fault_s() {
    // Invocation 2 runs on new replica 2 and asks its store for a key; the answer never comes
    // (a partition: `op_timeout`) and the guest answers an application error, as the old
    // version would have: the fault's doing.
    let s = design(3, 100, "", &rollout("rolling", ""));
    let judge = |middle: Vec<TraceEvent<&'static str>>, outcome: &'static str| {
        let mut events = retiring_one();
        events.push(inv(2, 10, "cat", 2, "client", 10));
        events.push(TraceEvent::HostOp { inv: 2, op: "kv_get", target: "db" });
        events.extend(middle);
        events.push(end(2, outcome));
        let (_, run) = super::super::tests::run_with(&events);
        super::check(&s, &Judged::of(&run))
    };
    let cut_off = || vec![TraceEvent::OpTimeout { inv: 2, target: "db" }];
    let v = judge(cut_off(), "app-error");
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(v.notes.iter().any(|n| n.starts_with("1 invocation(s) on or right after")), "{v:#?}");
    // The same application error with the store's answer in hand: the new version's.
    let v = judge(Vec::new(), "app-error");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("ran the new version and ended app-error"), "{v:#?}");
    // A trap after the timeout is still the module's: no version should trap on `unavailable`.
    let v = judge(cut_off(), "guest-fault");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    // A call of the new version's invocation that gave up cuts it off too.
    let gave_up = vec![
        TraceEvent::CallStart { call: 7, inv: 2, service: "price", endpoint: "get" },
        TraceEvent::CallFailed {
            call: 7,
            attempt: 0,
            inv: 2,
            req: 11,
            target: "price.get",
            reason: "timeout",
            gave_up: true,
        },
    ];
    assert_eq!(judge(gave_up, "app-error").status, Status::Held);
}

/// A delivery a retiring replica refused (`rejected`, then `nacked` naming the delivery's
/// request): on an at-most-once channel the message is lost — the rollout failed it — while
/// on an at-least-once one a redelivery that is acknowledged recovers it and a dead-lettering
/// fails it.
#[test]
fn a_message_delivery_a_retiring_replica_refused_is_judged_by_the_message_s_fate() {
    let consumer = "  [[service.subscribe]]\n  channel = \"jobs\"\n  endpoint = \"get\"";
    let design_with = |delivery: &str| {
        let bus = format!(
            "[[store]]\nname = \"bus\"\nkind = \"broker\"\nnodes = [\"a\"]\n[[channel]]\nname = \"jobs\"\nkind = \"queue\"\nbroker = \"bus\"\ndelivery = \"{delivery}\"\n{}",
            rollout("rolling", "")
        );
        design(3, 100, consumer, &bus)
    };
    let refused = |req: u64, msg: u64| {
        [
            TraceEvent::Rejected { req, service: "cat", replica: 1, reason: "replica not running" },
            TraceEvent::Nacked {
                channel: "jobs",
                msg,
                group: "cat",
                attempt: 1,
                outcome: "rejected",
                req,
            },
        ]
    };
    let judge = |s: &Scenario, after: &[TraceEvent<&'static str>]| {
        let mut events = retiring_one();
        events.extend(refused(20, 4));
        events.extend(after.iter().cloned());
        events.extend([inv(3, 12, "cat", 2, "client", 12), end(3, "ok")]);
        let (_, run) = super::super::tests::run_with(&events);
        super::check(s, &Judged::of(&run))
    };
    let v = judge(&design_with("at-most-once"), &[]);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(
        v.findings[0]
            .starts_with("message 4 on at-most-once channel `jobs` was lost for group `cat`"),
        "{:?}",
        v.findings
    );
    assert!(v.findings[0].contains("replica 1 of `cat`, which the rollout was retiring"));
    assert_eq!(v.subjects, vec!["msg:4".to_owned()]);

    let s = design_with("at-least-once");
    let acked = TraceEvent::Acked { channel: "jobs", msg: 4, group: "cat" };
    let v = judge(&s, &[acked]);
    assert_eq!(v.status, Status::Held, "{v:#?}");
    assert!(v.notes.iter().any(|n| n.starts_with("1 tr(ies) refused")), "{:?}", v.notes);
    let dead = TraceEvent::Dropped {
        what: "message",
        id: 4,
        from: "jobs",
        to: "cat",
        reason: "dead-lettered",
    };
    let v = judge(&s, &[dead]);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].starts_with("message 4 was dead-lettered for group `cat`"), "{v:#?}");
}
