//! Loading a scenario for a subcommand (the reading itself is `fusebench_sim::load`).

use std::path::Path;

pub use fusebench_sim::load::{Input, LoadError, Loaded, load, read_input, read_text};

/// Loads `path` for a subcommand; on invalid input prints every diagnostic and why nothing
/// more happens (`consequence`, e.g. "nothing was run"), and returns `None`: exit 2.
///
/// # Errors
/// The file could not be read.
pub fn load_or_report(path: &Path, consequence: &str) -> anyhow::Result<Option<Loaded>> {
    match load(path) {
        Ok(l) => Ok(Some(l)),
        Err(LoadError::Invalid { diagnostics, .. }) => {
            crate::print_diagnostics(&diagnostics);
            let n = diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!("error: {} has {n} error(s); {consequence}", path.display());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
