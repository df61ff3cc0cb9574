//! Run controls (seed, duration, run / pause / step / reset, speed) and live plots of the
//! run: latency percentiles, throughput and errors, queue depth, replication lag.

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, Plot};
use fusebench_model::text::plain;
use fusebench_sim::metrics::Sample;
use fusebench_sim::report::Report;

use crate::command::Command;
use crate::live::{LiveRun, RunSettings, RunState};
use crate::session::Design;
use crate::theme;
use crate::view::ViewState;

/// Series drawn per plot at most (the busiest first), so a 1,000-service system stays legible.
const LINES_MAX: usize = 6;

const SPEEDS: [(Option<f64>, &str); 6] = [
    (Some(0.1), "0.1×"),
    (Some(0.5), "0.5×"),
    (Some(1.0), "1×"),
    (Some(5.0), "5×"),
    (Some(20.0), "20×"),
    (None, "max"),
];

pub fn controls_ui(
    ui: &mut egui::Ui,
    design: &Design,
    run: Option<&LiveRun>,
    view: &mut ViewState,
    out: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        super::labelled(
            ui,
            "seed",
            egui::DragValue::new(&mut view.settings.seed).range(0..=u64::MAX),
        );
        super::labelled(
            ui,
            "duration s",
            egui::DragValue::new(&mut view.settings.duration_s).range(0.1..=3600.0).speed(0.5),
        );
        ui.separator();
        let runnable = design.unrunnable.is_none();
        let state = run.map(|r| r.state);
        let label = match state {
            None | Some(RunState::Finished) => "Run",
            Some(RunState::Paused) => "Resume",
            Some(RunState::Running) => "Pause",
        };
        if ui.add_enabled(runnable, egui::Button::new(label)).clicked() {
            out.push(match state {
                Some(RunState::Running) => Command::Pause,
                Some(RunState::Paused) => Command::Play,
                None | Some(RunState::Finished) => {
                    Command::NewRun { settings: view.settings.clone(), play: true }
                }
            });
        }
        let can_step = runnable && state != Some(RunState::Finished);
        if ui.add_enabled(can_step, egui::Button::new("Step")).clicked() {
            if state.is_none() {
                out.push(Command::NewRun { settings: view.settings.clone(), play: false });
            }
            out.push(Command::Step);
        }
        if ui.add_enabled(runnable, egui::Button::new("Reset")).clicked() {
            out.push(Command::NewRun { settings: view.settings.clone(), play: false });
        }
        ui.separator();
        ui.label("speed");
        for (speed, name) in SPEEDS {
            if ui.selectable_label(view.settings.speed == speed, name).clicked() {
                view.settings.speed = speed;
                out.push(Command::SetSpeed(speed));
            }
        }
        if let Some(why) = &design.unrunnable {
            ui.colored_label(theme::FAIL, format!("cannot run: {}", plain(why)));
        }
    });
    if let Some(r) = run {
        ui.horizontal(|ui| {
            let text = format!(
                "t = {:.3} / {:.1} s · {} trace events",
                r.now().as_secs_f64(),
                r.end.as_secs_f64(),
                r.events
            );
            ui.add(egui::ProgressBar::new(r.progress()).text(text).desired_width(420.0));
            if let Some(report) = &r.report {
                ui.label(summary(report));
            }
        });
        if let Some(e) = &r.trace_error {
            ui.colored_label(theme::FAIL, format!("traffic not shown for a trace line: {e}"));
        }
    }
}

/// The one-line result of a finished run.
#[must_use]
pub fn summary(r: &Report) -> String {
    let failed =
        r.slos.iter().filter(|v| v.verdict == fusebench_sim::report::SloStatus::Fail).count();
    let slos = match (r.slos.len(), failed) {
        (0, _) => "no SLOs".to_owned(),
        (n, 0) => format!("SLOs met ({n})"),
        (n, f) => format!("{f} of {n} SLOs missed"),
    };
    format!(
        "Run finished: {} requests, {} answered, {} events, {slos}",
        r.requests_sent, r.requests_answered, r.events
    )
}

