//! Rollout safe, on real runs: the broken rollouts it must catch (a new module that traps,
//! one that drops a response field, retiring replicas callers still reach, an in-place swap
//! to a faulting module), the correct ones it must pass under load, a crash and concurrency,
//! and "not exercised" without a rollout.

use fusebench_model::Scenario;

use super::super::Status;
use super::super::tests::verdict_of;
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
arrival = {{ kind = "poisson", rate_rps = {rps} }}
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

fn lines(r: &RunResult) -> Vec<trace::TraceLine> {
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

#[test]
fn catches_retired_replicas_that_callers_still_reach() {
    // No drain delay, two replicas down at once, and a 500 ms discovery cache: the gateway
    // keeps sending to replicas that stopped taking requests.
    let s = design(4, 200, "", &rollout("rolling", "max_unavailable = 2\ndrain_delay_ms = 0"));
    failed_with(&s, GOOD_V2, "the rollout was retiring it");
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
