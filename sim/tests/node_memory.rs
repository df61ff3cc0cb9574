//! Node memory at run time (`sim/src/system/memory.rs`): the instances on a node share its
//! `memory_mib`, and an instance whose growth takes the node past it is OOM-killed — its request
//! fails, the others go on. `scenarios/flawed/dynamic/node-oom.toml` overcommits a 6 MiB edge
//! box; the same design on a 64 MiB box never kills.

use std::path::Path;

use fusebench_sim::load::{self, Loaded};
use fusebench_sim::metrics::Outcome;
use fusebench_sim::trace::{self, TraceEvent, TraceMode};
use fusebench_sim::{RunOptions, RunResult, Sim, setup};

fn run(memory_mib: Option<u64>) -> RunResult {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/flawed/dynamic/node-oom.toml"
    ));
    let Loaded { mut scenario, files, .. } = load::load(path).expect("loads");
    if let Some(m) = memory_mib {
        scenario.nodes[0].memory_mib = m;
    }
    let runtime = setup::build_runtime(&scenario, &files).expect("modules load");
    let mut options = RunOptions::new(1);
    options.trace = TraceMode::Full;
    Sim::new(scenario, Box::new(runtime), &options).run()
}

/// (bytes, others, capacity) of every `oom_killed` event.
fn kills(r: &RunResult) -> Vec<(u64, u64, u64)> {
    trace::read(&r.trace)
        .map(|l| l.expect("trace reads back"))
        .filter_map(|l| match l.event {
            TraceEvent::OomKilled { bytes, others, capacity, .. } => {
                Some((bytes, others, capacity))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_instance_that_grows_past_its_node_is_oom_killed_and_the_others_go_on() {
    let r = run(None);
    let kills = kills(&r);
    assert!(kills.len() >= 5, "the overcommitted node kills: {}", kills.len());
    for (bytes, others, capacity) in &kills {
        assert_eq!(*capacity, 6 << 20);
        assert!(bytes + others > *capacity, "killed only past capacity: {bytes} + {others}");
        assert!(*others <= *capacity, "what the node holds never exceeds it: {others}");
    }
    let put = &r.metrics.endpoints["sessions.put"];
    assert_eq!(put.outcomes.get(&Outcome::OomKilled).copied(), Some(kills.len() as u64));
    assert!(put.successes() > put.total() * 9 / 10, "the other instances keep answering");
    assert_eq!(r.requests_sent, r.requests_answered, "a killed request is answered, not lost");
    assert_eq!(r.metrics.services["sessions"].oom_kills, kills.len() as u64);
}

#[test]
fn the_same_design_on_an_ample_node_is_never_killed() {
    let r = run(Some(64));
    assert!(kills(&r).is_empty());
    let put = &r.metrics.endpoints["sessions.put"];
    assert_eq!(put.successes(), put.total());
}
