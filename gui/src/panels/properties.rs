//! Static checks and dynamic properties as a pass/fail list; a failed property opens its
//! counterexample.

use eframe::egui::{self, RichText};
use fusebench_model::Severity;
use fusebench_model::text::plain;
use fusebench_sim::properties::Status;

use crate::check::{CheckJob, DynamicResult};
use crate::command::Command;
use crate::session::Design;
use crate::theme;
use crate::view::ViewState;

/// Findings listed per check; the rest are counted (and badged on the graph).
const FINDINGS_SHOWN: usize = 4;

fn mark(ui: &mut egui::Ui, passed: bool) {
    let (text, colour) = if passed { ("PASS", theme::PASS) } else { ("FAIL", theme::FAIL) };
    ui.label(RichText::new(text).color(colour).strong().monospace());
}

/// A dynamic property's mark over all cases: "not exercised" is neither a pass nor a failure,
/// and a property whose checker broke was not judged.
fn status_mark(ui: &mut egui::Ui, status: Status) {
    let (text, colour) = match status {
        Status::Held => ("PASS", theme::PASS),
        Status::Failed => ("FAIL", theme::FAIL),
        Status::NotExercised => ("SKIP", theme::WARN),
        Status::Error => ("ERROR", theme::FAIL),
    };
    ui.label(RichText::new(text).color(colour).strong().monospace());
}

pub fn properties_ui(
    ui: &mut egui::Ui,
    design: &Design,
    job: Option<&CheckJob>,
    dynamic: Option<&Result<DynamicResult, String>>,
    view: &mut ViewState,
    out: &mut Vec<Command>,
) {
    ui.heading("Properties");
    let failed = design.checks.iter().filter(|c| !c.passed).count();
    ui.label(
        RichText::new(format!(
            "Static checks: {} passed, {failed} failed",
            design.checks.len() - failed
        ))
        .strong(),
    );
    for c in &design.checks {
        let warnings = c.findings.iter().filter(|d| d.severity != Severity::Error).count();
        ui.horizontal(|ui| {
            mark(ui, c.passed);
            let extra =
                if warnings > 0 { format!(" ({warnings} warning(s))") } else { String::new() };
            ui.label(format!("{}{extra}", c.id)).on_hover_text(c.summary);
        });
        let shown: Vec<_> = c.findings.iter().filter(|d| d.is_error()).collect();
        for d in shown.iter().take(FINDINGS_SHOWN) {
            ui.label(RichText::new(d.to_string()).small().color(theme::FAIL));
        }
        if shown.len() > FINDINGS_SHOWN {
            let more = shown.len() - FINDINGS_SHOWN;
            ui.label(
                RichText::new(format!("… and {more} more (badged in the graph)")).small().weak(),
            );
        }
    }
    ui.separator();
    ui.label(RichText::new("Dynamic properties").strong());
    ui.horizontal(|ui| {
        super::labelled(ui, "cases", egui::DragValue::new(&mut view.cases).range(1..=512));
        super::labelled(ui, "seed", egui::DragValue::new(&mut view.check_seed));
        let enabled = job.is_none() && design.unrunnable.is_none();
        if ui.add_enabled(enabled, egui::Button::new("Check properties")).clicked() {
            out.push(Command::Check { cases: view.cases, seed: view.check_seed });
        }
    });
    if let Some(why) = &design.unrunnable {
        ui.colored_label(theme::WARN, format!("not checked: {why}"));
    }
    if let Some(job) = job {
        let (done, failing) = job.progress();
        let frac = done as f32 / job.cases.max(1) as f32;
        ui.add(
            egui::ProgressBar::new(frac)
                .text(format!("exploring: {done}/{} cases ({failing} failing)", job.cases)),
        );
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
    }
    match dynamic {
        None => {
            if job.is_none() {
                ui.weak("Explores workloads and fault schedules; a failure is shrunk to a minimal counterexample.");
            }
        }
        Some(Err(e)) => {
            ui.colored_label(theme::FAIL, e);
        }
        Some(Ok(d)) => {
            ui.label(format!("{} cases from seed {}, {} failing", d.cases, d.seed, d.failing));
            for p in &d.summary {
                let summary = &*p.summary;
                ui.horizontal(|ui| {
                    status_mark(ui, p.status);
                    // The counterexample if it shows this property failing, else the case the
                    // property failed in, as explored.
                    let (open, what) = if p.shown_from_counterexample {
                        (Command::OpenCounterexample, "the counterexample".to_owned())
                    } else {
                        (Command::OpenCase(p.shown_case), format!("case {}", p.shown_case))
                    };
                    if p.passed() {
                        ui.label(&*p.id).on_hover_text(summary);
                    } else if ui
                        .link(&*p.id)
                        .on_hover_text(format!("{summary}\nclick: open {what}"))
                        .clicked()
                    {
                        out.push(open);
                    }
                });
                ui.label(RichText::new(p.counts()).small());
                for f in p.shown.findings.iter().take(3) {
                    ui.label(RichText::new(plain(f)).small().color(theme::FAIL));
                }
                for n in p.shown.notes.iter().take(2) {
                    ui.label(RichText::new(plain(n)).small().weak());
                }
            }
            if let Some((case, runs)) = &d.counterexample {
                ui.separator();
                let from = d.shrinking.as_ref().map_or(0, |s| s.from_case);
                ui.label(format!(
                    "Counterexample (case {from}): {} declared + {} injected fault(s), {:.1} s, shrunk in {runs} runs",
                    design.scenario().faults.len(),
                    case.schedule.faults.len(),
                    case.schedule.duration_s
                ));
                if d.shrinking.as_ref().is_some_and(|s| s.budget_hit) {
                    ui.label(
                        RichText::new("shrinking stopped at its time budget: a smaller counterexample may exist")
                            .small()
                            .color(theme::WARN),
                    );
                }
                if ui.button("Open counterexample").clicked() {
                    out.push(Command::OpenCounterexample);
                }
            }
        }
    }
}
