//! Self-checks of fusebench on itself, over explored schedules of the shop: virtual time never
//! goes backwards, no message is delivered before it is published, every request resolves
//! exactly once, and the same seed and schedule give the same trace.

use std::collections::BTreeMap;

use fusebench_sim::explore::{Schedule, run_case, schedules};
use fusebench_sim::load::load;
use fusebench_sim::setup::ModuleFiles;
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{self, TraceEvent, TraceLine};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

fn shop() -> (fusebench_model::Scenario, ModuleFiles) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/shop/shop.toml");
    let loaded = load(std::path::Path::new(path)).expect("the shop loads");
    (loaded.scenario, loaded.files)
}

fn invariants(trace: &[u8]) -> Result<(), String> {
    let mut last = SimTime::ZERO;
    let mut published: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut arrivals = 0u64;
    let mut answers: BTreeMap<u64, u32> = BTreeMap::new();
    for line in trace::read(trace) {
        let TraceLine { t, event } = line.map_err(|e| e.to_string())?;
        if t < last {
            return Err(format!("time went backwards: {t:?} after {last:?}"));
        }
        last = t;
        match event {
            TraceEvent::Publish { msg, .. } => {
                published.insert(msg, t);
            }
            TraceEvent::Deliver { msg, .. } => match published.get(&msg) {
                Some(p) if *p <= t => {}
                _ => {
                    return Err(format!(
                        "message {msg} delivered at {t:?} before it was published"
                    ));
                }
            },
            TraceEvent::Arrival { .. } => arrivals += 1,
            TraceEvent::Response { req, .. } => *answers.entry(req).or_default() += 1,
            _ => {}
        }
    }
    if let Some((req, n)) = answers.iter().find(|(_, n)| **n != 1) {
        return Err(format!("request {req} answered {n} times"));
    }
    if (answers.len() as u64) < arrivals {
        return Err(format!(
            "{arrivals} requests reached the gateway, {} were answered",
            answers.len()
        ));
    }
    Ok(())
}

#[test]
fn engine_invariants_hold_on_explored_schedules() {
    let (s, files) = shop();
    // Short runs keep the debug build fast; the schedules still carry every kind of fault.
    let strategy = schedules(&s).prop_map(|mut sch| {
        sch.duration_s = sch.duration_s.min(3.0);
        sch
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 6,
        max_shrink_iters: 8,
        ..ProptestConfig::default()
    });
    runner
        .run(&(strategy, 0u64..1000), |(schedule, seed)| {
            let a = run_case(&s, &files, &schedule, seed)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            invariants(&a.run.trace).map_err(TestCaseError::fail)?;
            prop_assert_eq!(a.run.requests_sent, a.run.requests_answered);
            let b = run_case(&s, &files, &schedule, seed)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&a.trace_hash, &b.trace_hash, "same seed and schedule, same trace");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_declared_shop_passes_every_property() {
    let (s, files) = shop();
    let mut declared = Schedule::declared(&s);
    declared.duration_s = 6.0;
    let out = run_case(&s, &files, &declared, 1).expect("runs");
    let failed: Vec<_> = out.verdicts.iter().filter(|v| !v.passed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The shipped idempotence defect without its declared duplication fault: the declared case
/// duplicates nothing (idempotence is not exercised there), so only an explored case that
/// injects duplication on the queue can find the defect.
fn late_defect() -> (fusebench_model::Scenario, ModuleFiles) {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/flawed/dynamic/payment-redelivery.toml");
    let loaded = load(std::path::Path::new(path)).expect("the defect loads");
    let text = loaded.scenario.source();
    let without = &text[..text.find("[[fault]]").expect("it declares its fault")];
    let parsed = fusebench_model::parse(path, without);
    assert!(!parsed.diagnostics.iter().any(fusebench_model::Diagnostic::is_error));
    (parsed.scenario.expect("parses"), loaded.files)
}

#[test]
fn a_defect_found_only_in_an_explored_case_is_failed_over_all_cases_and_shrunk_from_that_case() {
    use fusebench_sim::explore::explore_limited;
    use fusebench_sim::limits::Limits;
    use fusebench_sim::properties::Status;
    let (s, files) = late_defect();
    let run = || explore_limited(&s, &files, 8, 1, &Limits::DEFAULT, &|| true, &|_, _| {});
    let e = run().expect("explores");
    let idem = e.summary.iter().find(|p| p.id == "idempotence").expect("summarised");
    assert_eq!(idem.status, Status::Failed, "{idem:#?}");
    assert!(!idem.failed.contains(&0), "the declared case duplicates nothing: {idem:#?}");
    assert!(idem.not_exercised.contains(&0), "{idem:#?}");
    let first = idem.failed[0];
    let shrinking = e.shrinking.as_ref().expect("shrunk");
    assert_eq!(shrinking.from_case, first, "shrunk from the first failing case");
    assert!(!shrinking.budget_hit);
    assert!(shrinking.reductions > 0, "{shrinking:?}");
    let (case, _) = e.counterexample.as_ref().expect("a counterexample");
    assert!(case.verdicts.iter().any(|v| v.id == "idempotence" && v.failed()));
    assert!(!case.schedule.declared && !case.schedule.faults.is_empty());
    // The declared case's own verdicts still say what happened there.
    assert!(e.declared.iter().all(|v| !v.failed()));
    // Same scenario, seed and budget not hit: the same counterexample.
    let again = run().expect("explores");
    let (case2, _) = again.counterexample.as_ref().expect("a counterexample");
    assert_eq!((&case2.schedule, &case2.trace_hash), (&case.schedule, &case.trace_hash));
    assert_eq!(again.shrinking.as_ref(), Some(shrinking));
}

#[test]
fn a_spent_shrink_budget_stops_shrinking_and_says_so() {
    use fusebench_sim::explore::explore_limited;
    use fusebench_sim::limits::Limits;
    let (s, files) = late_defect();
    let e = explore_limited(&s, &files, 8, 1, &Limits::DEFAULT, &|| false, &|_, _| {})
        .expect("explores");
    let shrinking = e.shrinking.as_ref().expect("a failing case");
    assert!(shrinking.budget_hit);
    assert_eq!((shrinking.runs, shrinking.reductions), (0, 0));
    let (case, _) = e.counterexample.as_ref().expect("the unshrunk case is still reported");
    assert!(case.verdicts.iter().any(|v| v.id == "idempotence" && v.failed()));
}
