//! `fusebench run SCENARIO [--seed N] [--duration D] [--out DIR] [--seeds K]`: simulate the
//! system, print a summary table, and with `--out` write the report, the trace and the plots.
//!
//! Exit 0 when the run completed and every declared SLO objective was met; exit 1 when one was
//! missed (with `--seeds K`: missed in at least one run, the verdict the summary prints), with
//! one stderr line naming the missed objectives, so a script or CI job can gate on `run` as on
//! `check`. Exit 2 on bad input, including a module the host would refuse: that is reported
//! first as the located static finding `check` gives.
//!
//! `--out DIR` is written whole or not at all (staged next to DIR, then swapped in); names in
//! the summary are untrusted and printed through `text::plain`.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_model::Scenario;
use fusebench_model::text::{self, plain};
use fusebench_sim::explore::Shard;
use fusebench_sim::limits::{Budget, Limits, check_scenario};
use fusebench_sim::report::multi::{Estimate, MultiReport, RunFigures, scaled};
use fusebench_sim::report::shard::{RunShardFile, Split};
use fusebench_sim::report::{self, Report, SloStatus};
use fusebench_sim::setup::{self, ModuleFiles};
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, RunResult, Sim};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::load::{Loaded, load_or_report};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed of the run's random streams (the first seed with --seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated duration of the workload in seconds (default: the workload's).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Write report.md, report.json, trace.jsonl and the plots (SVG and PNG) into DIR,
    /// creating it. With --seeds, each run's files go to DIR/seed-N/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run K seeds (SEED, SEED+1, …) in parallel on all cores and report the means with 95 %
    /// confidence intervals.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub seeds: u64,
    /// Lift the resource limits (expected requests, users, store replicas, retries fan-out,
    /// events and trace bytes per run): see the README.
    #[arg(long)]
    pub limits_off: bool,
    /// Run only shard I of N of the K seeds (0-based: seed SEED+i when i mod N = I) and write
    /// their figures to `<out>/<system>.run-shard-I-of-N.json` for `fusebench merge` (out
    /// defaults to fusebench-out/); with --out each seed's files go to `<out>/seed-N/` too.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    let d: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if d.is_finite() && d > 0.0 && d <= 1e6 {
        Ok(d)
    } else {
        Err(format!("the duration must be a number of seconds in (0, 1e6], not {s}"))
    }
}

/// Everything a run needs, shared by every seed (and by `sweep`, one per grid point).
pub(crate) struct Plan {
    pub scenario: Scenario,
    pub files: ModuleFiles,
    pub duration: SimTime,
    /// Where the run's files go; `None` keeps only the trace's hash.
    pub out: Option<PathBuf>,
    pub limits: Limits,
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_or_report(&args.scenario, "nothing was run")? else {
        return Ok(ExitCode::from(2));
    };
    if !super::modules_loadable(&loaded, &args.scenario, "nothing was run") {
        return Ok(ExitCode::from(2));
    }
    let Loaded { scenario, files, .. } = loaded;
    let limits = super::limits(args.limits_off);
    {
        // The limits apply to what will run: the workload with `--duration` if given.
        let mut planned = scenario.clone();
        if let (Some(d), Some(w)) = (args.duration, planned.workload.as_mut()) {
            w.duration_s = d;
        }
        if super::report_limits(&check_scenario(&planned, &limits), "nothing was run") {
            return Ok(ExitCode::from(2));
        }
    }
    // Load once up front, so a module the host rejects is reported before any run starts.
    drop(
        setup::build_runtime(&scenario, &files)
            .with_context(|| format!("cannot load the modules of {}", args.scenario.display()))?,
    );
    let duration = SimTime::from_secs_f64(
        args.duration.unwrap_or_else(|| scenario.workload.as_ref().map_or(0.0, |w| w.duration_s)),
    );
    let plan = Plan { scenario, files, duration, out: args.out.clone(), limits };
    let Some(last) = args.seed.checked_add(args.seeds - 1) else {
        eprintln!("error: seeds {}..{} overflow a 64-bit seed", args.seed, args.seeds);
        return Ok(ExitCode::from(2));
    };
    if let Some(shard) = args.shard {
        let split = Split { first_seed: args.seed, seeds: args.seeds, duration_ns: duration.0 };
        run_shard(&plan, split, shard)?;
        return Ok(ExitCode::SUCCESS);
    }
    let missed = if args.seeds == 1 {
        run_single(&plan, args.seed)?
    } else {
        run_seeds(&plan, args.seed..=last)?
    };
    Ok(exit_code(&missed))
}

