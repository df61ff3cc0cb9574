//! Text on PNG plots, set with ab_glyph directly.
//!
//! plotters 0.3.7 draws `ab_glyph` text on bitmaps without each glyph's left side bearing and
//! with its baseline rounded per glyph, so `catalog.get_product` comes out as
//! `catal og·get_product`. `Typeset` wraps the bitmap backend, passes every shape through
//! unchanged, and sets text itself: advances, kerning and bearings from the font, one baseline
//! per string, sizes as in the SVG (so the PNG looks like the SVG). The font is
//! the embedded DejaVu Sans, as for plotters' own layout.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

/// DejaVu Sans regular and bold, parsed once.
fn fonts() -> Option<&'static (FontRef<'static>, FontRef<'static>)> {
    static FONTS: OnceLock<Option<(FontRef<'static>, FontRef<'static>)>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let regular = FontRef::try_from_slice(dejavu::sans::regular()).ok()?;
            let bold = FontRef::try_from_slice(dejavu::sans::bold()).ok()?;
            Some((regular, bold))
        })
        .as_ref()
}

/// A string laid out on one baseline.
struct Layout {
    font: &'static FontRef<'static>,
    scale: PxScale,
    /// Glyphs and their pen x positions.
    glyphs: Vec<(GlyphId, f32)>,
    width: f32,
    ascent: f32,
    height: f32,
}

fn layout(text: &str, size: f64, style: FontStyle) -> Option<Layout> {
    let (regular, bold) = fonts()?;
    let font = if matches!(style, FontStyle::Bold) { bold } else { regular };
    let upem = font.units_per_em().unwrap_or(2048.0);
    // plotters' text size is 1.24 em (its SVG backend writes `font-size` = size / 1.24);
    // PxScale is the height ascent − descent.
    let em = size as f32 / 1.24;
    let scale = PxScale::from(em * font.height_unscaled() / upem);
    let scaled = font.as_scaled(scale);
    let mut glyphs = Vec::with_capacity(text.len());
    let mut x = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push((id, x));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    Some(Layout {
        font,
        scale,
        glyphs,
        width: x,
        ascent: scaled.ascent(),
        height: scaled.ascent() - scaled.descent(),
    })
}

/// The bitmap backend with text set by [`layout`].
pub struct Typeset<'a> {
    inner: BitMapBackend<'a>,
}

impl std::fmt::Debug for Typeset<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typeset").field("size", &self.inner.get_size()).finish()
    }
}

impl<'a> Typeset<'a> {
    #[must_use]
    pub fn new(inner: BitMapBackend<'a>) -> Self {
        Typeset { inner }
    }
}

type Error<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for Typeset<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Error<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Error<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Error<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), Error<'a>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), Error<'a>> {
        match layout(text, style.size(), style.style()) {
            Some(l) => Ok((l.width.ceil() as u32, l.height.ceil() as u32)),
            None => self.inner.estimate_text_size(text, style),
        }
    }

    /// Anchoring and rotation as plotters' default `draw_text`; glyphs placed by the font.
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), Error<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(l) = layout(text, style.size(), style.style()) else {
            return self.inner.draw_text(text, style, pos);
        };
        let (width, height) = (l.width.ceil() as i32, l.height.ceil() as i32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for &(id, x) in &l.glyphs {
            let glyph = id.with_scale_and_position(l.scale, point(x, l.ascent));
            let Some(outline) = l.font.outline_glyph(glyph) else { continue };
            let b = outline.px_bounds();
            let (x0, y0) = (b.min.x as i32, b.min.y as i32);
            outline.draw(|gx, gy, coverage| {
                if coverage > 0.0 {
                    pixels.push((x0 + gx as i32, y0 + gy as i32, coverage.min(1.0)));
                }
            });
        }
        for (x, y, coverage) in pixels {
            let (x, y) = transform.transform(x + dx, y + dy);
            let c = BackendColor { alpha: color.alpha * f64::from(coverage), rgb: color.rgb };
            self.inner.draw_pixel((pos.0 + x, pos.1 + y), c)?;
        }
        Ok(())
    }
}
