//! `fusebench check SCENARIO [--static] [--cases N] [--seed S] [--shrink-budget SECONDS]
//! [--format text|json|junit] [--out DIR]`: the static checks, then the dynamic properties
//! judged in every explored case.
//!
//! Exit 0: every check passed and no property failed in any case (warnings allowed; a property
//! not exercised is reported, not failed). 1: one failed. 2: bad input.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fusebench_model::checks::{self, CheckOutcome};
use fusebench_model::text::{self, Target, plain, xml};
use fusebench_model::{Diagnostic, Scenario, Severity};
use fusebench_sim::explore::replay::ReplayFile;
use fusebench_sim::explore::{self, Exploration};
use fusebench_sim::explore::{PropertySummary, Shrinking};
use fusebench_sim::load::Loaded;
use fusebench_sim::properties::Status;
use fusebench_sim::setup::{self, NotRunnable};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::load::load_or_report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Static checks only (nothing is run).
    #[arg(long = "static")]
    pub static_only: bool,
    /// Explored cases for the dynamic properties (the declared scenario is case 0), at least 1;
    /// more than the resource limit (10000) needs `--limits-off`.
    #[arg(long, default_value_t = 16, value_parser = parse_cases)]
    pub cases: usize,
    /// Seed of the exploration (cases and runs derive from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where a counterexample's replay file is written (default: `fusebench-out/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Wall-time budget of shrinking a counterexample, in seconds (`60` or `60s`): when it is
    /// spent, the smallest failing case found so far is reported (and the output says so).
    #[arg(long, default_value = "60", value_parser = parse_budget)]
    pub shrink_budget: std::time::Duration,
    /// Lift the resource limits (expected requests, users, store replicas, retries fan-out,
    /// events and trace bytes per run, cases): see the README.
    #[arg(long)]
    pub limits_off: bool,
    /// Run only shard I of N (0-based: cases i with i mod N = I) and write their verdicts to
    /// `<out>/<system>.shard-I-of-N.json` for `fusebench merge`; nothing is judged overall.
    #[arg(long, value_parser = explore::Shard::parse, conflicts_with = "static_only")]
    pub shard: Option<explore::Shard>,
    /// Set by `fusebench merge`: every case's verdicts, read from the shard files.
    #[arg(skip)]
    pub merged: Option<Vec<explore::CaseVerdicts>>,
}

/// `--cases`: a whole number, at least 1 (case 0 is the declared scenario itself).
fn parse_cases(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (case 0 is the declared scenario)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}; a whole number of cases, at least 1, is expected")),
    }
}

/// `--shrink-budget`: seconds, a positive number, optionally followed by `s`.
pub(crate) fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    let n = text.strip_suffix('s').unwrap_or(text);
    match n.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1e9 => Ok(std::time::Duration::from_secs_f64(x)),
        Ok(x) => Err(format!("{x} is not a positive number of seconds")),
        Err(e) => Err(format!("{e}; a number of seconds is expected, e.g. 60 or 60s")),
    }
}

#[derive(Debug, Serialize)]
struct Dynamic {
    cases: usize,
    failing: usize,
    seed: u64,
    /// Every property over every case (a property that failed in any case is failed).
    properties: Vec<PropertyOut>,
    counterexample: Option<Counterexample>,
}

/// One property over every case, as written in JSON (and read back by the text and JUnit
/// writers, so the three agree).
#[derive(Debug, Serialize)]
struct PropertyOut {
    id: Cow<'static, str>,
    /// What the property asserts.
    summary: Cow<'static, str>,
    status: Status,
    /// "failed in 1 of 16 case(s) (first: case 5), held in 15", as in the text output.
    cases: String,
    held: Vec<usize>,
    failed: Vec<usize>,
    not_exercised: Vec<usize>,
    /// Cases in which its checker broke (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<usize>,
    skipped: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_why: Option<&'static str>,
    /// The case the findings and notes come from.
    shown_case: usize,
    /// The findings are the shrunk counterexample's (else the case's as explored).
    shown_from_counterexample: bool,
    findings: Vec<String>,
    notes: Vec<String>,
    /// What the findings concern (services, stores, keys): what a replay's story follows.
    subjects: Vec<String>,
    /// The replay file of the run the findings come from: the counterexample's, or — when the
    /// counterexample was shrunk for another property — the shown case's as explored.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_file: Option<String>,
}

