//! What-if edits on the real text of the shop: each edit parses back without errors to the
//! scenario with just the new value, changes only its own lines, and keeps every comment; names
//! and indices that do not exist are errors.

use proptest::prelude::*;
use serde_json::{Value as J, json};

use super::*;
use crate::Scenario;

const SHOP: &str = include_str!("../../../scenarios/shop/shop.toml");
const SECTION: &str = "# --- quality targets (Q) ----";

const OTHERS: [&str; 5] = [
    include_str!("../../../scenarios/flawed/dynamic/hot-path-slo.toml"),
    include_str!("../../../scenarios/flawed/dynamic/payment-redelivery.toml"),
    include_str!("../../../scenarios/flawed/dynamic/poison-input.toml"),
    include_str!("../../../scenarios/flawed/dynamic/replication-order.toml"),
    include_str!("../../../scenarios/flawed/dynamic/undeclared-call.toml"),
];

fn parse_ok(text: &str) -> Scenario {
    let parsed = crate::parse("shop.toml", text);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "the edited text has errors: {errors:#?}\n{text}");
    parsed.scenario.expect("a scenario")
}

fn json_of(s: &Scenario) -> J {
    serde_json::to_value(s).expect("a scenario serialises")
}

fn shop_json() -> J {
    json_of(&parse_ok(SHOP))
}

/// The lines that differ, `(removed, added)`, once the common first and last lines are cut.
fn hunk<'a>(old: &'a str, new: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail =
        a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    (a[head..a.len() - tail].to_vec(), b[head..b.len() - tail].to_vec())
}

/// Applies `edits` to the shop and asserts: exactly the lines `removed` became `added`, every
/// comment is still there, and the parsed scenario is the shop's with `change` made to it.
fn check(edits: &[Edit], removed: &[&str], added: &[&str], change: impl FnOnce(&mut J)) -> String {
    let out = apply(SHOP, edits).expect("the edits apply");
    assert_eq!(hunk(SHOP, &out), (removed.to_vec(), added.to_vec()), "{out}");
    for comment in SHOP.lines().filter(|l| l.trim_start().starts_with('#')) {
        assert!(out.contains(comment), "lost the comment {comment:?}");
    }
    assert!(out.contains(SECTION));
    let mut expected = shop_json();
    change(&mut expected);
    assert_eq!(json_of(&parse_ok(&out)), expected);
    out
}

fn service_index(name: &str) -> usize {
    parse_ok(SHOP).services.iter().position(|s| s.name == name).expect("a shop service")
}

fn store_index(name: &str) -> usize {
    parse_ok(SHOP).stores.iter().position(|s| s.name == name).expect("a shop store")
}

fn n(name: &str) -> NameRef {
    NameRef::new(name)
}

#[test]
fn replicas_change_in_place_or_are_added_after_the_last_key() {
    let orders = service_index("orders");
    check(
        &[Edit::Replicas { service: "orders".into(), replicas: 4 }],
        &["replicas = 3"],
        &["replicas = 4"],
        |j| j["services"][orders]["replicas"] = json!(4),
    );
    let shipping = service_index("shipping");
    let out = check(
        &[Edit::Replicas { service: "shipping".into(), replicas: 2 }],
        &[],
        &["replicas = 2"],
        |j| j["services"][shipping]["replicas"] = json!(2),
    );
    assert!(
        out.contains("publishes = [\"shipment-events\"]\nreplicas = 2\n\n  [[service.endpoint]]")
    );
}

#[test]
fn concurrency_keeps_the_comment_above_it() {
    let orders = service_index("orders");
    let out = check(
        &[Edit::Concurrency { service: "orders".into(), concurrency: 8 }],
        &["concurrency = 32"],
        &["concurrency = 8"],
        |j| j["services"][orders]["concurrency"] = json!(8),
    );
    assert!(out.contains(
        "# Mostly waiting on downstream calls: many requests in flight per replica.\nconcurrency = 8\n"
    ));
}

