//! The built-in executors of steps 3–7, offline and free: clips from the composites with ffmpeg,
//! narration with espeak-ng, synthesized sound effects, the assembled video, and publishing to a
//! folder. Each is replaceable by a `command` (or a provider) in the channel file.
//!
//! The command lines come from `reviewdesk_media`; every program runs through
//! [`crate::program::run_program`] (process group, timeout, cancel, partial output). What each
//! step makes is described in docs/pipeline.md.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reviewdesk_media::{AssemblyScene, ClipSpec, Motion, Sound, Tool, Tools};

use crate::config::{ChannelConfig, NarrationVoice, PublishSettings};
use crate::executor::{
    ItemJob, ItemOutput, MediaKind, StagedFile, StepExecutor, StepFailure, partial_name,
    probe_media, remove_old_partials,
};
use crate::program::{Program, run_program};
use crate::status::Step;
use crate::task::ErrorCategory;

/// How long one program of a built-in step may run: generous for a 2-core machine encoding a
/// 90 s 1080p video.
const STEP_PROGRAM_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A narration longer than this gets a warning on its item: the clip under it is 10 s.
pub const NARRATION_WARN_SECONDS: f64 = 10.0;

/// The programs the built-in executor of a step needs.
pub fn tools_needed(step: Step) -> &'static [Tool] {
    match step {
        Step::Assets | Step::Composites | Step::Upload => &[],
        Step::Video | Step::Sfx | Step::Assembly => &[Tool::Ffmpeg, Tool::Ffprobe],
        Step::Audio => &[Tool::EspeakNg, Tool::Ffmpeg, Tool::Ffprobe],
    }
}

/// What this machine lacks to run the built-in steps of these channels: which programs, the
/// package that installs them, and which steps cannot run until then; `None` when every built-in
/// step can run. The worker says it when it starts, and the status bar shows it.
pub fn missing_programs(channels: &[ChannelConfig], tools: &Tools) -> Option<String> {
    let mut missing: Vec<Tool> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    for step in Step::ALL {
        let builtin = channels
            .iter()
            .any(|c| c.executor_for(step) == crate::config::ExecutorConfig::Builtin);
        if !builtin {
            continue;
        }
        let lacking = tools.missing(tools_needed(step));
        if !lacking.is_empty() {
            steps.push(step);
        }
        missing.extend(lacking);
    }
    if missing.is_empty() {
        return None;
    }
    missing.sort();
    missing.dedup();
    let names: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    Some(format!(
        "{}; until then the built-in {} step{} cannot run (a task waits there with its work kept, and goes on by itself once it is installed)",
        Tools::install_hint(&missing),
        names.join(", "),
        if names.len() == 1 { "" } else { "s" }
    ))
}

/// The built-in executor of one of steps 3–7 for one channel.
#[derive(Debug, Clone)]
pub struct MediaExecutor {
    step: Step,
    tools: Tools,
    voice: NarrationVoice,
    publish: PublishSettings,
    publish_root: PathBuf,
    channel_id: String,
}

impl MediaExecutor {
    /// The built-in executor of `step` (3–7) for `channel`; `publish_root` is where a channel
    /// without a `publish.dir` publishes (a folder per channel under it).
    pub fn new(step: Step, channel: &ChannelConfig, tools: Tools, publish_root: PathBuf) -> Self {
        MediaExecutor {
            step,
            tools,
            voice: channel.narration.clone(),
            publish: channel.publish.clone(),
            publish_root,
            channel_id: channel.channel_id.to_string(),
        }
    }

