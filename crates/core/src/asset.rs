//! Assets: kinds, review states and the plan of 22 that step 1 draws.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{CoreError, Result};
use crate::ids::AssetName;

/// The kind of an asset, which decides its folder, size and transparency.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// A transparent character.
    Character,
    /// An opaque 1920x1080 background.
    Environment,
    /// A transparent prop.
    Prop,
}

impl AssetKind {
    /// All kinds in gallery order.
    pub const ALL: [AssetKind; 3] = [
        AssetKind::Character,
        AssetKind::Environment,
        AssetKind::Prop,
    ];

    /// Stable name (`character`).
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Character => "character",
            AssetKind::Environment => "environment",
            AssetKind::Prop => "prop",
        }
    }

    /// Parses [`AssetKind::as_str`].
    pub fn parse(s: &str) -> Result<AssetKind> {
        AssetKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                CoreError::invalid(
                    "asset kind",
                    format!("{s:?} is not character, environment or prop"),
                )
            })
    }

    /// Folder under `assets/` (`characters`).
    pub fn folder(self) -> &'static str {
        match self {
            AssetKind::Character => "characters",
            AssetKind::Environment => "environments",
            AssetKind::Prop => "props",
        }
    }

    /// Allowed count range for a plan.
    pub fn count_range(self) -> std::ops::RangeInclusive<usize> {
        match self {
            AssetKind::Character => 6..=8,
            AssetKind::Environment => 8..=10,
            AssetKind::Prop => 4..=6,
        }
    }

    /// The imaging crate's kind.
    pub fn image_kind(self) -> reviewdesk_imaging::ImageKind {
        match self {
            AssetKind::Character => reviewdesk_imaging::ImageKind::Character,
            AssetKind::Environment => reviewdesk_imaging::ImageKind::Environment,
            AssetKind::Prop => reviewdesk_imaging::ImageKind::Prop,
        }
    }
}

/// Where an asset stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Planned, not drawn yet.
    Pending,
    /// Drawn, waiting for review.
    Generated,
    /// Approved at the gate.
    Approved,
    /// Rejected (flagged) at the gate.
    Rejected,
}

impl ReviewState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Generated => "generated",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
        }
    }

    /// Parses [`ReviewState::as_str`].
    pub fn parse(s: &str) -> Result<ReviewState> {
        match s {
            "pending" => Ok(ReviewState::Pending),
            "generated" => Ok(ReviewState::Generated),
            "approved" => Ok(ReviewState::Approved),
            "rejected" => Ok(ReviewState::Rejected),
            _ => Err(CoreError::invalid(
                "review state",
                format!("unknown review state {s:?}"),
            )),
        }
    }
}

/// One planned asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PlannedAsset {
    /// File-safe name.
    pub name: AssetName,
    /// Kind.
    pub kind: AssetKind,
    /// What to draw.
    pub prompt: String,
}

/// The asset plan of a task: what step 1 must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetPlan {
    /// Every planned asset, characters first, then environments, then props.
    pub assets: Vec<PlannedAsset>,
}

const CHARACTERS: [&str; 8] = [
    "protagonist",
    "mentor",
    "rival",
    "sidekick",
    "narrator",
    "villain",
    "child",
    "elder",
];
const ENVIRONMENTS: [&str; 10] = [
    "city_street",
    "forest_path",
    "laboratory",
    "desert_camp",
    "ocean_shore",
    "mountain_peak",
    "night_market",
    "space_station",
    "old_library",
    "rooftop",
];
const PROPS: [&str; 6] = [
    "ancient_map",
    "glowing_orb",
    "pocket_watch",
    "old_book",
    "lantern",
    "compass",
];

/// Counts of each kind in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetCounts {
    /// Characters (6–8).
    pub characters: usize,
    /// Environments (8–10).
    pub environments: usize,
    /// Props (4–6).
    pub props: usize,
}

impl Default for AssetCounts {
    fn default() -> Self {
        AssetCounts {
            characters: 8,
            environments: 8,
            props: 6,
        }
    }
}

