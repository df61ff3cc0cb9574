//! The scenario reader: any text, parsed strictly; when it parses, every static check, the
//! service graph's exports and the resource limits run on it. None of them may panic.
#![no_main]

use fusebench_model::checks::{self, Modules};
use fusebench_sim::limits::{Limits, check_scenario};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = fusebench_model::parse("fuzz.toml", text);
    for d in &parsed.diagnostics {
        let _ = d.to_string();
    }
    let Some(s) = parsed.ok() else { return };
    let _ = checks::run(&s, &Modules::new());
    let _ = checks::coupling_matrix(&s);
    let graph = fusebench_model::graph::ServiceGraph::new(&s);
    let _ = graph.to_dot(&s);
    let _ = graph.to_mermaid(&s);
    let _ = check_scenario(&s, &Limits::DEFAULT);
});
