//! Everything about *how* things are shown that is not the model: pan and zoom, nodes the user
//! dragged, the open tab, form fields being typed into, the open-file dialog.

use std::collections::BTreeMap;
use std::path::PathBuf;

use eframe::egui::{Pos2, Rect, Vec2, vec2};

use crate::live::RunSettings;

/// The bottom panel's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Simulation,
    Counterexample,
    WhatIf,
    Report,
}

/// The graph's camera: screen = origin + pan + (world × stretch) × zoom.
///
/// `zoom` scales everything (boxes, text, positions) alike; `stretch` spreads only node
/// *positions* apart, per axis, so a layout whose natural aspect differs from the panel's (a
/// long call chain is wide and short, a fan-out is tall and narrow) still fills the panel in
/// both dimensions instead of leaving a band of it empty: boxes keep their shape and size, the
/// gaps between them grow along the axis that had room to spare. Stretch is never below 1 (it
/// never squeezes boxes together) and at most [`Camera::STRETCH_MAX`] per axis (two rows of
/// boxes in a tall panel should not end up a screen apart).
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub pan: Vec2,
    pub zoom: f32,
    /// Per-axis spread of node positions (≥ 1), set by [`Camera::fit_to`].
    pub stretch: Vec2,
    /// Fit the whole graph into the panel on the next frame.
    pub fit: bool,
    /// The panel size of the last fit, while the user has not panned or zoomed since: a
    /// fitted view follows the panel when it is resized; a view the user moved stays put.
    pub fitted_to: Option<Vec2>,
}

impl Default for Camera {
    fn default() -> Self {
        Camera { pan: Vec2::ZERO, zoom: 1.0, stretch: Vec2::splat(1.0), fit: true, fitted_to: None }
    }
}

impl Camera {
    pub const ZOOM_MIN: f32 = 0.02;
    pub const ZOOM_MAX: f32 = 4.0;
    /// The largest spread of node positions along one axis.
    pub const STRETCH_MAX: f32 = 8.0;

    #[must_use]
    pub fn to_screen(&self, origin: Pos2, world: Pos2) -> Pos2 {
        origin + self.pan + world.to_vec2() * self.stretch * self.zoom
    }

    #[must_use]
    pub fn to_world(&self, origin: Pos2, screen: Pos2) -> Pos2 {
        ((screen - origin - self.pan) / self.zoom / self.stretch).to_pos2()
    }

    /// Shows all of `bounds` (world units, boxes and band padding included) centred in
    /// `panel`, filling it. `centres` is the box spanned by the node centres inside `bounds`:
    /// only it is stretched, the margins around it (half a box, the band padding) are not, as
    /// the graph draws them. The zoom is the largest that fits `bounds` at its natural aspect;
    /// then the axis with room to spare is stretched until the drawing spans the panel along it
    /// too (see [`Camera`]).
    pub fn fit_to(&mut self, bounds: Rect, centres: Rect, panel: Rect) {
        if bounds.width() <= 0.0 || bounds.height() <= 0.0 {
            return;
        }
        let zoom = (panel.width() / bounds.width())
            .min(panel.height() / bounds.height())
            .clamp(Self::ZOOM_MIN, Self::ZOOM_MAX);
        // Along one axis: the drawing is `spread × s + margins` world units wide at stretch s.
        let stretch = |room: f32, total: f32, spread: f32| {
            if spread > 0.0 {
                ((room / zoom - (total - spread)) / spread).clamp(1.0, Self::STRETCH_MAX)
            } else {
                1.0
            }
        };
        let centres = centres.intersect(bounds);
        let (spread_x, spread_y) = (centres.width().max(0.0), centres.height().max(0.0));
        let s = vec2(
            stretch(panel.width(), bounds.width(), spread_x),
            stretch(panel.height(), bounds.height(), spread_y),
        );
        // Drawn size, and where the bounds' top-left corner lands relative to the centres'.
        let drawn = (bounds.size() + vec2(spread_x, spread_y) * (s - Vec2::splat(1.0))) * zoom;
        let lead = (centres.min - bounds.min) * zoom;
        self.stretch = s;
        self.zoom = zoom;
        self.pan = (panel.size() - drawn) * 0.5 + lead - centres.min.to_vec2() * s * zoom;
        self.fit = false;
        self.fitted_to = Some(panel.size());
    }

    /// Zooms by `factor` keeping the world point under `anchor` (relative to origin) fixed.
    pub fn zoom_at(&mut self, anchor: Vec2, factor: f32) {
        let zoom = (self.zoom * factor).clamp(Self::ZOOM_MIN, Self::ZOOM_MAX);
        // In stretched units, which the zoom scales uniformly.
        let stretched = (anchor - self.pan) / self.zoom;
        self.zoom = zoom;
        self.pan = anchor - stretched * zoom;
        self.fitted_to = None;
    }
}

/// The open-file dialog: a directory listing filtered to scenario files.
#[derive(Debug, Clone, Default)]
pub struct OpenDialog {
    pub open: bool,
    pub dir: PathBuf,
    pub path_text: String,
}

