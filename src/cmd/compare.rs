//! `fusebench compare A.toml B.toml [C.toml …]`: several designs run side by side in one
//! command, under the same seeds and the same workload duration, one row each — availability,
//! the failures by outcome, p99 of the successes and of every answer, cost, SLO verdict.
//!
//! It is `sweep` over whole files rather than over parameters: for designs that differ in more
//! than a swept value can say (a `[mesh]` section, a fault, a different module). Each design is
//! run exactly as `fusebench run` runs it; comparing them under the same seeds is the
//! common-random-numbers design of simulation experiments (each seed's random streams are named
//! per purpose, so the designs see the same arrivals and fault draws wherever they agree).
//!
//! Exit 0 when every design ran (an SLO missed by a design is a result: its SLO column); exit 2
//! on bad input: a scenario that does not read or load, an `--endpoint` some design does not
//! serve, workloads of different lengths without `--duration`, a resource limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_model::text::plain;
use fusebench_sim::limits::check_scenario;
use fusebench_sim::metrics::Outcome;
use fusebench_sim::report::sweep::{self, SweepPoint};
use fusebench_sim::report::{self, Report};
use fusebench_sim::setup;
use fusebench_sim::time::SimTime;

use super::experiment::{self, ExperimentArgs, Results};
use super::run::Plan;
use super::sweep::run_all;
use super::table;
use crate::load::{Loaded, load_or_report};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The designs: two or more scenario files (TOML), one row each in the order given.
    #[arg(required = true, num_args = 2.., value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    #[command(flatten)]
    pub runs: ExperimentArgs,
}

/// One design's row: what `sweep` measures at a point, plus what a side-by-side of failure
/// handling needs — the failures by outcome and the p99 of every answer (what users waited,
/// timeouts included).
#[derive(Debug, serde::Serialize)]
struct Design {
    /// The file, as given on the command line.
    scenario: String,
    /// The scenario's `name`.
    system: String,
    #[serde(flatten)]
    figures: SweepPoint,
    /// Failed answers by outcome (`timeout`, `rejected`, …), summed over the seeds.
    failures: BTreeMap<String, u64>,
    /// p99 latency of every answer, failures included, ms: the chosen endpoint's, else the
    /// worst endpoint's; the mean over the seeds that had an answer.
    p99_all_ms: Option<f64>,
}

impl Design {
    fn new(
        scenario: String,
        system: String,
        n: usize,
        reports: &[Report],
        endpoint: Option<&str>,
    ) -> Design {
        let figures =
            SweepPoint::new(n, vec![("scenario".to_owned(), scenario.clone())], reports, endpoint);
        let mut failures = BTreeMap::new();
        let mut p99s = Vec::new();
        for r in reports {
            let mut worst: Option<f64> = None;
            for (_, e) in r.endpoints.iter().filter(|(n, _)| endpoint.is_none_or(|e| e == *n)) {
                for (outcome, count) in &e.outcomes {
                    if !is_success(outcome) && *count > 0 {
                        *failures.entry(outcome.clone()).or_insert(0) += count;
                    }
                }
                if e.latency_all.count > 0 {
                    let p = e.latency_all.p99_ms;
                    worst = Some(worst.map_or(p, |w| w.max(p)));
                }
            }
            p99s.extend(worst);
        }
        Design {
            scenario,
            system,
            figures,
            failures,
            p99_all_ms: (!p99s.is_empty()).then(|| p99s.iter().sum::<f64>() / p99s.len() as f64),
        }
    }

    /// `120 timeout, 3 rejected` (largest first), or `0`.
    fn failures_text(&self) -> String {
        let mut by_count: Vec<(&String, &u64)> = self.failures.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        if by_count.is_empty() {
            return "0".to_owned();
        }
        let parts: Vec<String> = by_count.iter().map(|(o, n)| format!("{n} {o}")).collect();
        parts.join(", ")
    }
}

/// Whether a report's outcome name counts as available (`Outcome::is_success`); a name this
/// build does not know counts as a failure, so it is shown rather than hidden.
fn is_success(outcome: &str) -> bool {
    Outcome::from_name(outcome).is_some_and(Outcome::is_success)
}

