//! Generated scenarios of any size (services, calls, stores, channels over three tiers), for
//! measuring the workbench on systems far larger than the shipped examples. Deterministic:
//! the same size gives the same text.

use std::fmt::Write as _;

/// A small LCG: the generator needs reproducibility, not statistical quality.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

/// A scenario with `services` abstract services in bounded contexts of 25;
/// each calls up to three services after it, owns a store every other service, and one in
/// ten publishes to a channel that a later one consumes.
#[must_use]
pub fn scenario(services: usize) -> String {
    let mut r = Lcg(0x5eed);
    let contexts = services.div_ceil(25).max(1);
    let mut t = String::new();
    let _ = writeln!(t, "[system]\nname = \"synthetic-{services}\"\n");
    for c in 0..contexts {
        let _ = writeln!(t, "[[context]]\nname = \"ctx-{c}\"\n");
    }
    for (name, tier) in [("cloud", "cloud"), ("region", "regional-edge"), ("site", "local-edge")] {
        let _ = writeln!(t, "[[node]]\nname = \"{name}\"\ntier = \"{tier}\"\n");
    }
    let _ = writeln!(
        t,
        "[[link]]\nbetween = [\"site\", \"region\"]\n\n[[link]]\nbetween = [\"region\", \"cloud\"]\n"
    );
    let _ = writeln!(t, "[gateway]\nnode = \"region\"\n");
    let _ = writeln!(t, "[[channel]]\nname = \"rpc\"\nkind = \"grpc\"\n");
    let _ = writeln!(t, "[[store]]\nname = \"bus\"\nkind = \"broker\"\nnodes = [\"cloud\"]\n");
    let topics = services / 10;
    for i in 0..topics {
        let _ = writeln!(
            t,
            "[[channel]]\nname = \"topic-{i}\"\nkind = \"event-stream\"\nbroker = \"bus\"\n"
        );
    }
    for i in (0..services).step_by(2) {
        let _ = writeln!(t, "[[store]]\nname = \"db-{i}\"\nkind = \"kv\"\nnodes = [\"cloud\"]\n");
    }
    let public = (services / 20).max(1);
    for i in 0..services {
        let node = match i % 10 {
            0 => "site",
            1 | 2 => "region",
            _ => "cloud",
        };
        let _ = writeln!(
            t,
            "[[service]]\nname = \"svc-{i}\"\ncontext = \"ctx-{}\"\nnode = \"{node}\"\nreplicas = {}",
            i / 25,
            1 + r.next(3)
        );
        if i % 2 == 0 {
            let _ = writeln!(t, "owns = [\"db-{i}\"]");
        }
        if i % 10 == 0 && i / 10 < topics {
            let _ = writeln!(t, "publishes = [\"topic-{}\"]", i / 10);
        }
        let _ = writeln!(
            t,
            "  [service.service_time]\n  distribution = {{ dist = \"exponential\", mean_ms = 1.0 }}"
        );
        let api = if i < public {
            format!("method = \"POST\"\n  path = \"/svc-{i}\"\n  public = true")
        } else {
            format!("grpc = \"svc.S{i}/Serve\"")
        };
        let _ = writeln!(t, "  [[service.endpoint]]\n  name = \"serve\"\n  {api}");
        if i % 10 == 5 && i / 10 < topics {
            let _ = writeln!(t, "  [[service.endpoint]]\n  name = \"on_event\"");
            let _ = writeln!(
                t,
                "  [[service.subscribe]]\n  channel = \"topic-{}\"\n  endpoint = \"on_event\"",
                i / 10
            );
        }
        let callees = if i + 1 < services { r.next(4) } else { 0 };
        let mut seen = Vec::new();
        for _ in 0..callees {
            let span = (services - i - 1).min(60);
            let j = i + 1 + r.next(span);
            if seen.contains(&j) {
                continue;
            }
            seen.push(j);
            let _ = writeln!(
                t,
                "  [[service.call]]\n  service = \"svc-{j}\"\n  endpoint = \"serve\"\n  channel = \"rpc\""
            );
        }
        t.push('\n');
    }
    let _ = writeln!(
        t,
        "[workload]\nduration_s = 5\norigin = \"region\"\narrival = {{ kind = \"poisson\", rate_rps = 100 }}\n"
    );
    for i in 0..public {
        let _ = writeln!(
            t,
            "  [[workload.mix]]\n  service = \"svc-{i}\"\n  endpoint = \"serve\"\n  weight = 1\n"
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_parse_without_errors() {
        // (the design checks may fail: it is a load scenario, not a good design)
        for n in [1, 10, 120] {
            let text = scenario(n);
            let parsed = fusebench_model::parse("synthetic.toml", &text);
            let errors: Vec<String> = parsed
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect();
            assert!(errors.is_empty(), "{n} services: {errors:#?}");
            let s = parsed.scenario.expect("scenario");
            assert_eq!(s.services.len(), n);
        }
        assert_eq!(scenario(50), scenario(50), "deterministic");
    }
}
