//! Decoding and encoding. PNG goes through the `png` crate directly (fdeflate
//! inside, no format conversions we do not need); other formats through `image`.

use std::io::Cursor;

use image::RgbaImage;

use crate::ImagingError;

/// Largest decoded image we accept: guards against decompression bombs
/// (a tiny file claiming gigapixel dimensions), same bound as `image`'s default.
pub(crate) const MAX_DECODED_BYTES: usize = 512 * 1024 * 1024;

/// What all decodes running at once in this process may hold in decoded pixels. A gallery of
/// 22 images or a batch of thumbnails on every core stays far below it; a flood of large files
/// dropped into the workspace waits its turn instead of exhausting memory.
pub const DECODE_BUDGET_BYTES: usize = MAX_DECODED_BYTES;

/// The global decode budget: a weighted semaphore over decoded bytes. Hand-written because
/// decodes run on rayon and blocking threads (no async runtime to lend tokio's semaphore), and
/// the standard library has no counting semaphore.
struct Budget {
    used: std::sync::Mutex<(usize, usize)>,
    freed: std::sync::Condvar,
}

static BUDGET: Budget = Budget {
    // (bytes in use, decodes waiting)
    used: std::sync::Mutex::new((0, 0)),
    freed: std::sync::Condvar::new(),
};

/// A share of the decode budget, returned on drop.
#[derive(Debug)]
pub struct DecodePermit(usize);

impl Drop for DecodePermit {
    fn drop(&mut self) {
        let mut g = BUDGET.used.lock().unwrap_or_else(|p| p.into_inner());
        g.0 -= self.0;
        drop(g);
        BUDGET.freed.notify_all();
    }
}

/// Takes `bytes` of the decode budget, waiting while other decodes hold too much of it. A single
/// image larger than the whole budget is refused at once.
pub fn reserve_decode_memory(bytes: usize) -> Result<DecodePermit, ImagingError> {
    if bytes > DECODE_BUDGET_BYTES {
        return Err(ImagingError::Decode(format!(
            "the image would take {} MiB decoded, more than the {} MiB Review Desk allows",
            bytes / (1024 * 1024),
            DECODE_BUDGET_BYTES / (1024 * 1024)
        )));
    }
    let mut g = BUDGET.used.lock().unwrap_or_else(|p| p.into_inner());
    g.1 += 1;
    while g.0 + bytes > DECODE_BUDGET_BYTES {
        g = BUDGET.freed.wait(g).unwrap_or_else(|p| p.into_inner());
    }
    g.1 -= 1;
    g.0 += bytes;
    Ok(DecodePermit(bytes))
}

/// Bytes of the decode budget in use and decodes waiting for it (for tests and diagnostics).
pub fn decode_budget_state() -> (usize, usize) {
    *BUDGET.used.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pixel layout of a decoded image; kept as decoded so opaque images never pay
/// for an alpha channel they do not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Gray,
    Rgb,
    Rgba,
}

impl Layout {
    pub(crate) fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }
}

/// A decoded 8-bit image in its natural layout.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub pixels: Vec<u8>,
}

impl Decoded {
    /// Converts to RGBA (only done when the caller asked for RGBA).
    pub(crate) fn into_rgba(self) -> Result<RgbaImage, ImagingError> {
        let n = self.width as usize * self.height as usize;
        let rgba = match self.layout {
            Layout::Rgba => self.pixels,
            Layout::Rgb => {
                let mut out = Vec::with_capacity(n * 4);
                for p in self.pixels.chunks_exact(3) {
                    out.extend_from_slice(&[p[0], p[1], p[2], 255]);
                }
                out
            }
            Layout::Gray => {
                let mut out = Vec::with_capacity(n * 4);
                for &g in &self.pixels {
                    out.extend_from_slice(&[g, g, g, 255]);
                }
                out
            }
        };
        RgbaImage::from_raw(self.width, self.height, rgba)
            .ok_or_else(|| ImagingError::Decode("pixel buffer has the wrong size".into()))
    }
}

/// True if every alpha byte of an RGBA buffer is 255.
pub(crate) fn is_opaque(rgba: &[u8]) -> bool {
    // Branch-free AND over blocks vectorises; checking per block still lets us
    // stop early on the first transparent region.
    rgba.chunks(4 * 256)
        .all(|block| block.iter().skip(3).step_by(4).fold(255u8, |m, &a| m & a) == 255)
}

pub(crate) fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

/// Decodes PNG or JPEG (or anything else `image` was built for) bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, ImagingError> {
    if is_png(bytes) {
        decode_png(bytes)
    } else {
        decode_other(bytes)
    }
}

fn png_err(e: png::DecodingError) -> ImagingError {
    ImagingError::Decode(format!("PNG: {e}"))
}

fn decode_png(bytes: &[u8]) -> Result<Decoded, ImagingError> {
    let mut pixels = Vec::new();
    let (width, height, layout) = decode_png_into(bytes, &mut pixels, false)?;
    Ok(Decoded {
        width,
        height,
        layout,
        pixels,
    })
}

