//! Parser tests: every problem reported at once, with line, column, field and hint; defaults;
//! no panic on any input.

use proptest::prelude::*;

use super::*;
use crate::diagnostic::Diagnostic;

const MINIMAL: &str = r#"
[system]
name = "mini"

[[context]]
name = "sales"

[[node]]
name = "cloud"
tier = "cloud"

[gateway]
node = "cloud"

[[store]]
name = "orders-db"
kind = "kv"
nodes = ["cloud"]

[[channel]]
name = "rest"
kind = "rest"

[[service]]
name = "orders"
context = "sales"
node = "cloud"
module = "orders.wasm"
owns = ["orders-db"]
capabilities = ["kv", "log"]

  [[service.endpoint]]
  name = "create_order"
  method = "POST"
  path = "/orders"
  public = true
  idempotent = true
  idempotency_key = "key"
  request = { key = "string", qty = "integer", "note?" = "string", lines = { sku = "string" } }
  response = { order_id = "string" }

[workload]
duration_s = 10
arrival = { kind = "poisson", rate_rps = 50 }

  [[workload.mix]]
  service = "orders"
  endpoint = "create_order"
  body = { key = "${key}", qty = "${int 1 3}" }
"#;

fn errors(text: &str) -> Vec<Diagnostic> {
    parse("t.toml", text).diagnostics.into_iter().filter(Diagnostic::is_error).collect()
}

#[test]
fn minimal_scenario_parses_with_defaults() {
    let parsed = parse("t.toml", MINIMAL);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let svc = s.service("orders").expect("orders");
    assert_eq!(svc.replicas, 1);
    assert_eq!(svc.instance_policy, InstancePolicy::Pooled);
    assert_eq!(svc.version, semver::Version::new(1, 0, 0));
    assert_eq!(s.fuel_budget(svc), Quality::default().fuel_budget);
    let ep = svc.endpoint("create_order").expect("endpoint");
    assert_eq!(ep.version, svc.version);
    assert!(ep.request.fields["key"].required);
    assert!(!ep.request.fields["note"].required);
    assert!(matches!(ep.request.fields["lines"].ty, crate::contract::FieldType::Object(_)));
    let store = s.store("orders-db").expect("store");
    assert_eq!(
        (store.replicas, store.consistency, store.conflict),
        (1, Consistency::Strong, ConflictPolicy::LwwVersion)
    );
    assert_eq!(s.channel("rest").map(|c| c.delivery), Some(Delivery::AtMostOnce));
}

#[test]
fn all_problems_are_reported_together_with_positions() {
    let text = MINIMAL
        .replace("name = \"mini\"", "name = \"mini\"\ncolour = \"red\"")
        .replace("tier = \"cloud\"", "tier = \"clod\"")
        .replace("owns = [\"orders-db\"]", "owns = [\"order-db\"]")
        .replace("qty = \"integer\"", "qty = \"int\"");
    let errs = errors(&text);
    let codes: Vec<&str> = errs.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        ["parse.unknown-field", "parse.value", "parse.unknown-reference", "parse.contract"],
        "{errs:#?}"
    );
    let colour = &errs[0];
    let loc = colour.location.as_ref().expect("located");
    assert_eq!((loc.file.as_str(), loc.line, loc.column), ("t.toml", 4, 1));
    assert_eq!(colour.field.as_deref(), Some("system.colour"));
    assert_eq!(errs[1].hint.as_deref(), Some("did you mean `cloud`?"));
    assert_eq!(errs[2].hint.as_deref(), Some("did you mean `orders-db`?"));
    assert!(errs[3].message.contains("unknown field type `int`"), "{}", errs[3].message);
}

#[test]
fn dangling_references_and_duplicates_are_errors() {
    let text = MINIMAL
        .replace("context = \"sales\"", "context = \"billing\"")
        .replace(
            "[[channel]]",
            "[[store]]\nname = \"orders-db\"\nkind = \"kv\"\nnodes = [\"cloud\"]\n\n[[channel]]",
        )
        .replace("endpoint = \"create_order\"\n  body", "endpoint = \"create\"\n  body");
    let errs = errors(&text);
    let msgs: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("unknown bounded context `billing`")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("duplicate store name `orders-db`")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("unknown endpoint of `orders` `create`")), "{msgs:?}");
}

