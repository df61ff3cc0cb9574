//! The plots of a run, drawn with plotters as SVG and PNG: latency percentiles over time, the
//! latency CDF per endpoint, throughput and errors over time, queue depth, replication lag,
//! consumer lag. Every time-series plot shades the spans of the run's faults as labelled bands,
//! so a reader sees what was failing when; legends sit beside the plotting area, never on the
//! data; a plot with nothing to show says why instead of drawing axes around nothing.
//!
//! Text is set in DejaVu Sans, embedded in the binary (the `dejavu` crate) and registered with
//! plotters' `ab_glyph` backend (for layout), so no system font is needed; PNG text is set by
//! `typeset` (plotters misplaces glyphs on bitmaps). Each plot is first described as
//! data (`Chart`: lines, axes, units), then drawn by one function for both backends.

use fusebench_model::text::plain;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::{Report, ReportError};

/// Size of every plot, pixels (SVG user units).
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 640;

/// The font family every plot (and every drawing made with plotters elsewhere) uses.
pub const FONT: &str = "sans-serif";

/// One plot, written as `NAME.svg` and `NAME.png`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFile {
    pub name: &'static str,
    pub title: &'static str,
}

impl PlotFile {
    #[must_use]
    pub fn svg(&self) -> String {
        format!("{}.svg", self.name)
    }

    #[must_use]
    pub fn png(&self) -> String {
        format!("{}.png", self.name)
    }
}

/// The plots of a run, in the order they appear in `report.md`.
pub const PLOTS: [PlotFile; 7] = [
    PlotFile { name: "latency", title: "Latency percentiles over time" },
    PlotFile { name: "latency-cdf", title: "Latency CDF per endpoint" },
    PlotFile { name: "throughput", title: "Throughput and errors over time" },
    PlotFile { name: "queue-depth", title: "Queue depth over time" },
    PlotFile { name: "replication-lag", title: "Replication lag over time" },
    PlotFile { name: "consumer-lag", title: "Consumer lag over time" },
    PlotFile { name: "replicas", title: "Ready replicas over time" },
];

/// Draws every plot of `report` into `dir` as SVG and PNG, each file written atomically.
///
/// # Errors
/// A plot that cannot be drawn or a file that cannot be written.
pub fn write_all(dir: &Path, report: &Report) -> Result<Vec<PlotFile>, ReportError> {
    register_fonts().map_err(|reason| ReportError::Plot { plot: "fonts".into(), reason })?;
    for plot in &PLOTS {
        let chart = chart(plot, report);
        let fail = |reason: String| ReportError::Plot { plot: plot.name.to_owned(), reason };
        let svg = render_svg(&chart).map_err(fail)?;
        super::write_file(dir, &plot.svg(), svg.as_bytes())?;
        write_png(&dir.join(plot.png()), &chart)?;
    }
    Ok(PLOTS.to_vec())
}

/// Registers the embedded font once per process (call it before drawing any text).
///
/// # Errors
/// The embedded font cannot be read.
pub fn register_fonts() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err("the embedded DejaVu Sans font cannot be read".to_owned()) }
}

/// The SVG text of `plot` for `report` (fonts must be registered: [`register_fonts`]).
///
/// # Errors
/// The plot cannot be drawn.
pub fn svg(plot: &PlotFile, report: &Report) -> Result<String, String> {
    render_svg(&chart(plot, report))
}

/// The SVG text of a chart.
fn render_svg(chart: &Chart) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Draws a chart as PNG into `path`, atomically.
fn write_png(path: &Path, chart: &Chart) -> Result<(), ReportError> {
    super::png::draw_to_file(path, (WIDTH, HEIGHT), |root| draw(root, chart)).map_err(|e| match e {
        super::png::DrawError::Draw(reason) => {
            ReportError::Plot { plot: path.display().to_string(), reason }
        }
        super::png::DrawError::Write(source) => {
            ReportError::Write { path: path.to_path_buf(), source }
        }
    })
}

// ---- what to draw ----------------------------------------------------------------------------

