//! A what-if sweep's results (`fusebench sweep`): one [`SweepPoint`] per point of a parameter
//! grid, each summarising the [`Report`]s of that point's runs, and the plot comparing them.
//!
//! Every figure is one the run's report already gives (and `sim/tests/report_agrees.rs`
//! recomputes from the trace), so a point is exactly `fusebench run` of the scenario with the
//! point's edits and the same seed: the latency percentile is the endpoint's
//! `latency.p99_ms`, the availability its successes over its requests, the cost the
//! replica-seconds a provider bills (an autoscaled service's `autoscale.replica_seconds`, the
//! ∫ placed replicas dt of its `replica_state` trace lines; a fixed service's `replicas` ×
//! `end_s`), the cold starts its `cold_starts.replicas` (the trace's `cold_start` lines).
//! Comparing points under the same seeds is the common-random-numbers design of simulation
//! experiments: each seed's streams are named per purpose (`rng.rs`), so a point's edit shifts
//! only the draws it must.

use fusebench_model::text::plain;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use super::plots::{FONT, register_fonts};
use super::{Report, SloStatus};

/// One grid point: its settings and what its runs (one per seed) measured.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// 1-based, in grid order.
    pub point: usize,
    /// `(parameter, value)` per swept parameter, in the order the parameters were given.
    pub settings: Vec<(String, String)>,
    /// The seeds run, in order.
    pub seeds: Vec<u64>,
    /// Answered client requests (of the chosen endpoint, else of every public endpoint),
    /// summed over the seeds.
    pub requests: u64,
    pub successes: u64,
    /// successes / requests; `None` with no request.
    pub availability: Option<f64>,
    /// p99 latency of successful answers, ms: the chosen endpoint's, else the worst endpoint's;
    /// the mean over the seeds that had one. `None` when no request succeeded.
    pub p99_ms: Option<f64>,
    /// Σ over services of replica-seconds (placed replicas × seconds, drain included), summed
    /// over the seeds.
    pub replica_seconds: f64,
    /// Replicas started with a module cold start (`cold_start = "module"`), summed over seeds.
    pub cold_starts: u64,
    /// SLO objectives declared, and those missed in at least one seed (`endpoint objective`).
    pub slo_objectives: usize,
    pub slo_missed: Vec<String>,
    /// Each run's trace hash, in seed order: `fusebench run` of the edited scenario with that
    /// seed prints the same.
    pub trace_hashes: Vec<String>,
}

impl SweepPoint {
    /// Summarises `reports` (one per seed, in seed order). `endpoint` (`service.endpoint`)
    /// restricts the client figures to one endpoint; `None` takes every public endpoint.
    #[must_use]
    pub fn new(
        point: usize,
        settings: Vec<(String, String)>,
        reports: &[Report],
        endpoint: Option<&str>,
    ) -> SweepPoint {
        let mut requests = 0;
        let mut successes = 0;
        let mut p99s = Vec::new();
        let mut replica_seconds = 0.0;
        let mut cold_starts = 0;
        let mut missed = std::collections::BTreeSet::new();
        for r in reports {
            let endpoints = r.endpoints.iter().filter(|(n, _)| endpoint.is_none_or(|e| e == *n));
            let mut worst: Option<f64> = None;
            for (_, e) in endpoints {
                requests += e.requests;
                successes += e.successes;
                if e.latency.count > 0 {
                    worst = Some(worst.map_or(e.latency.p99_ms, |w| w.max(e.latency.p99_ms)));
                }
            }
            p99s.extend(worst);
            for s in r.services.values() {
                replica_seconds += s
                    .autoscale
                    .as_ref()
                    .map_or(f64::from(s.replicas) * r.end_s, |a| a.replica_seconds);
                cold_starts += s.cold_starts.replicas;
            }
            for v in r.slos.iter().filter(|v| v.verdict == SloStatus::Fail) {
                missed.insert((v.endpoint.clone(), v.objective.label()));
            }
        }
        SweepPoint {
            point,
            settings,
            seeds: reports.iter().map(|r| r.seed).collect(),
            requests,
            successes,
            availability: (requests > 0).then(|| successes as f64 / requests as f64),
            p99_ms: (!p99s.is_empty()).then(|| p99s.iter().sum::<f64>() / p99s.len() as f64),
            replica_seconds,
            cold_starts,
            slo_objectives: reports.first().map_or(0, |r| r.slos.len()),
            slo_missed: missed.into_iter().map(|(e, o)| format!("{e} {o}")).collect(),
            trace_hashes: reports.iter().map(|r| r.trace_hash.clone()).collect(),
        }
    }

