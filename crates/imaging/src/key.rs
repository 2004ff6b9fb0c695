//! Background keying: turns a picture on one plain colour into a cut-out.
//!
//! Why: the paid image generator (Gemini) returns no alpha channel, so characters and props are
//! asked for on a plain, uniform background (green by default) and that colour is removed here.
//!
//! How, in four steps:
//! 1. The background colour is the per-channel median of the outermost ring of pixels. Keying is
//!    refused (image returned untouched, with a reason) when too little of that ring is within
//!    `tolerance` of it: a gradient, a photograph or noise cannot be keyed by colour.
//! 2. The background is what a 4-connected flood fill from the border reaches through pixels within
//!    `tolerance`, so the same colour enclosed by the subject (a hole, an eye highlight) stays.
//! 3. The soft edge is the first `edge_width` pixels inside that region, reached by paths whose
//!    distance from the background colour does not fall (so a plain hole behind a thin outline is
//!    never reached). Each edge pixel C is un-mixed as C = B + a(F - B): F is the farthest colour
//!    further inside that C lies on the line to, so the alpha a is C's colour distance as a share
//!    of F's, and the colour written is F plus C's small residual: the background's share (the
//!    green fringe) is taken out of the edge, not just made transparent.
//! 4. Fully transparent pixels are written as (0, 0, 0, 0); every other pixel outside the edge is
//!    copied unchanged. Alpha is multiplied into what the input had, so it only ever goes down.

use image::{Rgb, RgbaImage};

/// Below this many pixels on the shorter side there is too little border to judge a background.
const MIN_EDGE: u32 = 16;
/// Widest soft edge honoured; wider requests are cut to it (the cost grows with its square).
const MAX_EDGE_WIDTH: u32 = 8;
/// Depth of pixels the soft edge did not reach (the subject's inside, or enclosed holes).
const UNREACHED: u8 = u8::MAX;
/// Slack for 8-bit rounding when testing whether an edge colour is a mix of two others.
const MIN_MIX_RESIDUAL: f32 = 2.0;
/// Largest RGB distance there is (black to white), rounded up.
const MAX_DISTANCE: f32 = 442.0;

/// How [`key_background`](crate::key_background) finds and removes the background.
///
/// Distances are Euclidean in 8-bit RGB: 0 is the same colour, about 441 is black to white.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyOptions {
    /// Colours this close to the background colour are background (default 32).
    pub tolerance: f32,
    /// Beyond `tolerance`, edge pixels fade in over this much more distance (default 32); 0 gives a
    /// hard cut at `tolerance`.
    pub softness: f32,
    /// Width in pixels of the soft edge around the subject that is un-mixed from the background
    /// (default 2, at most 8; 0 leaves a hard cut-out).
    pub edge_width: u32,
    /// Share of the border that must match the background colour, 0..=1 (default 0.75): below it
    /// the background is "not one plain colour" and nothing is removed.
    pub min_border_match: f32,
    /// Warn when more than this share of the picture became transparent (default 0.97).
    pub warn_removed_above: f32,
    /// Warn when less than this share of the picture became transparent (default 0.02).
    pub warn_removed_below: f32,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            tolerance: 32.0,
            softness: 32.0,
            edge_width: 2,
            min_border_match: 0.75,
            warn_removed_above: 0.97,
            warn_removed_below: 0.02,
        }
    }
}

/// What keying did to one picture.
#[derive(Debug, Clone)]
pub struct KeyResult {
    /// The cut-out; the input, untouched, when keying failed.
    pub image: RgbaImage,
    /// The background colour read from the border (`None` only for an empty or already
    /// transparent picture).
    pub background: Option<Rgb<u8>>,
    /// Share of border pixels within tolerance of `background`, 0..=1.
    pub border_match: f32,
    /// Share of all pixels that are fully transparent in `image`, 0..=1 (0 when keying failed).
    pub transparent_fraction: f32,
    /// Share of all pixels this step made partly transparent (the soft edge), 0..=1.
    pub soft_edge_fraction: f32,
    /// Why nothing was removed; `None` when keying succeeded.
    pub failure: Option<KeyFailure>,
    /// Things a creator should look at even though keying succeeded (or as well as a failure).
    pub warnings: Vec<KeyWarning>,
}

