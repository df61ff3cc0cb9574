//! Reports of real (small, abstract-service) runs: figures, SLO verdicts, determinism, and the
//! multi-seed aggregate's statistics and independence from completion order.

use fusebench_model::Scenario;

use super::multi::{Estimate, MultiReport, t_975};
use super::*;
use crate::runtime::Runtime;
use crate::time::SimTime;
use crate::trace::TraceMode;
use crate::{RunOptions, Sim};

/// One M/M/1-like station (ρ = 0.5) and SLOs that the run meets, misses, and cannot judge.
const STATION: &str = r#"
[system]
name = "station"
[[context]]
name = "c"
[[node]]
name = "host"
tier = "cloud"
[gateway]
node = "host"
timeout_ms = 60000
[[service]]
name = "station"
context = "c"
node = "host"
replicas = 2
concurrency = 2
queue_capacity = 100000
  [service.service_time]
  distribution = { dist = "exponential", mean_ms = 2.0 }
  [[service.endpoint]]
  name = "serve"
  method = "POST"
  path = "/serve"
  public = true
  [[service.endpoint]]
  name = "idle"
  method = "GET"
  path = "/idle"
  public = true
[quality]
  [[quality.slo]]
  service = "station"
  endpoint = "serve"
  p50_ms = 0.001
  p99_ms = 1000
  availability = 0.99
  throughput_min_rps = 100000
  [[quality.slo]]
  service = "station"
  endpoint = "idle"
  p99_ms = 1000
[workload]
duration_s = 2
arrival = { kind = "poisson", rate_rps = 1000 }
  [[workload.mix]]
  service = "station"
  endpoint = "serve"
"#;

