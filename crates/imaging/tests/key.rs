//! Background keying: a subject generated on one plain colour becomes a cut-out.

use std::time::{Duration, Instant};

use image::{Rgb, Rgba, RgbaImage};
use proptest::prelude::*;
use reviewdesk_imaging::*;

const GREEN: [u8; 3] = [0, 255, 0];
const WHITE: [u8; 3] = [255, 255, 255];

/// Share of the pixel `(x, y)` covered by a disc, from 8x8 samples: a real anti-aliased edge.
fn disc_coverage(x: u32, y: u32, cx: f32, cy: f32, r: f32) -> f32 {
    let mut inside = 0;
    for sy in 0..8 {
        for sx in 0..8 {
            let px = x as f32 + (sx as f32 + 0.5) / 8.0;
            let py = y as f32 + (sy as f32 + 0.5) / 8.0;
            if (px - cx).powi(2) + (py - cy).powi(2) <= r * r {
                inside += 1;
            }
        }
    }
    inside as f32 / 64.0
}

fn mix(fg: [u8; 3], bg: [u8; 3], cov: f32) -> Rgba<u8> {
    let m = |f: u8, b: u8| (f as f32 * cov + b as f32 * (1.0 - cov)).round() as u8;
    Rgba([m(fg[0], bg[0]), m(fg[1], bg[1]), m(fg[2], bg[2]), 255])
}

/// A `fg` disc of radius `r` in the middle of a `size` square of `bg`, with its coverage map.
fn disc_on(bg: [u8; 3], fg: [u8; 3], size: u32, r: f32) -> (RgbaImage, Vec<f32>) {
    let c = size as f32 / 2.0;
    let mut cov = Vec::new();
    let img = RgbaImage::from_fn(size, size, |x, y| {
        let k = disc_coverage(x, y, c, c, r);
        cov.push(k);
        mix(fg, bg, k)
    });
    // from_fn fills row by row, as the coverage was pushed.
    (img, cov)
}

fn key(img: &RgbaImage) -> KeyResult {
    key_background(img, &KeyOptions::default())
}

fn alpha(img: &RgbaImage) -> Vec<u8> {
    img.pixels().map(|p| p[3]).collect()
}

fn assert_keyed_without_warnings(r: &KeyResult, bg: [u8; 3]) {
    assert!(r.keyed(), "keying failed: {}", r.failure.as_ref().unwrap());
    assert_eq!(r.background, Some(Rgb(bg)));
    assert_eq!(r.border_match, 1.0);
    assert!(
        r.warnings.is_empty(),
        "unexpected warnings: {:?}",
        r.warnings
    );
}

#[test]
fn subject_on_green_becomes_transparent_outside_and_opaque_inside() {
    let fg = [200, 40, 60];
    let (img, cov) = disc_on(GREEN, fg, 128, 40.0);
    let r = key(&img);
    assert_keyed_without_warnings(&r, GREEN);
    assert_eq!(r.image.dimensions(), img.dimensions());
    for (i, (p, &k)) in r.image.pixels().zip(&cov).enumerate() {
        if k == 0.0 {
            assert_eq!(p.0, [0, 0, 0, 0], "background pixel {i} not cleared");
        }
        if k == 1.0 {
            assert_eq!(
                p.0,
                img.as_raw()[i * 4..i * 4 + 4],
                "subject pixel {i} changed"
            );
        }
    }
    let outside = cov.iter().filter(|&&k| k == 0.0).count() as f32 / cov.len() as f32;
    let edge = cov.iter().filter(|&&k| k > 0.0 && k < 1.0).count() as f32 / cov.len() as f32;
    assert!(r.transparent_fraction >= outside && r.transparent_fraction <= outside + edge);
    assert!(r.soft_edge_fraction > 0.0 && r.soft_edge_fraction <= edge);
}