impl KeyResult {
    /// True when the background was removed (there may still be warnings).
    pub fn keyed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Why a picture could not be keyed. The picture is returned untouched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyFailure {
    /// Zero width or height.
    #[error("the image is empty ({width}x{height} pixels); there is nothing to cut out")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Most of the border is transparent already: this is a cut-out, not a picture on a background.
    #[error(
        "the picture already has a transparent background ({} % of its border); it needs no keying",
        percent(*.transparent_border)
    )]
    AlreadyTransparent {
        /// Share of border pixels with zero alpha.
        transparent_border: f32,
    },
    /// The border is not one colour: a gradient, a scene or noise.
    #[error(
        "the background is not one plain colour (only {} % of the border matches {}, at least {} % \
         must); ask for the subject on a single flat colour such as pure green",
        percent(*.border_match),
        hex(*.background),
        percent(*.required)
    )]
    NotUniform {
        /// The border's median colour.
        background: Rgb<u8>,
        /// Share of border pixels within tolerance of it.
        border_match: f32,
        /// The share that was required ([`KeyOptions::min_border_match`]).
        required: f32,
    },
}

/// Something suspicious about a picture keying went through with.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyWarning {
    /// Almost everything was removed: the subject is missing or has the background's colour.
    NearlyEverythingRemoved {
        /// Share of the picture now transparent.
        fraction: f32,
    },
    /// Almost nothing was removed: the subject fills the frame.
    NearlyNothingRemoved {
        /// Share of the picture now transparent.
        fraction: f32,
    },
    /// Too small for the border to say anything about a background.
    TooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

impl std::fmt::Display for KeyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyWarning::NearlyEverythingRemoved { fraction } => write!(
                f,
                "nearly the whole picture matched the background colour ({} % removed); the \
                 subject may be missing or the same colour as the background",
                percent(*fraction)
            ),
            KeyWarning::NearlyNothingRemoved { fraction } => write!(
                f,
                "almost nothing matched the background colour ({} % removed); the subject may \
                 fill the whole frame",
                percent(*fraction)
            ),
            KeyWarning::TooSmall { width, height } => write!(
                f,
                "the picture is only {width}x{height} pixels, too small to tell a background from \
                 a subject"
            ),
        }
    }
}

/// Whole percent, rounded down (so "only 74 %" never reads as enough when 75 % is required).
fn percent(fraction: f32) -> u32 {
    (fraction * 100.0).floor() as u32
}

fn hex(c: Rgb<u8>) -> String {
    format!("#{:02X}{:02X}{:02X}", c[0], c[1], c[2])
}

/// Options with every number made finite and in range, so no input can panic or produce NaN.
struct Sane {
    tolerance: f32,
    softness: f32,
    edge_width: u8,
    min_border_match: f32,
    warn_above: f32,
    warn_below: f32,
}

impl Sane {
    fn new(o: &KeyOptions) -> Sane {
        let d = KeyOptions::default();
        let fix = |x: f32, lo: f32, hi: f32, default: f32| {
            if x.is_nan() { default } else { x.clamp(lo, hi) }
        };
        Sane {
            tolerance: fix(o.tolerance, 0.0, MAX_DISTANCE, d.tolerance),
            softness: fix(o.softness, 0.0, MAX_DISTANCE, d.softness),
            edge_width: o.edge_width.min(MAX_EDGE_WIDTH) as u8,
            min_border_match: fix(o.min_border_match, 0.0, 1.0, d.min_border_match),
            warn_above: fix(o.warn_removed_above, 0.0, 1.0, d.warn_removed_above),
            warn_below: fix(o.warn_removed_below, 0.0, 1.0, d.warn_removed_below),
        }
    }
}

type Vec3 = [i32; 3];

fn rgb_at(px: &[u8], i: usize) -> Vec3 {
    [px[i * 4] as i32, px[i * 4 + 1] as i32, px[i * 4 + 2] as i32]
}

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: Vec3, b: Vec3) -> i32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Indices of the outermost ring of pixels, each once (also for 1-pixel-wide images).
fn border_indices(w: usize, h: usize) -> impl Iterator<Item = usize> {
    let top = 0..w;
    let bottom = if h > 1 { (h - 1) * w..h * w } else { 0..0 };
    let sides = (1..h.saturating_sub(1))
        .flat_map(move |y| std::iter::once(y * w).chain((w > 1).then_some(y * w + w - 1)));
    top.chain(bottom).chain(sides)
}

/// Per-channel median of the given pixels (`idx` is not empty).
fn median_colour(px: &[u8], idx: &[usize]) -> Vec3 {
    let mut hist = [[0u32; 256]; 3];
    for &i in idx {
        for (c, h) in hist.iter_mut().enumerate() {
            h[px[i * 4 + c] as usize] += 1;
        }
    }
    let half = idx.len().div_ceil(2) as u32;
    let mut out = [0; 3];
    for (c, h) in hist.iter().enumerate() {
        let mut seen = 0;
        for (v, &n) in h.iter().enumerate() {
            seen += n;
            if seen >= half {
                out[c] = v as i32;
                break;
            }
        }
    }
    out
}