fn scenario() -> Scenario {
    let parsed = fusebench_model::parse("station.toml", STATION);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn report(seed: u64) -> Report {
    let s = scenario();
    let mut o = RunOptions::new(seed);
    o.trace = TraceMode::Hash;
    o.duration = Some(SimTime::from_secs_f64(2.0));
    let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    Report::new(&result, &s)
}

#[test]
fn figures_follow_their_definitions() {
    let r = report(1);
    let e = &r.endpoints["station.serve"];
    assert!(e.requests > 1500, "{}", e.requests);
    assert_eq!(e.successes, e.requests);
    assert!((e.availability - 1.0).abs() < 1e-12);
    // Throughput counts the successes answered within the workload's 2 s (not the drain's).
    let drained = e.successes as f64 - e.throughput_rps * 2.0;
    assert!((0.0..=20.0).contains(&drained) && drained.fract().abs() < 1e-6, "{drained}");
    assert!(e.latency.p50_ms <= e.latency.p99_ms && e.latency.p99_ms <= e.latency.max_ms);
    let last = e.latency_cdf.last().expect("a CDF");
    assert!((last.1 - 1.0).abs() < 1e-12);
    // ρ = λ / (replicas × concurrency × μ) = 1000 / (4 × 500) = 0.5.
    let s = &r.services["station"];
    assert!((s.utilisation - 0.5).abs() < 0.08, "utilisation {}", s.utilisation);
    // Little's law, both sides over the same window: L = λ W.
    let little = s.completed as f64 / 2.0 * s.mean_sojourn_ms / 1e3;
    assert!((s.mean_in_system - little).abs() < 0.1 * little, "{} vs {little}", s.mean_in_system);
    assert!(r.stores.is_empty() && r.channels.is_empty());
    assert!(!r.series.is_empty());
}

/// A single-slot service of 40 ms per request finishes at most 25 a second; eight closed-loop
/// users keep it busy and queue behind it when the workload ends. Its throughput is what it
/// answered within the workload — recomputed here from the trace's `response` lines — and
/// never above 25 req/s, though the drain answers the queued requests after the end.
#[test]
fn throughput_counts_the_answers_within_the_workload_not_the_drain() {
    let text = STATION
        .replace("replicas = 2\nconcurrency = 2", "replicas = 1\nconcurrency = 1")
        .replace(
            "distribution = { dist = \"exponential\", mean_ms = 2.0 }",
            "distribution = { dist = \"constant\", ms = 40.0 }",
        )
        .replace(
            "arrival = { kind = \"poisson\", rate_rps = 1000 }",
            "arrival = { kind = \"closed\", users = 8, think_ms = 5 }",
        );
    let s = fusebench_model::parse("ocr.toml", &text).ok().expect("valid");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Full;
    let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    let r = Report::new(&result, &s);
    let e = &r.endpoints["station.serve"];
    let trace = String::from_utf8(result.trace.clone()).expect("utf-8");
    let answered_by = |end: u64| {
        trace
            .lines()
            .filter(|l| l.contains("\"ev\":\"response\"") && l.contains("\"outcome\":\"ok\""))
            .filter(|l| {
                l["{\"t\":".len()..l.find(',').expect("t")].parse::<u64>().expect("t") <= end
            })
            .count() as f64
    };
    assert_eq!(e.throughput_rps, answered_by(2_000_000_000) / 2.0, "recomputed from the trace");
    assert!(e.throughput_rps <= 25.0, "{} req/s from a 25 req/s service", e.throughput_rps);
    assert_eq!(answered_by(u64::MAX), e.successes as f64);
    assert!(e.successes as f64 >= e.throughput_rps * 2.0 + 5.0, "the drain answered the queue");
}

/// A single-slot service of 100 ms per request offered 40 requests a second for 2 s builds a
/// backlog the drain works off for seconds. Utilisation and L are taken over the workload:
/// the slot was busy from the first arrival to the end (utilisation just under 1, never the
/// ≈ 4 the drain's work over the workload's 2 s read as), and the requests in the service
/// then numbered the backlog (L is the mean over the workload, recomputed from the trace's
/// `arrival` and `invocation_end` lines).
#[test]
fn utilisation_and_l_count_the_workload_not_the_drain_s_work() {
    let text = STATION
        .replace("replicas = 2\nconcurrency = 2", "replicas = 1\nconcurrency = 1")
        .replace(
            "distribution = { dist = \"exponential\", mean_ms = 2.0 }",
            "distribution = { dist = \"constant\", ms = 100.0 }",
        )
        .replace("rate_rps = 1000", "rate_rps = 40");
    let s = fusebench_model::parse("backlog.toml", &text).ok().expect("valid");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Full;
    let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    let r = Report::new(&result, &s);
    let x = &r.services["station"];
    assert!(x.completed > 60, "the drain answered the backlog: {}", x.completed);
    let lines: Vec<_> =
        crate::trace::read(&result.trace).collect::<Result<_, _>>().expect("the trace reads");
    let first = lines
        .iter()
        .find(|l| matches!(l.event, crate::trace::TraceEvent::InvocationStart { .. }))
        .expect("a request ran")
        .t
        .nanos() as f64;
    let busy_from_first = (2e9 - first) / 2e9;
    assert!(
        (x.utilisation - busy_from_first).abs() < 1e-6,
        "utilisation {} for a slot busy from {first} ns to the end",
        x.utilisation
    );
    // ∫ (requests in the service) dt over the workload, from the trace: a request is in the
    // service from its arrival + the gateway's hop (0.05 ms on one node) to its invocation's end.
    let hop = 50_000.0;
    let mut area = 0.0;
    let mut arrived = std::collections::BTreeMap::new();
    let mut req_of = std::collections::BTreeMap::new();
    for l in &lines {
        match &l.event {
            crate::trace::TraceEvent::Arrival { req, .. } => {
                arrived.insert(*req, l.t.nanos() as f64 + hop);
            }
            crate::trace::TraceEvent::InvocationStart { inv, req, .. } => {
                req_of.insert(*inv, *req);
            }
            crate::trace::TraceEvent::InvocationEnd { inv, .. } => {
                let from = arrived.remove(&req_of[inv]).expect("ends once");
                area += ((l.t.nanos() as f64).min(2e9) - from).max(0.0);
            }
            _ => {}
        }
    }
    area += arrived.values().map(|&from| (2e9 - from).max(0.0)).sum::<f64>();
    let l_want = area / 2e9;
    assert!(
        (x.mean_in_system - l_want).abs() < 1e-6 * l_want,
        "L {} vs {l_want}",
        x.mean_in_system
    );
}

/// An autoscaled service offered four times what its starting replica serves scales out;
/// its utilisation divides the CPU time it received by the replicas it had placed over the
/// workload (∫ placed dt × concurrency), never by the starting count — that read above 100 %.
#[test]
fn an_autoscaled_service_s_utilisation_is_over_the_replicas_it_had_placed() {
    let text = STATION
        .replace("replicas = 2\nconcurrency = 2", "replicas = 1\nconcurrency = 2")
        .replace(
            "distribution = { dist = \"exponential\", mean_ms = 2.0 }",
            "distribution = { dist = \"exponential\", mean_ms = 20.0 }\n  [service.autoscale]\n  min_replicas = 1\n  max_replicas = 8\n  metric = \"concurrency\"\n  target = 1\n  interval_s = 1",
        )
        .replace("rate_rps = 1000", "rate_rps = 400")
        .replace("duration_s = 2", "duration_s = 10");
    let s = fusebench_model::parse("scaled.toml", &text).ok().expect("valid");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Hash;
    let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    let r = Report::new(&result, &s);
    let x = &r.services["station"];
    let a = x.autoscale.as_ref().expect("autoscaled");
    assert!(a.placed_max >= 4, "it scaled out: {a:?}");
    let m = &result.metrics.services["station"];
    let placed = result.metrics.replicas["station"].placed_in_workload_nanos.expect("ended");
    let want = m.cpu_in_workload() as f64 / (placed as f64 * 2.0);
    assert!((x.utilisation - want).abs() < 1e-12, "{} vs {want}", x.utilisation);
    assert!(x.utilisation > 0.3 && x.utilisation <= 1.0, "{}", x.utilisation);
    // Over the starting replica alone, the CPU time received is more than it could give.
    assert!(m.cpu_in_workload() as f64 > 10e9 * 2.0, "busier than one replica");
}

#[test]
fn every_objective_is_judged_and_no_data_fails() {
    let r = report(1);
    let verdicts: Vec<(&str, &str, SloStatus)> =
        r.slos.iter().map(|v| (v.endpoint.as_str(), v.objective.name(), v.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("station.serve", "p50_ms", SloStatus::Fail),
            ("station.serve", "p99_ms", SloStatus::Pass),
            ("station.serve", "availability", SloStatus::Pass),
            ("station.serve", "throughput_min_rps", SloStatus::Fail),
            ("station.idle", "p99_ms", SloStatus::Fail),
        ]
    );
    assert_eq!(r.slos[4].actual, None, "an endpoint never called has no latency");
    assert!(!r.slos_met());
    let md = markdown::render(&r, &plots::PLOTS);
    assert!(md.contains("**FAIL**: 3 of 5 SLO objectives missed"), "{md}");
    assert!(md.contains("| station.idle | p99 | ≤ 1000 ms | no data | **FAIL** |"), "{md}");
    assert!(md.contains("![Latency CDF per endpoint](latency-cdf.svg)"));
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (a, b) = (report(7), report(7));
    assert_eq!(a.to_json().expect("json"), b.to_json().expect("json"));
    assert_eq!(markdown::render(&a, &[]), markdown::render(&b, &[]));
    assert_ne!(a.to_json().expect("json"), report(8).to_json().expect("json"));
}

#[test]
fn student_t_matches_the_tables() {
    assert!((t_975(1) - 12.7062).abs() < 1e-4);
    assert!((t_975(2) - 4.3027).abs() < 1e-4);
    assert!((t_975(30) - 2.0423).abs() < 1e-4);
    // Past the table: 2.0395 (40 → 2.0211, 120 → 1.9799), and always decreasing.
    assert!((t_975(31) - 2.0395).abs() < 2e-4);
    assert!((t_975(40) - 2.0211).abs() < 2e-4);
    assert!((t_975(120) - 1.9799).abs() < 2e-4);
    assert!((1..500).all(|df| t_975(df) > t_975(df + 1)));
}

#[test]
fn estimates_have_student_intervals() {
    let e = Estimate::of(&[1.0, 2.0, 3.0]).expect("values");
    assert_eq!((e.n, e.mean, e.min, e.max), (3, 2.0, 1.0, 3.0));
    // s = 1, so the half-width is t(2) / √3.
    let h = e.ci95.expect("an interval");
    assert!((h - 4.3027 / 3f64.sqrt()).abs() < 1e-4, "{h}");
    assert_eq!(e.show(2), "2.00 ± 2.48");
    let one = Estimate::of(&[5.0]).expect("a value");
    assert_eq!((one.ci95, one.show(1)), (None, "5.0 ± –".to_owned()));
    assert_eq!(Estimate::of(&[]), None);
}

#[test]
fn the_aggregate_ignores_completion_order() {
    let runs: Vec<Report> = [3, 1, 2].into_iter().map(report).collect();
    let shuffled = MultiReport::new(&runs);
    let sorted: Vec<Report> = [1, 2, 3].into_iter().map(report).collect();
    let in_order = MultiReport::new(&sorted);
    assert_eq!(shuffled.to_json().expect("json"), in_order.to_json().expect("json"));
    assert_eq!(shuffled.to_markdown(), in_order.to_markdown());
    let seeds: Vec<u64> = in_order.runs.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, [1, 2, 3]);
    let p50 = in_order.endpoints["station.serve"].p50_ms.expect("p50 over runs");
    assert_eq!(p50.n, 3);
    assert!(p50.ci95.is_some_and(|h| h > 0.0));
    // Objectives: met in every run, in none, or never measurable.
    let passed: Vec<(usize, usize)> = in_order.slos.iter().map(|s| (s.passed, s.runs)).collect();
    assert_eq!(passed, [(0, 3), (3, 3), (3, 3), (0, 3), (0, 3)]);
    assert!(in_order.slos[4].actual.is_none());
}

