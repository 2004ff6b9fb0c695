//! The built-in placeholder generator: seeded, deliberate-looking art
//! (landscapes, silhouette figures, object shapes) with a readable label.
//!
//! Shapes are signed distance functions painted with one pixel of
//! anti-aliasing, so cut-outs get clean edges and real transparency.

use std::f32::consts::{PI, TAU};

use font8x8::UnicodeFonts;
use image::RgbaImage;

use crate::{AssetSpec, ImageKind};

type Rgb = [f32; 3];

/// Seed from everything that identifies an asset version. FNV-1a with
/// separators (so "ab"+"c" differs from "a"+"bc"), then a SplitMix finaliser
/// so neighbouring versions land far apart.
pub(crate) fn seed_of(spec: &AssetSpec<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(spec.kind.label().as_bytes());
    eat(spec.name.as_bytes());
    eat(spec.prompt.as_bytes());
    eat(&spec.version.to_le_bytes());
    Rng(h).next_u64()
}

/// SplitMix64: tiny, fast and good enough to pick shapes and colours.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n.max(1) as u64) as u32
    }
}

/// HSV (all 0..1, hue wraps) to RGB in 0..255.
fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = h.rem_euclid(1.0) * 6.0;
    let s = s.clamp(0.0, 1.0);
    let v = v.clamp(0.0, 1.0) * 255.0;
    let i = h.floor();
    let f = h - i;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match i as u32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn lerp3(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale3(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn len(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

/// Shapes as signed distance functions: negative inside, in pixels.
#[derive(Clone, Copy)]
enum Shape {
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
    },
    /// A circle cut by a horizontal line: keeps the part above `cut` (`above`)
    /// or below it.
    HalfCircle {
        cx: f32,
        cy: f32,
        r: f32,
        cut: f32,
        above: bool,
    },
    Capsule {
        ax: f32,
        ay: f32,
        bx: f32,
        by: f32,
        r: f32,
    },
    RoundBox {
        cx: f32,
        cy: f32,
        hw: f32,
        hh: f32,
        r: f32,
    },
    /// Regular polygon (`inner == outer`) or star (`inner < outer`).
    Star {
        cx: f32,
        cy: f32,
        outer: f32,
        inner: f32,
        n: u32,
        rot: f32,
    },
}

impl Shape {
    fn sdf(&self, x: f32, y: f32) -> f32 {
        match *self {
            Shape::Circle { cx, cy, r } => len(x - cx, y - cy) - r,
            Shape::HalfCircle {
                cx,
                cy,
                r,
                cut,
                above,
            } => {
                let c = len(x - cx, y - cy) - r;
                let line = if above { y - cut } else { cut - y };
                c.max(line)
            }
            Shape::Capsule { ax, ay, bx, by, r } => {
                let (px, py, dx, dy) = (x - ax, y - ay, bx - ax, by - ay);
                let dd = (dx * dx + dy * dy).max(1e-6);
                let h = ((px * dx + py * dy) / dd).clamp(0.0, 1.0);
                len(px - dx * h, py - dy * h) - r
            }
            Shape::RoundBox { cx, cy, hw, hh, r } => {
                let qx = (x - cx).abs() - (hw - r);
                let qy = (y - cy).abs() - (hh - r);
                len(qx.max(0.0), qy.max(0.0)) + qx.max(qy).min(0.0) - r
            }
            Shape::Star {
                cx,
                cy,
                outer,
                inner,
                n,
                rot,
            } => {
                let (dx, dy) = (x - cx, y - cy);
                let r = len(dx, dy);
                let seg = TAU / n as f32;
                let a = (dy.atan2(dx) - rot).rem_euclid(seg) - seg / 2.0;
                if inner >= outer {
                    // Polygon: distance to the edge along its normal.
                    r * a.cos() - outer * (PI / n as f32).cos()
                } else {
                    // Star: the boundary radius falls linearly from tip to
                    // notch; scaled so the AA band stays about a pixel wide.
                    let t = a.abs() / (seg / 2.0);
                    (r - (outer + (inner - outer) * t)) * 0.7
                }
            }
        }
    }

    fn bbox(&self) -> [f32; 4] {
        match *self {
            Shape::Circle { cx, cy, r } | Shape::HalfCircle { cx, cy, r, .. } => {
                [cx - r, cy - r, cx + r, cy + r]
            }
            Shape::Capsule { ax, ay, bx, by, r } => [
                ax.min(bx) - r,
                ay.min(by) - r,
                ax.max(bx) + r,
                ay.max(by) + r,
            ],
            Shape::RoundBox { cx, cy, hw, hh, .. } => [cx - hw, cy - hh, cx + hw, cy + hh],
            Shape::Star { cx, cy, outer, .. } => [cx - outer, cy - outer, cx + outer, cy + outer],
        }
    }
}

/// Paints `shape` grown by `grow` pixels with straight-alpha "over", colour
/// from `fill(x, y)` and overall opacity `alpha`.
fn paint(img: &mut RgbaImage, shape: Shape, grow: f32, alpha: f32, fill: impl Fn(f32, f32) -> Rgb) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let [bx0, by0, bx1, by1] = shape.bbox();
    let pad = grow + 2.0;
    let x0 = ((bx0 - pad).floor() as i64).clamp(0, w);
    let x1 = ((bx1 + pad).ceil() as i64).clamp(0, w);
    let y0 = ((by0 - pad).floor() as i64).clamp(0, h);
    let y1 = ((by1 + pad).ceil() as i64).clamp(0, h);
    let stride = w as usize * 4;
    let raw: &mut [u8] = img.as_mut();
    for y in y0..y1 {
        let py = y as f32 + 0.5;
        let row = &mut raw[y as usize * stride..(y as usize + 1) * stride];
        for x in x0..x1 {
            let px = x as f32 + 0.5;
            let cov = (0.5 - (shape.sdf(px, py) - grow)).clamp(0.0, 1.0) * alpha;
            if cov <= 0.0 {
                continue;
            }
            let c = fill(px, py);
            let d = &mut row[x as usize * 4..x as usize * 4 + 4];
            let da = d[3] as f32 / 255.0;
            let keep = da * (1.0 - cov);
            let oa = cov + keep;
            for i in 0..3 {
                d[i] = ((c[i] * cov + d[i] as f32 * keep) / oa).clamp(0.0, 255.0) as u8;
            }
            d[3] = (oa * 255.0 + 0.5) as u8;
        }
    }
}

// ---------------------------------------------------------------- text ----

fn glyph(c: char) -> [u8; 8] {
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// Picks the largest scale at which `text` fits `max_w`; if even the smallest
/// does not fit, cuts the text and ends it with "..".
fn fit_text(text: &str, max_w: u32, scales: &[u32]) -> (String, u32) {
    let n = text.chars().count() as u32;
    for &s in scales {
        if n * 8 * s <= max_w {
            return (text.to_string(), s);
        }
    }
    let s = scales.last().copied().unwrap_or(1).max(1);
    let keep = (max_w / (8 * s)).saturating_sub(2) as usize;
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str("..");
    (cut, s)
}

fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Draws opaque text, each font pixel a `scale` x `scale` block, clipped.
fn draw_text(img: &mut RgbaImage, x: i64, y: i64, scale: u32, text: &str, color: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let s = scale as i64;
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        let gx = x + i as i64 * 8 * s;
        for (row, bits) in g.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for yy in 0..s {
                    let py = y + row as i64 * s + yy;
                    if py < 0 || py >= h {
                        continue;
                    }
                    for xx in 0..s {
                        let px = gx + col as i64 * s + xx;
                        if px >= 0 && px < w {
                            img.put_pixel(
                                px as u32,
                                py as u32,
                                image::Rgba([color[0], color[1], color[2], 255]),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Rows `[top, bottom)` the label of a kind occupies; text never leaves them.
pub(crate) fn label_band(kind: ImageKind) -> (u32, u32) {
    match kind {
        ImageKind::Environment => (40, 40 + LABEL_ENV_H),
        ImageKind::Character => {
            let (_, h) = kind.generated_size();
            (h - 20 - LABEL_CUT_H, h - 20)
        }
        ImageKind::Prop => {
            let (_, h) = kind.generated_size();
            (h - 12 - LABEL_PROP_H, h - 12)
        }
    }
}

const LABEL_ENV_H: u32 = 128;
const LABEL_CUT_H: u32 = 104;
const LABEL_PROP_H: u32 = 76;

/// Draws the name/kind/version plate. Environments get a translucent plate
/// top-left (the picture stays visible, still opaque overall); cut-outs get
/// an opaque plate at the bottom, which also makes the label readable on any
/// background the UI shows behind the transparency.
fn draw_label(img: &mut RgbaImage, spec: &AssetSpec<'_>) {
    let (w, _) = img.dimensions();
    let (top, bottom) = label_band(spec.kind);
    let kind_line = format!("{}  v{}", spec.kind.label(), spec.version);
    let white = [245, 245, 240];
    let accent = [255, 214, 102];
    match spec.kind {
        ImageKind::Environment => {
            let (name, s) = fit_text(spec.name, w - 160, &[6, 5, 4]);
            let inner_w = text_width(&name, s).max(text_width(&kind_line, 3));
            let plate_w = inner_w + 64;
            let plate = Shape::RoundBox {
                cx: 40.0 + plate_w as f32 / 2.0,
                cy: (top + bottom) as f32 / 2.0,
                hw: plate_w as f32 / 2.0,
                hh: (bottom - top) as f32 / 2.0,
                r: 18.0,
            };
            paint(img, plate, 0.0, 0.62, |_, _| [12.0, 14.0, 22.0]);
            draw_text(img, 72, top as i64 + 20, s, &name, white);
            draw_text(img, 72, top as i64 + 20 + 8 * 6 + 16, 3, &kind_line, accent);
        }
        ImageKind::Character | ImageKind::Prop => {
            let margin = if spec.kind == ImageKind::Prop { 16 } else { 24 };
            let plate_w = w - 2 * margin;
            let plate = Shape::RoundBox {
                cx: w as f32 / 2.0,
                cy: (top + bottom) as f32 / 2.0,
                hw: plate_w as f32 / 2.0,
                hh: (bottom - top) as f32 / 2.0,
                r: 14.0,
            };
            paint(img, plate, 0.0, 1.0, |_, _| [20.0, 22.0, 32.0]);
            let (big, small) = if spec.kind == ImageKind::Prop {
                (&[3u32, 2][..], 2)
            } else {
                (&[4u32, 3, 2][..], 3)
            };
            let (name, s) = fit_text(spec.name, plate_w - 32, big);
            let (kind_line, ks) = fit_text(&kind_line, plate_w - 32, &[small, 2]);
            let gap = 10;
            let block_h = 8 * (s + ks) + gap;
            let y = top + (bottom - top - block_h) / 2;
            let nx = (w - text_width(&name, s)) / 2;
            let kx = (w - text_width(&kind_line, ks)) / 2;
            draw_text(img, nx as i64, y as i64, s, &name, white);
            draw_text(
                img,
                kx as i64,
                (y + 8 * s + gap) as i64,
                ks,
                &kind_line,
                accent,
            );
        }
    }
}

// ------------------------------------------------------------- drawing ----

pub(crate) fn generate(spec: &AssetSpec<'_>) -> RgbaImage {
    render(spec, seed_of(spec))
}

/// Draws `spec` from an explicit seed; tests use this to change only the label.
pub(crate) fn render(spec: &AssetSpec<'_>, seed: u64) -> RgbaImage {
    let mut rng = Rng(seed);
    let mut img = match spec.kind {
        ImageKind::Environment => environment(&mut rng),
        ImageKind::Character => character(&mut rng),
        ImageKind::Prop => prop(&mut rng),
    };
    draw_label(&mut img, spec);
    img
}

/// A landscape: graded sky, sun with glow, clouds, and ridges of hills fading
/// into the distance (aerial perspective).
fn environment(rng: &mut Rng) -> RgbaImage {
    let (w, h) = ImageKind::Environment.generated_size();
    let (wf, hf) = (w as f32, h as f32);
    let sky_hue = rng.unit();
    let sky_top = hsv(sky_hue, rng.range(0.45, 0.8), rng.range(0.35, 0.75));
    let sky_low = hsv(
        sky_hue + rng.range(-0.12, 0.12),
        rng.range(0.1, 0.35),
        rng.range(0.85, 1.0),
    );
    let horizon = hf * rng.range(0.42, 0.58);
    let sun = (
        rng.range(0.1, 0.9) * wf,
        rng.range(0.1, 0.32) * hf,
        rng.range(40.0, 85.0),
    );
    let sun_col = hsv(rng.range(0.02, 0.16), rng.range(0.15, 0.6), 1.0);
    let glow_r = sun.2 * 4.0;

    // Ridge heights per column, computed once: a sum of three sines each.
    let layers = 4usize;
    let ground_hue = rng.unit();
    let mut ridges: Vec<Vec<f32>> = Vec::with_capacity(layers);
    let mut colours: Vec<Rgb> = Vec::with_capacity(layers);
    for i in 0..layers {
        let depth = i as f32 / (layers - 1) as f32; // 0 far .. 1 near
        let base = horizon + (hf - horizon) * (0.05 + 0.55 * depth);
        let amp = hf * rng.range(0.08, 0.2) * (1.0 - 0.55 * depth);
        let f: [(f32, f32); 3] = [
            (rng.range(1.0, 2.5), rng.range(0.0, TAU)),
            (rng.range(3.0, 6.0), rng.range(0.0, TAU)),
            (rng.range(8.0, 16.0), rng.range(0.0, TAU)),
        ];
        let ridge = (0..w)
            .map(|x| {
                let t = x as f32 / wf * TAU;
                let v = 0.6 * (t * f[0].0 + f[0].1).sin()
                    + 0.3 * (t * f[1].0 + f[1].1).sin()
                    + 0.1 * (t * f[2].0 + f[2].1).sin();
                base - amp * (0.5 + 0.5 * v)
            })
            .collect();
        ridges.push(ridge);
        let near = hsv(
            ground_hue + i as f32 * 0.03,
            rng.range(0.35, 0.7),
            0.55 - 0.3 * depth,
        );
        // Far ridges take on the sky colour near the horizon.
        colours.push(lerp3(near, sky_low, 0.65 * (1.0 - depth)));
    }

    // Per-column shading slope, so the pixel loop multiplies instead of divides.
    let shade_k: Vec<Vec<f32>> = ridges
        .iter()
        .map(|r| r.iter().map(|&top| 0.35 / (hf - top + 1.0)).collect())
        .collect();

    let mut img = RgbaImage::new(w, h);
    let stride = w as usize * 4;
    {
        let raw: &mut [u8] = img.as_mut();
        for (y, row) in raw.chunks_exact_mut(stride).enumerate() {
            let py = y as f32 + 0.5;
            let sky = lerp3(sky_top, sky_low, (py / horizon).min(1.0));
            let near_sun = (py - sun.1).abs() < glow_r;
            for (x, px_out) in row.chunks_exact_mut(4).enumerate() {
                let px = x as f32 + 0.5;
                // The front-most layer that fully covers this pixel hides
                // everything behind it, sky included: start there (most ground
                // pixels then cost one layer instead of sky, sun and four).
                let covering = (0..layers).rev().find(|&l| py - ridges[l][x] >= 1.0);
                let first = covering.unwrap_or(0);
                let mut c = sky;
                if near_sun && covering.is_none() {
                    let d = len(px - sun.0, py - sun.1);
                    if d < glow_r {
                        let g = 1.0 - d / glow_r;
                        c = lerp3(c, sun_col, 0.45 * g * g);
                        c = lerp3(c, sun_col, (sun.2 + 0.5 - d).clamp(0.0, 1.0));
                    }
                }
                for l in first..layers {
                    let top = ridges[l][x];
                    let cov = (py - top).clamp(0.0, 1.0);
                    if cov > 0.0 {
                        // Slightly darker further below the ridge line.
                        let shade = 1.0 - (py - top) * shade_k[l][x];
                        c = lerp3(c, scale3(colours[l], shade), cov);
                    }
                }
                px_out[0] = c[0] as u8;
                px_out[1] = c[1] as u8;
                px_out[2] = c[2] as u8;
                px_out[3] = 255;
            }
        }
    }
    // Clouds: clusters of soft circles, only in the sky.
    let clouds = 2 + rng.below(4);
    for _ in 0..clouds {
        let cx = rng.range(0.0, wf);
        let cy = rng.range(0.06, 0.3) * hf;
        let size = rng.range(30.0, 60.0);
        for k in 0..4 {
            let c = Shape::Circle {
                cx: cx + (k as f32 - 1.5) * size * 0.9,
                cy: cy - if k == 1 || k == 2 { size * 0.45 } else { 0.0 },
                r: size * if k == 1 || k == 2 { 1.0 } else { 0.75 },
            };
            paint(&mut img, c, 0.0, 0.8, |_, y| {
                lerp3(
                    [255.0, 255.0, 255.0],
                    sky_low,
                    ((y - cy) / (2.0 * size)).clamp(0.0, 0.5),
                )
            });
        }
    }
    img
}

/// A cartoon silhouette figure on a transparent canvas, outlined for contrast.
fn character(rng: &mut Rng) -> RgbaImage {
    let (w, h) = ImageKind::Character.generated_size();
    let mut img = RgbaImage::new(w, h);
    let (label_top, _) = label_band(ImageKind::Character);
    let cx = w as f32 / 2.0 + rng.range(-30.0, 30.0);
    let head_r = rng.range(56.0, 78.0);
    let head_cy = 50.0 + head_r + rng.range(0.0, 30.0);
    let shoulder_y = head_cy + head_r + rng.range(22.0, 36.0);
    let torso_hw = rng.range(80.0, 130.0);
    let feet_y = label_top as f32 - 24.0;
    let hip_y = shoulder_y + (feet_y - shoulder_y) * rng.range(0.42, 0.52);
    let hip_hw = torso_hw * rng.range(0.65, 0.95);
    let leg_r = rng.range(24.0, 36.0);
    let spread = rng.range(0.0, 90.0);
    let arm_r = rng.range(19.0, 28.0);
    let arm_len = (hip_y - shoulder_y) * rng.range(0.45, 0.6);

    let skin = hsv(
        rng.range(0.03, 0.1),
        rng.range(0.25, 0.6),
        rng.range(0.45, 0.95),
    );
    let shirt = hsv(rng.unit(), rng.range(0.5, 0.9), rng.range(0.55, 0.95));
    let pants = hsv(rng.unit(), rng.range(0.3, 0.7), rng.range(0.25, 0.5));
    let hair = hsv(
        rng.range(0.0, 0.15),
        rng.range(0.3, 0.8),
        rng.range(0.1, 0.6),
    );
    let outline = [18.0, 16.0, 24.0];

    let mut shapes: Vec<(Shape, Rgb)> = Vec::new();
    let long_hair = rng.below(2) == 0;
    if long_hair {
        shapes.push((
            Shape::RoundBox {
                cx,
                cy: head_cy + head_r * 0.6,
                hw: head_r * 1.1,
                hh: head_r * 1.2,
                r: head_r,
            },
            hair,
        ));
    }
    for side in [-1.0f32, 1.0] {
        // Legs from the hip, feet turned outwards.
        let (hx, hy) = (cx + side * hip_hw * 0.5, hip_y - 10.0);
        let (fx, fy) = (cx + side * (hip_hw * 0.5 + spread * 0.5), feet_y - leg_r);
        shapes.push((
            Shape::Capsule {
                ax: hx,
                ay: hy,
                bx: fx,
                by: fy,
                r: leg_r,
            },
            pants,
        ));
        shapes.push((
            Shape::Capsule {
                ax: fx,
                ay: feet_y - leg_r * 0.6,
                bx: fx + side * leg_r * 1.4,
                by: feet_y - leg_r * 0.6,
                r: leg_r * 0.6,
            },
            outline,
        ));
    }
    for side in [-1.0f32, 1.0] {
        // Arms: upper arm at a random raise, forearm bent further.
        let (sx, sy) = (cx + side * (torso_hw - arm_r * 0.8), shoulder_y + arm_r);
        let raise = rng.range(-0.2, 2.2);
        let bend = rng.range(0.0, 0.9);
        let (ex, ey) = (
            sx + side * raise.sin() * arm_len,
            sy + raise.cos() * arm_len,
        );
        let a2 = raise + bend;
        // Keep the hand (and its outline) inside the canvas so no cut-out
        // is clipped at its own border.
        let room = arm_r * 1.1 + 10.0;
        let hx = (ex + side * a2.sin() * arm_len * 0.9).clamp(room, w as f32 - room);
        let hy = (ey + a2.cos() * arm_len * 0.9).max(room);
        let ex = ex.clamp(room, w as f32 - room);
        let ey = ey.max(room);
        shapes.push((
            Shape::Capsule {
                ax: sx,
                ay: sy,
                bx: ex,
                by: ey,
                r: arm_r,
            },
            shirt,
        ));
        shapes.push((
            Shape::Capsule {
                ax: ex,
                ay: ey,
                bx: hx,
                by: hy,
                r: arm_r * 0.9,
            },
            shirt,
        ));
        shapes.push((
            Shape::Circle {
                cx: hx,
                cy: hy,
                r: arm_r * 1.1,
            },
            skin,
        ));
    }
    let torso_hh = (hip_y - shoulder_y) / 2.0 + 8.0;
    shapes.push((
        Shape::RoundBox {
            cx,
            cy: shoulder_y + torso_hh - 8.0,
            hw: torso_hw,
            hh: torso_hh,
            r: rng.range(28.0, 60.0).min(torso_hw),
        },
        shirt,
    ));
    shapes.push((
        Shape::Capsule {
            ax: cx,
            ay: head_cy,
            bx: cx,
            by: shoulder_y + 6.0,
            r: head_r * 0.38,
        },
        skin,
    ));
    shapes.push((
        Shape::Circle {
            cx,
            cy: head_cy,
            r: head_r,
        },
        skin,
    ));
    shapes.push((
        Shape::HalfCircle {
            cx,
            cy: head_cy - head_r * 0.08,
            r: head_r * 1.06,
            cut: head_cy - head_r * rng.range(0.15, 0.45),
            above: true,
        },
        hair,
    ));

    // Outline pass first, then fills: one dark rim around the whole figure.
    for (s, _) in &shapes {
        paint(&mut img, *s, 6.0, 1.0, |_, _| outline);
    }
    let (top, bottom) = (head_cy - head_r, feet_y);
    let light = move |c: Rgb| {
        move |x: f32, y: f32| {
            let k = 1.12
                - 0.3 * ((y - top) / (bottom - top))
                - 0.12 * ((x - cx) / 200.0).clamp(-1.0, 1.0);
            scale3(c, k.clamp(0.5, 1.3))
        }
    };
    for (s, c) in &shapes {
        paint(&mut img, *s, 0.0, 1.0, light(*c));
    }
    for side in [-1.0f32, 1.0] {
        let eye = Shape::Circle {
            cx: cx + side * head_r * 0.36,
            cy: head_cy + head_r * 0.12,
            r: head_r * 0.1,
        };
        paint(&mut img, eye, 0.0, 1.0, |_, _| outline);
    }
    img
}

/// An object on a transparent canvas: a gem, star, potion or crate.
fn prop(rng: &mut Rng) -> RgbaImage {
    let (w, h) = ImageKind::Prop.generated_size();
    let mut img = RgbaImage::new(w, h);
    let (label_top, _) = label_band(ImageKind::Prop);
    let cx = w as f32 / 2.0;
    let cy = label_top as f32 / 2.0 + 8.0;
    let size = (label_top as f32 / 2.0 - 24.0) * rng.range(0.8, 1.0);
    let base = hsv(rng.unit(), rng.range(0.5, 0.9), rng.range(0.6, 0.95));
    let dark = [22.0, 18.0, 28.0];
    let light = move |c: Rgb| {
        move |x: f32, y: f32| {
            // Radial highlight from the upper left.
            let d = len(x - (cx - size * 0.35), y - (cy - size * 0.35)) / (size * 1.8);
            lerp3(
                lerp3(c, [255.0, 255.0, 255.0], 0.45),
                scale3(c, 0.6),
                d.clamp(0.0, 1.0),
            )
        }
    };
    let shapes: Vec<(Shape, Rgb)> = match rng.below(4) {
        0 => {
            let n = 5 + rng.below(4);
            let rot = rng.range(0.0, TAU);
            vec![
                (
                    Shape::Star {
                        cx,
                        cy,
                        outer: size,
                        inner: size,
                        n,
                        rot,
                    },
                    base,
                ),
                (
                    Shape::Star {
                        cx,
                        cy,
                        outer: size * 0.5,
                        inner: size * 0.5,
                        n,
                        rot,
                    },
                    lerp3(base, [255.0, 255.0, 255.0], 0.35),
                ),
            ]
        }
        1 => {
            let n = 5 + rng.below(3);
            let inner = size * rng.range(0.42, 0.6);
            let rot = rng.range(0.0, TAU);
            vec![(
                Shape::Star {
                    cx,
                    cy,
                    outer: size,
                    inner,
                    n,
                    rot,
                },
                base,
            )]
        }
        2 => {
            let r = size * 0.7;
            let body_cy = cy + size - r;
            let liquid = hsv(rng.unit(), 0.8, 0.85);
            vec![
                (
                    Shape::RoundBox {
                        cx,
                        cy: body_cy - r - 30.0,
                        hw: r * 0.3,
                        hh: 45.0,
                        r: 10.0,
                    },
                    base,
                ),
                (
                    Shape::RoundBox {
                        cx,
                        cy: body_cy - r - 80.0,
                        hw: r * 0.38,
                        hh: 18.0,
                        r: 8.0,
                    },
                    [150.0, 100.0, 60.0],
                ),
                (Shape::Circle { cx, cy: body_cy, r }, base),
                (
                    Shape::HalfCircle {
                        cx,
                        cy: body_cy,
                        r: r - 14.0,
                        cut: body_cy - r * rng.range(-0.3, 0.5),
                        above: false,
                    },
                    liquid,
                ),
            ]
        }
        _ => {
            let (hw, hh) = (size * rng.range(0.8, 1.0), size * rng.range(0.65, 0.9));
            let plank = scale3(base, 0.7);
            vec![
                (
                    Shape::RoundBox {
                        cx,
                        cy,
                        hw,
                        hh,
                        r: 14.0,
                    },
                    base,
                ),
                (
                    Shape::Capsule {
                        ax: cx - hw + 22.0,
                        ay: cy - hh + 22.0,
                        bx: cx + hw - 22.0,
                        by: cy + hh - 22.0,
                        r: 14.0,
                    },
                    plank,
                ),
                (
                    Shape::Capsule {
                        ax: cx - hw + 22.0,
                        ay: cy + hh - 22.0,
                        bx: cx + hw - 22.0,
                        by: cy - hh + 22.0,
                        r: 14.0,
                    },
                    plank,
                ),
            ]
        }
    };
    for (s, _) in &shapes {
        paint(&mut img, *s, 6.0, 1.0, |_, _| dark);
    }
    for (s, c) in &shapes {
        paint(&mut img, *s, 0.0, 1.0, light(*c));
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ImageKind, name: &'static str) -> AssetSpec<'static> {
        AssetSpec {
            name,
            kind,
            prompt: "a test prompt",
            version: 1,
        }
    }

    /// Same seed, different name: every changed pixel is inside the label
    /// band, and enough of them change for the text to be really there.
    #[test]
    fn label_is_drawn_inside_its_band() {
        for kind in [
            ImageKind::Character,
            ImageKind::Environment,
            ImageKind::Prop,
        ] {
            let a = render(&spec(kind, "Captain Mara"), 42);
            let b = render(&spec(kind, "Old Harbour Docks"), 42);
            let (top, bottom) = label_band(kind);
            let mut changed = 0;
            for (x, y, pa) in a.enumerate_pixels() {
                if pa != b.get_pixel(x, y) {
                    assert!(
                        (top..bottom).contains(&y),
                        "{kind:?}: pixel ({x},{y}) outside the label band changed"
                    );
                    changed += 1;
                }
            }
            assert!(
                changed > 500,
                "{kind:?}: only {changed} label pixels differ"
            );
        }
    }

    #[test]
    fn label_text_is_bright_on_dark() {
        let img = render(&spec(ImageKind::Prop, "Lamp"), 7);
        let (top, bottom) = label_band(ImageKind::Prop);
        let mut bright = 0;
        let mut dark = 0;
        for y in top..bottom {
            for x in 0..img.width() {
                let p = img.get_pixel(x, y).0;
                let luma = (p[0] as u32 + p[1] as u32 + p[2] as u32) / 3;
                if p[3] == 255 && luma > 200 {
                    bright += 1;
                } else if p[3] == 255 && luma < 50 {
                    dark += 1;
                }
            }
        }
        assert!(
            bright > 300 && dark > bright,
            "bright {bright}, dark {dark}"
        );
    }

    #[test]
    fn long_names_are_cut_not_overflowing() {
        let (text, s) = fit_text(&"x".repeat(200), 440, &[3, 2]);
        assert_eq!(s, 2);
        assert!(text_width(&text, s) <= 440);
        assert!(text.ends_with(".."));
    }
}