#[test]
fn background_coloured_hole_inside_the_subject_stays_opaque() {
    // A blue ring: green outside and green in a hole that does not touch the border.
    let (outer, cov_outer) = disc_on(GREEN, [30, 60, 200], 128, 44.0);
    let mut img = outer.clone();
    for (i, p) in img.pixels_mut().enumerate() {
        let (x, y) = ((i % 128) as u32, (i / 128) as u32);
        let hole = disc_coverage(x, y, 64.0, 64.0, 16.0);
        if hole > 0.0 {
            *p = mix(GREEN, [30, 60, 200], hole);
        }
    }
    let r = key(&img);
    assert_keyed_without_warnings(&r, GREEN);
    let mut hole_pixels = 0;
    for (i, p) in r.image.pixels().enumerate() {
        let (x, y) = ((i % 128) as u32, (i / 128) as u32);
        if disc_coverage(x, y, 64.0, 64.0, 15.0) == 1.0 {
            hole_pixels += 1;
            assert_eq!(
                p.0,
                [0, 255, 0, 255],
                "hole pixel ({x}, {y}) was punched out"
            );
        }
        if cov_outer[i] == 0.0 {
            assert_eq!(p[3], 0, "outside pixel ({x}, {y}) kept");
        }
    }
    assert!(hole_pixels > 500);
}

#[test]
fn anti_aliased_edges_get_partial_alpha_and_keep_no_green_tint() {
    // Mid grey: any green left in the edge shows as green above red and blue.
    let grey = [128, 128, 128];
    let (img, cov) = disc_on(GREEN, grey, 160, 50.3);
    let r = key(&img);
    assert_keyed_without_warnings(&r, GREEN);
    let tint = |p: &[u8]| p[1] as f32 - (p[0] as f32 + p[2] as f32) / 2.0;
    let (mut partial, mut tint_sum, mut tint_before) = (0, 0.0, 0.0);
    for (i, (p, &k)) in r.image.pixels().zip(&cov).enumerate() {
        let a = p[3] as f32 / 255.0;
        if k >= 0.25 {
            assert!(
                (a - k).abs() <= 0.05,
                "pixel {i}: alpha {a:.3}, coverage {k:.3}"
            );
        }
        if k <= 0.125 {
            assert_eq!(p[3], 0, "pixel {i}: coverage {k:.3} kept");
        }
        if p[3] > 0 && p[3] < 255 {
            partial += 1;
            let t = tint(&p.0);
            assert!(t.abs() <= 6.0, "pixel {i} (alpha {}): tint {t}", p[3]);
            tint_sum += t.abs();
            tint_before += tint(&img.as_raw()[i * 4..i * 4 + 3]);
        }
    }
    assert!(partial > 200, "only {partial} soft edge pixels");
    let (after, before) = (tint_sum / partial as f32, tint_before / partial as f32);
    assert!(after <= 1.5, "mean green tint {after:.2} left in the edge");
    assert!(
        before > 50.0,
        "the test edge should start green ({before:.1})"
    );
}

#[test]
fn dark_outline_next_to_a_bright_fill_stays_opaque() {
    // White fill in a 3-pixel black outline on green: the outline is not a mix of green and white,
    // so it must not be made see-through.
    let size = 128;
    let img = RgbaImage::from_fn(size, size, |x, y| {
        let outer = disc_coverage(x, y, 64.0, 64.0, 40.0);
        let inner = disc_coverage(x, y, 64.0, 64.0, 37.0);
        let subject = mix([0, 0, 0], [255, 255, 255], 1.0 - inner);
        let s = [subject[0], subject[1], subject[2]];
        mix(s, GREEN, outer)
    });
    let r = key(&img);
    assert_keyed_without_warnings(&r, GREEN);
    for (x, y, p) in r.image.enumerate_pixels() {
        if disc_coverage(x, y, 64.0, 64.0, 39.0) == 1.0 {
            assert_eq!(
                p[3], 255,
                "({x}, {y}) inside the outline became see-through"
            );
        }
    }
}

