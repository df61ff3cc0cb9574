//! What the UI asks for. `*_ui` functions only read state and push commands; the app applies
//! them between frames ([`crate::workbench::Workbench::apply`]), so no panel changes the
//! model while another is drawing it.

use std::path::PathBuf;

use fusebench_model::edit::Edit;
use fusebench_sim::time::SimTime;

use crate::diagram::Element;
use crate::live::{RunSettings, Speed};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open a scenario file.
    Open(PathBuf),
    /// Read the open file again (it changed on disk).
    Reload,
    /// Write the (edited) scenario back to its file, or to another one.
    Save(Option<PathBuf>),
    Select(Option<Element>),
    /// Start a new run (paused at time 0 unless `play`).
    NewRun {
        settings: RunSettings,
        play: bool,
    },
    Play,
    Pause,
    /// One event.
    Step,
    SetSpeed(Speed),
    /// Explore the dynamic properties.
    Check {
        cases: usize,
        seed: u64,
    },
    /// Show the counterexample of the last check.
    OpenCounterexample,
    /// Show case N of the last check as explored (not shrunk): a failed property the
    /// counterexample does not show is replayed from the case it failed in.
    OpenCase(usize),
    CloseCounterexample,
    Scrub(SimTime),
    /// Apply a what-if change to the scenario text (then re-checked; runs are compared).
    Edit(Edit),
    /// Drop every unsaved change.
    Revert,
    /// Write the diagram as SVG and PNG into the directory.
    ExportGraph(PathBuf),
    /// Write the last run's report, trace and plots into the directory.
    WriteReport(PathBuf),
}