/// Depth 0 (background) for every pixel a 4-connected fill from the `seeds` reaches through `near`
/// ones, [`UNREACHED`] for the rest. Fills whole runs of a row at a time (a scanline fill).
fn flood(near: &[bool], w: usize, h: usize, seeds: &[usize]) -> Vec<u8> {
    let mut depth = vec![UNREACHED; near.len()];
    let mut stack: Vec<usize> = seeds.iter().copied().filter(|&i| near[i]).collect();
    let open = |depth: &[u8], j: usize| near[j] && depth[j] != 0;
    while let Some(i) = stack.pop() {
        if depth[i] == 0 {
            continue;
        }
        let row = i - i % w;
        let (mut l, mut r) = (i, i);
        while l > row && open(&depth, l - 1) {
            l -= 1;
        }
        while r + 1 < row + w && open(&depth, r + 1) {
            r += 1;
        }
        depth[l..=r].fill(0);
        // One seed per run of fillable pixels in the rows above and below.
        let above = (row >= w).then(|| row - w);
        let below = (row + w < w * h).then_some(row + w);
        for other in [above, below].into_iter().flatten() {
            let mut in_run = false;
            for j in other + (l - row)..=other + (r - row) {
                let o = open(&depth, j);
                if o && !in_run {
                    stack.push(j);
                }
                in_run = o;
            }
        }
    }
    depth
}

/// What un-mixing the soft edge reads: the input pixels, the depths and the background colour.
struct Edge<'a> {
    px: &'a [u8],
    depth: &'a [u8],
    w: usize,
    h: usize,
    bg: Vec3,
    tol: f32,
    softness: f32,
    radius: usize,
    mix_tol2: f32,
}

impl Edge<'_> {
    /// The alpha factor (0..=1) of soft-edge pixel `i` at `(x, y)`, and its colour with the
    /// background's share taken out.
    fn unmix(&self, i: usize, x: usize, y: usize) -> (f32, [f32; 3]) {
        let (px, w, d) = (self.px, self.w, self.depth[i]);
        let c = rgb_at(px, i);
        let u = sub(c, self.bg);
        let uu = dot(u, u);
        let du = (uu as f32).sqrt();
        // The fade-in over the tolerance band: the alpha of near-background specks that have no
        // purer colour beside them.
        let ramp = if self.softness > 0.0 {
            ((du - self.tol) / self.softness).clamp(0.0, 1.0)
        } else if du > self.tol {
            1.0
        } else {
            0.0
        };
        // The purest colour further inside that C is a mix of with the background: (|v|², u·v, v).
        let mut best: Option<(i32, i32, Vec3)> = None;
        let r = self.radius;
        for qy in y.saturating_sub(r)..(y + r + 1).min(self.h) {
            for qx in x.saturating_sub(r)..(x + r + 1).min(w) {
                let q = qy * w + qx;
                if self.depth[q] <= d {
                    continue;
                }
                let v = sub(rgb_at(px, q), self.bg);
                let vv = dot(v, v);
                let uv = dot(u, v);
                if vv <= uu || uv <= 0 {
                    continue;
                }
                // Squared distance of C from the line from B through F.
                let off = uu as f32 - (uv as f32) * (uv as f32) / vv as f32;
                if off <= self.mix_tol2 && best.is_none_or(|(b, _, _)| vv > b) {
                    best = Some((vv, uv, v));
                }
            }
        }
        let cf = [c[0] as f32, c[1] as f32, c[2] as f32];
        match best {
            Some((vv, uv, v)) => {
                let a = uv as f32 / vv as f32;
                // F plus C's residual off the line: C with the background's share swapped for F's.
                let k = 1.0 - a;
                let colour = [
                    cf[0] + k * v[0] as f32,
                    cf[1] + k * v[1] as f32,
                    cf[2] + k * v[2] as f32,
                ];
                (a.min(ramp), colour)
            }
            None => (ramp, cf),
        }
    }
}

