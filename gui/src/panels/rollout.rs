//! A service's rollout in the inspector (`[[rollout]]`, a Kubernetes Deployment's
//! RollingUpdate or an in-place swap): its versions, strategy and limits as declared, and,
//! after a run, when it started and finished, how long two versions served side by side, and
//! a plot of the replicas on each version over time — all from the run's trace
//! ([`RolloutActivity`](crate::rollout_activity::RolloutActivity)): nothing here decides.

use eframe::egui::{self, RichText};
use egui_plot::{Line, Plot};
use fusebench_model::Scenario;
use fusebench_model::scenario::{Service, Strategy};
use fusebench_model::text::into_plain;

use crate::live::LiveRun;
use crate::theme;

/// The declared rollout lines of `svc`, if the scenario rolls it out (for the panel and its
/// tests).
#[must_use]
pub fn declared_lines(s: &Scenario, svc: &Service) -> Option<Vec<String>> {
    let r = s.rollouts.iter().find(|r| r.service.name == svc.name)?;
    let old = svc.module.as_ref().map_or("—", |m| m.name.as_str());
    let mut out = vec![
        format!("v0 {old} (declared, {})", svc.version),
        format!("v1 {} from {} s", r.module.name, r.at_s),
    ];
    let limit = |n: Option<u32>, default: &str| n.map_or(default.to_owned(), |n| n.to_string());
    out.push(match r.strategy {
        Strategy::Rolling => format!(
            "rolling: max surge {}, max unavailable {}, start-up {} ms, drain delay {}",
            limit(r.max_surge, "25 % of the desired count"),
            limit(r.max_unavailable, "25 % of the desired count"),
            r.startup_ms,
            r.drain_delay_ms.map_or_else(
                || format!("{} ms (the discovery cache)", s.registry.discovery_cache_ms),
                |d| format!("{d} ms")
            ),
        ),
        Strategy::InPlace => "in place: idle pooled instances dropped between requests".to_owned(),
    });
    for c in &r.endpoints {
        let version = c.version.as_ref().map_or(String::new(), |v| format!(" version {v}"));
        let shapes = [("request", c.request.is_some()), ("response", c.response.is_some())];
        let changed: Vec<&str> = shapes.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
        let changed = if changed.is_empty() {
            String::new()
        } else {
            format!(", new {}", changed.join(" and "))
        };
        out.push(format!("  {}:{version}{changed}", c.endpoint.name));
    }
    Some(out)
}

/// The run's lines of `service`'s rollout: its timeline, or why there is none.
#[must_use]
pub fn run_lines(run: &LiveRun, service: &str) -> Vec<String> {
    let Some(t) = run.rollouts.timeline(service) else {
        return vec!["last run: the rollout did not start".to_owned()];
    };
    let secs = |t: fusebench_sim::time::SimTime| t.as_secs_f64();
    let finished = t.finished.map_or_else(
        || "did not finish within the run".to_owned(),
        |f| format!("finished at {:.3} s (took {:.3} s)", secs(f), secs(f) - secs(t.started)),
    );
    vec![
        format!("Last run: started at {:.3} s, {finished}", secs(t.started)),
        format!(
            "{} replica steps; two versions side by side for {:.3} s",
            t.steps,
            t.skew_ns as f64 / 1e9
        ),
    ]
}

pub fn rollout_ui(ui: &mut egui::Ui, s: &Scenario, svc: &Service, run: Option<&LiveRun>) {
    let Some(declared) = declared_lines(s, svc) else { return };
    ui.separator();
    ui.label(RichText::new("Rollout").strong());
    for line in declared {
        ui.label(RichText::new(into_plain(line)).monospace());
    }
    let Some(run) = run else { return };
    for line in run_lines(run, &svc.name) {
        ui.label(into_plain(line));
    }
    let (old, new) = run.rollouts.replicas_over_time(&svc.name);
    if old.is_empty() && new.is_empty() {
        return;
    }
    ui.label("Replicas per version over the run");
    Plot::new(("rollout-replicas", svc.name.as_str())).height(120.0).allow_scroll(false).show(
        ui,
        |p| {
            p.line(Line::new("old version", old).color(theme::WARN));
            p.line(Line::new("new version", new).color(theme::PASS));
        },
    );
}
