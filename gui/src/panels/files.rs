//! The open-file dialog (a directory listing filtered to scenario files, plus a typed path),
//! the recent-files menu, and the diagnostics panel shown when a scenario does not parse.

use fusebench_model::text::into_plain;
use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};
use fusebench_model::Diagnostic;

use crate::command::Command;
use crate::recent::Recent;
use crate::theme;
use crate::view::OpenDialog;

/// Directory entries: sub-directories and `.toml` files, sorted, directories first.
#[must_use]
pub fn listing(dir: &Path) -> Vec<(PathBuf, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| {
            let is_dir = p.is_dir();
            let hidden = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            let toml = p.extension().is_some_and(|x| x == "toml");
            (!hidden && (is_dir || toml)).then_some((p, is_dir))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

pub fn open_dialog_ui(ctx: &egui::Context, dialog: &mut OpenDialog, out: &mut Vec<Command>) {
    if !dialog.open {
        return;
    }
    let mut open = dialog.open;
    egui::Window::new("Open scenario").open(&mut open).default_size([520.0, 420.0]).show(
        ctx,
        |ui| {
            ui.horizontal(|ui| {
                ui.label("path");
                let edit =
                    ui.add(egui::TextEdit::singleline(&mut dialog.path_text).desired_width(360.0));
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Open").clicked() || enter {
                    let p = PathBuf::from(dialog.path_text.trim());
                    if p.is_dir() {
                        dialog.dir = p;
                    } else {
                        out.push(Command::Open(p));
                        dialog.open = false;
                    }
                }
            });
            ui.horizontal(|ui| {
                if ui.button("Up").clicked()
                    && let Some(parent) = dialog.dir.parent()
                {
                    dialog.dir = parent.to_path_buf();
                }
                ui.label(RichText::new(dialog.dir.display().to_string()).monospace());
            });
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| {
                for (path, is_dir) in listing(&dialog.dir) {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let label = if is_dir { format!("{name}/") } else { name };
                    if ui.selectable_label(false, label).clicked() {
                        if is_dir {
                            dialog.dir = path;
                        } else {
                            out.push(Command::Open(path));
                            dialog.open = false;
                        }
                    }
                }
            });
        },
    );
    dialog.open &= open;
}

pub fn recent_menu_ui(ui: &mut egui::Ui, recent: &Recent, out: &mut Vec<Command>) {
    ui.menu_button("Recent", |ui| {
        if recent.paths.is_empty() {
            ui.weak("no recent files");
        }
        for p in &recent.paths {
            if ui.button(p.display().to_string()).clicked() {
                out.push(Command::Open(p.clone()));
                ui.close();
            }
        }
    });
}

/// Every diagnostic that stopped the scenario, with file:line:col, field and hint.
pub fn diagnostics_ui(ui: &mut egui::Ui, file: &str, diags: &[Diagnostic]) {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    ui.heading(into_plain(format!("{file}: {errors} error(s)")));
    ui.label("The scenario could not be built. Fix the file (it is reloaded when it changes) or open another.");
    ui.separator();
    egui::ScrollArea::vertical().id_salt("diagnostics").show(ui, |ui| {
        for d in diags {
            let colour = if d.is_error() { theme::FAIL } else { theme::WARN };
            let place = d.location.as_ref().map_or(String::new(), |l| format!("{l}: "));
            ui.label(
                RichText::new(into_plain(format!("{place}{}[{}]", d.severity, d.code)))
                    .color(colour)
                    .monospace(),
            );
            ui.label(into_plain(d.message.clone()));
            if let Some(f) = d.field.as_deref().filter(|f| !f.is_empty()) {
                ui.label(RichText::new(into_plain(format!("field `{f}`"))).weak());
            }
            if let Some(h) = &d.hint {
                ui.label(RichText::new(into_plain(format!("help: {h}"))).italics());
            }
            ui.add_space(6.0);
        }
    });
}
