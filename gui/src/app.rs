//! The eframe application: the workbench state, the view state, and the frame loop —
//! `logic` applies the commands the last frame's panels emitted, polls background work and
//! advances a running simulation by a bounded slice; `ui` draws the panels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::command::Command;
use crate::findings::{self, Finding};
use crate::panels::{counterexample, files, graph, inspector, properties, simulation, whatif};
use crate::recent::Recent;
use crate::script::Script;
use crate::session::Session;
use crate::theme;
use crate::view::{Tab, ViewState};
use crate::workbench::{Waker, Workbench};

/// How often the open file is checked for changes on disk, seconds.
const WATCH_INTERVAL_S: f64 = 1.0;

pub struct App {
    pub bench: Workbench,
    pub view: ViewState,
    /// Number fields of the what-if panel being typed into.
    drafts: BTreeMap<String, f64>,
    /// Commands from the last frame, applied in the next `logic`.
    pending: Vec<Command>,
    /// The workbench generation (scenario opened or reloaded) the view was last set up for.
    viewed: Option<u64>,
    last_watch_s: f64,
    /// Scripted actions (for screenshots and demos), then a screenshot.
    pub script: Option<Script>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("bench", &self.bench).finish_non_exhaustive()
    }
}

impl App {
    /// The app with `scenario` open, if given; `recent` is the recent-files list.
    #[must_use]
    pub fn new(ctx: &egui::Context, scenario: Option<&Path>, recent: Recent) -> App {
        install_fonts(ctx);
        let mut bench = Workbench::new(scenario, recent);
        let repaint = ctx.clone();
        bench.wake = Some(Waker(std::sync::Arc::new(move || repaint.request_repaint())));
        let mut view = ViewState::default();
        view.open_dialog.dir = scenario
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let mut app = App {
            bench,
            view,
            drafts: BTreeMap::new(),
            pending: Vec::new(),
            viewed: None,
            last_watch_s: 0.0,
            script: None,
        };
        app.sync_view();
        app
    }

    /// Applies a command now (tests and scripts; the UI goes through the frame loop).
    pub fn apply(&mut self, command: Command) {
        self.bench.apply(command);
        self.sync_view();
    }

    /// Resets the view when another scenario (or a reload) replaced the design.
    fn sync_view(&mut self) {
        let generation = Some(self.bench.generation);
        if generation != self.viewed {
            let duration = self
                .bench
                .session
                .as_ref()
                .and_then(Session::design)
                .and_then(|d| d.scenario().workload.as_ref().map(|w| w.duration_s));
            self.view.reset_for_scenario(duration);
            self.drafts.clear();
            self.view.tab = Tab::Simulation;
            self.viewed = generation;
        }
    }

    /// Findings of the design and the last exploration, for badges and the inspector.
    fn findings(bench: &Workbench) -> Vec<&Finding> {
        let Some(design) = bench.session.as_ref().and_then(Session::design) else {
            return Vec::new();
        };
        let dynamic = match &bench.dynamic {
            Some(Ok(d)) => d.findings.as_slice(),
            _ => &[],
        };
        design.static_findings.iter().chain(dynamic).collect()
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        let out = &mut self.pending;
        ui.horizontal(|ui| {
            ui.label(RichText::new("fusebench").strong());
            if ui.button("Open…").clicked() {
                self.view.open_dialog.open = true;
                self.view.open_dialog.path_text = self.view.open_dialog.dir.display().to_string();
            }
            files::recent_menu_ui(ui, &self.bench.recent, out);
            let session = self.bench.session.as_ref();
            if ui.add_enabled(session.is_some(), egui::Button::new("Reload")).clicked() {
                out.push(Command::Reload);
            }
            let edited = session.is_some_and(Session::is_edited);
            if ui.add_enabled(edited, egui::Button::new("Save")).clicked() {
                out.push(Command::Save(None));
            }
            ui.menu_button("Export", |ui| {
                ui.horizontal(|ui| {
                    ui.label("into");
                    ui.text_edit_singleline(&mut self.view.out_dir);
                });
                let dir = PathBuf::from(self.view.out_dir.trim());
                if ui.button("Graph as SVG + PNG").clicked() {
                    out.push(Command::ExportGraph(dir.clone()));
                    ui.close();
                }
                let finished = self.bench.run.as_ref().is_some_and(|r| r.report.is_some());
                if ui
                    .add_enabled(
                        finished,
                        egui::Button::new("Run report, trace and plots (SVG + PNG)"),
                    )
                    .clicked()
                {
                    out.push(Command::WriteReport(dir));
                    ui.close();
                }
            });
            ui.separator();
            if let Some(s) = session {
                let mark = if edited { " (edited)" } else { "" };
                ui.label(format!("{}{mark}", s.path.display()));
            }
            if let Some(m) = self.bench.status() {
                ui.separator();
                let colour = if m.error { theme::FAIL } else { ui.visuals().weak_text_color() };
                // Messages quote scenario names and errors about them: shown escaped.
                ui.colored_label(colour, fusebench_model::text::plain(&m.text).into_owned());
            }
        });
    }

