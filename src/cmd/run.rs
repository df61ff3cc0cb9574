//! `fusebench run SCENARIO [--seed N] [--duration D]`: simulate the system and report.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_sim::metrics::LatencySummary;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, Sim, setup};

use crate::load::{LoadError, load};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed of the run's random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated duration in seconds (default: the workload's).
    #[arg(long)]
    pub duration: Option<f64>,
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = match load(&args.scenario) {
        Ok(l) => l,
        Err(LoadError::Io(e)) => return Err(e),
        Err(LoadError::Invalid(diags)) => {
            crate::print_diagnostics(&diags);
            eprintln!("error: {} has errors; nothing was run", args.scenario.display());
            return Ok(ExitCode::from(2));
        }
    };
    let s = loaded.scenario;
    let base = args.scenario.parent().map(PathBuf::from).unwrap_or_default();
    let files = setup::read_modules(&s, &base)?;
    let runtime = setup::build_runtime(&s, &files)
        .with_context(|| format!("cannot load the modules of {}", args.scenario.display()))?;
    let mut options = RunOptions::new(args.seed);
    options.trace = TraceMode::Hash;
    options.duration = args.duration.map(fusebench_sim::time::SimTime::from_secs_f64);
    let result = Sim::new(s, Box::new(runtime), &options).run();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} seed {}: {} events, {:.1}s simulated, trace {}",
        result.system,
        result.seed,
        result.events,
        result.end.as_secs_f64(),
        &result.trace_hash[..16]
    )?;
    writeln!(
        out,
        "{:<32} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "endpoint", "requests", "ok %", "p50 ms", "p99 ms", "max ms"
    )?;
    for (name, e) in &result.metrics.endpoints {
        let l = LatencySummary::of(&e.latency);
        let ok = if e.total() == 0 { 0.0 } else { 100.0 * e.successes() as f64 / e.total() as f64 };
        writeln!(
            out,
            "{name:<32} {:>8} {ok:>8.2} {:>9.2} {:>9.2} {:>9.2}",
            e.total(),
            l.p50_ms,
            l.p99_ms,
            l.max_ms
        )?;
        for (o, n) in &e.outcomes {
            writeln!(out, "    {:<28} {n}", o.name())?;
        }
    }
    for (name, svc) in &result.metrics.services {
        writeln!(
            out,
            "service {name}: {} invocations, fuel {}, faults {:?}, refusals {}",
            svc.invocations, svc.fuel_total, svc.guest_faults, svc.refusals
        )?;
    }
    for (name, c) in &result.metrics.channels {
        writeln!(out, "channel {name}: {c:?}")?;
    }
    Ok(ExitCode::SUCCESS)
}