/// A missing value: the line breaks there (an interval with nothing to measure).
const GAP: f64 = f64::NAN;

/// One series of a chart.
#[derive(Debug, Clone)]
struct Line {
    label: String,
    /// (x, y); a [`GAP`] y breaks the line.
    points: Vec<(f64, f64)>,
    color: RGBColor,
    dashed: bool,
    /// Mark each point (for sparse series, where a line alone would hide single points).
    markers: bool,
}

/// A chart as data: a title, axes with units, lines, and an optional note for empty charts.
#[derive(Debug, Clone)]
struct Chart {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    x: Range<f64>,
    y: Range<f64>,
    x_log: bool,
    lines: Vec<Line>,
    /// Horizontal reference lines with a label (the CDF's p50 and p99).
    guides: Vec<(f64, &'static str)>,
    /// Shown instead of the chart when there is nothing to draw.
    note: Option<String>,
    /// Fault spans drawn as shaded, labelled bands (time charts).
    bands: Vec<Band>,
}

/// A shaded span of the x axis with a label: a fault while it was active.
#[derive(Debug, Clone)]
struct Band {
    label: String,
    from: f64,
    to: f64,
}

/// The fill of fault bands and the colour of their labels.
const BAND_FILL: RGBColor = RGBColor(253, 224, 221);
const BAND_TEXT: RGBColor = RGBColor(165, 15, 21);

/// Distinguishable colours (Tableau 10), by series index.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

fn chart(plot: &PlotFile, r: &Report) -> Chart {
    // Names are untrusted: escaped visibly, and plotters' SVG writer escapes XML syntax.
    let title = format!("{} — {}, seed {}", plot.title, plain(&r.system), r.seed);
    let mut c = match plot.name {
        "latency" => latency_chart(r),
        "latency-cdf" => cdf_chart(r),
        "throughput" => throughput_chart(r),
        "queue-depth" => queue_chart(r),
        "consumer-lag" => consumer_lag_chart(r),
        "replicas" => replicas_chart(r),
        _ => lag_chart(r),
    };
    c.title = title;
    // Whatever the reason a chart's lines hold no value (every interval a gap), axes around
    // an empty area would read as "all zero": say so instead.
    let measured = c.lines.iter().any(|l| l.points.iter().any(|p| p.1.is_finite()));
    if c.note.is_none() && !measured {
        c.note = Some("nothing was measured for this plot in the run".to_owned());
    }
    c
}

fn time_chart(r: &Report, y_desc: &'static str, lines: Vec<Line>) -> Chart {
    let t_max = r.series.last().map_or(1.0, |s| s.t_s).max(1e-3);
    let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    Chart {
        title: String::new(),
        x_desc: "simulated time (s)",
        y_desc,
        x: 0.0..t_max,
        y: 0.0..nice_max(y_max),
        x_log: false,
        lines,
        guides: Vec::new(),
        note: None,
        bands: r
            .faults
            .iter()
            .filter(|f| f.from_s <= t_max)
            .map(|f| Band {
                label: plain(&f.label).into_owned(),
                from: f.from_s,
                to: f.to_s.min(t_max),
            })
            .collect(),
    }
}

/// Some headroom above the largest value (and a usable range when everything is 0).
fn nice_max(v: f64) -> f64 {
    if v > 0.0 { v * 1.08 } else { 1.0 }
}

fn latency_chart(r: &Report) -> Chart {
    let mut lines = Vec::new();
    for (i, name) in r.endpoints.keys().enumerate() {
        // An interval without a successful answer has no latency: a gap, not a 0.
        let points = |pick: fn(&crate::metrics::EndpointSample) -> f64| -> Vec<(f64, f64)> {
            r.series
                .iter()
                .map(|s| match s.endpoints.get(name) {
                    Some(e) if e.throughput_rps > e.errors_rps => (s.t_s, pick(e)),
                    _ => (s.t_s, GAP),
                })
                .collect()
        };
        let (p99, p50) = (points(|e| e.p99_ms), points(|e| e.p50_ms));
        lines.push(Line {
            label: format!("{} p99", plain(name)),
            points: p99,
            color: color(i),
            dashed: false,
            markers: false,
        });
        lines.push(Line {
            label: format!("{} p50", plain(name)),
            points: p50,
            color: color(i),
            dashed: true,
            markers: false,
        });
    }
    let answered = lines.iter().any(|l| l.points.iter().any(|p| p.1.is_finite()));
    let mut c = time_chart(r, "latency of successful requests (ms)", lines);
    if r.endpoints.is_empty() {
        c.note = Some("no request was answered".to_owned());
    } else if !answered {
        c.note =
            Some("no request was answered successfully: every answer was a failure".to_owned());
    }
    c
}

fn cdf_chart(r: &Report) -> Chart {
    let lines: Vec<Line> = r
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| !e.latency_cdf.is_empty())
        .map(|(i, (name, e))| Line {
            label: plain(name).into_owned(),
            points: cdf_steps(&e.latency_cdf),
            color: color(i),
            dashed: false,
            markers: false,
        })
        .collect();
    let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (lo, hi) = if lines.is_empty() { (0.1, 100.0) } else { (lo, hi) };
    // Whole decades, so the log axis is labelled at 0.1, 1, 10, 100 …
    let lo = libm::pow(10.0, libm::floor(libm::log10(lo.max(1e-3))));
    let hi = libm::pow(10.0, libm::ceil(libm::log10(hi.max(lo * 10.0))));
    Chart {
        title: String::new(),
        x_desc: "latency (ms, log scale)",
        y_desc: "fraction of successful requests ≤ latency",
        x: lo..hi,
        y: 0.0..1.02,
        x_log: true,
        note: lines.is_empty().then(|| "no successful request".to_owned()),
        lines,
        guides: vec![(0.5, "p50"), (0.99, "p99")],
        bands: Vec::new(),
    }
}