#[test]
fn placement_moves_a_service_to_another_node() {
    let catalog = service_index("catalog");
    check(
        &[Edit::Placement { service: "catalog".into(), node: "cloud-eu".into() }],
        &["node = \"edge-paris\""],
        &["node = \"cloud-eu\""],
        |j| j["services"][catalog]["node"] = json!("cloud-eu"),
    );
}

#[test]
fn store_replicas_change_in_place_or_are_added() {
    let orders_db = store_index("orders-db");
    check(
        &[Edit::StoreReplicas { store: "orders-db".into(), replicas: 5 }],
        &["replicas = 3"],
        &["replicas = 5"],
        |j| j["stores"][orders_db]["replicas"] = json!(5),
    );
    let notifications_db = store_index("notifications-db");
    let out = check(
        &[Edit::StoreReplicas { store: "notifications-db".into(), replicas: 2 }],
        &[],
        &["replicas = 2"],
        |j| j["stores"][notifications_db]["replicas"] = json!(2),
    );
    assert!(out.contains(
        "name = \"notifications-db\"\nkind = \"kv\"\nnodes = [\"cloud-eu\"]\nreplicas = 2\n"
    ));
}

#[test]
fn quality_thresholds_are_set_floats_and_whole_numbers_alike() {
    check(
        &[Edit::Quality { field: QualityField::CouplingMax, value: 0.45 }],
        &["coupling_max = 0.5"],
        &["coupling_max = 0.45"],
        |j| j["quality"]["coupling_max"] = json!(0.45),
    );
    check(
        &[Edit::Quality { field: QualityField::CohesionMin, value: 0.0 }],
        &["cohesion_min = 0.3"],
        &["cohesion_min = 0"],
        |j| j["quality"]["cohesion_min"] = json!(0.0),
    );
    // Not in the shop: added after the last `[quality]` key, before its SLO tables.
    let out = check(
        &[Edit::Quality { field: QualityField::ConvergenceMs, value: 2500.0 }],
        &[],
        &["convergence_ms = 2500"],
        |j| j["quality"]["convergence_ms"] = json!(2500.0),
    );
    assert!(out.contains("memory_max_kib = 1024\nconvergence_ms = 2500\n\n  [[quality.slo]]"));
}

/// The shop without its `[quality]` table (keys and SLOs), from its section comment on.
fn shop_without_quality() -> String {
    let start = SHOP.find(SECTION).expect("the section comment");
    let end = SHOP.find("# --- workload and faults").expect("the next section");
    format!("{}{}", &SHOP[..start], &SHOP[end..])
}

#[test]
fn a_missing_quality_table_is_created_at_the_end() {
    let text = shop_without_quality();
    let out = apply(&text, &[Edit::Quality { field: QualityField::CohesionMin, value: 0.1 }])
        .expect("applies");
    assert_eq!(out, format!("{text}\n[quality]\ncohesion_min = 0.1\n"));
    let q = parse_ok(&out).quality;
    assert_eq!((q.cohesion_min, q.coupling_max, q.slos.len()), (0.1, 0.5, 0));
    let slo = Edit::Slo { index: 0, field: SloField::P99Ms, value: Some(1.0) };
    assert_eq!(apply(&text, &[slo]), Err(EditError::NoSlo { index: 0, count: 0 }));
}

#[test]
fn a_quality_made_only_of_slos_gets_its_header_below_their_comment() {
    let keys = "[quality]\ncoupling_max = 0.5\ncohesion_min = 0.3\nfuel_budget = 20_000_000\nmemory_max_kib = 1024\n";
    assert!(SHOP.contains(keys));
    let text = SHOP.replace(keys, "");
    let out = apply(&text, &[Edit::Quality { field: QualityField::ConvergenceMs, value: 100.0 }])
        .expect("applies");
    let (removed, added) = hunk(&text, &out);
    assert!(removed.is_empty());
    assert_eq!(added, ["[quality]", "convergence_ms = 100", ""]);
    let expected_region = "\n\n[quality]\nconvergence_ms = 100\n\n  [[quality.slo]]";
    let at = out.find(SECTION).expect("the section comment");
    assert!(out[at..].contains(expected_region), "{out}");
    let q = parse_ok(&out).quality;
    assert_eq!((q.convergence_ms, q.slos.len()), (100.0, 2));
}

