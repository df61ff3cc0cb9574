//! What `sweep` and `compare` share: the options of an experiment over several designs (each
//! run under the same seeds for the same duration), the check of `--endpoint`, and the output
//! format.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use fusebench_model::Scenario;
use fusebench_model::diagnostic::did_you_mean;
use fusebench_model::text::plain;

use super::run::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Csv,
    Json,
}

/// The options of an experiment: every design (a sweep's point, a compared file) is run with
/// seeds SEED..SEED+K−1 for the same duration.
#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// Seed of the first run of every design (the same seeds for every design).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs per design: seeds SEED, SEED+1, …; counts and costs are summed over them, p99 is
    /// their mean.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// Simulated duration of the workload in seconds (default: the workload's).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Simulations run at once (default: every core).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// Client figures of one public endpoint (`service.endpoint`) instead of all of them (whose
    /// p99 is then the worst endpoint's).
    #[arg(long, value_name = "SERVICE.ENDPOINT")]
    pub endpoint: Option<String>,
    /// Write the table as CSV and its plot as SVG into DIR, creating it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How the table is printed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Lift the resource limits (as `run --limits-off`).
    #[arg(long)]
    pub limits_off: bool,
}

impl ExperimentArgs {
    /// The seeds every design runs; `None` (after saying why) when they overflow.
    pub fn seed_list(&self) -> Option<Vec<u64>> {
        let Some(last) = self.seed.checked_add(self.seeds - 1) else {
            eprintln!("error: seeds {}..{} overflow a 64-bit seed", self.seed, self.seeds);
            return None;
        };
        Some((self.seed..=last).collect())
    }

    /// Whether `--endpoint`, when given, is a public endpoint of `scenario` (read from
    /// `file`); if not, says so with a suggestion and the public ones.
    pub fn endpoint_served(&self, scenario: &Scenario, file: &str) -> bool {
        let Some(e) = &self.endpoint else { return true };
        let all = public_endpoints(scenario);
        if all.contains(e) {
            return true;
        }
        let hint = did_you_mean(e, all.iter().map(String::as_str))
            .map_or_else(String::new, |m| format!(" (did you mean `{}`?)", plain(m)));
        eprintln!(
            "error: --endpoint `{}` is not a public endpoint of {}{hint}; public: {}; nothing was run",
            plain(e),
            plain(file),
            plain(&all.join(", "))
        );
        false
    }
}

/// The public endpoints, `service.endpoint`, in scenario order (the report's keys).
pub fn public_endpoints(s: &Scenario) -> Vec<String> {
    s.services
        .iter()
        .flat_map(|svc| {
            svc.endpoints.iter().filter(|e| e.public).map(|e| format!("{}.{}", svc.name, e.name))
        })
        .collect()
}

/// An experiment's result as printed (`text`, `csv`; `--format json` is its serialisation) and
/// as written by `--out`.
pub trait Results: serde::Serialize {
    fn text(&self) -> String;
    fn csv(&self) -> String;
    /// Writes the CSV and the plot into `dir`.
    ///
    /// # Errors
    /// The directory or a file cannot be written, or the plot cannot be drawn.
    fn write_dir(&self, dir: &Path) -> anyhow::Result<()>;
}

/// Prints `results` on stdout in `args`' format and writes them into `--out` when given;
/// `what` names them in an error ("the sweep"), `files` in the closing line.
///
/// # Errors
/// Stdout or the directory cannot be written.
pub fn output(
    args: &ExperimentArgs,
    results: &impl Results,
    what: &str,
    files: &str,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => out.write_all(results.text().as_bytes())?,
        Format::Csv => out.write_all(results.csv().as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, results)?;
            writeln!(out)?;
        }
    }
    if let Some(dir) = &args.out {
        results
            .write_dir(dir)
            .with_context(|| format!("cannot write {what} into {}", dir.display()))?;
        if args.format == Format::Text {
            writeln!(out, "\nwrote {}: {files}", plain(&dir.display().to_string()))?;
        }
    }
    Ok(())
}

/// What a table's figures are of, for its heading: `seed 1` or `seeds 1..=3 (…)`, and the
/// endpoint(s) the client figures count.
pub fn scope(seeds: &[u64], endpoint: Option<&str>) -> (String, String) {
    let of = match endpoint {
        Some(e) => format!("client figures of {}", plain(e)),
        None => "client figures of every public endpoint (p99: the worst one's)".to_owned(),
    };
    let (first, last) = (seeds.first().copied().unwrap_or(0), seeds.last().copied().unwrap_or(0));
    let seeds = if first == last {
        format!("seed {first}")
    } else {
        format!("seeds {first}..={last} (summed; p99 their mean)")
    };
    (seeds, of)
}