/// A step function through the CDF points, starting at 0.
fn cdf_steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut steps = Vec::with_capacity(points.len() * 2 + 1);
    let mut prev = 0.0;
    for &(x, y) in points {
        steps.push((x, prev));
        steps.push((x, y));
        prev = y;
    }
    steps
}

fn throughput_chart(r: &Report) -> Chart {
    let mut lines = Vec::new();
    for (i, name) in r.endpoints.keys().enumerate() {
        let points = |pick: fn(&crate::metrics::EndpointSample) -> f64| -> Vec<(f64, f64)> {
            r.series.iter().map(|s| (s.t_s, s.endpoints.get(name).map_or(0.0, pick))).collect()
        };
        lines.push(Line {
            label: format!("{} successful", plain(name)),
            points: points(|e| (e.throughput_rps - e.errors_rps).max(0.0)),
            color: color(i),
            dashed: false,
            markers: false,
        });
        lines.push(Line {
            label: format!("{} failed", plain(name)),
            points: points(|e| e.errors_rps),
            color: color(i),
            dashed: true,
            markers: false,
        });
    }
    let mut c = time_chart(r, "answers per second", lines);
    if r.endpoints.is_empty() {
        c.note = Some("no request was answered".to_owned());
    }
    c
}

fn queue_chart(r: &Report) -> Chart {
    let lines = r
        .services
        .keys()
        .enumerate()
        .map(|(i, name)| Line {
            label: plain(name).into_owned(),
            points: r
                .series
                .iter()
                .map(|s| (s.t_s, s.services.get(name).map_or(0.0, |x| x.queue_depth as f64)))
                .collect(),
            color: color(i),
            dashed: false,
            markers: false,
        })
        .collect();
    let mut c = time_chart(r, "requests waiting (all replicas)", lines);
    let waited = r.services.values().any(|s| s.queue_depth_max > 0);
    if !waited {
        c.note = Some("no request waited in a queue".to_owned());
    }
    c
}

