use super::*;

/// Two services whose names differ only in `_` / `-`, a third whose name tries to close its
/// Mermaid label and add an edge, calling each other; modules are only named (no file is read).
const SCENARIO: &str = r#"
[system]
name = "graph"

[[context]]
name = "pay"

[[node]]
name = "host"
tier = "cloud"

[gateway]
node = "host"

[[channel]]
name = "rest"
kind = "rest"

[[channel]]
name = "r|\"]e\nst"
kind = "rest"

[[service]]
name = "pay_x"
context = "pay"
node = "host"
module = "a.wasm"
capabilities = ["call"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/a"
  public = true
  [[service.call]]
  service = "pay-x"
  endpoint = "go"
  channel = "rest"

[[service]]
name = "pay-x"
context = "pay"
node = "host"
module = "b.wasm"
capabilities = ["call"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/b"
  [[service.call]]
  service = "evil\"] --> pwned[\"owned\n|x|"
  endpoint = "go"
  channel = "r|\"]e\nst"

[[service]]
name = "evil\"] --> pwned[\"owned\n|x|"
context = "pay"
node = "host"
module = "c.wasm"
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/c"
"#;

fn scenario() -> Scenario {
    let parsed = crate::parse("graph.toml", SCENARIO);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.scenario.expect("parses")
}

#[test]
fn mermaid_ids_are_unique_and_labels_cannot_inject() {
    let s = scenario();
    let m = ServiceGraph::new(&s).to_mermaid(&s);
    // pay_x and pay-x are two nodes, with an edge between them.
    assert!(m.contains("    svc0[\"pay_x v1.0.0\"]\n"), "{m}");
    assert!(m.contains("    svc1[\"pay-x v1.0.0\"]\n"), "{m}");
    assert!(m.contains("  svc0 -->|\"go rest\"| svc1\n"), "{m}");
    assert!(m.contains("  svc1 -->|\"go r#124;#34;#93;e\\nst\"| svc2\n"), "{m}");
    // The hostile name is one escaped label; no node `pwned` and no extra edge appear.
    assert!(
        m.contains("    svc2[\"evil#34;#93; --#62; pwned#91;#34;owned\\n#124;x#124; v1.0.0\"]\n"),
        "{m}"
    );
    assert!(!m.contains("pwned[") && !m.contains("--> pwned"), "{m}");
    // Exactly the edges of the design: gateway → pay_x, pay_x → pay-x, pay-x → evil.
    assert_eq!(m.matches("-->").count(), 3, "{m}");
    // Every line is one statement: a quote count per line that is even, no raw line break
    // inside a label (the hostile `\n` is shown escaped).
    for line in m.lines() {
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
    }
}

#[test]
fn dot_quotes_every_name() {
    let s = scenario();
    let d = ServiceGraph::new(&s).to_dot(&s);
    assert!(d.contains("\"pay_x\" -> \"pay-x\" [label=\"go (rest)\"]"), "{d}");
    assert!(
        d.contains("\"pay-x\" -> \"evil\\\"] --> pwned[\\\"owned\\\\n|x|\" [label=\"go (r|\\\"]e\\\\nst)\"]"),
        "{d}"
    );
}