/// A run shard file carries what the aggregate reads: the aggregate of runs that travelled
/// through shard files is the one of the reports themselves, byte for byte.
#[test]
fn figures_through_a_shard_file_aggregate_as_the_reports_do() {
    let reports: Vec<Report> = [4, 5, 6].into_iter().map(report).collect();
    let direct = MultiReport::new(&reports);
    let travelled: Vec<multi::RunFigures> = reports
        .iter()
        .map(|r| {
            let text = serde_json::to_string(&multi::RunFigures::of(r)).expect("json");
            serde_json::from_str(&text).expect("read back")
        })
        .collect();
    let joined = MultiReport::of_runs(travelled);
    assert_eq!(joined.to_json().expect("json"), direct.to_json().expect("json"));
    assert_eq!(joined.to_markdown(), direct.to_markdown());
}

/// Seeds 10..=14 split in two run shards (seeds 10, 12, 14 and 11, 13).
fn run_shards() -> (Vec<multi::RunFigures>, Vec<(String, shard::RunShardFile)>) {
    let s = scenario();
    let files = crate::setup::ModuleFiles::new();
    let figures: Vec<multi::RunFigures> =
        (10..=14).map(|seed| multi::RunFigures::of(&report(seed))).collect();
    let split = shard::Split { first_seed: 10, seeds: 5, duration_ns: 2_000_000_000 };
    let files = (0..2)
        .map(|index| {
            let shard = crate::explore::Shard { index, count: 2 };
            let mine = figures.iter().filter(|r| (r.seed - 10) % 2 == index as u64).cloned();
            let file = shard::RunShardFile::new(&s, &files, split, shard, mine.collect());
            (format!("s{index}.json"), file)
        })
        .collect();
    (figures, files)
}

