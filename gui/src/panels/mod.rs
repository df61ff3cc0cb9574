//! One file per panel; each `*_ui` function reads state and pushes [`crate::command::Command`]s.

pub mod composition;
pub mod control_plane;
pub mod counterexample;
pub mod files;
pub mod graph;
pub mod inspector;
pub mod mesh;
pub mod properties;
pub mod rollout;
pub mod simulation;
pub mod whatif;

use eframe::egui;

/// A label and the widget it names (for screen readers and for tests that find widgets by
/// their label).
pub fn labelled(ui: &mut egui::Ui, label: &str, widget: impl egui::Widget) -> egui::Response {
    let l = ui.label(label);
    ui.add(widget).labelled_by(l.id)
}
