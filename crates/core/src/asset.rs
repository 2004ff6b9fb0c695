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

    /// Reads a plan file the user supplies (YAML or JSON with `characters`, `environments`,
    /// `props`: lists of `{name, prompt}`), validating names, uniqueness and counts.
    pub fn from_file(path: &Path) -> Result<AssetPlan> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CoreError::io("cannot read plan file", path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses plan text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<AssetPlan> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            prompt: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            characters: Vec<Entry>,
            environments: Vec<Entry>,
            props: Vec<Entry>,
        }
        let bad = |message: String| CoreError::Config {
            file: origin.to_string(),
            message,
        };
        let file: File = serde_yaml_ng::from_str(text)
            .map_err(|e| bad(format!("{e}; expected `characters`, `environments` and `props`, each a list of {{name, prompt}}")))?;
        let counts = AssetCounts {
            characters: file.characters.len(),
            environments: file.environments.len(),
            props: file.props.len(),
        };
        counts.validate().map_err(|e| bad(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        let mut assets = Vec::new();
        for (kind, entries) in [
            (AssetKind::Character, file.characters),
            (AssetKind::Environment, file.environments),
            (AssetKind::Prop, file.props),
        ] {
            for (i, e) in entries.into_iter().enumerate() {
                let name = AssetName::parse(&e.name)
                    .map_err(|err| bad(format!("{}[{i}].name: {err}", kind.folder())))?;
                if !seen.insert(name.clone()) {
                    return Err(bad(format!(
                        "{}[{i}].name: {name} is used twice",
                        kind.folder()
                    )));
                }
                if e.prompt.trim().is_empty() {
                    return Err(bad(format!("{}[{i}].prompt is empty", kind.folder())));
                }
                assets.push(PlannedAsset {
                    name,
                    kind,
                    prompt: e.prompt,
                });
            }
        }
        Ok(AssetPlan { assets })
    }
}

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
