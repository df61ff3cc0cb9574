//! `fusebench merge SCENARIO SHARD... [--format text|json|junit] [--out DIR]
//! [--shrink-budget SECONDS] [--limits-off]`: joins the shard files `check --shard I/N` wrote
//! into the report `check` would have given on one machine — the same static checks, verdicts,
//! counterexample (shrunk here) and replay file, byte for byte.
//!
//! Exit codes as `check`'s: 0 passed, 1 a check or property failed, 2 bad input (a shard file
//! of another scenario or exploration, a shard missing or given twice).

use std::path::PathBuf;
use std::process::ExitCode;

use fusebench_sim::explore::shard::{self, ShardFile};
use fusebench_sim::load::{Input, read_text};

use super::check::{self, CheckArgs, Format};
use crate::load::load_or_report;

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The scenario file the shards were checked on (TOML).
    pub scenario: PathBuf,
    /// The shard files, one per shard (`check --shard I/N` writes `<system>.shard-I-of-N.json`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where a counterexample's replay file is written (default: `fusebench-out/`).
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
    let mut shards = Vec::with_capacity(args.shards.len());
    for path in &args.shards {
        let name = path.display().to_string();
        let text = match read_text(path, Input::Shard) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}; nothing was merged");
                return Ok(ExitCode::from(2));
            }
        };
        match ShardFile::parse(&name, &text) {
            Ok(f) => shards.push((name, f)),
            Err(e) => {
                eprintln!("error: {e}; nothing was merged");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let (cases, seed, outcomes) = match shard::join(&loaded.scenario, &loaded.files, &shards) {
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