    /// `PASS`, `FAIL (n)` (objectives missed in some seed), or `–` when none is declared.
    #[must_use]
    pub fn slo_verdict(&self) -> String {
        match (self.slo_objectives, self.slo_missed.len()) {
            (0, _) => "–".to_owned(),
            (_, 0) => "PASS".to_owned(),
            (_, n) => format!("FAIL ({n})"),
        }
    }

    /// The point's values joined (`2 · edge`), for labels.
    #[must_use]
    pub fn label(&self) -> String {
        let values: Vec<String> =
            self.settings.iter().map(|(_, v)| plain(v).into_owned()).collect();
        values.join(" · ")
    }
}

/// Size of the sweep plot, SVG user units.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 960;

/// The sweep plot as SVG: three bar panels over the points in grid order — p99 latency,
/// availability, replica-seconds — each bar labelled with its value, cold starts noted on the
/// cost bars. `title` names the system; `parameters` the swept parameters, in order.
///
/// # Errors
/// The embedded font cannot be read, or plotters cannot draw.
pub fn svg(title: &str, parameters: &[String], points: &[SweepPoint]) -> Result<String, String> {
    register_fonts()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, title, parameters, points)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// More points than this are labelled by number (their settings are in the table).
const MAX_NAMED: usize = 12;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    parameters: &[String],
    points: &[SweepPoint],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(title, (FONT, 28).into_font().style(FontStyle::Bold)).map_err(err)?;
    let named = points.len() <= MAX_NAMED;
    let axis = if named {
        let names: Vec<String> = parameters.iter().map(|p| plain(p).into_owned()).collect();
        format!("point: {}", names.join(" · "))
    } else {
        "point (its settings: the table)".to_owned()
    };
    let labels: Vec<String> =
        points.iter().map(|p| if named { p.label() } else { format!("#{}", p.point) }).collect();
    let panels = body.split_evenly((3, 1));
    let value =
        |f: fn(&SweepPoint) -> Option<f64>| -> Vec<Option<f64>> { points.iter().map(f).collect() };
    let cold: Vec<String> = points
        .iter()
        .map(
            |p| if p.cold_starts > 0 { format!(", {} cold", p.cold_starts) } else { String::new() },
        )
        .collect();
    let bars = [
        Bars {
            y_desc: "p99 latency (ms)",
            values: value(|p| p.p99_ms),
            show: |v| format!("{v:.2}"),
            notes: None,
            color: RGBColor(31, 119, 180),
        },
        Bars {
            y_desc: "availability (%)",
            values: value(|p| p.availability.map(|a| a * 100.0)),
            show: |v| format!("{v:.3}"),
            notes: None,
            color: RGBColor(44, 160, 44),
        },
        Bars {
            y_desc: "replica-seconds",
            values: value(|p| Some(p.replica_seconds)),
            show: |v| format!("{v:.1}"),
            notes: Some(&cold),
            color: RGBColor(255, 127, 14),
        },
    ];
    for (area, bars) in panels.iter().zip(&bars) {
        draw_bars(area, &axis, &labels, bars)?;
    }
    Ok(())
}

/// One panel: a bar per point.
struct Bars<'a> {
    y_desc: &'static str,
    /// `None`: nothing measured at that point (no bar, a dash).
    values: Vec<Option<f64>>,
    show: fn(f64) -> String,
    /// Appended to each bar's value label.
    notes: Option<&'a [String]>,
    color: RGBColor,
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    x_desc: &str,
    labels: &[String],
    bars: &Bars<'_>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = i32::try_from(labels.len()).map_err(|e| e.to_string())?;
    let top = bars.values.iter().flatten().copied().fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.2 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(48)
        .y_label_area_size(86)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
        .map_err(err)?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => {
            usize::try_from(*i).ok().and_then(|i| labels.get(i)).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(labels.len())
        .x_label_formatter(&label_of)
        .x_desc(x_desc)
        .y_desc(bars.y_desc)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 16))
        .light_line_style(RGBColor(236, 236, 236))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    // A bar per measured point, inset from its segment's edges.
    let present =
        bars.values.iter().enumerate().filter_map(|(i, v)| Some((i32::try_from(i).ok()?, (*v)?)));
    chart
        .draw_series(present.map(|(i, v)| {
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)],
                bars.color.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(err)?;
    let style = (FONT, 16).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, v) in bars.values.iter().enumerate() {
        let Ok(x) = i32::try_from(i) else { continue };
        let note = bars.notes.and_then(|n| n.get(i)).map_or("", String::as_str);
        let (text, y) = match v {
            Some(v) => (format!("{}{note}", (bars.show)(*v)), *v),
            None => ("no data".to_owned(), 0.0),
        };
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (SegmentValue::CenterOf(x), y),
                style.clone(),
            )))
            .map_err(err)?;
    }
    Ok(())
}
