//! 1920x1080 composites: environment scaled to cover and centre-cropped,
//! characters scaled and alpha-blended over it.

use fast_image_resize as fir;
use image::{Rgba, RgbaImage};

use crate::{COMPOSITE_HEIGHT, COMPOSITE_WIDTH};

/// Characters stand this far above the bottom edge, as a fraction of height.
const FOOT_MARGIN: f64 = 0.03;
/// Characters are at most this tall, as a fraction of the canvas height.
const CHARACTER_HEIGHT: f64 = 0.90;

/// Resizes RGBA with alpha-weighted convolution; `crop` is a source rectangle.
fn resize_rgba(src: &RgbaImage, dst_w: u32, dst_h: u32, crop: Option<[f64; 4]>) -> RgbaImage {
    let mut out = RgbaImage::new(dst_w, dst_h);
    let Ok(src_ref) = fir::images::ImageRef::new(
        src.width(),
        src.height(),
        src.as_raw(),
        fir::PixelType::U8x4,
    ) else {
        return out;
    };
    let Ok(mut dst) =
        fir::images::Image::from_slice_u8(dst_w, dst_h, out.as_mut(), fir::PixelType::U8x4)
    else {
        return out;
    };
    let mut options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::CatmullRom));
    if let Some([l, t, w, h]) = crop {
        options = options.crop(l, t, w, h);
    }
    // Only fails for mismatched pixel types or zero sizes, both excluded by
    // the callers; an all-transparent result is the safe fallback anyway.
    let _ = fir::Resizer::new().resize(&src_ref, &mut dst, &options);
    out
}

/// The environment scaled to cover 1920x1080 and centre-cropped to 16:9.
fn background(environment: &RgbaImage) -> RgbaImage {
    let (w, h) = (COMPOSITE_WIDTH, COMPOSITE_HEIGHT);
    let (ew, eh) = environment.dimensions();
    if ew == 0 || eh == 0 {
        // Nothing to show: an opaque black stage keeps the composite usable.
        return RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 255]));
    }
    if (ew, eh) == (w, h) {
        return environment.clone();
    }
    let target = w as f64 / h as f64;
    let (ewf, ehf) = (ew as f64, eh as f64);
    let crop = if ewf / ehf > target {
        // Too wide: keep full height, cut the sides.
        let cw = ehf * target;
        [(ewf - cw) / 2.0, 0.0, cw, ehf]
    } else {
        // Too tall: keep full width, cut top and bottom.
        let ch = ewf / target;
        [0.0, (ehf - ch) / 2.0, ewf, ch]
    };
    resize_rgba(environment, w, h, Some(crop))
}

/// Porter-Duff "over" of `src` onto `dst` at (x, y); clipped to `dst`.
pub(crate) fn blend_over(dst: &mut RgbaImage, src: &RgbaImage, x: i64, y: i64) {
    let (dw, dh) = (dst.width() as i64, dst.height() as i64);
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = (x + sw).min(dw);
    let y1 = (y + sh).min(dh);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let dst_stride = dw as usize * 4;
    let src_stride = sw as usize * 4;
    let span = (x1 - x0) as usize * 4;
    let dst_raw: &mut [u8] = dst.as_mut();
    let src_raw = src.as_raw();
    for row in y0..y1 {
        let d_off = row as usize * dst_stride + x0 as usize * 4;
        let s_off = (row - y) as usize * src_stride + (x0 - x) as usize * 4;
        let d_row = &mut dst_raw[d_off..d_off + span];
        let s_row = &src_raw[s_off..s_off + span];
        for (d, s) in d_row.chunks_exact_mut(4).zip(s_row.chunks_exact(4)) {
            let sa = s[3] as u32;
            if sa == 0 {
                continue;
            }
            if sa == 255 {
                d.copy_from_slice(s);
                continue;
            }
            let da = d[3] as u32;
            // Straight (non-premultiplied) alpha, all scaled by 255*255:
            // out_a = sa + da(1-sa); out_c = (sc*sa + dc*da*(1-sa)) / out_a.
            let src_w = sa * 255;
            let dst_w = da * (255 - sa);
            let out_a = src_w + dst_w;
            for c in 0..3 {
                let v = (s[c] as u32 * src_w + d[c] as u32 * dst_w + out_a / 2) / out_a;
                d[c] = v as u8;
            }
            d[3] = ((out_a + 127) / 255) as u8;
        }
    }
}

/// Scales `character` into a box of `box_w` x max height and blends it
/// centred on `centre_x`, feet near the bottom.
fn place(canvas: &mut RgbaImage, character: &RgbaImage, centre_x: f64, box_w: f64) {
    let (cw, ch) = character.dimensions();
    if cw == 0 || ch == 0 {
        return;
    }
    let canvas_h = canvas.height() as f64;
    let max_h = canvas_h * CHARACTER_HEIGHT;
    let scale = (max_h / ch as f64).min(box_w / cw as f64);
    let w = ((cw as f64 * scale).round() as u32).max(1);
    let h = ((ch as f64 * scale).round() as u32).max(1);
    let scaled = if (w, h) == (cw, ch) {
        character.clone()
    } else {
        resize_rgba(character, w, h, None)
    };
    let x = (centre_x - w as f64 / 2.0).round() as i64;
    let y = (canvas_h * (1.0 - FOOT_MARGIN) - h as f64).round() as i64;
    blend_over(canvas, &scaled, x, y);
}

pub(crate) fn composite(character: &RgbaImage, environment: &RgbaImage) -> RgbaImage {
    let mut canvas = background(environment);
    let w = canvas.width() as f64;
    place(&mut canvas, character, w / 2.0, w * 0.9);
    canvas
}

pub(crate) fn split_screen(
    left: &RgbaImage,
    right: &RgbaImage,
    environment: &RgbaImage,
) -> RgbaImage {
    let mut canvas = background(environment);
    let w = canvas.width() as f64;
    place(&mut canvas, left, w * 0.25, w * 0.45);
    place(&mut canvas, right, w * 0.75, w * 0.45);
    canvas
}
