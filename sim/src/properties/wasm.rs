//! Properties whose checker is a WebAssembly module (`[[property]]`): for what no built-in
//! property and no expression can say, written in the language a team writes its services in.
//!
//! The checker runs in the same sandbox as services (fuel and memory limits per call, no
//! capability but `log`): it is handed every line of the run's trace, in order, through
//! `handle_event` — one pooled instance, so it keeps state from line to line — and answers `{}`
//! or `{"violation": "…"}`; then `handle_end`, handed the stores' final state, answers
//! `{"exercised": bool, "findings": […], "notes": […]}`. The ABI is in `guests/ABI.md` ("Property checkers"). A checker that faults,
//! answers something else or calls the host gives no verdict: the property is reported as not
//! judged ([`Status::Error`](super::Status::Error)), saying why — never a pass, and never a
//! counterexample of the design.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;
use fusebench_model::capability::Capability;
use fusebench_model::scenario::WasmProperty;
use serde::Deserialize;

use super::Verdict;
use crate::rng::SimRng;
use crate::runtime::{
    HostContext, InstancePooling, LogLine, Runtime, RuntimeConfig, ServiceConfig, ServiceHost,
    ServiceLimits, SliceOutcome,
};
use crate::setup::ModuleFiles;
use crate::system::RunResult;
use crate::time::SimTime;
use crate::trace::TraceLine;

/// Violations listed one by one; beyond, only counted.
const SHOWN_MAX: usize = 10;

/// The catalogue entries of the scenario's checker properties.
pub(super) fn summary(p: &WasmProperty) -> String {
    if p.description.is_empty() {
        format!("checked by WebAssembly module {}", p.module.name)
    } else {
        p.description.clone()
    }
}

/// Judges every `[[property]]` of `s` on `run`, with the modules of `files`.
#[must_use]
pub fn check(s: &Scenario, files: &ModuleFiles, run: &RunResult) -> Vec<Verdict> {
    s.properties.iter().map(|p| judge(s, files, run, p)).collect()
}

/// What `handle_end` answers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    exercised: bool,
    #[serde(default)]
    findings: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
}

/// What `handle_event` answers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventAnswer {
    violation: Option<String>,
}

/// What `handle_end` is given: the state snapshot after the run's last event,
/// `{"stores": {store: {key: value}}}` — each key-value store's live keys at replica 0 (a
/// strong store's primary, the replica an eventual store's copies converge with), keys and
/// values as text written as the trace writes them ([`crate::trace::bytes_text`], so a key
/// reads as in the trace's `store_write` lines), in key order.
fn end_input(run: &RunResult) -> Vec<u8> {
    let text = |b: &[u8]| crate::trace::bytes_text(b).into_owned();
    let stores: BTreeMap<&str, BTreeMap<String, String>> = run
        .stores
        .iter()
        .filter_map(|(name, replicas)| {
            let live = replicas
                .first()?
                .iter()
                .filter_map(|(k, v)| v.value.as_deref().map(|value| (text(k), text(value))));
            Some((name.as_str(), live.collect()))
        })
        .collect();
    // Strings and maps of strings always serialize.
    serde_json::to_vec(&serde_json::json!({ "stores": stores })).unwrap_or_else(|_| b"{}".to_vec())
}

