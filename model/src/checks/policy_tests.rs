//! The policy module checks: each finding, and a policy that passes.

use crate::checks::filter::tests::module_findings;

const SCENARIO: &str = r#"
[system]
name = "p"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[service]]
name = "api"
context = "c"
node = "n"
service_time = { distribution = { dist = "constant", ms = 1.0 } }
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
  [service.autoscale]
  max_replicas = 4
  metric = "concurrency"
  target = 2
  policy = { module = "p.wat" }
"#;

const PRELUDE: &str = r#"(memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))"#;

/// The module-check errors of the scenario with policy module `wat` (`None`: not loaded;
/// `Some(Err)`: unreadable).
fn findings(wat: Option<Result<&str, &str>>) -> Vec<String> {
    module_findings("p.toml", SCENARIO, "p.wat", wat)
}

#[test]
fn a_policy_with_the_abi_that_only_logs_passes() {
    let wat = format!(
        r#"(module (import "fusebench" "log" (func (param i32 i32 i32))) {PRELUDE}
        (func (export "handle_decide") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    assert_eq!(findings(Some(Ok(&wat))), Vec::<String>::new());
}

#[test]
fn each_policy_module_problem_is_a_finding_naming_the_service() {
    let reads_the_world = format!(
        r#"(module (import "fusebench" "now" (func (result i64))) {PRELUDE}
        (func (export "handle_decide") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    let got = findings(Some(Ok(&reads_the_world)));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with(
            "module-capability `the scaling policy of `api`` imports `fusebench.now`, which needs capability `clock`, not granted"
        ),
        "{got:#?}"
    );

    let no_handler = format!(r#"(module {PRELUDE})"#);
    let got = findings(Some(Ok(&no_handler)));
    assert!(got.iter().any(|e| e.contains("does not export `handle_decide`")), "{got:#?}");

    let wrong_signature = format!(
        r#"(module {PRELUDE} (func (export "handle_decide") (param i32) (result i64) (i64.const 0)))"#
    );
    let got = findings(Some(Ok(&wrong_signature)));
    assert!(
        got.iter()
            .any(|e| e.contains("`handle_decide` of `the scaling policy of `api`` has signature")),
        "{got:#?}"
    );

    assert_eq!(
        findings(Some(Err("invalid magic number"))),
        [
            "module-valid module `p.wat` of the scaling policy of `api` is not usable: invalid magic number"
        ]
    );
    assert_eq!(
        findings(None),
        ["module-valid module `p.wat` of the scaling policy of `api` was not loaded"]
    );
}
