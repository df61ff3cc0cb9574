//! `report.md`: a run's report as Markdown tables, for people and for CI job summaries.
//!
//! Every name (system, services, endpoints, stores, channels, fault causes) comes from the
//! scenario or the guest and goes through `text::markdown`: it cannot end a cell, open a link or
//! raw HTML, or carry a control character into a CI job summary.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use fusebench_model::text::markdown;

use super::plots::PlotFile;
use super::{Report, SloStatus};

/// Renders `report` as Markdown; `plots` are linked (their SVGs) at the end.
#[must_use]
pub fn render(report: &Report, plots: &[PlotFile]) -> String {
    let mut md = String::new();
    summary(&mut md, report);
    slos(&mut md, report);
    endpoints(&mut md, report);
    super::journeys::render(&mut md, &report.journeys);
    services(&mut md, report);
    autoscaling(&mut md, report);
    cold_starts(&mut md, report);
    stores(&mut md, report);
    channels(&mut md, report);
    rollouts(&mut md, report);
    mesh_routes(&mut md, report);
    if !plots.is_empty() {
        md.push_str("\n## Plots\n");
        for p in plots {
            let _ = write!(md, "\n### {}\n\n![{}]({})\n", p.title, p.title, p.svg());
        }
    }
    md
}

/// The rollouts that started: when, how long, how many replica steps, and how long two
/// versions served side by side.
fn rollouts(md: &mut String, report: &Report) {
    if report.rollouts.is_empty() {
        return;
    }
    md.push_str("\n## Rollouts\n\nFrom the `rollout` trace lines: skew = time two module versions served side by side.\n\n");
    md.push_str("| service | version | started (s) | finished (s) | duration (s) | replica steps | skew (s) |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for r in &report.rollouts {
        let (finished, duration) = match r.finished_s {
            Some(f) => (format!("{f:.3}"), format!("{:.3}", f - r.started_s)),
            None => ("not within the run".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {finished} | {duration} | {} | {:.3} |",
            markdown(&r.service),
            r.version,
            r.started_s,
            r.steps,
            r.skew_s
        );
    }
}

/// The mesh's version routing: each push and when each proxy applied it, then the requests
/// each route configuration sent to each subset.
fn mesh_routes(md: &mut String, report: &Report) {
    let Some(r) = &report.mesh_routes else { return };
    md.push_str("\n## Mesh routes\n\nFrom the `mesh_route` trace lines: configuration 0 is the scenario's own routes, policies and filters; each push publishes the next (a route's weights, `policy` for a destination's resilience policy, `filter` for a filter module, `authz` for an authorization policy, `-` for what it removes), which each proxy applies after its propagation delay (until then it applies the previous one).\n");
    if !r.pushes.is_empty() {
        md.push_str(
            "\n| config | service | change | pushed (s) | proxy | applied (s) | after (ms) |\n",
        );
        md.push_str("|---:|---|---|---:|---|---:|---:|\n");
        for p in &r.pushes {
            if p.applied.is_empty() {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.3} | (none within the run) | — | — |",
                    p.config,
                    markdown(&p.service),
                    markdown(&p.change),
                    p.pushed_s
                );
            }
            for a in &p.applied {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.3} | {} | {:.3} | {:.1} |",
                    p.config,
                    markdown(&p.service),
                    markdown(&p.change),
                    p.pushed_s,
                    markdown(&a.proxy),
                    a.at_s,
                    a.after_ms
                );
            }
        }
    }
    if !r.routed.is_empty() {
        md.push_str("\n| service | config | subset | requests | share | by header |\n");
        md.push_str("|---|---:|---|---:|---:|---:|\n");
        for x in &r.routed {
            let total: u64 = r
                .routed
                .iter()
                .filter(|y| y.service == x.service && y.config == x.config)
                .map(|y| y.requests)
                .sum();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.1} % | {} |",
                markdown(&x.service),
                x.config,
                markdown(&x.subset),
                x.requests,
                100.0 * x.requests as f64 / total.max(1) as f64,
                x.by_header
            );
        }
    }
}

/// Appends one table row. Cells are Markdown already: names in them went through
/// `text::markdown` (which escapes `|`), the rest is fusebench's own text.
fn row(md: &mut String, cells: &[String]) {
    md.push('|');
    for c in cells {
        let _ = write!(md, " {c} |");
    }
    md.push('\n');
}

