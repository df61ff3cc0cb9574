//! The service graph: tier bands, nodes coloured by bounded context, sync calls solid and
//! async channels dashed with arrowheads and protocol labels, badges for findings, the live
//! run's requests moving along edges, authorization denials marked on the edges they were
//! refused on, and a counterexample's involved elements highlighted.
//! Pan (drag the background), zoom (wheel or pinch, around the pointer), drag nodes, fit.

use fusebench_model::text::plain;
use std::collections::{BTreeMap, BTreeSet};

use eframe::egui::{
    self, Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Shape, Stroke, StrokeKind,
    Vec2, WidgetInfo, vec2,
};

use crate::command::Command;
use crate::diagram::{Diagram, Element};
use crate::layout::NODE_SIZE;
use crate::live::LiveRun;
use crate::theme;
use crate::view::ViewState;

/// What the graph shows on top of the design.
#[derive(Debug, Default)]
pub struct Overlay<'a> {
    /// Per node: (errors, warnings).
    pub badges: BTreeMap<usize, (usize, usize)>,
    pub highlighted_nodes: BTreeSet<usize>,
    pub highlighted_edges: BTreeSet<usize>,
    pub run: Option<&'a LiveRun>,
}

/// Below this zoom, text is not drawn (it would be unreadable and costs most of a frame).
const TEXT_ZOOM_MIN: f32 = 0.3;
/// Between this zoom and [`TEXT_ZOOM_MIN`] only node names are drawn, at a legible minimum
/// size (a 60-service system fits a screen at about 25 %).
const NAME_ZOOM_MIN: f32 = 0.18;
const NAME_FONT_MIN: f32 = 8.5;
/// Below this zoom, arrowheads are smaller than a pixel or two: not drawn.
const ARROW_ZOOM_MIN: f32 = 0.12;

/// Where `dir` from the centre leaves a box of half-size `half`.
fn border_point(centre: Pos2, half: Vec2, dir: Vec2) -> Pos2 {
    let tx = if dir.x.abs() > 1e-6 { half.x / dir.x.abs() } else { f32::INFINITY };
    let ty = if dir.y.abs() > 1e-6 { half.y / dir.y.abs() } else { f32::INFINITY };
    centre + dir * tx.min(ty)
}

fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let t = ((p - a).dot(ab) / ab.length_sq().max(1e-6)).clamp(0.0, 1.0);
    (a + ab * t - p).length()
}

/// The world position of node `i` (dragged, or laid out).
fn world_pos(d: &Diagram, view: &ViewState, i: usize) -> Pos2 {
    view.moved.get(&i).copied().unwrap_or(d.layout.centres[i])
}

/// Each node's centre on screen for the current camera, `panel` being the rect the graph is
/// drawn in: what [`graph_ui`] draws, and what tests measure the panel's use with.
pub(crate) fn screen_centres(d: &Diagram, view: &ViewState, panel: Rect) -> Vec<Pos2> {
    (0..d.nodes.len()).map(|i| view.camera.to_screen(panel.min, world_pos(d, view, i))).collect()
}

/// Segment of edge `e` between the node borders, offset sideways when edges run both ways.
fn edge_segment(d: &Diagram, centres: &[Pos2], half: Vec2, e: usize) -> Option<(Pos2, Pos2)> {
    let edge = &d.edges[e];
    let (a, b) = (centres[edge.from], centres[edge.to]);
    let dir = (b - a).normalized();
    if !dir.is_finite() || edge.from == edge.to {
        return None;
    }
    let both_ways = d.edge_between(edge.to, edge.from).is_some();
    let offset = if both_ways { vec2(-dir.y, dir.x) * (half.y * 0.25) } else { Vec2::ZERO };
    Some((border_point(a, half, dir) + offset, border_point(b, half, -dir) + offset))
}

fn arrow(painter: &egui::Painter, from: Pos2, tip: Pos2, colour: Color32, size: f32) {
    let dir = (tip - from).normalized();
    let side = vec2(-dir.y, dir.x) * size * 0.45;
    let back = tip - dir * size;
    painter.add(Shape::convex_polygon(vec![tip, back + side, back - side], colour, Stroke::NONE));
}