#[test]
fn slo_targets_are_set_added_and_removed() {
    let out = check(
        &[Edit::Slo { index: 0, field: SloField::P99Ms, value: Some(300.0) }],
        &["  p99_ms = 400"],
        &["  p99_ms = 300"],
        |j| j["quality"]["slos"][0]["p99_ms"] = json!(300.0),
    );
    assert!(out.contains("latency spike on the edge↔cloud link.\n  p99_ms = 300\n"));
    let out = check(
        &[Edit::Slo { index: 1, field: SloField::ThroughputMinRps, value: Some(150.5) }],
        &[],
        &["  throughput_min_rps = 150.5"],
        |j| j["quality"]["slos"][1]["throughput_min_rps"] = json!(150.5),
    );
    assert!(out.contains("  availability = 0.999\n  throughput_min_rps = 150.5\n"));
    check(
        &[Edit::Slo { index: 1, field: SloField::P50Ms, value: None }],
        &["  p50_ms = 5"],
        &[],
        |j| j["quality"]["slos"][1]["p50_ms"] = J::Null,
    );
    check(
        &[Edit::Slo { index: 0, field: SloField::Availability, value: Some(0.9) }],
        &["  availability = 0.995"],
        &["  availability = 0.9"],
        |j| j["quality"]["slos"][0]["availability"] = json!(0.9),
    );
    // Removing a key absent already changes nothing.
    let same =
        apply(SHOP, &[Edit::Slo { index: 1, field: SloField::ThroughputMinRps, value: None }]);
    assert_eq!(same.as_deref(), Ok(SHOP));
}

#[test]
fn removing_an_slo_key_takes_the_comment_written_above_it() {
    let out = apply(SHOP, &[Edit::Slo { index: 0, field: SloField::P99Ms, value: None }])
        .expect("applies");
    let (removed, added) = hunk(SHOP, &out);
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(removed[0].starts_with("  # The tail must absorb") && removed[2] == "  p99_ms = 400");
    assert!(added.is_empty());
    assert_eq!(parse_ok(&out).quality.slos[0].p99_ms, None);
}

#[test]
fn the_arrival_rate_is_set_for_the_kinds_that_have_one() {
    check(
        &[Edit::ArrivalRate { rate_rps: 250.5 }],
        &["arrival = { kind = \"poisson\", rate_rps = 200 }"],
        &["arrival = { kind = \"poisson\", rate_rps = 250.5 }"],
        |j| j["workload"]["arrival"]["rate_rps"] = json!(250.5),
    );
    let line = "arrival = { kind = \"poisson\", rate_rps = 200 }";
    for (arrival, rate) in [
        ("arrival = { kind = \"constant\", rate_rps = 200 }", 300.0),
        ("arrival = {kind=\"on-off\",rate_rps=200,on_s=1,off_s=2}", 0.25),
        ("arrival.kind = \"poisson\"\narrival.rate_rps = 10", 20.0),
        ("", 20.0),
    ] {
        let text = if arrival.is_empty() {
            // `[workload.arrival]`, a table of its own after the mix
            let table = "[workload.arrival]\nkind = \"poisson\"\nrate_rps = 10\n\n[[fault]]";
            SHOP.replace(line, "").replacen("[[fault]]", table, 1)
        } else {
            SHOP.replace(line, arrival)
        };
        let out = apply(&text, &[Edit::ArrivalRate { rate_rps: rate }]).expect("applies");
        let (removed, added) = hunk(&text, &out);
        assert_eq!((removed.len(), added.len()), (1, 1), "{arrival}: {removed:?} → {added:?}");
        let w = parse_ok(&out).workload.expect("a workload");
        let got = match w.arrival {
            crate::scenario::Arrival::Poisson { rate_rps }
            | crate::scenario::Arrival::Constant { rate_rps }
            | crate::scenario::Arrival::OnOff { rate_rps, .. } => rate_rps,
            other => panic!("unexpected arrival {other:?}"),
        };
        assert_eq!(got, rate, "{arrival}");
    }
    assert!(
        apply(
            &SHOP.replace(line, "arrival = {kind=\"on-off\",rate_rps=200,on_s=1,off_s=2}"),
            &[Edit::ArrivalRate { rate_rps: 7.0 }]
        )
        .expect("applies")
        .contains("arrival = {kind=\"on-off\",rate_rps=7,on_s=1,off_s=2}")
    );
    // No `arrival`: the default Poisson, now with the rate.
    let text = SHOP.replace(line, "");
    let out = apply(&text, &[Edit::ArrivalRate { rate_rps: 50.0 }]).expect("applies");
    assert_eq!(hunk(&text, &out).1, ["arrival = { kind = \"poisson\", rate_rps = 50 }"]);
    let w = parse_ok(&out).workload.expect("a workload");
    assert_eq!(w.arrival, crate::scenario::Arrival::Poisson { rate_rps: 50.0 });
}