    /// Runs one program of this item, writing to a fresh partial file beside `output`.
    async fn run(
        &self,
        tool: Tool,
        args: impl FnOnce(&Path) -> Vec<String>,
        output: &Path,
        job: &ItemJob,
        stdin: Option<Vec<u8>>,
        seconds: Option<f64>,
    ) -> Result<StagedFile, StepFailure> {
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let tmp = partial_name(output, &attempt[..12]);
        let progress = |written: f64| {
            if let Some(total) = seconds.filter(|t| *t > 0.0) {
                job.progress.report((written / total).clamp(0.0, 1.0));
            }
        };
        let staged = run_program(Program {
            program: self.tools.program(tool),
            args: args(&tmp),
            stdin,
            timeout: STEP_PROGRAM_TIMEOUT,
            partial: tmp,
            item: &job.item.key,
            start_hint: &format!(
                "the built-in {} step runs {}: install the Debian package {}",
                self.step,
                tool.program(),
                tool.package()
            ),
            timeout_hint: "the machine may be overloaded; retry the task",
            progress: Some(&progress),
        })
        .await?;
        match tokio::fs::metadata(staged.path()).await {
            Ok(m) if m.is_file() && m.len() > 0 => Ok(staged),
            _ => Err(StepFailure::new(
                ErrorCategory::Transient,
                format!("{} wrote nothing for {}", tool.program(), job.item.key),
            )),
        }
    }

    /// The length of a media file in seconds, by ffprobe.
    async fn duration(&self, file: &Path, shown: &str) -> Result<f64, StepFailure> {
        crate::renditions::probe_duration(&self.tools.ffprobe, file, shown).await
    }

    async fn clip(&self, job: &ItemJob, output: &Path) -> Result<ItemOutput, StepFailure> {
        let Some(composite) = job.item.inputs.first() else {
            return Err(StepFailure::new(
                ErrorCategory::Permanent,
                format!(
                    "{} has no composite to animate; run the composites again",
                    job.item.key
                ),
            ));
        };
        readable(composite, "the composite")?;
        let motion = Motion::from_prompt(&job.item.prompt);
        let spec = ClipSpec::SCENE;
        let staged = self
            .run(
                Tool::Ffmpeg,
                |tmp| reviewdesk_media::clip_args(composite, tmp, motion, &spec),
                output,
                job,
                None,
                Some(spec.seconds as f64),
            )
            .await?;
        self.checked(job, staged, output).await
    }

    async fn narration(&self, job: &ItemJob, output: &Path) -> Result<ItemOutput, StepFailure> {
        let wav_out = output.with_extension("wav");
        remove_old_partials(&wav_out).await;
        let wav = self
            .run(
                Tool::EspeakNg,
                |tmp| reviewdesk_media::speech_args(&self.voice.voice, self.voice.rate, tmp),
                &wav_out,
                job,
                Some(job.item.prompt.clone().into_bytes()),
                None,
            )
            .await?;
        let encoded = self
            .run(
                Tool::Ffmpeg,
                |tmp| reviewdesk_media::encode_speech_args(wav.path(), tmp),
                output,
                job,
                None,
                None,
            )
            .await?;
        drop(wav);
        let seconds = self
            .duration(
                encoded.path(),
                &format!("the narration of {}", job.item.key),
            )
            .await?;
        let mut out = self.checked(job, encoded, output).await?;
        if seconds > NARRATION_WARN_SECONDS {
            out.warning = Some(format!(
                "the narration lasts {seconds:.1} s, longer than the {NARRATION_WARN_SECONDS:.0} s clip under it: shorten the line"
            ));
        }
        Ok(out)
    }

    async fn effect(&self, job: &ItemJob, output: &Path) -> Result<ItemOutput, StepFailure> {
        let sound = Sound::from_description(&job.item.prompt);
        let seconds = ClipSpec::SCENE.seconds;
        let staged = self
            .run(
                Tool::Ffmpeg,
                |tmp| reviewdesk_media::effect_args(sound, seconds, tmp),
                output,
                job,
                None,
                Some(seconds as f64),
            )
            .await?;
        self.checked(job, staged, output).await
    }

