//! A counterexample: the violated properties, the shrunk schedule, when the violation shows and
//! the faults active then, a timeline with swim lanes per service or store, the faults as
//! intervals and the violation as a red line, a scrubber that replays the run to any moment
//! (the graph highlights what was involved just before it), and the story in words with the
//! violating chain marked `*` and a marker line where the violation shows.

use eframe::egui::{self, Align2, Color32, FontId, RichText, Sense, Stroke, vec2};
use fusebench_model::text::plain;
use fusebench_sim::time::SimTime;

use crate::command::Command;
use crate::theme;
use crate::timeline::{Mark, Timeline};

/// Lanes drawn at most (the rest are listed in the story).
const LANES_MAX: usize = 12;

pub fn counterexample_ui(ui: &mut egui::Ui, tl: &Timeline, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        match tl.explored_case {
            Some(case) => ui.heading(format!("Case {case}, as explored")),
            None => ui.heading("Counterexample"),
        };
        if ui.button("Close").clicked() {
            out.push(Command::CloseCounterexample);
        }
    });
    for (v, summary) in tl.violated() {
        ui.label(
            RichText::new(format!("violated: {} — {summary}", v.id)).color(theme::FAIL).strong(),
        );
        for f in v.findings.iter().take(4) {
            ui.label(RichText::new(format!("  {}", plain(f))).small());
        }
    }
    let how = match tl.explored_case {
        Some(_) => "Not shrunk (the counterexample was shrunk for another property)".to_owned(),
        None => format!("Shrunk in {} steps", tl.shrink_steps),
    };
    ui.label(format!(
        "{how} · trace {} · schedule:",
        tl.trace_hash.get(..16).unwrap_or(&tl.trace_hash)
    ));
    for line in &tl.schedule {
        ui.label(RichText::new(plain(line)).monospace().small());
    }
    ui.separator();
    match tl.violation_at {
        Some(at) => {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("the violation shows at t = {:.4} s", at.as_secs_f64()))
                        .color(theme::FAIL)
                        .strong(),
                );
                if ui.button("go to the violation").clicked() {
                    out.push(Command::Scrub(at));
                }
            });
            let faults = if tl.faults_at_violation.is_empty() {
                "none".to_owned()
            } else {
                tl.faults_at_violation.iter().map(|f| plain(f)).collect::<Vec<_>>().join("; ")
            };
            ui.label(format!("faults active then: {faults}"));
        }
        None => {
            ui.label("the violation has no single moment (e.g. a percentile): the story starts with the run");
        }
    }
    // The scrubber: replay position in simulated seconds.
    let end_s = tl.end.as_secs_f64();
    let mut t = tl.cursor.as_secs_f64();
    ui.horizontal(|ui| {
        ui.label("replay to");
        let slider = egui::Slider::new(&mut t, 0.0..=end_s).suffix(" s").max_decimals(4);
        let response = ui.add_sized([ui.available_width() * 0.6, 18.0], slider);
        // Only what the user does moves the cursor: the slider may round the value it shows.
        let touched = response.dragged() || response.clicked() || response.has_focus();
        if response.changed() && touched {
            out.push(Command::Scrub(SimTime::from_secs_f64(t)));
        }
        let step = |e: &crate::timeline::StoryEvent| e.at;
        let happened = tl.happened();
        if ui.button("previous event").clicked()
            && let Some(prev) = happened.len().checked_sub(2).and_then(|i| happened.get(i))
        {
            out.push(Command::Scrub(step(prev)));
        }
        if ui.button("next event").clicked()
            && let Some(next) = tl.events.get(happened.len())
        {
            out.push(Command::Scrub(step(next)));
        }
    });
    let active: Vec<&str> = tl.active_faults().map(|f| f.label.as_str()).collect();
    ui.label(format!(
        "at t = {:.4} s: {} of {} story events happened; faults active: {}",
        tl.cursor.as_secs_f64(),
        tl.happened().len(),
        tl.events.len(),
        if active.is_empty() { "none".to_owned() } else { active.join(", ") }
    ));
    lanes_ui(ui, tl, out);
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("story")
        .max_height(ui.available_height())
        .stick_to_bottom(true)
        .show(ui, |ui| {
            let shown: Vec<_> = tl.happened().iter().rev().take(200).collect();
            let mut marked = false;
            for e in shown.into_iter().rev() {
                if let Some(at) = tl.violation_at
                    && !marked
                    && e.at >= at
                {
                    marked = true;
                    ui.label(
                        RichText::new(format!(
                            ">>> here the violation shows (t = {:.4} s)",
                            at.as_secs_f64()
                        ))
                        .monospace()
                        .small()
                        .strong()
                        .color(theme::FAIL),
                    );
                }
                let colour = match e.mark {
                    Mark::Fault => theme::WARN,
                    Mark::GuestFault => theme::FAIL,
                    Mark::Normal => ui.visuals().text_color(),
                };
                let tag = if e.chain { "* " } else { "  " };
                ui.label(
                    RichText::new(format!("{tag}{}", plain(&e.text)))
                        .monospace()
                        .small()
                        .color(colour),
                );
            }
        });
}