#[test]
fn the_arrival_rate_is_refused_for_kinds_without_one() {
    let line = "arrival = { kind = \"poisson\", rate_rps = 200 }";
    let closed = SHOP.replace(line, "arrival = { kind = \"closed\", users = 10 }");
    assert_eq!(
        apply(&closed, &[Edit::ArrivalRate { rate_rps: 5.0 }]),
        Err(EditError::NoRate("closed".into()))
    );
    let schedule = SHOP
        .replace(line, "arrival = { kind = \"schedule\", steps = [{ at_s = 0, rate_rps = 5 }] }");
    assert_eq!(
        apply(&schedule, &[Edit::ArrivalRate { rate_rps: 5.0 }]),
        Err(EditError::NoRate("schedule".into()))
    );
    assert_eq!(
        apply("[system]\nname = \"x\"\n", &[Edit::ArrivalRate { rate_rps: 5.0 }]),
        Err(EditError::NoWorkload)
    );
}

/// A fault of every kind, and every kind of target, on the shop's elements.
fn every_fault() -> Vec<FaultSpec> {
    let link = || FaultTarget::Link { between: [n("edge-paris"), n("cloud-eu")] };
    vec![
        FaultSpec {
            kind: FaultKind::Crash { restart_after_s: Some(2.5) },
            target: FaultTarget::Service { service: n("payments"), replica: Some(1) },
            at_s: 4.0,
            duration_s: None,
        },
        FaultSpec {
            kind: FaultKind::Crash { restart_after_s: None },
            target: FaultTarget::Service { service: n("orders"), replica: None },
            at_s: 0.0,
            duration_s: None,
        },
        FaultSpec {
            kind: FaultKind::Crash { restart_after_s: Some(1.0) },
            target: FaultTarget::Node { node: n("edge-paris") },
            at_s: 12.25,
            duration_s: None,
        },
        FaultSpec { kind: FaultKind::Partition, target: link(), at_s: 5.0, duration_s: Some(1.5) },
        FaultSpec {
            kind: FaultKind::LatencySpike { extra_ms: 12.5 },
            target: link(),
            at_s: 1.0,
            duration_s: Some(2.0),
        },
        FaultSpec {
            kind: FaultKind::Loss { rate: 0.05 },
            target: link(),
            at_s: 3.0,
            duration_s: Some(4.0),
        },
        FaultSpec {
            kind: FaultKind::Duplication { rate: 0.3 },
            target: FaultTarget::Channel { channel: n("order-events") },
            at_s: 0.5,
            duration_s: Some(7.0),
        },
        FaultSpec {
            kind: FaultKind::Reorder { jitter_ms: 80.0 },
            target: FaultTarget::Channel { channel: n("shipment-events") },
            at_s: 2.0,
            duration_s: Some(3.0),
        },
        FaultSpec {
            kind: FaultKind::ReplicaLag { extra_ms: 250.0 },
            target: FaultTarget::Store { store: n("catalog-db") },
            at_s: 6.0,
            duration_s: Some(0.75),
        },
        FaultSpec {
            kind: FaultKind::ModuleSwap { module: n("modules/rust/orders.wasm") },
            target: FaultTarget::Service { service: n("orders"), replica: Some(2) },
            at_s: 15.0,
            duration_s: None,
        },
    ]
}