#[test]
fn run_shards_join_into_every_seed_or_are_refused_naming_the_file() {
    let s = scenario();
    let files = crate::setup::ModuleFiles::new();
    let (all, shards) = run_shards();
    // In either order of the files, every seed in seed order.
    let reversed: Vec<_> = shards.iter().rev().cloned().collect();
    for given in [&shards, &reversed] {
        let (split, runs) = shard::join(&s, &files, given).expect("one split");
        assert_eq!((split.first_seed, split.seeds), (10, 5));
        assert_eq!(runs, all);
    }
    let refused = |shards: Vec<(String, shard::RunShardFile)>| {
        shard::join(&s, &files, &shards).expect_err("refused").to_string()
    };
    let edit = |i: usize, f: &dyn Fn(&mut shard::RunShardFile)| {
        let mut copy = shards.clone();
        f(&mut copy[i].1);
        copy
    };
    let cases: Vec<(Vec<(String, shard::RunShardFile)>, &str)> = vec![
        (shards[..1].to_vec(), "shard(s) 1 of 2 missing"),
        (vec![shards[0].clone(), shards[0].clone()], "s0.json: shard 0/2 was given twice"),
        (edit(1, &|f| f.seeds = 6), "s1.json: from another exploration"),
        (edit(1, &|f| f.scenario_sha256 = "0".repeat(64)), "s1.json: made from a different"),
        (edit(0, &|f| f.runs[1].seed = 11), "s0.json: holds seed 11, which belongs to another"),
        (edit(0, &|f| f.runs[0].seed = 9), "s0.json: holds seed 9, which is outside the split"),
        (edit(1, &|f| f.runs[1].seed = 15), "s1.json: holds seed 15, which is outside the split"),
        (edit(0, &|f| f.runs[2].seed = 10), "s0.json: holds seed 10, which it holds twice"),
        (edit(0, &|f| drop(f.runs.remove(1))), "s0.json: holds seed 12, which is missing"),
    ];
    for (given, why) in cases {
        let e = refused(given);
        assert!(e.contains(why), "{why}: {e}");
    }
}

