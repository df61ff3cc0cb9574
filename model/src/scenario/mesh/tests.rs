//! `[mesh]` reading: defaults, every problem located, names resolved.

use crate::diagnostic::Diagnostic;
use crate::scenario::{RetryOn, parse};

/// Two services: `front` (public) calls `back.get` over `rest`: the design every reading test of
/// the mesh (`authz`, `filter` too) adds its tables to.
pub(super) const BASE: &str = r#"
[system]
name = "m"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "front"
context = "c"
node = "n"
service_time = { distribution = { dist = "constant", ms = 1.0 } }
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
  [[service.call]]
  service = "back"
  endpoint = "get"
  channel = "rest"
[[service]]
name = "back"
context = "c"
node = "n"
service_time = { distribution = { dist = "constant", ms = 1.0 } }
  [[service.endpoint]]
  name = "get"
"#;

fn diags(mesh: &str) -> Vec<Diagnostic> {
    parse("m.toml", &format!("{BASE}{mesh}")).diagnostics
}

fn messages(mesh: &str) -> Vec<String> {
    errors_of(&format!("{BASE}{mesh}"))
}

/// Every error reading `text` gives, as `line:column field message`.
pub(super) fn errors_of(text: &str) -> Vec<String> {
    parse("m.toml", text)
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| {
            let l = d.location.expect("located");
            format!("{}:{} {} {}", l.line, l.column, d.field.unwrap_or_default(), d.message)
        })
        .collect()
}

#[test]
fn a_mesh_with_every_filter_reads_with_envoy_defaults() {
    let text = format!(
        "{BASE}{}",
        r#"
[mesh]
services = ["front"]
sidecar_latency_ms = 0.5
  [[mesh.policy]]
  service = "back"
  retries = { attempts = 3, per_try_timeout_ms = 100 }
  retry_budget = {}
  circuit_breaker = { max_requests = 50 }
  outlier_detection = { consecutive_5xx = 3 }
  rate_limit = { max_tokens = 10, fill_interval_ms = 100 }
"#
    );
    let parsed = parse("m.toml", &text);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let mesh = s.mesh.as_ref().expect("a mesh");
    assert!(mesh.contains("front") && !mesh.contains("back"));
    let r = mesh.retries("back", "get").expect("the service-wide policy covers its endpoints");
    let p = mesh.service_policy("back").expect("policy");
    // Envoy: base interval 25 ms, max interval 10 × base; our default retry_on is all three.
    assert_eq!((r.attempts, r.base_interval_ms, r.max_interval_ms), (3, 25.0, 250.0));
    assert_eq!(r.retry_on, [RetryOn::FiveXx, RetryOn::Timeout, RetryOn::Unavailable]);
    // Envoy's retry_budget defaults: 20 % and 3.
    let b = p.retry_budget.as_ref().expect("budget");
    assert_eq!((b.budget_percent, b.min_retry_concurrency), (20.0, 3));
    let o = p.outlier_detection.as_ref().expect("outlier");
    assert_eq!(
        (o.consecutive_5xx, o.base_ejection_time_ms, o.max_ejection_percent),
        (3, 30_000.0, 10)
    );
    let l = p.rate_limit.as_ref().expect("rate limit");
    assert_eq!((l.max_tokens, l.tokens_per_fill, l.fill_interval_ms), (10, 1, 100.0));
}

#[test]
fn an_endpoint_policy_overrides_the_service_one() {
    let text = format!(
        "{BASE}{}",
        r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "back"
  retries = { attempts = 2 }
  [[mesh.policy]]
  service = "back"
  endpoint = "get"
  retries = { attempts = 4, retry_on = ["timeout"] }
"#
    );
    let s = parse("m.toml", &text).ok().expect("valid");
    let mesh = s.mesh.as_ref().expect("mesh");
    let r = mesh.retries("back", "get").expect("retries");
    assert_eq!((r.attempts, r.retry_on.as_slice()), (4, [RetryOn::Timeout].as_slice()));
    assert_eq!(
        mesh.service_policy("back").and_then(|p| p.retries.as_ref()).map(|r| r.attempts),
        Some(2)
    );
}

