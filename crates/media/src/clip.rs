//! A scene's clip: the composite with a slow camera move.

use std::path::Path;

use crate::{base_args, file_arg, strings};

/// The camera move of a clip, read from the scene's motion prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// Slowly closer to the centre.
    ZoomIn,
    /// Slowly away from the centre.
    ZoomOut,
    /// The camera turns left: the picture slides to the right.
    PanLeft,
    /// The camera turns right: the picture slides to the left.
    PanRight,
}

impl Motion {
    /// All moves.
    pub const ALL: [Motion; 4] = [
        Motion::ZoomIn,
        Motion::ZoomOut,
        Motion::PanLeft,
        Motion::PanRight,
    ];

    /// The move a motion prompt asks for: the first of "zoom out"/"pull back", "pan left",
    /// "pan right", "zoom in"/"push in" it mentions; a slow zoom in when it names none.
    pub fn from_prompt(prompt: &str) -> Motion {
        let p = prompt.to_lowercase();
        let asks = |words: &[&str]| words.iter().filter_map(|w| p.find(w)).min();
        let found = [
            (
                asks(&["zoom out", "zooms out", "pull back", "pulls back"]),
                Motion::ZoomOut,
            ),
            (asks(&["pan left", "pans left"]), Motion::PanLeft),
            (asks(&["pan right", "pans right"]), Motion::PanRight),
            (
                asks(&["zoom in", "zooms in", "push in", "pushes in"]),
                Motion::ZoomIn,
            ),
        ];
        found
            .into_iter()
            .filter_map(|(at, m)| at.map(|at| (at, m)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, m)| m)
            .unwrap_or(Motion::ZoomIn)
    }

    /// Words for a motion prompt that [`Motion::from_prompt`] reads back as this move.
    pub fn phrase(self) -> &'static str {
        match self {
            Motion::ZoomIn => "slow zoom in",
            Motion::ZoomOut => "slow zoom out",
            Motion::PanLeft => "slow pan left",
            Motion::PanRight => "slow pan right",
        }
    }
}

/// Size, length and frame rate of a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Length in seconds.
    pub seconds: u32,
    /// Frames per second.
    pub fps: u32,
}

impl ClipSpec {
    /// A scene's clip: 10 s of 1920x1080 at 30 frames per second.
    pub const SCENE: ClipSpec = ClipSpec {
        width: 1920,
        height: 1080,
        seconds: 10,
        fps: 30,
    };

    fn frames(&self) -> u32 {
        self.seconds * self.fps
    }
}

/// How much closer the camera ends (or starts) in a zoom, and how much of the picture a pan hides.
const ZOOM: f64 = 0.15;

/// The ffmpeg arguments that make a clip from one still picture with a camera move: H.264 in
/// yuv420p (plays everywhere), with the index at the front (plays while it downloads).
///
/// The picture is scaled to twice the clip's size once, then `zoompan` cuts every frame from it:
/// its crop positions are whole pixels of its input, so at twice the size a move steps by half an
/// output pixel and does not judder.
pub fn clip_args(input: &Path, output: &Path, motion: Motion, spec: &ClipSpec) -> Vec<String> {
    let (w, h) = (spec.width, spec.height);
    let last = spec.frames().saturating_sub(1).max(1);
    let (zoom, x, y) = match motion {
        Motion::ZoomIn => (
            format!("1+{ZOOM}*on/{last}"),
            "iw/2-(iw/zoom/2)".to_string(),
            "ih/2-(ih/zoom/2)".to_string(),
        ),
        Motion::ZoomOut => (
            format!("{}-{ZOOM}*on/{last}", 1.0 + ZOOM),
            "iw/2-(iw/zoom/2)".to_string(),
            "ih/2-(ih/zoom/2)".to_string(),
        ),
        Motion::PanLeft => (
            format!("{}", 1.0 + ZOOM),
            format!("(iw-iw/zoom)*(1-on/{last})"),
            "(ih-ih/zoom)/2".to_string(),
        ),
        Motion::PanRight => (
            format!("{}", 1.0 + ZOOM),
            format!("(iw-iw/zoom)*on/{last}"),
            "(ih-ih/zoom)/2".to_string(),
        ),
    };
    let filter = format!(
        "scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},\
         zoompan=z='{zoom}':x='{x}':y='{y}':d={frames}:s={w}x{h}:fps={fps},\
         format=yuv420p,setsar=1",
        sw = w * 2,
        sh = h * 2,
        frames = spec.frames(),
        fps = spec.fps,
    );
    let mut args = base_args();
    args.extend(["-i".into(), file_arg(input)]);
    args.extend(["-vf".into(), filter]);
    args.extend(["-frames:v".into(), spec.frames().to_string()]);
    args.extend(["-r".into(), spec.fps.to_string()]);
    // superfast: a review clip in about 7 s on 2 cores at ~3.5 MB; veryfast would take 40 % longer
    // for a third of the size, and the final video is encoded again anyway.
    args.extend(strings(&[
        "-c:v",
        "libx264",
        "-preset",
        "superfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-an",
    ]));
    args.push(file_arg(output));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_motion_prompt_names_the_camera_move() {
        assert_eq!(
            Motion::from_prompt("The camera pulls back to reveal the valley"),
            Motion::ZoomOut
        );
        assert_eq!(
            Motion::from_prompt("Slow PAN LEFT across the lab"),
            Motion::PanLeft
        );
        assert_eq!(
            Motion::from_prompt("pan right, then zoom in"),
            Motion::PanRight
        );
        assert_eq!(Motion::from_prompt("push in on the map"), Motion::ZoomIn);
        assert_eq!(Motion::from_prompt("a quiet moment"), Motion::ZoomIn);
        for m in Motion::ALL {
            assert_eq!(Motion::from_prompt(m.phrase()), m);
        }
    }

    #[test]
    fn pans_move_opposite_ways_and_zooms_opposite_directions() {
        let spec = ClipSpec::SCENE;
        let filter = |m| {
            let a = clip_args(Path::new("/c.png"), Path::new("/o.mp4"), m, &spec);
            a[a.iter().position(|x| x == "-vf").unwrap() + 1].clone()
        };
        assert!(filter(Motion::PanRight).contains("x='(iw-iw/zoom)*on/299'"));
        assert!(filter(Motion::PanLeft).contains("x='(iw-iw/zoom)*(1-on/299)'"));
        assert!(filter(Motion::ZoomIn).contains("z='1+0.15*on/299'"));
        assert!(filter(Motion::ZoomOut).contains("z='1.15-0.15*on/299'"));
        assert!(filter(Motion::ZoomIn).contains("d=300:s=1920x1080:fps=30"));
    }
}
