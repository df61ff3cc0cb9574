//! `fusebench sweep SCENARIO --set PARAM=V1,V2,… [--set …]`: what-if runs over a grid of
//! scenario parameters (replicas, placement, autoscaling policy, load balancing, arrival rate),
//! one table comparing latency, availability and cost per point, and one plot.
//!
//! The grid is the cartesian product of the `--set` lists, the first parameter varying slowest
//! (an odometer). Each point is the scenario edited through `fusebench_model::edit` (the GUI's
//! what-if layer: the TOML text rewritten, everything else kept) and read back by the strict
//! reader, so a point is exactly the scenario file a user would get by making that edit; it is
//! then run as `fusebench run` runs it, under the same seeds at every point (common random
//! numbers, as simulation experiments compare designs). Runs go to a pool of `--jobs` threads;
//! results are collected in grid order, so nothing printed depends on which finished first.
//!
//! Exit 0 when every point ran (an SLO missed at a point is a result: the table's SLO column);
//! exit 2 on bad input: the scenario, a `--set` argument (unknown service, store or field, a
//! value of the wrong type or one the reader refuses — named with the argument), a resource
//! limit at some point.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_model::diagnostic::did_you_mean;
use fusebench_model::edit::{self, AutoscaleField, Edit, Scalar};
use fusebench_model::text::plain;
use fusebench_model::{Diagnostic, Scenario};
use fusebench_sim::limits::check_scenario;
use fusebench_sim::report::sweep::{self, SweepPoint};
use fusebench_sim::report::{self, Report};
use fusebench_sim::setup;
use fusebench_sim::time::SimTime;
use rayon::prelude::*;

use super::experiment::{self, ExperimentArgs, Results};
use super::run::{Plan, cores_to_spare, progress_bar, simulate};
use super::table;
use crate::load::{Input, Loaded, load_or_report, read_text};

/// The most grid points one sweep runs (each point × each seed is one simulation).
const MAX_POINTS: usize = 10_000;

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// A swept parameter and its values: `PARAM=V1,V2,…` (PARAM: `service.NAME.replicas`,
    /// `.concurrency`, `.node`, `.load_balancing`, `.autoscale.KEY`; `store.NAME.replicas`;
    /// `workload.rate_rps`). Repeat for a grid: the cartesian product, first `--set` slowest.
    #[arg(long = "set", value_name = "PARAM=V1,V2,…", required = true)]
    pub sets: Vec<String>,
    #[command(flatten)]
    pub runs: ExperimentArgs,
}

/// What a `--set` parameter names.
#[derive(Debug, Clone, PartialEq)]
enum Param {
    Replicas(String),
    Concurrency(String),
    Node(String),
    LoadBalancing(String),
    Autoscale(String, AutoscaleField),
    StoreReplicas(String),
    RateRps,
}

/// The fields a service parameter may name (besides `autoscale.KEY`).
const SERVICE_FIELDS: [&str; 4] = ["replicas", "concurrency", "node", "load_balancing"];

/// One `--set`: the argument as written, what it names, its values.
#[derive(Debug, Clone)]
struct Axis {
    arg: String,
    name: String,
    param: Param,
    values: Vec<String>,
}

/// Bad input found before anything runs: printed as `error: …`, exit 2.
#[derive(Debug)]
struct Refused(String);

pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_or_report(&args.scenario, "nothing was run")? else {
        return Ok(ExitCode::from(2));
    };
    if !super::modules_loadable(&loaded, &args.scenario, "nothing was run") {
        return Ok(ExitCode::from(2));
    }
    // The text the edits rewrite: the file as read (`load` has just read and parsed it).
    let text = read_text(&args.scenario, Input::Scenario)?;
    let Loaded { scenario, files, .. } = loaded;
    let axes = match parse_axes(&args.sets, &scenario) {
        Ok(axes) => axes,
        Err(Refused(msg)) => {
            eprintln!("error: {msg}; nothing was run");
            return Ok(ExitCode::from(2));
        }
    };
    if !args.runs.endpoint_served(&scenario, &args.scenario.display().to_string()) {
        return Ok(ExitCode::from(2));
    }
    let points = grid(&axes);
    if points.len() > MAX_POINTS {
        eprintln!(
            "error: the grid has {} points, more than {MAX_POINTS}; sweep fewer values; nothing was run",
            points.len()
        );
        return Ok(ExitCode::from(2));
    }
    let limits = super::limits(args.runs.limits_off);
    let mut plans = Vec::with_capacity(points.len());
    for (i, point) in points.iter().enumerate() {
        let scenario = match point_scenario(&args.scenario, &text, &axes, point, &scenario) {
            Ok(s) => s,
            Err(Refused(msg)) => {
                eprintln!("error: {msg}; nothing was run");
                return Ok(ExitCode::from(2));
            }
        };
        let mut planned = scenario.clone();
        if let (Some(d), Some(w)) = (args.runs.duration, planned.workload.as_mut()) {
            w.duration_s = d;
        }
        let problems = check_scenario(&planned, &limits);
        if !problems.is_empty() {
            eprintln!("error: point {} ({}):", i + 1, settings_text(&axes, point));
            super::report_limits(&problems, "nothing was run");
            return Ok(ExitCode::from(2));
        }
        let duration = SimTime::from_secs_f64(
            args.runs
                .duration
                .unwrap_or_else(|| scenario.workload.as_ref().map_or(0.0, |w| w.duration_s)),
        );
        plans.push(Plan { scenario, files: files.clone(), duration, out: None, limits });
    }
    // Load once up front, so a module the host rejects is reported before any run starts.
    drop(
        setup::build_runtime(&plans[0].scenario, &files)
            .with_context(|| format!("cannot load the modules of {}", args.scenario.display()))?,
    );
    let Some(seeds) = args.runs.seed_list() else {
        return Ok(ExitCode::from(2));
    };
    let reports = run_all(&plans, &seeds, args.runs.jobs, "point")?;
    let swept: Vec<SweepPoint> = points
        .iter()
        .zip(reports.chunks(seeds.len()))
        .enumerate()
        .map(|(i, (point, runs))| {
            let settings =
                axes.iter().zip(point).map(|(a, v)| (a.name.clone(), v.clone())).collect();
            SweepPoint::new(i + 1, settings, runs, args.runs.endpoint.as_deref())
        })
        .collect();
    let sweep = Sweep {
        system: scenario.name.clone(),
        seeds,
        duration_s: plans[0].duration.as_secs_f64(),
        endpoint: args.runs.endpoint.clone(),
        parameters: axes.iter().map(|a| a.name.clone()).collect(),
        points: swept,
    };
    experiment::output(&args.runs, &sweep, "the sweep", "sweep.csv, sweep.svg")?;
    Ok(ExitCode::SUCCESS)
}

// ---- the parameters ----------------------------------------------------------------------------

fn parse_axes(sets: &[String], scenario: &Scenario) -> Result<Vec<Axis>, Refused> {
    let mut axes: Vec<Axis> = Vec::new();
    for arg in sets {
        let axis = parse_axis(arg, scenario)
            .map_err(|msg| Refused(format!("--set '{}': {msg}", plain(arg))))?;
        if let Some(same) = axes.iter().find(|a| a.param == axis.param) {
            return Err(Refused(format!(
                "--set '{}': `{}` is already swept by --set '{}'",
                plain(arg),
                plain(&axis.name),
                plain(&same.arg)
            )));
        }
        axes.push(axis);
    }
    Ok(axes)
}

const SYNTAX: &str = "write PARAM=V1,V2,… with PARAM `service.NAME.FIELD` (FIELD: replicas, concurrency, node, load_balancing, autoscale.KEY), `store.NAME.replicas` or `workload.rate_rps`";

fn parse_axis(arg: &str, scenario: &Scenario) -> Result<Axis, String> {
    let Some((name, list)) = arg.split_once('=') else {
        return Err(format!("no `=`: {SYNTAX}"));
    };
    let name = name.trim();
    if list.trim().is_empty() {
        return Err(format!("no value for `{}`: give at least one", plain(name)));
    }
    let values: Vec<String> = list.split(',').map(|v| v.trim().to_owned()).collect();
    if values.iter().any(String::is_empty) {
        return Err(format!("an empty value in `{}`", plain(list)));
    }
    if let Some(dup) = values.iter().enumerate().find(|(i, v)| values[..*i].contains(v)) {
        return Err(format!("`{}` is listed twice", plain(dup.1)));
    }
    let param = parse_param(name, scenario)?;
    for v in &values {
        check_value(&param, v).map_err(|m| format!("value `{}`: {m}", plain(v)))?;
    }
    Ok(Axis { arg: arg.to_owned(), name: name.to_owned(), param, values })
}

