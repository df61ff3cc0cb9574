//! The diagram drawn with plotters as SVG and PNG, for reports (the same nodes, edges and
//! bands the graph panel shows, with the last run's traffic on the edges).

use fusebench_model::text::plain;
use std::path::Path;

use fusebench_sim::report::plots::{FONT, register_fonts};
use fusebench_sim::report::png;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::diagram::Diagram;
use crate::theme;

fn rgb(c: eframe::egui::Color32) -> RGBColor {
    RGBColor(c.r(), c.g(), c.b())
}

/// Pixels of the image per layout unit, and the image's size.
fn geometry(d: &Diagram) -> (f32, (u32, u32)) {
    let b = d.layout.bounds;
    let longest = b.width().max(b.height()).max(1.0);
    // At most 4000 px on the long side; text stays legible up to a few hundred nodes.
    let scale = (4000.0 / longest).min(1.0);
    let w = (b.width() * scale).ceil().max(200.0) as u32;
    let h = (b.height() * scale).ceil().max(120.0) as u32;
    (scale, (w, h))
}

/// The pieces of a line: the whole of it, or 6-on-4-off dashes.
fn dashes(a: (i32, i32), b: (i32, i32), dashed: bool) -> Vec<((i32, i32), (i32, i32))> {
    if !dashed {
        return vec![(a, b)];
    }
    let (dx, dy) = (f64::from(b.0 - a.0), f64::from(b.1 - a.1));
    let len = dx.hypot(dy);
    let at = |d: f64| {
        let f = (d / len.max(1e-9)).min(1.0);
        ((f64::from(a.0) + dx * f) as i32, (f64::from(a.1) + dy * f) as i32)
    };
    let mut out = Vec::new();
    let mut d = 0.0;
    while d < len {
        out.push((at(d), at(d + 6.0)));
        d += 10.0;
    }
    out
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &Diagram,
    traffic: Option<&[u64]>,
    scale: f32,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&RGBColor(24, 26, 32)).map_err(err)?;
    let origin = d.layout.bounds.min;
    let at = |p: eframe::egui::Pos2| {
        (((p.x - origin.x) * scale) as i32, ((p.y - origin.y) * scale) as i32)
    };
    let font = |size: f32| (FONT, (size * scale).max(6.0) as i32).into_font();
    for (band, rect) in &d.layout.bands {
        let (a, b) = (at(rect.min), at(rect.max));
        root.draw(&Rectangle::new([a, b], RGBColor(34, 38, 48).filled())).map_err(err)?;
        let style = font(13.0).color(&RGBColor(150, 150, 170));
        root.draw(&Text::new(band.name(), (a.0 + 6, a.1 + 4), style)).map_err(err)?;
    }
    let half = crate::layout::NODE_SIZE * 0.5;
    for (i, e) in d.edges.iter().enumerate() {
        let (a, b) = (d.layout.centres[e.from], d.layout.centres[e.to]);
        let colour = rgb(theme::edge(&e.kind));
        let style = ShapeStyle { color: colour.to_rgba(), filled: false, stroke_width: 1 };
        let (pa, pb) = (at(a), at(b));
        for (x, y) in dashes(pa, pb, e.kind.dashed()) {
            root.draw(&PathElement::new(vec![x, y], style)).map_err(err)?;
        }
        // Arrowhead at the border of the target box.
        let dir = (b - a).normalized();
        let t = (half.x / dir.x.abs().max(1e-3)).min(half.y / dir.y.abs().max(1e-3));
        let tip = b - dir * t;
        let side = eframe::egui::vec2(-dir.y, dir.x) * 4.0;
        let back = tip - dir * 9.0;
        let head = vec![at(tip), at(back + side), at(back - side)];
        root.draw(&Polygon::new(head, colour.filled())).map_err(err)?;
        let label = match traffic.and_then(|t| t.get(i)) {
            Some(n) if *n > 0 => format!("{} ({n})", plain(&e.label)),
            _ => plain(&e.label).into_owned(),
        };
        if !label.trim().is_empty() {
            let mid = at(a + (b - a) * 0.5);
            let style = font(10.0).color(&RGBColor(200, 200, 200));
            let style = style.pos(Pos::new(HPos::Center, VPos::Bottom));
            root.draw(&Text::new(label, mid, style)).map_err(err)?;
        }
    }
    for (i, n) in d.nodes.iter().enumerate() {
        let c = d.layout.centres[i];
        let (a, b) = (at(c - half), at(c + half));
        let fill = rgb(theme::node(n.kind, n.context));
        root.draw(&Rectangle::new([a, b], fill.filled())).map_err(err)?;
        root.draw(&Rectangle::new([a, b], RGBColor(220, 220, 220).stroke_width(1))).map_err(err)?;
        let centre = at(c);
        let name = font(13.0).color(&WHITE).pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(plain(&n.name).into_owned(), centre, name)).map_err(err)?;
        let detail = if n.detail.is_empty() {
            n.kind.name().to_owned()
        } else {
            plain(&n.detail).into_owned()
        };
        let style =
            font(10.0).color(&RGBColor(210, 210, 210)).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(detail, (centre.0, centre.1 + 2), style)).map_err(err)?;
    }
    root.present().map_err(err)
}

/// Writes `<name>-graph.svg` and `<name>-graph.png` into `dir`; returns the paths written.
///
/// # Errors
/// The directory or a file cannot be written, or drawing failed.
pub fn graph(
    dir: &Path,
    name: &str,
    d: &Diagram,
    traffic: Option<&[u64]>,
) -> Result<Vec<String>, String> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (scale, size) = geometry(d);
    // The system's name is untrusted: it names the files, it cannot choose their directory.
    let name = fusebench_model::text::file_name(name);
    let svg_path = dir.join(format!("{name}-graph.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root, d, traffic, scale)?;
    }
    fusebench_sim::atomic::write(&svg_path, svg.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    let png_path = dir.join(format!("{name}-graph.png"));
    png::draw_to_file(&png_path, size, |root| draw(root, d, traffic, scale)).map_err(
        |e| match e {
            png::DrawError::Draw(reason) => reason,
            png::DrawError::Write(e) => format!("cannot write {}: {e}", png_path.display()),
        },
    )?;
    Ok(vec![svg_path.display().to_string(), png_path.display().to_string()])
}
