//! Thumbnails: decode once in the file's own layout, resize with
//! fast_image_resize (SIMD), encode JPEG for opaque and PNG for transparent.

use std::io::Read;
use std::path::Path;

use fast_image_resize as fir;
use image::RgbaImage;

use crate::codec::{self, Decoded, Layout};
use crate::{ImagingError, THUMB_JPEG_QUALITY, ThumbFormat, Thumbnail};

/// Size of a thumbnail whose longest edge is `max_edge`, keeping the aspect
/// ratio; never enlarges and never returns a zero side.
pub(crate) fn fit(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let max_edge = max_edge.max(1);
    let long = width.max(height);
    if long <= max_edge {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let v = (side as u64 * max_edge as u64 + long as u64 / 2) / long as u64;
        (v as u32).clamp(1, max_edge)
    };
    (scale(width), scale(height))
}

fn pixel_type(layout: Layout) -> fir::PixelType {
    match layout {
        Layout::Gray => fir::PixelType::U8,
        Layout::Rgb => fir::PixelType::U8x3,
        Layout::Rgba => fir::PixelType::U8x4,
    }
}

/// Resizes 8-bit pixels. `alpha` says whether colour must be weighted by
/// alpha (transparent pixels must not bleed their hidden colour into edges);
/// opaque RGBA skips that work.
pub(crate) fn resize(
    pixels: &[u8],
    width: u32,
    height: u32,
    layout: Layout,
    dst_w: u32,
    dst_h: u32,
    alpha: bool,
) -> Result<Vec<u8>, ImagingError> {
    let pt = pixel_type(layout);
    let src = fir::images::ImageRef::new(width, height, pixels, pt)
        .map_err(|e| ImagingError::Decode(format!("bad pixel buffer: {e}")))?;
    let mut dst = fir::images::Image::new(dst_w, dst_h, pt);
    // Catmull-Rom: sharp like Lanczos3 at two thirds of the taps.
    let options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::CatmullRom))
        .use_alpha(alpha);
    fir::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| ImagingError::Encode(format!("resize failed: {e}")))?;
    Ok(dst.into_vec())
}

fn make(
    pixels: &[u8],
    width: u32,
    height: u32,
    layout: Layout,
    opaque: bool,
    max_edge: u32,
) -> Result<Thumbnail, ImagingError> {
    if width == 0 || height == 0 {
        return Err(ImagingError::Empty { width, height });
    }
    let (tw, th) = fit(width, height, max_edge);
    let resized;
    let small: &[u8] = if (tw, th) == (width, height) {
        pixels
    } else {
        resized = resize(pixels, width, height, layout, tw, th, !opaque)?;
        &resized
    };
    let (bytes, format) = if opaque {
        let b = codec::encode_jpeg(small, tw, th, layout, THUMB_JPEG_QUALITY)?;
        (b, ThumbFormat::Jpeg)
    } else {
        let b = codec::encode_png_raw(small, tw, th, layout)?;
        (b, ThumbFormat::Png)
    };
    Ok(Thumbnail {
        bytes,
        format,
        width: tw,
        height: th,
    })
}

/// Thumbnail of an RGBA image.
pub(crate) fn from_rgba(img: &RgbaImage, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    let opaque = codec::is_opaque(img.as_raw());
    make(
        img.as_raw(),
        img.width(),
        img.height(),
        Layout::Rgba,
        opaque,
        max_edge,
    )
}

/// Thumbnail of a decoded image.
pub(crate) fn from_decoded(d: &Decoded, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    let opaque = match d.layout {
        Layout::Rgba => codec::is_opaque(&d.pixels),
        Layout::Gray | Layout::Rgb => true,
    };
    make(&d.pixels, d.width, d.height, d.layout, opaque, max_edge)
}

thread_local! {
    /// Per-thread scratch buffers for the file and its decoded pixels. A batch
    /// decodes many same-sized images on each rayon thread: reusing the
    /// allocations saves the page faults and zeroing of ~10 MB per image.
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Scratch buffers larger than this are dropped after use rather than kept
/// for the thread's lifetime (one 8K image should not pin 130 MB forever).
const KEEP_SCRATCH: usize = 64 * 1024 * 1024;

/// Runs `f` with this thread's (file bytes, pixels) scratch buffers.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let (file, pixels) = &mut *bufs;
            let r = f(file, pixels);
            for b in [file, pixels] {
                if b.capacity() > KEEP_SCRATCH {
                    *b = Vec::new();
                }
            }
            r
        }
        // Re-entered on this thread (cannot happen today): use fresh buffers.
        Err(_) => f(&mut Vec::new(), &mut Vec::new()),
    })
}

fn from_bytes_with(
    bytes: &[u8],
    pixels: &mut Vec<u8>,
    max_edge: u32,
) -> Result<Thumbnail, ImagingError> {
    if codec::is_png(bytes) {
        let (w, h, layout) = codec::decode_png_into(bytes, pixels, true)?;
        let opaque = layout != Layout::Rgba || codec::is_opaque(pixels);
        make(pixels, w, h, layout, opaque, max_edge)
    } else {
        from_decoded(&codec::decode_other(bytes)?, max_edge)
    }
}

/// Thumbnail of encoded bytes.
pub(crate) fn from_bytes(bytes: &[u8], max_edge: u32) -> Result<Thumbnail, ImagingError> {
    with_scratch(|_, pixels| from_bytes_with(bytes, pixels, max_edge))
}

/// Thumbnail of a file, read into this thread's scratch buffer.
pub(crate) fn from_file(path: &Path, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    with_scratch(|file, pixels| {
        let io = |source| ImagingError::Io {
            path: path.to_path_buf(),
            source,
        };
        file.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(file))
            .map_err(io)?;
        from_bytes_with(file, pixels, max_edge)
    })
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit(1920, 1080, 640), (640, 360));
        assert_eq!(fit(768, 1024, 640), (480, 640));
        assert_eq!(fit(512, 512, 640), (512, 512));
        assert_eq!(fit(10_000, 1, 640), (640, 1));
        assert_eq!(fit(100, 50, 0), (1, 1));
    }
}
