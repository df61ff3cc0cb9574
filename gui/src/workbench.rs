//! The workbench's state — the open scenario, the run, the exploration, the counterexample
//! being replayed, the previous run to compare with — and how commands change it. No drawing
//! here; the panels read this and emit [`Command`]s.

use std::path::{Path, PathBuf};

use fusebench_sim::report::{self, Report};

use crate::check::{CaseJob, CheckJob, DynamicResult};
use crate::command::Command;
use crate::diagram::Element;
use crate::export;
use crate::live::{LiveRun, RunSettings, RunState};
use crate::recent::Recent;
use crate::session::Session;
use crate::timeline::Timeline;

/// A finished run kept for comparison, with the edits that led to the next one.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub report: Report,
    /// What changed in the scenario since (what-if edits, described).
    pub label: String,
}

#[derive(Debug, Default)]
pub struct Workbench {
    pub session: Option<Session>,
    pub selection: Option<Element>,
    pub run: Option<LiveRun>,
    pub check: Option<CheckJob>,
    /// A case of the last check being run again, to be opened on the timeline.
    pub case: Option<CaseJob>,
    pub dynamic: Option<Result<DynamicResult, String>>,
    pub timeline: Option<Timeline>,
    /// The run before the latest what-if edits.
    pub baseline: Option<Baseline>,
    /// What-if edits applied since the file was opened or saved, described.
    pub edits: Vec<String>,
    pub recent: Recent,
    /// Messages for the status line, newest last (errors that are not a scenario's).
    pub messages: Vec<Message>,
    /// Asks for a frame from a background thread (the GUI's repaint request).
    pub wake: Option<Waker>,
    /// Counts scenarios opened or reloaded: the view resets when it changes.
    pub generation: u64,
}

/// A repaint request callable from any thread.
#[derive(Clone)]
pub struct Waker(pub std::sync::Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub error: bool,
    pub text: String,
}

impl Workbench {
    /// A workbench with `path` open (if given); recent files from `recent`.
    #[must_use]
    pub fn new(path: Option<&Path>, recent: Recent) -> Workbench {
        let mut w = Workbench { recent, ..Workbench::default() };
        if let Some(p) = path {
            w.open(p);
        }
        w
    }

    fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message { error: false, text: text.into() });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.messages.push(Message { error: true, text: text.into() });
    }

    /// The last message, for the status line.
    #[must_use]
    pub fn status(&self) -> Option<&Message> {
        self.messages.last()
    }

    fn open(&mut self, path: &Path) {
        match Session::open(path) {
            Ok(s) => {
                self.recent.add(path);
                self.forget_results();
                self.info(format!("opened {}", path.display()));
                self.session = Some(s);
            }
            Err(e) => self.error(e),
        }
    }

    fn forget_results(&mut self) {
        self.generation += 1;
        self.selection = None;
        self.run = None;
        self.check = None;
        self.dynamic = None;
        self.case = None;
        self.timeline = None;
        self.baseline = None;
        self.edits.clear();
    }

    /// Background work to poll and watch for (called every frame).
    pub fn poll(&mut self) {
        if let Some(job) = &self.case
            && let Some(result) = job.poll()
        {
            let index = job.index;
            self.case = None;
            match (result, self.session.as_ref().and_then(Session::design)) {
                (Ok(Some(case)), Some(design)) => {
                    let mut timeline = Timeline::new(&case, 0, &design.diagram);
                    timeline.explored_case = Some(index);
                    timeline.summaries = fusebench_sim::properties::catalogue(design.scenario());
                    self.timeline = Some(timeline);
                }
                (Ok(None), _) => self.error(format!("the last check has no case {index}")),
                (Err(e), _) => self.error(format!("cannot run case {index} again: {e}")),
                (Ok(Some(_)), None) => {}
            }
        }
        if let Some(job) = &self.check
            && let Some(mut result) = job.poll()
        {
            if let (Ok(d), Some(design)) =
                (&mut result, self.session.as_ref().and_then(Session::design))
            {
                d.findings = crate::findings::from_verdicts(&design.diagram, d.verdicts());
            }
            self.check = None;
            match &result {
                Ok(d) if d.passed() => {
                    self.info(format!("{} cases explored: every property holds", d.cases));
                }
                Ok(d) => self.info(format!(
                    "{} cases explored, {} failing: counterexample shrunk",
                    d.cases, d.failing
                )),
                Err(e) => self.error(format!("exploration failed: {e}")),
            }
            self.dynamic = Some(result);
        }
    }

    /// Whether the open file changed on disk while nothing was edited (then it is reloaded).
    pub fn watch_file(&mut self) {
        let reload = self.session.as_ref().is_some_and(|s| !s.is_edited() && s.changed_on_disk());
        if reload {
            self.apply(Command::Reload);
        }
    }

    /// Whether something is running that needs frames.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.check.is_some() || self.run.as_ref().is_some_and(|r| r.state == RunState::Running)
    }

    /// Advances a running simulation by a frame's wall time.
    pub fn advance(&mut self, wall_dt_s: f64) {
        let (Some(run), Some(design)) =
            (&mut self.run, self.session.as_ref().and_then(Session::design))
        else {
            return;
        };
        run.advance(wall_dt_s, &design.diagram);
    }

    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Open(path) => self.open(&path),
            Command::Reload => {
                let Some(s) = &mut self.session else { return };
                let path = s.path.clone();
                match s.reload() {
                    Ok(()) => {
                        self.forget_results();
                        self.info(format!("reloaded {} (changed on disk)", path.display()));
                    }
                    Err(e) => self.error(e),
                }
            }
            Command::Save(path) => self.save(path),
            Command::Select(e) => self.selection = e,
            Command::NewRun { settings, play } => self.new_run(settings, play),
            Command::Play => self.set_state(RunState::Running),
            Command::Pause => self.set_state(RunState::Paused),
            Command::Step => {
                if let (Some(run), Some(d)) =
                    (&mut self.run, self.session.as_ref().and_then(Session::design))
                {
                    run.state = RunState::Paused;
                    run.step(&d.diagram);
                }
            }
            Command::SetSpeed(speed) => {
                if let Some(run) = &mut self.run {
                    run.settings.speed = speed;
                }
            }
            Command::Check { cases, seed } => self.start_check(cases, seed),
            Command::OpenCounterexample => self.open_counterexample(),
            Command::OpenCase(index) => self.open_case(index),
            Command::CloseCounterexample => self.timeline = None,
            Command::Scrub(t) => {
                if let Some(tl) = &mut self.timeline {
                    tl.scrub(t);
                }
            }
            Command::Edit(edit) => self.edit(&edit),
            Command::Revert => {
                if let Some(s) = &mut self.session {
                    let text = s.disk_text.clone();
                    s.set_text(text);
                    self.edits.clear();
                    self.dynamic = None;
                    self.case = None;
                    self.timeline = None;
                    self.info("reverted to the file on disk");
                }
            }
            Command::ExportGraph(dir) => self.export_graph(&dir),
            Command::WriteReport(dir) => self.write_report(&dir),
        }
    }

    fn set_state(&mut self, state: RunState) {
        if let Some(run) = &mut self.run
            && run.state != RunState::Finished
        {
            run.state = state;
        }
    }

    fn new_run(&mut self, settings: RunSettings, play: bool) {
        let Some(design) = self.session.as_ref().and_then(Session::design) else { return };
        if let Some(why) = &design.unrunnable {
            let why = why.clone();
            self.error(format!("cannot run: {why}"));
            return;
        }
        match LiveRun::new(design.scenario(), &design.loaded.files, &design.diagram, settings) {
            Ok(mut run) => {
                if play {
                    run.state = RunState::Running;
                }
                self.run = Some(run);
            }
            Err(e) => self.error(format!("cannot run: {e}")),
        }
    }

    fn start_check(&mut self, cases: usize, seed: u64) {
        let Some(design) = self.session.as_ref().and_then(Session::design) else { return };
        if let Some(why) = &design.unrunnable {
            let why = why.clone();
            self.dynamic = Some(Err(format!("dynamic properties not checked: {why}")));
            return;
        }
        self.timeline = None;
        self.dynamic = None;
        self.case = None;
        let (scenario, files) = (design.scenario().clone(), design.loaded.files.clone());
        self.check = Some(CheckJob::start(scenario, files, cases.max(1), seed, self.wake_fn()));
    }

    /// What a background job calls when it has news: a repaint request, if there is a GUI.
    fn wake_fn(&self) -> impl Fn() + Send + Sync + 'static {
        let wake = self.wake.clone();
        move || {
            if let Some(w) = &wake {
                (w.0)();
            }
        }
    }

    fn open_counterexample(&mut self) {
        let Some(Ok(d)) = &self.dynamic else { return };
        let Some((case, steps)) = &d.counterexample else { return };
        let Some(design) = self.session.as_ref().and_then(Session::design) else { return };
        let mut timeline = Timeline::new(case, *steps, &design.diagram);
        timeline.summaries = fusebench_sim::properties::catalogue(design.scenario());
        self.timeline = Some(timeline);
    }

    /// Starts running case `index` of the last check again, as explored, in the background;
    /// [`Workbench::poll`] opens it on the timeline when it is done.
    fn open_case(&mut self, index: usize) {
        let Some(Ok(d)) = &self.dynamic else { return };
        let exploration = (d.cases, d.seed);
        let Some(design) = self.session.as_ref().and_then(Session::design) else { return };
        let (scenario, files) = (design.scenario().clone(), design.loaded.files.clone());
        self.info(format!("running case {index} again, as explored"));
        self.timeline = None;
        self.case = Some(CaseJob::start(scenario, files, exploration, index, self.wake_fn()));
    }

    fn edit(&mut self, edit: &fusebench_model::edit::Edit) {
        let Some(s) = &mut self.session else { return };
        match fusebench_model::edit::apply(&s.text, std::slice::from_ref(edit)) {
            Ok(text) => {
                s.set_text(text);
                // The finished run becomes the baseline the next run is compared with.
                if let Some(report) = self.run.as_ref().and_then(|r| r.report.clone()) {
                    let label = if self.edits.is_empty() {
                        "before the what-if changes".to_owned()
                    } else {
                        format!("after: {}", self.edits.join(", "))
                    };
                    self.baseline = Some(Baseline { report, label });
                }
                self.run = None;
                self.dynamic = None;
                self.case = None;
                self.timeline = None;
                self.edits.push(edit.to_string());
                self.info(format!("changed {edit}: re-checked"));
            }
            Err(e) => self.error(format!("cannot change {edit}: {e}")),
        }
    }

    fn save(&mut self, path: Option<PathBuf>) {
        let Some(s) = &mut self.session else { return };
        let target = path.unwrap_or_else(|| s.path.clone());
        match s.save_as(&target) {
            Ok(()) => {
                self.edits.clear();
                self.recent.add(&target);
                self.info(format!("saved {}", target.display()));
            }
            Err(e) => self.error(e),
        }
    }

    fn export_graph(&mut self, dir: &Path) {
        let Some(design) = self.session.as_ref().and_then(Session::design) else { return };
        let traffic = self.run.as_ref().map(|r| r.traffic.as_slice());
        match export::graph(dir, &design.scenario().name, &design.diagram, traffic) {
            Ok(files) => self.info(format!("wrote {}", files.join(", "))),
            Err(e) => self.error(e),
        }
    }

    fn write_report(&mut self, dir: &Path) {
        let Some(run) = &self.run else { return };
        let (Some(rep), Some(result)) = (&run.report, &run.result) else {
            self.error("the run has not finished: nothing to report yet");
            return;
        };
        // Into the export directory the graph goes to as well (shared, so not replaced whole as
        // `run --out` replaces its own): each file atomically.
        match report::write_run_files(dir, rep, Some(&result.trace)) {
            Ok(files) => {
                self.info(format!("wrote {}: {}", dir.display(), files.join(", ")));
            }
            Err(e) => self.error(format!("cannot write the report into {}: {e}", dir.display())),
        }
    }
}