/// The comparison as printed and written (`--format json` is this, serialised).
#[derive(Debug, serde::Serialize)]
struct Comparison {
    seeds: Vec<u64>,
    duration_s: f64,
    /// The endpoint the client figures are of; `null`: every public endpoint.
    endpoint: Option<String>,
    designs: Vec<Design>,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let limits = super::limits(args.runs.limits_off);
    let mut plans = Vec::with_capacity(args.scenarios.len());
    for path in &args.scenarios {
        let Some(loaded) = load_or_report(path, "nothing was run")? else {
            return Ok(ExitCode::from(2));
        };
        if !super::modules_loadable(&loaded, path, "nothing was run") {
            return Ok(ExitCode::from(2));
        }
        let Loaded { scenario, files, .. } = loaded;
        if !args.runs.endpoint_served(&scenario, &path.display().to_string()) {
            return Ok(ExitCode::from(2));
        }
        let own = scenario.workload.as_ref().map_or(0.0, |w| w.duration_s);
        let mut planned = scenario.clone();
        if let (Some(d), Some(w)) = (args.runs.duration, planned.workload.as_mut()) {
            w.duration_s = d;
        }
        let problems = check_scenario(&planned, &limits);
        if !problems.is_empty() {
            eprintln!("error: {}:", plain(&path.display().to_string()));
            super::report_limits(&problems, "nothing was run");
            return Ok(ExitCode::from(2));
        }
        drop(
            setup::build_runtime(&scenario, &files)
                .with_context(|| format!("cannot load the modules of {}", path.display()))?,
        );
        let duration = SimTime::from_secs_f64(args.runs.duration.unwrap_or(own));
        plans.push(Plan { scenario, files, duration, out: None, limits });
    }
    if args.runs.duration.is_none()
        && let Some(first) = plans.first()
        && plans.iter().any(|p| p.duration != first.duration)
    {
        let lengths: Vec<String> = args
            .scenarios
            .iter()
            .zip(&plans)
            .map(|(path, p)| {
                format!("{}: {} s", plain(&path.display().to_string()), p.duration.as_secs_f64())
            })
            .collect();
        eprintln!(
            "error: the workloads last differently ({}): give --duration so the designs are \
             compared over the same time; nothing was run",
            lengths.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let Some(seeds) = args.runs.seed_list() else {
        return Ok(ExitCode::from(2));
    };
    let reports = run_all(&plans, &seeds, args.runs.jobs, "design")?;
    let designs: Vec<Design> = args
        .scenarios
        .iter()
        .zip(&plans)
        .zip(reports.chunks(seeds.len()))
        .enumerate()
        .map(|(i, ((path, plan), runs))| {
            Design::new(
                path.display().to_string(),
                plan.scenario.name.clone(),
                i + 1,
                runs,
                args.runs.endpoint.as_deref(),
            )
        })
        .collect();
    let comparison = Comparison {
        seeds,
        duration_s: plans.first().map_or(0.0, |p| p.duration.as_secs_f64()),
        endpoint: args.runs.endpoint.clone(),
        designs,
    };
    experiment::output(&args.runs, &comparison, "the comparison", "compare.csv, compare.svg")?;
    Ok(ExitCode::SUCCESS)
}

impl Results for Comparison {
    fn write_dir(&self, dir: &Path) -> anyhow::Result<()> {
        write_dir(dir, self)
    }

    /// The aligned table (names escaped: they are untrusted).
    fn text(&self) -> String {
        let (seeds, of) = experiment::scope(&self.seeds, self.endpoint.as_deref());
        let mut s = format!(
            "{} design(s) · {seeds} · {} s workload · {of}\n\n",
            self.designs.len(),
            self.duration_s
        );
        let header: Vec<String> = [
            "scenario",
            "requests",
            "avail %",
            "failures",
            "p99 ms",
            "p99 all ms",
            "replica-s",
            "SLO",
        ]
        .map(str::to_owned)
        .to_vec();
        let rows: Vec<Vec<String>> = self
            .designs
            .iter()
            .map(|d| {
                let f = &d.figures;
                vec![
                    plain(&d.scenario).into_owned(),
                    f.requests.to_string(),
                    table::dash_or(f.availability, |a| format!("{:.3}", a * 100.0)),
                    d.failures_text(),
                    table::dash_or(f.p99_ms, |v| format!("{v:.2}")),
                    table::dash_or(d.p99_all_ms, |v| format!("{v:.2}")),
                    format!("{:.1}", f.replica_seconds),
                    f.slo_verdict(),
                ]
            })
            .collect();
        // The file, the failures and the SLO verdict read left-aligned, the figures right.
        s.push_str(&table::aligned(&header, &rows, |c| matches!(c, 0 | 3 | 7)));
        let missed: Vec<String> = self
            .designs
            .iter()
            .filter(|d| !d.figures.slo_missed.is_empty())
            .map(|d| {
                format!("  {}: {}", plain(&d.scenario), plain(&d.figures.slo_missed.join(", ")))
            })
            .collect();
        if !missed.is_empty() {
            s.push_str(&format!("\nSLO objectives missed\n{}\n", missed.join("\n")));
        }
        s
    }

    /// RFC 4180 CSV, one row per design; numbers unrounded (the JSON's), a missing value empty;
    /// the failures as `outcome=count` pairs joined by `;`.
    fn csv(&self) -> String {
        let header: Vec<String> = [
            "scenario",
            "system",
            "requests",
            "successes",
            "availability",
            "failures",
            "p99_ms",
            "p99_all_ms",
            "replica_seconds",
            "cold_starts",
            "slo",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut s = table::csv_row(&header);
        s.push('\n');
        for d in &self.designs {
            let f = &d.figures;
            let failures: Vec<String> =
                d.failures.iter().map(|(o, n)| format!("{o}={n}")).collect();
            let row = vec![
                d.scenario.clone(),
                d.system.clone(),
                f.requests.to_string(),
                f.successes.to_string(),
                f.availability.map_or_else(String::new, |a| a.to_string()),
                failures.join(";"),
                f.p99_ms.map_or_else(String::new, |v| v.to_string()),
                d.p99_all_ms.map_or_else(String::new, |v| v.to_string()),
                f.replica_seconds.to_string(),
                f.cold_starts.to_string(),
                match f.slo_verdict().as_str() {
                    "–" => String::new(),
                    v => v.to_owned(),
                },
            ];
            s.push_str(&table::csv_row(&row));
            s.push('\n');
        }
        s
    }
}

/// `DIR/compare.csv` and `DIR/compare.svg` (the sweep plot, one bar per design), each written
/// atomically (other files in DIR are kept).
fn write_dir(dir: &Path, comparison: &Comparison) -> anyhow::Result<()> {
    report::create_dir(dir)?;
    report::write_file(dir, "compare.csv", comparison.csv().as_bytes())?;
    let title = format!("Side by side — {} design(s)", comparison.designs.len());
    let points: Vec<SweepPoint> = comparison.designs.iter().map(|d| d.figures.clone()).collect();
    let svg = sweep::svg(&title, &["scenario".to_owned()], &points)
        .map_err(|reason| anyhow::anyhow!("cannot draw compare.svg: {reason}"))?;
    report::write_file(dir, "compare.svg", svg.as_bytes())?;
    Ok(())
}
