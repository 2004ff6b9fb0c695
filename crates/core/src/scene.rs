//! The scene plan: for each of the [`SCENES`] scenes, what its composite shows, how its camera
//! moves, the line its narrator speaks and the sound under it. It drives steps 2–6.
//!
//! A plan file may give the scenes (`scenes:`, a list of [`SCENES`] entries, each with
//! `narration` and optionally `motion` and `sfx`); whatever it leaves out is derived from the
//! task's topic and story direction, deterministically, so the same task always gets the same
//! plan (docs/pipeline.md, "The scene plan").

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::pipeline::{Composition, SCENES, compositions};

/// One scene.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Scene {
    /// 1 to [`SCENES`].
    pub number: u32,
    /// What the composite shows (`mentor in forest path`).
    pub shows: String,
    /// How the camera moves (the video step reads "zoom in/out", "pan left/right" from it).
    pub motion: String,
    /// The line the narrator speaks.
    pub narration: String,
    /// The sound under the scene.
    pub sfx: String,
}

/// What a plan file says of one scene; what it leaves out is derived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedScene {
    /// The narration line.
    pub narration: Option<String>,
    /// The motion prompt.
    pub motion: Option<String>,
    /// The sound-effect description.
    pub sfx: Option<String>,
}

/// Longest narration line accepted from a plan: about 20 s of speech.
pub const MAX_NARRATION_CHARS: usize = 400;

