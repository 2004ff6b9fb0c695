//! The command lines of Review Desk's built-in media steps, and the tools they need.
//!
//! Pure: this crate builds `ffmpeg`, `ffprobe` and `espeak-ng` arguments and reads their answers;
//! it runs nothing. The core's executor runs them (process groups, timeouts, cancelling, partial
//! outputs), so that every program a step starts is handled in one place.
//!
//! What the steps make is described in `docs/pipeline.md`: a 10 s 1920x1080 clip per composite with
//! a camera move taken from the scene's motion prompt, a spoken narration line per scene, a
//! synthesized sound effect per scene, and the assembled video with one chapter per scene.
#![warn(missing_docs)]

mod assembly;
mod clip;
mod rendition;
mod sound;
mod tools;

pub use assembly::{AssemblyScene, assembly_args, chapters_metadata};
pub use clip::{ClipSpec, Motion, clip_args};
pub use rendition::{RENDITION_HEIGHTS, rendition_args, rendition_video_kbps};
pub use sound::{Sound, effect_args};
pub use tools::{Tool, Tools};

use std::path::Path;

/// Why a media answer could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MediaError {
    /// ffprobe printed no duration.
    #[error("ffprobe reported no duration for {0}; the file is not a complete audio or video file")]
    NoDuration(String),
}

/// A path as one ffmpeg argument: `file:` in front, so that a name with a colon is never read as
/// a protocol (`concat:`, `http:`…).
pub fn file_arg(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// The ffprobe arguments that print a file's duration in seconds, alone on one line.
pub fn duration_args(file: &Path) -> Vec<String> {
    [
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "default=noprint_wrappers=1:nokey=1",
    ]
    .into_iter()
    .map(String::from)
    .chain([file_arg(file)])
    .collect()
}

/// Reads the answer of [`duration_args`]; `shown` names the file in the error.
pub fn parse_duration(stdout: &str, shown: &str) -> Result<f64, MediaError> {
    stdout
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .find(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| MediaError::NoDuration(shown.to_string()))
}

/// The ffmpeg arguments that encode a narration recording (espeak-ng's WAV) for the project:
/// MP3 or Opus by the output's extension, mono, with a short silence trimmed from the start.
pub fn encode_speech_args(wav: &Path, output: &Path) -> Vec<String> {
    let opus = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("opus") || e.eq_ignore_ascii_case("ogg"));
    let codec: &[&str] = if opus {
        &["-c:a", "libopus", "-b:a", "64k", "-ar", "48000"]
    } else {
        &["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"]
    };
    let mut args = base_args();
    args.extend(["-i".into(), file_arg(wav)]);
    args.extend(strings(&["-ac", "1"]));
    args.extend(strings(codec));
    args.push(file_arg(output));
    args
}

/// The espeak-ng arguments that speak the text read from stdin into `wav`, with a voice and a
/// speed in words per minute. The text goes through stdin so that no line of a script is ever
/// parsed as an option.
pub fn speech_args(voice: &str, words_per_minute: u32, wav: &Path) -> Vec<String> {
    vec![
        "-v".into(),
        voice.into(),
        "-s".into(),
        words_per_minute.clamp(80, 450).to_string(),
        "-w".into(),
        wav.display().to_string(),
        "--stdin".into(),
    ]
}

/// The seconds of media written so far, from one line of `ffmpeg -progress pipe:1`
/// (`out_time_us=…`, or `out_time_ms=…` which ffmpeg also gives in microseconds).
pub fn progress_seconds(line: &str) -> Option<f64> {
    let (key, value) = line.trim().split_once('=')?;
    if key != "out_time_us" && key != "out_time_ms" {
        return None;
    }
    let us: i64 = value.trim().parse().ok()?;
    (us >= 0).then(|| us as f64 / 1e6)
}

/// The arguments every ffmpeg run starts with: quiet except for errors, never asking a question,
/// progress as `key=value` lines on stdout (read by the runner, see [`progress_seconds`]).
fn base_args() -> Vec<String> {
    strings(&[
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-progress",
        "pipe:1",
        "-nostats",
    ])
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_from_ffprobe_and_nonsense_is_an_error() {
        assert_eq!(parse_duration("7.250000\n", "n").unwrap(), 7.25);
        assert!(parse_duration("N/A\n", "n").is_err());
        assert!(parse_duration("", "n").is_err());
        assert!(parse_duration("0.000\n", "n").is_err());
    }

    #[test]
    fn progress_lines_give_seconds_written() {
        assert_eq!(progress_seconds("out_time_us=2500000"), Some(2.5));
        assert_eq!(progress_seconds("out_time_ms=1000000"), Some(1.0));
        assert_eq!(progress_seconds("frame=12"), None);
        assert_eq!(progress_seconds("out_time_us=N/A"), None);
    }

    #[test]
    fn speech_reads_its_text_from_stdin_and_keeps_a_sane_speed() {
        let a = speech_args("en-us", 10_000, Path::new("/t/n.wav"));
        assert_eq!(a.last().unwrap(), "--stdin");
        assert!(a.windows(2).any(|w| w == ["-s", "450"]));
    }

    #[test]
    fn speech_is_encoded_by_the_output_extension() {
        let mp3 = encode_speech_args(Path::new("/t/a.wav"), Path::new("/t/a.mp3"));
        assert!(mp3.contains(&"libmp3lame".to_string()));
        let opus = encode_speech_args(Path::new("/t/a.wav"), Path::new("/t/a.opus"));
        assert!(opus.contains(&"libopus".to_string()));
        assert_eq!(opus.last().unwrap(), "file:/t/a.opus");
    }
}