fn parse_param(name: &str, scenario: &Scenario) -> Result<Param, String> {
    if name == "workload.rate_rps" {
        return Ok(Param::RateRps);
    }
    if let Some(rest) = name.strip_prefix("store.") {
        let Some((store, field)) = rest.rsplit_once('.') else {
            return Err(format!("`{}`: {SYNTAX}", plain(name)));
        };
        let names: Vec<&str> = scenario.stores.iter().map(|s| s.name.as_str()).collect();
        known("store", store, &names)?;
        if field != "replicas" {
            return Err(format!("a store's field is `replicas`, not `{}`", plain(field)));
        }
        return Ok(Param::StoreReplicas(store.to_owned()));
    }
    let Some(rest) = name.strip_prefix("service.") else {
        return Err(format!("`{}`: {SYNTAX}", plain(name)));
    };
    let Some((head, field)) = rest.rsplit_once('.') else {
        return Err(format!("`{}`: {SYNTAX}", plain(name)));
    };
    let (service, autoscale) = match head.strip_suffix(".autoscale") {
        Some(service) => (service, true),
        None => (head, false),
    };
    let names: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
    known("service", service, &names)?;
    let service = service.to_owned();
    if autoscale {
        let Some(f) = AutoscaleField::from_key(field) else {
            let keys = AutoscaleField::ALL.map(AutoscaleField::key);
            let hint = did_you_mean(field, keys)
                .map_or_else(String::new, |m| format!(" (did you mean `{m}`?)"));
            return Err(format!(
                "`autoscale.{}` is not a field that can be swept{hint}; the autoscale fields: {}",
                plain(field),
                keys.join(", ")
            ));
        };
        if scenario.service(&service).is_some_and(|s| s.autoscale.is_none()) {
            return Err(format!(
                "service `{}` has no `[service.autoscale]` (add one to the scenario to sweep its policy)",
                plain(&service)
            ));
        }
        return Ok(Param::Autoscale(service, f));
    }
    match field {
        "replicas" => Ok(Param::Replicas(service)),
        "concurrency" => Ok(Param::Concurrency(service)),
        "node" => Ok(Param::Node(service)),
        "load_balancing" => Ok(Param::LoadBalancing(service)),
        other => {
            let hint = did_you_mean(other, SERVICE_FIELDS)
                .map_or_else(String::new, |m| format!(" (did you mean `{m}`?)"));
            Err(format!(
                "`{}` is not a service field that can be swept{hint}; the fields: {}, autoscale.KEY",
                plain(other),
                SERVICE_FIELDS.join(", ")
            ))
        }
    }
}

/// `name` is one of `names` (a `kind`: service, store), or an error listing them.
fn known(kind: &str, name: &str, names: &[&str]) -> Result<(), String> {
    if names.contains(&name) {
        return Ok(());
    }
    let hint = did_you_mean(name, names.iter().copied())
        .map_or_else(String::new, |m| format!(" (did you mean `{}`?)", plain(m)));
    Err(format!(
        "no {kind} named `{}`{hint}; the {kind}s: {}",
        plain(name),
        plain(&names.join(", "))
    ))
}

/// The value's type (a whole number, a number, a name); whether it is in range is the
/// reader's to say, on the edited scenario.
fn check_value(param: &Param, v: &str) -> Result<(), String> {
    match param {
        Param::Replicas(_) | Param::Concurrency(_) | Param::StoreReplicas(_) => {
            v.parse::<u32>().map(drop).map_err(|_| "not a whole number ≥ 0".to_owned())
        }
        Param::Autoscale(_, f) if !f.is_text() => number(v).map(drop),
        Param::RateRps => number(v).map(drop),
        _ => Ok(()),
    }
}

fn number(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err("not a finite number".to_owned()),
    }
}

/// The edit setting `param` to `v` (already type-checked by [`check_value`]).
fn edit_of(param: &Param, v: &str) -> Edit {
    let whole = |v: &str| v.parse::<u32>().unwrap_or_default();
    let num = |v: &str| v.parse::<f64>().unwrap_or_default();
    match param {
        Param::Replicas(s) => Edit::Replicas { service: s.clone(), replicas: whole(v) },
        Param::Concurrency(s) => Edit::Concurrency { service: s.clone(), concurrency: whole(v) },
        Param::Node(s) => Edit::Placement { service: s.clone(), node: v.to_owned() },
        Param::LoadBalancing(s) => Edit::LoadBalancing { service: s.clone(), policy: v.to_owned() },
        Param::Autoscale(s, f) => Edit::Autoscale {
            service: s.clone(),
            field: *f,
            value: if f.is_text() { Scalar::Text(v.to_owned()) } else { Scalar::Number(num(v)) },
        },
        Param::StoreReplicas(s) => Edit::StoreReplicas { store: s.clone(), replicas: whole(v) },
        Param::RateRps => Edit::ArrivalRate { rate_rps: num(v) },
    }
}