/// Appends a header row and its separator; `right` marks the right-aligned (numeric) columns.
fn header(md: &mut String, names: &[&str], right: &[bool]) {
    row(md, &names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
    md.push('|');
    for r in right {
        md.push_str(if *r { "---:|" } else { "---|" });
    }
    md.push('\n');
}

fn summary(md: &mut String, r: &Report) {
    let _ = writeln!(md, "# {}: run report (seed {})\n", markdown(&r.system), r.seed);
    let verdict = if r.slos.is_empty() {
        "no SLO declared".to_owned()
    } else if r.slos_met() {
        format!("**PASS**: all {} SLO objectives met", r.slos.len())
    } else {
        let failed = r.slos.iter().filter(|v| v.verdict == SloStatus::Fail).count();
        format!("**FAIL**: {failed} of {} SLO objectives missed", r.slos.len())
    };
    let _ = writeln!(md, "{verdict}\n");
    header(md, &["", ""], &[false, false]);
    let rows = [
        ("system", markdown(&r.system)),
        ("seed", r.seed.to_string()),
        ("workload duration", format!("{:.3} s", r.duration_s)),
        ("simulated until", format!("{:.3} s (drain included)", r.end_s)),
        ("events", r.events.to_string()),
        ("requests sent / answered", format!("{} / {}", r.requests_sent, r.requests_answered)),
        ("guest fuel", r.guest_fuel.to_string()),
        ("trace BLAKE3", format!("`{}`", r.trace_hash)),
    ];
    for (k, v) in rows {
        row(md, &[k.to_owned(), v]);
    }
}

fn slos(md: &mut String, r: &Report) {
    md.push_str("\n## SLO verdicts\n\n");
    if r.slos.is_empty() {
        md.push_str("The scenario declares no SLO.\n");
        return;
    }
    header(md, &["endpoint", "objective", "target", "actual", "verdict"], &[false; 5]);
    for v in &r.slos {
        let actual = v.actual.map_or_else(|| "no data".to_owned(), |a| v.objective.show_value(a));
        let verdict = match v.verdict {
            SloStatus::Pass => "PASS".to_owned(),
            SloStatus::Fail => "**FAIL**".to_owned(),
        };
        row(
            md,
            &[
                markdown(&v.endpoint),
                v.objective.label().to_owned(),
                v.objective.show_target(v.target),
                actual,
                verdict,
            ],
        );
    }
}

fn endpoints(md: &mut String, r: &Report) {
    md.push_str("\n## Endpoints\n\nClient-observed; latency of successful answers, in ms.\n\n");
    if r.endpoints.is_empty() {
        md.push_str("No request was answered.\n");
        return;
    }
    let names = [
        "endpoint",
        "requests",
        "availability",
        "req/s",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
    ];
    let mut right = [true; 10];
    right[0] = false;
    header(md, &names, &right);
    for (name, e) in &r.endpoints {
        let l = &e.latency;
        // No successful answer, no latency: a dash, not a misleading 0.
        let ms = |v: f64| if l.count == 0 { "–".to_owned() } else { format!("{v:.2}") };
        row(
            md,
            &[
                markdown(name),
                e.requests.to_string(),
                format!("{:.3} %", e.availability * 100.0),
                format!("{:.1}", e.throughput_rps),
                ms(l.mean_ms),
                ms(l.p50_ms),
                ms(l.p90_ms),
                ms(l.p99_ms),
                ms(l.p999_ms),
                ms(l.max_ms),
            ],
        );
    }
    // Outcomes: one column per outcome that occurred anywhere.
    let seen: BTreeSet<&str> =
        r.endpoints.values().flat_map(|e| e.outcomes.keys().map(String::as_str)).collect();
    md.push_str("\n### Outcomes\n\n");
    let mut names = vec!["endpoint".to_owned()];
    names.extend(seen.iter().map(|o| markdown(o)));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let right: Vec<bool> = names.iter().enumerate().map(|(i, _)| i > 0).collect();
    header(md, &names, &right);
    for (name, e) in &r.endpoints {
        let mut cells = vec![markdown(name)];
        cells.extend(seen.iter().map(|o| e.outcomes.get(*o).copied().unwrap_or(0).to_string()));
        row(md, &cells);
    }
}

fn services(md: &mut String, r: &Report) {
    md.push_str(
        "\n## Services\n\nUtilisation = CPU time received during the workload (fuel × ns per \
         fuel, plus any declared service time) / (duration × replicas × concurrency; an \
         autoscaled service's replicas are those placed over the workload): a \
         service waiting on its calls has requests in flight (L) but uses little CPU; W = mean \
         time in the service (queue + service); L = mean number in the service during the \
         workload.\n\n",
    );
    let names = [
        "service",
        "replicas × conc.",
        "invocations",
        "utilisation",
        "W (ms)",
        "L",
        "queue max",
        "rejected",
        "refusals",
        "guest faults",
        "fuel/invocation",
    ];
    let mut right = [true; 11];
    right[0] = false;
    header(md, &names, &right);
    for (name, s) in &r.services {
        let faults: u64 = s.guest_faults.values().sum();
        row(
            md,
            &[
                markdown(name),
                format!("{} × {}", s.replicas, s.concurrency),
                s.invocations.to_string(),
                percent(s.utilisation),
                format!("{:.2}", s.mean_sojourn_ms),
                format!("{:.3}", s.mean_in_system),
                s.queue_depth_max.to_string(),
                s.rejected.to_string(),
                s.refusals.to_string(),
                faults.to_string(),
                format!("{:.0}", s.fuel_per_invocation),
            ],
        );
    }
    let denied: Vec<String> = r
        .services
        .iter()
        .filter(|(_, s)| s.denied > 0)
        .map(|(name, s)| format!("{} {}", markdown(name), s.denied))
        .collect();
    if !denied.is_empty() {
        let _ = writeln!(
            md,
            "\nRequests refused by the callee's mesh authorization policy (`rbac`, answered `denied`): {}.",
            denied.join(", ")
        );
    }
    let faults: Vec<String> = r
        .services
        .iter()
        .flat_map(|(name, s)| {
            s.guest_faults
                .iter()
                .map(move |(c, n)| format!("{}: {} × {n}", markdown(name), markdown(c)))
        })
        .collect();
    if !faults.is_empty() {
        md.push_str("\nGuest faults by cause:\n\n");
        for f in faults {
            let _ = writeln!(md, "- {f}");
        }
    }
}

/// The autoscaled services (nothing when none is).
fn autoscaling(md: &mut String, r: &Report) {
    let scaled: Vec<_> =
        r.services.iter().filter_map(|(n, s)| s.autoscale.as_ref().map(|a| (n, s, a))).collect();
    if scaled.is_empty() {
        return;
    }
    md.push_str(
        "\n## Autoscaling\n\nReplicas placed (starting, ready, draining or crashed) hold their \
         node's resources; replica-seconds, their integral over the run, is the cost.\n\n",
    );
    let names = [
        "service",
        "metric",
        "bounds",
        "at start",
        "placed min",
        "placed max",
        "at end",
        "replica-seconds",
    ];
    let mut right = [true; 8];
    right[0] = false;
    right[1] = false;
    header(md, &names, &right);
    for (name, s, a) in scaled {
        row(
            md,
            &[
                markdown(name),
                a.metric.clone(),
                format!("{}..{}", a.min_replicas, a.max_replicas),
                s.replicas.to_string(),
                a.placed_min.to_string(),
                a.placed_max.to_string(),
                a.placed_end.to_string(),
                format!("{:.1}", a.replica_seconds),
            ],
        );
    }
    let predictive: Vec<_> = r
        .services
        .iter()
        .filter_map(|(n, s)| {
            let a = s.autoscale.as_ref()?;
            Some((n, a.policy.as_ref()?, a.policy_faults))
        })
        .collect();
    if !predictive.is_empty() {
        md.push_str(
            "
Scaling policies other than the reactive HPA:

",
        );
        for (name, policy, faults) in predictive {
            md.push_str(&format!("- {}: `{}`", markdown(name), markdown(policy)));
            if let Some(n) = faults {
                md.push_str(&format!(
                    " (policy module; {n} decisions it could not take, the reactive one stood: `policy_fault` lines)"
                ));
            }
            md.push('\n');
        }
    }
}

/// Cold starts: replicas started with their module's cost, and per endpoint the requests that
/// waited in a scale-to-zero service's activator (nothing when there were none).
fn cold_starts(md: &mut String, r: &Report) {
    let cold: Vec<_> = r.services.iter().filter(|(_, s)| !s.cold_starts.is_empty()).collect();
    if cold.is_empty() {
        return;
    }
    md.push_str(
        "\n## Cold starts\n\nA replica started with `cold_start = \"module\"` pays fetching, \
         compiling and instantiating its module (`cold_start` trace lines); a request that found \
         no ready replica of a scale-to-zero service waited in its activator (`activator` \
         lines): that wait is the latency the cold start added.\n\n",
    );
    let names = [
        "service",
        "endpoint",
        "replica cold starts",
        "mean cost ms",
        "requests delayed",
        "added ms total",
        "added ms mean",
        "added ms max",
        "overflow",
        "timeout",
    ];
    let mut right = [true; 10];
    right[0] = false;
    right[1] = false;
    header(md, &names, &right);
    let ms = |n: u64| format!("{:.1}", n as f64 / 1e6);
    for (name, s) in cold {
        let c = &s.cold_starts;
        let mean_cost = c.cost_nanos.checked_div(c.replicas).unwrap_or(0);
        let mut first = true;
        let none = [(String::from("-"), crate::metrics::ActivatorWaits::default())];
        let endpoints: Vec<(String, crate::metrics::ActivatorWaits)> = if c.endpoints.is_empty() {
            none.to_vec()
        } else {
            c.endpoints.iter().map(|(e, w)| (e.clone(), *w)).collect()
        };
        for (endpoint, w) in endpoints {
            let mean = w.waited_nanos_total.checked_div(w.released).unwrap_or(0);
            let (replicas, cost) = if first {
                (c.replicas.to_string(), ms(mean_cost))
            } else {
                (String::new(), String::new())
            };
            first = false;
            row(
                md,
                &[
                    markdown(name),
                    markdown(&endpoint),
                    replicas,
                    cost,
                    w.released.to_string(),
                    ms(w.waited_nanos_total),
                    ms(mean),
                    ms(w.waited_nanos_max),
                    w.overflow.to_string(),
                    w.timeout.to_string(),
                ],
            );
        }
    }
}

/// A fraction as a percentage with three significant digits below 1 %, so a small but real
/// utilisation does not read as 0.00 %.
fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == 0.0 || p >= 1.0 {
        format!("{p:.2} %")
    } else {
        let decimals = (2 - libm::floor(libm::log10(p)) as i32).clamp(2, 9) as usize;
        format!("{p:.decimals$} %")
    }
}