#[test]
fn an_added_fault_of_every_kind_parses_back_to_the_same_fault() {
    let faults = every_fault();
    for spec in &faults {
        spec.check().expect("a valid spec");
        let out = apply(SHOP, &[Edit::AddFault(spec.clone())]).expect("applies");
        // Appended after the last fault, which ends the shop: the rest is untouched.
        let added = out.strip_prefix(SHOP).expect("the shop's text is kept");
        assert!(added.starts_with("\n[[fault]]\nkind = \""), "{added}");
        let s = parse_ok(&out);
        assert_eq!(s.faults.len(), 3);
        assert_eq!(FaultSpec::from(&s.faults[2]), *spec, "{added}");
    }
    // All at once, in order.
    let edits: Vec<Edit> = faults.iter().cloned().map(Edit::AddFault).collect();
    let s = parse_ok(&apply(SHOP, &edits).expect("applies"));
    let got: Vec<FaultSpec> = s.faults[2..].iter().map(FaultSpec::from).collect();
    assert_eq!(got, faults);
}

#[test]
fn a_fault_is_added_to_a_file_without_faults() {
    let text = &SHOP[..SHOP.find("[[fault]]").expect("the shop has faults")];
    let faults = every_fault();
    let out = apply(text, &[Edit::AddFault(faults[3].clone()), Edit::AddFault(faults[0].clone())])
        .expect("applies");
    let added = out.strip_prefix(text).expect("the text is kept");
    assert!(added.starts_with("[[fault]]\nkind = \"partition\"\n"), "{added}");
    assert!(added.ends_with("restart_after_s = 2.5\n"), "{added}");
    let s = parse_ok(&out);
    let got: Vec<FaultSpec> = s.faults.iter().map(FaultSpec::from).collect();
    assert_eq!(got, [faults[3].clone(), faults[0].clone()]);
}

#[test]
fn a_fault_the_parser_would_refuse_is_refused() {
    let link = FaultTarget::Link { between: [n("edge-paris"), n("cloud-eu")] };
    let bad = [
        // wrong target for the kind
        FaultSpec {
            kind: FaultKind::Partition,
            target: FaultTarget::Service { service: n("orders"), replica: None },
            at_s: 1.0,
            duration_s: Some(1.0),
        },
        FaultSpec {
            kind: FaultKind::ModuleSwap { module: n("m.wasm") },
            target: FaultTarget::Node { node: n("cloud-eu") },
            at_s: 1.0,
            duration_s: None,
        },
        FaultSpec {
            kind: FaultKind::ReplicaLag { extra_ms: 1.0 },
            target: FaultTarget::Channel { channel: n("rest") },
            at_s: 1.0,
            duration_s: Some(1.0),
        },
        // an instantaneous fault with a duration, a lasting one without
        FaultSpec {
            kind: FaultKind::Crash { restart_after_s: None },
            target: FaultTarget::Node { node: n("cloud-eu") },
            at_s: 1.0,
            duration_s: Some(1.0),
        },
        FaultSpec {
            kind: FaultKind::Loss { rate: 0.1 },
            target: link,
            at_s: 1.0,
            duration_s: None,
        },
    ];
    for spec in bad {
        let err = apply(SHOP, &[Edit::AddFault(spec.clone())]).expect_err("refused");
        assert!(matches!(err, EditError::InvalidFault(_)), "{spec:?}: {err}");
    }
    let mut nan = every_fault()[4].clone();
    nan.at_s = f64::NAN;
    assert!(matches!(
        apply(SHOP, &[Edit::AddFault(nan)]),
        Err(EditError::NotFinite { field, .. }) if field == "fault.at_s"
    ));
}