#[test]
fn white_background_keys_and_keeps_grey_inside_a_black_outline() {
    // On white every grey lies between the background and black: the grey just inside a thin
    // black outline must not be taken for a white-to-black edge.
    let img = RgbaImage::from_fn(128, 128, |x, y| {
        let outer = disc_coverage(x, y, 64.0, 64.0, 40.0);
        let inner = disc_coverage(x, y, 64.0, 64.0, 39.0);
        let fill = mix([0, 0, 0], [150, 150, 150], 1.0 - inner);
        mix([fill[0], fill[1], fill[2]], WHITE, outer)
    });
    let r = key(&img);
    assert_keyed_without_warnings(&r, WHITE);
    for (x, y, p) in r.image.enumerate_pixels() {
        let outer = disc_coverage(x, y, 64.0, 64.0, 40.0);
        if outer == 0.0 {
            assert_eq!(p[3], 0, "({x}, {y}) outside kept");
        }
        if disc_coverage(x, y, 64.0, 64.0, 39.5) == 1.0 {
            assert_eq!(
                p.0,
                img.get_pixel(x, y).0,
                "({x}, {y}) inside the outline changed"
            );
        }
    }
}

#[test]
fn background_colour_just_inside_a_thin_outline_stays_opaque() {
    // A white eye in a one-pixel black outline, on white: the soft edge must not step over the
    // outline into the white behind it.
    let img = RgbaImage::from_fn(64, 64, |x, y| {
        let on_outline = (16..=47).contains(&x)
            && (16..=47).contains(&y)
            && (x == 16 || x == 47 || y == 16 || y == 47);
        if on_outline {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([255, 255, 255, 255])
        }
    });
    let r = key(&img);
    assert_keyed_without_warnings(&r, WHITE);
    for (x, y, p) in r.image.enumerate_pixels() {
        let inside = (16..=47).contains(&x) && (16..=47).contains(&y);
        if inside {
            assert_eq!(
                p.0,
                img.get_pixel(x, y).0,
                "({x}, {y}) inside the outline changed"
            );
        } else {
            assert_eq!(p[3], 0, "({x}, {y}) outside kept");
        }
    }
}

#[test]
fn other_plain_background_colours_key_too() {
    for (bg, fg) in [
        (WHITE, [180, 30, 30]),
        ([255, 0, 255], [40, 160, 60]),
        ([0, 0, 255], [240, 200, 20]),
        ([40, 40, 40], [250, 250, 250]),
        ([120, 180, 230], [90, 50, 20]),
    ] {
        let (img, cov) = disc_on(bg, fg, 96, 30.0);
        let r = key(&img);
        assert_keyed_without_warnings(&r, bg);
        for (i, (p, &k)) in r.image.pixels().zip(&cov).enumerate() {
            if k == 0.0 {
                assert_eq!(p[3], 0, "{bg:?}: outside pixel {i} kept");
            }
            if k == 1.0 {
                assert_eq!(p[3], 255, "{bg:?}: subject pixel {i} lost");
            }
        }
    }
}

/// xorshift64*: deterministic noise for test pictures.
fn noise(seed: u64) -> impl FnMut() -> u8 {
    let mut s = seed | 1;
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
    }
}

fn assert_refused_untouched(img: &RgbaImage, what: &str) {
    let r = key(img);
    let failure = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("{what} was keyed"));
    assert!(
        matches!(failure, KeyFailure::NotUniform { .. }),
        "{what}: {failure:?}"
    );
    let msg = failure.to_string();
    assert!(
        msg.starts_with("the background is not one plain colour (only ") && msg.contains(" % "),
        "{what}: {msg}"
    );
    assert!(r.border_match < KeyOptions::default().min_border_match);
    assert_eq!(r.image, *img, "{what}: the image was changed");
    assert_eq!(r.transparent_fraction, 0.0);
}

#[test]
fn noisy_background_is_refused_with_a_reason_and_left_unchanged() {
    let mut n = noise(7);
    let img = RgbaImage::from_fn(64, 48, |_, _| Rgba([n(), n(), n(), 255]));
    assert_refused_untouched(&img, "noise");
    // Green with strong grain is not a plain colour either.
    let mut n = noise(11);
    let img = RgbaImage::from_fn(64, 48, |_, _| {
        let g = n() / 2;
        Rgba([g, 255 - g, g, 255])
    });
    assert_refused_untouched(&img, "grainy green");
}

#[test]
fn gradient_background_is_refused_with_a_reason_and_left_unchanged() {
    let img = RgbaImage::from_fn(200, 150, |x, y| {
        Rgba([(x * 255 / 199) as u8, 120, (y * 255 / 149) as u8, 255])
    });
    assert_refused_untouched(&img, "gradient");
}

