//! The pipeline's rules: what each step makes, from which inputs, at what size, and where its
//! outputs go. Pure: no store, no files, no async. The worker gathers the data these functions
//! need (the task's assets, the checkpoints) and runs the items they describe; the paths come
//! from [`Workspace`]'s helpers, so every output lies inside the task's project folder.
//!
//! The later steps work scene by scene: [`SCENES`] composites, then one clip, one narration and
//! one sound effect per scene, as the scene plan ([`crate::scene`]) says; assembly and upload
//! make one item each (docs/pipeline.md).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::asset::AssetKind;
use crate::executor::{StepFailure, StepItem};
use crate::scene::{PlannedScene, Scene};
use crate::store::AssetRecord;
use crate::task::{ErrorCategory, Task};
use crate::workspace::Workspace;

/// Number of composites, clips, narration and effect items per video.
pub const SCENES: usize = 18;

/// Pixel size `(width, height)` of every scene item (composite, clip) and of the final video: the
/// composite's size.
pub const FRAME_SIZE: (u32, u32) = (
    reviewdesk_imaging::COMPOSITE_WIDTH,
    reviewdesk_imaging::COMPOSITE_HEIGHT,
);

/// Pixel size `(width, height)` an asset of this kind is made at, whichever executor makes it.
/// One definition, shared with the built-in generator ([`reviewdesk_imaging::ImageKind`]).
pub fn asset_size(kind: AssetKind) -> (u32, u32) {
    kind.image_kind().generated_size()
}

/// The version an asset item makes: a done item keeps its version, a redo adds one.
pub fn item_version(current_version: u32, done: bool) -> u32 {
    if done {
        current_version
    } else {
        current_version + 1
    }
}

/// Step 1: one item per asset, in plan order. `done` holds the names already checkpointed in
/// this run of the step.
pub fn asset_items(task: &Task, assets: &[AssetRecord], done: &HashSet<String>) -> Vec<StepItem> {
    assets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (width, height) = asset_size(a.kind);
            StepItem {
                output_rel: Workspace::asset_rel(&task.channel_id, task.id, a.kind, &a.name),
                key: a.name.to_string(),
                index: i + 1,
                kind: Some(a.kind),
                prompt: a.prompt.clone(),
                width,
                height,
                inputs: vec![],
                version: item_version(a.current_version, done.contains(a.name.as_str())),
                titles: vec![],
            }
        })
        .collect()
}

/// What one composite shows, as positions in the lists of characters and environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Composition {
    /// One character over one environment.
    Single {
        /// Position in the characters.
        character: usize,
        /// Position in the environments.
        environment: usize,
    },
    /// Two characters side by side over one environment.
    SplitScreen {
        /// Position of the left character.
        left: usize,
        /// Position of the right character.
        right: usize,
        /// Position in the environments.
        environment: usize,
    },
}

/// The [`SCENES`] compositions for this many characters and environments, scene 1 first; `None`
/// with fewer than two characters or no environment. Scene `s` (from 0) shows character
/// `s mod characters` in environment `(s + round) mod environments`, where `round` is
/// `s / characters`; the last scene is a split screen of the first two characters in the last
/// environment. With 8 and 8 (the default) no pair repeats. With exactly one environment more than
/// characters (7 and 8, 8 and 9) the shift is a whole lap, so every round repeats the first one's
/// pairs: kept as the worker always did it, and tested as such.
pub fn compositions(characters: usize, environments: usize) -> Option<Vec<Composition>> {
    if characters < 2 || environments == 0 {
        return None;
    }
    Some(
        (0..SCENES)
            .map(|s| {
                if s + 1 == SCENES {
                    Composition::SplitScreen {
                        left: 0,
                        right: 1,
                        environment: environments - 1,
                    }
                } else {
                    Composition::Single {
                        character: s % characters,
                        environment: (s + s / characters) % environments,
                    }
                }
            })
            .collect(),
    )
}