/// Exit 0 when no SLO objective was missed; else 1, with one stderr line naming them.
pub(crate) fn exit_code(missed: &[String]) -> ExitCode {
    if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("SLO missed: {}", missed.join(", "));
        ExitCode::from(1)
    }
}

/// `endpoint objective target` of one SLO objective (`search.search p99 ≤ 50 ms`), escaped
/// (endpoint names are untrusted).
fn objective_name(endpoint: &str, objective: report::Objective, target: f64) -> String {
    format!("{} {} {}", plain(endpoint), objective.label(), objective.show_target(target))
}

/// One seed: run, write the directory when asked, print the summary. Returns the SLO
/// objectives the run missed.
fn run_single(plan: &Plan, seed: u64) -> anyhow::Result<Vec<String>> {
    let bar = progress_bar(100, "{spinner} simulating [{bar:40}] {percent:>3}% {msg}");
    // With `--out` the trace streams into the staging directory while the run goes; DIR is
    // replaced only once every file is written.
    let staged = match &plan.out {
        Some(dir) => Some(
            report::stage_dir(dir)
                .with_context(|| format!("cannot write the report into {}", dir.display()))?,
        ),
        None => None,
    };
    let trace = staged.as_ref().map(|s| s.path().join(report::TRACE_JSONL));
    // One run, so a second core (if any) is free to write and hash its trace.
    let result = simulate_run(plan, seed, &bar, trace.as_deref(), cores_to_spare(1))?;
    let report = Report::new(&result, &plan.scenario);
    // The process ends once this report is out, so the run's final state is left to the
    // operating system instead of freed one allocation at a time: a long run's stores (every
    // kv entry of every replica) took 4 % of a 300 s `shop.toml` run to free (benches/README.md,
    // "Memory of `run`"). Seeds run in a loop (`run_seeds`, `sweep`) free theirs.
    std::mem::forget(result);
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    print_single(&mut out, &report)?;
    if let (Some(staged), Some(dir)) = (staged, &plan.out) {
        let write = || -> Result<Vec<String>, report::ReportError> {
            let written = report::write_run_files(staged.path(), &report, None)?;
            report::commit_dir(staged, dir)?;
            Ok(written)
        };
        let written =
            write().with_context(|| format!("cannot write the report into {}", dir.display()))?;
        let files: Vec<&str> = std::iter::once(report::TRACE_JSONL)
            .chain(written.iter().map(String::as_str))
            .collect();
        writeln!(out, "\nwrote {}: {}", plain(&dir.display().to_string()), files.join(", "))?;
    }
    Ok(report
        .slos
        .iter()
        .filter(|v| v.verdict == SloStatus::Fail)
        .map(|v| objective_name(&v.endpoint, v.objective, v.target))
        .collect())
}