fn stores(md: &mut String, r: &Report) {
    md.push_str(
        "\n## Stores\n\nA cache's reads are its lookups and its writes its puts and \
         invalidations; a broker's reads are the deliveries and its writes the publishes of the \
         channels it carries.\n\n",
    );
    if r.stores.is_empty() {
        md.push_str("The scenario declares no store.\n");
        return;
    }
    let names = [
        "store",
        "kind",
        "replicas",
        "consistency",
        "reads",
        "writes",
        "replications",
        "max replication lag (ms)",
        "cache hit ratio",
    ];
    let right = [false, false, true, false, true, true, true, true, true];
    header(md, &names, &right);
    for (name, d) in &r.stores {
        let hit = d.cache.map_or_else(
            || "–".to_owned(),
            |c| format!("{:.1} % ({} / {})", c.hit_ratio * 100.0, c.hits, c.hits + c.misses),
        );
        row(
            md,
            &[
                markdown(name),
                d.kind.clone(),
                d.replicas.to_string(),
                d.consistency.clone(),
                d.reads.to_string(),
                d.writes.to_string(),
                d.replications.to_string(),
                format!("{:.2}", d.replication_lag_max_ms),
                hit,
            ],
        );
    }
}

fn channels(md: &mut String, r: &Report) {
    md.push_str("\n## Channels\n\n");
    if r.channels.is_empty() {
        md.push_str("No asynchronous channel.\n");
        return;
    }
    let names = [
        "channel",
        "kind",
        "published",
        "delivered",
        "redelivered",
        "duplicated",
        "acked",
        "dead-lettered",
        "consumer lag (end / max)",
    ];
    let right = [false, false, true, true, true, true, true, true, true];
    header(md, &names, &right);
    for (name, c) in &r.channels {
        let s = &c.stats;
        row(
            md,
            &[
                markdown(name),
                c.kind.clone(),
                s.published.to_string(),
                s.delivered.to_string(),
                s.redelivered.to_string(),
                s.duplicated.to_string(),
                s.acked.to_string(),
                s.dead_lettered.to_string(),
                format!("{} / {}", c.consumer_lag_end, c.consumer_lag_max),
            ],
        );
    }
}