impl AssetCounts {
    /// Checks every count against its allowed range.
    pub fn validate(&self) -> Result<()> {
        for (kind, n) in [
            (AssetKind::Character, self.characters),
            (AssetKind::Environment, self.environments),
            (AssetKind::Prop, self.props),
        ] {
            let range = kind.count_range();
            if !range.contains(&n) {
                return Err(CoreError::invalid(
                    format!("asset_counts.{}", kind.folder()),
                    format!("{n} is outside {}–{}", range.start(), range.end()),
                ));
            }
        }
        Ok(())
    }

    /// Count for one kind.
    pub fn of(&self, kind: AssetKind) -> usize {
        match kind {
            AssetKind::Character => self.characters,
            AssetKind::Environment => self.environments,
            AssetKind::Prop => self.props,
        }
    }
}

impl AssetPlan {
    /// Derives names and prompts from the task's topic and story direction.
    pub fn derive(topic: &str, story_direction: &str, counts: AssetCounts) -> Result<AssetPlan> {
        counts.validate()?;
        let direction = if story_direction.trim().is_empty() {
            String::new()
        } else {
            format!(" Story direction: {}.", story_direction.trim())
        };
        let mut assets = Vec::new();
        let lists: [(AssetKind, &[&str]); 3] = [
            (AssetKind::Character, &CHARACTERS),
            (AssetKind::Environment, &ENVIRONMENTS),
            (AssetKind::Prop, &PROPS),
        ];
        for (kind, names) in lists {
            for name in names.iter().take(counts.of(kind)) {
                let what = name.replace('_', " ");
                let prompt = match kind {
                    AssetKind::Character => format!(
                        "Full-body {what} character for a video about {topic}, transparent background.{direction}"
                    ),
                    AssetKind::Environment => format!(
                        "Wide 16:9 {what} environment for a video about {topic}, no characters.{direction}"
                    ),
                    AssetKind::Prop => format!(
                        "Isolated {what} prop for a video about {topic}, transparent background.{direction}"
                    ),
                };
                assets.push(PlannedAsset {
                    name: AssetName::parse(*name)?,
                    kind,
                    prompt,
                });
            }
        }
        Ok(AssetPlan { assets })
    }

    /// Reads a plan file from this machine (the CLI's `--plan-file`): a regular file of at most
    /// [`MAX_PLAN_BYTES`], parsed by [`AssetPlan::parse`].
    pub fn from_file(path: &Path) -> Result<AssetPlan> {
        Self::parse(&Self::read_text(path)?, &path.display().to_string())
    }

    /// The text of a plan file on this machine: a regular file of at most [`MAX_PLAN_BYTES`] of
    /// UTF-8 (a FIFO, a device or a huge file is refused, never waited on or read whole).
    pub fn read_text(path: &Path) -> Result<String> {
        let bytes = crate::workspace::read_regular_file(path, MAX_PLAN_BYTES as u64)?;
        String::from_utf8(bytes).map_err(|_| CoreError::Config {
            file: path.display().to_string(),
            message: "plan: the file is not UTF-8 text".into(),
        })
    }