impl PropertyOut {
    fn of(p: PropertySummary) -> Self {
        PropertyOut {
            cases: p.counts(),
            id: p.id,
            summary: p.summary,
            status: p.status,
            held: p.held,
            failed: p.failed,
            not_exercised: p.not_exercised,
            errors: p.errors,
            skipped: p.skipped,
            skipped_why: p.skipped_why,
            shown_case: p.shown_case,
            shown_from_counterexample: p.shown_from_counterexample,
            findings: p.shown.findings,
            notes: p.shown.notes,
            subjects: p.shown.subjects,
            replay_file: None,
        }
    }

    fn passed(&self) -> bool {
        self.status.passed()
    }
}

#[derive(Debug, Serialize)]
struct Counterexample {
    schedule: explore::Schedule,
    seed: u64,
    /// Faults the scenario declares (active in every case).
    declared_faults: usize,
    /// Faults exploration added (`schedule.faults`).
    injected_faults: usize,
    shrinking: Shrinking,
    /// The wall-time budget shrinking had (`--shrink-budget`), in seconds.
    shrink_budget_s: f64,
    replay_file: String,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    scenario: &'a str,
    system: &'a str,
    passed: bool,
    checks: Vec<CheckOutcome>,
    coupling: Vec<(String, String, f64)>,
    cohesion: Vec<(String, f64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic: Option<Dynamic>,
    /// Why the dynamic properties were not checked, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic_skipped: Option<String>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_or_report(&args.scenario, "nothing was checked")? else {
        return Ok(ExitCode::from(2));
    };
    crate::print_diagnostics(&loaded.diagnostics);
    let s = &loaded.scenario;
    if !args.static_only && s.workload.is_some() {
        // The worst case exploration generates: the declared duration at the highest rate scale.
        let limits = super::limits(args.limits_off);
        let worst = explore::Schedule {
            rate_scale: explore::RATE_SCALE_MAX,
            declared: false,
            ..explore::Schedule::declared(s)
        };
        let mut problems = fusebench_sim::limits::check_scenario(&worst.apply(s), &limits);
        problems.extend(fusebench_sim::limits::check_cases(args.cases, &limits).err());
        if super::report_limits(
            &problems,
            "nothing was checked (explored cases scale the declared rates up to 1.5×)",
        ) {
            return Ok(ExitCode::from(2));
        }
    }
    let results = checks::outcomes(s, &loaded.modules);
    let file = args.scenario.display().to_string();
    if let Some(shard) = args.shard {
        return write_shard(args, &loaded, shard, &results);
    }
    let (dynamic, dynamic_skipped) = if args.static_only {
        (None, None)
    } else {
        match dynamic(args, &loaded, &file, &results)? {
            Ok(d) => (Some(d), None),
            Err(why) => (None, Some(why)),
        }
    };
    let passed = results.iter().all(|r| r.passed)
        && dynamic.as_ref().is_none_or(|d| d.properties.iter().all(PropertyOut::passed));
    let report = Report {
        scenario: &file,
        system: &s.name,
        passed,
        checks: results,
        coupling: checks::coupling_matrix(s),
        cohesion: s.services.iter().map(|x| (x.name.clone(), checks::cohesion(x))).collect(),
        dynamic,
        dynamic_skipped,
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => write_text(&mut out, &report, s)?,
        Format::Json => writeln!(out, "{}", text::json(&serde_json::to_string_pretty(&report)?))?,
        Format::Junit => write_junit(&mut out, &report)?,
    }
    // A module that does not read or validate is bad input, as for every other command (the
    // README's exit codes): the report above still lists every finding. So is a property
    // checker that broke: the property was not judged.
    let unjudged = report
        .dynamic
        .as_ref()
        .is_some_and(|d| d.properties.iter().any(|p| p.status == Status::Error));
    let unusable =
        unjudged || report.checks.iter().any(|c| c.id == checks::MODULE_VALID && !c.passed);
    Ok(if unusable {
        ExitCode::from(2)
    } else if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Explores the dynamic properties; `Ok(Err(why))` when they cannot run.
fn dynamic(
    args: &CheckArgs,
    loaded: &Loaded,
    file: &str,
    statics: &[CheckOutcome],
) -> anyhow::Result<Result<Dynamic, String>> {
    match setup::runnable(loaded, statics) {
        Ok(()) => {}
        Err(NotRunnable::Rejected(e)) => return Err(e.into()),
        Err(why) => return Ok(Err(why.to_string())),
    }
    let (s, files) = (&loaded.scenario, &loaded.files);
    let bar = if std::io::stderr().is_terminal() {
        let bar =
            ProgressBar::with_draw_target(Some(args.cases as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} cases {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix("exploring");
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |done: usize, failing: usize| {
        bar.set_position(done as u64);
        bar.set_message(format!("({failing} failing)"));
    };
    // The shrink budget runs from shrinking's first question (right after the cases): wall
    // time decides only when shrinking stops, never which counterexample it keeps.
    let shrink_started = std::sync::OnceLock::new();
    let keep_shrinking =
        || shrink_started.get_or_init(std::time::Instant::now).elapsed() < args.shrink_budget;
    let limits = super::limits(args.limits_off);
    let Exploration { cases, failing, counterexample, shrinking, summary, .. } = match &args.merged
    {
        Some(outcomes) => explore::conclude(s, files, outcomes, &limits, &keep_shrinking)?,
        None => explore::explore_limited(
            s,
            files,
            args.cases,
            args.seed,
            &limits,
            &keep_shrinking,
            &progress,
        )?,
    };
    bar.finish_and_clear();
    let mut properties: Vec<PropertyOut> = summary.into_iter().map(PropertyOut::of).collect();
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("fusebench-out"));
    // The system's name is untrusted: it names the files, it cannot choose the directory.
    let stem = text::file_name(&s.name);
    let counterexample = match counterexample.zip(shrinking) {
        None => None,
        Some(((case, _), shrinking)) => {
            let path = dir.join(format!("{stem}.replay.json"));
            write_replay(&path, &ReplayFile::new(file, s, files, &case))?;
            Some(Counterexample {
                schedule: case.schedule.clone(),
                seed: case.seed,
                declared_faults: s.faults.len(),
                injected_faults: case.schedule.faults.len(),
                shrinking,
                shrink_budget_s: args.shrink_budget.as_secs_f64(),
                replay_file: path.display().to_string(),
            })
        }
    };
    // A property the counterexample does not show failing gets the case it failed in, as
    // explored, in a replay file of its own: every failed property can be replayed.
    let mut case_files: BTreeMap<usize, String> = BTreeMap::new();
    for p in properties.iter_mut().filter(|p| p.status == Status::Failed) {
        if p.shown_from_counterexample {
            p.replay_file = counterexample.as_ref().map(|c| c.replay_file.clone());
            continue;
        }
        if let Entry::Vacant(slot) = case_files.entry(p.shown_case) {
            let Some(case) =
                explore::rerun_case(s, files, (args.cases, args.seed), p.shown_case, &limits)?
            else {
                continue;
            };
            let path = dir.join(format!("{stem}.case-{}.replay.json", p.shown_case));
            write_replay(&path, &ReplayFile::new(file, s, files, &case))?;
            slot.insert(path.display().to_string());
        }
        p.replay_file = case_files.get(&p.shown_case).cloned();
    }
    Ok(Ok(Dynamic { cases, failing, seed: args.seed, properties, counterexample }))
}

/// Writes `replay` to `path` (its directory created), the scenario's path stored relative to
/// the replay file so that it is found from any working directory.
fn write_replay(path: &Path, replay: &ReplayFile) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let replay = replay.stored_at(path);
    fusebench_sim::atomic::write(path, serde_json::to_string_pretty(&replay)?.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// `check --shard I/N`: judges this shard's cases and writes them for `fusebench merge`.
/// Exit 0 when the file is written, whatever the verdicts (the merge decides); 2 when the
/// scenario cannot run.
fn write_shard(
    args: &CheckArgs,
    loaded: &Loaded,
    shard: explore::Shard,
    statics: &[CheckOutcome],
) -> anyhow::Result<ExitCode> {
    match setup::runnable(loaded, statics) {
        Ok(()) => {}
        Err(NotRunnable::Rejected(e)) => return Err(e.into()),
        Err(why) => {
            eprintln!("error: the dynamic properties cannot run, so no shard was written: {why}");
            return Ok(ExitCode::from(2));
        }
    }
    let (s, files) = (&loaded.scenario, &loaded.files);
    let mine = (0..args.cases).filter(|i| shard.owns(*i)).count();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(mine as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let progress = |done: usize, _failing: usize| bar.set_position(done as u64);
    let limits = super::limits(args.limits_off);
    let results = explore::judge_cases(s, files, args.cases, args.seed, &limits, shard, &progress)?;
    bar.finish_and_clear();
    let failing = results.iter().filter(|(_, c)| c.failed()).count();
    let judged = results.len();
    let out = explore::shard::ShardFile::new(s, files, args.cases, args.seed, shard, results);
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("fusebench-out"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let name =
        format!("{}.shard-{}-of-{}.json", text::file_name(&s.name), shard.index, shard.count);
    let path = dir.join(name);
    fusebench_sim::atomic::write(&path, serde_json::to_string(&out)?.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "shard {shard}: {judged} of {} cases judged ({failing} failing), written to {}",
        args.cases,
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The text mark of a property's status over all cases.
fn mark(status: Status) -> &'static str {
    match status {
        Status::Held => "pass",
        Status::Failed => "FAIL",
        Status::NotExercised => "skip",
        Status::Error => "ERROR",
    }
}

fn write_text(out: &mut impl std::io::Write, r: &Report<'_>, s: &Scenario) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} ({}): {} services in {} bounded contexts, {} stores, {} channels",
        plain(r.system),
        plain(r.scenario),
        s.services.len(),
        s.contexts.len(),
        s.stores.len(),
        s.channels.len()
    )?;
    writeln!(out, "static checks:")?;
    for c in &r.checks {
        let warnings = c.findings.iter().filter(|d| d.severity != Severity::Error).count();
        let mark = if c.passed { "pass" } else { "FAIL" };
        let extra = if warnings > 0 { format!(" ({warnings} warning(s))") } else { String::new() };
        writeln!(out, "  {mark}  {:<20} {}{extra}", c.id, c.summary)?;
        for d in &c.findings {
            for line in d.to_string().lines() {
                writeln!(out, "        {line}")?;
            }
        }
    }
    writeln!(out, "metrics:")?;
    for (a, b, c) in &r.coupling {
        writeln!(out, "  Coupling({}, {}) = {c:.2}", plain(a), plain(b))?;
    }
    for (svc, c) in &r.cohesion {
        writeln!(out, "  Cohesion({}) = {c:.2}", plain(svc))?;
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    writeln!(out, "static: {} passed, {failed} failed", r.checks.len() - failed)?;
    if let Some(why) = &r.dynamic_skipped {
        writeln!(out, "dynamic properties not checked: {why}")?;
    }
    if let Some(d) = &r.dynamic {
        writeln!(
            out,
            "dynamic properties ({} cases from seed {}, {} failing):",
            d.cases, d.seed, d.failing
        )?;
        for v in &d.properties {
            writeln!(out, "  {:<5} {:<20} {}", mark(v.status), v.id, v.summary)?;
            writeln!(out, "        {}", v.cases)?;
            if !v.findings.is_empty() {
                let from = if v.shown_from_counterexample {
                    format!("in the counterexample shrunk from case {}", v.shown_case)
                } else {
                    format!("in case {}", v.shown_case)
                };
                writeln!(out, "        {from}:")?;
            }
            for f in &v.findings {
                writeln!(out, "        {}", plain(f))?;
            }
            if let Some(file) = v.replay_file.as_ref().filter(|_| !v.shown_from_counterexample) {
                writeln!(out, "        replay it: fusebench replay {}", plain(file))?;
            }
            if matches!(v.status, Status::NotExercised | Status::Error) {
                for n in &v.notes {
                    writeln!(out, "        {}", plain(n))?;
                }
            }
        }
        if let Some(c) = &d.counterexample {
            let sch = &c.schedule;
            let sh = &c.shrinking;
            let burst = sch.burst.map_or(String::new(), |b| {
                format!(", arrivals in bursts ({:.1} s on, {:.1} s off)", b.on_s, b.off_s)
            });
            writeln!(
                out,
                "counterexample (case {}, shrunk in {} runs, {} reductions): {}{} declared + {} injected fault(s), {:.1} s at {:.0} % of the declared rate{burst}, seed {}",
                sh.from_case,
                sh.runs,
                sh.reductions,
                if sch.declared { "the declared scenario, " } else { "" },
                c.declared_faults,
                c.injected_faults,
                sch.duration_s,
                sch.rate_scale * 100.0,
                c.seed
            )?;
            if sh.budget_hit {
                writeln!(
                    out,
                    "  shrinking stopped at its {} s budget (--shrink-budget): a longer one may give a smaller counterexample",
                    c.shrink_budget_s
                )?;
            }
            for f in &sch.faults {
                writeln!(out, "  + {}", text::json(&serde_json::to_string(f)?))?;
            }
            writeln!(out, "replay it: fusebench replay {}", plain(&c.replay_file))?;
        }
        let count = |st: Status| d.properties.iter().filter(|v| v.status == st).count();
        let unjudged = match count(Status::Error) {
            0 => String::new(),
            n => format!(", {n} not judged (a checker broke: exit 2)"),
        };
        writeln!(
            out,
            "dynamic: {} held, {} failed, {} not exercised{unjudged}",
            count(Status::Held),
            count(Status::Failed),
            count(Status::NotExercised)
        )?;
    }
    Ok(())
}

/// JUnit XML as CI systems (GitLab, Jenkins, GitHub test reporters) read it: a suite of the
/// static checks and one of the dynamic properties, one test case each. Every string goes
/// through `text::xml`: control characters are not valid XML 1.0 even as character references,
/// so they are shown escaped.
fn write_junit(out: &mut impl std::io::Write, r: &Report<'_>) -> anyhow::Result<()> {
    let static_failures = r.checks.iter().filter(|c| !c.passed).count();
    let dynamic: &[PropertyOut] = r.dynamic.as_ref().map_or(&[], |d| &d.properties);
    let dynamic_failures = dynamic.iter().filter(|v| v.status == Status::Failed).count();
    let dynamic_skipped = dynamic.iter().filter(|v| v.status == Status::NotExercised).count();
    let dynamic_errors = dynamic.iter().filter(|v| v.status == Status::Error).count();
    let total = r.checks.len() + dynamic.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="fusebench" tests="{total}" failures="{}">"#,
        static_failures + dynamic_failures
    )?;
    let sys = xml(r.system);
    writeln!(
        out,
        r#"  <testsuite name="{sys}.static" tests="{}" failures="{static_failures}" errors="0" skipped="0">"#,
        r.checks.len()
    )?;
    for c in &r.checks {
        write!(out, r#"    <testcase classname="{sys}.static" name="{}""#, xml(c.id))?;
        let errors: Vec<&Diagnostic> =
            c.findings.iter().filter(|d| d.severity == Severity::Error).collect();
        if c.findings.is_empty() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        if !errors.is_empty() {
            let first = errors.first().map(|d| d.message.as_str()).unwrap_or_default();
            writeln!(out, r#"      <failure message="{}" type="{}">"#, xml(first), xml(c.id))?;
            for d in &errors {
                for line in d.to_string().lines() {
                    writeln!(out, "{}", text::escape_shown(line, Target::Xml))?;
                }
            }
            writeln!(out, "      </failure>")?;
        }
        let warnings: Vec<String> = c
            .findings
            .iter()
            .filter(|d| d.severity != Severity::Error)
            .map(|d| {
                let shown = d.to_string();
                shown
                    .lines()
                    .map(|l| text::escape_shown(l, Target::Xml))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        if !warnings.is_empty() {
            writeln!(out, "      <system-out>{}</system-out>", warnings.join("\n"))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    if r.dynamic.is_some() {
        writeln!(
            out,
            r#"  <testsuite name="{sys}.dynamic" tests="{}" failures="{dynamic_failures}" errors="{dynamic_errors}" skipped="{dynamic_skipped}">"#,
            dynamic.len()
        )?;
        for v in dynamic {
            writeln!(out, r#"    <testcase classname="{sys}.dynamic" name="{}">"#, xml(&v.id))?;
            match v.status {
                Status::Held => {}
                Status::NotExercised => {
                    let why = v.notes.first().map_or("not exercised", String::as_str);
                    writeln!(out, r#"      <skipped message="{}"/>"#, xml(why))?;
                }
                Status::Error => {
                    let why = v.notes.first().map_or("not judged", String::as_str);
                    writeln!(out, r#"      <error message="{}" type="{}">"#, xml(why), xml(&v.id))?;
                    writeln!(out, "{}", xml(&v.cases))?;
                    writeln!(out, "      </error>")?;
                }
                Status::Failed => {
                    let first = v.findings.first().map_or("", String::as_str);
                    writeln!(
                        out,
                        r#"      <failure message="{}" type="{}">"#,
                        xml(first),
                        xml(&v.id)
                    )?;
                    writeln!(out, "{}", xml(&v.cases))?;
                    for f in &v.findings {
                        writeln!(out, "{}", xml(f))?;
                    }
                    if let Some(file) = &v.replay_file {
                        writeln!(out, "replay: fusebench replay {}", xml(file))?;
                    }
                    writeln!(out, "      </failure>")?;
                }
            }
            writeln!(out, "      <system-out>{}</system-out>", xml(&v.cases))?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    Ok(())
}
