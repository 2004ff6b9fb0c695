//! Real media for the doubles: PNGs painted in memory, MP4s and MP3s made by ffmpeg once per
//! shape and cached (in memory, and on disk under the temp dir so test processes share them).

use std::collections::HashMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};
use tokio::sync::OnceCell;

/// Where ffmpeg is looked for first (Debian's package); `ffmpeg` on the PATH otherwise.
pub const FFMPEG: &str = "/usr/bin/ffmpeg";

/// Bump when the command lines change, so stale files on disk are not served.
const CACHE_VERSION: &str = "v1";

fn ffmpeg() -> PathBuf {
    let p = PathBuf::from(FFMPEG);
    if p.exists() {
        p
    } else {
        PathBuf::from("ffmpeg")
    }
}

/// The length of the speech the ElevenLabs double returns for `text`: 0.07 s per character,
/// at least 0.5 s.
pub fn mp3_duration_for_text(text: &str) -> f64 {
    (text.chars().count() as f64 * 0.07).max(0.5)
}

/// The first `#rrggbb` in `prompt`, if any.
pub(crate) fn hex_colour(prompt: &str) -> Option<[u8; 3]> {
    let b = prompt.as_bytes();
    (0..b.len()).find_map(|i| {
        if b[i] != b'#' || i + 7 > b.len() {
            return None;
        }
        let hex = std::str::from_utf8(&b[i + 1..i + 7]).ok()?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        // `#00ff00aa` is not a 6-digit colour.
        if b.get(i + 7).is_some_and(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        Some([(v >> 16) as u8, (v >> 8) as u8, v as u8])
    })
}

/// A picture: filled shapes (a disc over a bar) in the middle of a perfectly uniform background.
pub(crate) fn paint_png(width: u32, height: u32, background: [u8; 3]) -> Vec<u8> {
    encode_png(&paint(width, height, background))
}

fn paint(width: u32, height: u32, background: [u8; 3]) -> RgbImage {
    let [r, g, b] = background;
    let mut subject = [255 - r, 255 - g, 255 - b];
    if subject
        .iter()
        .zip(background)
        .all(|(s, bg)| s.abs_diff(bg) < 64)
    {
        subject = if r as u32 + g as u32 + b as u32 > 384 {
            [0, 0, 0]
        } else {
            [255, 255, 255]
        };
    }
    let mut img = RgbImage::from_pixel(width, height, Rgb(background));
    let (cx, cy) = (width as i64 / 2, height as i64 * 2 / 5);
    let radius = (width.min(height) / 5) as i64;
    let accent = [subject[1], subject[2], subject[0]];
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (dx, dy) = (x as i64 - cx, y as i64 - cy);
        if dx * dx + dy * dy <= radius * radius {
            *px = Rgb(subject);
        } else if (x as i64 - cx).abs() <= width as i64 / 4
            && y as i64 >= height as i64 * 13 / 20
            && y as i64 <= height as i64 * 3 / 4
        {
            *px = Rgb(accent);
        }
    }
    img
}

/// A picture like [`paint_png`]'s on a background that changes across the frame (a gradient),
/// so no plain colour can be keyed out of it.
pub(crate) fn paint_busy_png(width: u32, height: u32) -> Vec<u8> {
    let mut img = paint(width, height, [255, 255, 255]);
    let (w, h) = (width.max(1), height.max(1));
    for (x, y, px) in img.enumerate_pixels_mut() {
        if *px == Rgb([255, 255, 255]) {
            *px = Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 160]);
        }
    }
    encode_png(&img)
}

fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = PngEncoder::new_with_quality(
        Cursor::new(&mut out),
        CompressionType::Fast,
        FilterType::Sub,
    );
    // Encoding an in-memory RGB buffer of the right size cannot fail.
    if enc
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .is_err()
    {
        out.clear();
    }
    out
}

/// Width and height of a PNG or JPEG, from its header; `None` for anything else.
pub(crate) fn image_dimensions(bytes: &[u8]) -> Option<(&'static str, u32, u32)> {
    let format = image::guess_format(bytes).ok()?;
    let kind = match format {
        image::ImageFormat::Png => "png",
        image::ImageFormat::Jpeg => "jpeg",
        _ => return None,
    };
    let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader.into_dimensions().ok()?;
    Some((kind, w, h))
}

type Cell = Arc<OnceCell<Bytes>>;
static CACHE: Mutex<Option<HashMap<String, Cell>>> = Mutex::new(None);

/// The output of `ffmpeg <args> <file>` for a cache `name`, made once.
pub(crate) async fn ffmpeg_cached(name: &str, args: &[String]) -> Result<Bytes, String> {
    let cell = {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get_or_insert_with(HashMap::new)
            .entry(name.to_owned())
            .or_default()
            .clone()
    };
    cell.get_or_try_init(|| make(name, args)).await.cloned()
}