/// Reads the optional `scenes` list of plan text (already parsed as YAML). `None` when the plan
/// has none. Errors name the field and never quote the text.
pub fn planned_scenes(
    value: Option<&serde_yaml_ng::Value>,
    origin: &str,
) -> Result<Option<Vec<PlannedScene>>> {
    use serde_yaml_ng::Value;
    let bad = |message: String| CoreError::Config {
        file: origin.to_string(),
        message,
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Sequence(entries) = value else {
        return Err(bad(format!(
            "scenes: must be a list of {SCENES} {{narration, motion, sfx}}"
        )));
    };
    if entries.len() != SCENES {
        return Err(bad(format!(
            "scenes: has {} entries; a video has exactly {SCENES} scenes",
            entries.len()
        )));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("scenes[{i}]");
            let Value::Mapping(map) = e else {
                return Err(bad(format!("{at}: must be {{narration, motion, sfx}}")));
            };
            if let Some(k) = map.keys().find(|k| {
                k.as_str()
                    .is_none_or(|k| !["narration", "motion", "sfx"].contains(&k))
            }) {
                let k = k.as_str().unwrap_or("?");
                return Err(bad(format!(
                    "{at}.{k}: unknown field; expected narration, motion, sfx"
                )));
            }
            let text = |key: &str| -> Result<Option<String>> {
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if s.trim().is_empty() => {
                        Err(bad(format!("{at}.{key} is empty")))
                    }
                    Some(Value::String(s)) if s.chars().count() > MAX_NARRATION_CHARS => Err(bad(
                        format!("{at}.{key} is longer than {MAX_NARRATION_CHARS} characters"),
                    )),
                    Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
                    Some(_) => Err(bad(format!("{at}.{key}: must be text"))),
                }
            };
            Ok(PlannedScene {
                narration: text("narration")?,
                motion: text("motion")?,
                sfx: text("sfx")?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The `scenes` of plan text (YAML or JSON) that [`crate::asset::AssetPlan::parse`] accepted.
pub fn planned_scenes_of_text(text: &str, origin: &str) -> Result<Option<Vec<PlannedScene>>> {
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|_| CoreError::Config {
            file: origin.to_string(),
            message: "plan: not valid YAML or JSON".into(),
        })?;
    planned_scenes(value.get("scenes"), origin)
}

/// The narration lines of a derived plan, one per scene: a short arc (opening, journey, turn,
/// resolution) about 16–20 words each, so that each takes 6–8 s at a calm speaking rate.
/// `{topic}`, `{who}` and `{where}` are filled in per scene.
const LINES: [&str; SCENES] = [
    "Every story about {topic} starts with a question, and ours begins with the {who} in the {where}.",
    "The {who} has heard the old accounts of {topic}, but wants to see with their own eyes.",
    "Here in the {where}, the first clues appear, small and easy to miss for anyone in a hurry.",
    "The {who} stops, looks closer, and notices a pattern that nobody around them seems to see.",
    "To understand {topic}, you have to ask how it works, not only what it looks like.",
    "So the journey moves on to the {where}, where the {who} meets a different point of view.",
    "Not everyone agrees. The {who} argues that the simple answer hides a far more interesting one.",
    "Evidence piles up in the {where}: measurements, stories, and a few stubborn facts about {topic}.",
    "Halfway through, the {who} realises the real question is bigger than the one they began with.",
    "The {where} holds a surprise: {topic} is connected to everything around it, quietly and constantly.",
    "The {who} tests the idea carefully, once, twice, and the result holds up every single time.",
    "Doubt returns in the {where}, because good explanations always have to survive a hard challenge.",
    "The {who} brings the pieces together, and for the first time the whole picture makes sense.",
    "What looked like chaos in the {where} turns out to follow rules we can learn and share.",
    "With that understanding, the {who} sees {topic} not as a mystery but as an invitation.",
    "Back in the {where}, the {who} explains what they found, simply, so anyone can follow.",
    "The journey changed the {who}, and it may change how you see {topic} as well.",
    "Two friends, one discovery: the {who} share what {topic} taught them, and the questions still ahead.",
];

/// Sound words by the environment's name, first match wins; see `reviewdesk_media::Sound`.
const AMBIENT: [(&str, &str); 14] = [
    ("city", "city street traffic"),
    ("street", "city street traffic"),
    ("market", "crowd murmur at the market"),
    ("forest", "birds in the forest"),
    ("lab", "machine hum of the laboratory"),
    ("station", "engine hum of the station"),
    ("desert", "wind across the desert"),
    ("mountain", "wind on the mountain"),
    ("peak", "wind on the mountain"),
    ("ocean", "waves on the ocean shore"),
    ("shore", "waves on the ocean shore"),
    ("river", "river water"),
    ("library", "soft room tone"),
    ("rooftop", "wind over the rooftop"),
];

/// The motion phrases derived scenes cycle through; see `reviewdesk_media::Motion`.
const MOVES: [&str; 4] = [
    "slow zoom in",
    "slow pan right",
    "slow zoom out",
    "slow pan left",
];

/// The task's [`SCENES`] scenes: the composites' pairings (see [`compositions`]) of these
/// characters and environments (names in plan order), with the plan file's lines where it gives
/// them and derived text everywhere else. Fails when the assets cannot make the composites.
pub fn scene_plan(
    topic: &str,
    story_direction: &str,
    characters: &[&str],
    environments: &[&str],
    planned: Option<&[PlannedScene]>,
) -> Result<Vec<Scene>> {
    let Some(comps) = compositions(characters.len(), environments.len()) else {
        return Err(CoreError::invalid(
            "scenes",
            "scenes need at least two characters and one environment",
        ));
    };
    let topic = topic.trim();
    let topic = if topic.is_empty() {
        "this story"
    } else {
        topic
    };
    let words = |name: &str| name.replace(['_', '-'], " ");
    Ok(comps
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (who, place, shows) = match c {
                Composition::Single {
                    character,
                    environment,
                } => {
                    let (who, place) = (
                        words(characters[character]),
                        words(environments[environment]),
                    );
                    let shows = format!("{who} in {place}");
                    (who, place, shows)
                }
                Composition::SplitScreen {
                    left,
                    right,
                    environment,
                } => {
                    let who = format!(
                        "{} and {}",
                        words(characters[left]),
                        words(characters[right])
                    );
                    let place = words(environments[environment]);
                    let shows = format!("split screen: {who} in {place}");
                    (who, place, shows)
                }
            };
            let plan = planned.and_then(|p| p.get(i)).cloned().unwrap_or_default();
            let mut narration = LINES[i]
                .replace("{topic}", topic)
                .replace("{who}", &who)
                .replace("{where}", &place);
            if i == 1 && !story_direction.trim().is_empty() {
                // The creator's direction colours the opening, where it sets the tone.
                narration = format!(
                    "{} The spirit of it: {}.",
                    narration,
                    story_direction.trim().trim_end_matches('.')
                );
            }
            let sfx = AMBIENT
                .iter()
                .find(|(k, _)| place.contains(k))
                .map(|(_, s)| s.to_string())
                .unwrap_or_else(|| format!("soft ambience of the {place}"));
            let sfx = if i + 1 == SCENES {
                format!("a gentle chime over {sfx}")
            } else {
                sfx
            };
            Scene {
                number: i as u32 + 1,
                motion: plan.motion.unwrap_or_else(|| {
                    format!("{} on the {who} in the {place}", MOVES[i % MOVES.len()])
                }),
                narration: plan.narration.unwrap_or(narration),
                sfx: plan.sfx.unwrap_or(sfx),
                shows,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHARS: [&str; 8] = [
        "protagonist",
        "mentor",
        "rival",
        "sidekick",
        "narrator",
        "villain",
        "child",
        "elder",
    ];
    const ENVS: [&str; 8] = [
        "city_street",
        "forest_path",
        "laboratory",
        "desert_camp",
        "ocean_shore",
        "mountain_peak",
        "night_market",
        "space_station",
    ];

    #[test]
    fn a_derived_plan_has_eighteen_scenes_of_sensible_length_and_is_the_same_every_time() {
        let a = scene_plan("volcanoes", "hopeful", &CHARS, &ENVS, None).unwrap();
        let b = scene_plan("volcanoes", "hopeful", &CHARS, &ENVS, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), SCENES);
        for (i, s) in a.iter().enumerate() {
            assert_eq!(s.number as usize, i + 1);
            let words = s.narration.split_whitespace().count();
            assert!(
                (12..=26).contains(&words),
                "scene {}: {words} words",
                s.number
            );
            assert!(!s.narration.contains('{'), "{}", s.narration);
            assert!(!s.motion.is_empty() && !s.sfx.is_empty());
        }
        assert_eq!(a[0].shows, "protagonist in city street");
        assert!(a[0].narration.contains("volcanoes"));
        assert!(a[1].narration.contains("The spirit of it: hopeful."));
        assert!(
            a[17]
                .shows
                .starts_with("split screen: protagonist and mentor")
        );
        assert!(a[17].sfx.contains("chime"));
        assert!(a[1].sfx.contains("birds"), "{}", a[1].sfx);
    }

    #[test]
    fn a_plan_file_gives_some_lines_and_the_rest_is_derived() {
        let text = format!(
            "scenes:\n{}",
            (1..=18)
                .map(|i| if i == 3 {
                    "  - narration: Lava is molten rock.\n    motion: pan left across the crater\n"
                        .to_string()
                } else {
                    "  - {}\n".to_string()
                })
                .collect::<String>()
        );
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let planned = planned_scenes(v.get("scenes"), "plan").unwrap().unwrap();
        let plan = scene_plan("volcanoes", "", &CHARS, &ENVS, Some(&planned)).unwrap();
        assert_eq!(plan[2].narration, "Lava is molten rock.");
        assert_eq!(plan[2].motion, "pan left across the crater");
        let derived = scene_plan("volcanoes", "", &CHARS, &ENVS, None).unwrap();
        assert_eq!(plan[2].sfx, derived[2].sfx);
        assert_eq!(plan[4], derived[4]);
    }

    #[test]
    fn a_bad_scenes_list_is_refused_with_the_field_named() {
        let check = |yaml: &str| {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
            planned_scenes(v.get("scenes"), "plan.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(check("scenes: [{narration: a}]").contains("has 1 entries"));
        let eighteen = |entry: &str| format!("scenes: [{}]", vec![entry; 18].join(","));
        assert!(check(&eighteen("{narration: ''}")).contains("scenes[0].narration is empty"));
        assert!(check(&eighteen("{voice: x}")).contains("scenes[0].voice: unknown field"));
        assert!(check(&eighteen("{narration: [1]}")).contains("must be text"));
        assert!(check("scenes: 3").contains("must be a list"));
    }
}