/// Swim lanes: one row per service or store, each story event a tick; faults as shaded spans;
/// the cursor as a vertical line. Click or drag to move the cursor.
fn lanes_ui(ui: &mut egui::Ui, tl: &Timeline, out: &mut Vec<Command>) {
    let lanes = tl.lanes.len().min(LANES_MAX);
    let lane_h = 16.0;
    let label_w = 140.0;
    let height = lane_h * (lanes as f32 + 1.0) + 8.0;
    let (rect, response) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let x0 = rect.left() + label_w;
    let w = (rect.width() - label_w - 8.0).max(10.0);
    let end = tl.end.as_secs_f64().max(1e-9);
    let x_of = |t: SimTime| x0 + (t.as_secs_f64() / end) as f32 * w;
    for f in &tl.faults {
        let r = egui::Rect::from_x_y_ranges(
            x_of(f.start)..=x_of(f.end).max(x_of(f.start) + 2.0),
            rect.y_range(),
        );
        painter.rect_filled(r, 0.0, theme::WARN.gamma_multiply(0.18));
        painter.text(
            r.left_top() + vec2(2.0, 1.0),
            Align2::LEFT_TOP,
            plain(&f.label),
            FontId::proportional(10.0),
            theme::WARN,
        );
    }
    for (i, name) in tl.lanes.iter().take(lanes).enumerate() {
        let y = rect.top() + lane_h * (i as f32 + 1.0) + 4.0;
        painter.text(
            egui::pos2(rect.left() + 4.0, y),
            Align2::LEFT_CENTER,
            plain(name),
            FontId::proportional(11.0),
            Color32::from_gray(200),
        );
        painter.line_segment(
            [egui::pos2(x0, y), egui::pos2(x0 + w, y)],
            Stroke::new(0.5, Color32::from_gray(70)),
        );
    }
    for e in &tl.events {
        let Some(lane) = e.lane.filter(|l| *l < lanes) else { continue };
        let y = rect.top() + lane_h * (lane as f32 + 1.0) + 4.0;
        let x = x_of(e.at);
        let colour = match e.mark {
            Mark::Fault => theme::WARN,
            Mark::GuestFault => theme::FAIL,
            Mark::Normal if e.at <= tl.cursor => theme::PULSE,
            Mark::Normal => Color32::from_gray(110),
        };
        painter.line_segment(
            [egui::pos2(x, y - 5.0), egui::pos2(x, y + 5.0)],
            Stroke::new(1.0, colour),
        );
    }
    if lanes == 0 {
        // An empty strip would read as "nothing happened"; say what is missing instead (the
        // strip stays, so the cursor can still be moved along the faults).
        let why = if tl.events.is_empty() {
            "No event of this counterexample's trace could be shown: no swim lanes to draw."
        } else {
            "No event of this trace belongs to a service or store: no swim lanes to draw."
        };
        let label = egui::Label::new(RichText::new(why).weak()).selectable(false);
        ui.put(egui::Rect::from_x_y_ranges(x0..=x0 + w, rect.y_range()), label);
    }
    if let Some(at) = tl.violation_at {
        let vx = x_of(at);
        painter.line_segment(
            [egui::pos2(vx, rect.top()), egui::pos2(vx, rect.bottom())],
            Stroke::new(1.5, theme::FAIL),
        );
    }
    let cx = x_of(tl.cursor);
    painter.line_segment(
        [egui::pos2(cx, rect.top()), egui::pos2(cx, rect.bottom())],
        Stroke::new(2.0, theme::HIGHLIGHT),
    );
    if let Some(p) = response.interact_pointer_pos()
        && (response.clicked() || response.dragged())
    {
        let t = (((p.x - x0) / w).clamp(0.0, 1.0) as f64) * end;
        out.push(Command::Scrub(SimTime::from_secs_f64(t)));
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use fusebench_sim::trace::TraceEvent;

    use super::*;
    use crate::timeline::tests::{timeline_of, written};

    fn harness(tl: Timeline) -> Harness<'static, Timeline> {
        let mut h = Harness::builder()
            .with_size([900.0, 300.0])
            .build_ui_state(|ui, tl: &mut Timeline| lanes_ui(ui, tl, &mut Vec::new()), tl);
        h.run_steps(2);
        h
    }

    /// A trace with a fault but no service event: the lanes strip says why it is empty; with
    /// a service's event, its lane is drawn and nothing is said.
    #[test]
    fn empty_lanes_say_why() {
        let faults_only = written(&[
            TraceEvent::FaultStart { index: 0, kind: "partition" },
            TraceEvent::FaultEnd { index: 0, kind: "partition" },
        ]);
        let h = harness(timeline_of(faults_only));
        h.get_by_label_contains("no swim lanes to draw");

        let with_lane = written(&[
            TraceEvent::FaultStart { index: 0, kind: "partition" },
            TraceEvent::Arrival { req: 1, service: "s", endpoint: "e", body: Default::default() },
        ]);
        let h = harness(timeline_of(with_lane));
        assert!(h.query_by_label_contains("no swim lanes").is_none());
    }
}
