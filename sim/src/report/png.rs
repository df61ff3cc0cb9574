//! PNG files of plots and screenshots: plotters draws into an RGB buffer (its bitmap backend,
//! text set by [`Typeset`]) and the `png` crate encodes it — rather than plotters' own encoder,
//! which brings the whole `image` crate (JPEG, GIF, …) into every build for one format.

use std::io;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};

use super::typeset::Typeset;
use crate::atomic;

/// How the pixels of a buffer are laid out: 8 bits per channel, rows top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    Rgb,
    Rgba,
}

impl Pixels {
    fn bytes(self) -> usize {
        match self {
            Pixels::Rgb => 3,
            Pixels::Rgba => 4,
        }
    }
}

/// The PNG encoding of a `width` × `height` image.
///
/// # Errors
/// The buffer is not `width × height` pixels of that layout, or the encoder refuses it.
pub fn encode(width: u32, height: u32, layout: Pixels, pixels: &[u8]) -> Result<Vec<u8>, String> {
    let expected = width as usize * height as usize * layout.bytes();
    if pixels.len() != expected {
        return Err(format!(
            "{} bytes for a {width}×{height} image of {} bytes per pixel (expected {expected})",
            pixels.len(),
            layout.bytes()
        ));
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(match layout {
        Pixels::Rgb => png::ColorType::Rgb,
        Pixels::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    // zlib's fastest level (filters still chosen per row): the default level spent about
    // three times as long for files a third smaller — on a short run the plots were most of
    // `run --out`'s time (benches/README.md, "Seventh round"; the choice measured in "PNG plots").
    encoder.set_deflate_compression(png::DeflateCompression::Level(1));
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Why a drawing did not become a PNG file.
#[derive(Debug)]
pub enum DrawError {
    /// The drawing (or its encoding) failed.
    Draw(String),
    /// The file could not be written.
    Write(io::Error),
}

/// Draws a `size` picture with `draw` and writes it to `path` as PNG, atomically (a temporary
/// file renamed into place).
///
/// # Errors
/// [`DrawError::Draw`] when `draw` fails, [`DrawError::Write`] when the file cannot be written.
pub fn draw_to_file(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<Typeset<'_>, Shift>) -> Result<(), String>,
) -> Result<(), DrawError> {
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * Pixels::Rgb.bytes()];
    {
        let root = Typeset::new(BitMapBackend::with_buffer(&mut pixels, size)).into_drawing_area();
        draw(&root).map_err(DrawError::Draw)?;
        root.present().map_err(|e| DrawError::Draw(e.to_string()))?;
    }
    let bytes = encode(size.0, size.1, Pixels::Rgb, &pixels).map_err(DrawError::Draw)?;
    atomic::write(path, &bytes).map_err(DrawError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// What is encoded decodes to the same pixels (read back with the same crate's decoder).
    #[test]
    fn an_image_round_trips() {
        let (w, h) = (3, 2);
        let pixels: Vec<u8> = (0..w * h * 4).map(|i| (i * 13 % 256) as u8).collect();
        let bytes = encode(w, h, Pixels::Rgba, &pixels).expect("encodes");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let mut reader =
            png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG header");
        let mut back = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut back).expect("a frame");
        assert_eq!((info.width, info.height, info.color_type), (w, h, png::ColorType::Rgba));
        assert_eq!(back, pixels);
    }

    #[test]
    fn a_buffer_of_the_wrong_size_is_refused() {
        let e = encode(2, 2, Pixels::Rgb, &[0; 11]).expect_err("11 bytes are not 2×2 RGB");
        assert!(e.contains("expected 12"), "{e}");
    }

    /// A drawing lands in the file; a failing drawing writes nothing and says why.
    #[test]
    fn a_drawing_is_written_or_nothing_is() {
        let dir = std::env::temp_dir().join(format!("fusebench-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("red.png");
        draw_to_file(&path, (4, 4), |root| root.fill(&RED).map_err(|e| e.to_string()))
            .expect("drawn");
        let mut reader = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&path).expect("written"),
        ))
        .read_info()
        .expect("a PNG");
        let mut back = vec![0; reader.output_buffer_size().expect("size")];
        reader.next_frame(&mut back).expect("a frame");
        assert_eq!(&back[..3], &[255, 0, 0]);
        let bad = dir.join("bad.png");
        let e = draw_to_file(&bad, (4, 4), |_| Err("no".to_owned()));
        assert!(matches!(e, Err(DrawError::Draw(ref r)) if r == "no"), "{e:?}");
        assert!(!bad.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
