//! `fusebench inspect FILE [--json]`. (Being written.)
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A `.wasm` or `.wat` file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("inspect is not built yet: {}", args.file.display())
}