/// Step 2: the [`SCENES`] composites, made from the assets that have a file (version 1 or later),
/// characters and environments each in plan order. `root` is the workspace root: inputs are
/// absolute.
pub fn composite_items(
    task: &Task,
    root: &Path,
    assets: &[AssetRecord],
) -> Result<Vec<StepItem>, StepFailure> {
    let files = |k: AssetKind| -> Vec<(&str, PathBuf)> {
        assets
            .iter()
            .filter(|a| a.kind == k && a.current_version > 0)
            .map(|a| {
                let rel = Workspace::asset_rel(&task.channel_id, task.id, a.kind, &a.name);
                (a.name.as_str(), root.join(rel))
            })
            .collect()
    };
    let (chars, envs) = (files(AssetKind::Character), files(AssetKind::Environment));
    let Some(scenes) = compositions(chars.len(), envs.len()) else {
        return Err(StepFailure::new(
            ErrorCategory::Permanent,
            "composites need at least two characters and one environment; regenerate the assets",
        ));
    };
    Ok(scenes
        .into_iter()
        .enumerate()
        .map(|(s, c)| {
            let (prompt, inputs) = match c {
                Composition::Single {
                    character,
                    environment,
                } => (
                    format!("{} in {}", chars[character].0, envs[environment].0),
                    vec![chars[character].1.clone(), envs[environment].1.clone()],
                ),
                Composition::SplitScreen {
                    left,
                    right,
                    environment,
                } => (
                    format!(
                        "Split screen: {} and {} in {}",
                        chars[left].0, chars[right].0, envs[environment].0
                    ),
                    vec![
                        chars[left].1.clone(),
                        chars[right].1.clone(),
                        envs[environment].1.clone(),
                    ],
                ),
            };
            let scene = s + 1;
            scene_item(
                Workspace::composite_rel(&task.channel_id, task.id, scene),
                scene,
                prompt,
                inputs,
            )
        })
        .collect())
}

/// The task's scene plan (see [`crate::scene`]): the pairings of the assets that have a file,
/// characters and environments each in plan order (the same the composites use), with the
/// scenes of the task's plan text where it gives them and the creator's `edits` over both.
pub fn scenes(
    task: &Task,
    assets: &[AssetRecord],
    plan_text: Option<&str>,
    edits: &[(u32, PlannedScene)],
) -> Result<Vec<Scene>, StepFailure> {
    let names = |k: AssetKind| -> Vec<&str> {
        assets
            .iter()
            .filter(|a| a.kind == k && a.current_version > 0)
            .map(|a| a.name.as_str())
            .collect()
    };
    scenes_of(
        task,
        &names(AssetKind::Character),
        &names(AssetKind::Environment),
        plan_text,
        edits,
    )
}

/// The scene plan over these character and environment names (a draft's plan, before any asset
/// is drawn); see [`scenes`].
pub fn scenes_of(
    task: &Task,
    characters: &[&str],
    environments: &[&str],
    plan_text: Option<&str>,
    edits: &[(u32, PlannedScene)],
) -> Result<Vec<Scene>, StepFailure> {
    let mut planned = match plan_text {
        Some(text) => crate::scene::planned_scenes_of_text(text, "the task's plan")?,
        None => None,
    };
    if !edits.is_empty() {
        let scenes = planned.get_or_insert_with(|| vec![PlannedScene::default(); SCENES]);
        for (n, edit) in edits {
            if let Some(s) = (*n as usize).checked_sub(1).and_then(|i| scenes.get_mut(i)) {
                s.narration = edit.narration.clone().or(s.narration.take());
                s.motion = edit.motion.clone().or(s.motion.take());
                s.sfx = edit.sfx.clone().or(s.sfx.take());
            }
        }
    }
    crate::scene::scene_plan(
        &task.topic,
        &task.story_direction,
        characters,
        environments,
        planned.as_deref(),
    )
    .map_err(|_| {
        StepFailure::new(
            ErrorCategory::Permanent,
            "the scenes need at least two characters and one environment; regenerate the assets",
        )
    })
}

