use std::path::Path;

use fusebench_sim::report::Report;
use fusebench_sim::setup::build_runtime;
use fusebench_sim::trace::{self, TraceEvent, TraceMode};
use fusebench_sim::{RunOptions, Sim};

use super::*;

const MS: u64 = 1_000_000;

fn route(ms: u64, proxy: &str, action: &str, config: u32, detail: &str) -> TraceLine {
    TraceLine {
        t: SimTime(ms * MS),
        event: TraceEvent::MeshRoute {
            proxy: proxy.into(),
            service: "payments".into(),
            action: action.into(),
            config,
            req: u64::from(action == "routed" || action == "matched"),
            detail: detail.into(),
        },
    }
}

/// Two pushes; the gateway and `orders` apply each after their own delays, `orders` the
/// second one first.
fn two_pushes() -> Vec<TraceLine> {
    vec![
        route(5, "orders", "routed", 0, "v1"),
        route(10_000, "istiod", "push", 1, "v1=50,v2=50"),
        route(10_200, "gateway", "applied", 1, "v1=50,v2=50"),
        route(10_500, "orders", "routed", 0, "v1"),
        route(11_000, "orders", "applied", 1, "v1=50,v2=50"),
        route(11_500, "orders", "routed", 1, "v2"),
        route(11_600, "orders", "matched", 1, "v2"),
        route(20_000, "istiod", "push", 2, "v2=100"),
        route(20_050, "orders", "applied", 2, "v2=100"),
        route(21_000, "gateway", "applied", 2, "v2=100"),
        route(21_100, "orders", "routed", 2, "v2"),
    ]
}

fn fed(lines: &[TraceLine]) -> MeshConfigs {
    let mut m = MeshConfigs::new();
    for l in lines {
        m.note(l);
    }
    m
}

fn at(ms: u64) -> SimTime {
    SimTime(ms * MS)
}

#[test]
fn each_proxy_keeps_its_configuration_until_its_own_applied_line() {
    let m = fed(&two_pushes());
    assert!(m.has_pushes());
    assert_eq!(m.proxies(), ["gateway", "orders"]);
    assert_eq!(
        m.bands("gateway"),
        [
            Band { config: 0, from: SimTime::ZERO, until: Some(at(10_200)) },
            Band { config: 1, from: at(10_200), until: Some(at(21_000)) },
            Band { config: 2, from: at(21_000), until: None },
        ]
    );
    assert_eq!(
        m.bands("orders"),
        [
            Band { config: 0, from: SimTime::ZERO, until: Some(at(11_000)) },
            Band { config: 1, from: at(11_000), until: Some(at(20_050)) },
            Band { config: 2, from: at(20_050), until: None },
        ]
    );
    // Pushed at 10 s and applied by the gateway at 10.2 s: orders is still on 0 until 11 s.
    assert_eq!(m.config_at("orders", at(10_000)), 0);
    assert_eq!(m.config_at("orders", at(10_900)), 0);
    assert_eq!(m.config_at("gateway", at(10_900)), 1);
    assert_eq!(m.config_at("orders", at(11_000)), 1, "in force from its applied line on");
    assert_eq!(m.config_at("orders", at(20_500)), 2);
    assert_eq!(m.config_at("gateway", at(20_500)), 1);
    // A proxy that applied nothing has no timeline (the trace says nothing of it).
    assert!(m.bands("catalog").is_empty());
    let p = m.push(2).expect("push 2");
    assert_eq!((p.pushed, p.change.as_str()), (at(20_000), "v2=100"));
    assert!(m.push(0).is_none(), "configuration 0 is the scenario's own: nobody pushed it");
}

#[test]
fn requests_are_counted_per_configuration_and_subset() {
    let m = fed(&two_pushes());
    let routed = m.routed("payments");
    let r = |config, subset: &str, requests, by_header| Routed {
        config,
        subset: subset.to_owned(),
        requests,
        by_header,
    };
    assert_eq!(routed, [r(0, "v1", 2, 0), r(1, "v2", 2, 1), r(2, "v2", 1, 0)]);
    assert!(m.routed("catalog").is_empty());
}

#[test]
fn without_pushes_there_is_no_timeline() {
    // Routing by a declared route only, and lines of other kinds.
    let mut lines = vec![route(5, "gateway", "routed", 0, "v1")];
    lines.push(TraceLine {
        t: at(6),
        event: TraceEvent::Ejected {
            caller: "gateway".into(),
            service: "payments".into(),
            replica: 0,
            until_ns: 7,
        },
    });
    let m = fed(&lines);
    assert!(!m.has_pushes());
    assert!(m.proxies().is_empty());
    assert!(m.bands("gateway").is_empty());
    assert_eq!(m.routed("payments").len(), 1);
}

