//! Behaviour of the public imaging API: generator, composites, thumbnails, errors.

use std::collections::HashSet;
use std::path::PathBuf;

use image::{Rgba, RgbaImage};
use reviewdesk_imaging::*;

/// The shape of a real plan: 8 characters, 8 environments, 6 props.
fn plan() -> Vec<(String, ImageKind, String)> {
    let mut v = Vec::new();
    for i in 0..8 {
        v.push((
            format!("Character {i}"),
            ImageKind::Character,
            format!("hero number {i}, brave"),
        ));
        v.push((
            format!("Place {i}"),
            ImageKind::Environment,
            format!("a valley at dawn #{i}"),
        ));
    }
    for i in 0..6 {
        v.push((
            format!("Prop {i}"),
            ImageKind::Prop,
            format!("an old lantern #{i}"),
        ));
    }
    v
}

fn gen_asset(name: &str, kind: ImageKind, prompt: &str, version: u32) -> RgbaImage {
    generate_asset(&AssetSpec {
        name,
        kind,
        prompt,
        version,
    })
}

fn alpha_stats(img: &RgbaImage) -> (usize, usize) {
    let transparent = img.pixels().filter(|p| p[3] == 0).count();
    let opaque = img.pixels().filter(|p| p[3] == 255).count();
    (transparent, opaque)
}

#[test]
fn generated_sizes_and_alpha() {
    let env = gen_asset("Harbour", ImageKind::Environment, "docks at night", 1);
    assert_eq!(env.dimensions(), (1920, 1080));
    assert!(
        env.pixels().all(|p| p[3] == 255),
        "environment must be fully opaque"
    );

    for (kind, size) in [
        (ImageKind::Character, (768, 1024)),
        (ImageKind::Prop, (512, 512)),
    ] {
        let img = gen_asset("Mara", kind, "a sailor", 1);
        assert_eq!(img.dimensions(), size, "{kind:?}");
        let (transparent, opaque) = alpha_stats(&img);
        let total = (size.0 * size.1) as usize;
        assert!(
            transparent > total / 5,
            "{kind:?}: background must be transparent ({transparent})"
        );
        assert!(
            opaque > total / 10,
            "{kind:?}: figure must be opaque ({opaque})"
        );
        // Corners are background.
        assert_eq!(img.get_pixel(0, 0)[3], 0, "{kind:?}");
        assert_eq!(img.get_pixel(size.0 - 1, 0)[3], 0, "{kind:?}");
        // Anti-aliased edges: some partially transparent pixels exist.
        assert!(
            img.pixels().any(|p| p[3] > 0 && p[3] < 255),
            "{kind:?}: no AA edge"
        );
    }
}

#[test]
fn whole_plan_is_distinct_and_deterministic() {
    let mut seen = HashSet::new();
    for (name, kind, prompt) in plan() {
        let img = gen_asset(&name, kind, &prompt, 1);
        let png = encode_png(&img).expect("encode");
        assert!(seen.insert(png), "{name} looks exactly like another asset");
        assert_eq!(
            img,
            gen_asset(&name, kind, &prompt, 1),
            "{name}: not deterministic"
        );
    }
    assert_eq!(seen.len(), 22);
}

#[test]
fn version_and_prompt_change_the_picture_not_just_the_label() {
    for kind in [
        ImageKind::Character,
        ImageKind::Environment,
        ImageKind::Prop,
    ] {
        let v1 = gen_asset("Mara", kind, "a sailor", 1);
        let v2 = gen_asset("Mara", kind, "a sailor", 2);
        let other_prompt = gen_asset("Mara", kind, "a pirate", 1);
        for other in [&v2, &other_prompt] {
            let differing = v1
                .pixels()
                .zip(other.pixels())
                .filter(|(a, b)| a != b)
                .count();
            let total = (v1.width() * v1.height()) as usize;
            // Visibly different: far more than a label's worth of pixels.
            assert!(
                differing > total / 10,
                "{kind:?}: only {differing} pixels differ"
            );
        }
    }
}