fn judge(s: &Scenario, files: &ModuleFiles, run: &RunResult, p: &WasmProperty) -> Verdict {
    let id = p.name.clone();
    let broken = |why: String| {
        Verdict::unjudged(id.clone(), format!("the checker could not judge the run: {why}"))
    };
    let Some(bytes) = files.get(&p.module.name) else {
        return broken(format!("its module {} was not loaded", p.module.name));
    };
    let mut rt = Runtime::new(&RuntimeConfig::default());
    let name = format!("property {}", p.name);
    let mut config = ServiceConfig::new(name.clone());
    config.capabilities = BTreeSet::from([Capability::Log]);
    config.endpoints = BTreeSet::from(["event".to_owned(), "end".to_owned()]);
    config.limits = ServiceLimits {
        fuel_per_invocation: s.quality.fuel_budget,
        memory_bytes_max: usize::try_from(s.quality.memory_max_kib.saturating_mul(1024))
            .unwrap_or(usize::MAX),
    };
    config.policy = InstancePooling::Pooled { idle_max: 1 };
    if let Err(e) = rt.load_service(&config, bytes) {
        return broken(format!("module {}: {e}", p.module.name));
    }
    // Checkers get no randomness worth the name and no clock: a fixed stream keeps them
    // deterministic whatever they import.
    let mut random = SimRng::stream(0, "property-checker");
    let mut logs: Vec<LogLine> = Vec::new();
    let mut call = |endpoint: &str, input: &[u8], now: SimTime| -> Result<Vec<u8>, String> {
        logs.clear();
        let mut ctx = HostContext { now_nanos: now.nanos(), random: &mut random, log: &mut logs };
        let slice = rt.start_in(&name, 0, endpoint, input, &mut ctx).map_err(|e| e.to_string())?;
        match slice.outcome {
            SliceOutcome::Done(r) => Ok(r.body.into_bytes()),
            SliceOutcome::Failed(f) => Err(format!("handle_{endpoint} faulted: {f}")),
            SliceOutcome::Pending(op) => {
                rt.abandon(slice.invocation);
                Err(format!(
                    "handle_{endpoint} called the host ({}); checkers may only log",
                    op.import()
                ))
            }
        }
    };
    let mut violations: Vec<(SimTime, String)> = Vec::new();
    let mut last = SimTime::ZERO;
    let mut events = 0usize;
    for (i, raw) in run.trace.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let t = match TraceLine::parse(raw, i + 1) {
            Ok(line) => line.t,
            Err(e) => return broken(format!("the run's trace does not read back: {e}")),
        };
        last = t;
        events += 1;
        let answer = match call("event", raw, t) {
            Ok(a) => a,
            Err(why) => return broken(format!("{why} (trace line {})", i + 1)),
        };
        match serde_json::from_slice::<EventAnswer>(&answer) {
            Ok(EventAnswer { violation: Some(v) }) => violations.push((t, v)),
            Ok(EventAnswer { violation: None }) => {}
            Err(e) => {
                return broken(format!(
                    "handle_event answered {} at trace line {}: expected {{}} or {{\"violation\": \"…\"}} ({e})",
                    String::from_utf8_lossy(&answer),
                    i + 1
                ));
            }
        }
    }
    let end = match call("end", &end_input(run), last) {
        Ok(a) => a,
        Err(why) => return broken(why),
    };
    let end: End = match serde_json::from_slice(&end) {
        Ok(e) => e,
        Err(e) => {
            return broken(format!(
                "handle_end answered {}: expected {{\"exercised\": bool, \"findings\": [...], \"notes\": [...]}} ({e})",
                String::from_utf8_lossy(&end)
            ));
        }
    };
    let mut findings: Vec<String> = violations
        .iter()
        .take(SHOWN_MAX)
        .map(|(t, v)| format!("at t={:.4}s: {v}", t.as_secs_f64()))
        .collect();
    if violations.len() > SHOWN_MAX {
        findings.push(format!("… and {} more violations", violations.len() - SHOWN_MAX));
    }
    findings.extend(end.findings);
    let mut notes = end.notes;
    notes.push(format!("checked {events} trace events with {}", p.module.name));
    if findings.is_empty() && !end.exercised {
        let why =
            notes.first().cloned().unwrap_or_else(|| "the checker saw nothing it judges".into());
        let mut v = Verdict::not_exercised(id, why);
        v.notes.extend(notes);
        return v;
    }
    let first = violations.first().map(|(t, _)| *t);
    let v = Verdict::new(id, findings, notes);
    match first {
        Some(t) => v.at_time(t),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use fusebench_model::scenario::NameRef;

    use super::*;
    use crate::properties::Status;
    use crate::properties::tests::run_with;
    use crate::trace::TraceEvent;

    const MARKERS: &str = include_str!("../../../scenarios/properties/write-once-markers.wat");

    fn write(key: &'static str, prev_version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreWrite {
            store: "db",
            replica: 0,
            key,
            version: prev_version + 1,
            inv: 1,
            prev_version,
            changed: true,
            value: Some("1"),
        }
    }

    /// The verdict of a checker `wat` on a run whose trace is `events` (one per millisecond).
    fn judged(wat: Option<&str>, events: &[TraceEvent<&str>]) -> Verdict {
        let (mut s, run) = run_with(events);
        let module = NameRef { name: "checker.wat".into(), span: Default::default() };
        s.properties.push(WasmProperty {
            name: "p".into(),
            description: String::new(),
            module,
            span: Default::default(),
        });
        let mut files = ModuleFiles::new();
        if let Some(wat) = wat {
            files.insert("checker.wat".into(), wat.as_bytes().to_vec());
        }
        let mut verdicts = check(&s, &files, &run);
        assert_eq!(verdicts.len(), 1);
        verdicts.remove(0)
    }

    #[test]
    fn a_checker_holds_fails_at_the_violating_event_or_is_not_exercised() {
        let v = judged(Some(MARKERS), &[write("seen/1", 0), write("seen/2", 0)]);
        assert_eq!(v.status, Status::Held, "{v:#?}");
        assert!(v.notes.iter().any(|n| n.contains("checked 2 trace events")), "{:?}", v.notes);

        let v = judged(Some(MARKERS), &[write("seen/1", 0), write("other", 4), write("seen/1", 1)]);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        assert!(
            v.findings[0].starts_with("at t=0.0020s: dedup marker overwritten"),
            "{:?}",
            v.findings
        );
        assert_eq!(v.at, Some(SimTime(2_000_000)), "dated by the violating event");

        let v = judged(Some(MARKERS), &[write("other", 0)]);
        assert_eq!(v.status, Status::NotExercised, "{v:#?}");
        assert!(v.notes[0].contains("no seen/ marker was written"), "{:?}", v.notes);
    }

    #[test]
    fn the_end_call_is_handed_each_store_s_live_keys_at_replica_0() {
        use crate::system::Versioned;
        let (_, mut run) = run_with(&[write("seen/1", 0)]);
        let at = |pairs: &[(&str, Option<&str>, u64)]| -> BTreeMap<Vec<u8>, Versioned> {
            pairs
                .iter()
                .map(|(k, v, version)| {
                    let value = v.map(|v| v.as_bytes().to_vec());
                    (k.as_bytes().to_vec(), Versioned { value, version: *version })
                })
                .collect()
        };
        run.stores.insert(
            "db".into(),
            vec![
                at(&[("b", Some("2"), 4), ("a", Some("1"), 1), ("gone", None, 5)]),
                at(&[("a", Some("stale"), 0)]),
            ],
        );
        run.stores.insert("empty".into(), Vec::new());
        let input = end_input(&run);
        assert_eq!(
            String::from_utf8(input).expect("UTF-8"),
            r#"{"stores":{"db":{"a":"1","b":"2"}}}"#,
            "replica 0's live keys, in key order; a store without replicas is left out"
        );
    }

    /// A checker that cannot judge the run gives no verdict, saying why: never a pass, and not
    /// a violation of the design either.
    #[test]
    fn a_broken_checker_fails_with_the_reason_instead_of_passing() {
        let prelude = r#"(memory (export "memory") 1)
            (func (export "alloc") (param i32) (result i32) (i32.const 1024))"#;
        let end = r#"(data (i32.const 0) "{\"exercised\":true}")
            (func (export "handle_end") (param i32 i32) (result i64) (i64.const 18))"#;
        let cases: [(Option<String>, &str); 5] = [
            (None, "was not loaded"),
            (
                Some(format!(
                    "(module {prelude} {end} (func (export \"handle_event\") (param i32 i32) (result i64) unreachable))"
                )),
                "handle_event faulted",
            ),
            (
                Some(format!(
                    "(module {prelude} {end} (func (export \"handle_event\") (param i32 i32) (result i64) (i64.const 18)))"
                )),
                "handle_event answered",
            ),
            (
                Some(format!(
                    "(module (import \"fusebench\" \"kv_get\" (func (param i32 i32 i32 i32) (result i64))) {prelude} {end} (func (export \"handle_event\") (param i32 i32) (result i64) (i64.const 0)))"
                )),
                "module checker.wat",
            ),
            (
                Some(format!(
                    "(module {prelude} (func (export \"handle_event\") (param i32 i32) (result i64) (i64.const 0)))"
                )),
                "module checker.wat",
            ),
        ];
        for (wat, why) in cases {
            let v = judged(wat.as_deref(), &[write("seen/1", 0)]);
            assert_eq!(v.status, Status::Error, "{why}: {v:#?}");
            assert!(!v.passed() && !v.failed(), "neither a pass nor a violation");
            assert!(v.findings.is_empty(), "{v:#?}");
            assert!(
                v.notes[0].starts_with("not judged: the checker could not judge the run"),
                "{v:#?}"
            );
            assert!(v.notes[0].contains(why), "{why}: {:?}", v.notes);
        }
    }
}