    fn bottom_ui(
        ui: &mut egui::Ui,
        bench: &Workbench,
        view: &mut ViewState,
        drafts: &mut BTreeMap<String, f64>,
        out: &mut Vec<Command>,
    ) {
        let Some(design) = bench.session.as_ref().and_then(Session::design) else { return };
        ui.horizontal(|ui| {
            ui.selectable_value(&mut view.tab, Tab::Simulation, "Simulation");
            let has_timeline = bench.timeline.is_some();
            ui.add_enabled_ui(has_timeline, |ui| {
                ui.selectable_value(&mut view.tab, Tab::Counterexample, "Counterexample");
            });
            ui.selectable_value(&mut view.tab, Tab::WhatIf, "What-if");
            ui.selectable_value(&mut view.tab, Tab::Report, "Report");
        });
        ui.separator();
        let run = bench.run.as_ref();
        match view.tab {
            Tab::Simulation => {
                simulation::controls_ui(ui, design, run, view, out);
                ui.separator();
                simulation::plots_ui(ui, run.map_or(&[][..], |r| r.samples()));
            }
            Tab::Counterexample => match &bench.timeline {
                Some(tl) => counterexample::counterexample_ui(ui, tl, out),
                None => {
                    ui.weak("Check the properties; a failure's counterexample opens here.");
                }
            },
            Tab::WhatIf => whatif::what_if_ui(
                ui,
                whatif::WhatIf {
                    design,
                    selection: bench.selection.as_ref(),
                    edits: &bench.edits,
                    baseline: bench.baseline.as_ref(),
                    current: run.and_then(|r| r.report.as_ref()),
                },
                view,
                drafts,
                out,
            ),
            Tab::Report => match run.and_then(|r| r.report.as_ref().zip(r.report_md.as_ref())) {
                Some((report, md)) => {
                    ui.horizontal(|ui| {
                        ui.label(simulation::summary(report));
                        if ui.button("Write report files").clicked() {
                            out.push(Command::WriteReport(PathBuf::from(view.out_dir.trim())));
                        }
                    });
                    egui::ScrollArea::vertical().id_salt("report").show(ui, |ui| {
                        ui.label(RichText::new(md.as_str()).monospace().small());
                    });
                }
                None => {
                    ui.weak("The report of a finished run appears here.");
                }
            },
        }
    }
}

/// Adds DejaVu Sans (embedded; the plots use it too) as a fallback after egui's default
/// fonts, for the arrows, dashes and symbols those lack.
fn install_fonts(ctx: &egui::Context) {
    use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
    let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
        .into_iter()
        .map(|family| InsertFontFamily { family, priority: FontPriority::Lowest })
        .collect();
    ctx.add_font(FontInsert::new(
        "DejaVuSans",
        egui::FontData::from_static(dejavu::sans::regular()),
        families,
    ));
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.tick(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }
}