/// `gateway` is the API gateway's name in authorization `from` lists, mTLS and the coupling
/// graph: a service of that name would be taken for it, so it is refused where it is named.
#[test]
fn a_service_cannot_take_the_gateway_s_name() {
    let named = |name: &str| {
        MINIMAL
            .replace("name = \"orders\"", &format!("name = \"{name}\""))
            .replace("service = \"orders\"", &format!("service = \"{name}\""))
    };
    assert_eq!(errors(&named("api-gateway")), []);
    let errs = errors(&named("gateway"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].code, "parse.reserved-name");
    assert_eq!(errs[0].field.as_deref(), Some("service.name"));
    assert_eq!(errs[0].location.as_ref().map(|l| l.line), Some(24), "{errs:?}");
}

#[test]
fn out_of_range_and_wrong_types_name_the_field() {
    let text = MINIMAL
        .replace("duration_s = 10", "duration_s = -1")
        .replace("rate_rps = 50", "rate_rps = \"fast\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].field.as_deref(), Some("workload.duration_s"));
    assert!(errs[0].message.contains("out of range"));
    assert_eq!(errs[1].field.as_deref(), Some("workload.arrival.rate_rps"));
    assert!(errs[1].message.contains("must be a number, found a string"));
}

#[test]
fn semantic_rules_of_the_format_are_enforced() {
    // A mix entry must reach a public endpoint; an idempotency key must be a required request
    // field; a sync channel has no broker; a bad generator is caught before any run.
    let text = MINIMAL
        .replace("public = true\n", "")
        .replace("idempotency_key = \"key\"", "idempotency_key = \"note\"")
        .replace("kind = \"rest\"", "kind = \"rest\"\nbroker = \"orders-db\"");
    let msgs: Vec<String> = errors(&text).into_iter().map(|d| d.message).collect();
    assert!(msgs.iter().any(|m| m.contains("is not `public = true`")), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m.contains("idempotency key `note` must be a required field")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("synchronous channel has no broker")), "{msgs:?}");
    let bad_generator = errors(&MINIMAL.replace("${int 1 3}", "${int 3 1}"));
    assert_eq!(bad_generator.len(), 1, "{bad_generator:#?}");
    assert_eq!(bad_generator[0].field.as_deref(), Some("workload.mix[0].body.qty"));
    assert!(bad_generator[0].message.contains("3 > 1"));
}

#[test]
fn syntax_errors_are_located() {
    let errs = errors("[system]\nname = \"x\"\nbroken = [1, 2\n");
    assert!(!errs.is_empty());
    assert!(errs.iter().all(|d| d.code == "parse.syntax"));
    assert!(errs[0].location.as_ref().is_some_and(|l| l.line >= 3), "{errs:#?}");
}

#[test]
fn shipped_scenarios_parse_cleanly() {
    for (name, text) in [
        ("shop.toml", include_str!("../../../scenarios/shop/shop.toml")),
        ("edge-iot.toml", include_str!("../../../scenarios/edge-iot/edge-iot.toml")),
        // Its temporal property names an endpoint only a journey requests: no warning.
        ("rides.toml", include_str!("../../../scenarios/rides/rides.toml")),
        (
            "flawed/rides-double-assignment.toml",
            include_str!("../../../scenarios/flawed/rides-double-assignment.toml"),
        ),
        (
            "fixed/rides-double-assignment.toml",
            include_str!("../../../scenarios/fixed/rides-double-assignment.toml"),
        ),
    ] {
        let parsed = parse(name, text);
        assert!(parsed.diagnostics.is_empty(), "{name}: {:#?}", parsed.diagnostics);
    }
}