#[test]
fn two_pushes_landing_at_one_instant_apply_in_configuration_order() {
    let m = fed(&[
        route(1_000, "istiod", "push", 1, "a"),
        route(1_001, "istiod", "push", 2, "b"),
        route(3_000, "gateway", "applied", 1, "a"),
        route(3_000, "gateway", "applied", 2, "b"),
    ]);
    let configs: Vec<u32> = m.bands("gateway").iter().map(|b| b.config).collect();
    assert_eq!(configs, [0, 1, 2]);
    assert_eq!(m.config_at("gateway", at(3_000)), 2);
}

/// Runs a shipped scenario for `seconds`, feeds its whole trace to the tracker, and checks it
/// against the report and against the proxies' own routing.
fn agrees_with_the_report(rel: &str, seconds: f64, pushes: usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    let loaded = fusebench_sim::load::load(&path).expect("loads");
    let runtime = build_runtime(&loaded.scenario, &loaded.files).expect("modules load");
    let mut o = RunOptions::new(1);
    o.trace = TraceMode::Full;
    o.duration = Some(SimTime::from_secs_f64(seconds));
    let result = Sim::new(loaded.scenario.clone(), Box::new(runtime), &o).run();
    let lines: Vec<TraceLine> = trace::read(&result.trace).map(|l| l.expect("reads")).collect();
    let m = fed(&lines);
    let report = Report::new(&result, &loaded.scenario);
    let routes = report.mesh_routes.as_ref().expect("the report has a Mesh routes section");
    assert_eq!(m.pushes().len(), pushes);
    assert_eq!(routes.pushes.len(), pushes);
    // Every proxy's bands start where the report says it applied each push.
    let mut applies = 0;
    for p in &routes.pushes {
        assert!(!p.applied.is_empty(), "config {} reached its proxies within the run", p.config);
        for a in &p.applied {
            let band = m.bands(&a.proxy).into_iter().find(|b| b.config == p.config);
            let band = band.unwrap_or_else(|| panic!("{} has no band {}", a.proxy, p.config));
            assert_eq!(band.from.as_secs_f64(), a.at_s, "{} config {}", a.proxy, p.config);
            applies += 1;
        }
    }
    // Each proxy went through every configuration in order, 0 first.
    assert!(m.proxies().len() >= 2, "the gateway and at least one sidecar: {:?}", m.proxies());
    for proxy in m.proxies() {
        let configs: Vec<u32> = m.bands(proxy).iter().map(|b| b.config).collect();
        let expected: Vec<u32> = (0..=pushes as u32).collect();
        assert_eq!(configs, expected, "{proxy}");
    }
    assert_eq!(applies, m.proxies().len() * pushes);
    // Each request a proxy routed went by the configuration the tracker says it held then.
    let mut checked = 0;
    for l in &lines {
        if let TraceEvent::MeshRoute { proxy, action, config, .. } = &l.event
            && (action == "routed" || action == "matched")
        {
            assert_eq!(m.config_at(proxy, l.t), *config, "{proxy} at {:?}", l.t);
            checked += 1;
        }
    }
    // The requests per configuration and subset are the report's.
    let from_report: Vec<(String, u32, String, u64, u64)> = routes
        .routed
        .iter()
        .map(|r| (r.service.clone(), r.config, r.subset.clone(), r.requests, r.by_header))
        .collect();
    let services: std::collections::BTreeSet<&String> =
        m.log().routed.keys().map(|k| &k.0).collect();
    let from_tracker: Vec<(String, u32, String, u64, u64)> = services
        .into_iter()
        .flat_map(|s| {
            m.routed(s)
                .into_iter()
                .map(move |r| (s.clone(), r.config, r.subset, r.requests, r.by_header))
        })
        .collect();
    assert_eq!(from_tracker, from_report);
    assert_eq!(from_report.iter().map(|r| r.3).sum::<u64>(), checked);
    // The same log the simulator kept while it ran.
    assert_eq!(m.log(), &result.mesh_routes);
}

#[test]
fn the_canary_s_two_pushes_agree_with_the_report_and_with_each_proxy_s_routing() {
    agrees_with_the_report("scenarios/mesh/shop-canary.toml", 22.0, 2);
}

#[test]
fn the_retry_budget_push_agrees_with_the_report() {
    agrees_with_the_report("scenarios/mesh/storm-budget-push.toml", 20.0, 1);
}
