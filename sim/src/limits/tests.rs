use super::*;

fn parse(text: &str) -> Scenario {
    let p = fusebench_model::parse("limits.toml", text);
    let diags: Vec<String> = p.diagnostics.iter().map(ToString::to_string).collect();
    p.ok().unwrap_or_else(|| panic!("{diags:?}"))
}

/// A small abstract system with the knobs the limits read.
fn system(arrival: &str, store_replicas: u32, retries: u32) -> String {
    format!(
        r#"
[system]
name = "limits"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[store]]
name = "db"
kind = "kv"
nodes = ["n"]
replicas = {store_replicas}
[[channel]]
name = "rest"
kind = "rest"
retries = {retries}
[[service]]
name = "a"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "e"
  method = "GET"
  path = "/e"
  public = true
  [[service.call]]
  service = "b"
  endpoint = "e"
  channel = "rest"
[[service]]
name = "b"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "e"
  method = "GET"
  path = "/e"
[workload]
duration_s = 60
arrival = {arrival}
  [[workload.mix]]
  service = "a"
  endpoint = "e"
"#
    )
}

#[test]
fn a_scenario_inside_the_limits_passes() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 200 }"#, 3, 2));
    assert_eq!(check_scenario(&s, &Limits::DEFAULT), []);
}

#[test]
fn a_million_requests_per_second_is_refused_naming_the_field_its_line_and_the_limit() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 1e6 }"#, 1, 0));
    let errs = check_scenario(&s, &Limits::DEFAULT);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let msg = errs[0].to_string();
    // Line 45 holds `arrival = {...}`: the location of the rate.
    assert!(msg.starts_with("limits.toml:45:"), "{msg}");
    assert!(msg.contains("workload.arrival.rate_rps"), "{msg}");
    assert!(msg.contains("60000000") && msg.contains("1000000"), "{msg}");
    assert!(msg.contains("--limits-off"), "{msg}");
    assert_eq!(check_scenario(&s, &Limits::off()), []);
}

#[test]
fn a_million_closed_loop_users_are_refused() {
    let s = parse(&system(r#"{ kind = "closed", users = 1000000 }"#, 1, 0));
    let errs = check_scenario(&s, &Limits::DEFAULT);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].to_string().contains("workload.arrival.users = 1000000"), "{}", errs[0]);
}

#[test]
fn a_store_with_a_thousand_replicas_is_refused_at_its_table() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 10 }"#, 1000, 0));
    let errs = check_scenario(&s, &Limits::DEFAULT);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let msg = errs[0].to_string();
    assert!(msg.starts_with("limits.toml:11:"), "{msg}");
    assert!(msg.contains("store[db].replicas = 1000") && msg.contains("limit of 100"), "{msg}");
}

#[test]
fn retries_multiply_the_attempts_a_request_causes() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 2000 }"#, 1, 100));
    // a → b with 100 retries: 1 + 101 × 1 attempts per request.
    assert!((attempts_per_request(&s, "a") - 102.0).abs() < 1e-9);
    let errs = check_scenario(&s, &Limits::DEFAULT);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].to_string().contains("120000 × 102"), "{}", errs[0]);
}

