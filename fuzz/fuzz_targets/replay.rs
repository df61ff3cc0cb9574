//! The replay file reader: any text, parsed as a replay file; a file that parses is verified as
//! `fusebench replay` does (scenario hash, schedule validation, limits, field hashes), and a
//! schedule that validates is run — so a schedule the validation lets through must never reach
//! a panic in the simulator (a crash of replica 99 of a 2-replica service once did).
#![no_main]

use std::sync::OnceLock;

use fusebench_model::Scenario;
use fusebench_sim::explore::replay::ReplayFile;
use fusebench_sim::explore::run_case_limited;
use fusebench_sim::limits::Limits;
use fusebench_sim::setup::ModuleFiles;
use libfuzzer_sys::fuzz_target;

const SCENARIO: &str = include_str!("../scenarios/replay.toml");

fn scenario() -> &'static Scenario {
    static S: OnceLock<Scenario> = OnceLock::new();
    S.get_or_init(|| {
        let parsed = fusebench_model::parse("fuzz/scenarios/replay.toml", SCENARIO);
        let diags: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
        parsed.ok().unwrap_or_else(|| panic!("the fuzz scenario must parse: {diags:?}"))
    })
}

/// Tight limits: a fuzzed duration or rate is refused quickly instead of running for long.
const LIMITS: Limits = Limits {
    requests_max: 5_000.0,
    attempts_max: 50_000.0,
    events_max: 200_000,
    trace_bytes_max: 16 << 20,
    ..Limits::DEFAULT
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(replay) = ReplayFile::parse(text) else { return };
    let s = scenario();
    let files = ModuleFiles::new();
    let _ = replay.verify(s, &files, &LIMITS);
    if replay.schedule.validate(s, LIMITS.schedule_faults_max).is_empty() {
        let _ = run_case_limited(s, &files, &replay.schedule, replay.seed, &LIMITS);
    }
});