/// Ready replicas of each autoscaled service at each sample.
fn replicas_chart(r: &Report) -> Chart {
    let lines = r
        .services
        .iter()
        .filter(|(_, s)| s.autoscale.is_some())
        .enumerate()
        .map(|(i, (name, _))| Line {
            label: plain(name).into_owned(),
            points: r
                .series
                .iter()
                .map(|s| (s.t_s, s.services.get(name).map_or(0.0, |x| x.live_instances as f64)))
                .collect(),
            color: color(i),
            dashed: false,
            markers: false,
        })
        .collect::<Vec<_>>();
    let scaled = !lines.is_empty();
    let mut c = time_chart(r, "ready replicas", lines);
    if !scaled {
        c.note = Some("no service of the scenario autoscales".to_owned());
    }
    c
}

fn lag_chart(r: &Report) -> Chart {
    let lines: Vec<Line> = r
        .stores
        .iter()
        .enumerate()
        .filter(|(_, (_, d))| d.replications > 0)
        .map(|(i, (name, _))| Line {
            label: plain(name).into_owned(),
            points: r
                .series
                .iter()
                .map(|s| (s.t_s, s.replication_lag_ms.get(name).copied().unwrap_or(GAP)))
                .collect(),
            color: color(i),
            dashed: false,
            markers: true,
        })
        .collect();
    let mut c = time_chart(r, "largest replication lag in the interval (ms)", lines);
    if c.lines.is_empty() {
        c.note = Some("no replicated write in this run".to_owned());
    }
    c
}

fn consumer_lag_chart(r: &Report) -> Chart {
    let lines: Vec<Line> = r
        .channels
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| c.stats.published > 0)
        .map(|(i, (name, _))| Line {
            label: plain(name).into_owned(),
            points: r
                .series
                .iter()
                .map(|s| (s.t_s, s.consumer_lag.get(name).map_or(0.0, |&l| l as f64)))
                .collect(),
            color: color(i),
            dashed: false,
            markers: false,
        })
        .collect();
    let mut c = time_chart(r, "deliveries owed to consumer groups", lines);
    if c.lines.is_empty() {
        c.note = Some(if r.channels.is_empty() {
            "the scenario has no asynchronous channel".to_owned()
        } else {
            "no message was published in this run".to_owned()
        });
    }
    c
}

// ---- drawing ---------------------------------------------------------------------------------

/// Draws `c` on `root`: the title across the top, the chart on the left, the legend on the
/// right (outside the plotting area, so it never hides data).
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(&c.title, (FONT, 30).into_font().style(FontStyle::Bold)).map_err(err)?;
    if let Some(note) = &c.note {
        // Nothing to draw: say why, without axes around an empty area.
        let (w, h) = body.dim_in_pixel();
        let style = (FONT, 26).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        let at = (i32::try_from(w / 2).unwrap_or(0), i32::try_from(h / 2).unwrap_or(0));
        body.draw(&Text::new(note.clone(), at, style)).map_err(err)?;
        return Ok(());
    }
    let longest = c.lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
    let legend_px = u32::try_from(longest * 10 + 70).unwrap_or(u32::MAX).clamp(160, WIDTH / 3);
    let (plot_area, legend_area) = body.split_horizontally(WIDTH - legend_px);
    let mut builder = ChartBuilder::on(&plot_area);
    builder.margin(12).x_label_area_size(56).y_label_area_size(86);
    if c.x_log {
        let chart =
            builder.build_cartesian_2d(c.x.clone().log_scale(), c.y.clone()).map_err(err)?;
        draw_body(chart, c)?;
    } else {
        let chart = builder.build_cartesian_2d(c.x.clone(), c.y.clone()).map_err(err)?;
        draw_body(chart, c)?;
    }
    draw_legend(&legend_area, c).map_err(err)?;
    Ok(())
}