/// K seeds in parallel (rayon; `RAYON_NUM_THREADS` caps the threads). Results are collected in
/// seed order, so nothing printed or written depends on which run finished first. With `--out`
/// every file (each seed's `seed-N/` and the aggregate) goes into one staging directory that
/// replaces DIR only when all are written: a failed or interrupted run leaves DIR as it was.
/// Returns the SLO objectives missed in at least one run.
fn run_seeds(plan: &Plan, seeds: std::ops::RangeInclusive<u64>) -> anyhow::Result<Vec<String>> {
    let count = seeds.end() - seeds.start() + 1;
    let staged = match &plan.out {
        Some(dir) => Some(
            report::stage_dir(dir)
                .with_context(|| format!("cannot write the report into {}", dir.display()))?,
        ),
        None => None,
    };
    let bar = progress_bar(count, "{spinner} runs [{bar:40}] {pos}/{len} done");
    let seeds: Vec<u64> = seeds.collect();
    let dir_of = |i: usize| staged.as_ref().map(|s| s.path().join(format!("seed-{}", seeds[i])));
    let reports = simulate_seeds(plan, &seeds, &dir_of, &bar)?;
    bar.finish_and_clear();
    let multi = MultiReport::new(&reports);
    let mut out = std::io::stdout().lock();
    print_multi(&mut out, &multi)?;
    if let (Some(staged), Some(dir)) = (staged, &plan.out) {
        let write = || -> Result<(), report::ReportError> {
            write_aggregate(staged.path(), &multi)?;
            report::commit_dir(staged, dir)
        };
        write().with_context(|| format!("cannot write the report into {}", dir.display()))?;
        writeln!(
            out,
            "\nwrote {}: report.json, report.md, and each run's files in seed-N/",
            plain(&dir.display().to_string())
        )?;
    }
    Ok(missed_objectives(&multi))
}

/// The aggregate's `report.json` and `report.md` in `dir`.
fn write_aggregate(dir: &Path, multi: &MultiReport) -> Result<(), report::ReportError> {
    report::write_file(dir, report::REPORT_JSON, &multi.to_json()?)?;
    report::write_file(dir, report::REPORT_MD, multi.to_markdown().as_bytes())
}

/// The SLO objectives missed in at least one run, named.
fn missed_objectives(multi: &MultiReport) -> Vec<String> {
    multi
        .slos
        .iter()
        .filter(|s| s.passed < s.runs)
        .map(|s| objective_name(&s.endpoint, s.objective, s.target))
        .collect()
}