#[test]
fn a_fault_is_removed_with_its_lines_only() {
    let crash = "[[fault]]\nkind = \"crash\"\nservice = \"payments\"\nreplica = 0\nat_s = 10\nrestart_after_s = 5\n\n";
    let out = apply(SHOP, &[Edit::RemoveFault { index: 0 }]).expect("applies");
    assert_eq!(out, SHOP.replacen(crash, "", 1));
    let mut expected = shop_json();
    expected["faults"].as_array_mut().expect("faults").remove(0);
    assert_eq!(json_of(&parse_ok(&out)), expected);

    let out = apply(SHOP, &[Edit::RemoveFault { index: 1 }, Edit::RemoveFault { index: 0 }])
        .expect("applies");
    assert!(out.ends_with("qty = 60 }\n"), "{out}");
    assert!(parse_ok(&out).faults.is_empty());
    assert!(out.contains(SECTION));

    assert_eq!(
        apply(SHOP, &[Edit::RemoveFault { index: 2 }]),
        Err(EditError::NoFault { index: 2, count: 2 })
    );
    assert_eq!(
        apply(&out, &[Edit::RemoveFault { index: 0 }]),
        Err(EditError::NoFault { index: 0, count: 0 })
    );
}

#[test]
fn unknown_names_and_indices_are_errors() {
    let nope = || "nope".to_owned();
    for (edit, err) in [
        (Edit::Replicas { service: nope(), replicas: 2 }, EditError::NoService(nope())),
        (Edit::Concurrency { service: nope(), concurrency: 2 }, EditError::NoService(nope())),
        (
            Edit::Placement { service: nope(), node: "cloud-eu".into() },
            EditError::NoService(nope()),
        ),
        // a store's name is not a service's, nor the other way round
        (
            Edit::Replicas { service: "orders-db".into(), replicas: 2 },
            EditError::NoService("orders-db".into()),
        ),
        (
            Edit::StoreReplicas { store: "orders".into(), replicas: 2 },
            EditError::NoStore("orders".into()),
        ),
        (
            Edit::Slo { index: 2, field: SloField::P50Ms, value: Some(1.0) },
            EditError::NoSlo { index: 2, count: 2 },
        ),
        (
            Edit::Slo { index: 7, field: SloField::P50Ms, value: None },
            EditError::NoSlo { index: 7, count: 2 },
        ),
        (Edit::RemoveFault { index: 9 }, EditError::NoFault { index: 9, count: 2 }),
    ] {
        assert_eq!(apply(SHOP, std::slice::from_ref(&edit)), Err(err), "{edit}");
    }
    // All or nothing: a bad edit after a good one fails the whole list.
    let good = Edit::Replicas { service: "orders".into(), replicas: 4 };
    let bad = Edit::Replicas { service: nope(), replicas: 4 };
    assert_eq!(apply(SHOP, &[good, bad]), Err(EditError::NoService(nope())));

    assert!(matches!(apply("[system\nname = 1", &[]), Err(EditError::InvalidToml(_))));
    assert!(matches!(
        apply(SHOP, &[Edit::Quality { field: QualityField::CouplingMax, value: f64::INFINITY }]),
        Err(EditError::NotFinite { .. })
    ));
    assert!(matches!(
        apply("service = 3\n", &[Edit::RemoveFault { index: 0 }]),
        Err(EditError::NoFault { .. })
    ));
    assert!(matches!(
        apply("fault = 3\n", &[Edit::RemoveFault { index: 0 }]),
        Err(EditError::Malformed { .. })
    ));
}

#[test]
fn edits_apply_in_order_and_undo_exactly() {
    let edits = [
        Edit::Replicas { service: "orders".into(), replicas: 4 },
        Edit::Replicas { service: "orders".into(), replicas: 5 },
    ];
    let s = parse_ok(&apply(SHOP, &edits).expect("applies"));
    assert_eq!(s.service("orders").expect("orders").replicas, 5);
    // Adding a fault then removing it gives the file back, byte for byte.
    let edits = [Edit::AddFault(every_fault()[6].clone()), Edit::RemoveFault { index: 2 }];
    assert_eq!(apply(SHOP, &edits).as_deref(), Ok(SHOP));
}

