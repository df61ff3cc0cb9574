use super::*;

const SHOP: &str = include_str!("../../../scenarios/shop/shop.toml");

fn show(text: &str, edits: &[Edit]) {
    let out = apply(text, edits).expect("applies");
    let a: Vec<&str> = text.lines().collect();
    let b: Vec<&str> = out.lines().collect();
    let p = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let s = a[p..].iter().rev().zip(b[p..].iter().rev()).take_while(|(x, y)| x == y).count();
    eprintln!("=== {edits:?}\n--- {:?}\n+++ {:?}", &a[p..a.len() - s], &b[p..b.len() - s]);
}

#[test]
fn explore() {
    let n = |s: &str| NameRef::new(s);
    show(SHOP, &[Edit::Replicas { service: "orders".into(), replicas: 4 }]);
    show(SHOP, &[Edit::Replicas { service: "shipping".into(), replicas: 4 }]);
    show(SHOP, &[Edit::Quality { field: QualityField::ConvergenceMs, value: 2500.0 }]);
    show(SHOP, &[Edit::Quality { field: QualityField::CouplingMax, value: 0.45 }]);
    show(SHOP, &[Edit::Slo { index: 0, field: SloField::ThroughputMinRps, value: Some(50.0) }]);
    show(SHOP, &[Edit::Slo { index: 0, field: SloField::P99Ms, value: None }]);
    show(SHOP, &[Edit::ArrivalRate { rate_rps: 250.5 }]);
    show(SHOP, &[Edit::RemoveFault { index: 0 }]);
    show(SHOP, &[Edit::RemoveFault { index: 1 }]);
    let spec = FaultSpec {
        kind: FaultKind::Loss { rate: 0.1 },
        target: FaultTarget::Link { between: [n("edge-paris"), n("cloud-eu")] },
        at_s: 1.5,
        duration_s: Some(2.0),
    };
    show(SHOP, &[Edit::AddFault(spec.clone())]);
    let nofault = &SHOP[..SHOP.find("[[fault]]").expect("f")];
    show(nofault, &[Edit::AddFault(spec.clone()), Edit::AddFault(spec.clone())]);
    let noq = SHOP.replace("[quality]\ncoupling_max = 0.5\ncohesion_min = 0.3\nfuel_budget = 20_000_000\nmemory_max_kib = 1024\n", "");
    show(&noq, &[Edit::Quality { field: QualityField::ConvergenceMs, value: 2500.0 }]);
    let inl = SHOP.replace(
        "arrival = { kind = \"poisson\", rate_rps = 200 }",
        "arrival = {kind=\"poisson\"}",
    );
    show(&inl, &[Edit::ArrivalRate { rate_rps: 250.5 }]);
    let inl = SHOP.replace("arrival = { kind = \"poisson\", rate_rps = 200 }", "");
    show(&inl, &[Edit::ArrivalRate { rate_rps: 250.5 }]);
    let crlf = SHOP.replace('\n', "\r\n");
    let out = apply(&crlf, &[Edit::Replicas { service: "orders".into(), replicas: 4 }]).expect("x");
    eprintln!("crlf: {} lf-only lines", out.matches('\n').count() - out.matches("\r\n").count());
    let out = apply(SHOP, &[Edit::Replicas { service: "orders".into(), replicas: 3 }]).expect("x");
    eprintln!("same: {}", out == SHOP);
}
