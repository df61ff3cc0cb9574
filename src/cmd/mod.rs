//! One module per subcommand; each exposes its clap `Args` and `run(&Args) -> Result<ExitCode>`.
pub mod check;
pub mod compare;
pub mod experiment;
pub mod graph;
pub mod inspect;
pub mod invoke;
pub mod merge;
pub mod replay;
pub mod run;
pub mod sweep;
pub mod table;

use std::path::Path;

use fusebench_model::checks;
use fusebench_model::text::plain;
use fusebench_sim::load::Loaded;

use fusebench_sim::limits::{LimitError, Limits};

/// Whether the host will load every module of the scenario. The `module-*` static checks
/// (validity, ABI and memory limit, capabilities) are exactly what the host enforces at load,
/// so a command that runs modules (`run`, `invoke`, `replay`) first reports their errors as
/// `check --static` does — located at the scenario line, naming the service and the field —
/// and stops with exit 2 (bad input), rather than a host error without a place.
pub fn modules_loadable(loaded: &Loaded, path: &Path, consequence: &str) -> bool {
    let errors: Vec<_> = checks::run(&loaded.scenario, &loaded.modules)
        .into_iter()
        .filter(|d| d.is_error() && d.code.starts_with("module-"))
        .collect();
    if errors.is_empty() {
        return true;
    }
    crate::print_diagnostics(&errors);
    eprintln!(
        "error: {} has {} module error(s) the host would refuse; {consequence}",
        plain(&path.display().to_string()),
        errors.len()
    );
    false
}

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