/// Runs `seeds` in parallel (rayon; `RAYON_NUM_THREADS` caps the threads), the `i`-th into
/// the directory `dir_of(i)` when it gives one, and returns their reports in the order of
/// `seeds`.
fn simulate_seeds(
    plan: &Plan,
    seeds: &[u64],
    dir_of: &(dyn Fn(usize) -> Option<PathBuf> + Sync),
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Report>> {
    let trace_thread = cores_to_spare(seeds.len().min(rayon::current_num_threads()));
    seeds
        .par_iter()
        .enumerate()
        .map(|(i, &seed)| {
            let dir = dir_of(i);
            if let Some(dir) = &dir {
                report::create_dir(dir)
                    .with_context(|| format!("cannot write the report of seed {seed}"))?;
            }
            let trace = dir.as_ref().map(|d| d.join(report::TRACE_JSONL));
            let report =
                simulate(plan, seed, &ProgressBar::hidden(), trace.as_deref(), trace_thread)?;
            if let Some(dir) = &dir {
                report::write_run_files(dir, &report, None)
                    .with_context(|| format!("cannot write the report of seed {seed}"))?;
            }
            bar.inc(1);
            Ok(report)
        })
        .collect()
}

/// `run --seeds K --shard I/N`: runs this shard's seeds and writes their figures for
/// `fusebench merge`, which gives what `run --seeds K` prints and writes. With `--out`, each
/// seed's files go to `DIR/seed-N/` as with `--seeds` (DIR is shared by the shards: it is not
/// replaced, only each seed's directory is). Nothing is judged here: the merge decides.
fn run_shard(plan: &Plan, split: Split, shard: Shard) -> anyhow::Result<()> {
    let seeds: Vec<u64> = (0..split.seeds)
        .filter(|&i| shard.owns(usize::try_from(i).unwrap_or(usize::MAX)))
        .map(|i| split.first_seed + i)
        .collect();
    let dir = plan.out.clone().unwrap_or_else(|| PathBuf::from("fusebench-out"));
    report::create_dir(&dir).with_context(|| format!("cannot write into {}", dir.display()))?;
    let bar = progress_bar(seeds.len() as u64, "{spinner} runs [{bar:40}] {pos}/{len} done");
    // Each seed's directory is staged and swapped in whole, as a one-seed `--out` is.
    let staged: Vec<(fusebench_sim::atomic::StagedDir, PathBuf)> = match &plan.out {
        Some(out) => seeds
            .iter()
            .map(|seed| {
                let seed_dir = out.join(format!("seed-{seed}"));
                report::stage_dir(&seed_dir)
                    .map(|s| (s, seed_dir))
                    .with_context(|| format!("cannot write the report of seed {seed}"))
            })
            .collect::<anyhow::Result<_>>()?,
        None => Vec::new(),
    };
    let dir_of = |i: usize| staged.get(i).map(|(s, _)| s.path().to_path_buf());
    let runs: Vec<RunFigures> =
        simulate_seeds(plan, &seeds, &dir_of, &bar)?.iter().map(RunFigures::of).collect();
    bar.finish_and_clear();
    for (staged, seed_dir) in staged {
        report::commit_dir(staged, &seed_dir)
            .with_context(|| format!("cannot write {}", seed_dir.display()))?;
    }
    let missed = runs.iter().filter(|r| r.slos.iter().any(|v| v.verdict == SloStatus::Fail));
    let missed = missed.count();
    let file = RunShardFile::new(&plan.scenario, &plan.files, split, shard, runs);
    let name = format!(
        "{}.run-shard-{}-of-{}.json",
        text::file_name(&plan.scenario.name),
        shard.index,
        shard.count
    );
    let path = dir.join(name);
    fusebench_sim::atomic::write(&path, serde_json::to_string(&file)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "shard {shard}: {} of {} seeds run ({missed} missed an SLO objective), written to {}",
        seeds.len(),
        split.seeds,
        plain(&path.display().to_string())
    )?;
    Ok(())
}

/// `fusebench merge` of run shards: the aggregate of the joined runs, printed and (with
/// `out`) written as `run --seeds K` does. Returns the SLO objectives missed in at least one
/// run.
pub(crate) fn print_merged(
    runs: Vec<RunFigures>,
    out_dir: Option<&Path>,
) -> anyhow::Result<Vec<String>> {
    let multi = MultiReport::of_runs(runs);
    let mut out = std::io::stdout().lock();
    print_multi(&mut out, &multi)?;
    if let Some(dir) = out_dir {
        let write = || -> Result<(), report::ReportError> {
            report::create_dir(dir)?;
            write_aggregate(dir, &multi)
        };
        write().with_context(|| format!("cannot write the report into {}", dir.display()))?;
        writeln!(out, "\nwrote {}: report.json, report.md", plain(&dir.display().to_string()))?;
    }
    Ok(missed_objectives(&multi))
}

/// Runs one seed with its own runtime; advances in slices of 1 % of the run to move `bar`.
/// With `trace`, the trace is streamed into that file as the run goes (never kept whole in
/// memory: a run's memory stays flat in its length); without, only its hash is computed.
/// With `trace_thread` the trace is written on a thread of its own ([`cores_to_spare`]).
pub(crate) fn simulate(
    plan: &Plan,
    seed: u64,
    bar: &ProgressBar,
    trace: Option<&Path>,
    trace_thread: bool,
) -> anyhow::Result<Report> {
    Ok(Report::new(&simulate_run(plan, seed, bar, trace, trace_thread)?, &plan.scenario))
}

/// Runs one seed of the plan to its end (the trace streamed to `trace` if given) and returns
/// what the run left, for [`Report::new`]. With `trace_thread` the trace is written and hashed
/// on a thread of its own (the same bytes and hash; the run's thread does a third less).
fn simulate_run(
    plan: &Plan,
    seed: u64,
    bar: &ProgressBar,
    trace: Option<&Path>,
    trace_thread: bool,
) -> anyhow::Result<RunResult> {
    let runtime = setup::build_runtime(&plan.scenario, &plan.files)
        .context("cannot load the scenario's modules")?;
    let mut options = RunOptions::new(seed);
    options.trace = TraceMode::Hash;
    options.trace_thread = trace_thread;
    options.duration = Some(plan.duration);
    let end = plan.duration + options.drain_nanos;
    let scenario = plan.scenario.clone();
    let mut sim = match trace {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write the trace {}", path.display()))?;
            let writer = Box::new(std::io::BufWriter::with_capacity(1 << 16, file));
            Sim::with_trace_stream(scenario, Box::new(runtime), &options, writer)?
        }
        None => Sim::new(scenario, Box::new(runtime), &options),
    };
    // The run's event and trace budget, checked between bounded slices of events: a run that
    // would exhaust memory stops with the limit named instead.
    let mut budget = Budget::new(&plan.limits);
    let slices = 100;
    for i in 1..=slices {
        let t = SimTime((u128::from(end.nanos()) * i / 100) as u64);
        budget.run_until(&mut sim, t).with_context(|| format!("seed {seed}"))?;
        if !bar.is_hidden() {
            bar.set_position(i as u64);
            bar.set_message(format!(
                "{:.1} / {:.1} s simulated",
                sim.now().as_secs_f64(),
                end.as_secs_f64()
            ));
        }
    }
    // Anything the slices could not reach (none: the last slice is the end) finishes here.
    budget.run_to_end(&mut sim).with_context(|| format!("seed {seed}"))?;
    let result = sim.finish();
    if let (Some(path), Some(Err(e))) = (trace, &result.trace_streamed) {
        anyhow::bail!("cannot write the trace {}: {e}", path.display());
    }
    Ok(result)
}