// ---- the grid ----------------------------------------------------------------------------------

/// The cartesian product of the axes' values, the first axis varying slowest.
fn grid(axes: &[Axis]) -> Vec<Vec<String>> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v.clone());
                    q
                })
            })
            .collect();
    }
    points
}

/// `service.a.replicas=2, service.a.node=edge`: a point's settings, escaped.
fn settings_text(axes: &[Axis], point: &[String]) -> String {
    let parts: Vec<String> =
        axes.iter().zip(point).map(|(a, v)| format!("{}={}", plain(&a.name), plain(v))).collect();
    parts.join(", ")
}

/// The scenario of one point: the edits applied to the text, read back strictly. A point that
/// does not read is blamed on the `--set` values that are invalid on their own, else on the
/// combination.
fn point_scenario(
    path: &Path,
    text: &str,
    axes: &[Axis],
    point: &[String],
    base: &Scenario,
) -> Result<Scenario, Refused> {
    let file = path.display().to_string();
    let edits: Vec<Edit> = axes.iter().zip(point).map(|(a, v)| edit_of(&a.param, v)).collect();
    let edited = edit::apply(text, &edits).map_err(|e| {
        // Names were checked against the scenario; what is left is the file's shape.
        Refused(format!("cannot edit {} for {}: {e}", plain(&file), settings_text(axes, point)))
    })?;
    let parsed = fusebench_model::parse(&file, &edited);
    if !parsed.has_errors()
        && let Some(s) = parsed.scenario
    {
        // Edits never touch module references: the modules loaded for the base still apply.
        debug_assert_eq!(s.services.len(), base.services.len());
        return Ok(s);
    }
    for (axis, v) in axes.iter().zip(point) {
        let Ok(alone) = edit::apply(text, &[edit_of(&axis.param, v)]) else { continue };
        let errors = errors_of(&fusebench_model::parse(&file, &alone).diagnostics);
        if !errors.is_empty() {
            crate::print_diagnostics(&errors);
            return Err(Refused(format!(
                "--set '{}': value `{}` makes the scenario invalid (above)",
                plain(&axis.arg),
                plain(v)
            )));
        }
    }
    crate::print_diagnostics(&errors_of(&parsed.diagnostics));
    Err(Refused(format!(
        "the combination {} makes the scenario invalid (above), though each value is valid alone",
        settings_text(axes, point)
    )))
}

fn errors_of(diags: &[Diagnostic]) -> Vec<Diagnostic> {
    diags.iter().filter(|d| d.is_error()).cloned().collect()
}

// ---- running -----------------------------------------------------------------------------------

/// Every (plan, seed) run on a pool of `jobs` threads; the reports in (plan, seed) order. A
/// failed run is named `{unit} N` (1-based plan number).
pub(crate) fn run_all(
    plans: &[Plan],
    seeds: &[u64],
    jobs: Option<u64>,
    unit: &str,
) -> anyhow::Result<Vec<Report>> {
    let jobs = jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        |j| usize::try_from(j).unwrap_or(1),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the sweep's threads")?;
    let tasks: Vec<(usize, u64)> =
        (0..plans.len()).flat_map(|p| seeds.iter().map(move |s| (p, *s))).collect();
    let template = format!("{{spinner}} {unit}s [{{bar:40}}] {{pos}}/{{len}} runs");
    let bar = progress_bar(tasks.len() as u64, &template);
    let trace_thread = cores_to_spare(tasks.len().min(jobs));
    let reports = pool.install(|| {
        tasks
            .into_par_iter()
            .map(|(p, seed)| {
                let hidden = indicatif::ProgressBar::hidden();
                let report = simulate(&plans[p], seed, &hidden, None, trace_thread)
                    .with_context(|| format!("{unit} {}", p + 1))?;
                bar.inc(1);
                Ok(report)
            })
            .collect::<anyhow::Result<Vec<Report>>>()
    })?;
    bar.finish_and_clear();
    Ok(reports)
}