fn busiest<'a, V: 'a>(
    samples: &'a [Sample],
    get: impl Fn(&'a Sample) -> &'a std::collections::BTreeMap<String, V>,
    weight: impl Fn(&V) -> f64,
) -> Vec<&'a str> {
    let mut totals: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for s in samples {
        for (k, v) in get(s) {
            *totals.entry(k.as_str()).or_default() += weight(v);
        }
    }
    let mut names: Vec<(&str, f64)> = totals.into_iter().collect();
    names.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    names.into_iter().take(LINES_MAX).map(|(k, _)| k).collect()
}

fn plot(ui: &mut egui::Ui, id: &str, title: &str, height: f32, lines: Vec<Line<'_>>) {
    ui.vertical(|ui| {
        ui.label(RichText::new(title).strong());
        Plot::new(id)
            .legend(Legend::default().text_style(egui::TextStyle::Small).background_alpha(0.5))
            .height(height)
            .width(ui.available_width().max(100.0))
            .include_y(0.0)
            .show(ui, |p| {
                for l in lines {
                    p.line(l);
                }
            });
    });
}

/// The four live plots, two by two.
pub fn plots_ui(ui: &mut egui::Ui, samples: &[Sample]) {
    if samples.is_empty() {
        ui.weak("Plots appear as the run produces samples (every 1 % of its duration).");
        return;
    }
    let endpoints = busiest(samples, |s| &s.endpoints, |e| e.throughput_rps);
    let services = busiest(samples, |s| &s.services, |v| v.queue_depth as f64 + v.utilisation);
    let stores = busiest(samples, |s| &s.replication_lag_ms, |v| *v);
    let series = |name: &str, f: &dyn Fn(&Sample) -> Option<f64>| -> Line<'static> {
        let pts: Vec<[f64; 2]> = samples.iter().filter_map(|s| Some([s.t_s, f(s)?])).collect();
        Line::new(plain(name).into_owned(), pts)
    };
    let height = ((ui.available_height() - 60.0) / 2.0).clamp(90.0, 260.0);
    let width = ui.available_width() / 2.0 - 8.0;
    ui.columns(2, |cols| {
        let latency: Vec<Line<'_>> = endpoints
            .iter()
            .flat_map(|e| {
                [
                    series(&format!("{e} p50"), &|s| s.endpoints.get(*e).map(|x| x.p50_ms)),
                    series(&format!("{e} p99"), &|s| s.endpoints.get(*e).map(|x| x.p99_ms)),
                ]
            })
            .collect();
        cols[0].set_max_width(width);
        plot(&mut cols[0], "latency", "Latency percentiles (ms)", height, latency);
        let mut traffic: Vec<Line<'_>> = endpoints
            .iter()
            .map(|e| {
                series(&format!("{e} req/s"), &|s| s.endpoints.get(*e).map(|x| x.throughput_rps))
            })
            .collect();
        traffic.push(series("errors/s (all)", &|s| {
            Some(s.endpoints.values().map(|x| x.errors_rps).sum())
        }));
        plot(&mut cols[1], "throughput", "Throughput and errors (per s)", height, traffic);
        let queues: Vec<Line<'_>> = services
            .iter()
            .map(|v| series(v, &|s| s.services.get(*v).map(|x| x.queue_depth as f64)))
            .collect();
        plot(&mut cols[0], "queue", "Queue depth", height, queues);
        let lag: Vec<Line<'_>> = stores
            .iter()
            .map(|st| series(st, &|s| s.replication_lag_ms.get(*st).copied()))
            .collect();
        plot(&mut cols[1], "lag", "Replication lag (ms)", height, lag);
    });
}

/// Default run settings for a design: its workload's duration at real-time speed.
#[must_use]
pub fn default_settings(design: &Design, seed: u64) -> RunSettings {
    let duration_s = design.scenario().workload.as_ref().map_or(10.0, |w| w.duration_s);
    RunSettings { seed, duration_s, speed: Some(1.0) }
}