#[test]
fn unknown_fields_and_names_are_located_with_hints() {
    let e = diags(
        r#"
[mesh]
services = ["frnt"]
  [[mesh.policy]]
  service = "back"
  endpoint = "gett"
  retries = { attempts = 3, retry_onn = ["5xx"] }
"#,
    );
    let errs: Vec<&Diagnostic> = e.iter().filter(|d| d.is_error()).collect();
    let hints: Vec<Option<&str>> = errs.iter().map(|d| d.hint.as_deref()).collect();
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_eq!(errs[0].field.as_deref(), Some("mesh.services"));
    assert_eq!(hints[0], Some("did you mean `front`?"));
    assert_eq!(errs[1].field.as_deref(), Some("mesh.policy[0].endpoint"));
    assert_eq!(hints[1], Some("did you mean `get`?"));
    assert_eq!(errs[2].field.as_deref(), Some("mesh.policy[0].retries.retry_onn"));
    assert_eq!(hints[2], Some("did you mean `retry_on`?"));
    let l = errs[2].location.as_ref().expect("located");
    assert_eq!((l.file.as_str(), l.line), ("m.toml", 41));
}

#[test]
fn bad_mesh_designs_are_errors() {
    // No service in the mesh.
    let m = messages("[mesh]\nsidecar_latency_ms = 1\n");
    assert!(m.iter().any(|m| m.contains("puts no service in the mesh")), "{m:?}");
    // Both ways of listing.
    let m = messages("[mesh]\nall = true\nservices = [\"front\"]\n");
    assert!(m.iter().any(|m| m.contains("both `all = true` and `services`")), "{m:?}");
    // A policy no sidecar applies: `back` is not public and its caller is not in the mesh.
    let m = messages(
        "[mesh]\nservices = [\"back\"]\n[[mesh.policy]]\nservice = \"back\"\nretries = { attempts = 2 }\n",
    );
    assert!(m.iter().any(|m| m.contains("no sidecar applies this policy")), "{m:?}");
    // A policy naming an unknown service.
    let m = messages(
        "[mesh]\nall = true\n[[mesh.policy]]\nservice = \"nope\"\nretries = { attempts = 2 }\n",
    );
    assert!(m.iter().any(|m| m.contains("unknown service `nope`")), "{m:?}");
    // A policy with no filter; a duplicate; a cluster-wide filter on one endpoint.
    let m = messages(
        "[mesh]\nall = true\n[[mesh.policy]]\nservice = \"back\"\n[[mesh.policy]]\nservice = \"back\"\nretries = { attempts = 2 }\n[[mesh.policy]]\nservice = \"back\"\nendpoint = \"get\"\noutlier_detection = {}\n",
    );
    assert!(m.iter().any(|m| m.contains("sets no filter")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("a second mesh policy for `back`")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("not to one endpoint")), "{m:?}");
    // Out of range, bad retry_on, max below base, missing bucket interval.
    let m = messages(
        "[mesh]\nall = true\n[[mesh.policy]]\nservice = \"back\"\nretries = { attempts = 0, retry_on = [\"5xxx\"], base_interval_ms = 50, max_interval_ms = 10 }\nrate_limit = { max_tokens = 5 }\n",
    );
    assert!(
        m.iter()
            .any(|m| m.contains("mesh.policy[0].retries.attempts `attempts` = 0 is out of range")),
        "{m:?}"
    );
    assert!(m.iter().any(|m| m.contains("\"5xxx\", not one of")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("is below `base_interval_ms`")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("missing required field `fill_interval_ms`")), "{m:?}");
}

#[test]
fn a_scenario_without_mesh_serialises_as_before() {
    let s = parse("m.toml", BASE).ok().expect("valid");
    let json = serde_json::to_string(&s).expect("serialises");
    assert!(!json.contains("mesh"), "{json}");
}

#[test]
fn a_fault_and_a_connection_pool_read_with_envoy_defaults() {
    let text = format!(
        "{BASE}{}",
        r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "back"
  circuit_breaker = { max_connections = 4 }
  [[mesh.policy]]
  service = "back"
  endpoint = "get"
  fault = { delay = { percentage = 10, fixed_delay_ms = 250 }, abort = { percentage = 2.5, http_status = 503 } }
"#
    );
    let parsed = parse("m.toml", &text);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let mesh = s.mesh.as_ref().expect("mesh");
    let f = mesh.fault("back", "get").expect("the endpoint's fault");
    let d = f.delay.as_ref().expect("delay");
    assert_eq!((d.percentage, d.fixed_delay_ms), (10.0, 250.0));
    let a = f.abort.as_ref().expect("abort");
    assert_eq!((a.percentage, a.http_status), (2.5, 503));
    let c = mesh.service_policy("back").and_then(|p| p.circuit_breaker.as_ref()).expect("cb");
    // Envoy's default `max_pending_requests` is 1024; `max_requests` stays unset.
    assert_eq!(
        (c.max_requests, c.max_connections, c.max_pending_requests),
        (None, Some(4), Some(1024))
    );
}

