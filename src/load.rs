//! Reading a scenario and its modules from disk: the I/O the model crate does not do.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use fusebench_model::checks::Modules;
use fusebench_model::{Diagnostic, Scenario, module};

/// A scenario read from disk, with its modules inspected.
pub struct Loaded {
    pub scenario: Scenario,
    pub modules: Modules,
    /// Warnings from parsing (errors make loading fail).
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a scenario could not be loaded.
pub enum LoadError {
    /// The file could not be read at all.
    Io(anyhow::Error),
    /// It was read, but has errors; every diagnostic is here.
    Invalid(Vec<Diagnostic>),
}

/// Reads and parses `path`, then reads and inspects every module it names (relative to the
/// scenario's directory). A module that cannot be read or is invalid is recorded in `modules`
/// as the reason, so the static checks report it at the scenario line that names it.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario {}", path.display()))
        .map_err(LoadError::Io)?;
    let file = path.display().to_string();
    let parsed = fusebench_model::parse(&file, &text);
    if parsed.has_errors() {
        return Err(LoadError::Invalid(parsed.diagnostics));
    }
    let diagnostics = parsed.diagnostics;
    let Some(scenario) = parsed.scenario else {
        return Err(LoadError::Invalid(diagnostics));
    };
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut modules = Modules::new();
    let mut missing = Vec::new();
    for svc in &scenario.services {
        let Some(m) = &svc.module else { continue };
        if modules.contains_key(&m.name) {
            continue;
        }
        let file = base.join(&m.name);
        if !file.is_file() {
            // A module that is not there is a dangling reference (bad input, exit 2); one that
            // is there but invalid is a failed check (exit 1).
            let msg = format!(
                "module file `{}` of service `{}` not found (looked for {})",
                m.name,
                svc.name,
                file.display()
            );
            missing.push(
                Diagnostic::error("parse.unknown-reference", msg)
                    .at(scenario.locate(m.span))
                    .field(format!("service[{}].module", svc.name)),
            );
            continue;
        }
        modules.insert(m.name.clone(), inspect_file(&file));
    }
    if !missing.is_empty() {
        return Err(LoadError::Invalid(diagnostics.into_iter().chain(missing).collect()));
    }
    Ok(Loaded { scenario, modules, diagnostics })
}

/// Loads `path` for a subcommand; on invalid input prints every diagnostic and why nothing
/// more happens (`consequence`, e.g. "nothing was run"), and returns `None`: exit 2.
///
/// # Errors
/// The file could not be read.
pub fn load_or_report(path: &Path, consequence: &str) -> anyhow::Result<Option<Loaded>> {
    match load(path) {
        Ok(l) => Ok(Some(l)),
        Err(LoadError::Io(e)) => Err(e),
        Err(LoadError::Invalid(diags)) => {
            crate::print_diagnostics(&diags);
            let n = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("error: {} has {n} error(s); {consequence}", path.display());
            Ok(None)
        }
    }
}

/// Reads and inspects one module file; the error is a one-line reason.
pub fn inspect_file(path: &Path) -> Result<module::ModuleInfo, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    // Reasons are shown inside one diagnostic: keep the first line (the `wat` crate appends a
    // source snippet on the following ones).
    let one_line =
        |e: module::ModuleError| e.to_string().lines().next().unwrap_or_default().to_owned();
    let bytes = module::module_bytes(&name, &bytes).map_err(one_line)?;
    module::inspect(&bytes).map_err(one_line)
}
