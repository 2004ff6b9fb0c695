//! The assembled video: every scene's clip cut to its narration, narration and effect mixed, one
//! chapter per scene.

use std::fmt::Write as _;
use std::path::Path;

use crate::{base_args, file_arg, strings};

/// One scene of the assembled video.
#[derive(Debug, Clone, PartialEq)]
pub struct AssemblyScene<'a> {
    /// The scene's clip.
    pub clip: &'a Path,
    /// The scene's narration.
    pub narration: &'a Path,
    /// The scene's sound effect.
    pub effect: &'a Path,
    /// How long the scene lasts: its narration's length.
    pub seconds: f64,
    /// The chapter's title.
    pub title: String,
}

/// How much quieter than the narration the effects play.
const EFFECT_GAIN_DB: i32 = -20;

/// The ffmpeg arguments that assemble the scenes into `output`: each clip cut to its scene's
/// length (held on its last frame if it is shorter), the narration at 0 dB over the effect at
/// −20 dB, hard cuts, H.264 CRF 18 + AAC 192 kbit/s at `width`x`height`, the chapters and title
/// from `metadata` (written by [`chapters_metadata`]).
pub fn assembly_args(
    scenes: &[AssemblyScene<'_>],
    metadata: &Path,
    output: &Path,
    (width, height): (u32, u32),
) -> Vec<String> {
    let mut args = base_args();
    for s in scenes {
        for input in [s.clip, s.narration, s.effect] {
            args.extend(["-i".into(), file_arg(input)]);
        }
    }
    args.extend([
        "-f".into(),
        "ffmetadata".into(),
        "-i".into(),
        file_arg(metadata),
    ]);
    let mut graph = String::new();
    let mut pairs = String::new();
    for (i, s) in scenes.iter().enumerate() {
        let (v, n, e) = (3 * i, 3 * i + 1, 3 * i + 2);
        let d = format!("{:.3}", s.seconds);
        // Each source to mono, then the same signal on both sides: ffmpeg's own mono-to-stereo
        // mix puts a centre channel 3 dB down, and the narration must play at 0 dB.
        let audio =
            "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,pan=stereo|c0=c0|c1=c0";
        let _ = write!(
            graph,
            "[{v}:v]tpad=stop_mode=clone:stop_duration={d},trim=duration={d},setpts=PTS-STARTPTS,\
             scale={width}:{height}:force_original_aspect_ratio=decrease,\
             pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p[v{i}];\
             [{n}:a]{audio},apad,atrim=duration={d},asetpts=PTS-STARTPTS[n{i}];\
             [{e}:a]{audio},volume={EFFECT_GAIN_DB}dB,apad,atrim=duration={d},asetpts=PTS-STARTPTS[e{i}];\
             [n{i}][e{i}]amix=inputs=2:duration=first:normalize=0[a{i}];"
        );
        let _ = write!(pairs, "[v{i}][a{i}]");
    }
    let _ = write!(
        graph,
        "{pairs}concat=n={}:v=1:a=1[outv][outa]",
        scenes.len()
    );
    args.extend(["-filter_complex".into(), graph]);
    args.extend(strings(&["-map", "[outv]", "-map", "[outa]"]));
    let meta = (3 * scenes.len()).to_string();
    args.extend(["-map_metadata".into(), meta.clone()]);
    args.extend(["-map_chapters".into(), meta]);
    args.extend(strings(&[
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-movflags",
        "+faststart",
    ]));
    args.push(file_arg(output));
    args
}

/// An ffmetadata file: the video's title and one chapter per scene, each starting where the one
/// before ended.
pub fn chapters_metadata(title: &str, scenes: &[AssemblyScene<'_>]) -> String {
    let mut out = String::from(";FFMETADATA1\n");
    let _ = writeln!(out, "title={}", escape(title));
    let mut start = 0u64;
    for s in scenes {
        let end = start + (s.seconds * 1000.0).round() as u64;
        let _ = write!(
            out,
            "\n[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle={}\n",
            escape(&s.title)
        );
        start = end;
    }
    out
}

/// ffmetadata's escaping: `=`, `;`, `#`, `\` and line breaks get a backslash.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '=' | ';' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenes() -> Vec<AssemblyScene<'static>> {
        (1..=3)
            .map(|i| AssemblyScene {
                clip: Path::new("/p/clip.mp4"),
                narration: Path::new("/p/n.mp3"),
                effect: Path::new("/p/e.mp3"),
                seconds: 6.5 + i as f64,
                title: format!("Scene {i}: a=b; #1"),
            })
            .collect()
    }

    #[test]
    fn chapters_follow_each_other_and_are_escaped() {
        let m = chapters_metadata("Volcanoes", &scenes());
        assert!(m.starts_with(";FFMETADATA1\ntitle=Volcanoes\n"));
        assert!(m.contains("START=0\nEND=7500\ntitle=Scene 1: a\\=b\\; \\#1\n"));
        assert!(m.contains("START=7500\nEND=16000\n"));
        assert!(m.contains("START=16000\nEND=25500\n"));
    }

    #[test]
    fn every_scene_is_cut_to_its_narration_and_the_effect_is_20_db_down() {
        let a = assembly_args(
            &scenes(),
            Path::new("/p/ch.txt"),
            Path::new("/p/out.mp4"),
            (1920, 1080),
        );
        let graph = &a[a.iter().position(|x| x == "-filter_complex").unwrap() + 1];
        assert!(
            graph.contains("[0:v]tpad=stop_mode=clone:stop_duration=7.500,trim=duration=7.500")
        );
        assert!(graph.contains("[5:a]aresample"));
        assert!(graph.contains("volume=-20dB"));
        assert!(graph.ends_with("[v0][a0][v1][a1][v2][a2]concat=n=3:v=1:a=1[outv][outa]"));
        assert!(a.windows(2).any(|w| w == ["-map_chapters", "9"]));
        assert!(a.windows(2).any(|w| w == ["-crf", "18"]));
        assert!(a.windows(2).any(|w| w == ["-b:a", "192k"]));
    }
}
