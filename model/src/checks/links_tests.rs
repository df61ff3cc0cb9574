//! The link checks: each catches its broken composition, and correct compositions pass.

use crate::checks::{Modules, run};
use crate::diagnostic::Diagnostic;
use crate::module;
use crate::scenario::parse;

/// A service `shop` with module `shop.wat`, then `extra` TOML (libraries, links).
fn scenario(service_extra: &str, extra: &str) -> String {
    format!(
        r#"
[system]
name = "composed"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[service]]
name = "shop"
context = "c"
node = "n"
module = "shop.wat"
{service_extra}
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
{extra}
"#
    )
}

const PRELUDE: &str = r#"(memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))"#;

/// A service module importing `imports` (WAT import lines).
fn service(imports: &str) -> String {
    format!(
        r#"(module {imports} {PRELUDE}
        (func (export "handle_go") (param i32 i32) (result i64) (i64.const 0)))"#
    )
}

const MONEY: &str = r#"(module
    (func (export "tax") (param i64 i32) (result i64) local.get 0)
    (func (export "round") (param i64) (result i64) local.get 0))"#;

/// `(code, message, line)` of every error, given module texts by path.
fn errors(toml: &str, wats: &[(&str, &str)]) -> Vec<(String, String, usize)> {
    let parsed = parse("c.toml", toml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let s = parsed.scenario.expect("parses");
    let mut modules = Modules::new();
    for (path, wat) in wats {
        let bytes = module::module_bytes(path, wat.as_bytes()).expect("valid WAT");
        modules.insert((*path).into(), Ok(module::inspect(&bytes).expect("inspects")));
    }
    run(&s, &modules)
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| (d.code.clone(), d.message.clone(), d.location.map_or(0, |l| l.line)))
        .collect()
}

fn codes(found: &[(String, String, usize)]) -> Vec<&str> {
    found.iter().map(|f| f.0.as_str()).collect()
}

const LINKS_MONEY: &str = r#"links = ["money"]"#;
const MONEY_LIB: &str = r#"
[[library]]
name = "money"
module = "money.wat""#;

#[test]
fn a_correct_composition_passes() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    assert_eq!(errors(&toml, &[("shop.wat", &shop), ("money.wat", MONEY)]), vec![]);
}

