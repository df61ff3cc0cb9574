//! `[[mesh.push]]` carrying policies and filter modules (istiod pushing DestinationRule,
//! VirtualService and WasmPlugin changes): what each configuration holds, and each mistake a
//! located error.

use super::super::tests::{BASE, errors_of};
use crate::scenario::parse;

const MESH: &str = r#"
[mesh]
all = true
  [[mesh.policy]]
  service = "back"
  retries = { attempts = 2, per_try_timeout_ms = 100 }
  [[mesh.filter]]
  name = "auth"
  module = "auth.wat"
  [[mesh.filter]]
  name = "trace"
  module = "trace.wat"
  [mesh.control_plane]
"#;

fn text(pushes: &str) -> String {
    format!("{BASE}{MESH}{pushes}")
}

const PUSHES: &str = r#"
  # applies second (at 20 s)
  [[mesh.push]]
  at_s = 20
  remove_filters = ["trace"]
    [[mesh.push.policy]]
    service = "back"
  # applies first (at 10 s)
  [[mesh.push]]
  at_s = 10
    [[mesh.push.policy]]
    service = "back"
    retry_budget = { budget_percent = 20, min_retry_concurrency = 1 }
    outlier_detection = { consecutive_5xx = 2 }
    [[mesh.push.filter]]
    name = "auth"
    module = "auth-v2.wat"
    [[mesh.push.filter]]
    name = "limit"
    module = "limit.wat"
    at = "sidecar"
"#;

#[test]
fn each_configuration_is_the_previous_one_with_the_next_push_in_time_order_applied() {
    let p = parse("m.toml", &text(PUSHES));
    assert!(!p.has_errors(), "{:#?}", p.diagnostics);
    let s = p.ok().expect("parsed");
    let m = s.mesh.as_ref().expect("mesh");
    assert_eq!(m.push_order(), [1, 0]);
    let names = |k: usize| -> Vec<(String, String)> {
        m.configuration(k).filters.iter().map(|f| (f.name.clone(), f.module.name.clone())).collect()
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // 0: as declared.
    assert_eq!(names(0), [pair("auth", "auth.wat"), pair("trace", "trace.wat")]);
    assert_eq!(m.configuration(0).retries("back", "get").map(|r| r.attempts), Some(2));
    // 1 (the push at 10 s): `auth` swapped in place, `limit` joins the end; back's policy is
    // replaced as a whole — its retries go, a budget and outlier detection come.
    assert_eq!(
        names(1),
        [pair("auth", "auth-v2.wat"), pair("trace", "trace.wat"), pair("limit", "limit.wat")]
    );
    let c1 = m.configuration(1);
    assert!(c1.retries("back", "get").is_none());
    let back = c1.service_policy("back").expect("pushed policy");
    assert_eq!(back.outlier_detection.as_ref().map(|o| o.consecutive_5xx), Some(2));
    assert_eq!(back.retry_budget.as_ref().map(|b| b.min_retry_concurrency), Some(1));
    // 2 (at 20 s): a policy that sets nothing removes back's; `trace` leaves the chain.
    assert_eq!(names(2), [pair("auth", "auth-v2.wat"), pair("limit", "limit.wat")]);
    assert!(m.configuration(2).service_policy("back").is_none());
    // The pushed filters know their push (the runtime loads each module apart).
    let pushed: Vec<Option<usize>> = m.every_filter().map(|f| f.pushed).collect();
    assert_eq!(pushed, [None, None, Some(1), Some(1)]);
    assert_eq!(m.pushes[1].describe(), "policy back; filter auth; filter limit");
    assert_eq!(m.pushes[0].describe(), "-policy back; -filter trace");
    assert_eq!((m.pushes[0].subject(), m.pushes[1].subject()), ("back", "back"));
    // What was declared is still what the declared accessors give.
    assert_eq!(m.retries("back", "get").map(|r| r.attempts), Some(2));
}

#[test]
fn bad_pushes_are_located_errors_naming_the_field() {
    let base_lines = BASE.lines().count() + MESH.lines().count();
    for (push, needle, field) in [
        ("  [[mesh.push]]\n  at_s = 1\n", "a push that changes nothing", "mesh.push[0].service"),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.policy]]\n    service = \"bakc\"\n    retries = { attempts = 2 }\n",
            "unknown service `bakc`",
            "mesh.push[0].policy[0].service",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.policy]]\n    service = \"back\"\n    retries = { attempts = 2, per_try = 5 }\n",
            "unknown field `per_try`",
            "mesh.push[0].policy[0].retries",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.policy]]\n    service = \"back\"\n    endpoint = \"get\"\n    outlier_detection = {}\n",
            "applies to a whole destination service",
            "mesh.push[0].policy[0].outlier_detection",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.policy]]\n    service = \"back\"\n    retries = { attempts = 2 }\n    [[mesh.push.policy]]\n    service = \"back\"\n    rate_limit = { max_tokens = 1, fill_interval_ms = 10 }\n",
            "a second mesh policy for `back`",
            "mesh.push[0].policy[1]",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n  remove_filters = [\"trcae\"]\n",
            "filter `trcae` is not in the chain when push 0 applies",
            "mesh.push[0].remove_filters",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.filter]]\n    name = \"x\"\n    module = \"x.wat\"\n    services = [\"nope\"]\n",
            "unknown service `nope`",
            "mesh.push[0].filter[0].services",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.filter]]\n    name = \"x\"\n    module = \"x.wat\"\n    capabilities = [\"kv\"]\n",
            "cannot be granted `kv`",
            "mesh.push[0].filter[0].capabilities",
        ),
        (
            "  [[mesh.push]]\n  at_s = 1\n  remove_filters = [\"auth\"]\n    [[mesh.push.filter]]\n    name = \"auth\"\n    module = \"a.wat\"\n",
            "both removes and pushes filter `auth`",
            "mesh.push[0].remove_filters",
        ),
    ] {
        let errs = errors_of(&text(push));
        let hit = errs.iter().find(|e| e.contains(needle));
        let hit = hit.unwrap_or_else(|| panic!("no `{needle}` in {errs:?}"));
        let line: usize = hit.split(':').next().and_then(|l| l.parse().ok()).expect("a line");
        assert!(line > base_lines, "`{needle}` located in the push: {hit} (after {base_lines})");
        assert!(hit.contains(field), "`{needle}` names `{field}`: {hit}");
    }
    // A filter removed by an earlier push is not there to remove again.
    let twice = "  [[mesh.push]]\n  at_s = 2\n  remove_filters = [\"trace\"]\n  [[mesh.push]]\n  at_s = 1\n  remove_filters = [\"trace\"]\n";
    let errs = errors_of(&text(twice));
    assert!(
        errs.iter().any(|e| e.contains("filter `trace` is not in the chain when push 0 applies")),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn a_route_only_push_serialises_as_before() {
    let p = parse(
        "m.toml",
        &text("  [[mesh.push]]\n  at_s = 1\n    [[mesh.push.policy]]\n    service = \"back\"\n"),
    );
    let s = p.ok().expect("parsed");
    let json = serde_json::to_string(&s.mesh.as_ref().expect("mesh").pushes).expect("json");
    assert!(!json.contains("route") && !json.contains("filters"), "{json}");
    assert!(json.contains("policies"), "{json}");
}
