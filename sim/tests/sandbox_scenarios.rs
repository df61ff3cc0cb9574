//! The hostile-guest scenarios of `scenarios/flawed/sandbox/`, run through the whole simulator:
//! every hostile request ends as a guest fault with its precise cause, every request to the
//! healthy service on the same host is answered, and the run completes.

use std::path::Path;

use fusebench_sim::load::{self, Loaded};
use fusebench_sim::metrics::Outcome;
use fusebench_sim::trace::{self, TraceEvent, TraceMode};
use fusebench_sim::{RunOptions, Sim, setup};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// (case, what every fault's cause must contain; `None`: not a fault, the guest just misbehaves
/// within its limits).
const CASES: &[(&str, Option<&str>)] = &[
    ("bad_alloc", Some("not a buffer inside")),
    ("env_abort", Some("abort: boom!")),
    ("infinite_loop", Some("fuel exhausted")),
    ("log_flood", None),
    ("memory_grow_bomb", Some("out-of-bounds memory access (after")),
    ("out_of_bounds", Some("out-of-bounds memory access")),
    ("proc_exit", Some("proc_exit(3)")),
    ("response_not_json", Some("response is not JSON")),
    ("response_not_utf8", Some("response is not UTF-8")),
    ("response_out_of_bounds", Some("lies outside")),
    ("stack_overflow", Some("stack overflow")),
    ("unreachable", Some("unreachable executed")),
];

fn load(case: &str) -> Loaded {
    let path = root().join(format!("scenarios/flawed/sandbox/{case}.toml"));
    load::load(&path).unwrap_or_else(|e| panic!("{case}: {e}"))
}

#[test]
fn every_hostile_guest_is_contained_and_the_healthy_service_keeps_answering() {
    for (case, cause) in CASES {
        let Loaded { scenario: s, files, .. } = load(case);
        let runtime = setup::build_runtime(&s, &files).expect("modules load");
        let mut options = RunOptions::new(1);
        options.trace = TraceMode::Full;
        let r = Sim::new(s, Box::new(runtime), &options).run();
        assert_eq!(r.requests_sent, r.requests_answered, "{case}: every request answered");
        let healthy = &r.metrics.endpoints["healthy.get"];
        assert_eq!(
            healthy.outcomes.get(&Outcome::Ok).copied(),
            Some(healthy.total()),
            "{case}: healthy {:?}",
            healthy.outcomes
        );
        assert!(healthy.total() > 50, "{case}");
        let hostile = &r.metrics.endpoints["hostile.run"];
        let causes: Vec<String> = trace::read(&r.trace)
            .map(|l| l.unwrap_or_else(|e| panic!("{case}: {e}")))
            .filter_map(|l| match l.event {
                TraceEvent::GuestFault { service, cause, .. } if service == "hostile" => {
                    Some(cause)
                }
                _ => None,
            })
            .collect();
        match cause {
            Some(expected) => {
                assert_eq!(
                    hostile.outcomes.get(&Outcome::GuestFault).copied(),
                    Some(hostile.total()),
                    "{case}: {:?}",
                    hostile.outcomes
                );
                assert_eq!(
                    causes.len() as u64,
                    hostile.total(),
                    "{case}: one traced fault per request"
                );
                assert!(
                    causes.iter().all(|c| c.contains(expected)),
                    "{case}: {:?}",
                    causes.first()
                );
            }
            None => {
                assert!(causes.is_empty(), "{case}: {causes:?}");
                assert_eq!(
                    hostile.outcomes.get(&Outcome::Ok).copied(),
                    Some(hostile.total()),
                    "{case}: {:?}",
                    hostile.outcomes
                );
            }
        }
    }
}

#[test]
fn an_ungranted_import_is_refused_before_the_run_naming_it() {
    let loaded = load("ungranted_import");
    let err = setup::build_runtime(&loaded.scenario, &loaded.files)
        .expect_err("must not load")
        .to_string();
    assert!(err.contains("kv_put") && err.contains("capability `kv`"), "{err}");
}