#[test]
fn png_round_trip_keeps_pixels() {
    for kind in [ImageKind::Character, ImageKind::Environment] {
        let img = gen_asset("Round Trip", kind, "p", 3);
        let back = decode(&encode_png(&img).unwrap()).unwrap();
        assert_eq!(img, back, "{kind:?}");
    }
}

fn solid(w: u32, h: u32, c: [u8; 4]) -> RgbaImage {
    RgbaImage::from_pixel(w, h, Rgba(c))
}

#[test]
fn composite_is_1920x1080_for_any_environment_size() {
    let character = gen_asset("Mara", ImageKind::Character, "a sailor", 1);
    for (w, h) in [
        (1920, 1080),
        (1280, 720),
        (1000, 1000),
        (800, 1200),
        (4000, 1000),
        (3, 2),
        (1, 1),
    ] {
        let env = solid(w, h, [10, 120, 200, 255]);
        let out = composite(&character, &env);
        assert_eq!(out.dimensions(), (1920, 1080), "env {w}x{h}");
        assert!(
            out.pixels().all(|p| p[3] == 255),
            "env {w}x{h}: composite must be opaque"
        );
        let out = split_screen(&character, &character, &env);
        assert_eq!(out.dimensions(), (1920, 1080), "split env {w}x{h}");
    }
    let empty = RgbaImage::new(0, 0);
    assert_eq!(composite(&empty, &empty).dimensions(), (1920, 1080));
}

#[test]
fn composite_blends_character_over_environment() {
    // Character: left half opaque red, right half 50 % red, transparent border.
    let mut ch = RgbaImage::new(100, 200);
    for y in 20..180 {
        for x in 20..80 {
            let a = if x < 50 { 255 } else { 128 };
            ch.put_pixel(x, y, Rgba([255, 0, 0, a]));
        }
    }
    let env = solid(1920, 1080, [0, 0, 255, 255]);
    let out = composite(&ch, &env);
    // Scaled by 972/200 = 4.86 and centred: x 717..1203, feet at 1048.
    let blue = out.get_pixel(100, 100);
    assert_eq!(
        blue.0,
        [0, 0, 255, 255],
        "environment shows where there is no character"
    );
    let transparent_border = out.get_pixel(960, 1048 - 972 + 40);
    assert_eq!(transparent_border.0, [0, 0, 255, 255]);
    let opaque = out.get_pixel(960 - 60, 560);
    assert_eq!(
        opaque.0,
        [255, 0, 0, 255],
        "opaque character pixels replace the environment"
    );
    let half = out.get_pixel(960 + 60, 560);
    assert!(
        (120..=136).contains(&half[0])
            && (119..=135).contains(&half[2])
            && half[1] == 0
            && half[3] == 255,
        "50 % red over blue must be purple, got {:?}",
        half.0
    );
}

#[test]
fn split_screen_places_two_characters() {
    let red = solid(100, 200, [255, 0, 0, 255]);
    let green = solid(100, 200, [0, 255, 0, 255]);
    let env = solid(640, 480, [0, 0, 255, 255]);
    let out = split_screen(&red, &green, &env);
    assert_eq!(out.get_pixel(480, 600).0, [255, 0, 0, 255]);
    assert_eq!(out.get_pixel(1440, 600).0, [0, 255, 0, 255]);
    assert_eq!(out.get_pixel(960, 600).0, [0, 0, 255, 255]);
}

