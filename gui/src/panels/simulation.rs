//! Run controls (seed, duration, run / pause / step / reset, speed) and live plots of the
//! run: latency percentiles, throughput and errors, queue depth, replication lag.

use eframe::egui::{self, Color32, Rect, RichText, Sense, Shape, Stroke, vec2};
use egui_plot::{Line, LineStyle, Plot};
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

/// One line of a live plot.
struct Series {
    name: String,
    points: Vec<[f64; 2]>,
    colour: Color32,
    /// Dashed: the secondary line of a pair (p50 beside p99, errors beside answers).
    dashed: bool,
}

/// What one live plot shows, and what it says when that is nothing.
struct PlotSpec {
    id: &'static str,
    title: &'static str,
    series: Vec<Series>,
    /// Shown instead of empty axes when no series has a point.
    why_empty: &'static str,
}

/// Where a live plot was drawn, for tests that check the legend stays off the data.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnPlot {
    pub title: &'static str,
    /// The legend strip above the plot (`None` when nothing is plotted).
    pub legend: Option<Rect>,
    /// The plot's data area, inside its axes (`None` when nothing is plotted).
    pub data: Option<Rect>,
    /// The sentence shown instead of the plot when it has nothing to show.
    pub why_empty: Option<&'static str>,
}

/// Draws one plot in `height` points: its title, then either a legend strip and the plot
/// below it (the legend is never inside the plot area, so it cannot hide data, however many
/// series there are or wherever their values lie), or the sentence saying why there is
/// nothing to plot instead of axes around an empty area.
fn plot(ui: &mut egui::Ui, spec: PlotSpec, height: f32) -> DrawnPlot {
    let width = ui.available_width().max(100.0);
    ui.vertical(|ui| {
        ui.label(RichText::new(spec.title).strong());
        if spec.series.iter().all(|s| s.points.is_empty()) {
            let (rect, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
            ui.painter().rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            ui.scope_builder(
                egui::UiBuilder::new()
                    .max_rect(rect.shrink(12.0))
                    .layout(egui::Layout::centered_and_justified(egui::Direction::TopDown)),
                |ui| ui.weak(spec.why_empty),
            );
            return DrawnPlot {
                title: spec.title,
                legend: None,
                data: None,
                why_empty: Some(spec.why_empty),
            };
        }
        let legend = ui
            .horizontal_wrapped(|ui| {
                ui.set_max_width(width);
                for s in &spec.series {
                    legend_entry(ui, s);
                }
            })
            .response
            .rect;
        let response = Plot::new(spec.id)
            .height((height - legend.height() - 4.0).max(60.0))
            .width(width)
            .include_y(0.0)
            .show(ui, |p| {
                for s in spec.series {
                    let style = if s.dashed { LineStyle::dashed_dense() } else { LineStyle::Solid };
                    p.line(Line::new(s.name, s.points).color(s.colour).style(style).width(1.5));
                }
            });
        DrawnPlot {
            title: spec.title,
            legend: Some(legend),
            data: Some(*response.transform.frame()),
            why_empty: None,
        }
    })
    .inner
}

/// A swatch of the series' line (dashed or solid, in its colour) and its name, as one widget
/// so that the legend wraps between entries, never inside one.
fn legend_entry(ui: &mut egui::Ui, s: &Series) {
    let font = egui::TextStyle::Small.resolve(ui.style());
    let text = ui.visuals().text_color();
    let galley = ui.painter().layout_no_wrap(s.name.clone(), font, text);
    const SWATCH: f32 = 22.0;
    let size = vec2(SWATCH + 4.0 + galley.size().x, galley.size().y.max(10.0));
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &s.name));
    let y = rect.center().y;
    let (a, b) = (egui::pos2(rect.left(), y), egui::pos2(rect.left() + SWATCH, y));
    let stroke = Stroke::new(2.0, s.colour);
    if s.dashed {
        ui.painter().extend(Shape::dashed_line(&[a, b], stroke, 5.0, 3.0));
    } else {
        ui.painter().line_segment([a, b], stroke);
    }
    let at = egui::pos2(rect.left() + SWATCH + 4.0, rect.center().y - galley.size().y / 2.0);
    ui.painter().galley(at, galley, text);
}