pub(crate) fn key(image: &RgbaImage, options: &KeyOptions) -> KeyResult {
    let (width, height) = image.dimensions();
    let untouched = |failure, background, border_match, warnings| KeyResult {
        image: image.clone(),
        background,
        border_match,
        transparent_fraction: 0.0,
        soft_edge_fraction: 0.0,
        failure: Some(failure),
        warnings,
    };
    if width == 0 || height == 0 {
        return untouched(KeyFailure::Empty { width, height }, None, 0.0, Vec::new());
    }
    let mut warnings = Vec::new();
    if width.min(height) < MIN_EDGE {
        warnings.push(KeyWarning::TooSmall { width, height });
    }
    let opts = Sane::new(options);
    let (w, h) = (width as usize, height as usize);
    let n = w * h;
    let px = image.as_raw().as_slice();

    // 1. The background colour, and whether the border is plain enough to trust it.
    let border: Vec<usize> = border_indices(w, h).collect();
    let clear = border.iter().filter(|&&i| px[i * 4 + 3] == 0).count();
    if clear * 2 >= border.len() {
        let transparent_border = clear as f32 / border.len() as f32;
        return untouched(
            KeyFailure::AlreadyTransparent { transparent_border },
            None,
            0.0,
            warnings,
        );
    }
    let bg = median_colour(px, &border);
    let background = Rgb([bg[0] as u8, bg[1] as u8, bg[2] as u8]);
    let tol = opts.tolerance;
    // Squared distances are whole numbers: "d² <= tol²" is "d² <= floor(tol²)".
    let tol2 = (tol * tol).floor() as i32;
    let dist2 = |i: usize| {
        let u = sub(rgb_at(px, i), bg);
        dot(u, u)
    };
    let matched = border.iter().filter(|&&i| dist2(i) <= tol2).count();
    let border_match = matched as f32 / border.len() as f32;
    if border_match < opts.min_border_match {
        let failure = KeyFailure::NotUniform {
            background,
            border_match,
            required: opts.min_border_match,
        };
        return untouched(failure, Some(background), border_match, warnings);
    }

    // 2. The background: flood fill from the border through colours within tolerance.
    let near: Vec<bool> = px
        .chunks_exact(4)
        .map(|p| {
            let u = sub([p[0] as i32, p[1] as i32, p[2] as i32], bg);
            dot(u, u) <= tol2
        })
        .collect();
    let mut depth = flood(&near, w, h, &border);
    drop(near);

    // 3. The soft edge: layers 1..=edge_width inward from the background, 4-connected, stepping
    //    only where the colour does not move back towards the background (beyond tolerance).
    let mut frontier: Vec<usize> = Vec::new();
    if opts.edge_width > 0 {
        for y in 0..h {
            let row = y * w;
            for x in 0..w {
                let i = row + x;
                if depth[i] == 0 {
                    continue;
                }
                if (x > 0 && depth[i - 1] == 0)
                    || (x + 1 < w && depth[i + 1] == 0)
                    || (y > 0 && depth[i - w] == 0)
                    || (y + 1 < h && depth[i + w] == 0)
                {
                    depth[i] = 1;
                    frontier.push(i);
                }
            }
        }
    }
    let dist = |i: usize| (dist2(i) as f32).sqrt();
    for layer in 2..=opts.edge_width {
        let mut next = Vec::new();
        for &i in &frontier {
            let (x, y) = (i % w, i / w);
            let floor = dist(i) - tol;
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            for j in neighbours.into_iter().flatten() {
                if depth[j] == UNREACHED && dist(j) >= floor {
                    depth[j] = layer;
                    next.push(j);
                }
            }
        }
        frontier = next;
    }

    // 4. Write the cut-out.
    let edge = Edge {
        px,
        depth: &depth,
        w,
        h,
        bg,
        tol,
        softness: opts.softness,
        radius: opts.edge_width.max(1) as usize,
        mix_tol2: tol.max(MIN_MIX_RESIDUAL).powi(2),
    };
    let mut out = image.clone();
    let (mut transparent, mut softened) = (0usize, 0usize);
    {
        let buf: &mut [u8] = &mut out;
        for y in 0..h {
            let row = y * w;
            for x in 0..w {
                let i = row + x;
                let p = &mut buf[i * 4..i * 4 + 4];
                match depth[i] {
                    0 => {
                        p.copy_from_slice(&[0; 4]);
                        transparent += 1;
                    }
                    UNREACHED => transparent += usize::from(p[3] == 0),
                    _ => {
                        let (alpha, colour) = edge.unmix(i, x, y);
                        let a_in = p[3];
                        let a_out = (alpha * a_in as f32).round().clamp(0.0, a_in as f32) as u8;
                        if a_out == 0 {
                            p.copy_from_slice(&[0; 4]);
                            transparent += 1;
                            continue;
                        }
                        for (ch, &v) in p.iter_mut().zip(&colour) {
                            *ch = v.round().clamp(0.0, 255.0) as u8;
                        }
                        p[3] = a_out;
                        softened += usize::from(a_out < a_in);
                    }
                }
            }
        }
    }

    // 5. Report.
    let transparent_fraction = transparent as f32 / n as f32;
    if transparent_fraction > opts.warn_above {
        warnings.push(KeyWarning::NearlyEverythingRemoved {
            fraction: transparent_fraction,
        });
    } else if transparent_fraction < opts.warn_below {
        warnings.push(KeyWarning::NearlyNothingRemoved {
            fraction: transparent_fraction,
        });
    }
    KeyResult {
        image: out,
        background: Some(background),
        border_match,
        transparent_fraction,
        soft_edge_fraction: softened as f32 / n as f32,
        failure: None,
        warnings,
    }
}
