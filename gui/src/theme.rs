//! Colours and strokes, in one place.

use eframe::egui::Color32;

use crate::diagram::{EdgeKind, NodeKind};

/// Bounded-context fills, cycled.
const CONTEXTS: [Color32; 8] = [
    Color32::from_rgb(66, 133, 244),
    Color32::from_rgb(52, 168, 83),
    Color32::from_rgb(171, 71, 188),
    Color32::from_rgb(255, 160, 0),
    Color32::from_rgb(0, 172, 193),
    Color32::from_rgb(233, 30, 99),
    Color32::from_rgb(124, 179, 66),
    Color32::from_rgb(121, 85, 72),
];

#[must_use]
pub fn context(index: usize) -> Color32 {
    CONTEXTS[index % CONTEXTS.len()]
}

/// The fill of a node.
#[must_use]
pub fn node(kind: NodeKind, context_index: Option<usize>) -> Color32 {
    match (kind, context_index) {
        (NodeKind::Service, Some(c)) => context(c).gamma_multiply(0.55),
        (NodeKind::Service, None) => Color32::from_gray(90),
        (NodeKind::Client, _) => Color32::from_rgb(70, 70, 80),
        (NodeKind::Gateway, _) => Color32::from_rgb(40, 90, 130),
        (NodeKind::Registry, _) => Color32::from_rgb(80, 80, 60),
        (NodeKind::Store, _) => Color32::from_rgb(110, 75, 40),
        (NodeKind::Cache, _) => Color32::from_rgb(120, 100, 30),
        (NodeKind::Broker, _) => Color32::from_rgb(100, 50, 90),
    }
}

#[must_use]
pub fn edge(kind: &EdgeKind) -> Color32 {
    match kind {
        EdgeKind::Request => Color32::from_rgb(150, 190, 230),
        EdgeKind::Sync { .. } => Color32::from_rgb(220, 220, 220),
        EdgeKind::Async { .. } => Color32::from_rgb(230, 190, 90),
        EdgeKind::Owns => Color32::from_rgb(200, 150, 100),
        EdgeKind::Reads => Color32::from_rgb(170, 140, 110),
        EdgeKind::Registry => Color32::from_gray(95),
    }
}

/// Tier band fills (very faint), top to bottom.
pub const BAND: Color32 = Color32::from_rgba_premultiplied(30, 34, 44, 120);
pub const SELECTED: Color32 = Color32::from_rgb(255, 255, 255);
pub const HIGHLIGHT: Color32 = Color32::from_rgb(255, 80, 80);
pub const PULSE: Color32 = Color32::from_rgb(120, 230, 255);
pub const PASS: Color32 = Color32::from_rgb(80, 200, 120);
pub const FAIL: Color32 = Color32::from_rgb(235, 80, 80);
pub const WARN: Color32 = Color32::from_rgb(240, 190, 60);

/// Plot series colours (Tableau 10, as in the report's PNG/SVG plots), cycled by index.
const SERIES: [Color32; 10] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(127, 127, 127),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(23, 190, 207),
];

/// The colour of a plot's `index`-th series.
#[must_use]
pub fn series(index: usize) -> Color32 {
    SERIES[index % SERIES.len()]
}
