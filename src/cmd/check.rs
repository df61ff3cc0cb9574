//! `fusebench check [--static] SCENARIO [--format text|json|junit]`.
//!
//! Exit 0: every check passed (warnings allowed). 1: a check failed. 2: bad input.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use fusebench_model::checks::{self, CHECKS};
use fusebench_model::{Diagnostic, Severity};
use serde::Serialize;

use crate::load::{LoadError, load};

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
    /// Static checks only (decidable without running anything). The dynamic properties
    /// need the simulator, which this build does not include yet, so `check` is static today.
    #[arg(long = "static")]
    pub static_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// One check's outcome.
#[derive(Debug, Serialize)]
struct CheckResult<'a> {
    id: &'a str,
    summary: &'a str,
    passed: bool,
    findings: Vec<&'a Diagnostic>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    scenario: &'a str,
    system: &'a str,
    passed: bool,
    checks: Vec<CheckResult<'a>>,
    coupling: Vec<(String, String, f64)>,
    cohesion: Vec<(String, f64)>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = match load(&args.scenario) {
        Ok(l) => l,
        Err(LoadError::Io(e)) => return Err(e),
        Err(LoadError::Invalid(diags)) => {
            crate::print_diagnostics(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("error: {} has {n} error(s); nothing was checked", args.scenario.display());
            return Ok(ExitCode::from(2));
        }
    };
    crate::print_diagnostics(&loaded.diagnostics);
    let s = &loaded.scenario;
    let findings = checks::run(s, &loaded.modules);
    let results: Vec<CheckResult<'_>> = CHECKS
        .iter()
        .map(|c| {
            let mine: Vec<&Diagnostic> = findings.iter().filter(|d| d.code == c.id).collect();
            let passed = !mine.iter().any(|d| d.severity == Severity::Error);
            CheckResult { id: c.id, summary: c.summary, passed, findings: mine }
        })
        .collect();
    let passed = results.iter().all(|r| r.passed);
    let file = args.scenario.display().to_string();
    let report = Report {
        scenario: &file,
        system: &s.name,
        passed,
        checks: results,
        coupling: checks::coupling_matrix(s),
        cohesion: s.services.iter().map(|x| (x.name.clone(), checks::cohesion(x))).collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => write_text(&mut out, &report, s)?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Junit => write_junit(&mut out, &report)?,
    }
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_text(
    out: &mut impl std::io::Write,
    r: &Report<'_>,
    s: &fusebench_model::Scenario,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} ({}): {} services in {} bounded contexts, {} stores, {} channels",
        r.system,
        r.scenario,
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
        writeln!(out, "  {mark}  {:<18} {}{extra}", c.id, c.summary)?;
        for d in &c.findings {
            for line in d.to_string().lines() {
                writeln!(out, "        {line}")?;
            }
        }
    }
    writeln!(out, "metrics:")?;
    for (a, b, c) in &r.coupling {
        writeln!(out, "  Coupling({a}, {b}) = {c:.2}")?;
    }
    for (svc, c) in &r.cohesion {
        writeln!(out, "  Cohesion({svc}) = {c:.2}")?;
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    writeln!(out, "static: {} passed, {failed} failed", r.checks.len() - failed)?;
    Ok(())
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML as CI systems (GitLab, Jenkins, GitHub test reporters) read it: one test case per
/// check, a `<failure>` listing its error findings.
fn write_junit(out: &mut impl std::io::Write, r: &Report<'_>) -> anyhow::Result<()> {
    let failures = r.checks.iter().filter(|c| !c.passed).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="fusebench" tests="{}" failures="{failures}">"#,
        r.checks.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}.static" tests="{}" failures="{failures}" errors="0" skipped="0">"#,
        xml(r.system),
        r.checks.len()
    )?;
    for c in &r.checks {
        write!(out, r#"    <testcase classname="{}.static" name="{}""#, xml(r.system), xml(c.id))?;
        let errors: Vec<&&Diagnostic> =
            c.findings.iter().filter(|d| d.severity == Severity::Error).collect();
        if errors.is_empty() && c.findings.is_empty() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        if !errors.is_empty() {
            let first = errors.first().map(|d| d.message.as_str()).unwrap_or_default();
            writeln!(out, r#"      <failure message="{}" type="{}">"#, xml(first), xml(c.id))?;
            for d in &errors {
                writeln!(out, "{}", xml(&d.to_string()))?;
            }
            writeln!(out, "      </failure>")?;
        }
        let warnings: Vec<String> = c
            .findings
            .iter()
            .filter(|d| d.severity != Severity::Error)
            .map(|d| xml(&d.to_string()))
            .collect();
        if !warnings.is_empty() {
            writeln!(out, "      <system-out>{}</system-out>", warnings.join("\n"))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>\n</testsuites>")?;
    Ok(())
}
