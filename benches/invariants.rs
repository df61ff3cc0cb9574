//! The cost of user-stated `always` invariants (issue 13): property checking of one finished run
//! with 0, 5 and 50 `always` invariants, in trace events judged per second.
//!
//! `cargo bench --bench invariants`; figures and the command in benches/README.md. Times are the
//! bench thread's CPU time (see support/cpu.rs).

#[path = "support/cpu.rs"]
mod cpu;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use cpu::ThreadCpu;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use fusebench_sim::properties;
use fusebench_sim::setup;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, Sim};

/// The fixed ledger (every transfer debited then credited), at its 20 transfers/s for 2 s: each
/// `always` evaluation scans the whole ledger, so the cost grows with the square of the run.
const LEDGER: &str = "scenarios/fixed/invariants-ledger.toml";

/// The ledger's text without its own invariants, plus `n` `always` invariants that each read
/// the ledger (a prefix scan and two sums, as the shipped ones do) and hold.
fn with_invariants(base: &str, n: usize) -> String {
    let mut text = base.to_owned();
    for i in 0..n {
        text.push_str(&format!(
            "\n[[invariant]]\nname = \"covered-{i}\"\nexpr = 'sum(values(scan(stores.ledger, \"credit/\"))) <= sum(values(scan(stores.ledger, \"debit/\"))) + {i}'\n"
        ));
    }
    text
}

fn check_cost(c: &mut Criterion<ThreadCpu>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LEDGER);
    let loaded = fusebench_sim::load::load(&path).expect("the ledger loads");
    let shipped = std::fs::read_to_string(&path).expect("read");
    let cut = shipped.find("[[invariant]]").expect("the ledger states invariants");
    let base = shipped[..cut].replace("rate_rps = 20", "rate_rps = 100");
    let file = path.to_str().expect("utf-8");
    let s = fusebench_model::parse(file, &base).ok().expect("the variant parses");
    let runtime = setup::build_runtime(&s, &loaded.files).expect("modules load");
    let mut options = RunOptions::new(1);
    options.trace = TraceMode::Full;
    let run = Sim::new(s, Box::new(runtime), &options).run();
    let mut g = c.benchmark_group("property_check_with_always_invariants");
    g.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(200));
    g.throughput(Throughput::Elements(run.events));
    for n in [0usize, 5, 50] {
        let s = fusebench_model::parse(file, &with_invariants(&base, n)).ok().expect("parses");
        let verdicts = properties::check(&s, &run);
        assert!(verdicts.iter().all(properties::Verdict::passed), "{verdicts:?}");
        g.bench_with_input(BenchmarkId::new("events", n), &n, |b, _| {
            b.iter(|| black_box(properties::check(&s, &run)));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = check_cost
}
criterion_main!(benches);
