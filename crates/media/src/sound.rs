//! A scene's sound effect, synthesized by ffmpeg from its description.

use std::path::Path;

use crate::{base_args, file_arg, strings};

/// The kind of sound a description asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sound {
    /// Rain: bright pink noise.
    Rain,
    /// Wind: dark noise that swells and fades.
    Wind,
    /// Water (a river, waves): band-passed noise with a slow wash.
    Water,
    /// Fire: low rumble with crackles.
    Fire,
    /// A chime or bell, struck every few seconds.
    Chime,
    /// A low hum (a machine, an engine, a tense drone).
    Drone,
    /// Birdsong: short rising chirps.
    Birds,
    /// A busy place (a city, a crowd, traffic): a low murmur.
    City,
    /// Anything else: a soft room tone.
    Ambience,
}

impl Sound {
    /// Every sound, with the words that choose it (checked in this order).
    const WORDS: [(Sound, &'static [&'static str]); 8] = [
        (Sound::Rain, &["rain", "drizzle", "storm"]),
        (Sound::Wind, &["wind", "breeze", "gust"]),
        (
            Sound::Water,
            &["water", "river", "stream", "wave", "ocean", "sea", "splash"],
        ),
        (
            Sound::Fire,
            &["fire", "flame", "crackl", "campfire", "lava"],
        ),
        (Sound::Chime, &["chime", "bell", "ding", "sparkle", "magic"]),
        (
            Sound::Drone,
            &["drone", "hum", "machine", "engine", "tension", "rumble"],
        ),
        (Sound::Birds, &["bird", "chirp", "forest", "morning"]),
        (
            Sound::City,
            &["city", "crowd", "traffic", "street", "market", "people"],
        ),
    ];

    /// The sound a description asks for: the kind whose word comes first in it, else
    /// [`Sound::Ambience`].
    pub fn from_description(description: &str) -> Sound {
        let d = description.to_lowercase();
        Self::WORDS
            .iter()
            .filter_map(|(s, words)| {
                words
                    .iter()
                    .filter_map(|w| d.find(w))
                    .min()
                    .map(|at| (at, *s))
            })
            .min_by_key(|(at, _)| *at)
            .map(|(_, s)| s)
            .unwrap_or(Sound::Ambience)
    }

    /// A word that [`Sound::from_description`] reads back as this sound.
    pub fn word(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, w)| w[0])
            .unwrap_or("room tone")
    }

    /// The lavfi graph that makes `seconds` of this sound, mono at 44.1 kHz.
    fn source(self, seconds: u32) -> String {
        let d = seconds;
        let noise =
            |color: &str, amp: f64| format!("anoisesrc=d={d}:c={color}:r=44100:a={amp}:seed=7");
        let tone = |expr: &str| format!("aevalsrc=exprs='{expr}':s=44100:d={d}");
        match self {
            Sound::Rain => format!("{},highpass=f=700,lowpass=f=9000", noise("pink", 0.5)),
            Sound::Wind => format!(
                "{},lowpass=f=500,tremolo=f=0.15:d=0.7,volume=2.5",
                noise("brown", 0.8)
            ),
            Sound::Water => format!(
                "{},bandpass=f=600:width_type=h:w=900,tremolo=f=0.3:d=0.5,volume=2",
                noise("pink", 0.6)
            ),
            Sound::Fire => tone(
                "0.15*sin(2*PI*60*t)*(0.7+0.3*sin(2*PI*0.5*t))+0.5*gt(sin(2*PI*7.3*t)*sin(2*PI*3.1*t)*sin(2*PI*1.7*t),0.93)*sin(2*PI*1800*t)*exp(-60*mod(t,0.137))",
            ),
            Sound::Chime => tone(
                "0.35*sin(2*PI*880*t)*exp(-2.5*mod(t,2.5))+0.2*sin(2*PI*1320*t)*exp(-3.5*mod(t,2.5))+0.1*sin(2*PI*1760*t)*exp(-5*mod(t,2.5))",
            ),
            Sound::Drone => tone(
                "(0.3*sin(2*PI*55*t)+0.2*sin(2*PI*82.5*t)+0.1*sin(2*PI*110.4*t))*(0.75+0.25*sin(2*PI*0.2*t))",
            ),
            Sound::Birds => tone(
                "0.25*sin(2*PI*(2600+900*mod(t,0.35)/0.35)*t)*lt(mod(t,1.3),0.35)*sin(PI*mod(t,1.3)/0.35)",
            ),
            Sound::City => format!(
                "{},lowpass=f=350,tremolo=f=0.4:d=0.3,volume=2.5",
                noise("brown", 0.7)
            ),
            Sound::Ambience => format!("{},lowpass=f=250,volume=1.5", noise("brown", 0.4)),
        }
    }
}

/// The ffmpeg arguments that write `seconds` of a sound to `output` (MP3), faded in and out so
/// that a hard cut between scenes does not click.
pub fn effect_args(sound: Sound, seconds: u32, output: &Path) -> Vec<String> {
    let fade_out = seconds.saturating_sub(1);
    let mut args = base_args();
    args.extend([
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        sound.source(seconds),
    ]);
    args.extend([
        "-af".into(),
        format!("afade=t=in:d=0.5,afade=t=out:st={fade_out}:d=1,alimiter=limit=0.9"),
    ]);
    args.extend(["-t".into(), seconds.to_string()]);
    args.extend(strings(&[
        "-ac",
        "1",
        "-ar",
        "44100",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
    ]));
    args.push(file_arg(output));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_chooses_its_sound_by_the_first_word_it_names() {
        assert_eq!(
            Sound::from_description("Heavy rain on a tin roof"),
            Sound::Rain
        );
        assert_eq!(
            Sound::from_description("wind over the water"),
            Sound::Wind,
            "wind comes first"
        );
        assert_eq!(Sound::from_description("A soft bell"), Sound::Chime);
        assert_eq!(Sound::from_description("machine hum"), Sound::Drone);
        assert_eq!(Sound::from_description("silence"), Sound::Ambience);
        for (s, _) in Sound::WORDS {
            assert_eq!(Sound::from_description(s.word()), s);
        }
    }

    #[test]
    fn every_effect_has_its_length_and_fades() {
        let a = effect_args(Sound::Rain, 10, Path::new("/o.mp3"));
        assert!(a.windows(2).any(|w| w == ["-t", "10"]));
        assert!(a.iter().any(|x| x.contains("afade=t=out:st=9")));
        assert!(a.iter().any(|x| x.starts_with("anoisesrc=d=10")));
    }
}