fn draw_body<DB, X>(
    mut chart: ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    c: &Chart,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    chart
        .configure_mesh()
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .axis_desc_style((FONT, 21))
        .label_style((FONT, 18))
        .light_line_style(RGBColor(236, 236, 236))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    draw_bands(&mut chart, c)?;
    for &(y, label) in &c.guides {
        let grey = RGBColor(150, 150, 150);
        let span = [(c.x.start, y), (c.x.end, y)];
        chart.draw_series(DashedLineSeries::new(span, 4, 4, grey.stroke_width(1))).map_err(err)?;
        let style = (FONT, 17).into_font().color(&grey).pos(Pos::new(HPos::Left, VPos::Bottom));
        chart.draw_series(std::iter::once(Text::new(label, (c.x.start, y), style))).map_err(err)?;
    }
    for line in &c.lines {
        let style = line.color.stroke_width(if line.dashed { 2 } else { 3 });
        for segment in line.points.split(|p| p.1.is_nan()).filter(|s| !s.is_empty()) {
            let points = segment.iter().copied();
            if line.dashed {
                chart.draw_series(DashedLineSeries::new(points, 8, 5, style)).map_err(err)?;
            } else {
                chart.draw_series(LineSeries::new(points, style)).map_err(err)?;
            }
            // A point alone between gaps draws no line: mark it.
            if line.markers || segment.len() == 1 {
                let dots = segment.iter().map(|&p| Circle::new(p, 3, line.color.filled()));
                chart.draw_series(dots).map_err(err)?;
            }
        }
    }
    Ok(())
}

/// The fault bands: a shaded rectangle over the fault's span (at least a few pixels wide, so
/// an instantaneous fault shows), its label at the top, staggered so neighbours do not
/// overprint each other.
fn draw_bands<DB, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    c: &Chart,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let min_width = (c.x.end - c.x.start) / 300.0;
    let (top, height) = (c.y.end, c.y.end - c.y.start);
    for (i, band) in c.bands.iter().enumerate() {
        let to = band.to.max(band.from + min_width);
        let rect = Rectangle::new([(band.from, c.y.start), (to, top)], BAND_FILL.mix(0.6).filled());
        chart.draw_series(std::iter::once(rect)).map_err(err)?;
        let y = top - height * (0.02 + 0.06 * (i % 4) as f64);
        let style = (FONT, 16).into_font().color(&BAND_TEXT).pos(Pos::new(HPos::Left, VPos::Top));
        let label = Text::new(band.label.clone(), (band.from, y), style);
        chart.draw_series(std::iter::once(label)).map_err(err)?;
    }
    Ok(())
}

/// Legend rows are at least this tall (pixels), so their text stays legible.
const LEGEND_ROW_MIN: i32 = 12;
/// Where the first legend row sits, and the room kept below the last.
const LEGEND_TOP: i32 = 40;
const LEGEND_BOTTOM: i32 = 60;

