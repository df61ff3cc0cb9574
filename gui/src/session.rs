//! The open scenario: its path and text (edited or not), what parsing and the static checks
//! found, the module bytes, and the diagram. Everything the panels read about "the design".

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fusebench_model::checks::{self, CheckOutcome};
use fusebench_model::{Diagnostic, Scenario};
use fusebench_sim::load::{self, Input, LoadError, Loaded};
use fusebench_sim::setup;

use crate::diagram::Diagram;
use crate::findings::{self, Finding, Origin};

/// A scenario that parsed: the design the other panels work on.
#[derive(Debug, Clone)]
pub struct Design {
    /// The scenario with its module bytes (what runs are built from).
    pub loaded: Loaded,
    pub diagram: Diagram,
    pub checks: Vec<CheckOutcome>,
    /// Why the design cannot be simulated (a module missing or rejected), if it cannot.
    pub unrunnable: Option<String>,
    /// The static findings, mapped to the diagram elements they concern.
    pub static_findings: Vec<Finding>,
}

impl Design {
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.loaded.scenario
    }

    #[must_use]
    pub fn statics_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The open file and what became of it.
#[derive(Debug)]
pub struct Session {
    pub path: PathBuf,
    /// The text the design was built from (edited in the what-if panel, or as on disk).
    pub text: String,
    /// The text as last read from or written to disk.
    pub disk_text: String,
    /// The design, or every diagnostic that stopped it.
    pub design: Result<Design, Vec<Diagnostic>>,
    /// The file's modification time when last read, to notice changes on disk.
    pub disk_mtime: Option<SystemTime>,
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Session {
    /// Opens `path`. A file that cannot be read is an error (nothing to show); one that reads
    /// but does not parse is a session whose design is its diagnostics.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn open(path: &Path) -> Result<Session, String> {
        let text = load::read_text(path, Input::Scenario).map_err(|e| e.to_string())?;
        let disk_mtime = mtime(path);
        let design = build(path, &text);
        Ok(Session { path: path.to_path_buf(), disk_text: text.clone(), text, design, disk_mtime })
    }

    /// Rebuilds the design from edited text (not saved).
    pub fn set_text(&mut self, text: String) {
        self.design = build(&self.path, &text);
        self.text = text;
    }

    /// Whether the text differs from the file on disk.
    #[must_use]
    pub fn is_edited(&self) -> bool {
        self.text != self.disk_text
    }

    /// Whether the file changed on disk since it was read (and the user has not edited it).
    #[must_use]
    pub fn changed_on_disk(&self) -> bool {
        let now = mtime(&self.path);
        now.is_some() && now != self.disk_mtime
    }

    /// Reads the file again.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn reload(&mut self) -> Result<(), String> {
        *self = Session::open(&self.path)?;
        Ok(())
    }

    /// Writes the current text to `path` (the open file, or a new one, which becomes the
    /// open file).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save_as(&mut self, path: &Path) -> Result<(), String> {
        fusebench_sim::atomic::write(path, self.text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if path != self.path {
            self.path = path.to_path_buf();
            // Module paths are relative to the scenario: rebuild against the new place.
            self.design = build(&self.path, &self.text);
        }
        self.disk_text = self.text.clone();
        self.disk_mtime = mtime(path);
        Ok(())
    }

    /// The design, if the scenario parsed.
    #[must_use]
    pub fn design(&self) -> Option<&Design> {
        self.design.as_ref().ok()
    }

    /// The file name for titles.
    #[must_use]
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned())
    }
}

/// Parses, inspects modules, runs the static checks and lays out the diagram.
fn build(path: &Path, text: &str) -> Result<Design, Vec<Diagnostic>> {
    let loaded = match load::load_text(path, text) {
        Ok(l) => l,
        Err(LoadError::Invalid { diagnostics, .. }) => return Err(diagnostics),
        Err(e) => return Err(vec![Diagnostic::error("load", e.to_string())]),
    };
    let s = &loaded.scenario;
    let checks = checks::outcomes(s, &loaded.modules);
    let unrunnable = setup::runnable(&loaded, &checks).err().map(|e| e.to_string());
    let diagram = Diagram::new(s);
    let diags = checks.iter().flat_map(|c| c.findings.iter());
    let static_findings = findings::from_diagnostics(&diagram, diags, Origin::Static);
    Ok(Design { loaded, diagram, checks, unrunnable, static_findings })
}