#[test]
fn thumbnails_have_right_size_and_format() {
    let env = gen_asset("Harbour", ImageKind::Environment, "docks", 1);
    let t = thumbnail_from_image(&env, THUMB_MAX_EDGE).unwrap();
    assert_eq!((t.width, t.height, t.format), (640, 360, ThumbFormat::Jpeg));
    assert!(t.bytes.starts_with(&[0xff, 0xd8, 0xff]), "JPEG magic");
    let back = image::load_from_memory(&t.bytes).unwrap();
    assert_eq!((back.width(), back.height()), (640, 360));

    let ch = gen_asset("Mara", ImageKind::Character, "sailor", 1);
    let t = thumbnail_from_image(&ch, THUMB_MAX_EDGE).unwrap();
    assert_eq!((t.width, t.height, t.format), (480, 640, ThumbFormat::Png));
    let back = decode(&t.bytes).unwrap();
    assert_eq!(back.dimensions(), (480, 640));
    assert_eq!(back.get_pixel(0, 0)[3], 0, "transparency survives");

    // From encoded bytes too, both formats.
    let t = thumbnail_from_bytes(&encode_png(&env).unwrap(), 320).unwrap();
    assert_eq!((t.width, t.height, t.format), (320, 180, ThumbFormat::Jpeg));
    let prop = gen_asset("Lamp", ImageKind::Prop, "lamp", 1);
    let t = thumbnail_from_bytes(&encode_png(&prop).unwrap(), 640).unwrap();
    assert_eq!((t.width, t.height, t.format), (512, 512, ThumbFormat::Png));
    let jpeg = thumbnail_from_image(&env, 1000).unwrap();
    let t = thumbnail_from_bytes(&jpeg.bytes, 100).unwrap();
    assert_eq!((t.width, t.height, t.format), (100, 56, ThumbFormat::Jpeg));
}

#[test]
fn corrupt_and_truncated_input_is_an_error_not_a_panic() {
    for bad in [
        &b""[..],
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n garbage after magic",
        &[0xff, 0xd8, 0xff, 0xe0, 0, 0],
    ] {
        assert!(
            matches!(decode(bad), Err(ImagingError::Decode(_))),
            "{bad:?}"
        );
        assert!(matches!(
            thumbnail_from_bytes(bad, 640),
            Err(ImagingError::Decode(_))
        ));
    }
    let png = encode_png(&gen_asset("Harbour", ImageKind::Environment, "docks", 1)).unwrap();
    for cut in [20, 40, 100, png.len() / 2, png.len() - 20] {
        let r = thumbnail_from_bytes(&png[..cut], 640);
        assert!(
            matches!(r, Err(ImagingError::Decode(_))),
            "truncated at {cut}: {r:?}"
        );
        assert!(decode(&png[..cut]).is_err());
    }
    // Flipped bytes in the middle of the pixel data: error or picture, never a panic.
    let mut flipped = png.clone();
    for i in (png.len() / 3..png.len() / 3 + 64).step_by(3) {
        flipped[i] ^= 0x5a;
    }
    let _ = thumbnail_from_bytes(&flipped, 640);
}

#[test]
fn files_in_parallel_keep_order_and_report_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, kind) in [
        ImageKind::Environment,
        ImageKind::Character,
        ImageKind::Prop,
    ]
    .into_iter()
    .enumerate()
    {
        let p = dir.path().join(format!("{i}.png"));
        std::fs::write(&p, encode_png(&gen_asset("F", kind, "p", 1)).unwrap()).unwrap();
        paths.push(p);
    }
    let missing = dir.path().join("missing.png");
    paths.push(missing.clone());
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnope").unwrap();
    paths.push(corrupt);

    let out = thumbnails_from_files(&paths, THUMB_MAX_EDGE);
    assert_eq!(out.len(), 5);
    let t: Vec<_> = out[..3].iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        (t[0].width, t[0].height, t[0].format),
        (640, 360, ThumbFormat::Jpeg)
    );
    assert_eq!(
        (t[1].width, t[1].height, t[1].format),
        (480, 640, ThumbFormat::Png)
    );
    assert_eq!(
        (t[2].width, t[2].height, t[2].format),
        (512, 512, ThumbFormat::Png)
    );
    match &out[3] {
        Err(ImagingError::Io { path, .. }) => assert_eq!(path, &missing),
        other => panic!("missing file should be an Io error, got {other:?}"),
    }
    match &out[4] {
        Err(e @ ImagingError::Decode(msg)) => {
            assert!(
                msg.contains("corrupt.png"),
                "error should name the file: {msg}"
            );
            assert!(e.to_string().contains("corrupt"));
        }
        other => panic!("corrupt file should be a Decode error, got {other:?}"),
    }
}