    /// Parses plan text (YAML or JSON with `characters`, `environments`, `props`: lists of
    /// `{name, prompt}`, and optionally `scenes`, see [`crate::scene`]), validating names,
    /// uniqueness and counts. `origin` names the source in
    /// errors. Errors name the field and never quote the text: a plan may come from anywhere, and
    /// an error must not echo what it holds.
    pub fn parse(text: &str, origin: &str) -> Result<AssetPlan> {
        use serde_yaml_ng::Value;
        let bad = |message: String| CoreError::Config {
            file: origin.to_string(),
            message,
        };
        if text.len() > MAX_PLAN_BYTES {
            return Err(bad(format!(
                "plan: larger than {} KiB",
                MAX_PLAN_BYTES / 1024
            )));
        }
        const SHAPE: &str =
            "expected `characters`, `environments` and `props`, each a list of {name, prompt}";
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            bad(format!("plan: not valid YAML or JSON{at}; {SHAPE}"))
        })?;
        let Value::Mapping(map) = value else {
            return Err(bad(format!("plan: {SHAPE}")));
        };
        let fields = ["characters", "environments", "props", "scenes"];
        if map
            .keys()
            .any(|k| k.as_str().is_none_or(|k| !fields.contains(&k)))
        {
            return Err(bad(format!("plan: an unknown top-level field; {SHAPE}")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut assets = Vec::new();
        let mut counts = AssetCounts::default();
        for kind in AssetKind::ALL {
            let field = kind.folder();
            let entries = match map.get(field) {
                Some(Value::Sequence(entries)) => entries,
                Some(_) => return Err(bad(format!("{field}: must be a list of {{name, prompt}}"))),
                None => return Err(bad(format!("{field}: missing; {SHAPE}"))),
            };
            match kind {
                AssetKind::Character => counts.characters = entries.len(),
                AssetKind::Environment => counts.environments = entries.len(),
                AssetKind::Prop => counts.props = entries.len(),
            }
            for (i, entry) in entries.iter().enumerate() {
                let at = format!("{field}[{i}]");
                let Value::Mapping(entry) = entry else {
                    return Err(bad(format!("{at}: must be {{name, prompt}}")));
                };
                if entry.len() != 2 {
                    return Err(bad(format!("{at}: must have exactly `name` and `prompt`")));
                }
                let text_of = |key: &str| match entry.get(key) {
                    Some(Value::String(s)) => Ok(s.as_str()),
                    Some(_) => Err(bad(format!("{at}.{key}: must be text"))),
                    None => Err(bad(format!("{at}.{key}: missing"))),
                };
                let (name, prompt) = (text_of("name")?, text_of("prompt")?);
                let name = AssetName::parse(name).map_err(|_| {
                    bad(format!(
                        "{at}.name: use 1–100 letters, digits, `_` or `-` (it names a file)"
                    ))
                })?;
                if !seen.insert(name.clone()) {
                    return Err(bad(format!(
                        "{at}.name is used twice: each name must be unique"
                    )));
                }
                if prompt.trim().is_empty() {
                    return Err(bad(format!("{at}.prompt is empty")));
                }
                assets.push(PlannedAsset {
                    name,
                    kind,
                    prompt: prompt.to_string(),
                });
            }
        }
        counts.validate().map_err(|e| bad(e.to_string()))?;
        // The scenes are read by the later steps (crate::scene); a bad list fails here, when the
        // task is created, not at step 3.
        crate::scene::planned_scenes(map.get("scenes"), origin)?;
        Ok(AssetPlan { assets })
    }
}

/// The largest plan accepted, as text: a plan of 24 assets with long prompts is a few KiB.
pub const MAX_PLAN_BYTES: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_has_22_unique_assets() {
        let plan =
            AssetPlan::derive("volcanoes", "a hopeful journey", AssetCounts::default()).unwrap();
        assert_eq!(plan.assets.len(), 22);
        let kinds = |k| plan.assets.iter().filter(|a| a.kind == k).count();
        assert_eq!(
            (
                kinds(AssetKind::Character),
                kinds(AssetKind::Environment),
                kinds(AssetKind::Prop)
            ),
            (8, 8, 6)
        );
        assert!(
            plan.assets
                .iter()
                .all(|a| a.prompt.contains("volcanoes") && a.prompt.contains("hopeful"))
        );
        let names: std::collections::HashSet<_> = plan.assets.iter().map(|a| &a.name).collect();
        assert_eq!(names.len(), 22);
    }

    #[test]
    fn counts_outside_ranges_are_refused() {
        let e = AssetPlan::derive(
            "t",
            "",
            AssetCounts {
                characters: 9,
                environments: 8,
                props: 6,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("asset_counts.characters"), "{e}");
    }

    #[test]
    fn plan_files_are_validated() {
        assert!(
            AssetPlan::parse("characters: [", "p.yaml")
                .unwrap_err()
                .to_string()
                .contains("p.yaml")
        );
        let entry = |n: &str| format!("{{name: {n}, prompt: draw {n}}}");
        let list = |prefix: &str, n: usize| {
            (0..n)
                .map(|i| entry(&format!("{prefix}{i}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let good = format!(
            "characters: [{}]\nenvironments: [{}]\nprops: [{}]\n",
            list("c", 6),
            list("e", 8),
            list("p", 4)
        );
        assert_eq!(AssetPlan::parse(&good, "p").unwrap().assets.len(), 18);
        let escaping = good.replace("c0", "../c0");
        let e = AssetPlan::parse(&escaping, "p").unwrap_err().to_string();
        assert!(e.contains("characters[0].name"), "{e}");
        let dup = good.replace("c1", "c0");
        assert!(
            AssetPlan::parse(&dup, "p")
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
    }
}
