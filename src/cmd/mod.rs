//! One module per subcommand; each exposes its clap `Args` and `run(&Args) -> Result<ExitCode>`.
pub mod check;
pub mod graph;
pub mod inspect;
pub mod invoke;
pub mod replay;
pub mod run;
