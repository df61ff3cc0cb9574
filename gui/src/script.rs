//! Scripted actions for screenshots and demos (`--select`, `--run`, `--check`,
//! `--counterexample`, `--screenshot`): each step waits until the previous one's work is done
//! (a run finished, an exploration came back), then the window is captured and closed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use eframe::egui;
use fusebench_sim::report::png;
use fusebench_sim::time::SimTime;

use crate::command::Command;
use crate::diagram::Element;
use crate::live::RunState;
use crate::session::Session;
use crate::view::{Tab, ViewState};
use crate::workbench::Workbench;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Select the service or store of this name.
    Select(String),
    /// Run the simulation to its end (at full speed).
    Run,
    /// Explore the dynamic properties with this many cases.
    Check(usize),
    /// Open the counterexample and scrub to this fraction of the run.
    Counterexample(f64),
    Tab(Tab),
    /// Capture the window into this PNG file, then close it.
    Screenshot(PathBuf),
}

/// Frames to let the layout settle before a screenshot.
const SETTLE_FRAMES: u32 = 8;

#[derive(Debug, Default)]
pub struct Script {
    steps: VecDeque<Action>,
    settle: u32,
    /// Set by the screenshot callback: `Some(result)` once written.
    pub saved: Arc<Mutex<Option<Result<PathBuf, String>>>>,
    requested: bool,
}

impl Script {
    #[must_use]
    pub fn new(steps: Vec<Action>) -> Script {
        Script { steps: steps.into(), ..Script::default() }
    }

    /// Whether every step is done.
    #[must_use]
    pub fn finished(&self) -> bool {
        self.steps.is_empty()
    }

    fn busy(bench: &Workbench) -> bool {
        bench.check.is_some() || bench.run.as_ref().is_some_and(|r| r.state == RunState::Running)
    }

    /// The commands for this frame.
    pub fn advance(
        &mut self,
        bench: &Workbench,
        view: &mut ViewState,
        ctx: &egui::Context,
    ) -> Vec<Command> {
        let Some(design) = bench.session.as_ref().and_then(Session::design) else {
            // Nothing to show but the diagnostics: screenshot those.
            self.steps.retain(|s| matches!(s, Action::Screenshot(_)));
            return self.screenshot(ctx);
        };
        if Self::busy(bench) {
            self.settle = 0;
            return Vec::new();
        }
        let mut out = Vec::new();
        match self.steps.front().cloned() {
            None => {}
            Some(Action::Select(name)) => {
                if let Some(i) = design.diagram.named(&name) {
                    out.push(Command::Select(Some(Element::Node(i))));
                }
                self.steps.pop_front();
            }
            Some(Action::Run) => {
                let mut settings = view.settings.clone();
                settings.speed = None;
                out.push(Command::NewRun { settings, play: true });
                view.tab = Tab::Simulation;
                self.steps.pop_front();
            }
            Some(Action::Check(cases)) => {
                out.push(Command::Check { cases, seed: view.check_seed });
                self.steps.pop_front();
            }
            Some(Action::Counterexample(fraction)) => {
                out.push(Command::OpenCounterexample);
                if let Some(end) = bench
                    .dynamic
                    .as_ref()
                    .and_then(|d| d.as_ref().ok())
                    .and_then(|d| d.counterexample.as_ref())
                    .map(|(c, _)| c.run.end)
                {
                    let t = SimTime::from_secs_f64(end.as_secs_f64() * fraction.clamp(0.0, 1.0));
                    out.push(Command::Scrub(t));
                }
                self.steps.pop_front();
            }
            Some(Action::Tab(tab)) => {
                view.tab = tab;
                self.steps.pop_front();
            }
            Some(Action::Screenshot(_)) => return self.screenshot(ctx),
        }
        self.settle = 0;
        out
    }

    fn screenshot(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let Some(Action::Screenshot(path)) = self.steps.front().cloned() else { return Vec::new() };
        if self.settle < SETTLE_FRAMES {
            self.settle += 1;
            ctx.request_repaint();
            return Vec::new();
        }
        if !self.requested {
            self.requested = true;
            let saved = self.saved.clone();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let [w, h] = image.size;
                let bytes: Vec<u8> =
                    image.pixels.iter().flat_map(egui::Color32::to_array).collect();
                let result = png::encode(w as u32, h as u32, png::Pixels::Rgba, &bytes)
                    .and_then(|png| {
                        fusebench_sim::atomic::write(&path, &png).map_err(|e| e.to_string())
                    })
                    .map(|()| path.clone())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()));
                if let Ok(mut slot) = saved.lock() {
                    *slot = Some(result);
                }
                repaint.request_repaint();
            });
        }
        let done = self.saved.lock().map(|s| s.is_some()).unwrap_or(true);
        if done {
            self.steps.pop_front();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint();
        Vec::new()
    }
}