/// Deletes, duplicates or rewrites one line of a valid scenario.
fn mutate(text: &str, line: usize, how: u8, junk: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return junk.to_owned();
    }
    let i = line % lines.len();
    match how % 5 {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => lines[i] = junk.to_owned(),
        3 => {
            let cut = lines[i].len() / 2;
            let cut = (0..=cut).rev().find(|c| lines[i].is_char_boundary(*c)).unwrap_or(0);
            lines[i].truncate(cut);
        }
        _ => lines[i] = lines[i].replace('"', "").replace('1', "-1"),
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse("fuzz.toml", &text);
    }

    #[test]
    fn toml_shaped_text_never_panics(text in "(\\[\\[?[a-z.]{1,12}\\]\\]?\n|[a-z_]{1,10} = (\"[a-z${} 0-9-]{0,12}\"|-?[0-9]{1,4}|true|\\[\"[a-z]{1,5}\"\\]|\\{ [a-z]{1,5} = \"[a-z]{1,7}\" \\})\n){0,30}") {
        let _ = parse("fuzz.toml", &text);
    }

    #[test]
    fn mutated_valid_scenarios_never_panic(edits in prop::collection::vec((0usize..400, any::<u8>(), "[a-z_ =\"\\[\\]{}.0-9-]{0,30}"), 1..4)) {
        let mut text = include_str!("../../../scenarios/shop/shop.toml").to_owned();
        for (line, how, junk) in &edits {
            text = mutate(&text, *line, *how, junk);
        }
        let parsed = parse("shop.toml", &text);
        // Every error has a place.
        for d in &parsed.diagnostics {
            prop_assert!(d.location.is_some(), "unlocated: {d}");
        }
    }
}

/// The scenario's own properties share one namespace of verdict ids with the built-in ones.
#[test]
fn user_property_names_are_unique_across_kinds_and_differ_from_built_in_ones() {
    let base = r#"
[system]
name = "names"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[store]]
name = "db"
kind = "kv"
nodes = ["n"]
"#;
    let invariant = "[[invariant]]\nname = \"same\"\nexpr = \"true\"\n";
    let property = |name: &str| format!("[[property]]\nname = \"{name}\"\nmodule = \"p.wat\"\n");
    let errors = |text: &str| -> Vec<String> {
        parse("names.toml", text)
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| {
                let (line, column) = d.location.as_ref().map_or((0, 0), |l| (l.line, l.column));
                format!("{line}:{column} {}", d.message)
            })
            .collect()
    };
    let ok = format!("{base}{invariant}{}", property("other"));
    assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
    let clash = format!("{base}{invariant}{}", property("same"));
    let e = errors(&clash);
    assert!(
        e.iter().any(|m| m.contains("property `same` has the name of an existing invariant")),
        "{e:?}"
    );
    assert!(e.iter().any(|m| m.starts_with("16:")), "located at the [[property]] table: {e:?}");
    let builtin = format!("{base}{}", property("no-loss"));
    let e = errors(&builtin);
    assert!(e.iter().any(|m| m.contains("`no-loss` is the id of a built-in property")), "{e:?}");
}

/// MINIMAL with `[service.autoscale]` holding `body` under the `orders` service.
fn autoscaled(body: &str) -> String {
    MINIMAL.replace(
        "capabilities = [\"kv\", \"log\"]\n",
        &format!("capabilities = [\"kv\", \"log\"]\n\n  [service.autoscale]\n{body}\n"),
    )
}

#[test]
fn autoscale_reads_with_the_hpa_defaults() {
    let parsed = parse(
        "t.toml",
        &autoscaled("  max_replicas = 5\n  metric = \"concurrency\"\n  target = 4"),
    );
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let a = s.service("orders").and_then(|x| x.autoscale.clone()).expect("autoscale");
    assert_eq!(
        (a.min_replicas, a.max_replicas, a.metric, a.target),
        (1, 5, ScaleMetric::Concurrency, 4.0)
    );
    assert_eq!((a.interval_s, a.tolerance), (15.0, 0.1));
    assert_eq!((a.scale_up_stabilisation_s, a.scale_down_stabilisation_s), (0.0, 300.0));
    assert_eq!((a.scale_up_percent, a.scale_up_pods, a.scale_up_period_s), (100.0, 4, 15.0));
    assert_eq!((a.scale_down_percent, a.scale_down_period_s), (100.0, 15.0));
    assert_eq!((a.startup_ms, a.cpu_request), (0.0, None));
}

#[test]
fn a_service_without_autoscale_keeps_its_canonical_form() {
    let s = parse("t.toml", MINIMAL).ok().expect("valid");
    let json = serde_json::to_string(&s.services[0]).expect("serialises");
    assert!(!json.contains("autoscale"), "{json}");
}

