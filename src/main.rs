//! The `fusebench` command line: a thin shell over the `fusebench-model`, `fusebench-sim` and
//! (with the default `gui` feature) `fusebench-gui` libraries.
//!
//! Exit codes are the contract CI relies on: 0 clean, 1 a check, property or SLO failed, 2 bad
//! input (per command: the README).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod load;

#[derive(Debug, Parser)]
#[command(name = "fusebench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a WebAssembly module's structure (T, F, M, G, E, I) and validate it.
    Inspect(cmd::inspect::InspectArgs),
    /// Check a scenario: strict parsing, every static check, then the dynamic properties over
    /// explored workloads and fault schedules (a failure is shrunk and saved for `replay`).
    Check(cmd::check::CheckArgs),
    /// Run one request through a service's real module, with in-memory stores.
    Invoke(cmd::invoke::InvokeArgs),
    /// Simulate the system: a deterministic, seeded discrete-event run.
    Run(cmd::run::RunArgs),
    /// What-if runs over a grid of parameters (replicas, placement, autoscaling, load
    /// balancing, rate): one table and one plot comparing p99, availability and cost per point.
    Sweep(cmd::sweep::SweepArgs),
    /// Several designs side by side under the same seeds and duration: availability, failures
    /// by outcome, p99 of successes and of every answer, cost and SLO verdict per design.
    Compare(cmd::compare::CompareArgs),
    /// Join the shard files of `check --shard I/N` into the report `check` gives on one machine.
    Merge(cmd::merge::MergeArgs),
    /// Reproduce a counterexample saved by `check` and tell its story.
    Replay(cmd::replay::ReplayArgs),
    /// Export the service graph as Graphviz DOT or Mermaid.
    Graph(cmd::graph::GraphArgs),
    /// Open the desktop workbench: the service graph, runs with live plots, property results
    /// and counterexample replay.
    #[cfg(feature = "gui")]
    Gui(fusebench_gui::GuiArgs),
    /// Open the desktop workbench (not in this build: it was built with
    /// `--no-default-features`).
    #[cfg(not(feature = "gui"))]
    Gui {
        /// The workbench's arguments, refused with the command that builds it.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(&args),
        Command::Check(args) => cmd::check::run(&args),
        Command::Graph(args) => cmd::graph::run(&args),
        Command::Replay(args) => cmd::replay::run(&args),
        Command::Merge(args) => cmd::merge::run(&args),
        Command::Run(args) => cmd::run::run(&args),
        Command::Sweep(args) => cmd::sweep::run(&args),
        Command::Compare(args) => cmd::compare::run(&args),
        Command::Invoke(args) => cmd::invoke::run(&args),
        #[cfg(feature = "gui")]
        Command::Gui(args) => match fusebench_gui::launch(&args) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        #[cfg(not(feature = "gui"))]
        Command::Gui { .. } => Err(anyhow::anyhow!(
            "this fusebench was built without the desktop workbench (`--no-default-features`); \
             build it with its default features: `cargo run --release -- gui [SCENARIO]`"
        )),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`fusebench run ... | head`) is the reader's choice, not an error.
        Err(err)
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            // The chain quotes names from scenarios and modules (untrusted) as they are: shown
            // escaped here, once, with only the line breaks of multi-line messages (a WAT
            // snippet) kept.
            eprintln!("error: {}", fusebench_model::text::plain_lines(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

/// Prints diagnostics to stderr, one block each, in the order given.
fn print_diagnostics(diags: &[fusebench_model::Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}