async fn make(name: &str, args: &[String]) -> Result<Bytes, String> {
    let dir = std::env::temp_dir().join(format!("provider-doubles-media-{CACHE_VERSION}"));
    let path = dir.join(name);
    if let Ok(b) = tokio::fs::read(&path).await
        && !b.is_empty()
    {
        return Ok(Bytes::from(b));
    }
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        "{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let out = tokio::process::Command::new(ffmpeg())
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(&tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run ffmpeg ({}): {e}", ffmpeg().display()))?;
    if !out.status.success() {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(format!(
            "ffmpeg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| format!("cannot store {}: {e}", path.display()))?;
    tokio::fs::read(&path)
        .await
        .map(Bytes::from)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// An H.264 MP4 (yuv420p, 24 fps, `testsrc2`) of exactly `secs` seconds at `width`x`height`.
pub(crate) async fn mp4(secs: u32, width: u32, height: u32) -> Result<Bytes, String> {
    let args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={width}x{height}:rate=24"),
        "-t",
        &secs.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ffmpeg_cached(&format!("kling-{secs}s-{width}x{height}.mp4"), &args).await
}

/// How the ElevenLabs double encodes an `output_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioFormat {
    /// MP3 at this sample rate and bitrate (kbit/s).
    Mp3 { rate: u32, kbps: u32 },
    /// Raw signed 16-bit little-endian PCM at this sample rate.
    Pcm { rate: u32 },
}

impl AudioFormat {
    /// The formats ElevenLabs documents that the double can make.
    pub(crate) const NAMES: &'static [&'static str] = &[
        "mp3_22050_32",
        "mp3_44100_32",
        "mp3_44100_64",
        "mp3_44100_96",
        "mp3_44100_128",
        "mp3_44100_192",
        "pcm_16000",
        "pcm_22050",
        "pcm_24000",
        "pcm_44100",
    ];

    pub(crate) fn parse(name: &str) -> Option<Self> {
        if !Self::NAMES.contains(&name) {
            return None;
        }
        let mut it = name.split('_');
        let kind = it.next()?;
        let rate: u32 = it.next()?.parse().ok()?;
        match kind {
            "mp3" => Some(Self::Mp3 {
                rate,
                kbps: it.next()?.parse().ok()?,
            }),
            _ => Some(Self::Pcm { rate }),
        }
    }

    pub(crate) fn mime(self) -> &'static str {
        match self {
            Self::Mp3 { .. } => "audio/mpeg",
            Self::Pcm { .. } => "audio/pcm",
        }
    }
}

/// Mono audio of `secs` seconds: a 440 Hz tone (speech) or pink noise (sound effects).
pub(crate) async fn audio(secs: f64, format: AudioFormat, noise: bool) -> Result<Bytes, String> {
    let millis = (secs * 1000.0).round() as u64;
    let secs = format!("{}.{:03}", millis / 1000, millis % 1000);
    let (rate, tail): (u32, Vec<String>) = match format {
        AudioFormat::Mp3 { rate, kbps } => (
            rate,
            vec![
                "-c:a".into(),
                "libmp3lame".into(),
                "-b:a".into(),
                format!("{kbps}k"),
                "-f".into(),
                "mp3".into(),
            ],
        ),
        AudioFormat::Pcm { rate } => (rate, vec!["-f".into(), "s16le".into()]),
    };
    let source = if noise {
        format!("anoisesrc=d={secs}:c=pink:r={rate}:a=0.3")
    } else {
        format!("sine=frequency=440:sample_rate={rate}:duration={secs}")
    };
    let mut args: Vec<String> = vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        source,
        "-ac".into(),
        "1".into(),
        "-ar".into(),
        rate.to_string(),
    ];
    args.extend(tail);
    let name = format!(
        "eleven-{}-{millis}ms-{format:?}",
        if noise { "sfx" } else { "tts" }
    )
    .replace([' ', '{', '}', ':', ','], "");
    ffmpeg_cached(&name, &args).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours_are_found_in_prompts() {
        assert_eq!(hex_colour("a cat on #00ff00 grass"), Some([0, 255, 0]));
        assert_eq!(hex_colour("#FFaa10"), Some([255, 170, 16]));
        assert_eq!(hex_colour("issue #12 on #abcdef1"), None);
        assert_eq!(hex_colour("no colour"), None);
        assert_eq!(hex_colour("ends with #12345"), None);
    }

    #[test]
    fn the_painted_png_has_a_uniform_background_and_a_subject() {
        let png = paint_png(400, 300, [0, 255, 0]);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (400, 300));
        for (x, y) in [(0, 0), (399, 0), (0, 299), (399, 299), (10, 150)] {
            assert_eq!(img.get_pixel(x, y).0, [0, 255, 0]);
        }
        assert_ne!(
            img.get_pixel(200, 120).0,
            [0, 255, 0],
            "the subject is drawn"
        );
    }

    #[test]
    fn audio_formats_parse() {
        assert_eq!(
            AudioFormat::parse("mp3_44100_128"),
            Some(AudioFormat::Mp3 {
                rate: 44100,
                kbps: 128
            })
        );
        assert_eq!(
            AudioFormat::parse("pcm_16000"),
            Some(AudioFormat::Pcm { rate: 16000 })
        );
        assert_eq!(AudioFormat::parse("wav"), None);
    }
}
