//! Everything about *how* things are shown that is not the model: pan and zoom, nodes the user
//! dragged, the open tab, form fields being typed into, the open-file dialog.

use std::collections::BTreeMap;
use std::path::PathBuf;

use eframe::egui::{Pos2, Rect, Vec2};

use crate::live::RunSettings;

/// The bottom panel's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Simulation,
    Counterexample,
    WhatIf,
    Report,
}

/// The graph's camera: screen = origin + pan + world × zoom.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub pan: Vec2,
    pub zoom: f32,
    /// Fit the whole graph into the panel on the next frame.
    pub fit: bool,
}

impl Default for Camera {
    fn default() -> Self {
        Camera { pan: Vec2::ZERO, zoom: 1.0, fit: true }
    }
}

impl Camera {
    pub const ZOOM_MIN: f32 = 0.02;
    pub const ZOOM_MAX: f32 = 4.0;

    #[must_use]
    pub fn to_screen(&self, origin: Pos2, world: Pos2) -> Pos2 {
        origin + self.pan + world.to_vec2() * self.zoom
    }

    #[must_use]
    pub fn to_world(&self, origin: Pos2, screen: Pos2) -> Pos2 {
        ((screen - origin - self.pan) / self.zoom).to_pos2()
    }

    /// Shows all of `bounds` centred in `panel`.
    pub fn fit_to(&mut self, bounds: Rect, panel: Rect) {
        if bounds.width() <= 0.0 || bounds.height() <= 0.0 {
            return;
        }
        let zoom = (panel.width() / bounds.width())
            .min(panel.height() / bounds.height())
            .clamp(Self::ZOOM_MIN, Self::ZOOM_MAX);
        self.zoom = zoom;
        self.pan = panel.size() * 0.5 - bounds.center().to_vec2() * zoom;
        self.fit = false;
    }

    /// Zooms by `factor` keeping the world point under `anchor` (relative to origin) fixed.
    pub fn zoom_at(&mut self, anchor: Vec2, factor: f32) {
        let zoom = (self.zoom * factor).clamp(Self::ZOOM_MIN, Self::ZOOM_MAX);
        let world = (anchor - self.pan) / self.zoom;
        self.zoom = zoom;
        self.pan = anchor - world * zoom;
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
