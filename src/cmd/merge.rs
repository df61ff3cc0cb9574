//! `fusebench merge SCENARIO SHARD... [--format text|json|junit] [--out DIR]
//! [--shrink-budget SECONDS] [--limits-off]`: joins the shard files `check --shard I/N` wrote
//! into the report `check` would have given on one machine — the same static checks, verdicts,
//! counterexample (shrunk here) and replay file, byte for byte; or the files `run --seeds K
//! --shard I/N` wrote into what `run --seeds K` prints, and with `--out` its aggregate
//! `report.json` and `report.md` (each seed's files are where the shards wrote them).
//!
//! Exit codes as `check`'s (or `run`'s): 0 passed, 1 a check, property or SLO objective failed,
//! 2 bad input (a shard file of another scenario or split, a shard missing or given twice, run
//! and check shards mixed).

use std::path::PathBuf;
use std::process::ExitCode;

use fusebench_sim::explore::shard::{self, ShardFile};
use fusebench_sim::load::{Input, read_text};
use fusebench_sim::report::shard::{self as run_shard, RunShardFile};

use super::check::{self, CheckArgs, Format};
use crate::load::{Loaded, load_or_report};

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The scenario file the shards were checked on (TOML).
    pub scenario: PathBuf,
    /// The shard files, one per shard (`check --shard I/N` writes `<system>.shard-I-of-N.json`,
    /// `run --shard I/N` `<system>.run-shard-I-of-N.json`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output format (check shards; run shards print `run --seeds`'s summary).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where a counterexample's replay file is written (default: `fusebench-out/`); for run
    /// shards, where the aggregate report.json and report.md go (none without it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Wall-time budget of shrinking a counterexample, in seconds, as for `check`.
    #[arg(long, default_value = "60", value_parser = check::parse_budget)]
    pub shrink_budget: std::time::Duration,
    /// Lift the resource limits, as for `check`.
    #[arg(long)]
    pub limits_off: bool,
}

pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_or_report(&args.scenario, "nothing was merged")? else {
        return Ok(ExitCode::from(2));
    };
    let mut checks = Vec::new();
    let mut runs = Vec::new();
    for path in &args.shards {
        let name = path.display().to_string();
        let parsed = read_text(path, Input::Shard).map_err(|e| e.to_string()).and_then(|text| {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{name}: not a shard file: {e}"))?;
            if RunShardFile::is_one(&value) {
                RunShardFile::parse(&name, value).map(|f| runs.push((name.clone(), f)))
            } else {
                ShardFile::parse(&name, value).map(|f| checks.push((name.clone(), f)))
            }
            .map_err(|e| e.to_string())
        });
        if let Err(e) = parsed {
            eprintln!("error: {e}; nothing was merged");
            return Ok(ExitCode::from(2));
        }
    }
    if !runs.is_empty() {
        return merge_runs(args, &loaded, &runs, checks.first().map(|(name, _)| name));
    }
    let (cases, seed, outcomes) = match shard::join(&loaded.scenario, &loaded.files, &checks) {
        Ok(joined) => joined,
        Err(e) => {
            eprintln!("error: {e}; nothing was merged");
            return Ok(ExitCode::from(2));
        }
    };
    check::run(&CheckArgs {
        scenario: args.scenario.clone(),
        static_only: false,
        cases,
        seed,
        format: args.format,
        out: args.out.clone(),
        shrink_budget: args.shrink_budget,
        limits_off: args.limits_off,
        shard: None,
        merged: Some(outcomes),
    })
}

/// Run shards: `run --seeds K`'s summary, and its aggregate files with `--out`.
fn merge_runs(
    args: &MergeArgs,
    loaded: &Loaded,
    runs: &[(String, RunShardFile)],
    a_check_shard: Option<&String>,
) -> anyhow::Result<ExitCode> {
    if let Some(name) = a_check_shard {
        eprintln!(
            "error: {name} is a `check` shard file and {} a `run` one; nothing was merged",
            runs[0].0
        );
        return Ok(ExitCode::from(2));
    }
    if args.format != Format::Text {
        eprintln!(
            "error: run shards merge into `run --seeds`'s summary; --format is for check shards"
        );
        return Ok(ExitCode::from(2));
    }
    let joined = match run_shard::join(&loaded.scenario, &loaded.files, runs) {
        Ok((_, joined)) => joined,
        Err(e) => {
            eprintln!("error: {e}; nothing was merged");
            return Ok(ExitCode::from(2));
        }
    };
    let missed = super::run::print_merged(joined, args.out.as_deref())?;
    Ok(super::run::exit_code(&missed))
}