// ---- output ------------------------------------------------------------------------------------

/// The sweep as printed and written (`--format json` is this, serialised).
#[derive(Debug, serde::Serialize)]
struct Sweep {
    system: String,
    seeds: Vec<u64>,
    duration_s: f64,
    /// The endpoint the client figures are of; `null`: every public endpoint.
    endpoint: Option<String>,
    parameters: Vec<String>,
    points: Vec<SweepPoint>,
}

impl Results for Sweep {
    fn write_dir(&self, dir: &Path) -> anyhow::Result<()> {
        write_dir(dir, self)
    }

    /// The aligned table (names escaped: they are untrusted).
    fn text(&self) -> String {
        let mut s = String::new();
        let (seeds, of) = experiment::scope(&self.seeds, self.endpoint.as_deref());
        let _ = writeln!(
            s,
            "{} · {} point(s) · {seeds} · {} s workload · {of}\n",
            plain(&self.system),
            self.points.len(),
            self.duration_s
        );
        let mut header: Vec<String> = vec!["point".to_owned()];
        header.extend(self.parameters.iter().map(|p| plain(p).into_owned()));
        header.extend(
            ["requests", "avail %", "p99 ms", "replica-s", "cold starts", "SLO"].map(str::to_owned),
        );
        let rows: Vec<Vec<String>> = self
            .points
            .iter()
            .map(|p| {
                let mut row = vec![p.point.to_string()];
                row.extend(p.settings.iter().map(|(_, v)| plain(v).into_owned()));
                row.extend([
                    p.requests.to_string(),
                    table::dash_or(p.availability, |a| format!("{:.3}", a * 100.0)),
                    table::dash_or(p.p99_ms, |v| format!("{v:.2}")),
                    format!("{:.1}", p.replica_seconds),
                    p.cold_starts.to_string(),
                    p.slo_verdict(),
                ]);
                row
            })
            .collect();
        let params = self.parameters.len();
        // The settings (and the SLO verdict) read left-aligned, the figures right-aligned.
        let last = header.len() - 1;
        s.push_str(&table::aligned(&header, &rows, |c| (1..=params).contains(&c) || c == last));
        let missed: Vec<String> = self
            .points
            .iter()
            .filter(|p| !p.slo_missed.is_empty())
            .map(|p| format!("  point {}: {}", p.point, plain(&p.slo_missed.join(", "))))
            .collect();
        if !missed.is_empty() {
            let _ = writeln!(s, "\nSLO objectives missed\n{}", missed.join("\n"));
        }
        s
    }

    /// RFC 4180 CSV, one row per point; numbers unrounded (the JSON's), a missing value empty.
    fn csv(&self) -> String {
        let mut header: Vec<String> = vec!["point".to_owned()];
        header.extend(self.parameters.iter().cloned());
        header.extend(
            [
                "requests",
                "successes",
                "availability",
                "p99_ms",
                "replica_seconds",
                "cold_starts",
                "slo",
            ]
            .map(str::to_owned),
        );
        let mut s = String::new();
        let _ = writeln!(s, "{}", table::csv_row(&header));
        for p in &self.points {
            let mut row = vec![p.point.to_string()];
            row.extend(p.settings.iter().map(|(_, v)| v.clone()));
            row.extend([
                p.requests.to_string(),
                p.successes.to_string(),
                p.availability.map_or_else(String::new, |a| a.to_string()),
                p.p99_ms.map_or_else(String::new, |v| v.to_string()),
                p.replica_seconds.to_string(),
                p.cold_starts.to_string(),
                match p.slo_verdict().as_str() {
                    "–" => String::new(),
                    v => v.to_owned(),
                },
            ]);
            let _ = writeln!(s, "{}", table::csv_row(&row));
        }
        s
    }
}

/// `DIR/sweep.csv` and `DIR/sweep.svg`, each written atomically (other files in DIR are kept).
fn write_dir(dir: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    report::create_dir(dir)?;
    report::write_file(dir, "sweep.csv", sweep.csv().as_bytes())?;
    let title =
        format!("What-if sweep — {}, {} point(s)", plain(&sweep.system), sweep.points.len());
    let svg = sweep::svg(&title, &sweep.parameters, &sweep.points)
        .map_err(|reason| anyhow::anyhow!("cannot draw sweep.svg: {reason}"))?;
    report::write_file(dir, "sweep.svg", svg.as_bytes())?;
    Ok(())
}
