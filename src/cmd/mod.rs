//! One module per subcommand; each exposes its clap `Args` and `run(&Args) -> Result<ExitCode>`.
pub mod check;
pub mod graph;
pub mod inspect;
pub mod invoke;
pub mod replay;
pub mod run;

use fusebench_sim::limits::{LimitError, Limits};

/// The resource limits a command runs under: the defaults, or none with `--limits-off`.
pub fn limits(off: bool) -> Limits {
    if off { Limits::off() } else { Limits::DEFAULT }
}

/// Prints every limit a scenario goes over and says nothing was run; `true` when there was one
/// (the command then exits 2).
pub fn report_limits(problems: &[LimitError], consequence: &str) -> bool {
    for p in problems {
        eprintln!("error: {p}");
    }
    if !problems.is_empty() {
        eprintln!("error: over {} resource limit(s); {consequence}", problems.len());
    }
    !problems.is_empty()
}