#[test]
fn expected_requests_integrate_on_off_and_stepped_rates() {
    let on_off = parse(&system(r#"{ kind = "on-off", rate_rps = 10, on_s = 1, off_s = 2 }"#, 1, 0));
    // 60 s = 20 periods of 3 s, 1 s on each: 20 s at 10 req/s.
    assert_eq!(on_off.workload.as_ref().and_then(expected_requests), Some(200.0));
    let steps = parse(&system(
        r#"{ kind = "schedule", steps = [{ at_s = 0, rate_rps = 1 }, { at_s = 30, rate_rps = 2 }] }"#,
        1,
        0,
    ));
    assert_eq!(steps.workload.as_ref().and_then(expected_requests), Some(90.0));
}

#[test]
fn a_journey_sends_one_request_per_step_and_its_steps_fan_out_like_the_mix() {
    let journey = r#"
  [[workload.journey]]
  name = "j"
  weight = 1
    [[workload.journey.step]]
    name = "one"
    service = "a"
    endpoint = "e"
    [[workload.journey.step]]
    name = "two"
    service = "a"
    endpoint = "e"
    [[workload.journey.step]]
    name = "three"
    service = "a"
    endpoint = "e"
"#;
    let text = system(r#"{ kind = "constant", rate_rps = 10 }"#, 1, 0) + journey;
    let s = parse(&text);
    // Half the arrivals are the mix entry (1 request), half the journey (3): 600 × 2.
    assert_eq!(s.workload.as_ref().and_then(expected_requests), Some(1200.0));
    // With 100 retries on a → b, each of those requests may cost 102 attempts.
    let s = parse(&(system(r#"{ kind = "constant", rate_rps = 1000 }"#, 1, 100) + journey));
    let errs = check_scenario(&s, &Limits::DEFAULT);
    assert!(errs.iter().any(|e| e.to_string().contains("120000 × 102")), "{errs:?}");
}

#[test]
fn too_many_cases_are_refused() {
    assert!(check_cases(10_000, &Limits::DEFAULT).is_ok());
    let e = check_cases(10_001, &Limits::DEFAULT).expect_err("over");
    assert!(e.to_string().contains("--cases = 10001"), "{e}");
}

#[test]
fn a_run_over_its_event_budget_stops_with_the_budget_named() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 200 }"#, 1, 0));
    let runtime = crate::runtime::Runtime::new(&crate::runtime::RuntimeConfig::default());
    let mut sim = Sim::new(s, Box::new(runtime), &crate::RunOptions::new(1));
    let limits = Limits { events_max: 10_000, ..Limits::DEFAULT };
    let mut budget = Budget::new(&limits);
    let err = budget.run_to_end(&mut sim).expect_err("stopped");
    let msg = err.to_string();
    assert!(msg.contains("the events processed") && msg.contains("limit of 10000"), "{msg}");
    // Stopped within one slice of the budget, long before the 60 s workload ended.
    assert!(budget.events() <= 10_000 + SLICE_EVENTS, "{}", budget.events());
    assert!(sim.now() < SimTime::from_secs_f64(60.0));
}

#[test]
fn a_run_under_budget_matches_an_unbounded_run_exactly() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 50 }"#, 1, 0));
    let mut o = crate::RunOptions::new(3);
    o.duration = Some(SimTime::from_secs_f64(2.0));
    let rt = || Box::new(crate::runtime::Runtime::new(&crate::runtime::RuntimeConfig::default()));
    let plain = Sim::new(s.clone(), rt(), &o).run();
    let mut sim = Sim::new(s, rt(), &o);
    Budget::new(&Limits::DEFAULT).run_to_end(&mut sim).expect("within budget");
    let bounded = sim.finish();
    assert_eq!(plain.trace_hash, bounded.trace_hash);
    assert_eq!(plain.events, bounded.events);
}

#[test]
fn a_run_over_its_trace_budget_stops_before_the_trace_grows_further() {
    let s = parse(&system(r#"{ kind = "poisson", rate_rps = 200 }"#, 1, 0));
    let runtime = crate::runtime::Runtime::new(&crate::runtime::RuntimeConfig::default());
    let mut o = crate::RunOptions::new(1);
    o.trace = crate::trace::TraceMode::Full;
    let mut sim = Sim::new(s, Box::new(runtime), &o);
    let limits = Limits { trace_bytes_max: 100_000, ..Limits::DEFAULT };
    let err = Budget::new(&limits).run_to_end(&mut sim).expect_err("stopped");
    assert!(err.to_string().contains("the trace kept in memory (bytes)"), "{err}");
    assert!(sim.trace_lines().len() < 100_000 + 4096 * 1024, "{}", sim.trace_lines().len());
}