/// Step 3: one clip per scene, each made from the composite recorded at the same position in
/// the composites' checkpoints (`(item, output)` pairs in item order, outputs relative to
/// `root`) with its scene's camera move; a scene without a composite gets no input.
pub fn clip_items(
    task: &Task,
    root: &Path,
    composites: &[(String, String)],
    scenes: &[Scene],
) -> Vec<StepItem> {
    scene_items(
        |s| Workspace::clip_rel(&task.channel_id, task.id, s),
        |s| scene_text(scenes, s, |sc| &sc.motion),
        |s| {
            composites
                .get(s - 1)
                .map(|(_, out)| vec![root.join(out)])
                .unwrap_or_default()
        },
    )
}

/// Step 4: one narration per scene, its prompt the line to speak.
pub fn narration_items(task: &Task, scenes: &[Scene]) -> Vec<StepItem> {
    scene_items(
        |s| Workspace::narration_rel(&task.channel_id, task.id, s),
        |s| scene_text(scenes, s, |sc| &sc.narration),
        |_| vec![],
    )
}

/// Step 5: one sound effect per scene, its prompt the sound's description.
pub fn sfx_items(task: &Task, scenes: &[Scene]) -> Vec<StepItem> {
    scene_items(
        |s| Workspace::sfx_rel(&task.channel_id, task.id, s),
        |s| scene_text(scenes, s, |sc| &sc.sfx),
        |_| vec![],
    )
}

/// Step 6: the one assembled video, made from every scene's clip, narration and effect (in
/// that order, scene 1 first), one chapter per scene.
pub fn assembly_items(task: &Task, root: &Path, scenes: &[Scene]) -> Vec<StepItem> {
    let (c, t) = (&task.channel_id, task.id);
    let mut item = project_item(
        "final",
        Workspace::final_video_rel(c, t),
        format!("Assemble \"{}\"", task.title),
        (1..=SCENES)
            .flat_map(|s| {
                [
                    Workspace::clip_rel(c, t, s),
                    Workspace::narration_rel(c, t, s),
                    Workspace::sfx_rel(c, t, s),
                ]
            })
            .map(|rel| root.join(rel))
            .collect(),
    );
    item.titles = (1..=SCENES)
        .map(|s| match scenes.get(s - 1) {
            Some(sc) => format!("Scene {s}: {}", sc.shows),
            None => format!("Scene {s}"),
        })
        .collect();
    vec![item]
}

/// Step 7: the one upload of the assembled video.
pub fn upload_items(task: &Task, root: &Path) -> Vec<StepItem> {
    vec![project_item(
        "upload",
        Workspace::upload_result_rel(&task.channel_id, task.id),
        format!("Upload \"{}\"", task.title),
        vec![root.join(Workspace::final_video_rel(&task.channel_id, task.id))],
    )]
}

/// A scene's text for a scene-by-scene step; empty when the plan has no such scene.
fn scene_text(scenes: &[Scene], scene: usize, text: impl Fn(&Scene) -> &String) -> String {
    scenes.get(scene - 1).map(text).cloned().unwrap_or_default()
}

/// The [`SCENES`] items of a scene-by-scene step, scene 1 first.
fn scene_items(
    output_rel: impl Fn(usize) -> PathBuf,
    prompt: impl Fn(usize) -> String,
    inputs: impl Fn(usize) -> Vec<PathBuf>,
) -> Vec<StepItem> {
    (1..=SCENES)
        .map(|s| scene_item(output_rel(s), s, prompt(s), inputs(s)))
        .collect()
}

/// One scene's item; its key is the output's file name without extension (`clip_01`).
fn scene_item(output_rel: PathBuf, scene: usize, prompt: String, inputs: Vec<PathBuf>) -> StepItem {
    let key = output_rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    StepItem {
        key,
        index: scene,
        kind: None,
        prompt,
        output_rel,
        width: FRAME_SIZE.0,
        height: FRAME_SIZE.1,
        inputs,
        version: 1,
        titles: vec![],
    }
}

