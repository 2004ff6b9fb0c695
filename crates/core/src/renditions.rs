//! A clip's duration, and smaller copies of clips for places with a per-file size limit: a
//! free Notion workspace takes files of at most 5 MiB, and a 10 s 1080p clip can be larger
//! (see the README's "Notion mirror").

use std::path::Path;
use std::time::Duration;

use reviewdesk_media::{RENDITION_HEIGHTS, Tool, Tools, rendition_args, rendition_video_kbps};

use crate::executor::StepFailure;
use crate::program::{Program, ffprobe_stdout, run_program};
use crate::task::ErrorCategory;

/// How long one rendition may take (a 10 s clip takes a few seconds on 2 cores).
const RENDITION_TIMEOUT: Duration = Duration::from_secs(300);

/// A media file's duration in seconds, by ffprobe; `shown` names the file in the error (a
/// missing ffprobe is a configuration failure, an unreadable file a permanent one).
pub(crate) async fn probe_duration(
    ffprobe: &str,
    file: &Path,
    shown: &str,
) -> Result<f64, StepFailure> {
    let out = ffprobe_stdout(ffprobe, &reviewdesk_media::duration_args(file)).await?;
    reviewdesk_media::parse_duration(&String::from_utf8_lossy(&out), shown)
        .map_err(|e| StepFailure::new(ErrorCategory::Permanent, e.to_string()))
}

/// A media file's duration in seconds; `None` when ffprobe is missing or cannot read it.
pub async fn duration_secs(tools: &Tools, file: &Path) -> Option<f64> {
    probe_duration(
        tools.program(Tool::Ffprobe),
        file,
        &file.display().to_string(),
    )
    .await
    .ok()
}

/// A smaller copy of a video.
#[derive(Debug)]
pub struct Rendition {
    /// The copy's bytes.
    pub bytes: Vec<u8>,
    /// Its height in pixels.
    pub height: u32,
}

/// An H.264 copy of `input` under `max_bytes`: 720p at the bit rate that fits, then smaller
/// heights until one fits. The copy is made in `scratch` (removed afterwards either way).
pub async fn video_rendition(
    tools: &Tools,
    input: &Path,
    scratch: &Path,
    max_bytes: u64,
) -> Result<Rendition, StepFailure> {
    let seconds = duration_secs(tools, input).await.unwrap_or(10.0);
    let mut kbps = rendition_video_kbps(max_bytes, seconds);
    let shown = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for &height in RENDITION_HEIGHTS {
        let out = scratch.join(format!("rendition_{height}.mp4"));
        let staged = run_program(Program {
            program: tools.program(Tool::Ffmpeg),
            args: rendition_args(input, &out, height, kbps),
            stdin: None,
            timeout: RENDITION_TIMEOUT,
            partial: out.clone(),
            item: &shown,
            start_hint: "install the Debian package ffmpeg",
            timeout_hint: "the clip may be damaged",
            progress: None,
        })
        .await?;
        let bytes = tokio::fs::read(staged.path()).await.map_err(|e| {
            StepFailure::new(
                ErrorCategory::Transient,
                format!("cannot read the rendition of {shown}: {e}"),
            )
        })?;
        if bytes.len() as u64 <= max_bytes {
            return Ok(Rendition { bytes, height });
        }
        // Rate control overshot: a smaller picture at a lower rate.
        kbps = (kbps * 3 / 4).max(100);
    }
    Err(StepFailure::new(
        ErrorCategory::Permanent,
        format!(
            "no copy of {shown} at {}p fits in {:.1} MB",
            RENDITION_HEIGHTS.last().copied().unwrap_or(360),
            max_bytes as f64 / 1_048_576.0
        ),
    ))
}