#[test]
fn autoscale_mistakes_are_located_errors() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "  max_replicas = 5\n  metric = \"cpu\"\n  target = 1",
            "service[0].autoscale.metric",
            "is not one of",
        ),
        (
            "  metric = \"concurrency\"\n  target = 1",
            "service[0].autoscale.max_replicas",
            "missing required field",
        ),
        (
            "  min_replicas = 4\n  max_replicas = 2\n  metric = \"concurrency\"\n  target = 1",
            "service[0].autoscale.max_replicas",
            "exceeds",
        ),
        (
            "  min_replicas = 2\n  max_replicas = 4\n  metric = \"concurrency\"\n  target = 1",
            "service[0].autoscale.max_replicas",
            "outside",
        ),
        (
            "  max_replicas = 4\n  metric = \"utilisation\"\n  target = 60",
            "service[0].autoscale.metric",
            "cpu_request",
        ),
        (
            "  max_replicas = 4\n  metric = \"queue\"\n  target = 10",
            "service[0].autoscale.metric",
            "subscribe",
        ),
        (
            "  max_replicas = 4\n  metric = \"concurrency\"\n  target = 1\n  min_replica = 1",
            "service[0].autoscale.min_replica",
            "unknown field",
        ),
    ];
    for (body, field, says) in cases {
        let errs = errors(&autoscaled(body));
        assert_eq!(errs.len(), 1, "{body}: {errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some(field), "{body}");
        assert!(errs[0].message.contains(says), "{body}: {}", errs[0].message);
        let loc = errs[0].location.as_ref().expect("located");
        assert!(loc.line > 30, "{body}: at line {}", loc.line);
    }
}

#[test]
fn scale_to_zero_reads_with_knative_defaults() {
    let body = "  min_replicas = 0\n  max_replicas = 4\n  metric = \"concurrency\"\n  target = 1";
    let parsed = parse("t.toml", &autoscaled(body));
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let a = s.service("orders").and_then(|x| x.autoscale.clone()).expect("autoscale");
    let zero = a.scale_to_zero.expect("min_replicas = 0 scales to zero");
    // Knative's scale-to-zero-grace-period (30 s) and revision timeout (300 s).
    assert_eq!(
        (zero.grace_s, zero.activator_capacity, zero.activator_timeout_s),
        (30.0, 100, 300.0)
    );
    assert_eq!(a.cold_start, ColdStart::Declared);
    let body = format!(
        "{body}\n  scale_to_zero_grace_s = 5\n  activator_capacity = 7\n  activator_timeout_s = 2\n  cold_start = \"module\""
    );
    let s = parse("t.toml", &autoscaled(&body)).ok().expect("valid");
    let a = s.service("orders").and_then(|x| x.autoscale.clone()).expect("autoscale");
    let zero = a.scale_to_zero.expect("scales to zero");
    assert_eq!((zero.grace_s, zero.activator_capacity, zero.activator_timeout_s), (5.0, 7, 2.0));
    assert_eq!(a.cold_start, ColdStart::Module);
    // A service that does not scale to zero keeps its canonical form (and its hash).
    let s = parse(
        "t.toml",
        &autoscaled("  max_replicas = 5\n  metric = \"concurrency\"\n  target = 4"),
    )
    .ok()
    .expect("valid");
    let json = serde_json::to_string(&s.services[0]).expect("serialises");
    assert!(!json.contains("scale_to_zero") && !json.contains("cold_start"), "{json}");
}

