use super::*;
use crate::live::tests::SPARSE;

fn diagram() -> Diagram {
    let s = fusebench_model::parse("sparse.toml", SPARSE).ok().expect("parses");
    Diagram::new(&s)
}

fn line(t: u64, event: TraceEvent) -> TraceLine {
    TraceLine { t: SimTime(t), event }
}

fn refused(caller: &str, target: &str, filter: &str, t: u64) -> TraceLine {
    line(
        t,
        TraceEvent::MeshRefused {
            caller: caller.into(),
            target: target.into(),
            filter: filter.into(),
            req: 1,
        },
    )
}

fn ejected(caller: &str, replica: u32, from_s: u64, until_s: u64) -> TraceLine {
    line(
        from_s * 1_000_000_000,
        TraceEvent::Ejected {
            caller: caller.into(),
            service: "s".into(),
            replica,
            until_ns: until_s * 1_000_000_000,
        },
    )
}

const END: SimTime = SimTime(10_000_000_000);

#[test]
fn refusals_are_counted_on_the_edge_from_the_refusing_proxy_by_filter() {
    let d = diagram();
    let mut m = MeshActivity::new(&d, END);
    for l in [
        refused("gateway", "s.e", DENIED, 1),
        refused("gateway", "s.e", DENIED, 2),
        refused("gateway", "s.e", BREAKER, 3),
        // A plaintext call a STRICT mTLS sidecar refused: a denial too.
        refused("gateway", "s.e", MTLS, 6),
        // No such caller or callee in the graph: nothing to draw it on.
        refused("ghost", "s.e", DENIED, 4),
        refused("gateway", "nowhere.e", DENIED, 5),
    ] {
        m.note(&l, &d);
    }
    let edge = d
        .edge_between(d.fixed(NodeKind::Gateway).expect("gw"), d.service("s").expect("s"))
        .expect("edge");
    assert_eq!(m.denied(edge), 3, "authorization and mTLS denials, not the breaker's");
    let by_filter: Vec<(&str, u64)> =
        m.refused(edge).iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(by_filter, [(BREAKER, 1), (MTLS, 1), (DENIED, 2)]);
    let total: u64 = (0..d.edges.len()).map(|e| m.refused(e).values().sum::<u64>()).sum();
    assert_eq!(total, 4, "the unplaceable refusals are on no edge");
    assert_eq!(m.denied(usize::MAX), 0, "an edge out of range has none");
}

#[test]
fn breaker_refusals_fall_into_fixed_time_bins_as_rates() {
    let d = diagram();
    let s = d.service("s").expect("s");
    let mut m = MeshActivity::new(&d, END);
    assert!(m.breaker_rate(s).is_none(), "none seen: nothing to plot");
    // Bins of 0.1 s: two refusals in the first, one in the last (the end itself included).
    for t in [0, 50_000_000, 10_000_000_000] {
        m.note(&refused("gateway", "s.e", BREAKER, t), &d);
    }
    m.note(&refused("gateway", "s.e", DENIED, 5_000_000_000), &d);
    let rate = m.breaker_rate(s).expect("a series");
    assert_eq!(rate.len(), BINS);
    assert!((rate[0][0] - 0.05).abs() < 1e-9 && (rate[0][1] - 20.0).abs() < 1e-9, "{:?}", rate[0]);
    assert!((rate[BINS - 1][1] - 10.0).abs() < 1e-9);
    let sum: f64 = rate.iter().map(|p| p[1] * 0.1).sum();
    assert!((sum - 3.0).abs() < 1e-9, "a denial is not a breaker refusal: {sum}");
}

#[test]
fn a_replica_counts_as_ejected_while_any_proxy_holds_it_ejected() {
    let d = diagram();
    let s = d.service("s").expect("s");
    let mut m = MeshActivity::new(&d, END);
    assert!(m.ejected_over_time(s).is_empty());
    // Replica 0: the gateway 1–4 s, orders 3–6 s (overlapping: one replica, 1–6 s);
    // replica 1: 5–20 s (past the end: drawn to the end).
    for l in [ejected("gateway", 0, 1, 4), ejected("orders", 0, 3, 6), ejected("gateway", 1, 5, 20)]
    {
        m.note(&l, &d);
    }
    let at = |secs: f64| -> f64 {
        let pts = m.ejected_over_time(s);
        // The value of the step function just after `secs`.
        pts.iter().rev().find(|p| p[0] <= secs).map_or(0.0, |p| p[1])
    };
    for (secs, n) in [(0.5, 0.0), (2.0, 1.0), (3.5, 1.0), (4.5, 1.0), (5.5, 2.0), (7.0, 1.0)] {
        assert_eq!(at(secs), n, "at {secs} s");
    }
    let pts = m.ejected_over_time(s);
    assert_eq!(pts.last().copied(), Some([10.0, 1.0]), "ends at the run's end");
    let (kept, seen) = m.ejections(s);
    assert_eq!((kept.len(), seen), (3, 3));
    assert_eq!(kept[1].caller, "orders");
}

#[test]
fn ejections_beyond_the_cap_are_counted_not_kept() {
    let d = diagram();
    let s = d.service("s").expect("s");
    let mut m = MeshActivity::new(&d, END);
    for i in 0..EJECTIONS_MAX + 5 {
        let l = ejected("gateway", u32::try_from(i).expect("small"), 1, 2);
        m.note(&l, &d);
    }
    let (kept, seen) = m.ejections(s);
    assert_eq!(kept.len(), EJECTIONS_MAX);
    assert_eq!(seen, EJECTIONS_MAX as u64 + 5);
}