/// The legend, in its own area beside the chart: one row per line, closing up when there are
/// many; if even rows of [`LEGEND_ROW_MIN`] do not fit, the last row says how many series it
/// leaves out rather than running off the image.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let room = i32::try_from(HEIGHT).unwrap_or(640) - LEGEND_TOP - LEGEND_BOTTOM;
    let fits = usize::try_from(room / LEGEND_ROW_MIN).unwrap_or(1).max(2);
    let n = c.lines.len();
    let shown = if n > fits { fits - 1 } else { n };
    let rows = i32::try_from(n.min(fits)).unwrap_or(i32::MAX / 32).max(1);
    let row = (room / rows).clamp(LEGEND_ROW_MIN, 26);
    let text =
        (FONT, row.clamp(10, 18)).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let y_of = |i: usize| LEGEND_TOP + row * i32::try_from(i).unwrap_or(i32::MAX / 32);
    for (i, line) in c.lines.iter().take(shown).enumerate() {
        let y = y_of(i);
        let style = line.color.stroke_width(3);
        if line.dashed {
            area.draw(&PathElement::new(vec![(8, y), (20, y)], style))?;
            area.draw(&PathElement::new(vec![(28, y), (40, y)], style))?;
        } else {
            area.draw(&PathElement::new(vec![(8, y), (40, y)], style))?;
        }
        area.draw(&Text::new(line.label.clone(), (50, y), text.clone()))?;
    }
    if shown < n {
        let more = format!("… and {} more series", n - shown);
        area.draw(&Text::new(more, (50, y_of(shown)), text))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::metrics::{EndpointSample, LatencySummary, Sample};
    use crate::report::{EndpointReport, StoreReport};

    fn no_latency() -> LatencySummary {
        LatencySummary::of(&hdrhistogram::Histogram::new(3).unwrap())
    }

    /// A report of 20 intervals of 0.1 s with `endpoints` endpoints answering 100 requests a
    /// second each, `failed` of them failures, at a constant p99 of 40 ms: the p99 lines run
    /// along the top of the chart from its left edge to its right one, where a legend drawn
    /// inside the chart would sit. Nothing else in the system.
    fn report(endpoints: usize, failed: f64) -> Report {
        let names: Vec<String> = (0..endpoints).map(|i| format!("shop.buy-{i}")).collect();
        let endpoint = EndpointReport {
            requests: 200,
            successes: (200.0 * (1.0 - failed / 100.0)) as u64,
            availability: 1.0 - failed / 100.0,
            throughput_rps: 100.0 - failed,
            latency: no_latency(),
            latency_all: no_latency(),
            outcomes: BTreeMap::new(),
            latency_cdf: Vec::new(),
        };
        let sample = EndpointSample {
            throughput_rps: 100.0,
            errors_rps: failed,
            p50_ms: 20.0,
            p99_ms: 40.0,
        };
        let series = (0..=20)
            .map(|k| Sample {
                t_s: f64::from(k) * 0.1,
                endpoints: names.iter().map(|n| (n.clone(), sample)).collect(),
                services: BTreeMap::new(),
                cache_hit_ratio: BTreeMap::new(),
                replication_lag_ms: BTreeMap::new(),
                consumer_lag: BTreeMap::new(),
            })
            .collect();
        Report {
            system: "shop".to_owned(),
            seed: 1,
            duration_s: 2.0,
            end_s: 2.0,
            events: 0,
            trace_hash: String::new(),
            requests_sent: 0,
            requests_answered: 0,
            guest_fuel: 0,
            endpoints: names.iter().map(|n| (n.clone(), endpoint.clone())).collect(),
            services: BTreeMap::new(),
            stores: BTreeMap::new(),
            channels: BTreeMap::new(),
            slos: Vec::new(),
            series,
            faults: Vec::new(),
            journeys: Default::default(),
            rollouts: Vec::new(),
            mesh_routes: None,
        }
    }

    fn svg_of(name: &str, r: &Report) -> String {
        register_fonts().unwrap();
        svg(PLOTS.iter().find(|p| p.name == name).unwrap(), r).unwrap()
    }

    /// The number in attribute `name="…"` of an SVG element.
    fn attr(element: &str, name: &str) -> f64 {
        let start = element.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        let end = start + element[start..].find('"').unwrap();
        element[start..end].parse().expect("a number")
    }

    /// Each element `<tag …>` of `svg`, up to the end of its start tag, and (for text) its text.
    fn elements<'a>(svg: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
        let open = format!("<{tag} ");
        svg.match_indices(&open)
            .map(|(at, _)| {
                let rest = &svg[at..];
                let end = rest.find('>').unwrap() + 1;
                let body = rest[end..].split('<').next().unwrap_or("").trim();
                (&rest[..end], body)
            })
            .collect()
    }

    /// The polyline's points.
    fn points(element: &str) -> Vec<(f64, f64)> {
        let start = element.find(" points=\"").unwrap() + 9;
        let end = start + element[start..].find('"').unwrap();
        element[start..end]
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    /// Measured in the SVG: the plotting area is what the mesh's lines span; every legend
    /// entry (swatch and text) lies to the right of it, inside the image, while the data runs
    /// up to its right edge at the top, where a legend inside the chart would have covered it.
    #[test]
    fn the_legend_sits_beside_the_plotting_area_never_on_the_data() {
        let svg = svg_of("latency", &report(3, 1.0));
        let mesh = elements(&svg, "line");
        assert!(mesh.len() > 10, "a chart with a mesh");
        let right = mesh.iter().map(|(e, _)| attr(e, "x1").max(attr(e, "x2"))).fold(0.0, f64::max);
        let top =
            mesh.iter().map(|(e, _)| attr(e, "y1").min(attr(e, "y2"))).fold(f64::MAX, f64::min);
        let texts = elements(&svg, "text");
        for i in 0..3 {
            for which in ["p99", "p50"] {
                let label = format!("shop.buy-{i} {which}");
                let (e, _) = texts.iter().find(|(_, t)| *t == label).expect(&label);
                let (x, y) = (attr(e, "x"), attr(e, "y"));
                assert!(x > right, "{label} at x {x}, inside the chart (right edge {right})");
                assert!(y > 0.0 && y < f64::from(HEIGHT), "{label} at y {y}");
            }
        }
        let (mut data, mut swatches) = (Vec::new(), 0);
        for (e, _) in elements(&svg, "polyline") {
            let ps = points(e);
            if ps.iter().all(|p| p.0 > right) {
                swatches += 1;
            } else {
                assert!(ps.iter().all(|p| p.0 <= right + 1.0), "a line across the legend: {e}");
                data.extend(ps);
            }
        }
        assert!(swatches >= 6, "a swatch per line: {swatches}");
        // The p99 lines reach the chart's top right corner.
        let corner = data.iter().filter(|p| p.0 >= right - 2.0 && p.1 < top + 60.0).count();
        assert!(corner > 0, "data in the top right corner: {data:?}");
    }

    /// 80 lines do not fit 80 legend rows: the legend stays inside the image and says how many
    /// it leaves out.
    #[test]
    fn a_long_legend_stays_inside_the_image_and_counts_what_it_leaves_out() {
        let svg = svg_of("latency", &report(40, 1.0));
        let texts = elements(&svg, "text");
        let legend: Vec<&(&str, &str)> =
            texts.iter().filter(|(_, t)| t.starts_with("shop.buy-")).collect();
        assert!(legend.len() > 20 && legend.len() < 80, "{} entries", legend.len());
        let more =
            texts.iter().find(|(_, t)| t.contains("more series")).expect("a count of the rest");
        assert_eq!(more.1, format!("… and {} more series", 80 - legend.len()));
        for (e, t) in legend.iter().copied().chain([more]) {
            let y = attr(e, "y");
            assert!(y > 0.0 && y < f64::from(HEIGHT) - 10.0, "{t} at y {y}");
        }
        // A few lines are all listed, without a count.
        assert!(!svg_of("latency", &report(3, 1.0)).contains("more series"));
    }

    /// Every answer failed: there is no latency to plot, and the latency chart says so
    /// instead of drawing axes around nothing; the throughput chart still plots the failures.
    #[test]
    fn a_run_without_a_successful_answer_has_no_latency_axes() {
        let r = report(1, 100.0);
        let svg = svg_of("latency", &r);
        assert!(svg.contains("no request was answered successfully"), "says why");
        assert!(!svg.contains("simulated time (s)"), "no axes");
        assert!(svg_of("throughput", &r).contains("simulated time (s)"));
        // With successes, the same chart is drawn.
        assert!(svg_of("latency", &report(1, 1.0)).contains("simulated time (s)"));
    }

    /// A replicated store whose lag no sample caught: every point is a gap, so the generic
    /// rule replaces the empty axes with a sentence.
    #[test]
    fn a_chart_whose_lines_hold_no_value_says_so() {
        let mut r = report(1, 1.0);
        let store = StoreReport {
            kind: "kv".to_owned(),
            replicas: 3,
            consistency: "eventual".to_owned(),
            reads: 0,
            writes: 5,
            replications: 10,
            replication_lag_max_ms: 3.0,
            cache: None,
            broker: None,
        };
        r.stores.insert("db".to_owned(), store);
        let svg = svg_of("replication-lag", &r);
        assert!(svg.contains("nothing was measured for this plot in the run"), "says why");
        assert!(!svg.contains("simulated time (s)"), "no axes");
        // Once a sample holds a lag, the chart is drawn.
        r.series[3].replication_lag_ms.insert("db".to_owned(), 2.5);
        assert!(svg_of("replication-lag", &r).contains("simulated time (s)"));
    }
}