/// Text fields of the what-if forms, kept between frames while typed into.
#[derive(Debug, Clone, Default)]
pub struct WhatIfForm {
    pub fault_kind: usize,
    pub fault_target: usize,
    pub fault_at_s: f64,
    pub fault_duration_s: f64,
    pub fault_amount: f64,
}

#[derive(Debug, Clone)]
pub struct ViewState {
    pub camera: Camera,
    /// Nodes the user dragged: their world positions.
    pub moved: BTreeMap<usize, Pos2>,
    pub tab: Tab,
    pub settings: RunSettings,
    pub cases: usize,
    pub check_seed: u64,
    pub open_dialog: OpenDialog,
    pub what_if: WhatIfForm,
    /// Where exports and reports go.
    pub out_dir: String,
    /// Show edge labels and traffic counts.
    pub labels: bool,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            camera: Camera::default(),
            moved: BTreeMap::new(),
            tab: Tab::Simulation,
            settings: RunSettings { seed: 1, duration_s: 10.0, speed: Some(1.0) },
            cases: 8,
            check_seed: 1,
            open_dialog: OpenDialog::default(),
            what_if: WhatIfForm {
                fault_at_s: 1.0,
                fault_duration_s: 2.0,
                fault_amount: 100.0,
                ..WhatIfForm::default()
            },
            out_dir: "fusebench-out".to_owned(),
            labels: true,
        }
    }
}

impl ViewState {
    /// The view after a new scenario opened: fit the graph again, forget dragged nodes.
    pub fn reset_for_scenario(&mut self, workload_duration_s: Option<f64>) {
        self.camera = Camera::default();
        self.moved.clear();
        if let Some(d) = workload_duration_s {
            self.settings.duration_s = d;
        }
    }
}

#[cfg(test)]
mod tests {
    use eframe::egui::pos2;

    use super::*;

    /// A wide drawing in a square panel: the zoom fits the width, the height is filled by
    /// spreading node centres (not the margins), and screen ↔ world round-trips.
    #[test]
    fn fit_stretches_the_axis_with_room_to_spare_and_keeps_the_margins() {
        let bounds = Rect::from_min_max(pos2(0.0, 0.0), pos2(1000.0, 200.0));
        let centres = bounds.shrink(50.0);
        let panel = Rect::from_min_size(pos2(0.0, 0.0), vec2(500.0, 500.0));
        let mut cam = Camera::default();
        cam.fit_to(bounds, centres, panel);
        assert!((cam.zoom - 0.5).abs() < 1e-6);
        assert!((cam.stretch.x - 1.0).abs() < 1e-6);
        // 100 margin + 100 × s spread = 1000 world units of height at zoom 0.5.
        assert!((cam.stretch.y - 9.0f32.min(Camera::STRETCH_MAX)).abs() < 1e-4, "{cam:?}");
        let origin = Pos2::ZERO;
        let (top, bottom) =
            (cam.to_screen(origin, centres.min), cam.to_screen(origin, centres.max));
        // The drawing (centres ± margin × zoom) is centred in the panel.
        assert!(
            (top.x - 25.0).abs() < 1e-3 && (bottom.x - 475.0).abs() < 1e-3,
            "{top:?} {bottom:?}"
        );
        let (high, low) = (top.y - 25.0, bottom.y + 25.0);
        assert!((high - (500.0 - low)).abs() < 1e-3, "centred: {high} {low}");
        assert!(high >= 0.0 && low <= 500.0, "inside: {high} {low}");
        let p = pos2(321.0, 87.0);
        assert!((cam.to_world(origin, cam.to_screen(origin, p)) - p).length() < 1e-3);
        assert_eq!(cam.fitted_to, Some(panel.size()));
        // Zooming keeps the point under the pointer where it is, and ends auto-fitting.
        let anchor = vec2(100.0, 300.0);
        let under = cam.to_world(origin, anchor.to_pos2());
        cam.zoom_at(anchor, 1.7);
        assert!((cam.to_screen(origin, under) - anchor.to_pos2()).length() < 1e-3);
        assert_eq!(cam.fitted_to, None);
    }

    /// A drawing of the panel's own aspect is not stretched: fitting is the plain uniform fit.
    #[test]
    fn fit_of_a_matching_aspect_does_not_stretch() {
        let bounds = Rect::from_min_max(pos2(10.0, 20.0), pos2(410.0, 220.0));
        let panel = Rect::from_min_size(Pos2::ZERO, vec2(800.0, 400.0));
        let mut cam = Camera::default();
        cam.fit_to(bounds, bounds.shrink(40.0), panel);
        assert_eq!(cam.stretch, Vec2::splat(1.0));
        assert!((cam.zoom - 2.0).abs() < 1e-6);
        assert!((cam.to_screen(Pos2::ZERO, bounds.min) - Pos2::ZERO).length() < 1e-3);
    }
}
