//! The built-in upload: "publish to folder". The final video and a JSON sidecar (title,
//! description from the channel's template, tags, chapters) are copied into the channel's
//! publish folder, each atomically (a hidden partial file renamed into place), the video first:
//! a sidecar beside a video means both are complete, which is what a folder-watching uploader
//! can rely on.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::config::PublishSettings;
use crate::error::CoreError;
use crate::executor::StepFailure;
use crate::ids::TaskId;
use crate::task::ErrorCategory;

/// One chapter of the published video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Chapter {
    /// Where it starts, in seconds.
    pub start_seconds: f64,
    /// Its title.
    pub title: String,
}

/// What is published beside the video, for an uploader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The video's title.
    pub title: String,
    /// The description, from the channel's template.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Chapters, in order.
    pub chapters: Vec<Chapter>,
}

/// The description template used when the channel has none.
pub const DEFAULT_DESCRIPTION: &str = "{title}\n\nA video about {topic}.\n\nChapters:\n{chapters}";

impl Sidecar {
    /// The sidecar of a video: the template's `{title}`, `{topic}` and `{chapters}` (one
    /// `m:ss Title` line per chapter, the form YouTube reads as chapters) filled in.
    pub fn new(
        title: &str,
        topic: &str,
        settings: &PublishSettings,
        chapters: Vec<Chapter>,
    ) -> Sidecar {
        let lines: Vec<String> = chapters
            .iter()
            .map(|c| {
                let s = c.start_seconds.max(0.0).floor() as u64;
                format!("{}:{:02} {}", s / 60, s % 60, c.title)
            })
            .collect();
        let template = settings
            .description_template
            .as_deref()
            .unwrap_or(DEFAULT_DESCRIPTION);
        Sidecar {
            title: title.to_string(),
            description: template
                .replace("{title}", title)
                .replace("{topic}", topic)
                .replace("{chapters}", &lines.join("\n")),
            tags: settings.tags.clone(),
            chapters,
        }
    }
}

/// Where a video was published.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The video.
    pub video: PathBuf,
    /// Its sidecar.
    pub sidecar: PathBuf,
}

/// The chapters of a workspace video (`rel`), for the final gate's chapter marks. A path outside
/// the workspace or a missing file is [`CoreError::NotFound`]; a file ffprobe cannot read is
/// [`CoreError::Invalid`].
pub async fn chapters_of(
    ws: &crate::workspace::Workspace,
    rel: &str,
    ffprobe: &str,
) -> crate::error::Result<Vec<Chapter>> {
    let path = ws.resolve(rel)?;
    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
        return Err(crate::error::CoreError::NotFound {
            what: "file",
            id: rel.to_string(),
        });
    }
    read_chapters(ffprobe, &path)
        .await
        .map_err(|f| crate::error::CoreError::invalid("file", f.message))
}

/// Reads a video's chapters with ffprobe.
pub async fn read_chapters(ffprobe: &str, video: &Path) -> Result<Vec<Chapter>, StepFailure> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        chapters: Vec<ProbeChapter>,
    }
    #[derive(Deserialize)]
    struct ProbeChapter {
        start_time: String,
        #[serde(default)]
        tags: std::collections::BTreeMap<String, String>,
    }
    let args = ["-v", "error", "-show_chapters", "-of", "json"]
        .map(String::from)
        .into_iter()
        .chain([reviewdesk_media::file_arg(video)])
        .collect::<Vec<_>>();
    let out = crate::program::ffprobe_stdout(ffprobe, &args).await?;
    let probe: Probe = serde_json::from_slice(&out).map_err(|_| {
        StepFailure::new(
            ErrorCategory::Permanent,
            format!(
                "{} is not a readable video; run the assembly again",
                video.display()
            ),
        )
    })?;
    Ok(probe
        .chapters
        .into_iter()
        .map(|c| Chapter {
            start_seconds: c.start_time.parse().unwrap_or(0.0),
            title: c.tags.get("title").cloned().unwrap_or_default(),
        })
        .collect())
}

/// A file name from a title: lowercase letters and digits joined by `-`, at most 60 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.chars().count() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "video".into() } else { out }
}

/// Copies `video` and writes `sidecar` into `dir` as `{slug}-{task}.mp4` and `.json`, each
/// atomically, the video first. Publishing again (a re-run) replaces both.
pub async fn publish_to_folder(
    dir: &Path,
    task: TaskId,
    video: &Path,
    sidecar: &Sidecar,
) -> Result<Published, StepFailure> {
    let id = task.to_string();
    let name = format!("{}-{}", slug(&sidecar.title), &id[id.len() - 8..]);
    let (dir, video, json) = (
        dir.to_path_buf(),
        video.to_path_buf(),
        serde_json::to_vec_pretty(sidecar).unwrap_or_default(),
    );
    tokio::task::spawn_blocking(move || -> Result<Published, CoreError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| CoreError::io("cannot create the publish folder", &dir, e))?;
        let dest = dir.join(format!("{name}.mp4"));
        let partial = dir.join(format!(".{name}.mp4.partial"));
        let copied = std::fs::copy(&video, &partial)
            .and_then(|_| std::fs::File::open(&partial)?.sync_all())
            .and_then(|_| std::fs::rename(&partial, &dest));
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(CoreError::io("cannot publish the video to", &dest, e));
        }
        let sidecar = dir.join(format!("{name}.json"));
        crate::workspace::write_atomic_abs(&sidecar, &json)?;
        Ok(Published {
            video: dest,
            sidecar,
        })
    })
    .await
    .map_err(|e| StepFailure::new(ErrorCategory::Transient, format!("publishing failed: {e}")))?
    .map_err(|e| {
        let mut f = StepFailure::from(e);
        // A full disk or a folder without permission will not pass by retrying alone.
        f.message
            .push_str("; check the channel's publish folder (publish.dir), then retry");
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_file_names() {
        assert_eq!(slug("Why Volcanoes Erupt?!"), "why-volcanoes-erupt");
        assert_eq!(slug("  ***  "), "video");
        assert_eq!(slug(&"a".repeat(100)).len(), 60);
    }

    #[test]
    fn the_description_lists_chapters_as_youtube_reads_them() {
        let settings = PublishSettings {
            tags: vec!["science".into()],
            ..PublishSettings::default()
        };
        let s = Sidecar::new(
            "Volcanoes",
            "how volcanoes work",
            &settings,
            vec![
                Chapter {
                    start_seconds: 0.0,
                    title: "Scene 1".into(),
                },
                Chapter {
                    start_seconds: 75.4,
                    title: "Scene 2".into(),
                },
            ],
        );
        assert!(s.description.contains("A video about how volcanoes work."));
        assert!(s.description.ends_with("0:00 Scene 1\n1:15 Scene 2"));
        assert_eq!(s.tags, vec!["science"]);
    }
}
