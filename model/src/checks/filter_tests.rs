//! The filter module checks: each finding, and a filter that passes.

use crate::checks::{Modules, run};
use crate::diagnostic::Diagnostic;
use crate::module;
use crate::scenario::parse;

const SCENARIO: &str = r#"
[system]
name = "f"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
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
[mesh]
all = true
[[mesh.filter]]
name = "f"
module = "f.wat"
"#;

const PRELUDE: &str = r#"(memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))"#;

/// The module-check errors of `scenario` (a file `name`) whose one extension module is `path`,
/// given as `wat` (`None`: not loaded; `Some(Err)`: unreadable). Shared with the policy checks.
pub(in crate::checks) fn module_findings(
    name: &str,
    scenario: &str,
    path: &str,
    wat: Option<Result<&str, &str>>,
) -> Vec<String> {
    let s = parse(name, scenario).scenario.expect("parses");
    let mut modules = Modules::new();
    match wat {
        Some(Ok(wat)) => {
            let bytes = module::module_bytes(path, wat.as_bytes()).expect("valid WAT");
            modules.insert(path.into(), Ok(module::inspect(&bytes).expect("inspects")));
        }
        Some(Err(reason)) => {
            modules.insert(path.into(), Err(reason.into()));
        }
        None => {}
    }
    run(&s, &modules)
        .into_iter()
        .filter(Diagnostic::is_error)
        .filter(|d| d.code.starts_with("module-"))
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

/// The module-check errors of the scenario with filter module `wat`.
fn findings(wat: Option<Result<&str, &str>>) -> Vec<String> {
    module_findings("f.toml", SCENARIO, "f.wat", wat)
}

#[test]
fn a_filter_with_the_abi_and_granted_imports_passes() {
    let wat = format!(
        r#"(module (import "fusebench" "log" (func (param i32 i32 i32))) {PRELUDE}
        (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0))
        (func (export "handle_response") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    assert_eq!(findings(Some(Ok(&wat))), Vec::<String>::new());
}

#[test]
fn each_filter_module_problem_is_a_finding_naming_the_filter() {
    let ungranted = format!(
        r#"(module (import "fusebench" "kv_get" (func (param i32 i32 i32 i32) (result i64))) {PRELUDE}
        (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    let got = findings(Some(Ok(&ungranted)));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("module-capability `mesh filter f` imports `fusebench.kv_get`, which needs capability `kv`, not granted"),
        "{got:#?}"
    );

    let no_handler = format!(
        r#"(module {PRELUDE} (func (export "handle_response") (param i32) (result i64) (i64.const 0)))"#
    );
    let got = findings(Some(Ok(&no_handler)));
    assert!(
        got.iter()
            .any(|e| e
                .contains("module-abi module of `mesh filter f` does not export `handle_request`")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|e| e.contains("`handle_response` of `mesh filter f` has signature")),
        "{got:#?}"
    );

    let no_memory = r#"(module (func (export "alloc") (param i32) (result i32) (i32.const 0))
        (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0)))"#;
    assert_eq!(
        findings(Some(Ok(no_memory))),
        ["module-abi module `f.wat` of mesh filter f does not export its `memory`"]
    );

    assert_eq!(
        findings(Some(Err("invalid magic number"))),
        ["module-valid module `f.wat` of mesh filter f is not usable: invalid magic number"]
    );
    assert_eq!(findings(None), ["module-valid module `f.wat` of mesh filter f was not loaded"]);
}

/// The scenario with its filter's module swapped by a push at 15 s for `g.wat`, which is
/// given as `wat` (the declared `f.wat` is a valid filter).
fn pushed_findings(wat: Option<Result<&str, &str>>) -> Vec<String> {
    let pushed = format!(
        "{SCENARIO}[mesh.control_plane]\n[[mesh.push]]\nat_s = 15\n  [[mesh.push.filter]]\n  name = \"f\"\n  module = \"g.wat\"\n"
    );
    let s = parse("f.toml", &pushed).scenario.expect("parses");
    let mut modules = Modules::new();
    let good = format!(
        r#"(module {PRELUDE} (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    let f = module::module_bytes("f.wat", good.as_bytes()).expect("valid WAT");
    modules.insert("f.wat".into(), Ok(module::inspect(&f).expect("inspects")));
    if let Some(wat) = wat {
        let info = wat.map(|wat| {
            let bytes = module::module_bytes("g.wat", wat.as_bytes()).expect("valid WAT");
            module::inspect(&bytes).expect("inspects")
        });
        modules.insert("g.wat".into(), info.map_err(Into::into));
    }
    run(&s, &modules)
        .into_iter()
        .filter(Diagnostic::is_error)
        .filter(|d| d.code.starts_with("module-"))
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[test]
fn a_pushed_filter_module_gets_the_same_checks_and_its_findings_name_the_push() {
    let ungranted = format!(
        r#"(module (import "fusebench" "kv_get" (func (param i32 i32 i32 i32) (result i64))) {PRELUDE}
        (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    let got = pushed_findings(Some(Ok(&ungranted)));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("module-capability `mesh filter f pushed by mesh.push[0] (at 15 s)` imports `fusebench.kv_get`"),
        "{got:#?}"
    );
    assert_eq!(
        pushed_findings(Some(Err("invalid magic number"))),
        [
            "module-valid module `g.wat` of mesh filter f pushed by mesh.push[0] (at 15 s) is not usable: invalid magic number"
        ]
    );
    let no_handler = format!("(module {PRELUDE})");
    let got = pushed_findings(Some(Ok(&no_handler)));
    assert!(got.iter().any(|e| e.contains("does not export `handle_request`")), "{got:#?}");
    // A good pushed module passes.
    let good = format!(
        r#"(module {PRELUDE} (func (export "handle_request") (param i32 i32) (result i64) (i64.const 0)))"#
    );
    assert_eq!(pushed_findings(Some(Ok(&good))), Vec::<String>::new());
}