/// Whether `runs` running at once leave a core each for their traces' writer threads: a
/// writer thread only pays where its core would otherwise be idle (it trades CPU time for
/// wall time: benches/README.md, "The trace on a thread of its own").
pub(crate) fn cores_to_spare(runs: usize) -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2 * runs.max(1))
}

/// A bar on stderr when it is a terminal; a hidden one (that costs nothing) otherwise.
pub(crate) fn progress_bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

// ---- the summary table (fits 100 columns) -----------------------------------------------------

/// Width of the name column; longer names go on a line of their own.
const NAME_WIDTH: usize = 24;

/// The name cell, escaped (names are untrusted): padded, or alone on its line (then the figures
/// start on the next one).
fn name_cell(name: &str) -> String {
    let name = plain(name);
    if name.chars().count() <= NAME_WIDTH {
        format!("{name:<NAME_WIDTH$}")
    } else {
        format!("{name}\n{:<NAME_WIDTH$}", "")
    }
}

fn print_single(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "{} · seed {} · {:.1} s workload ({:.1} s with drain) · {} events · trace {}",
        plain(&r.system),
        r.seed,
        r.duration_s,
        r.end_s,
        r.events,
        r.trace_hash.get(..16).unwrap_or(&r.trace_hash)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<NAME_WIDTH$}{:>9}{:>10}{:>9}{:>10}{:>10}{:>10}{:>10}",
        "endpoint", "requests", "avail %", "req/s", "mean ms", "p50 ms", "p99 ms", "max ms"
    )?;
    for (name, e) in &r.endpoints {
        let l = &e.latency;
        // No successful answer, no latency: a dash, not a misleading 0.
        let ms = |v: f64| if l.count == 0 { "–".to_owned() } else { format!("{v:.2}") };
        writeln!(
            out,
            "{}{:>9}{:>10.3}{:>9.1}{:>10}{:>10}{:>10}{:>10}",
            name_cell(name),
            e.requests,
            e.availability * 100.0,
            e.throughput_rps,
            ms(l.mean_ms),
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.max_ms)
        )?;
        let failures: Vec<String> = e
            .outcomes
            .iter()
            .filter(|(o, _)| !matches!(o.as_str(), "ok" | "expected-error"))
            .map(|(o, n)| format!("{} {n}", plain(o)))
            .collect();
        if !failures.is_empty() {
            let all = &e.latency_all;
            writeln!(
                out,
                "    unavailable: {}; latency of every answer incl. these: mean {:.2} ms, p99 {:.2} ms",
                failures.join(", "),
                all.mean_ms,
                all.p99_ms
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<NAME_WIDTH$}{:>11}{:>9}{:>10}{:>9}{:>8}{:>10}{:>8}{:>9}",
        "service", "invocations", "util %", "W ms", "L", "q max", "rejected", "faults", "refusals"
    )?;
    for (name, s) in &r.services {
        writeln!(
            out,
            "{}{:>11}{:>9.2}{:>10.2}{:>9.3}{:>8}{:>10}{:>8}{:>9}",
            name_cell(name),
            s.invocations,
            s.utilisation * 100.0,
            s.mean_sojourn_ms,
            s.mean_in_system,
            s.queue_depth_max,
            s.rejected,
            s.guest_faults.values().sum::<u64>(),
            s.refusals
        )?;
    }
    writeln!(out)?;
    print_ejections(out, r)?;
    print_cold_starts(out, r)?;
    print_journeys(out, r)?;
    print_slos(out, r)
}

