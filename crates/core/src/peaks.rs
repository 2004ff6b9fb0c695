//! Waveforms for the audio review: the loudest sample of each of [`BUCKETS`] slices of a
//! narration or effect, so a row can draw its shape without the browser decoding the file.
//! Computed once per content (ffmpeg decodes to 8 kHz mono) and kept in the workspace's private
//! folder under the content's hash; a file edited or remade gets its own.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Stdio;

use crate::error::{CoreError, Result};
use crate::workspace::{PRIVATE_DIR, Workspace};

/// How many slices a waveform has.
pub const BUCKETS: usize = 200;

/// The sample rate the peaks are read at: plenty for a shape 200 points wide.
const RATE: u32 = 8000;

/// The largest audio file read for a waveform (a narration is well under 1 MiB).
const MAX_AUDIO_BYTES: u64 = 64 * 1024 * 1024;

/// A file's waveform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Peaks {
    /// Length in milliseconds.
    pub duration_ms: u64,
    /// The loudest sample of each slice, 0–255 (full scale), [`BUCKETS`] of them.
    pub peaks: Vec<u8>,
}

impl Peaks {
    /// The peaks of little-endian signed 16-bit mono samples.
    pub fn of_samples(pcm: &[u8]) -> Peaks {
        let samples: Vec<i16> = pcm
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let duration_ms = samples.len() as u64 * 1000 / RATE as u64;
        let per = samples.len().div_ceil(BUCKETS).max(1);
        let mut peaks: Vec<u8> = samples
            .chunks(per)
            .map(|c| {
                let max = c.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0) as u32;
                (max * 255 / 32768) as u8
            })
            .collect();
        peaks.resize(BUCKETS, 0);
        Peaks { duration_ms, peaks }
    }
}

/// The waveform of a workspace audio or video file (`rel`), from the cache or decoded now with
/// `ffmpeg`. A path outside the workspace or a missing file is [`CoreError::NotFound`]; a file
/// ffmpeg cannot decode is [`CoreError::Invalid`].
pub async fn peaks(ws: &Workspace, rel: &str, ffmpeg: &str) -> Result<Peaks> {
    let path = ws.resolve(rel)?;
    let not_found = || CoreError::NotFound {
        what: "file",
        id: rel.to_string(),
    };
    let meta = std::fs::metadata(&path).map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    if meta.len() > MAX_AUDIO_BYTES {
        return Err(CoreError::invalid(
            "file",
            format!("{rel} is larger than {} MiB", MAX_AUDIO_BYTES >> 20),
        ));
    }
    let p = path.clone();
    let hash = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(&p)?)?;
        Ok(h.finalize().to_hex().to_string())
    })
    .await
    .map_err(|e| CoreError::invalid("file", e.to_string()))?
    .map_err(|e| CoreError::io("cannot read", &path, e))?;
    let cache = Path::new(PRIVATE_DIR)
        .join("peaks")
        .join(format!("{hash}.json"));
    if let Ok(bytes) = std::fs::read(ws.root().join(&cache))
        && let Ok(p) = serde_json::from_slice::<Peaks>(&bytes)
    {
        return Ok(p);
    }
    let out = tokio::process::Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(reviewdesk_media::file_arg(&path))
        .args([
            "-vn",
            "-ac",
            "1",
            "-ar",
            &RATE.to_string(),
            "-f",
            "s16le",
            "-",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            CoreError::invalid(
                "file",
                format!(
                    "cannot run {ffmpeg} for the waveform: {e}; install the Debian package ffmpeg"
                ),
            )
        })?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(CoreError::invalid(
            "file",
            format!("{rel} has no sound ffmpeg can read"),
        ));
    }
    let peaks = Peaks::of_samples(&out.stdout);
    if let Ok(json) = serde_json::to_vec(&peaks) {
        // A cache that cannot be written only costs a decode next time.
        let _ = ws.write_atomic(&cache, &json);
    }
    Ok(peaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_follow_the_loudness_of_each_slice() {
        // One second of silence, then one second at half scale.
        let mut pcm = vec![0u8; RATE as usize * 2];
        for _ in 0..RATE {
            pcm.extend_from_slice(&16384i16.to_le_bytes());
        }
        let p = Peaks::of_samples(&pcm);
        assert_eq!(p.duration_ms, 2000);
        assert_eq!(p.peaks.len(), BUCKETS);
        assert_eq!(p.peaks[0], 0);
        assert_eq!(p.peaks[BUCKETS - 1], 127);
        assert_eq!(Peaks::of_samples(&[]).peaks, vec![0; BUCKETS]);
    }
}
