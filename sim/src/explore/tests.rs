//! Exploration's own rules: the per-property summary over every case, the fault model drawn
//! inside each case's window, shrinking candidates, and schedule validation of the new kinds.

use fusebench_model::Scenario;

use super::shrink::candidates;
use super::{Burst, CaseVerdicts, InjectedFault, Schedule, case_schedules, summarise};
use crate::properties::{PROPERTIES, Status, Verdict};

const SYSTEM: &str = r#"
[system]
name = "explore-test"

[[context]]
name = "c"

[[node]]
name = "edge"
tier = "local-edge"

[[node]]
name = "cloud"
tier = "cloud"

[[link]]
between = ["edge", "cloud"]
latency = { dist = "constant", ms = 1.0 }

[gateway]
node = "edge"

[[store]]
name = "db"
kind = "kv"
nodes = ["cloud"]
replicas = 3
consistency = "eventual"

[[store]]
name = "broker"
kind = "broker"
nodes = ["cloud"]

[[channel]]
name = "rest"
kind = "rest"

[[channel]]
name = "events"
kind = "queue"
broker = "broker"

[[service]]
name = "front"
context = "c"
node = "edge"
replicas = 2
service_time = { distribution = { dist = "exponential", mean_ms = 2.0 } }

  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/get"
  public = true

[workload]
duration_s = 4
arrival = { kind = "poisson", rate_rps = 20 }

  [[workload.mix]]
  service = "front"
  endpoint = "get"
"#;

fn scenario() -> Scenario {
    let p = fusebench_model::parse("explore-test.toml", SYSTEM);
    assert!(
        !p.diagnostics.iter().any(fusebench_model::Diagnostic::is_error),
        "{:?}",
        p.diagnostics
    );
    p.scenario.expect("parses")
}

fn verdict(id: &'static str, status: Status) -> Verdict {
    match status {
        Status::NotExercised => Verdict::not_exercised(id, "nothing happened"),
        Status::Held => Verdict::new(id, Vec::new(), Vec::new()),
        Status::Failed => Verdict::new(id, vec![format!("{id} broke")], Vec::new()),
        Status::Error => Verdict::unjudged(id, format!("{id}'s checker trapped")),
    }
}