/// Outlier ejections (nothing when there were none): a replica a caller took out of its
/// balancing moves its share of the load onto the others, which can turn a mild overload into
/// many rejections — worth a line where the table shows only the rejections.
fn print_ejections(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let ejected: Vec<_> = r.services.iter().filter(|(_, s)| s.ejections > 0).collect();
    for (name, s) in &ejected {
        writeln!(
            out,
            "outlier detection ejected a replica of {} {} time(s): while out, its callers sent its share to the other replicas (`ejected` in the trace)",
            plain(name),
            s.ejections
        )?;
    }
    if !ejected.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// Cold starts (nothing when there were none): per service the replicas started with their
/// module's cost, per endpoint the requests its activator held and the latency that added —
/// the figures of `report.md`'s Cold starts section.
fn print_cold_starts(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let cold: Vec<_> = r.services.iter().filter(|(_, s)| !s.cold_starts.is_empty()).collect();
    if cold.is_empty() {
        return Ok(());
    }
    let ms = |n: u64| n as f64 / 1e6;
    for (name, s) in cold {
        let c = &s.cold_starts;
        let mean = c.cost_nanos.checked_div(c.replicas).unwrap_or(0);
        writeln!(
            out,
            "cold starts of {}: {} replica(s), {:.1} ms each on average",
            plain(name),
            c.replicas,
            ms(mean)
        )?;
        for (endpoint, w) in &c.endpoints {
            let avg = w.waited_nanos_total.checked_div(w.released).unwrap_or(0);
            writeln!(
                out,
                "    {}: {} request(s) waited in the activator, {:.1} ms added in all (mean {:.1}, max {:.1}); {} overflow, {} timeout",
                plain(endpoint),
                w.released,
                ms(w.waited_nanos_total),
                ms(avg),
                ms(w.waited_nanos_max),
                w.overflow,
                w.timeout
            )?;
        }
    }
    writeln!(out)
}

/// The journeys' table (nothing when the workload has none): the figures of `report.md`'s
/// Journeys section, latency of completed journeys (think times included).
fn print_journeys(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    if r.journeys.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{:<NAME_WIDTH$}{:>8}{:>10}{:>7}{:>11}{:>11}{:>9}{:>9}{:>9}",
        "journey",
        "started",
        "completed",
        "failed",
        "unfinished",
        "complete %",
        "p50 ms",
        "p95 ms",
        "p99 ms"
    )?;
    for (name, j) in &r.journeys {
        let l = &j.latency;
        let ms = |v: f64| if l.count == 0 { "–".to_owned() } else { format!("{v:.2}") };
        writeln!(
            out,
            "{}{:>8}{:>10}{:>7}{:>11}{:>11.1}{:>9}{:>9}{:>9}",
            name_cell(name),
            j.started,
            j.completed,
            j.failed,
            j.unfinished,
            j.completion_rate * 100.0,
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms)
        )?;
        let at: Vec<String> = j
            .failed_by_step
            .iter()
            .filter(|s| s.failed > 0)
            .map(|s| format!("{} {}", plain(&s.step), s.failed))
            .collect();
        if !at.is_empty() {
            writeln!(out, "    failed at step: {}", at.join(", "))?;
        }
    }
    writeln!(out)
}

