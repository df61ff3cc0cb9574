//! `fusebench replay FILE [--mermaid]`: reproduce a saved counterexample exactly and tell the
//! story around the violation: the faults active then, the causal chain of the violating
//! requests (marked `*`), the events near it, and a marker line where it shows. Every event is
//! told in words ([`describe`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_sim::explore::replay::{
    ReplayFile, Role, Story, TraceWitness, describe, mermaid, story,
};

use fusebench_model::edit::FaultSpec;
use fusebench_model::text::{self, plain};
use fusebench_sim::trace::TraceEvent;

use crate::load::{Input, LoadError, load, read_text};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A replay file written by `fusebench check`.
    pub file: PathBuf,
    /// Also print the story as a Mermaid sequence diagram.
    #[arg(long)]
    pub mermaid: bool,
    /// At most this many events in the story (chosen around the violation).
    #[arg(long, default_value_t = 60)]
    pub events: usize,
    /// Lift the resource limits (expected requests, users, store replicas, retries fan-out,
    /// events and trace bytes per run, faults in the schedule): see the README.
    #[arg(long)]
    pub limits_off: bool,
    /// Also write the replayed run's whole trace (JSON Lines, as `run --out` writes
    /// `trace.jsonl`) to this file: the story shows the violating chain, the trace everything.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
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
        .rerun(&loaded.scenario, &loaded.files, &limits)
        .with_context(|| format!("{}", args.file.display()))?;
    // The trace is written whether or not the run reproduced: a diverging run's trace is
    // what shows where it went another way.
    if let Some(path) = &args.trace {
        std::fs::write(path, &case.run.trace)
            .with_context(|| format!("writing the replayed trace to {}", path.display()))?;
    }
    replay.reproduced(&case).with_context(|| match &args.trace {
        Some(path) => {
            format!("{} (the diverging run's trace is in {})", args.file.display(), path.display())
        }
        None => format!("{}", args.file.display()),
    })?;
    // The hash as the file recorded it (a format-3 file's is SHA-256), which the rerun matched.
    let (algorithm, hash) = match &replay.trace {
        TraceWitness::Blake3(h) => ("", h.as_str()),
        TraceWitness::Sha256(h) => ("SHA-256 ", h.as_str()),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "replayed {} (seed {}): reproduced exactly (trace {algorithm}{})",
        plain(
            &std::fs::canonicalize(scenario_path)
                .unwrap_or_else(|_| scenario_path.clone())
                .display()
                .to_string()
        ),
        replay.seed,
        hash.get(..16).unwrap_or(hash)
    )?;
    for v in case.verdicts.iter().filter(|v| v.failed()) {
        writeln!(out, "violated: {}", v.id)?;
        for f in &v.findings {
            writeln!(out, "  {}", plain(f))?;
        }
    }
    let story = story(&case, args.events)
        .with_context(|| format!("the story of {}", args.file.display()))?;
    // The faults as the run had them (declared, then injected): a `fault_start` names its
    // fault by index, and the story says what and where it is.
    let faults: Vec<String> = replay
        .schedule
        .apply(&loaded.scenario)
        .faults
        .iter()
        .map(|f| FaultSpec::from(f).to_string())
        .collect();
    tell(&mut out, &story, &faults)?;
    if args.mermaid {
        // `explore::replay::mermaid` quotes trace strings itself; control characters in them
        // are escaped here, keeping the diagram's own lines.
        let events = story.trace_lines();
        writeln!(out, "\n```mermaid\n{}```", text::plain_lines(&mermaid(&events)))?;
    }
    Ok(ExitCode::from(1))
}

/// The marker line where the violation shows.
fn marker(story: &Story, t: fusebench_sim::time::SimTime) -> String {
    format!(
        "  >>>>>> here the violation shows ({}) at t={:.4}s <<<<<<",
        story.violated.join(", "),
        t.as_secs_f64()
    )
}

/// The story in words: a heading saying what it is, the faults active at the violation, then
/// every event (`*` the causal chain, `!` a fault) with the marker line in its place.
fn tell(out: &mut impl std::io::Write, story: &Story, faults: &[String]) -> std::io::Result<()> {
    match story.at {
        Some(t) => {
            writeln!(
                out,
                "\nthe story around the violation at t={:.4}s ({} events; * the violating chain, ! a fault{}):",
                t.as_secs_f64(),
                story.lines.len(),
                if story.chain_left_out > 0 {
                    format!("; {} more events of the chain left out", story.chain_left_out)
                } else {
                    String::new()
                }
            )?;
            if story.active_faults.is_empty() {
                writeln!(out, "  no fault was active when the violation showed")?;
            } else {
                writeln!(out, "  faults active when the violation showed:")?;
                for f in &story.active_faults {
                    let what = match &f.event {
                        TraceEvent::FaultStart { index, .. } => faults.get(*index),
                        _ => None,
                    };
                    match what {
                        Some(w) => writeln!(out, "    {} ({})", plain(&describe(f)), plain(w))?,
                        None => writeln!(out, "    {}", plain(&describe(f)))?,
                    }
                }
            }
        }
        None => writeln!(
            out,
            "\nthe story from the run's start (the violation has no single moment; {} events; * the violating chain, ! a fault):",
            story.lines.len()
        )?,
    }
    for (i, l) in story.lines.iter().enumerate() {
        if let (Some(t), Some(m)) = (story.at, story.marker)
            && m == i
        {
            writeln!(out, "{}", marker(story, t))?;
        }
        let tag = match l.role {
            Role::Chain => '*',
            Role::Fault => '!',
            Role::Context => ' ',
        };
        writeln!(out, "  {tag} {}", plain(&describe(&l.line)))?;
    }
    if let (Some(t), Some(m)) = (story.at, story.marker)
        && m >= story.lines.len()
    {
        writeln!(out, "{}", marker(story, t))?;
    }
    Ok(())
}