/// The single item of a step that works on the whole project (assembly, upload).
fn project_item(key: &str, output_rel: PathBuf, prompt: String, inputs: Vec<PathBuf>) -> StepItem {
    StepItem {
        key: key.into(),
        index: 1,
        kind: None,
        prompt,
        output_rel,
        width: FRAME_SIZE.0,
        height: FRAME_SIZE.1,
        inputs,
        version: 1,
        titles: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::ReviewState;
    use crate::ids::{AssetName, ChannelId};
    use crate::status::Status;

    const ROOT: &str = "/ws";

    fn task() -> Task {
        Task {
            topic: "volcanoes".into(),
            story_direction: "a hopeful journey".into(),
            correlation_id: "c".into(),
            ..Task::new(
                ChannelId::parse("science_daily").unwrap(),
                "Volcanoes",
                Status::Claimed,
                chrono::Utc::now(),
            )
        }
    }

    fn asset(task: &Task, name: &str, kind: AssetKind, version: u32) -> AssetRecord {
        AssetRecord {
            task_id: task.id,
            name: AssetName::parse(name).unwrap(),
            kind,
            prompt: format!("draw {name}"),
            position: 0,
            current_version: version,
            review_state: ReviewState::Generated,
            flagged: false,
            flag_note: None,
            failure: None,
        }
    }

    /// `characters` characters `c1…`, `environments` environments `e1…` and two props, all at
    /// `version`, in plan order.
    fn assets(
        task: &Task,
        characters: usize,
        environments: usize,
        version: u32,
    ) -> Vec<AssetRecord> {
        let named = |prefix: &str, n: usize, kind| {
            (1..=n)
                .map(|i| asset(task, &format!("{prefix}{i}"), kind, version))
                .collect::<Vec<_>>()
        };
        [
            named("c", characters, AssetKind::Character),
            named("e", environments, AssetKind::Environment),
            named("p", 2, AssetKind::Prop),
        ]
        .concat()
    }

    fn project(task: &Task) -> PathBuf {
        Workspace::project_rel(&task.channel_id, task.id)
    }

    fn keys(items: &[StepItem]) -> Vec<String> {
        items.iter().map(|i| i.key.clone()).collect()
    }

    fn numbered(prefix: &str) -> Vec<String> {
        (1..=18).map(|i| format!("{prefix}_{i:02}")).collect()
    }

    #[test]
    fn every_scene_step_makes_eighteen_items_numbered_from_one() {
        let t = task();
        let root = Path::new(ROOT);
        let comps = composite_items(&t, root, &assets(&t, 8, 8, 1)).unwrap();
        let sc = scenes(&t, &assets(&t, 8, 8, 1), None, &[]).unwrap();
        let steps = [
            ("composite", comps),
            ("clip", clip_items(&t, root, &[], &sc)),
            ("narration", narration_items(&t, &sc)),
            ("sfx", sfx_items(&t, &sc)),
        ];
        for (prefix, items) in steps {
            assert_eq!(items.len(), SCENES, "{prefix}");
            assert_eq!(keys(&items), numbered(prefix), "{prefix}");
            let indexes: Vec<usize> = items.iter().map(|i| i.index).collect();
            assert_eq!(indexes, (1..=18).collect::<Vec<_>>(), "{prefix}");
            assert!(items.iter().all(|i| i.kind.is_none() && i.version == 1));
            assert!(items.iter().all(|i| (i.width, i.height) == (1920, 1080)));
        }
        assert_eq!(SCENES, 18);
    }

    #[test]
    fn outputs_are_named_per_step_inside_the_project_folder() {
        let t = task();
        let root = Path::new(ROOT);
        let p = project(&t);
        let sc = scenes(&t, &assets(&t, 8, 8, 1), None, &[]).unwrap();
        let all = [
            composite_items(&t, root, &assets(&t, 8, 8, 1)).unwrap(),
            clip_items(&t, root, &[], &sc),
            narration_items(&t, &sc),
            sfx_items(&t, &sc),
            assembly_items(&t, root, &sc),
            upload_items(&t, root),
            asset_items(&t, &assets(&t, 8, 8, 0), &HashSet::new()),
        ]
        .concat();
        for item in &all {
            assert!(item.output_rel.starts_with(&p), "{:?}", item.output_rel);
            assert!(item.output_rel.is_relative(), "{:?}", item.output_rel);
            for input in &item.inputs {
                assert!(input.starts_with(Path::new(ROOT).join(&p)), "{input:?}");
            }
        }
        let first = |items: &[StepItem]| items[0].output_rel.strip_prefix(&p).unwrap().to_owned();
        assert_eq!(
            first(&composite_items(&t, root, &assets(&t, 8, 8, 1)).unwrap()),
            Path::new("composites/composite_01.png")
        );
        assert_eq!(
            first(&clip_items(&t, root, &[], &sc)),
            Path::new("video/clip_01.mp4")
        );
        assert_eq!(
            first(&narration_items(&t, &sc)),
            Path::new("audio/narration_01.mp3")
        );
        assert_eq!(first(&sfx_items(&t, &sc)), Path::new("sfx/sfx_01.mp3"));
        assert_eq!(
            first(&assembly_items(&t, root, &sc)),
            PathBuf::from(format!("final/{}_final.mp4", t.id))
        );
        assert_eq!(
            first(&upload_items(&t, root)),
            Path::new("upload/result.txt")
        );
        let a = asset_items(&t, &assets(&t, 8, 8, 0), &HashSet::new());
        assert_eq!(first(&a), Path::new("assets/characters/c1.png"));
        assert_eq!(
            a[8].output_rel.strip_prefix(&p).unwrap(),
            Path::new("assets/environments/e1.png")
        );
        assert_eq!(
            a[16].output_rel.strip_prefix(&p).unwrap(),
            Path::new("assets/props/p1.png")
        );
    }

    #[test]
    fn assembly_takes_every_scene_in_order_and_upload_takes_the_final_video() {
        let t = task();
        let root = Path::new(ROOT);
        let sc = scenes(&t, &assets(&t, 8, 8, 1), None, &[]).unwrap();
        let a = assembly_items(&t, root, &sc);
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!(
            (a.key.as_str(), a.prompt.as_str()),
            ("final", "Assemble \"Volcanoes\"")
        );
        assert_eq!(a.inputs.len(), 3 * SCENES);
        let p = root.join(project(&t));
        assert_eq!(
            &a.inputs[3..6],
            &[
                p.join("video/clip_02.mp4"),
                p.join("audio/narration_02.mp3"),
                p.join("sfx/sfx_02.mp3")
            ]
        );
        assert_eq!(a.titles.len(), SCENES);
        assert_eq!(a.titles[0], "Scene 1: c1 in e1");
        let u = &upload_items(&t, root)[0];
        assert_eq!((u.key.as_str(), u.index), ("upload", 1));
        assert_eq!(
            u.inputs,
            vec![root.join(Workspace::final_video_rel(&t.channel_id, t.id))]
        );
        assert_eq!((u.width, u.height, u.version), (1920, 1080, 1));
    }

    #[test]
    fn asset_sizes_depend_on_the_kind_and_match_the_built_in_generator() {
        assert_eq!(asset_size(AssetKind::Character), (768, 1024));
        assert_eq!(asset_size(AssetKind::Environment), (1920, 1080));
        assert_eq!(asset_size(AssetKind::Prop), (512, 512));
        for kind in AssetKind::ALL {
            assert_eq!(asset_size(kind), kind.image_kind().generated_size());
        }
        let t = task();
        for item in asset_items(&t, &assets(&t, 6, 9, 0), &HashSet::new()) {
            assert_eq!((item.width, item.height), asset_size(item.kind.unwrap()));
        }
    }

    #[test]
    fn asset_items_follow_the_plan_with_kind_prompt_and_position() {
        let t = task();
        let items = asset_items(&t, &assets(&t, 8, 8, 0), &HashSet::new());
        assert_eq!(items.len(), 18);
        assert_eq!(items[0].key, "c1");
        assert_eq!(items[0].prompt, "draw c1");
        assert_eq!(items[0].kind, Some(AssetKind::Character));
        assert_eq!(items[8].kind, Some(AssetKind::Environment));
        assert_eq!(items[17].kind, Some(AssetKind::Prop));
        let indexes: Vec<usize> = items.iter().map(|i| i.index).collect();
        assert_eq!(indexes, (1..=18).collect::<Vec<_>>());
        assert!(items.iter().all(|i| i.inputs.is_empty()));
    }

    #[test]
    fn redo_items_get_a_new_version_while_done_ones_keep_theirs() {
        assert_eq!(item_version(0, false), 1);
        assert_eq!(item_version(2, false), 3);
        assert_eq!(item_version(2, true), 2);
        let t = task();
        let mut list = assets(&t, 8, 8, 1);
        list[1].current_version = 3;
        // A first run: nothing drawn yet.
        let fresh = asset_items(&t, &assets(&t, 8, 8, 0), &HashSet::new());
        assert!(fresh.iter().all(|i| i.version == 1));
        // A redo after a rejection, where c1 was already redrawn in this run (then the worker
        // died): c1 keeps version 1, c2 becomes 4, every other one 2.
        let done: HashSet<String> = ["c1".to_string()].into();
        let items = asset_items(&t, &list, &done);
        assert_eq!(items[0].version, 1);
        assert_eq!(items[1].version, 4);
        assert!(items[2..].iter().all(|i| i.version == 2));
    }

    #[test]
    fn composites_go_round_the_characters_and_shift_the_environments_each_round() {
        use Composition::*;
        let scenes = compositions(8, 8).unwrap();
        assert_eq!(scenes.len(), 18);
        // Round one: character i in environment i.
        for (s, c) in scenes.iter().enumerate().take(8) {
            assert_eq!(
                *c,
                Single {
                    character: s,
                    environment: s
                }
            );
        }
        // Round two: shifted by one.
        assert_eq!(
            scenes[8],
            Single {
                character: 0,
                environment: 1
            }
        );
        assert_eq!(
            scenes[15],
            Single {
                character: 7,
                environment: 0
            }
        );
        // Round three, then the split screen.
        assert_eq!(
            scenes[16],
            Single {
                character: 0,
                environment: 2
            }
        );
        assert_eq!(
            scenes[17],
            SplitScreen {
                left: 0,
                right: 1,
                environment: 7
            }
        );
        // No pair repeats for the allowed counts, except with one environment more than
        // characters, where each round is a whole lap and repeats the first (7x8: 7 pairs, 8x9: 8).
        for characters in 6..=8 {
            for environments in 8..=10 {
                let scenes = compositions(characters, environments).unwrap();
                let pairs: HashSet<(usize, usize)> = scenes
                    .iter()
                    .filter_map(|c| match *c {
                        Single {
                            character,
                            environment,
                        } => Some((character, environment)),
                        SplitScreen { .. } => None,
                    })
                    .collect();
                let distinct = if environments == characters + 1 {
                    characters
                } else {
                    SCENES - 1
                };
                assert_eq!(pairs.len(), distinct, "{characters}x{environments}");
                assert!(
                    pairs
                        .iter()
                        .all(|&(c, e)| c < characters && e < environments)
                );
            }
        }
    }

    #[test]
    fn composites_need_two_characters_and_an_environment() {
        assert_eq!(compositions(1, 8), None);
        assert_eq!(compositions(2, 0), None);
        assert!(compositions(2, 1).is_some());
        let t = task();
        let root = Path::new(ROOT);
        // Assets not drawn yet (version 0) do not count.
        let mut list = assets(&t, 8, 8, 1);
        for a in list
            .iter_mut()
            .filter(|a| a.kind == AssetKind::Character)
            .skip(1)
        {
            a.current_version = 0;
        }
        let e = composite_items(&t, root, &list).unwrap_err();
        assert_eq!(e.category, ErrorCategory::Permanent);
        assert!(
            e.message.contains("at least two characters"),
            "{}",
            e.message
        );
        let no_env: Vec<_> = assets(&t, 8, 8, 1)
            .into_iter()
            .filter(|a| a.kind != AssetKind::Environment)
            .collect();
        assert!(composite_items(&t, root, &no_env).is_err());
    }

    #[test]
    fn composite_items_name_their_pair_and_read_the_asset_files() {
        let t = task();
        let root = Path::new(ROOT);
        let file = |kind, name: &str| {
            root.join(Workspace::asset_rel(
                &t.channel_id,
                t.id,
                kind,
                &AssetName::parse(name).unwrap(),
            ))
        };
        let items = composite_items(&t, root, &assets(&t, 8, 8, 1)).unwrap();
        assert_eq!(items[0].prompt, "c1 in e1");
        assert_eq!(
            items[0].inputs,
            vec![
                file(AssetKind::Character, "c1"),
                file(AssetKind::Environment, "e1")
            ]
        );
        assert_eq!(items[9].prompt, "c2 in e3");
        let split = &items[17];
        assert_eq!(split.prompt, "Split screen: c1 and c2 in e8");
        assert_eq!(
            split.inputs,
            vec![
                file(AssetKind::Character, "c1"),
                file(AssetKind::Character, "c2"),
                file(AssetKind::Environment, "e8"),
            ]
        );
        // Characters without a file are skipped: the pairing is over the drawn ones.
        let mut list = assets(&t, 8, 8, 1);
        list[0].current_version = 0;
        let items = composite_items(&t, root, &list).unwrap();
        assert_eq!(items[0].prompt, "c2 in e1");
        assert_eq!(items[17].prompt, "Split screen: c2 and c3 in e8");
    }

    #[test]
    fn clips_are_made_from_the_composites_in_checkpoint_order() {
        let t = task();
        let root = Path::new(ROOT);
        let comps: Vec<(String, String)> = (1..=3)
            .map(|i| (format!("composite_{i:02}"), format!("c/{i}.png")))
            .collect();
        let sc = scenes(&t, &assets(&t, 8, 8, 1), None, &[]).unwrap();
        let items = clip_items(&t, root, &comps, &sc);
        assert_eq!(items[0].inputs, vec![root.join("c/1.png")]);
        assert_eq!(items[2].inputs, vec![root.join("c/3.png")]);
        assert!(
            items[3].inputs.is_empty(),
            "a scene without a composite has no input"
        );
        assert_eq!(items[0].prompt, sc[0].motion);
        assert_eq!(items[0].prompt, "slow zoom in on the c1 in the e1");
    }

    #[test]
    fn narration_and_effects_are_prompted_per_scene_from_the_scene_plan() {
        let t = task();
        let sc = scenes(&t, &assets(&t, 8, 8, 1), None, &[]).unwrap();
        let n = narration_items(&t, &sc);
        assert_eq!(n[4].prompt, sc[4].narration);
        assert!(n[4].prompt.contains("volcanoes"), "{}", n[4].prompt);
        assert!(n.iter().all(|i| i.inputs.is_empty()));
        let s = sfx_items(&t, &sc);
        assert_eq!(s[17].prompt, sc[17].sfx);
        assert!(s.iter().all(|i| i.inputs.is_empty()));
        // A plan that gives scene 3's line: that line is spoken, the rest derived.
        let plan = format!(
            "characters: []\nscenes:\n{}",
            (1..=18)
                .map(|i| format!("  - narration: Line {i}.\n"))
                .collect::<String>()
        );
        let given = scenes(&t, &assets(&t, 8, 8, 1), Some(&plan), &[]).unwrap();
        assert_eq!(narration_items(&t, &given)[2].prompt, "Line 3.");
        assert_eq!(given[2].sfx, sc[2].sfx);
        // The creator's edit wins over the plan file, and only the text it names changes.
        let edit = PlannedScene {
            narration: Some("Edited.".into()),
            ..PlannedScene::default()
        };
        let edited = scenes(
            &t,
            &assets(&t, 8, 8, 1),
            Some(&plan),
            &[(3, edit.clone()), (1, edit)],
        )
        .unwrap();
        assert_eq!(edited[2].narration, "Edited.");
        assert_eq!(edited[0].narration, "Edited.");
        assert_eq!(edited[1].narration, "Line 2.");
        assert_eq!(edited[2].motion, sc[2].motion);
    }
}