/// The bits a figure of `v` reads back with: `v`'s own, except a NaN's sign and payload (the
/// text is `NaN`, read back as the canonical NaN — nothing reads a NaN's payload, and every
/// NaN prints as `NaN`).
fn travelled(v: f64) -> u64 {
    if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() }
}

fn figures_travel(v: f64, none: bool) -> (u64, Option<u64>) {
    let figures = multi::SloFigures {
        endpoint: "e.p".into(),
        objective: Objective::P99Ms,
        target: v,
        actual: (!none).then_some(-v),
        verdict: SloStatus::Pass,
    };
    let text = serde_json::to_string(&figures).expect("json");
    let back: multi::SloFigures = serde_json::from_str(&text).expect("read back");
    (back.target.to_bits(), back.actual.map(f64::to_bits))
}

proptest::proptest! {
    /// Every `f64` that is a number (infinities, subnormals, negative zero included) reads back
    /// to the same bits: a JSON number would not promise that, and a mean over shards would
    /// drift in its last bit. A NaN reads back as a NaN.
    #[test]
    fn run_figures_floats_travel_exactly(bits in proptest::prelude::any::<u64>(), none in proptest::prelude::any::<bool>()) {
        let v = f64::from_bits(bits);
        let (target, actual) = figures_travel(v, none);
        proptest::prop_assert_eq!(target, travelled(v));
        proptest::prop_assert_eq!(actual, (!none).then_some(travelled(-v)));
    }
}

/// The NaNs the proptest above meets once in about 2,000 cases, every time: a signalling one
/// (the case that made it fail now and then when it compared a NaN's bits), a negative one, one
/// with a payload.
#[test]
fn run_figures_nans_travel_as_nan() {
    for bits in [0x7FF0_0000_0000_0001, 0xFFF8_0000_0000_0000, 0x7FF8_0000_DEAD_BEEF] {
        let v = f64::from_bits(bits);
        assert!(v.is_nan());
        assert_eq!(figures_travel(v, false), (f64::NAN.to_bits(), Some(f64::NAN.to_bits())));
    }
}

/// Names as an attacker writes them: terminal controls, a bidi override, a line break and the
/// syntax of Markdown tables and links.
const EVIL: &str = "\x1b[2J\x1b]0;pwned\x07 \u{202e}| x | [l](http://e) <b>\n# h";

fn hostile_report() -> Report {
    let mut r = report(1);
    r.system = EVIL.to_owned();
    let e = r.endpoints.remove("station.serve").expect("endpoint");
    r.endpoints.insert(format!("{EVIL}.serve"), e);
    let s = r.services.remove("station").expect("service");
    r.services.insert(EVIL.to_owned(), s);
    r.slos[0].endpoint = format!("{EVIL}.serve");
    r
}

fn assert_no_raw_hazard(what: &str, text: &str) {
    let raw: Vec<char> =
        text.chars().filter(|&c| c != '\n' && fusebench_model::text::is_hazard(c)).collect();
    assert!(raw.is_empty(), "{what}: raw {raw:?}");
}