#[test]
fn photographic_scene_is_refused_with_a_reason_and_left_unchanged() {
    let scene = generate_asset(&AssetSpec {
        name: "Harbour",
        kind: ImageKind::Environment,
        prompt: "docks at night under a cloudy sky",
        version: 1,
    });
    assert_refused_untouched(&scene, "environment");
}

#[test]
fn tiny_images_do_not_panic_and_get_a_warning() {
    let mut n = noise(3);
    for (w, h) in [(1, 1), (2, 2), (1, 5), (3, 1), (2, 3), (15, 15)] {
        for plain in [true, false] {
            let img = RgbaImage::from_fn(w, h, |_, _| {
                if plain {
                    Rgba([0, 255, 0, 255])
                } else {
                    Rgba([n(), n(), n(), 255])
                }
            });
            let r = key(&img);
            assert_eq!(r.image.dimensions(), (w, h));
            assert!(
                r.warnings.contains(&KeyWarning::TooSmall {
                    width: w,
                    height: h
                }),
                "{w}x{h}: {:?}",
                r.warnings
            );
            assert!(r.warnings[0].to_string().contains("too small"));
            if plain {
                assert!(r.keyed());
                assert_eq!(r.transparent_fraction, 1.0);
            }
        }
    }
}

#[test]
fn empty_image_is_refused() {
    for (w, h) in [(0, 0), (0, 5), (5, 0)] {
        let r = key(&RgbaImage::new(w, h));
        assert_eq!(
            r.failure,
            Some(KeyFailure::Empty {
                width: w,
                height: h
            })
        );
        assert!(r.failure.unwrap().to_string().contains("empty"));
    }
}

#[test]
fn plain_picture_is_removed_entirely_with_a_warning() {
    let img = RgbaImage::from_pixel(256, 256, Rgba([0, 255, 0, 255]));
    let r = key(&img);
    assert!(r.keyed());
    assert_eq!(r.transparent_fraction, 1.0);
    assert_eq!(
        r.warnings,
        vec![KeyWarning::NearlyEverythingRemoved { fraction: 1.0 }]
    );
    assert!(
        r.warnings[0]
            .to_string()
            .starts_with("nearly the whole picture matched the background colour (100 % removed)")
    );
}

#[test]
fn subject_filling_the_frame_warns_that_almost_nothing_was_removed() {
    let img = RgbaImage::from_fn(200, 200, |x, y| {
        if x == 0 || y == 0 || x == 199 || y == 199 {
            Rgba([0, 255, 0, 255])
        } else {
            Rgba([90, 40, 160, 255])
        }
    });
    let r = key(&img);
    assert!(r.keyed());
    assert!(matches!(
        r.warnings.as_slice(),
        [KeyWarning::NearlyNothingRemoved { .. }]
    ));
    assert!(r.warnings[0].to_string().contains("(1 % removed)"));
}

#[test]
fn subject_cut_off_by_the_frame_still_keys() {
    // A character standing on the bottom edge: a fifth of the border is the subject.
    let (mut img, _) = disc_on(GREEN, [180, 120, 90], 100, 30.0);
    for y in 60..100 {
        for x in 30..70 {
            img.put_pixel(x, y, Rgba([180, 120, 90, 255]));
        }
    }
    let r = key(&img);
    assert!(r.keyed(), "{:?}", r.failure);
    assert!(r.border_match > 0.85 && r.border_match < 1.0);
    assert_eq!(r.image.get_pixel(0, 0)[3], 0);
    assert_eq!(r.image.get_pixel(50, 99)[3], 255);
}

#[test]
fn already_transparent_cut_out_is_refused_and_left_unchanged() {
    let prop = generate_asset(&AssetSpec {
        name: "Lantern",
        kind: ImageKind::Prop,
        prompt: "an old lantern",
        version: 1,
    });
    let r = key(&prop);
    assert!(matches!(
        r.failure,
        Some(KeyFailure::AlreadyTransparent { .. })
    ));
    assert_eq!(r.image, prop);
}