#[test]
fn untouched_text_is_kept_byte_for_byte() {
    assert_eq!(apply(SHOP, &[]).as_deref(), Ok(SHOP));
    // Setting values to what they are rewrites nothing.
    let same = [
        Edit::Replicas { service: "orders".into(), replicas: 3 },
        Edit::Placement { service: "catalog".into(), node: "edge-paris".into() },
        Edit::Quality { field: QualityField::CouplingMax, value: 0.5 },
        Edit::Slo { index: 0, field: SloField::P99Ms, value: Some(400.0) },
        Edit::ArrivalRate { rate_rps: 200.0 },
    ];
    assert_eq!(apply(SHOP, &same).as_deref(), Ok(SHOP));
    // toml_edit prints an unedited document as it read it, for every example with faults too.
    for text in OTHERS.into_iter().chain([SHOP]) {
        let doc: DocumentMut = text.parse().expect("valid TOML");
        assert_eq!(doc.to_string(), text);
    }
}

#[test]
fn a_crlf_file_stays_crlf() {
    let crlf = SHOP.replace('\n', "\r\n");
    let edits = [
        Edit::Replicas { service: "orders".into(), replicas: 4 },
        Edit::Replicas { service: "shipping".into(), replicas: 2 },
        Edit::AddFault(every_fault()[5].clone()),
    ];
    let out = apply(&crlf, &edits).expect("applies");
    assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
    assert_eq!(out.replace("\r\n", "\n"), apply(SHOP, &edits).expect("applies"));
}