#[test]
fn hostile_names_cannot_break_report_md() {
    let md = markdown::render(&hostile_report(), &plots::PLOTS);
    assert_no_raw_hazard("report.md", &md);
    assert!(!md.contains("\n# h") && !md.contains("<b>") && !md.contains("[l](http"), "{md}");
    // Every table row has as many cell separators (unescaped `|`) as its header.
    let separators = |line: &str| {
        let mut n = 0;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '|' => n += 1,
                _ => {}
            }
        }
        n
    };
    let mut expected = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            expected = None;
            continue;
        }
        let n = separators(line);
        assert_eq!(*expected.get_or_insert(n), n, "{line}");
    }
    assert!(md.contains("\\\\x1b\\[2J\\\\x1b\\]0;pwned\\\\x07 \\\\u{202e}\\| x \\|"), "{md}");
}

#[test]
fn hostile_names_are_visible_in_report_json() {
    let json = String::from_utf8(hostile_report().to_json().expect("json")).expect("utf-8");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["system"], fusebench_model::text::plain(EVIL).as_ref());
    let mut strings = vec![json.clone()];
    strings.extend(value["endpoints"].as_object().expect("endpoints").keys().cloned());
    for s in strings {
        assert_no_raw_hazard("report.json", &s);
        assert!(!s.contains('\u{1b}'), "{s}");
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fusebench-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_dir_is_replaced_whole_and_a_foreign_one_is_refused() {
    let dir = scratch("run-dir");
    let out = dir.join("out");
    // An older multi-seed output: its seed directory must not survive beside the new files.
    std::fs::create_dir_all(out.join("seed-7")).expect("old seed dir");
    std::fs::write(out.join("seed-7").join(REPORT_JSON), b"old").expect("old");
    std::fs::write(out.join(REPORT_JSON), b"old").expect("old");
    let written = write_run_dir(&out, &report(1), Some(b"trace\n")).expect("written");
    let mut expected = written.clone();
    expected.sort();
    assert_eq!(listing(&out), expected);
    assert!(!listing(&out).contains(&"seed-7".to_owned()));
    assert_eq!(listing(&dir), ["out"], "nothing staged is left beside it");

    std::fs::write(out.join("notes.txt"), b"mine").expect("a user's file");
    let before = listing(&out);
    let err = write_run_dir(&out, &report(1), None).expect_err("refused");
    assert!(matches!(&err, ReportError::Foreign { entry, .. } if entry == "notes.txt"), "{err}");
    assert_eq!(listing(&out), before);
    assert_eq!(listing(&dir), ["out"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The station with a crash of replica 0 from 0.5 s to 1 s.
fn report_with_crash() -> Report {
    let text = format!(
        "{STATION}\n[[fault]]\nkind = \"crash\"\nservice = \"station\"\nreplica = 0\nat_s = 0.5\nrestart_after_s = 0.5\n"
    );
    let parsed = fusebench_model::parse("station.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let mut o = RunOptions::new(1);
    o.duration = Some(SimTime::from_secs_f64(2.0));
    let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
    Report::new(&result, &s)
}

fn svg_of(name: &str, r: &Report) -> String {
    plots::register_fonts().expect("fonts");
    let plot = plots::PLOTS.iter().find(|p| p.name == name).expect("a plot of that name");
    plots::svg(plot, r).expect("drawn")
}

#[test]
fn every_time_series_plot_draws_the_faults_as_labelled_bands() {
    let r = report_with_crash();
    assert_eq!(r.faults.len(), 1);
    let f = &r.faults[0];
    assert_eq!((f.label.as_str(), f.from_s, f.to_s), ("crash station/0", 0.5, 1.0));
    for plot in ["latency", "throughput"] {
        let svg = svg_of(plot, &r);
        assert!(svg.contains("crash station/0"), "{plot}: the band's label");
        assert!(svg.contains("simulated time (s)"), "{plot}: a real chart");
    }
    // The CDF has no time axis: no band.
    assert!(!svg_of("latency-cdf", &r).contains("crash station/0"));
    // Without faults, no band.
    assert!(!svg_of("latency", &report(1)).contains("crash"));
}

#[test]
fn an_empty_plot_says_why_instead_of_drawing_axes() {
    let r = report(1);
    for (plot, why) in [
        ("consumer-lag", "the scenario has no asynchronous channel"),
        ("replication-lag", "no replicated write in this run"),
        ("replicas", "no service of the scenario autoscales"),
    ] {
        let svg = svg_of(plot, &r);
        assert!(svg.contains(why), "{plot}: says why");
        assert!(!svg.contains("simulated time (s)"), "{plot}: no axes around nothing");
    }
    // A plot with data keeps its axes and its legend beside them.
    let svg = svg_of("latency", &r);
    assert!(svg.contains("simulated time (s)") && svg.contains("station.serve p99"));
}

/// A sweep point sums its seeds' counts and costs, averages their p99 and names the SLO
/// objectives missed in any of them; its plot labels the point by its settings.
#[test]
fn a_sweep_point_summarises_its_seeds() {
    let runs = [report(1), report(2)];
    let settings = vec![("service.station.replicas".to_owned(), "2".to_owned())];
    let p = sweep::SweepPoint::new(1, settings, &runs, None);
    assert_eq!(
        p.requests,
        runs.iter().map(|r| r.endpoints.values().map(|e| e.requests).sum::<u64>()).sum::<u64>()
    );
    let worst = |r: &Report| {
        r.endpoints
            .values()
            .filter(|e| e.latency.count > 0)
            .map(|e| e.latency.p99_ms)
            .fold(0.0, f64::max)
    };
    assert_eq!(p.p99_ms, Some((worst(&runs[0]) + worst(&runs[1])) / 2.0));
    let cost: f64 = runs.iter().map(|r| 2.0 * r.end_s).sum();
    assert!((p.replica_seconds - cost).abs() < 1e-9, "{} vs {cost}", p.replica_seconds);
    assert_eq!(p.seeds, [1, 2]);
    assert!(p.slo_missed.contains(&"station.serve p50".to_owned()), "{:?}", p.slo_missed);
    assert_eq!(p.slo_verdict(), format!("FAIL ({})", p.slo_missed.len()));
    let one = sweep::SweepPoint::new(1, p.settings.clone(), &runs[..1], Some("station.serve"));
    assert_eq!(one.requests, runs[0].endpoints["station.serve"].requests);
    assert_eq!(one.p99_ms, Some(runs[0].endpoints["station.serve"].latency.p99_ms));
    let svg = sweep::svg("t", &["service.station.replicas".to_owned()], &[p]).expect("drawn");
    assert!(svg.contains("point: service.station.replicas") && svg.contains(">\n2\n<"), "{svg}");
}

/// The `slo` property judges the objectives of endpoints requests reached; one no request
/// reached is noted, not judged (a run shrunk too short to send anything is no
/// counterexample), and with nothing reached — or no SLO declared — it is not exercised.
#[test]
fn the_slo_property_judges_only_endpoints_that_requests_reached() {
    use crate::properties::{self, Status};
    let verdict = |text: &str| {
        let s = fusebench_model::parse("station.toml", text).ok().expect("valid");
        let mut o = RunOptions::new(1);
        o.trace = TraceMode::Full;
        o.duration = Some(SimTime::from_secs_f64(0.5));
        let result = Sim::new(s.clone(), Box::new(Runtime::default()), &o).run();
        properties::check(&s, &result).into_iter().find(|v| v.id == "slo").expect("slo")
    };
    let v = verdict(STATION);
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings.iter().all(|f| f.starts_with("station.serve ")), "{v:#?}");
    assert_eq!(v.findings.len(), 2, "p50 and throughput: {v:#?}");
    assert!(
        v.notes.contains(
            &"station.idle p99_ms: target ≤ 1000 ms, actual no data (no request reached it: not judged)"
                .to_owned()
        ),
        "{v:#?}"
    );

    let only_idle = STATION.replace(
        "  service = \"station\"\n  endpoint = \"serve\"\n  p50_ms",
        "  service = \"station\"\n  endpoint = \"idle\"\n  p50_ms",
    );
    assert_ne!(only_idle, STATION);
    let v = verdict(&only_idle);
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
    assert_eq!(v.notes[0], "not exercised: no request reached an endpoint with an SLO");

    let start = STATION.find("[quality]").expect("quality");
    let end = STATION.find("[workload]").expect("workload");
    let none = format!("{}{}", &STATION[..start], &STATION[end..]);
    let v = verdict(&none);
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
    assert_eq!(v.notes[0], "not exercised: the scenario declares no SLO ([[quality.slo]])");
}