/// The four live plots, two by two. Returns where each was drawn.
pub fn plots_ui(ui: &mut egui::Ui, samples: &[Sample]) -> Vec<DrawnPlot> {
    if samples.is_empty() {
        ui.weak("Plots appear as the run produces samples (every 1 % of its duration).");
        return Vec::new();
    }
    let endpoints = busiest(samples, |s| &s.endpoints, |e| e.throughput_rps);
    let services = busiest(samples, |s| &s.services, |v| v.queue_depth as f64 + v.utilisation);
    let stores = busiest(samples, |s| &s.replication_lag_ms, |v| *v);
    let series = |name: &str, colour: Color32, dashed: bool, f: &dyn Fn(&Sample) -> Option<f64>| {
        let points = samples.iter().filter_map(|s| Some([s.t_s, f(s)?])).collect();
        Series { name: plain(name).into_owned(), points, colour, dashed }
    };
    // An interval without a successful answer has no latency: no point, rather than a 0.
    let answered = |e: &fusebench_sim::metrics::EndpointSample| e.throughput_rps > e.errors_rps;
    let mut latency = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let c = theme::series(i);
        let endpoint = |s: &Sample| s.endpoints.get(*e).filter(|x| answered(x)).copied();
        latency.push(series(&format!("{e} p99"), c, false, &|s| endpoint(s).map(|x| x.p99_ms)));
        latency.push(series(&format!("{e} p50"), c, true, &|s| endpoint(s).map(|x| x.p50_ms)));
    }
    let mut traffic: Vec<Series> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            series(&format!("{e} req/s"), theme::series(i), false, &|s| {
                s.endpoints.get(*e).map(|x| x.throughput_rps)
            })
        })
        .collect();
    if !endpoints.is_empty() {
        traffic.push(series("errors/s (all)", theme::FAIL, true, &|s| {
            Some(s.endpoints.values().map(|x| x.errors_rps).sum())
        }));
    }
    // Queues that never held a request are flat zeros: nothing to see.
    let waited =
        |v: &str| samples.iter().any(|s| s.services.get(v).is_some_and(|x| x.queue_depth > 0));
    let queues: Vec<Series> = services
        .iter()
        .filter(|v| waited(v))
        .enumerate()
        .map(|(i, v)| {
            series(v, theme::series(i), false, &|s| {
                s.services.get(*v).map(|x| x.queue_depth as f64)
            })
        })
        .collect();
    let lag: Vec<Series> = stores
        .iter()
        .enumerate()
        .map(|(i, st)| {
            series(st, theme::series(i), false, &|s| s.replication_lag_ms.get(*st).copied())
        })
        .collect();
    let specs = [
        PlotSpec {
            id: "latency",
            title: "Latency percentiles (ms)",
            series: latency,
            why_empty: "No request has been answered successfully yet, so there is no latency \
                        to show.",
        },
        PlotSpec {
            id: "throughput",
            title: "Throughput and errors (per s)",
            series: traffic,
            why_empty: "No endpoint has received a request yet.",
        },
        PlotSpec {
            id: "queue",
            title: "Queue depth",
            series: queues,
            why_empty: "No request has waited in a queue: every one found a free instance.",
        },
        PlotSpec {
            id: "lag",
            title: "Replication lag (ms)",
            series: lag,
            why_empty: "No replicated write yet: lag is measured when a store with replicas \
                        copies a write (this design may have none).",
        },
    ];
    let height = ((ui.available_height() - 60.0) / 2.0).clamp(90.0, 260.0);
    let width = ui.available_width() / 2.0 - 8.0;
    let mut drawn = Vec::with_capacity(specs.len());
    ui.columns(2, |cols| {
        cols[0].set_max_width(width);
        for (i, spec) in specs.into_iter().enumerate() {
            drawn.push(plot(&mut cols[i % 2], spec, height));
        }
    });
    drawn
}