#[test]
fn edits_describe_themselves_for_the_list_of_pending_changes() {
    let cases = [
        (Edit::Replicas { service: "orders".into(), replicas: 4 }, "orders.replicas = 4"),
        (Edit::Concurrency { service: "orders".into(), concurrency: 8 }, "orders.concurrency = 8"),
        (
            Edit::Placement { service: "catalog".into(), node: "cloud-eu".into() },
            "catalog.node = cloud-eu",
        ),
        (
            Edit::StoreReplicas { store: "orders-db".into(), replicas: 5 },
            "store orders-db.replicas = 5",
        ),
        (
            Edit::Quality { field: QualityField::CouplingMax, value: 0.45 },
            "quality.coupling_max = 0.45",
        ),
        (
            Edit::Slo { index: 0, field: SloField::P99Ms, value: Some(300.0) },
            "quality.slo[0].p99_ms = 300",
        ),
        (
            Edit::Slo { index: 1, field: SloField::P50Ms, value: None },
            "quality.slo[1].p50_ms removed",
        ),
        (Edit::ArrivalRate { rate_rps: 250.5 }, "workload.arrival.rate_rps = 250.5"),
        (Edit::RemoveFault { index: 1 }, "remove fault[1]"),
        (
            Edit::AddFault(every_fault()[0].clone()),
            "add fault: crash service payments replica 1 at 4 s, restart after 2.5 s",
        ),
        (
            Edit::AddFault(every_fault()[4].clone()),
            "add fault: latency-spike link edge-paris–cloud-eu at 1 s for 2 s, +12.5 ms",
        ),
    ];
    for (edit, text) in cases {
        assert_eq!(edit.to_string(), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any replica count, concurrency and threshold in the parser's ranges reads back exactly.
    #[test]
    fn values_in_range_round_trip_through_parse(
        service in 0usize..6,
        replicas in 1u32..=10_000,
        concurrency in 1u32..=100_000,
        store in 0usize..8,
        store_replicas in 1u32..=1_000,
        coupling in 0.0f64..=1.0,
        cohesion in prop_oneof![0.0f64..=1.0, (0u32..=1).prop_map(f64::from)],
        convergence in 0.0f64..=3.6e6,
        p99 in 40.0f64..=3.6e6,
        availability in 0.0f64..=1.0,
        throughput in prop::option::of(0.0f64..=1e9),
        rate in 1e-6f64..=1e9,
    ) {
        let shop = parse_ok(SHOP);
        let service = shop.services[service].name.clone();
        let store = shop.stores[store].name.clone();
        let edits = [
            Edit::Replicas { service: service.clone(), replicas },
            Edit::Concurrency { service: service.clone(), concurrency },
            Edit::StoreReplicas { store: store.clone(), replicas: store_replicas },
            Edit::Quality { field: QualityField::CouplingMax, value: coupling },
            Edit::Quality { field: QualityField::CohesionMin, value: cohesion },
            Edit::Quality { field: QualityField::ConvergenceMs, value: convergence },
            Edit::Slo { index: 0, field: SloField::P99Ms, value: Some(p99) },
            Edit::Slo { index: 1, field: SloField::Availability, value: Some(availability) },
            Edit::Slo { index: 1, field: SloField::ThroughputMinRps, value: throughput },
            Edit::ArrivalRate { rate_rps: rate },
        ];
        let out = apply(SHOP, &edits).expect("applies");
        prop_assert!(out.contains(SECTION));
        let s = parse_ok(&out);
        let svc = s.service(&service).expect("the service");
        prop_assert_eq!((svc.replicas, svc.concurrency), (replicas, concurrency));
        prop_assert_eq!(s.store(&store).expect("the store").replicas, store_replicas);
        let q = &s.quality;
        prop_assert_eq!((q.coupling_max, q.cohesion_min, q.convergence_ms), (coupling, cohesion, convergence));
        prop_assert_eq!(q.slos[0].p99_ms, Some(p99));
        prop_assert_eq!(q.slos[1].availability, Some(availability));
        prop_assert_eq!(q.slos[1].throughput_min_rps, throughput);
        let w = s.workload.expect("a workload");
        prop_assert_eq!(w.arrival, crate::scenario::Arrival::Poisson { rate_rps: rate });
    }
}

#[test]
fn load_balancing_is_set_in_place_or_added() {
    let orders = service_index("orders");
    check(
        &[Edit::LoadBalancing { service: "orders".into(), policy: "least-outstanding".into() }],
        &[],
        &["load_balancing = \"least-outstanding\""],
        |j| j["services"][orders]["load_balancing"] = json!("least-outstanding"),
    );
}

const SERVERLESS_WARM: &str = include_str!("../../../scenarios/serverless/serverless-warm.toml");

#[test]
fn autoscale_keys_are_set_in_the_services_autoscale_table() {
    let edits = [
        Edit::Autoscale {
            service: "resize".into(),
            field: AutoscaleField::MinReplicas,
            value: Scalar::Number(0.0),
        },
        Edit::Autoscale {
            service: "resize".into(),
            field: AutoscaleField::Target,
            value: Scalar::Number(2.5),
        },
        Edit::Autoscale {
            service: "resize".into(),
            field: AutoscaleField::ColdStart,
            value: Scalar::Text("declared".into()),
        },
        Edit::Autoscale {
            service: "resize".into(),
            field: AutoscaleField::ScaleToZeroGraceS,
            value: Scalar::Number(5.0),
        },
    ];
    let out = apply(SERVERLESS_WARM, &edits).expect("the edits apply");
    let (removed, added) = hunk(SERVERLESS_WARM, &out);
    assert_eq!(
        (removed, added),
        (
            vec![
                "  min_replicas = 1",
                "  max_replicas = 4",
                "  metric = \"concurrency\"",
                "  target = 2",
                "  interval_s = 2",
                "  scale_down_stabilisation_s = 10",
                "  startup_ms = 50",
                "  cold_start = \"module\"",
            ],
            vec![
                "  min_replicas = 0",
                "  max_replicas = 4",
                "  metric = \"concurrency\"",
                "  target = 2.5",
                "  interval_s = 2",
                "  scale_down_stabilisation_s = 10",
                "  startup_ms = 50",
                "  cold_start = \"declared\"",
                "  scale_to_zero_grace_s = 5",
            ]
        ),
        "{out}"
    );
    let a = parse_ok(&out).service("resize").and_then(|s| s.autoscale.clone()).expect("autoscale");
    assert_eq!((a.min_replicas, a.target), (0, 2.5));
    assert_eq!(a.cold_start, crate::scenario::ColdStart::Declared);
    assert_eq!(a.scale_to_zero.map(|z| z.grace_s), Some(5.0));
    for f in AutoscaleField::ALL {
        assert_eq!(AutoscaleField::from_key(f.key()), Some(f));
    }
}

#[test]
fn an_autoscale_edit_needs_the_table() {
    let edit = Edit::Autoscale {
        service: "orders".into(),
        field: AutoscaleField::Target,
        value: Scalar::Number(3.0),
    };
    assert_eq!(apply(SHOP, &[edit]), Err(EditError::NoAutoscale("orders".into())));
}
