//! `[[mesh.filter]]` reading: defaults, every problem located at its field, names resolved.

use std::collections::BTreeSet;

use crate::capability::Capability;
use crate::scenario::{FilterAt, parse};

/// The mesh's reading design (`front` calls `back.get`) with every service meshed.
fn base() -> String {
    format!("{}[mesh]\nall = true\n", super::super::tests::BASE)
}

fn errors(filters: &str) -> Vec<String> {
    super::super::tests::errors_of(&format!("{}{filters}", base()))
}

#[test]
fn filters_read_in_order_with_their_defaults() {
    let text = format!(
        r#"{}
[[mesh.filter]]
name = "auth"
module = "auth.wasm"
services = ["front"]
at = "gateway"
[[mesh.filter]]
name = "v"
module = "v.wat"
capabilities = ["clock", "log"]
fuel_budget = 5000
memory_max_kib = 128
ns_per_fuel = 2.5
"#,
        base()
    );
    let parsed = parse("m.toml", &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    let s = parsed.scenario.expect("parses");
    let filters = &s.mesh.expect("mesh").filters;
    assert_eq!(filters.len(), 2);
    let (a, v) = (&filters[0], &filters[1]);
    assert_eq!(
        (a.name.as_str(), a.module.name.as_str(), a.at),
        ("auth", "auth.wasm", FilterAt::Gateway)
    );
    assert!(a.applies_to("front") && !a.applies_to("back"));
    assert_eq!(a.capabilities, BTreeSet::from([Capability::Log]), "default grant: log");
    assert_eq!((a.fuel_budget, a.memory_max_kib, a.ns_per_fuel), (None, None, 1.0));
    assert_eq!(v.at, FilterAt::Both);
    assert!(v.applies_to("front") && v.applies_to("back"), "no services: every destination");
    assert_eq!(v.capabilities, BTreeSet::from([Capability::Log, Capability::Clock]));
    assert_eq!((v.fuel_budget, v.memory_max_kib, v.ns_per_fuel), (Some(5000), Some(128), 2.5));
    assert!(FilterAt::Both.gateway() && FilterAt::Both.sidecar());
    assert!(!FilterAt::Gateway.sidecar() && !FilterAt::Sidecar.gateway());
    assert_eq!(FilterAt::Sidecar.name(), "sidecar");
}

#[test]
fn every_filter_problem_is_located_at_its_field() {
    let line = base().lines().count();
    let got = errors(
        r#"[[mesh.filter]]
name = "a"
module = "a.wasm"
services = ["frnt"]
at = "inbound"
capabilities = ["kv", "lgo"]
fuel_budget = 0
[[mesh.filter]]
name = "a"
module = "b.wasm"
[[mesh.filter]]
module = "c.wasm"
colour = "red"
"#,
    );
    let want = [
        format!(
            "{}:6 mesh.filter[0].at `at` = \"inbound\" is not one of: gateway, sidecar, both",
            line + 5
        ),
        format!(
            "{}:17 mesh.filter[0].capabilities a filter runs inline in the proxy and cannot be granted `kv`: only log, clock, random",
            line + 6
        ),
        format!(
            "{}:23 mesh.filter[0].capabilities unknown capability `lgo` (a filter may have: log, clock, random)",
            line + 6
        ),
    ];
    for w in &want {
        assert!(got.contains(w), "missing {w}\nin {got:#?}");
    }
    let needles = [
        "mesh.filter[0].fuel_budget",
        "missing required field `name`",
        "colour",
        "a second mesh filter named `a`",
    ];
    for n in needles {
        assert!(got.iter().any(|e| e.contains(n)), "no error with {n:?} in {got:#?}");
    }
    // Names resolve once the file reads.
    let got = errors("[[mesh.filter]]\nname = \"a\"\nmodule = \"a.wasm\"\nservices = [\"frnt\"]\n");
    let want = format!("{}:13 mesh.filter[0].services unknown service `frnt`", line + 4);
    assert_eq!(got, [want]);
}
