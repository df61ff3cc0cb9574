//! Reading a scenario file and its modules from disk: the I/O the model crate does not do,
//! shared by the CLI and the GUI so both report the same problems the same way.

use std::path::{Path, PathBuf};

use fusebench_model::checks::Modules;
use fusebench_model::{Diagnostic, Scenario, module};

/// A scenario read from disk, with its modules inspected.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub modules: Modules,
    /// Warnings from parsing (errors make loading fail).
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("cannot read scenario {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// It was read, but has errors; every diagnostic is here.
    #[error("{} has {} error(s)", file, diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid { file: String, diagnostics: Vec<Diagnostic> },
}

/// Reads and parses `path`, then reads and inspects every module it names (relative to the
/// scenario's directory). A module that cannot be read or is invalid is recorded in `modules`
/// as the reason, so the static checks report it at the scenario line that names it.
///
/// # Errors
/// The file cannot be read, or it (or a module reference) is invalid.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    // The scenario file itself: the only other place sim reads files is `setup`.
    #[allow(clippy::disallowed_methods)]
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    load_text(path, &text)
}

/// [`load`] for a scenario whose text is already in hand (an edited, unsaved scenario);
/// modules are still read relative to `path`'s directory.
///
/// # Errors
/// The text (or a module reference) is invalid.
pub fn load_text(path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let parsed = fusebench_model::parse(&file, text);
    if parsed.has_errors() {
        return Err(LoadError::Invalid { file, diagnostics: parsed.diagnostics });
    }
    let diagnostics = parsed.diagnostics;
    let Some(scenario) = parsed.scenario else {
        return Err(LoadError::Invalid { file, diagnostics });
    };
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut modules = Modules::new();
    let mut missing = Vec::new();
    for svc in &scenario.services {
        let Some(m) = &svc.module else { continue };
        if modules.contains_key(&m.name) {
            continue;
        }
        let module_path = base.join(&m.name);
        if !module_path.is_file() {
            // A module that is not there is a dangling reference (bad input); one that is there
            // but invalid is a failed check.
            let msg = format!(
                "module file `{}` of service `{}` not found (looked for {})",
                m.name,
                svc.name,
                module_path.display()
            );
            missing.push(
                Diagnostic::error("parse.unknown-reference", msg)
                    .at(scenario.locate(m.span))
                    .field(format!("service[{}].module", svc.name)),
            );
            continue;
        }
        modules.insert(m.name.clone(), inspect_file(&module_path));
    }
    if !missing.is_empty() {
        return Err(LoadError::Invalid {
            file,
            diagnostics: diagnostics.into_iter().chain(missing).collect(),
        });
    }
    Ok(Loaded { scenario, modules, diagnostics })
}

/// Reads and inspects one module file; the error is a one-line reason.
///
/// # Errors
/// The file cannot be read or is not a valid module.
pub fn inspect_file(path: &Path) -> Result<module::ModuleInfo, String> {
    #[allow(clippy::disallowed_methods)]
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    // Reasons are shown inside one diagnostic: keep the first line (the `wat` crate appends a
    // source snippet on the following ones).
    let one_line =
        |e: module::ModuleError| e.to_string().lines().next().unwrap_or_default().to_owned();
    let bytes = module::module_bytes(&name, &bytes).map_err(one_line)?;
    module::inspect(&bytes).map_err(one_line)
}