    async fn assembly(&self, job: &ItemJob, output: &Path) -> Result<ItemOutput, StepFailure> {
        let inputs = &job.item.inputs;
        if inputs.is_empty()
            || !inputs.len().is_multiple_of(3)
            || inputs.len() / 3 != job.item.titles.len()
        {
            return Err(StepFailure::new(
                ErrorCategory::Permanent,
                "assembly needs a clip, a narration and an effect for every scene; run the earlier steps again",
            ));
        }
        let mut scenes = Vec::new();
        for (files, title) in inputs.chunks(3).zip(&job.item.titles) {
            for f in files {
                readable(f, "a scene's file")?;
            }
            let seconds = self
                .duration(&files[1], &format!("the narration {}", files[1].display()))
                .await?;
            scenes.push(AssemblyScene {
                clip: &files[0],
                narration: &files[1],
                effect: &files[2],
                seconds,
                title: title.clone(),
            });
        }
        let total: f64 = scenes.iter().map(|s| s.seconds).sum();
        let metadata = output.with_extension("chapters.txt");
        let text = reviewdesk_media::chapters_metadata(&job.task_title, &scenes);
        tokio::fs::write(&metadata, text).await.map_err(|e| {
            StepFailure::from(crate::error::CoreError::io("cannot write", &metadata, e))
        })?;
        let staged = self
            .run(
                Tool::Ffmpeg,
                |tmp| {
                    reviewdesk_media::assembly_args(
                        &scenes,
                        &metadata,
                        tmp,
                        (job.item.width, job.item.height),
                    )
                },
                output,
                job,
                None,
                Some(total),
            )
            .await;
        let _ = tokio::fs::remove_file(&metadata).await;
        self.checked(job, staged?, output).await
    }

    /// Checks a finished video or audio file with ffprobe before it counts.
    async fn checked(
        &self,
        job: &ItemJob,
        staged: StagedFile,
        output: &Path,
    ) -> Result<ItemOutput, StepFailure> {
        if let Some(kind) = MediaKind::of(output) {
            let shown = format!("the {} of {}", kind_word(kind), job.item.key);
            probe_media(&self.tools.ffprobe, staged.path(), kind, &shown).await?;
        }
        Ok(ItemOutput {
            staged: Some(staged),
            ..ItemOutput::default()
        })
    }

    /// Publishes the final video and its sidecar to the channel's folder; the item's output is a
    /// note of where they went.
    async fn publish(&self, job: &ItemJob) -> Result<ItemOutput, StepFailure> {
        let Some(video) = job.item.inputs.first() else {
            return Err(StepFailure::new(
                ErrorCategory::Permanent,
                "there is no final video to publish; run the assembly again",
            ));
        };
        readable(video, "the final video")?;
        let dir = self
            .publish
            .dir
            .clone()
            .unwrap_or_else(|| self.publish_root.join(&self.channel_id));
        let chapters = crate::publish::read_chapters(&self.tools.ffprobe, video).await?;
        let sidecar =
            crate::publish::Sidecar::new(&job.task_title, &job.task_topic, &self.publish, chapters);
        let published =
            crate::publish::publish_to_folder(&dir, job.task_id, video, &sidecar).await?;
        let note = format!(
            "published to {}\nsidecar {}\n",
            published.video.display(),
            published.sidecar.display()
        );
        Ok(ItemOutput {
            bytes: Some(std::sync::Arc::new(note.into_bytes())),
            ..ItemOutput::default()
        })
    }
}

fn kind_word(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
    }
}

/// An input must be a readable file: a clear message names it when it is not (a deleted or
/// moved project file), rather than an ffmpeg error.
fn readable(path: &Path, what: &str) -> Result<(), StepFailure> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        _ => Err(StepFailure::new(
            ErrorCategory::Permanent,
            format!(
                "{what} {} is missing; run the step that makes it again",
                path.display()
            ),
        )),
    }
}

impl StepExecutor for MediaExecutor {
    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let output = job.workspace.resolve(&job.item.output_rel)?;
            if let Some(dir) = output.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    StepFailure::from(crate::error::CoreError::io("cannot create folder", dir, e))
                })?;
            }
            remove_old_partials(&output).await;
            match self.step {
                Step::Video => self.clip(job, &output).await,
                Step::Audio => self.narration(job, &output).await,
                Step::Sfx => self.effect(job, &output).await,
                Step::Assembly => self.assembly(job, &output).await,
                Step::Upload => self.publish(job).await,
                other => Err(StepFailure::new(
                    ErrorCategory::Configuration,
                    format!("the built-in media executor does not make the {other} step"),
                )),
            }
        })
    }

    fn concurrency(&self) -> usize {
        // Each encode already uses every core; two at once keep them busy between programs.
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(2)
    }

    fn describe(&self) -> String {
        format!("built-in {}", self.step)
    }
}