/// Default run settings for a design: its workload's duration at real-time speed.
#[must_use]
pub fn default_settings(design: &Design, seed: u64) -> RunSettings {
    let duration_s = design.scenario().workload.as_ref().map_or(10.0, |w| w.duration_s);
    RunSettings { seed, duration_s, speed: Some(1.0) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use fusebench_sim::metrics::{EndpointSample, ServiceSample};

    use super::*;

    /// `endpoints` busy endpoints, latency highest where a legend in a plot's corner would sit
    /// (top left and top right), and queues at `queue` requests.
    fn samples(endpoints: usize, queue: u64, lag: Option<f64>) -> Vec<Sample> {
        (0..20)
            .map(|k| {
                let t_s = f64::from(k) * 0.1;
                let corner = if !(3..=16).contains(&k) { 500.0 } else { 10.0 };
                let endpoints = (0..endpoints)
                    .map(|i| {
                        let e = EndpointSample {
                            throughput_rps: 100.0 + i as f64,
                            errors_rps: 1.0,
                            p50_ms: corner / 2.0,
                            p99_ms: corner,
                        };
                        (format!("svc-{i}.serve"), e)
                    })
                    .collect();
                let service = ServiceSample {
                    queue_depth: queue,
                    utilisation: 0.5,
                    live_instances: 1,
                    fuel_per_request: 0.0,
                };
                Sample {
                    t_s,
                    endpoints,
                    services: BTreeMap::from([("svc-0".to_owned(), service)]),
                    cache_hit_ratio: BTreeMap::new(),
                    replication_lag_ms: lag
                        .map(|l| BTreeMap::from([("db".to_owned(), l)]))
                        .unwrap_or_default(),
                    consumer_lag: BTreeMap::new(),
                }
            })
            .collect()
    }

    fn harness(samples: Vec<Sample>) -> Harness<'static, Vec<DrawnPlot>> {
        let mut h = Harness::builder().with_size([1400.0, 700.0]).build_ui_state(
            move |ui, drawn: &mut Vec<DrawnPlot>| *drawn = plots_ui(ui, &samples),
            Vec::new(),
        );
        h.run_steps(2);
        h
    }

    /// Many series (the legend wraps over several rows): every legend entry is drawn, and each
    /// one lies above its plot's data area, never on it.
    #[test]
    fn legends_sit_above_the_data_never_on_it() {
        let h = harness(samples(8, 3, Some(12.0)));
        let drawn = h.state().clone();
        assert_eq!(drawn.len(), 4);
        for p in &drawn {
            let (legend, data) = (p.legend.expect("a legend"), p.data.expect("a plot"));
            assert!(p.why_empty.is_none(), "{}", p.title);
            assert!(data.width() > 100.0 && data.height() > 30.0, "{}: {data:?}", p.title);
            assert!(
                legend.max.y <= data.min.y,
                "{}: legend {legend:?} over data {data:?}",
                p.title
            );
        }
        // The six busiest endpoints (the last six), p99 and p50 each: the legend wraps, and
        // still every entry is outside the data area of the latency plot, and inside its column.
        let (latency, throughput) = (drawn[0].data.unwrap(), drawn[1].data.unwrap());
        let legend = drawn[0].legend.unwrap();
        assert!(legend.max.x <= throughput.min.x, "{legend:?} reaches into {throughput:?}");
        for i in 8 - LINES_MAX..8 {
            for which in ["p99", "p50"] {
                let entry = h.get_by_label(&format!("svc-{i}.serve {which}")).rect();
                assert!(!entry.intersects(latency), "svc-{i}.serve {which}: {entry:?}");
                assert!(drawn[0].legend.unwrap().contains_rect(entry), "{entry:?}");
            }
        }
        assert!(h.query_by_label("svc-1.serve p99").is_none(), "at most LINES_MAX endpoints");
    }

    /// No queueing and no replicated store: those two plots say why instead of drawing axes;
    /// the others still plot.
    #[test]
    fn an_empty_plot_says_why_instead_of_drawing_axes() {
        let h = harness(samples(1, 0, None));
        let drawn = h.state().clone();
        let by_title = |t: &str| drawn.iter().find(|p| p.title == t).expect(t);
        for title in ["Queue depth", "Replication lag (ms)"] {
            let p = by_title(title);
            let why = p.why_empty.expect("a reason");
            assert!(p.data.is_none() && p.legend.is_none(), "{title}: no axes, no legend");
            h.get_by_label(why);
        }
        for title in ["Latency percentiles (ms)", "Throughput and errors (per s)"] {
            let p = by_title(title);
            assert!(p.why_empty.is_none() && p.data.is_some(), "{title} plots");
        }
        // Every request failed: no latency to plot, and the plot says so.
        let mut failed = samples(1, 0, None);
        for s in &mut failed {
            for e in s.endpoints.values_mut() {
                e.errors_rps = e.throughput_rps;
            }
        }
        let h = harness(failed);
        let latency = &h.state()[0];
        assert_eq!(latency.title, "Latency percentiles (ms)");
        h.get_by_label(latency.why_empty.expect("no successful answer"));
    }
}