fn print_slos(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    if r.slos.is_empty() {
        return writeln!(out, "SLOs: none declared");
    }
    writeln!(out, "SLO verdicts")?;
    for v in &r.slos {
        let actual = v.actual.map_or_else(|| "no data".to_owned(), |a| v.objective.show_value(a));
        writeln!(
            out,
            "  {}  {:<28} {:<13} {:<14} actual {actual}",
            v.verdict.name(),
            plain(&v.endpoint),
            v.objective.label(),
            v.objective.show_target(v.target)
        )?;
    }
    let failed = r.slos.iter().filter(|v| v.verdict == SloStatus::Fail).count();
    if failed == 0 {
        writeln!(out, "SLOs: PASS — all {} objectives met", r.slos.len())
    } else {
        writeln!(out, "SLOs: FAIL — {failed} of {} objectives missed", r.slos.len())
    }
}

fn print_multi(out: &mut impl Write, m: &MultiReport) -> std::io::Result<()> {
    let first = m.runs.first().map_or(0, |r| r.seed);
    let last = m.runs.last().map_or(0, |r| r.seed);
    writeln!(
        out,
        "{} · {} seeds ({first}..={last}) · {:.1} s workload each · mean ± 95 % CI (Student's t)",
        plain(&m.system),
        m.runs.len(),
        m.duration_s
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<NAME_WIDTH$}{:>15}{:>16}{:>15}{:>14}{:>15}",
        "endpoint", "p50 ms", "p99 ms", "mean ms", "req/s", "avail %"
    )?;
    let cell =
        |e: Option<Estimate>, decimals: usize| e.map_or("–".to_owned(), |e| e.show(decimals));
    for (name, e) in &m.endpoints {
        writeln!(
            out,
            "{}{:>15}{:>16}{:>15}{:>14}{:>15}",
            name_cell(name),
            cell(e.p50_ms, 2),
            cell(e.p99_ms, 2),
            cell(e.mean_ms, 2),
            cell(e.throughput_rps, 1),
            cell(e.availability.map(|a| scaled(a, 100.0)), 2),
        )?;
    }
    writeln!(out)?;
    for r in &m.runs {
        let missed = match r.slos_failed {
            0 => String::new(),
            n => format!(", {n} SLO objective(s) missed"),
        };
        writeln!(
            out,
            "seed {}: {} events, trace {}{missed}",
            r.seed,
            r.events,
            r.trace_hash.get(..16).unwrap_or(&r.trace_hash)
        )?;
    }
    writeln!(out)?;
    if m.slos.is_empty() {
        return writeln!(out, "SLOs: none declared");
    }
    writeln!(out, "SLO objectives over {} runs", m.runs.len())?;
    for s in &m.slos {
        let verdict = if s.passed == s.runs { "PASS" } else { "FAIL" };
        let actual = s.show_actual();
        writeln!(
            out,
            "  {verdict}  {:<28} {:<13} {:<14} met {}/{}  actual {actual}",
            plain(&s.endpoint),
            s.objective.label(),
            s.objective.show_target(s.target),
            s.passed,
            s.runs
        )?;
    }
    let failed = m.slos.iter().filter(|s| s.passed < s.runs).count();
    if failed == 0 {
        writeln!(out, "SLOs: PASS — all {} objectives met in every run", m.slos.len())
    } else {
        writeln!(
            out,
            "SLOs: FAIL — {failed} of {} objectives missed in at least one run",
            m.slos.len()
        )
    }
}