/// A case whose verdicts are every property held, except `overrides`; SLO left out when
/// generated (as exploration does).
fn case(i: usize, overrides: &[(&'static str, Status)]) -> CaseVerdicts {
    let s = scenario();
    let mut schedule = Schedule::declared(&s);
    schedule.declared = i == 0;
    let verdicts = PROPERTIES
        .iter()
        .filter(|p| i == 0 || p.id != "slo")
        .map(|p| {
            let st = overrides.iter().find(|(id, _)| *id == p.id).map_or(Status::Held, |o| o.1);
            verdict(&p.id, st)
        })
        .collect();
    CaseVerdicts { seed: i as u64, schedule, verdicts, trace_hash: String::new() }
}

#[test]
fn a_property_failing_only_in_case_5_is_failed_over_all_cases() {
    let cases: Vec<CaseVerdicts> = (0..8)
        .map(|i| {
            let mut o = vec![("idempotence", Status::NotExercised)];
            if i == 5 {
                o.push(("no-loss", Status::Failed));
            }
            case(i, &o)
        })
        .collect();
    let summary = summarise(PROPERTIES, &cases);
    assert_eq!(summary.len(), PROPERTIES.len(), "every property, SLO included");
    let loss = summary.iter().find(|p| p.id == "no-loss").expect("no-loss");
    assert_eq!(loss.status, Status::Failed);
    assert_eq!(loss.failed, vec![5]);
    assert_eq!(loss.held.len(), 7);
    assert_eq!(loss.shown_case, 5);
    assert_eq!(loss.shown.findings, vec!["no-loss broke".to_owned()]);
    assert!(
        loss.counts().starts_with("failed in 1 of 8 case(s) (first: case 5)"),
        "{}",
        loss.counts()
    );
    let idem = summary.iter().find(|p| p.id == "idempotence").expect("idempotence");
    assert_eq!(idem.status, Status::NotExercised, "not exercised anywhere is not a pass");
    assert_eq!(idem.not_exercised.len(), 8);
    let slo = summary.iter().find(|p| p.id == "slo").expect("slo");
    assert_eq!(slo.status, Status::Held);
    assert_eq!(slo.held, vec![0]);
    assert_eq!(slo.skipped, (1..8).collect::<Vec<_>>());
    assert_eq!(slo.skipped_why, Some(super::SLO_SKIPPED_WHY));
    assert!(slo.counts().contains("skipped in 7 generated case(s)"), "{}", slo.counts());
}

/// A property whose checker broke in some case is not judged over all cases — neither held
/// (as `!= Failed` once made it) nor failed — unless it failed in another case, which stands;
/// a case where only a checker broke is not a failing case, so nothing is shrunk for it.
#[test]
fn a_checker_that_broke_leaves_its_property_not_judged_unless_it_failed_elsewhere() {
    let cases: Vec<CaseVerdicts> = (0..6)
        .map(|i| match i {
            2 | 4 => case(i, &[("no-loss", Status::Error), ("idempotence", Status::Error)]),
            3 => case(i, &[("idempotence", Status::Failed)]),
            _ => case(i, &[]),
        })
        .collect();
    assert!(!cases[2].failed(), "a broken checker is not a violation: nothing to shrink");
    assert!(cases[3].failed());
    let summary = summarise(PROPERTIES, &cases);
    let loss = summary.iter().find(|p| p.id == "no-loss").expect("no-loss");
    assert_eq!(loss.status, Status::Error);
    assert!(!loss.passed(), "not judged is not a pass");
    assert_eq!((loss.errors.clone(), loss.held.len()), (vec![2, 4], 4));
    assert_eq!((loss.shown.status, loss.shown_case), (Status::Error, 2), "the reason is shown");
    assert_eq!(loss.shown.notes, vec!["not judged: no-loss's checker trapped".to_owned()]);
    assert_eq!(
        loss.counts(),
        "held in 4, could not be judged in 2 (first: case 2)",
        "{}",
        loss.counts()
    );
    let idem = summary.iter().find(|p| p.id == "idempotence").expect("idempotence");
    assert_eq!(idem.status, Status::Failed, "a violation found elsewhere stands");
    assert_eq!((idem.shown.status, idem.shown_case), (Status::Failed, 3));
    assert_eq!(idem.errors, vec![2, 4]);
}

#[test]
fn a_property_held_somewhere_shows_a_held_verdict_not_case_0s_not_exercised() {
    let cases = vec![
        case(0, &[("idempotence", Status::NotExercised)]),
        case(1, &[("idempotence", Status::Held)]),
    ];
    let idem =
        summarise(PROPERTIES, &cases).into_iter().find(|p| p.id == "idempotence").expect("there");
    assert_eq!(idem.status, Status::Held);
    assert_eq!((idem.shown.status, idem.shown_case), (Status::Held, 1));
}

#[test]
fn generated_faults_start_inside_their_case_and_cover_the_fault_model() {
    let s = scenario();
    let cases = case_schedules(&s, 400, 7);
    let mut kinds = std::collections::BTreeSet::new();
    let mut bursts = 0;
    for sch in &cases[1..] {
        assert!(sch.validate(&s, 16).is_empty(), "{sch:?}: {:?}", sch.validate(&s, 16));
        bursts += usize::from(sch.burst.is_some());
        for f in &sch.faults {
            assert!(
                f.at_s() < sch.duration_s,
                "{f:?} starts after the case's {} s",
                sch.duration_s
            );
            let json = serde_json::to_value(f).expect("serializes");
            let kind = json["kind"].as_str().expect("kind").to_owned();
            if let InjectedFault::Duplication { channel, .. } = f {
                kinds.insert(format!("duplication:{channel}"));
            }
            kinds.insert(kind);
        }
    }
    for k in [
        "crash",
        "node-crash",
        "partition",
        "latency-spike",
        "loss",
        "duplication",
        "reorder",
        "replica-lag",
        "duplication:rest",
        "duplication:events",
    ] {
        assert!(kinds.contains(k), "{k} never drawn: {kinds:?}");
    }
    assert!(!kinds.contains("module-swap"), "no declared swap, so no module to swap to");
    assert!(bursts > 0, "bursts are drawn");
    assert_eq!(case_schedules(&s, 50, 7), cases[..50].to_vec(), "a pure function of the seed");
}

#[test]
fn a_module_swap_is_valid_only_to_a_module_the_scenario_swaps_to() {
    let s = scenario();
    let sch = Schedule {
        faults: vec![InjectedFault::ModuleSwap {
            service: "front".into(),
            module: "evil.wasm".into(),
            at_s: 1.0,
        }],
        ..Schedule { declared: false, ..Schedule::declared(&s) }
    };
    let problems = sch.validate(&s, 16);
    assert!(problems.iter().any(|p| p.field == "schedule.faults[0].module"), "{problems:?}");
}

#[test]
fn a_burst_is_refused_on_the_declared_case_and_with_a_bad_length() {
    let s = scenario();
    let declared =
        Schedule { burst: Some(Burst { on_s: 0.5, off_s: 1.0 }), ..Schedule::declared(&s) };
    assert!(declared.validate(&s, 16).iter().any(|p| p.field == "schedule.declared"));
    let bad = Schedule {
        burst: Some(Burst { on_s: f64::NAN, off_s: -1.0 }),
        declared: false,
        ..Schedule::declared(&s)
    };
    let fields: Vec<String> = bad.validate(&s, 16).into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["schedule.burst.on_s", "schedule.burst.off_s"]);
    // Applied, a burst keeps the mean rate: peak × on / (on + off).
    let ok = Schedule { burst: Some(Burst { on_s: 0.5, off_s: 1.5 }), ..bad };
    match ok.apply(&s).workload.expect("workload").arrival {
        fusebench_model::scenario::Arrival::OnOff { rate_rps, on_s, off_s } => {
            assert!((rate_rps * on_s / (on_s + off_s) - 20.0).abs() < 1e-9);
        }
        other => panic!("not bursts: {other:?}"),
    }
}

#[test]
fn a_replay_schedule_written_before_bursts_and_new_kinds_still_reads() {
    let old = r#"{"duration_s":0.8,"rate_scale":1.2,"faults":[{"kind":"crash","service":"front","replica":1,"at_s":0.2,"restart_after_s":0.3}],"declared":false}"#;
    let sch: Schedule = serde_json::from_str(old).expect("reads");
    assert_eq!(sch.burst, None);
    assert_eq!(serde_json::to_string(&sch).expect("writes"), old, "written back the same");
}

#[test]
fn shrinking_candidates_are_smaller_largest_reductions_first_and_keep_faults_in_the_window() {
    let s = scenario();
    let sch = Schedule {
        duration_s: 3.0,
        rate_scale: 1.2,
        burst: Some(Burst { on_s: 0.5, off_s: 0.5 }),
        faults: vec![
            InjectedFault::Partition {
                between: ["edge".into(), "cloud".into()],
                at_s: 2.9,
                duration_s: 1.0,
            },
            InjectedFault::ReplicaLag {
                store: "db".into(),
                at_s: 0.4,
                duration_s: 0.3,
                extra_ms: 50.0,
            },
        ],
        declared: false,
    };
    let c = candidates(&sch);
    assert!(c[0].faults.is_empty(), "every added fault dropped first");
    assert_eq!((c[1].faults.len(), c[2].faults.len()), (1, 1), "then one at a time");
    let halved = &c[3];
    assert_eq!(halved.duration_s, 1.5);
    for f in &halved.faults {
        assert!(f.at_s() <= halved.duration_s, "{f:?}");
    }
    for cand in &c {
        assert!(cand.size() < sch.size() || cand.burst.is_none(), "{cand:?} is not smaller");
        assert!(cand.validate(&s, 16).is_empty(), "{cand:?}");
    }
    let declared = Schedule::declared(&s);
    for cand in candidates(&declared) {
        assert!(cand.declared && cand.faults.is_empty() && cand.rate_scale == 1.0);
        assert!(cand.duration_s < declared.duration_s);
    }
}