/// Decodes PNG bytes into `buf` (reusing its allocation), returning the size
/// and layout of the pixels now in `buf`.
///
/// With `fast` the CRC and Adler-32 checks are skipped: thumbnails only need
/// pixels, and a damaged file still fails on its broken deflate stream or
/// missing data. `decode` keeps the checks on.
pub(crate) fn decode_png_into(
    bytes: &[u8],
    buf: &mut Vec<u8>,
    fast: bool,
) -> Result<(u32, u32, Layout), ImagingError> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: MAX_DECODED_BYTES,
        },
    );
    // Palette and low bit depths expand to 8-bit gray/RGB(A), tRNS becomes
    // alpha, 16-bit is cut to 8: everything downstream is 8-bit.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    decoder.ignore_checksums(fast);
    let mut reader = decoder.read_info().map_err(png_err)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImagingError::Decode("PNG dimensions are too large".into()))?;
    if size > MAX_DECODED_BYTES {
        return Err(ImagingError::Decode("PNG dimensions are too large".into()));
    }
    // Gray+alpha expands to RGBA below: budget for the larger of the two buffers.
    let _permit = reserve_decode_memory((size * 2).min(DECODE_BUDGET_BYTES))?;
    // Reused buffers are already the right size for same-sized files, so no
    // zeroing and no fresh pages to fault in.
    buf.resize(size, 0);
    let info = reader.next_frame(buf).map_err(png_err)?;
    buf.truncate(info.buffer_size());
    let (width, height) = (info.width, info.height);
    let layout = match info.color_type {
        png::ColorType::Grayscale => Layout::Gray,
        png::ColorType::Rgb => Layout::Rgb,
        png::ColorType::Rgba => Layout::Rgba,
        png::ColorType::GrayscaleAlpha => {
            let mut out = Vec::with_capacity(buf.len() * 2);
            for p in buf.chunks_exact(2) {
                out.extend_from_slice(&[p[0], p[0], p[0], p[1]]);
            }
            *buf = out;
            Layout::Rgba
        }
        // EXPAND turns palettes into RGB(A); anything else is a broken file.
        png::ColorType::Indexed => {
            return Err(ImagingError::Decode("PNG palette was not expanded".into()));
        }
    };
    check_size(width, height, layout, buf)?;
    Ok((width, height, layout))
}

pub(crate) fn decode_other(bytes: &[u8]) -> Result<Decoded, ImagingError> {
    let reader = || {
        image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImagingError::Decode(e.to_string()))
    };
    // The header gives the size to budget for before any pixel is allocated.
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| ImagingError::Decode(e.to_string()))?;
    let _permit = reserve_decode_memory((w as usize * h as usize * 4).min(MAX_DECODED_BYTES))?;
    let mut reader = reader()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES as u64);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ImagingError::Decode(e.to_string()))?;
    let (width, height) = (img.width(), img.height());
    // JPEG decodes to RGB or gray; keep that layout so no alpha is invented.
    let (layout, pixels) = match img {
        image::DynamicImage::ImageLuma8(g) => (Layout::Gray, g.into_raw()),
        image::DynamicImage::ImageRgb8(rgb) => (Layout::Rgb, rgb.into_raw()),
        other if !other.color().has_alpha() => (Layout::Rgb, other.to_rgb8().into_raw()),
        other => (Layout::Rgba, other.to_rgba8().into_raw()),
    };
    check_size(width, height, layout, &pixels)?;
    Ok(Decoded {
        width,
        height,
        layout,
        pixels,
    })
}

fn check_size(w: u32, h: u32, layout: Layout, pixels: &[u8]) -> Result<(), ImagingError> {
    if w == 0 || h == 0 {
        return Err(ImagingError::Empty {
            width: w,
            height: h,
        });
    }
    if pixels.len() != w as usize * h as usize * layout.channels() {
        return Err(ImagingError::Decode(
            "decoded pixel data has the wrong size".into(),
        ));
    }
    Ok(())
}

/// Encodes 8-bit pixels as PNG with fdeflate's fast mode.
pub(crate) fn encode_png_raw(
    pixels: &[u8],
    width: u32,
    height: u32,
    layout: Layout,
) -> Result<Vec<u8>, ImagingError> {
    let enc_err = |e: png::EncodingError| ImagingError::Encode(format!("PNG: {e}"));
    if width == 0 || height == 0 {
        return Err(ImagingError::Empty { width, height });
    }
    let mut out = Vec::with_capacity(pixels.len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(match layout {
        Layout::Gray => png::ColorType::Grayscale,
        Layout::Rgb => png::ColorType::Rgb,
        Layout::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    // fdeflate-based: several times faster than zlib level 6 for a size
    // penalty of a few percent on these images.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(enc_err)?;
    writer.write_image_data(pixels).map_err(enc_err)?;
    writer.finish().map_err(enc_err)?;
    Ok(out)
}

/// Encodes an RGBA buffer as PNG, dropping the alpha channel if it is all 255.
pub(crate) fn encode_png_rgba(
    rgba: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ImagingError> {
    if is_opaque(rgba) {
        // A quarter less data to filter and deflate, and readers get RGB.
        let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
        for p in rgba.chunks_exact(4) {
            rgb.extend_from_slice(&p[..3]);
        }
        encode_png_raw(&rgb, width, height, Layout::Rgb)
    } else {
        encode_png_raw(rgba, width, height, Layout::Rgba)
    }
}

/// Encodes 8-bit pixels as baseline JPEG. RGBA input is treated as opaque.
pub(crate) fn encode_jpeg(
    pixels: &[u8],
    width: u32,
    height: u32,
    layout: Layout,
    quality: u8,
) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(ImagingError::Encode(format!(
                "JPEG cannot hold {width}x{height} pixels (1..=65535 per side)"
            )));
        }
    };
    let mut out = Vec::with_capacity(pixels.len() / 8 + 1024);
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    let color = match layout {
        Layout::Gray => jpeg_encoder::ColorType::Luma,
        Layout::Rgb => jpeg_encoder::ColorType::Rgb,
        Layout::Rgba => jpeg_encoder::ColorType::Rgba,
    };
    encoder
        .encode(pixels, w, h, color)
        .map_err(|e| ImagingError::Encode(format!("JPEG: {e}")))?;
    Ok(out)
}
