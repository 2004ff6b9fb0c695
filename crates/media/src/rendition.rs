//! A smaller copy of a clip, for a place with a per-file size limit.

use std::path::Path;

use crate::file_arg;

/// The audio bit rate of a rendition, kbit/s.
const RENDITION_AUDIO_KBPS: u32 = 96;

/// The heights tried, largest first: the first whose copy fits is kept.
pub const RENDITION_HEIGHTS: &[u32] = &[720, 480, 360];

/// The video bit rate (kbit/s) that keeps a `seconds`-long copy under `max_bytes`, with a tenth
/// kept for the container and rate-control overshoot; at least 100.
pub fn rendition_video_kbps(max_bytes: u64, seconds: f64) -> u32 {
    let seconds = seconds.max(0.1);
    let total_kbps = (max_bytes as f64 * 8.0 * 0.9) / seconds / 1000.0;
    ((total_kbps - f64::from(RENDITION_AUDIO_KBPS)).floor() as i64).clamp(100, 20_000) as u32
}

/// The ffmpeg arguments of an H.264/AAC copy at most `height` pixels high at about `video_kbps`
/// (capped, so the size is predictable), with faststart so it plays while downloading.
pub fn rendition_args(input: &Path, output: &Path, height: u32, video_kbps: u32) -> Vec<String> {
    let mut a: Vec<String> = ["-nostdin", "-y", "-loglevel", "error", "-i"]
        .into_iter()
        .map(String::from)
        .collect();
    a.push(file_arg(input));
    a.extend([
        "-vf".to_string(),
        // Never taller than the original (a comma inside a filter's argument is escaped).
        format!("scale=-2:min(ih\\,{height})"),
        "-c:v".into(),
        "libx264".into(),
        "-preset".into(),
        "veryfast".into(),
        "-b:v".into(),
        format!("{video_kbps}k"),
        "-maxrate".into(),
        format!("{video_kbps}k"),
        "-bufsize".into(),
        format!("{}k", video_kbps * 2),
        "-pix_fmt".into(),
        "yuv420p".into(),
        "-c:a".into(),
        "aac".into(),
        "-b:a".into(),
        format!("{RENDITION_AUDIO_KBPS}k"),
        "-movflags".into(),
        "+faststart".into(),
        "-f".into(),
        "mp4".into(),
    ]);
    a.push(file_arg(output));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bit_rate_fits_the_limit_with_room_for_audio() {
        // 5 MiB over 10 s: 3.77 Mbit/s in all, less 96 k of audio.
        let k = rendition_video_kbps(5 * 1024 * 1024, 10.0);
        assert_eq!(k, 3678);
        assert!(f64::from(k + RENDITION_AUDIO_KBPS) * 1000.0 / 8.0 * 10.0 < 5.0 * 1048576.0);
        assert_eq!(rendition_video_kbps(1000, 60.0), 100, "never below 100k");
    }

    #[test]
    fn a_rendition_is_scaled_and_capped() {
        let a = rendition_args(
            Path::new("/w/clip_01.mp4"),
            Path::new("/t/r.mp4"),
            720,
            3000,
        );
        let line = a.join(" ");
        assert!(line.contains("-vf scale=-2:min(ih\\,720)"), "{line}");
        assert!(line.contains("-maxrate 3000k -bufsize 6000k"), "{line}");
        assert!(line.starts_with("-nostdin -y -loglevel error -i file:/w/clip_01.mp4"));
        assert!(line.ends_with("-f mp4 file:/t/r.mp4"));
    }
}