#[test]
fn a_policy_without_fault_or_pool_serialises_as_before() {
    let text = format!(
        "{BASE}{}",
        "[mesh]\nall = true\n[[mesh.policy]]\nservice = \"back\"\ncircuit_breaker = { max_requests = 5 }\n"
    );
    let s = parse("m.toml", &text).ok().expect("valid");
    let json = serde_json::to_string(&s.mesh).expect("serialises");
    assert!(json.contains(r#""circuit_breaker":{"max_requests":5}"#), "{json}");
    assert!(!json.contains("fault") && !json.contains("max_connections"), "{json}");
}

#[test]
fn bad_faults_and_pools_are_located_errors() {
    let m = messages(
        r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "back"
  fault = { abort = { percentage = 120, http_status = 418 }, delay = { percentage = 5 } }
  circuit_breaker = { max_pending_requests = 3 }
  [[mesh.policy]]
  service = "back"
  endpoint = "get"
  fault = {}
"#,
    );
    let expected = [
        "40:21 mesh.policy[0].fault.abort.http_status `http_status` = 418 has no outcome in the simulator",
        "40:36 mesh.policy[0].fault.abort.percentage `percentage` = 120 is out of range (allowed: 0 to 100)",
        "40:70 mesh.policy[0].fault.delay.fixed_delay_ms missing required field `fixed_delay_ms` (how long a delayed request waits)",
        "41:21 mesh.policy[0].circuit_breaker.max_connections `max_pending_requests` counts requests waiting for one of `max_connections` connections: give `max_connections` too",
        "41:21 mesh.policy[0].circuit_breaker.max_requests a `circuit_breaker` limits nothing: give it `max_requests` or `max_connections` (with `max_pending_requests`)",
        "45:11 mesh.policy[1].fault.abort a `fault` injects nothing: give it `delay = { percentage, fixed_delay_ms }` or `abort = { percentage, http_status }`",
    ];
    assert_eq!(m, expected);
    // The hint lists the statuses the simulator maps, with their outcomes.
    let d = diags(
        "[mesh]\nall = true\n[[mesh.policy]]\nservice = \"back\"\nfault = { abort = { percentage = 1, http_status = 502 } }\n",
    );
    let hint = d.iter().find_map(|d| d.hint.clone()).expect("a hint");
    assert_eq!(
        hint,
        "use one of: 429 (rate-limited), 500 (guest-fault), 503 (rejected), 504 (timeout)"
    );
}

#[test]
fn a_sidecar_cpu_cost_reads_in_microseconds_defaults_to_none_and_is_checked() {
    let read = |mesh: &str| {
        let parsed = parse("m.toml", &format!("{BASE}{mesh}"));
        assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
        parsed.ok().expect("valid").mesh.expect("a mesh").sidecar_cpu_us
    };
    assert_eq!(read("[mesh]\nall = true\n"), 0.0, "no CPU unless declared");
    assert_eq!(read("[mesh]\nall = true\nsidecar_cpu_us = 175\n"), 175.0);
    // BASE ends on line 34: `[mesh]` is line 35, the key line 37.
    let m = messages("[mesh]\nall = true\nsidecar_cpu_us = -1\n");
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("37:") && m[0].contains("mesh.sidecar_cpu_us"), "{m:?}");
    let m = messages("[mesh]\nall = true\nsidecar_cpu_us = \"fast\"\n");
    assert!(m.len() == 1 && m[0].starts_with("37:"), "{m:?}");
    let d = diags("[mesh]\nall = true\nsidecar_cpu_ms = 0.2\n");
    let unknown = d.iter().find(|d| d.is_error()).expect("an unknown key is an error");
    assert_eq!(unknown.hint.as_deref(), Some("did you mean `sidecar_cpu_us`?"), "{unknown:#?}");
}