/// The built-in generator's anti-aliased character, laid over green with straight-alpha "over"
/// and keyed again: the alpha comes back and the edge colours are the character's, not green.
#[test]
fn generated_character_on_green_gets_its_own_alpha_back() {
    let character = generate_asset(&AssetSpec {
        name: "Mira",
        kind: ImageKind::Character,
        prompt: "a brave explorer in a red coat",
        version: 1,
    });
    let on_green = RgbaImage::from_fn(character.width(), character.height(), |x, y| {
        let p = character.get_pixel(x, y);
        mix([p[0], p[1], p[2]], GREEN, p[3] as f32 / 255.0)
    });
    let r = key(&on_green);
    assert!(r.keyed(), "{:?}", r.failure);
    let (want, got) = (alpha(&character), alpha(&r.image));
    let n = want.len() as f32;
    let err: Vec<f32> = want
        .iter()
        .zip(&got)
        .map(|(&a, &b)| (a as f32 - b as f32).abs() / 255.0)
        .collect();
    let mean = err.iter().sum::<f32>() / n;
    let off = err.iter().filter(|&&e| e > 0.1).count() as f32 / n;
    assert!(mean < 0.002, "mean alpha error {mean:.4}");
    assert!(
        off < 0.001,
        "{:.3} % of pixels off by more than 0.1",
        off * 100.0
    );
    // Where the character is partly transparent, its colour comes back without green added.
    let mut fringe = Vec::new();
    for (o, k) in character.pixels().zip(r.image.pixels()) {
        if o[3] > 40 && o[3] < 215 && k[3] > 0 && k[3] < 255 {
            fringe.push(k[1] as f32 - o[1] as f32);
        }
    }
    assert!(fringe.len() > 100, "only {} edge pixels", fringe.len());
    let mean_green = fringe.iter().sum::<f32>() / fringe.len() as f32;
    assert!(
        mean_green < 4.0,
        "edges keep {mean_green:.1} levels of green"
    );
}

#[test]
fn keys_a_1024_square_in_tens_of_milliseconds() {
    let (img, _) = disc_on(GREEN, [200, 40, 60], 1024, 300.0);
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            let r = key(&img);
            assert!(r.keyed());
            t.elapsed()
        })
        .min()
        .unwrap();
    // Generous for a loaded CI core; typically far less.
    assert!(best < Duration::from_millis(150), "took {best:?}");
}

/// Pixels from a small palette (so the border is often plain and keying runs), or anything.
fn pixel() -> impl Strategy<Value = [u8; 4]> {
    prop_oneof![
        3 => Just([0, 255, 0, 255]),
        1 => Just([10, 240, 20, 255]),
        1 => Just([200, 30, 30, 255]),
        1 => Just([0, 128, 0, 255]),
        1 => (any::<u8>()).prop_map(|a| [0, 255, 0, a]),
        2 => any::<[u8; 4]>(),
    ]
}

fn small_image() -> impl Strategy<Value = RgbaImage> {
    (0u32..12, 0u32..12).prop_flat_map(|(w, h)| {
        proptest::collection::vec(pixel(), (w * h) as usize).prop_map(move |px| {
            RgbaImage::from_raw(w, h, px.into_iter().flatten().collect()).unwrap()
        })
    })
}

fn options() -> impl Strategy<Value = KeyOptions> {
    let any_f32 = prop_oneof![
        4 => 0.0f32..120.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-5.0f32),
    ];
    (any_f32.clone(), any_f32, 0u32..12, -0.5f32..1.5).prop_map(|(t, s, e, m)| KeyOptions {
        tolerance: t,
        softness: s,
        edge_width: e,
        min_border_match: m,
        ..KeyOptions::default()
    })
}

proptest! {
    #[test]
    fn keying_never_panics_keeps_the_size_and_only_lowers_alpha(
        img in small_image(),
        opts in options(),
    ) {
        let r = key_background(&img, &opts);
        prop_assert_eq!(r.image.dimensions(), img.dimensions());
        for (before, after) in img.pixels().zip(r.image.pixels()) {
            prop_assert!(after[3] <= before[3]);
        }
        if !r.keyed() {
            prop_assert_eq!(&r.image, &img);
        }
        for f in [r.border_match, r.transparent_fraction, r.soft_edge_fraction] {
            prop_assert!((0.0..=1.0).contains(&f));
        }
    }
}
