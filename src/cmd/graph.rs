//! `fusebench graph SCENARIO --format dot|mermaid`: the service graph for Graphviz or Mermaid.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use fusebench_model::graph::ServiceGraph;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

pub fn run(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let text = crate::load::read_text(&args.scenario, crate::load::Input::Scenario)?;
    let parsed = fusebench_model::parse(&args.scenario.display().to_string(), &text);
    crate::print_diagnostics(&parsed.diagnostics);
    let Some(s) = parsed.ok() else {
        eprintln!("error: {} has errors; no graph drawn", args.scenario.display());
        return Ok(ExitCode::from(2));
    };
    let g = ServiceGraph::new(&s);
    let out = match args.format {
        GraphFormat::Dot => g.to_dot(&s),
        GraphFormat::Mermaid => g.to_mermaid(&s),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