#[test]
fn an_import_the_library_does_not_export_is_unresolved_at_the_link() {
    let shop = service(r#"(import "money" "convert" (func (param i64 i32) (result i64)))"#);
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", MONEY)]);
    assert_eq!(codes(&found), ["link-unresolved"], "{found:?}");
    assert!(found[0].1.contains("`shop` imports `money.convert`"), "{found:?}");
    assert!(found[0].1.contains("library `money`"), "{found:?}");
    // Located at the `links` entry (line 14 of the scenario).
    let line = toml.lines().position(|l| l.starts_with("links")).expect("links line") + 1;
    assert_eq!(found[0].2, line, "{found:?}");
}

#[test]
fn an_import_from_a_library_not_linked_is_unresolved() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    let toml = scenario("", MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", MONEY)]);
    assert_eq!(codes(&found), ["link-unresolved"], "{found:?}");
    assert!(found[0].1.contains("does not link library `money`"), "{found:?}");
}

#[test]
fn a_signature_mismatch_shows_both_signatures() {
    let shop = service(r#"(import "money" "tax" (func (param i64) (result i64)))"#);
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", MONEY)]);
    assert_eq!(codes(&found), ["link-signature"], "{found:?}");
    assert!(found[0].1.contains("(i64) -> i64"), "{found:?}");
    assert!(found[0].1.contains("(i64, i32) -> i64"), "{found:?}");
}

#[test]
fn a_memory_import_from_a_library_is_refused() {
    let shop = service(r#"(import "money" "rate" (global i32))"#);
    let money = r#"(module (global (export "rate") i32 (i32.const 2000)))"#;
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", money)]);
    assert!(codes(&found).contains(&"link-signature"), "{found:?}");
}

#[test]
fn a_cycle_among_libraries_is_named_once() {
    let shop = service(r#"(import "a" "f" (func (result i32)))"#);
    let a = r#"(module (import "b" "g" (func (result i32)))
        (func (export "f") (result i32) call 0))"#;
    let b = r#"(module (import "a" "f" (func (result i32)))
        (func (export "g") (result i32) call 0))"#;
    let libs = r#"
[[library]]
name = "a"
module = "a.wat"
links = ["b"]
[[library]]
name = "b"
module = "b.wat"
links = ["a"]"#;
    let toml = scenario(r#"links = ["a"]"#, libs);
    let found = errors(&toml, &[("shop.wat", &shop), ("a.wat", a), ("b.wat", b)]);
    assert_eq!(codes(&found), ["link-cycle"], "{found:?}");
    assert!(found[0].1.contains("a → b → a"), "{found:?}");
}

#[test]
fn a_chain_of_libraries_is_no_cycle() {
    let shop = service(r#"(import "a" "f" (func (result i32)))"#);
    let a = r#"(module (import "b" "g" (func (result i32)))
        (func (export "f") (result i32) call 0))"#;
    let b = r#"(module (func (export "g") (result i32) i32.const 7))"#;
    let libs = r#"
[[library]]
name = "a"
module = "a.wat"
links = ["b"]
[[library]]
name = "b"
module = "b.wat""#;
    let toml = scenario(r#"links = ["a"]"#, libs);
    assert_eq!(errors(&toml, &[("shop.wat", &shop), ("a.wat", a), ("b.wat", b)]), vec![]);
}

#[test]
fn a_library_reaching_an_ungranted_capability_is_a_sandbox_violation() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    let money = format!(
        r#"(module (import "fusebench" "kv_put" (func (param i32 i32 i32 i32 i32 i32) (result i32)))
        {PRELUDE}
        (func (export "tax") (param i64 i32) (result i64) local.get 0))"#
    );
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", &money)]);
    assert_eq!(codes(&found), ["module-capability"], "{found:?}");
    assert!(
        found[0].1.contains("`shop`'s library `money` imports `fusebench.kv_put`"),
        "{found:?}"
    );
    assert!(found[0].1.contains("capability `kv`"), "{found:?}");
    // Granted to the service, the same library passes.
    let granted = format!("{LINKS_MONEY}\ncapabilities = [\"kv\"]");
    let toml = scenario(&granted, MONEY_LIB);
    assert_eq!(errors(&toml, &[("shop.wat", &shop), ("money.wat", &money)]), vec![]);
}

#[test]
fn a_library_calling_the_host_without_memory_or_alloc_breaks_the_abi() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    let money = r#"(module (import "fusebench" "kv_get" (func (param i32 i32 i32 i32) (result i64)))
        (func (export "tax") (param i64 i32) (result i64) local.get 0))"#;
    let toml = scenario(&format!("{LINKS_MONEY}\ncapabilities = [\"kv\"]"), MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", money)]);
    assert_eq!(codes(&found), ["module-abi", "module-abi"], "{found:?}");
    assert!(found.iter().any(|f| f.1.contains("`memory`")), "{found:?}");
    assert!(found.iter().any(|f| f.1.contains("`alloc`")), "{found:?}");
}

#[test]
fn an_invalid_library_module_is_not_usable() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    let toml = scenario(LINKS_MONEY, MONEY_LIB);
    let s = parse("c.toml", &toml).scenario.expect("parses");
    let mut modules = Modules::new();
    let bytes = module::module_bytes("shop.wat", shop.as_bytes()).expect("valid");
    modules.insert("shop.wat".into(), Ok(module::inspect(&bytes).expect("inspects")));
    modules.insert("money.wat".into(), Err("bad magic".into()));
    let found: Vec<String> = run(&s, &modules)
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    assert_eq!(
        found,
        ["module-valid module `money.wat` of library `money` is not usable: bad magic"]
    );
}

#[test]
fn the_composition_memory_counts_against_the_service_limit() {
    let shop = service(r#"(import "money" "tax" (func (param i64 i32) (result i64)))"#);
    // 2 pages in the library + 1 in the service = 192 KiB > 128 KiB.
    let money = r#"(module (memory (export "memory") 2)
        (func (export "tax") (param i64 i32) (result i64) local.get 0))"#;
    let toml = scenario(&format!("{LINKS_MONEY}\nmemory_max_kib = 128"), MONEY_LIB);
    let found = errors(&toml, &[("shop.wat", &shop), ("money.wat", money)]);
    assert_eq!(codes(&found), ["module-abi"], "{found:?}");
    assert!(found[0].1.contains("192 KiB"), "{found:?}");
    let toml = scenario(&format!("{LINKS_MONEY}\nmemory_max_kib = 192"), MONEY_LIB);
    assert_eq!(errors(&toml, &[("shop.wat", &shop), ("money.wat", money)]), vec![]);
}

#[test]
fn bad_links_are_located_parse_errors() {
    let toml = scenario(r#"links = ["mony"]"#, MONEY_LIB);
    let parsed = parse("c.toml", &toml);
    let d = parsed.diagnostics.iter().find(|d| d.is_error()).expect("an error");
    assert_eq!(d.code, "parse.unknown-reference");
    assert!(d.message.contains("unknown library `mony`"), "{}", d.message);
    assert_eq!(d.field.as_deref(), Some("service[shop].links"));
    let reserved = scenario("", "[[library]]\nname = \"fusebench\"\nmodule = \"x.wat\"");
    let parsed = parse("c.toml", &reserved);
    assert!(parsed.diagnostics.iter().any(|d| d.message.contains("host namespace")));
    let unknown_key = scenario("", "[[library]]\nname = \"m\"\nmodule = \"x.wat\"\nlink = []");
    let parsed = parse("c.toml", &unknown_key);
    assert!(parsed.diagnostics.iter().any(|d| d.is_error() && d.message.contains("link")));
}