/// The row above the graph: fit, labels, zoom.
pub fn graph_tools_ui(ui: &mut egui::Ui, view: &mut ViewState) {
    ui.horizontal(|ui| {
        if ui.button("Fit view").clicked() {
            view.camera.fit = true;
        }
        ui.checkbox(&mut view.labels, "Edge labels");
        ui.label(format!("zoom {:.0} %", view.camera.zoom * 100.0));
        ui.weak("drag to pan · wheel to zoom · drag a node to move it · click to inspect");
    });
}

/// Draws the graph in the remaining space and pushes selection commands.
#[allow(clippy::too_many_lines)]
pub fn graph_ui(
    ui: &mut egui::Ui,
    // (the toolbar above the graph is drawn by `graph_tools_ui`)
    d: &Diagram,
    selection: Option<&Element>,
    overlay: &Overlay<'_>,
    view: &mut ViewState,
    out: &mut Vec<Command>,
) {
    let panel = ui.available_rect_before_wrap();
    let background =
        ui.interact(panel, egui::Id::unique("graph-background"), Sense::click_and_drag());
    let inner = panel.shrink(8.0);
    // A fitted view follows the panel when it is resized; one the user moved stays put.
    if view.camera.fitted_to.is_some_and(|size| size != inner.size()) {
        view.camera.fit = true;
    }
    if view.camera.fit {
        let bounds = view
            .moved
            .values()
            .fold(d.layout.bounds, |b, p| b.union(Rect::from_center_size(*p, NODE_SIZE)));
        let centres = (0..d.nodes.len())
            .fold(Rect::NOTHING, |b, i| b.union(Rect::from_pos(world_pos(d, view, i))));
        view.camera.fit_to(bounds, centres, inner);
        view.camera.pan += inner.min - panel.min;
    }
    // Pan by dragging the background; zoom with the wheel (or pinch) around the pointer.
    if background.dragged() {
        view.camera.pan += background.drag_delta();
        view.camera.fitted_to = None;
    }
    if let Some(pointer) = ui.input(|i| i.pointer.hover_pos()).filter(|p| panel.contains(*p)) {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = pinch * (scroll / 400.0).exp();
        if (factor - 1.0).abs() > 1e-4 {
            view.camera.zoom_at(pointer - panel.min, factor);
        }
    }
    let cam = view.camera.clone();
    let origin = panel.min;
    let zoom = cam.zoom;
    let painter = ui.painter_at(panel);
    painter.rect_filled(panel, 0.0, ui.visuals().extreme_bg_color);
    let text = zoom >= TEXT_ZOOM_MIN;
    let names = zoom >= NAME_ZOOM_MIN;
    for (band, rect) in &d.layout.bands {
        // The band's nodes are spread by the camera's stretch, its padding is not.
        let margin = d.layout.margin;
        let content = rect.shrink2(margin);
        let r = Rect::from_min_max(
            cam.to_screen(origin, content.min),
            cam.to_screen(origin, content.max),
        )
        .expand2(margin * zoom);
        if !r.intersects(panel) {
            continue;
        }
        painter.rect_filled(r, 4.0, theme::BAND);
        if text {
            painter.text(
                r.left_top() + vec2(8.0, 6.0),
                Align2::LEFT_TOP,
                band.name(),
                FontId::proportional(13.0 * zoom.min(1.5)),
                Color32::from_gray(150),
            );
        }
    }
    let centres = screen_centres(d, view, panel);
    let half = NODE_SIZE * 0.5 * zoom;
    let selected_edge = match selection {
        Some(Element::Edge(e)) => Some(*e),
        _ => None,
    };
    let selected_node = match selection {
        Some(Element::Node(n)) => Some(*n),
        _ => None,
    };
    let traffic = overlay.run.map(|r| r.traffic.as_slice());
    let traffic_max = traffic.and_then(|t| t.iter().copied().max()).unwrap_or(0).max(1);
    let visible = panel.expand(half.length());
    for (i, edge) in d.edges.iter().enumerate() {
        let Some((a, b)) = edge_segment(d, &centres, half, i) else { continue };
        if !visible.contains(a)
            && !visible.contains(b)
            && !Rect::from_two_pos(a, b).intersects(panel)
        {
            continue;
        }
        let highlighted = overlay.highlighted_edges.contains(&i);
        let carried = traffic.and_then(|t| t.get(i)).copied().unwrap_or(0);
        let width = 1.0 + 2.5 * (carried as f32).ln_1p() / (traffic_max as f32).ln_1p().max(1.0);
        let (colour, width) = if highlighted {
            (theme::HIGHLIGHT, width + 2.5)
        } else if selected_edge == Some(i) {
            (theme::SELECTED, width + 1.5)
        } else {
            (theme::edge(&edge.kind), width)
        };
        // Every service talks to the registry: those edges stay faint unless asked about.
        let quiet = edge.kind == crate::diagram::EdgeKind::Registry
            && !highlighted
            && selected_edge != Some(i)
            && selected_node.is_none_or(|n| n != edge.from && n != edge.to);
        // In an overview they would only be a grey haze over everything else.
        if quiet && !text {
            continue;
        }
        let colour = if quiet { colour.gamma_multiply(0.25) } else { colour };
        let stroke = Stroke::new(width * zoom.clamp(0.5, 1.5), colour);
        // Dashes keep a legible size on screen; in an overview a dashed edge is drawn solid
        // (sub-pixel dashes would cost thousands of segments per edge and show nothing).
        if edge.kind.dashed() && text {
            let (dash, gap) = ((7.0 * zoom).max(4.0), (5.0 * zoom).max(3.0));
            painter.extend(Shape::dashed_line(&[a, b], stroke, dash, gap));
        } else {
            painter.line_segment([a, b], stroke);
        }
        if zoom >= ARROW_ZOOM_MIN {
            arrow(&painter, a, b, colour, (10.0 * zoom).clamp(3.0, 14.0));
        }
        if text && view.labels {
            let label = match carried {
                0 => plain(&edge.label).into_owned(),
                n if edge.label.is_empty() => format!("{n}"),
                n => format!("{} · {n}", plain(&edge.label)),
            };
            if !label.is_empty() {
                let mid = a + (b - a) * 0.5;
                painter.text(
                    mid,
                    Align2::CENTER_BOTTOM,
                    label,
                    FontId::proportional(10.5 * zoom.min(1.4)),
                    colour.gamma_multiply(0.9),
                );
            }
        }
        // Authorization denials are drawn whatever the labels setting: a refused call is a
        // finding about the design, not decoration.
        let denied = overlay.run.map_or(0, |r| r.mesh.denied(i));
        if text && denied > 0 {
            let mark = painter.text(
                a + (b - a) * 0.5,
                Align2::CENTER_TOP,
                format!("⊘ {denied} denied"),
                FontId::proportional(10.5 * zoom.min(1.4)),
                theme::FAIL,
            );
            // Painted text is invisible to screen readers (and tests): the mark is also a
            // hoverable widget naming its edge.
            let (from, to) = (plain(&d.nodes[edge.from].name), plain(&d.nodes[edge.to].name));
            let said = format!("⊘ {denied} denied: {from} → {to}");
            let area = mark.intersect(panel);
            if area.is_positive() {
                let id = egui::Id::unique(("graph-denied", i));
                ui.interact(area, id, Sense::hover())
                    .on_hover_text(format!(
                        "{denied} requests from {from} to {to} refused by the callee's \
                         authorization policy in the last run"
                    ))
                    .widget_info(|| WidgetInfo::labeled(egui::Role::Label, true, &said));
            }
        }
    }
    // Requests in flight: each recent hop as a dot moving along its edge.
    if let Some(run) = overlay.run {
        let window = run.settings.speed.map_or(0.05, |s| (s * 0.4).max(1e-4));
        let now = run.now().as_secs_f64();
        for hop in run.recent.iter().rev().take(300) {
            let age = now - hop.at.as_secs_f64();
            if age < 0.0 || age > window {
                continue;
            }
            let Some((a, b)) = edge_segment(d, &centres, half, hop.edge) else { continue };
            let p = a + (b - a) * (age / window) as f32;
            if panel.contains(p) {
                painter.circle_filled(p, (3.5 * zoom).clamp(1.5, 5.0), theme::PULSE);
            }
        }
    }
    let mut clicked_node = false;
    for (i, n) in d.nodes.iter().enumerate() {
        let rect = Rect::from_center_size(centres[i], NODE_SIZE * zoom);
        if !rect.intersects(panel) {
            continue;
        }
        let id = egui::Id::unique(("graph-node", i));
        let response = ui.interact(rect.intersect(panel), id, Sense::click_and_drag());
        let is_selected = selected_node == Some(i);
        response
            .widget_info(|| WidgetInfo::selected(egui::Role::Button, true, is_selected, &n.name));
        if response.clicked() {
            out.push(Command::Select(Some(Element::Node(i))));
            clicked_node = true;
        }
        if response.dragged() {
            let p = world_pos(d, view, i) + response.drag_delta() / zoom / cam.stretch;
            view.moved.insert(i, p);
        }
        let highlighted = overlay.highlighted_nodes.contains(&i);
        let stroke = if highlighted {
            Stroke::new(3.0, theme::HIGHLIGHT)
        } else if is_selected {
            Stroke::new(2.5, theme::SELECTED)
        } else if response.hovered() {
            Stroke::new(1.5, Color32::from_gray(220))
        } else {
            Stroke::new(1.0, Color32::from_gray(140))
        };
        let radius = CornerRadius::same((8.0 * zoom).clamp(1.0, 12.0) as u8);
        painter.rect(rect, radius, theme::node(n.kind, n.context), stroke, StrokeKind::Inside);
        if names && !text {
            // Zoomed out: the name alone, at a size that stays legible, centred in the box.
            painter.text(
                rect.center(),
                Align2::CENTER_CENTER,
                plain(&n.name),
                FontId::proportional((13.5 * zoom).max(NAME_FONT_MIN)),
                Color32::WHITE,
            );
        }
        if text {
            painter.text(
                rect.center() - vec2(0.0, 2.0 * zoom),
                Align2::CENTER_BOTTOM,
                plain(&n.name),
                FontId::proportional(13.5 * zoom),
                Color32::WHITE,
            );
            let detail = if n.detail.is_empty() { n.kind.name() } else { &n.detail };
            painter.text(
                rect.center() + vec2(0.0, 2.0 * zoom),
                Align2::CENTER_TOP,
                plain(detail),
                FontId::proportional(10.5 * zoom),
                Color32::from_gray(215),
            );
        }
        if let Some(&(errors, warnings)) = overlay.badges.get(&i) {
            let (count, colour) =
                if errors > 0 { (errors, theme::FAIL) } else { (warnings, theme::WARN) };
            let c = rect.right_top() + vec2(-2.0, 2.0);
            let r = (9.0 * zoom).clamp(4.0, 11.0);
            painter.circle_filled(c, r, colour);
            if text {
                painter.text(
                    c,
                    Align2::CENTER_CENTER,
                    count.to_string(),
                    FontId::proportional(r * 1.3),
                    Color32::BLACK,
                );
            }
        }
    }
    // A click on the background selects the nearest edge under the pointer, or nothing.
    if background.clicked() && !clicked_node {
        let pick = background.interact_pointer_pos().and_then(|p| {
            (0..d.edges.len())
                .filter_map(|i| {
                    let (a, b) = edge_segment(d, &centres, half, i)?;
                    Some((distance_to_segment(p, a, b), i))
                })
                .filter(|(dist, _)| *dist < 6.0)
                .min_by(|x, y| x.0.total_cmp(&y.0))
                .map(|(_, i)| Element::Edge(i))
        });
        out.push(Command::Select(pick));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fmt::Write as _;

    use egui_kittest::Harness;

    use super::*;

    fn diagram(text: &str) -> Diagram {
        let parsed = fusebench_model::parse("graph.toml", text);
        let errors: Vec<String> =
            parsed.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        Diagram::new(&parsed.scenario.expect("scenario"))
    }

    /// The gateway calls each of `n` abstract services directly: one rank of `n` services,
    /// which the diagram wraps into a block of sub-columns.
    fn fan_out(n: usize) -> String {
        let mut t = String::from(
            "[system]\nname = \"fan-out\"\n\n[[context]]\nname = \"c\"\n\n[[node]]\nname = \
             \"cloud\"\ntier = \"cloud\"\n\n[gateway]\nnode = \"cloud\"\n\n",
        );
        for i in 0..n {
            let _ = write!(
                t,
                "[[service]]\nname = \"svc-{i}\"\ncontext = \"c\"\nnode = \"cloud\"\n  \
                 [service.service_time]\n  distribution = \
                 {{ dist = \"exponential\", mean_ms = 1.0 }}\n  [[service.endpoint]]\n  name = \
                 \"serve\"\n  method = \"GET\"\n  path = \"/s{i}\"\n  public = true\n\n"
            );
        }
        t
    }

    type GraphHarness<'a> = Harness<'a, (ViewState, Rect)>;

    /// A harness drawing `d` in a `size` window (its state: the view and the graph's panel).
    fn harness(d: &Diagram, size: [f32; 2]) -> GraphHarness<'_> {
        let state = (ViewState::default(), Rect::NOTHING);
        let mut h = Harness::builder().with_size(size).build_ui_state(
            |ui, (view, panel): &mut (ViewState, Rect)| {
                *panel = ui.available_rect_before_wrap();
                let mut out = Vec::new();
                graph_ui(ui, d, None, &Overlay::default(), view, &mut out);
            },
            state,
        );
        h.run_steps(2);
        h
    }

    /// The fraction of the panel's width and height that the nodes' boxes span.
    fn coverage(d: &Diagram, h: &GraphHarness<'_>) -> (f32, f32, Rect, Rect) {
        let (view, panel) = h.state();
        let used = screen_centres(d, view, *panel)
            .into_iter()
            .map(|c| Rect::from_center_size(c, NODE_SIZE * view.camera.zoom))
            .fold(Rect::NOTHING, Rect::union);
        (used.width() / panel.width(), used.height() / panel.height(), used, *panel)
    }

    /// Issue 12: a 12-service design used the top half of its panel only. Whatever the panel's
    /// aspect, the nodes now span most of its width and of its height, and none is outside it.
    #[test]
    fn the_graph_fills_its_panel_whatever_its_aspect() {
        let designs = [
            ("synthetic", diagram(&crate::synthetic::scenario(12))),
            ("fan-out", diagram(&fan_out(12))),
        ];
        let mut short = Vec::new();
        for (name, d) in &designs {
            assert!(d.nodes.len() >= 12, "{name}: {} nodes", d.nodes.len());
            for size in [[1600.0, 600.0], [600.0, 1200.0], [900.0, 900.0]] {
                let (fx, fy, used, panel) = coverage(d, &harness(d, size));
                if fx < 0.7 || fy < 0.7 {
                    short.push(format!(
                        "{name} in {size:?}: nodes span {:.0} % of the width and {:.0} % of the \
                         height",
                        fx * 100.0,
                        fy * 100.0
                    ));
                }
                assert!(panel.expand(1.0).contains_rect(used), "{name} in {size:?}: {used:?}");
            }
        }
        assert!(short.is_empty(), "{short:#?}");
    }

    /// A fitted view follows its panel when the window is resized (from wide to tall here);
    /// once the user has panned, it stays where they put it.
    #[test]
    fn a_fitted_graph_refits_when_its_panel_is_resized_a_moved_one_does_not() {
        let d = diagram(&crate::synthetic::scenario(12));
        let mut h = harness(&d, [1600.0, 600.0]);
        h.set_size(vec2(600.0, 1200.0));
        h.run_steps(2);
        let (fx, fy, used, panel) = coverage(&d, &h);
        assert!(fx >= 0.7 && fy >= 0.7, "after resizing: {used:?} in {panel:?}");
        assert!(panel.expand(1.0).contains_rect(used), "{used:?} in {panel:?}");

        // Drag the background (the corner of the panel, outside the fitted drawing) 60 right.
        let fitted = h.state().0.camera.clone();
        let from = panel.min + vec2(3.0, 3.0);
        h.hover_at(from);
        h.drag_at(from);
        h.step();
        for dx in [20.0, 40.0, 60.0] {
            h.hover_at(from + vec2(dx, 0.0));
            h.step();
        }
        h.drop_at(from + vec2(60.0, 0.0));
        h.run_steps(2);
        let moved = h.state().0.camera.clone();
        assert_eq!(moved.fitted_to, None, "panning ends following the panel");
        assert!((moved.pan.x - fitted.pan.x - 60.0).abs() < 1.0, "{fitted:?} → {moved:?}");
        h.set_size(vec2(900.0, 900.0));
        h.run_steps(2);
        assert_eq!(h.state().0.camera, moved, "a view the user moved stays put");
    }
}
