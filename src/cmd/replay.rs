//! `fusebench replay FILE [--mermaid]`: reproduce a saved counterexample exactly and tell the
//! story of the events that violate the property.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_sim::explore::replay::{ReplayFile, describe, mermaid, story_events};

use fusebench_model::text::{self, plain};

use crate::load::{Input, LoadError, load, read_text};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A replay file written by `fusebench check`.
    pub file: PathBuf,
    /// Also print the story as a Mermaid sequence diagram.
    #[arg(long)]
    pub mermaid: bool,
    /// At most this many events in the story.
    #[arg(long, default_value_t = 60)]
    pub events: usize,
    /// Lift the resource limits (expected requests, users, store replicas, retries fan-out,
    /// events and trace bytes per run, faults in the schedule): see the README.
    #[arg(long)]
    pub limits_off: bool,
}

/// The first of the replay file's scenario candidates that exists
/// ([`ReplayFile::scenario_candidates`]); when none does, one error naming the replay file, its
/// `scenario` field and every path tried.
fn locate_scenario(file: &Path, replay: &ReplayFile) -> anyhow::Result<PathBuf> {
    let candidates = replay.scenario_candidates(file);
    if let Some(found) = candidates.iter().find(|p| p.exists()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates
        .iter()
        .zip(["relative to the replay file", "relative to the working directory"])
        .map(|(p, how)| format!("{} ({how})", plain(&p.display().to_string())))
        .collect();
    anyhow::bail!(
        "{}: the scenario named by its field `scenario` (\"{}\") is not there; tried {}",
        file.display(),
        plain(&replay.scenario),
        tried.join(" and ")
    )
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let text = read_text(&args.file, Input::Replay)?;
    let replay = ReplayFile::parse(&text).with_context(|| format!("{}", args.file.display()))?;
    let scenario_path = &locate_scenario(&args.file, &replay)?;
    let loaded = match load(scenario_path) {
        Ok(l) => l,
        Err(LoadError::Invalid { diagnostics, .. }) => {
            crate::print_diagnostics(&diagnostics);
            anyhow::bail!(
                "{}: the scenario {} no longer parses",
                args.file.display(),
                scenario_path.display()
            );
        }
        // The read error names the scenario and the OS's reason; this adds only which replay
        // file named it.
        Err(e) => anyhow::bail!("{e} (the scenario of {})", args.file.display()),
    };
    if !super::modules_loadable(&loaded, scenario_path, "nothing was replayed") {
        return Ok(ExitCode::from(2));
    }
    let limits = super::limits(args.limits_off);
    let case = replay
        .reproduce(&loaded.scenario, &loaded.files, &limits)
        .with_context(|| format!("{}", args.file.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "replayed {} (seed {}): reproduced exactly (trace {})",
        plain(
            &std::fs::canonicalize(scenario_path)
                .unwrap_or_else(|_| scenario_path.clone())
                .display()
                .to_string()
        ),
        replay.seed,
        &case.trace_hash[..16]
    )?;
    for v in case.verdicts.iter().filter(|v| !v.passed()) {
        writeln!(out, "violated: {}", v.id)?;
        for f in &v.findings {
            writeln!(out, "  {}", plain(f))?;
        }
    }
    let events = story_events(&case, args.events)
        .with_context(|| format!("the story of {}", args.file.display()))?;
    writeln!(out, "\nthe story ({} events):", events.len())?;
    for e in &events {
        writeln!(out, "  {}", plain(&describe(e)))?;
    }
    if args.mermaid {
        // `explore::replay::mermaid` quotes trace strings itself; control characters in them
        // are escaped here, keeping the diagram's own lines.
        writeln!(out, "\n```mermaid\n{}```", text::plain_lines(&mermaid(&events)))?;
    }
    Ok(ExitCode::from(1))
}