#[test]
fn scale_to_zero_mistakes_are_located_errors() {
    let cases: [(&str, &str, &str); 3] = [
        (
            "  max_replicas = 4\n  metric = \"concurrency\"\n  target = 1\n  scale_to_zero_grace_s = 10",
            "service[0].autoscale.scale_to_zero_grace_s",
            "only with `min_replicas` = 0",
        ),
        (
            "  min_replicas = 0\n  max_replicas = 4\n  metric = \"utilisation\"\n  target = 60\n  cpu_request = 1",
            "service[0].autoscale.metric",
            "no utilisation to measure",
        ),
        (
            "  max_replicas = 4\n  metric = \"concurrency\"\n  target = 1\n  cold_start = \"warm\"",
            "service[0].autoscale.cold_start",
            "is not one of",
        ),
    ];
    for (body, field, says) in cases {
        let errs = errors(&autoscaled(body));
        assert_eq!(errs.len(), 1, "{body}: {errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some(field), "{body}");
        assert!(errs[0].message.contains(says), "{body}: {}", errs[0].message);
    }
}

#[test]
fn autoscale_policies_read_reactive_by_default_holt_winters_or_a_module() {
    let base = "  max_replicas = 5\n  metric = \"concurrency\"\n  target = 4\n  startup_ms = 500";
    let read = |extra: &str| {
        let parsed = parse("t.toml", &autoscaled(&format!("{base}\n{extra}")));
        assert!(parsed.diagnostics.is_empty(), "{extra}: {:#?}", parsed.diagnostics);
        let s = parsed.ok().expect("valid");
        s.service("orders").and_then(|x| x.autoscale.clone()).expect("autoscale").policy
    };
    assert_eq!(read(""), ScalePolicy::Reactive);
    assert_eq!(read("  policy = \"reactive\""), ScalePolicy::Reactive);
    assert_eq!(read("  policy = \"holt-winters\""), ScalePolicy::HoltWinters(Forecast::DEFAULT));
    assert_eq!(
        read(
            "  policy = { kind = \"holt-winters\", alpha = 0.8, beta = 0, horizon_s = 9, window = 10 }"
        ),
        ScalePolicy::HoltWinters(Forecast {
            alpha: 0.8,
            beta: 0.0,
            horizon_s: Some(9.0),
            window: 10
        })
    );
    let ScalePolicy::Module(m) =
        read("  policy = { module = \"p.wasm\", params = { alpha = 0.5, k = 2 } }")
    else {
        panic!("a module policy")
    };
    assert_eq!(m.module.name, "p.wasm");
    assert_eq!(
        m.params.into_iter().collect::<Vec<_>>(),
        [("alpha".into(), 0.5), ("k".into(), 2.0)]
    );
    assert_eq!((m.horizon_s, m.window), (None, 60));
    // The reactive policy keeps the canonical form (and the hash) of scenarios without one.
    let s = parse("t.toml", &autoscaled(base)).ok().expect("valid");
    let json = serde_json::to_string(&s.services[0]).expect("serialises");
    assert!(!json.contains("\"policy\""), "{json}");
}

#[test]
fn autoscale_policy_mistakes_are_located_errors() {
    let base = "  max_replicas = 5\n  metric = \"concurrency\"\n  target = 4\n";
    let cases: [(&str, &str, &str); 8] = [
        ("  policy = \"predictive\"", "service[0].autoscale.policy", "is not one of"),
        (
            "  policy = 3",
            "service[0].autoscale.policy",
            "must be `reactive`, `holt-winters`, or a table",
        ),
        (
            "  policy = { alpha = 0.5 }",
            "service[0].autoscale.policy.kind",
            "missing required field",
        ),
        ("  policy = { kind = \"arima\" }", "service[0].autoscale.policy.kind", "is not one of"),
        (
            "  policy = { kind = \"holt-winters\", alpha = 2 }",
            "service[0].autoscale.policy.alpha",
            "out of range",
        ),
        (
            "  policy = { kind = \"holt-winters\", alfa = 0.2 }",
            "service[0].autoscale.policy.alfa",
            "did you mean `alpha`?",
        ),
        (
            "  policy = { module = \"p.wasm\", params = { alpha = \"high\" } }",
            "service[0].autoscale.policy.params.alpha",
            "must be a number",
        ),
        (
            "  policy = { module = \"p.wasm\", kind = \"holt-winters\" }",
            "service[0].autoscale.policy.kind",
            "not both",
        ),
    ];
    for (body, field, says) in cases {
        let errs = errors(&autoscaled(&format!("{base}{body}")));
        assert_eq!(errs.len(), 1, "{body}: {errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some(field), "{body}");
        let text = format!("{} {}", errs[0].message, errs[0].hint.as_deref().unwrap_or(""));
        assert!(text.contains(says), "{body}: {text}");
        let loc = errs[0].location.as_ref().expect("located");
        assert!(loc.line > 30, "{body}: at line {}", loc.line);
    }
}