impl App {
    /// The non-drawing half of a frame: apply last frame's commands, poll background work,
    /// watch the file, advance a running simulation by a bounded slice.
    pub fn tick(&mut self, ctx: &egui::Context) {
        for c in std::mem::take(&mut self.pending) {
            let opening = matches!(c, Command::OpenCounterexample | Command::OpenCase(_));
            self.apply(c);
            if opening && self.bench.timeline.is_some() {
                self.view.tab = Tab::Counterexample;
            }
        }
        let waiting_for_a_case = self.bench.case.is_some();
        self.bench.poll();
        if waiting_for_a_case && self.bench.case.is_none() && self.bench.timeline.is_some() {
            self.view.tab = Tab::Counterexample;
        }
        let (now, dt) = ctx.input(|i| (i.time, f64::from(i.stable_dt)));
        if now - self.last_watch_s >= WATCH_INTERVAL_S {
            self.last_watch_s = now;
            self.bench.watch_file();
            self.sync_view();
        }
        // stable_dt can be huge after the window was idle: never jump more than a tenth of a second.
        self.bench.advance(dt.min(0.1));
        if let Some(script) = &mut self.script {
            let commands = script.advance(&self.bench, &mut self.view, ctx);
            self.pending.extend(commands);
        }
        if self.bench.busy() || !self.pending.is_empty() {
            ctx.request_repaint();
        } else {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(WATCH_INTERVAL_S));
        }
    }

    /// The drawing half of a frame: every panel.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui));
        files::open_dialog_ui(ui.ctx(), &mut self.view.open_dialog, &mut self.pending);
        let Some(session) = &self.bench.session else {
            egui::CentralPanel::default().show(ui, |ui| {
                ui.heading("No scenario open");
                ui.label("Open a scenario file (TOML), e.g. scenarios/shop/shop.toml.");
            });
            return;
        };
        let design = match &session.design {
            Ok(d) => d,
            Err(diags) => {
                let file = session.file_name();
                egui::CentralPanel::default()
                    .show(ui, |ui| files::diagnostics_ui(ui, &file, diags));
                return;
            }
        };
        let findings = Self::findings(&self.bench);
        egui::Panel::left("properties").default_size(300.0).resizable(true).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("props").show(ui, |ui| {
                properties::properties_ui(
                    ui,
                    design,
                    self.bench.check.as_ref(),
                    self.bench.dynamic.as_ref(),
                    &mut self.view,
                    &mut self.pending,
                );
            });
        });
        egui::Panel::right("inspector").default_size(340.0).resizable(true).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("inspect").show(ui, |ui| {
                inspector::inspector_ui(
                    ui,
                    design,
                    self.bench.selection.as_ref(),
                    &findings,
                    self.bench.run.as_ref(),
                );
            });
        });
        egui::Panel::bottom("bottom").default_size(400.0).min_size(360.0).resizable(true).show(
            ui,
            |ui| {
                Self::bottom_ui(
                    ui,
                    &self.bench,
                    &mut self.view,
                    &mut self.drafts,
                    &mut self.pending,
                );
            },
        );
        let Some(design) = self.bench.session.as_ref().and_then(Session::design) else { return };
        let (highlighted_nodes, highlighted_edges) = self
            .bench
            .timeline
            .as_ref()
            .filter(|_| self.view.tab == Tab::Counterexample)
            .map(crate::timeline::Timeline::highlighted)
            .unwrap_or_default();
        let overlay = graph::Overlay {
            badges: findings::badges(findings.iter().copied()),
            highlighted_nodes,
            highlighted_edges,
            run: self.bench.run.as_ref(),
        };
        egui::CentralPanel::default().show(ui, |ui| {
            graph::graph_tools_ui(ui, &mut self.view);
            graph::graph_ui(
                ui,
                &design.diagram,
                self.bench.selection.as_ref(),
                &overlay,
                &mut self.view,
                &mut self.pending,
            );
        });
    }
}
