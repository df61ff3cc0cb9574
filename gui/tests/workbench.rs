//! The workbench driven as a user would: through its widgets (found by their accessible
//! labels), headless, with the real eframe app and the real scenarios and modules.

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fusebench_gui::App;
use fusebench_gui::command::Command;
use fusebench_gui::diagram::Element;
use fusebench_gui::live::RunState;
use fusebench_gui::recent::Recent;
use fusebench_gui::view::Tab;

fn scenario(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn harness(path: Option<&Path>) -> Harness<'static, App> {
    let path = path.map(Path::to_path_buf);
    Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_eframe(move |cc| App::new(&cc.egui_ctx, path.as_deref(), Recent::default()))
}

/// Steps the app until `done` holds (background work, a run at full speed), at most `steps`.
fn step_until(h: &mut Harness<'_, App>, steps: usize, done: impl Fn(&App) -> bool) {
    for _ in 0..steps {
        if done(h.state()) {
            h.run_steps(2);
            return;
        }
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(done(h.state()), "not done after {steps} steps: {:?}", h.state().bench.messages);
}

#[test]
fn opening_the_shop_shows_its_architecture_and_the_inspector_shows_a_module() {
    let mut h = harness(Some(&scenario("scenarios/shop/shop.toml")));
    h.run_steps(3);
    // Every service, store and fixed element is a node in the graph.
    for name in
        ["client", "gateway", "registry", "catalog", "orders", "payments", "orders-db", "events"]
    {
        h.get_by_label(name);
    }
    let checks = fusebench_model::checks::CHECKS.len();
    h.get_by_label(&format!("Static checks: {checks} passed, 0 failed"));
    // Select `orders` in the graph: the inspector shows its tuple and its module's exports.
    h.get_by_label("orders").click_accesskit();
    h.run_steps(3);
    h.get_by_label("Service orders");
    h.get_by_label("export func handle_create_order (i32, i32) -> i64");
    h.get_by_label_contains("import func fusebench.kv_put");
    h.get_by_label("Module WASM = (T, F, M, G, E, I)");
    assert_eq!(
        h.state().bench.selection,
        Some(Element::Node(
            h.state()
                .bench
                .session
                .as_ref()
                .and_then(|s| s.design())
                .and_then(|d| d.diagram.service("orders"))
                .expect("orders node"),
        ))
    );
}

#[test]
fn a_run_animates_to_its_end_and_shows_plots_and_results() {
    let mut h = harness(Some(&scenario("scenarios/shop/shop.toml")));
    h.run_steps(2);
    h.state_mut().view.settings.duration_s = 2.0;
    // At real-time speed half a second of frames is half a second of the run: pause it there.
    h.get_by_label("Run").click();
    h.run_steps(2);
    assert!(h.state().bench.run.is_some(), "the run started");
    h.get_by_label("Pause").click_accesskit();
    h.run_steps(2);
    assert_eq!(h.state().bench.run.as_ref().map(|r| r.state), Some(RunState::Paused));
    // Then as fast as frames allow, to the end.
    h.get_by_label("max").click();
    h.get_by_label("Resume").click_accesskit();
    step_until(&mut h, 2_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    h.get_by_label("Latency percentiles (ms)");
    h.get_by_label("Throughput and errors (per s)");
    h.get_by_label("Queue depth");
    h.get_by_label("Replication lag (ms)");
    h.get_by_label_contains("Run finished: ");
    let run = h.state().bench.run.as_ref().expect("run");
    assert!(!run.samples().is_empty(), "the plots have data");
    assert!(run.traffic.iter().sum::<u64>() > 0, "traffic was counted on the edges");
    // No mesh, nothing denied: no edge carries a denial mark.
    assert_eq!(h.query_all_by_label_contains(" denied: ").count(), 0);
    // Inspecting an edge shows the traffic it carried.
    let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
    let (orders, payments) =
        (d.diagram.service("orders").expect("o"), d.diagram.service("payments").expect("p"));
    let edge = d.diagram.edge_between(orders, payments).expect("edge");
    let carried = run.traffic[edge];
    assert!(carried > 0);
    h.state_mut().apply(Command::Select(Some(Element::Edge(edge))));
    h.run_steps(2);
    h.get_by_label("Edge orders → payments");
    h.get_by_label(&format!("{carried} messages"));
    h.get_by_label("request  { amount_cents: integer, order_id: string, payment_id: string }");
}

#[test]
fn stepping_processes_one_event_at_a_time() {
    let mut h = harness(Some(&scenario("scenarios/shop/shop.toml")));
    h.run_steps(2);
    h.get_by_label("Step").click();
    h.run_steps(2);
    let first = h.state().bench.run.as_ref().map(|r| r.events).expect("a paused run");
    h.get_by_label("Step").click();
    h.run_steps(2);
    let run = h.state().bench.run.as_ref().expect("run");
    assert_eq!(run.state, RunState::Paused);
    assert!(run.events > first, "a step shows at least one more trace event");
}

#[test]
fn a_flawed_design_is_refuted_and_its_counterexample_scrubbed() {
    let mut h = harness(Some(&scenario("scenarios/flawed/dynamic/payment-redelivery.toml")));
    h.run_steps(2);
    h.state_mut().view.cases = 2;
    h.get_by_label("Check properties").click();
    step_until(&mut h, 20_000, |a| a.bench.dynamic.is_some());
    h.get_by_label_contains("cases from seed 1");
    // Each property over every case: where it failed, and where (and why) it was skipped.
    h.get_by_label_contains("(first: case 0)");
    h.get_by_label_contains("skipped in 1 generated case(s): the quality targets");
    h.get_by_label_contains("Counterexample (case 0): 1 declared + 0 injected fault(s)");
    // The failed property is listed; clicking it opens the counterexample.
    h.get_by_label("idempotence").click();
    step_until(&mut h, 50, |a| a.bench.timeline.is_some() && a.view.tab == Tab::Counterexample);
    h.get_by_label_contains("violated: idempotence");
    let (end, events, at_zero) = {
        let tl = h.state().bench.timeline.as_ref().expect("timeline");
        assert!(!tl.events.is_empty(), "the story has events");
        assert!(
            tl.lanes.iter().any(|l| l == "payments-db"),
            "a swim lane for the store charged twice: {:?}",
            tl.lanes
        );
        let at_zero =
            tl.events.iter().filter(|e| e.at == fusebench_sim::time::SimTime::ZERO).count();
        (tl.end, tl.events.len(), at_zero)
    };
    // The replay starts at the end: everything happened. Scrub to the start: nothing has.
    h.get_by_label_contains(&format!("{events} of {events} story events happened"));
    h.state_mut().apply(Command::Scrub(fusebench_sim::time::SimTime::ZERO));
    h.run_steps(2);
    // (what happened at t = 0 itself, e.g. a fault declared from the start, has happened)
    h.get_by_label_contains(&format!("{at_zero} of {events} story events happened"));
    // Step forward event by event with the buttons; the graph highlights what was involved.
    for _ in 0..2 {
        h.get_by_label("next event").click();
        h.run_steps(4);
    }
    let tl = h.state().bench.timeline.as_ref().expect("timeline");
    assert!(tl.cursor > fusebench_sim::time::SimTime::ZERO && tl.cursor < end);
    assert_eq!(tl.happened().len(), at_zero + 2, "two steps past what happened at t = 0");
    // Scrub into the duplication fault: it is active, and the store written is highlighted.
    let dup =
        tl.faults.iter().find(|f| f.label == "duplication").expect("the planned fault").clone();
    let write = tl
        .events
        .iter()
        .find(|e| e.at > dup.start && e.at < dup.end && e.text.contains("payments-db replica"))
        .map(|e| e.at)
        .expect("a write during the fault");
    h.state_mut().apply(Command::Scrub(write));
    h.run_steps(2);
    h.get_by_label_contains("faults active: duplication");
    let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
    let store = d.diagram.store("payments-db").expect("payments-db");
    let (nodes, _) = h.state().bench.timeline.as_ref().expect("tl").highlighted();
    assert!(nodes.contains(&store), "payments-db is highlighted at its write: {nodes:?}");
}

#[test]
fn a_failed_property_the_counterexample_does_not_show_opens_its_own_case() {
    // The stock consumer's counterexample is shrunk for `no-lost-update`; `idempotence` failed
    // in case 1 only: clicking it runs case 1 again, as explored, and opens it.
    let design = "scenarios/corpus/defects/no-lost-update/no-lost-update-stock-queue.toml";
    let mut h = harness(Some(&scenario(design)));
    h.run_steps(2);
    h.state_mut().view.cases = 16;
    h.get_by_label("Check properties").click();
    step_until(&mut h, 20_000, |a| a.bench.dynamic.is_some());
    let case = {
        let Some(Ok(d)) = &h.state().bench.dynamic else { panic!("a check result") };
        let p = d.summary.iter().find(|p| p.id == "idempotence").expect("idempotence");
        assert!(!p.passed() && !p.shown_from_counterexample, "{p:?}");
        p.shown_case
    };
    // The case runs again on a thread of its own; the frames go on meanwhile.
    h.get_by_label("idempotence").click();
    step_until(&mut h, 20_000, |a| a.bench.timeline.is_some());
    assert!(h.state().bench.case.is_none(), "the job is done");
    step_until(&mut h, 50, |a| a.view.tab == Tab::Counterexample);
    h.get_by_label(&format!("Case {case}, as explored"));
    h.get_by_label_contains("violated: idempotence");
    h.get_by_label_contains("Not shrunk (the counterexample was shrunk for another property)");
    assert_eq!(h.state().bench.timeline.as_ref().expect("timeline").explored_case, Some(case));
    // The counterexample itself still opens from its button, for its own property.
    h.get_by_label("Open counterexample").click();
    h.run_steps(4);
    h.get_by_label("Counterexample");
    h.get_by_label_contains("violated: no-lost-update");
}

#[test]
fn a_scenario_with_errors_shows_every_diagnostic_with_its_place() {
    let dir = std::env::temp_dir().join(format!("fusebench-gui-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("broken.toml");
    std::fs::write(&path, "[system]\nname = \"x\"\n\n[[service]]\nname = \"a\"\ncontext = \"nowhere\"\nreplicas = \"many\"\n").expect("write");
    let mut h = harness(Some(&path));
    h.run_steps(2);
    h.get_by_label_contains("broken.toml: ");
    // file:line:col of the bad field, and the dangling reference.
    h.get_by_label_contains("broken.toml:7:");
    h.get_by_label_contains("nowhere");
    // Fixing the file on disk reloads it.
    std::fs::write(&path, "[system]\nname = \"x\"\n\n[[context]]\nname = \"c\"\n\n[[node]]\nname = \"n\"\ntier = \"cloud\"\n\n[[service]]\nname = \"a\"\ncontext = \"c\"\nnode = \"n\"\n  [service.service_time]\n  distribution = { dist = \"constant\", ms = 1.0 }\n  [[service.endpoint]]\n  name = \"e\"\n").expect("write");
    // mtime resolution: make sure the change is visible.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    h.state_mut().bench.watch_file();
    h.run_steps(3);
    assert!(
        h.state().bench.session.as_ref().is_some_and(|s| s.design().is_some()),
        "reloaded: {:?}",
        h.state().bench.messages
    );
    h.get_by_label("a");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_if_edits_recheck_compare_runs_and_save_back_to_toml() {
    use fusebench_model::edit::{Edit, QualityField};
    let dir = std::env::temp_dir().join(format!("fusebench-gui-whatif-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // A copy of a small system next to its modules' directory layout.
    let src = scenario("scenarios/fixed/payment-redelivery.toml");
    // Beside the original, so its module paths resolve; removed however the test ends.
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let path = scenario("scenarios/fixed").join(format!("whatif-{}.toml", std::process::id()));
    std::fs::copy(&src, &path).expect("copy");
    let _cleanup = Remove(path.clone());
    let mut h = harness(Some(&path));
    h.run_steps(2);
    h.state_mut().view.settings.duration_s = 1.0;
    h.get_by_label("max").click();
    h.get_by_label("Run").click();
    step_until(&mut h, 2_000, |a| a.bench.run.as_ref().is_some_and(|r| r.report.is_some()));
    // Change the replicas of `charge` through the what-if panel.
    let charge = {
        let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
        d.diagram.service("charge").expect("charge")
    };
    h.state_mut().apply(Command::Select(Some(Element::Node(charge))));
    h.state_mut().view.tab = Tab::WhatIf;
    h.run_steps(2);
    h.get_by_label("service charge");
    h.state_mut().apply(Command::Edit(Edit::Replicas { service: "charge".into(), replicas: 4 }));
    h.state_mut()
        .apply(Command::Edit(Edit::Quality { field: QualityField::CouplingMax, value: 0.01 }));
    h.run_steps(2);
    let s = h.state().bench.session.as_ref().expect("session");
    let design = s.design().expect("re-parsed");
    assert_eq!(design.scenario().service("charge").map(|x| x.replicas), Some(4));
    assert!(!design.statics_passed(), "coupling_max 0.01 fails the coupling check at once");
    h.get_by_label("• charge.replicas = 4");
    h.get_by_label_contains("Static checks: ");
    assert!(h.state().bench.baseline.is_some(), "the run before the change is kept");
    // Run again: the two runs side by side.
    h.state_mut().view.tab = Tab::WhatIf;
    let settings = h.state().view.settings.clone();
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 2_000, |a| a.bench.run.as_ref().is_some_and(|r| r.report.is_some()));
    h.get_by_label("Compare runs");
    h.get_by_label("p50 ms before → after");
    // Save: the file has the change and keeps its comments.
    h.get_by_label("Save changes").click();
    h.run_steps(2);
    let saved = std::fs::read_to_string(&path).expect("saved");
    let _ = std::fs::remove_dir_all(&dir);
    let original = std::fs::read_to_string(&src).expect("src");
    assert!(saved.contains("coupling_max = 0.01"), "{saved}");
    let reparsed = fusebench_model::parse("saved.toml", &saved).ok().expect("saved file parses");
    assert_eq!(reparsed.service("charge").map(|x| x.replicas), Some(4));
    let comments = |t: &str| t.lines().filter(|l| l.trim_start().starts_with('#')).count();
    assert_eq!(comments(&saved), comments(&original), "comments kept");
    assert!(!h.state().bench.session.as_ref().expect("s").is_edited());
}

#[test]
fn the_open_dialog_lists_scenarios_and_opens_one() {
    let mut h = harness(None);
    h.run_steps(2);
    h.get_by_label("No scenario open");
    h.state_mut().view.open_dialog.dir = scenario("scenarios/shop");
    h.get_by_label("Open…").click();
    h.run_steps(2);
    h.state_mut().view.open_dialog.dir = scenario("scenarios/shop");
    h.run_steps(2);
    h.get_by_label("shop.toml").click();
    h.run_steps(3);
    assert!(h.state().bench.session.as_ref().is_some_and(|s| s.path.ends_with("shop.toml")));
    h.get_by_label("catalog");
    assert_eq!(h.state().bench.recent.paths.len(), 1, "remembered in the recent files");
}

#[test]
fn the_graph_and_the_report_export_as_svg_and_png() {
    let dir = std::env::temp_dir().join(format!("fusebench-gui-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = harness(Some(&scenario("scenarios/shop/shop.toml")));
    h.run_steps(2);
    h.state_mut().apply(Command::ExportGraph(dir.clone()));
    let svg = std::fs::read_to_string(dir.join("shop-graph.svg")).expect("svg written");
    assert!(svg.contains("orders") && svg.contains("payments-db"), "nodes are labelled");
    let png = std::fs::read(dir.join("shop-graph.png")).expect("png written");
    assert_eq!(&png[1..4], b"PNG");
    h.state_mut().view.settings.duration_s = 1.0;
    let settings = h.state().view.settings.clone();
    h.state_mut().apply(Command::NewRun { settings, play: true });
    h.state_mut().apply(Command::SetSpeed(None));
    step_until(&mut h, 2_000, |a| a.bench.run.as_ref().is_some_and(|r| r.report.is_some()));
    h.state_mut().apply(Command::WriteReport(dir.join("run")));
    for f in ["report.md", "report.json", "trace.jsonl", "latency.svg", "latency.png"] {
        assert!(dir.join("run").join(f).is_file(), "{f} written");
    }
    h.state_mut().view.tab = Tab::Report;
    h.run_steps(2);
    h.get_by_label("Write report files");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The authorization-bypass design with every service in the mesh (sidecars of 50 µs of CPU;
/// `reports`' refunds are denied at `payments`' sidecar), two `payments` replicas, one crashing
/// at 1 s, and outlier detection that ejects it after two failures.
fn meshed_with_a_crash() -> String {
    let text = std::fs::read_to_string(scenario("scenarios/flawed/dynamic/authz-bypass.toml"))
        .expect("read");
    let payments = "name = \"payments\"\ncontext = \"sales\"\nnode = \"cloud\"\n";
    assert!(text.contains(payments), "the file still declares payments this way");
    let text = text
        .replace("services = [\"storefront\", \"payments\"]", "all = true\nsidecar_cpu_us = 50")
        .replace(payments, &format!("{payments}replicas = 2\n"));
    format!(
        "{text}
  [[mesh.policy]]
  service = \"payments\"
  outlier_detection = {{ consecutive_5xx = 2, base_ejection_time_ms = 1000, max_ejection_percent = 50 }}

[[fault]]
kind = \"crash\"
service = \"payments\"
replica = 0
at_s = 1
restart_after_s = 30
"
    )
}

#[test]
fn the_mesh_shows_denials_on_their_edge_and_policies_and_ejections_in_the_inspector() {
    let dir = std::env::temp_dir().join(format!("fusebench-gui-mesh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("meshed.toml");
    std::fs::write(&path, meshed_with_a_crash()).expect("write");
    let mut h = harness(Some(&path));
    h.run_steps(2);
    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 4.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 2_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
    let (reports, payments) =
        (d.diagram.service("reports").expect("r"), d.diagram.service("payments").expect("p"));
    let edge = d.diagram.edge_between(reports, payments).expect("edge");
    let run = h.state().bench.run.as_ref().expect("run");
    let denied = run.mesh.denied(edge);
    // The same count the report gives, from the same trace.
    let reported = run.report.as_ref().expect("report").services["payments"].denied;
    assert!(denied > 0 && denied == reported, "{denied} on the edge, {reported} reported");
    let (kept, ejections) = run.mesh.ejections(payments);
    assert!(ejections > 0, "the crashed replica was ejected");
    let listed: Vec<String> = kept
        .iter()
        .map(|e| {
            let (from, until) = (e.from.as_secs_f64(), e.until.as_secs_f64());
            format!("  replica {} by {} from {from:.3} s to {until:.3} s", e.replica, e.caller)
        })
        .collect();
    assert!(run.mesh.ejected_over_time(payments).iter().any(|p| p[1] >= 1.0));

    // The graph marks the edge with its denials (and only that edge).
    h.run_steps(2);
    h.get_by_label(&format!("⊘ {denied} denied: reports → payments"));
    assert_eq!(h.query_all_by_label_contains(" denied: ").count(), 1);

    h.state_mut().apply(Command::Select(Some(Element::Edge(edge))));
    h.run_steps(2);
    h.get_by_label("Edge reports → payments");
    h.get_by_label(&format!("{denied} requests (authorization, mTLS)"));

    h.state_mut().apply(Command::Select(Some(Element::Node(payments))));
    h.run_steps(2);
    h.get_by_label("Service mesh");
    h.get_by_label("inbound mTLS permissive: plaintext accepted, without an identity");
    h.get_by_label("  50 µs of its node's CPU per message through it");
    h.get_by_label("  DENY from reports to refund");
    h.get_by_label_contains("outlier detection: eject after 2 consecutive 5xx for 1000 ms");
    h.get_by_label(&format!("Last run: {ejections} ejections"));
    assert!(listed[0].starts_with("  replica 0 by storefront from "), "{listed:?}");
    for line in &listed {
        h.get_by_label(line);
    }
    h.get_by_label("Ejected replicas and circuit breaker refusals (per s) over the run");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_inspector_shows_a_service_s_version_subsets_its_route_and_its_pushes() {
    let mut h = harness(Some(&scenario("scenarios/mesh/shop-canary.toml")));
    h.run_steps(3);
    h.get_by_label("payments").click_accesskit();
    h.run_steps(3);
    h.get_by_label("Service payments");
    h.get_by_label("Version subsets and routes (callers' proxies)");
    h.get_by_label("  subset v1: its declared replicas");
    h.get_by_label("  subset v2: 2 replica(s) of ../shop/modules/rust/payments.wasm");
    h.get_by_label("  route: v1 90 %, v2 10 %; x-canary=always → v2");
    h.get_by_label("  pushed at 10 s: v1 50 %, v2 50 %; x-canary=always → v2");
    h.get_by_label("  pushed at 20 s: v2 100 %; x-canary=always → v2");
    // A service without subsets shows none.
    h.get_by_label("catalog").click_accesskit();
    h.run_steps(3);
    h.get_by_label("Service catalog");
    assert!(h.query_by_label("Version subsets and routes (callers' proxies)").is_none());
}

#[test]
fn the_inspector_shows_a_composed_service_s_libraries_and_what_they_resolve() {
    let mut h = harness(Some(&scenario("scenarios/composed/composed.toml")));
    h.run_steps(3);
    let checks = fusebench_model::checks::CHECKS.len();
    h.get_by_label(&format!("Static checks: {checks} passed, 0 failed"));
    h.get_by_label("quotes").click_accesskit();
    h.run_steps(3);
    h.get_by_label("Service quotes");
    h.get_by_label("Composition (2 modules)");
    h.get_by_label("module of quotes (modules/rust/quotes.wasm) — links legacy");
    h.get_by_label("library legacy (modules/wat/legacy-pricing.wat)");
    h.get_by_label("  legacy.legacy_quote (i32, i32) -> i64 ← library legacy");
    // checkout shares money with invoice: its own composition resolves its own imports.
    h.get_by_label("checkout").click_accesskit();
    h.run_steps(3);
    h.get_by_label("Service checkout");
    h.get_by_label("library money (modules/c/money.wasm)");
    h.get_by_label("  money.tax_cents (i64, i32) -> i64 ← library money");
    assert!(h.query_by_label("library legacy (modules/wat/legacy-pricing.wat)").is_none());
}

#[test]
fn the_inspector_shows_a_services_rollout_and_its_replicas_per_version() {
    let mut h = harness(Some(&scenario("scenarios/shop/shop-rollout.toml")));
    h.run_steps(3);
    h.get_by_label("catalog").click_accesskit();
    h.run_steps(3);
    // Before a run: the rollout as declared.
    h.get_by_label("Rollout");
    h.get_by_label("v0 modules/as/catalog.wasm (declared, 1.3.0)");
    h.get_by_label("v1 modules/rust/catalog2.wasm from 3 s");
    h.get_by_label(
        "rolling: max surge 1, max unavailable 0, start-up 800 ms, drain delay 500 ms (the discovery cache)",
    );
    h.get_by_label("  get_product: version 1.4.0, new response");
    // Another service has no rollout view.
    h.get_by_label("orders").click_accesskit();
    h.run_steps(3);
    assert!(h.query_by_label("Rollout").is_none());

    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 9.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 5_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    let run = h.state().bench.run.as_ref().expect("run");
    let t = run.rollouts.timeline("catalog").expect("the rollout started");
    // The same timeline the simulator's reader gives over the whole trace.
    let result = run.result.as_ref().expect("finished");
    let lines: Vec<_> =
        fusebench_sim::trace::read(&result.trace).map(|l| l.expect("line")).collect();
    assert_eq!(fusebench_sim::trace::rollout::timelines(&lines), vec![t.clone()]);
    let finished = t.finished.expect("it finishes within 9 s");
    let (old, new) = run.rollouts.replicas_over_time("catalog");
    // Two old replicas at the start, none at the end; two new ones at the end.
    assert_eq!((old[0][1], old.last().map(|p| p[1])), (2.0, Some(0.0)), "{old:?}");
    assert_eq!(new.last().map(|p| p[1]), Some(2.0), "{new:?}");
    assert!(new.iter().any(|p| p[1] >= 1.0 && p[0] < finished.as_secs_f64()), "{new:?}");

    h.get_by_label("catalog").click_accesskit();
    h.run_steps(3);
    let secs = |x: fusebench_sim::time::SimTime| x.as_secs_f64();
    h.get_by_label(&format!(
        "Last run: started at {:.3} s, finished at {:.3} s (took {:.3} s)",
        secs(t.started),
        secs(finished),
        secs(finished) - secs(t.started)
    ));
    h.get_by_label(&format!(
        "{} replica steps; two versions side by side for {:.3} s",
        t.steps,
        t.skew_ns as f64 / 1e9
    ));
    h.get_by_label("Replicas per version over the run");
}

#[test]
fn the_control_plane_view_shows_each_proxy_s_configuration_over_the_run() {
    use egui_kittest::kittest::NodeT;
    use fusebench_gui::panels::control_plane::{NO_CONTROL_PLANE, NO_PUSH_YET, TIMELINES};
    let mut h = harness(Some(&scenario("scenarios/mesh/shop-canary.toml")));
    h.run_steps(3);
    // Before a run, with nothing selected: the pushes as declared, no timeline yet.
    h.get_by_label("System shop-canary");
    h.get_by_label("Control plane");
    h.get_by_label("config 1 at 10 s: payments: v1=50,v2=50");
    h.get_by_label("config 2 at 20 s: payments: v2=100");
    h.get_by_label("Run it to see when each proxy applied each push.");
    assert!(h.query_by_label(TIMELINES).is_none());
    assert!(h.query_by_label(NO_CONTROL_PLANE).is_none());

    // Both pushes and their propagation (at most 1.5 s) fall within 22 s. Paused between the
    // first push's last apply (≤ 11.5 s) and the second push (20 s): config 1 holds so far.
    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 22.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    let now = |a: &App| a.bench.run.as_ref().map_or(0.0, |r| r.now().as_secs_f64());
    // Before the first push (10 s): a row per proxy already, each on the scenario's own
    // configuration from the start.
    step_until(&mut h, 5_000, |a| now(a) >= 3.0);
    h.state_mut().apply(Command::Pause);
    h.run_steps(3);
    assert!(now(h.state()) < 10.0, "paused at {} s", now(h.state()));
    h.get_by_label(TIMELINES);
    h.get_by_label(NO_PUSH_YET);
    let mut before_push: Vec<String> = h
        .query_all_by_label_contains(": config 0 from 0.000 s so far")
        .filter_map(|n| n.accesskit_node().value())
        .map(|l| l.split(':').next().unwrap_or_default().to_owned())
        .collect();
    before_push.sort();
    assert!(h.query_by_label_contains(": config 1 from").is_none());
    h.state_mut().apply(Command::Play);
    step_until(&mut h, 5_000, |a| now(a) >= 12.0);
    h.state_mut().apply(Command::Pause);
    h.run_steps(3);
    assert!(now(h.state()) < 20.0, "paused at {} s", now(h.state()));
    h.get_by_label(TIMELINES);
    let so_far: Vec<String> = h
        .query_all_by_label_contains(" so far")
        // A label's text is its accessible value.
        .filter_map(|n| n.accesskit_node().value())
        .collect();
    assert!(so_far.iter().all(|l| l.contains(": config 1 from ")), "{so_far:?}");
    assert!(h.query_by_label_contains(": config 2 from").is_none());
    assert!(h.query_by_label_contains("config 2 pushed at").is_none());
    h.state_mut().apply(Command::Play);
    step_until(&mut h, 5_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    h.state_mut().apply(Command::Select(None));
    h.run_steps(3);
    h.get_by_label(TIMELINES);
    let run = h.state().bench.run.as_ref().expect("run");
    // The expected bands come from the report (the simulator's "Mesh routes" section), not
    // from the view's own tracker: each proxy starts config k where the report says it
    // applied push k, and holds it until it applied the next (the last to the end).
    let routes = run.report.as_ref().and_then(|r| r.mesh_routes.clone()).expect("mesh routes");
    assert_eq!(routes.pushes.len(), 2);
    let mut proxies: Vec<String> =
        routes.pushes[0].applied.iter().map(|a| a.proxy.clone()).collect();
    proxies.sort();
    assert!(proxies.len() >= 3 && proxies.contains(&"gateway".to_owned()), "{proxies:?}");
    // The rows shown before the first push were exactly the proxies it then reached.
    assert_eq!(before_push, proxies, "rows before the first push");
    let at = |config: usize, proxy: &str| {
        routes.pushes[config - 1].applied.iter().find(|a| a.proxy == proxy).map(|a| a.at_s)
    };
    let mut labels = Vec::new();
    for proxy in &proxies {
        let (one, two) = (at(1, proxy).expect("applied 1"), at(2, proxy).expect("applied 2"));
        labels.push(format!("{proxy}: config 0 from 0.000 s to {one:.3} s"));
        labels.push(format!("{proxy}: config 1 from {one:.3} s to {two:.3} s"));
        labels.push(format!("{proxy}: config 2 from {two:.3} s to the end"));
    }
    for label in &labels {
        h.get_by_label(label);
    }
    // Mid-run, every proxy held config 1 from where the report says it applied it.
    let mut expected: Vec<String> = proxies
        .iter()
        .map(|p| format!("{p}: config 1 from {:.3} s so far", at(1, p).expect("applied 1")))
        .collect();
    let mut so_far = so_far;
    expected.sort();
    so_far.sort();
    assert_eq!(so_far, expected);
    // One band per proxy and configuration, nothing more.
    assert_eq!(h.query_all_by_label_contains(": config ").count(), labels.len());
    // Hovering a band tells what its configuration changed.
    let last = &labels[labels.len() - 1];
    let tip = format!("{last}\npushed at 20.000 s: payments: v2=100");
    assert!(h.query_by_label(&tip).is_none());
    h.get_by_label(last).hover();
    // Past egui's tooltip delay.
    h.run_steps(60);
    h.get_by_label(&tip);
    // What each configuration changed, with when its proxies applied it.
    h.get_by_label("  config 0: the scenario's own routes, policies and filters");
    for p in &routes.pushes {
        let first = p.applied.iter().map(|a| a.at_s).fold(f64::INFINITY, f64::min);
        let last = p.applied.iter().map(|a| a.at_s).fold(0.0, f64::max);
        h.get_by_label(&format!(
            "  config {} pushed at {:.3} s: payments: {}; applied by {} proxies from {first:.3} s to {last:.3} s",
            p.config,
            p.pushed_s,
            p.change,
            proxies.len()
        ));
    }

    // payments: the requests each configuration sent to each subset, as the report counts them.
    // (Selected by command: "payments" and "orders" also name their timeline rows.)
    let node = |h: &Harness<'_, App>, name: &str| {
        let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
        Element::Node(d.diagram.service(name).expect("service"))
    };
    let payments = node(&h, "payments");
    h.state_mut().apply(Command::Select(Some(payments)));
    h.run_steps(3);
    h.get_by_label("Requests per subset (last run)");
    let rows: Vec<_> = routes.routed.iter().filter(|r| r.service == "payments").collect();
    assert!(rows.iter().any(|r| r.config == 1) && rows.iter().any(|r| r.config == 2), "{rows:?}");
    for r in &rows {
        let total: u64 = rows.iter().filter(|x| x.config == r.config).map(|x| x.requests).sum();
        let header =
            if r.by_header > 0 { format!(", {} by header", r.by_header) } else { String::new() };
        h.get_by_label(&format!(
            "  config {} → {}: {} ({:.1} %){header}",
            r.config,
            r.subset,
            r.requests,
            100.0 * r.requests as f64 / total as f64
        ));
    }
    // The gateway: its own configurations.
    let gateway = {
        let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
        Element::Node(d.diagram.fixed(fusebench_gui::diagram::NodeKind::Gateway).expect("gw"))
    };
    h.state_mut().apply(Command::Select(Some(gateway)));
    h.run_steps(3);
    h.get_by_label("API gateway");
    h.get_by_label(&format!(
        "  config 0, 1 from {:.3} s, 2 from {:.3} s",
        at(1, "gateway").expect("gateway applied 1"),
        at(2, "gateway").expect("gateway applied 2")
    ));
    // orders' sidecar: its own configurations.
    let orders = node(&h, "orders");
    h.state_mut().apply(Command::Select(Some(orders)));
    h.run_steps(3);
    h.get_by_label("Configuration applied (last run)");
    h.get_by_label(&format!(
        "  config 0, 1 from {:.3} s, 2 from {:.3} s",
        at(1, "orders").expect("orders applied 1"),
        at(2, "orders").expect("orders applied 2")
    ));
}

#[test]
fn a_mesh_without_pushes_says_it_has_no_control_plane_and_shows_no_timeline() {
    use fusebench_gui::panels::control_plane::{NO_CONTROL_PLANE, TIMELINES};
    let dir = std::env::temp_dir().join(format!("fusebench-gui-nocp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("meshed.toml");
    std::fs::write(&path, meshed_with_a_crash()).expect("write");
    let mut h = harness(Some(&path));
    h.run_steps(3);
    h.get_by_label("Control plane");
    h.get_by_label(NO_CONTROL_PLANE);
    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 2.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 2_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    h.state_mut().apply(Command::Select(None));
    h.run_steps(3);
    h.get_by_label(NO_CONTROL_PLANE);
    assert!(h.query_by_label(TIMELINES).is_none());
    assert!(h.query_by_label_contains("config 0").is_none(), "no configuration noise");
    assert!(h.query_by_label("Configuration applied (last run)").is_none());
    std::fs::remove_dir_all(&dir).ok();
    // Without a mesh at all there is no control plane section.
    let mut h = harness(Some(&scenario("scenarios/shop/shop.toml")));
    h.run_steps(3);
    h.get_by_label("System shop");
    assert!(h.query_by_label("Control plane").is_none());
    assert!(h.query_by_label(NO_CONTROL_PLANE).is_none());
}

#[test]
fn a_pushed_retry_budget_shows_on_every_proxy_s_timeline() {
    use fusebench_gui::panels::control_plane::TIMELINES;
    let mut h = harness(Some(&scenario("scenarios/mesh/storm-budget-push.toml")));
    h.run_steps(3);
    h.get_by_label("config 1 at 8 s: edge: policy edge; policy mid; policy leaf");
    // The push leaves at 8 s and reaches each proxy within 2 s.
    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 11.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 5_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    h.state_mut().apply(Command::Select(None));
    h.run_steps(3);
    h.get_by_label(TIMELINES);
    let run = h.state().bench.run.as_ref().expect("run");
    let routes = run.report.as_ref().and_then(|r| r.mesh_routes.clone()).expect("mesh routes");
    let push = &routes.pushes[0];
    let proxies: Vec<&str> = push.applied.iter().map(|a| a.proxy.as_str()).collect();
    for p in ["gateway", "edge", "mid", "leaf"] {
        assert!(proxies.contains(&p), "{p} applied the push: {proxies:?}");
    }
    for a in &push.applied {
        h.get_by_label(&format!("{}: config 0 from 0.000 s to {:.3} s", a.proxy, a.at_s));
        h.get_by_label(&format!("{}: config 1 from {:.3} s to the end", a.proxy, a.at_s));
    }
    h.get_by_label_contains(
        "  config 1 pushed at 8.000 s: edge: policy edge; policy mid; policy leaf; applied by 4 proxies",
    );
    // leaf has no version subsets: its view lists no requests per subset, only its sidecar's
    // configurations.
    let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
    let leaf = Element::Node(d.diagram.service("leaf").expect("leaf"));
    h.state_mut().apply(Command::Select(Some(leaf)));
    h.run_steps(3);
    h.get_by_label("Service leaf");
    assert!(h.query_by_label("Requests per subset (last run)").is_none());
    let at = push.applied.iter().find(|a| a.proxy == "leaf").expect("leaf").at_s;
    h.get_by_label(&format!("  config 0, 1 from {at:.3} s"));
}

/// A STRICT mTLS sidecar refusing a caller outside the mesh (the authorization-bypass design
/// with the mesh `strict`: `reports` runs no sidecar): the inspector says what the callee
/// accepts, and the refusals are denials on their edge, as many as the report counts.
#[test]
fn strict_mtls_refusals_are_denials_on_their_edge() {
    let text = std::fs::read_to_string(scenario("scenarios/flawed/dynamic/authz-bypass.toml"))
        .expect("read");
    let meshed = "services = [\"storefront\", \"payments\"]";
    assert!(text.contains(meshed), "the file still meshes these two");
    let text = text.replace(meshed, &format!("{meshed}\nmtls = \"strict\""));
    let dir = std::env::temp_dir().join(format!("fusebench-gui-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("strict.toml");
    std::fs::write(&path, text).expect("write");
    let mut h = harness(Some(&path));
    h.run_steps(2);
    let d = h.state().bench.session.as_ref().and_then(|s| s.design()).expect("design");
    let (reports, payments) =
        (d.diagram.service("reports").expect("r"), d.diagram.service("payments").expect("p"));
    let edge = d.diagram.edge_between(reports, payments).expect("edge");
    h.state_mut().apply(Command::Select(Some(Element::Node(payments))));
    h.run_steps(2);
    h.get_by_label("inbound mTLS strict: callers without a sidecar are refused");
    let settings = fusebench_gui::live::RunSettings { seed: 1, duration_s: 4.0, speed: None };
    h.state_mut().apply(Command::NewRun { settings, play: true });
    step_until(&mut h, 2_000, |a| {
        a.bench.run.as_ref().is_some_and(|r| r.state == RunState::Finished)
    });
    let run = h.state().bench.run.as_ref().expect("run");
    let denied = run.mesh.denied(edge);
    assert_eq!(run.mesh.refused(edge).get("rbac"), None, "refused at the handshake, not by RBAC");
    let reported = run.report.as_ref().expect("report").services["payments"].denied;
    assert!(denied > 0 && denied == reported, "{denied} on the edge, {reported} reported");
    h.run_steps(2);
    h.get_by_label(&format!("⊘ {denied} denied: reports → payments"));
    let _ = std::fs::remove_dir_all(&dir);
}
