//! Step executors: the built-in local generators and a user's command, behind one trait.
//!
//! An executor never writes an item's output in place: it hands back the finished bytes or a
//! file staged under a name unique to the attempt, and the worker moves it into place only while
//! its claim still holds the task. A stale run (its task was cancelled, retried and claimed again)
//! therefore never overwrites the current run's output, and two attempts never share a file.

use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use crate::asset::AssetKind;
use crate::config::{ChannelConfig, ExecutorConfig};
use crate::error::CoreError;
use crate::ids::TaskId;
use crate::status::Step;
use crate::task::ErrorCategory;
use crate::thumbs::{self, PreparedImage};
use crate::workspace::{Workspace, write_atomic_abs};

use crate::program::{Program, Tail, run_program, scrub_env};
pub use crate::program::{
    SECRET_ENV, STDERR_TAIL_BYTES, classify_exit, is_secret_env, kill_all_running_programs,
    kill_process_group, redact,
};

/// One unit of work inside a step (an asset, a composite, a clip).
#[derive(Debug, Clone)]
pub struct StepItem {
    /// Stable key, unique within the step (the asset name, `composite_01`).
    pub key: String,
    /// Position, from 1.
    pub index: usize,
    /// Asset kind, for step 1.
    pub kind: Option<AssetKind>,
    /// What to make.
    pub prompt: String,
    /// Output file relative to the workspace.
    pub output_rel: PathBuf,
    /// Wanted width in pixels.
    pub width: u32,
    /// Wanted height in pixels.
    pub height: u32,
    /// Input files (absolute) this item is made from.
    pub inputs: Vec<PathBuf>,
    /// Version being made (assets only).
    pub version: u32,
    /// The scenes' titles, for an item made of every scene (the assembly's chapters).
    pub titles: Vec<String>,
}

/// Everything an executor needs for one item.
#[derive(Debug, Clone)]
pub struct ItemJob {
    /// Task.
    pub task_id: TaskId,
    /// Step.
    pub step: Step,
    /// The item.
    pub item: StepItem,
    /// Workspace.
    pub workspace: Workspace,
    /// The task's title (the video's title in metadata and the publish sidecar).
    pub task_title: String,
    /// The task's topic.
    pub task_topic: String,
    /// The attempt this run is (1 for the first; a paid job's id includes it, so a new attempt
    /// after a failed job starts a new one).
    pub attempt: u32,
    /// Where a long item reports how far it got.
    pub progress: ItemProgress,
}

/// Receives the fraction (0–1) of an item done, from an executor that knows it (an ffmpeg encode
/// reports the seconds written); the worker shows it as the task's progress.
#[derive(Clone, Default)]
pub struct ItemProgress(Option<Arc<dyn Fn(f64) + Send + Sync>>);

impl ItemProgress {
    /// Progress reported to `f`.
    pub fn new(f: impl Fn(f64) + Send + Sync + 'static) -> Self {
        ItemProgress(Some(Arc::new(f)))
    }

    /// Reports a fraction done.
    pub fn report(&self, fraction: f64) {
        if let Some(f) = &self.0 {
            f(fraction);
        }
    }
}

impl std::fmt::Debug for ItemProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemProgress")
    }
}

/// What an executor produced. Nothing is in place yet: [`ItemOutput::install`] puts it there.
#[derive(Debug, Default)]
pub struct ItemOutput {
    /// Set when the executor already prepared the image (hash, thumbnail) from memory.
    pub prepared: Option<PreparedImage>,
    /// The encoded bytes, when the executor had them (saves re-reading the file).
    pub bytes: Option<Arc<Vec<u8>>>,
    /// The finished file, beside the output under a name unique to this attempt; removed when
    /// dropped without being installed (a stale or cancelled attempt's output is discarded).
    pub staged: Option<StagedFile>,
    /// Something the reviewer should know about this item (a narration longer than its clip).
    pub warning: Option<String>,
    /// What a paid executor was billed for this item (the units the provider reported).
    pub paid: Option<Paid>,
}

/// A paid call's bill, for the cost ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    /// Provider, model, units and price.
    pub quote: crate::costs::Quote,
    /// The provider's request or job id.
    pub correlation_id: Option<String>,
}

impl ItemOutput {
    /// Puts the output at `dest` (atomically: a rename of the staged file, or an atomic write of
    /// the bytes). The worker calls it only after checking that its claim still holds the task.
    pub fn install(&mut self, dest: &Path) -> Result<(), CoreError> {
        if let Some(staged) = self.staged.take() {
            return staged.install(dest);
        }
        match &self.bytes {
            Some(bytes) => write_atomic_abs(dest, bytes),
            None => Err(CoreError::invalid(
                "executor output",
                format!("the executor produced nothing for {}", dest.display()),
            )),
        }
    }
}

/// A finished output waiting beside its destination. Dropping it removes the file.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
}

impl StagedFile {
    /// Takes charge of a finished file.
    pub fn new(path: PathBuf) -> Self {
        StagedFile { path }
    }

    /// Where the file is now.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file to `dest` (same folder, so the rename is atomic).
    pub fn install(self, dest: &Path) -> Result<(), CoreError> {
        // Dropping `self` afterwards removes the file if the rename failed, and finds nothing
        // to remove if it worked.
        std::fs::rename(&self.path, dest).map_err(|e| CoreError::io("cannot write", dest, e))
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A failed item, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// How the worker treats it.
    pub category: ErrorCategory,
    /// What happened and what to do (secrets already redacted).
    pub message: String,
    /// Nothing failed: the step cannot go on yet (its channel's budget is spent for the day).
    /// The task waits in its status without counting an attempt and looks again later.
    pub waits: bool,
}

impl StepFailure {
    /// A failure of a category.
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        StepFailure {
            category,
            message: message.into(),
            waits: false,
        }
    }

    /// A step that waits (see [`StepFailure::waits`]).
    pub fn waiting(message: impl Into<String>) -> Self {
        StepFailure {
            category: ErrorCategory::Configuration,
            message: message.into(),
            waits: true,
        }
    }
}

impl From<CoreError> for StepFailure {
    fn from(e: CoreError) -> Self {
        let category = match &e {
            CoreError::Io { .. } | CoreError::Database(_) | CoreError::Conflict(_) => {
                ErrorCategory::Transient
            }
            CoreError::Config { .. } => ErrorCategory::Configuration,
            _ => ErrorCategory::Permanent,
        };
        StepFailure::new(category, redact(&e.to_string()))
    }
}

/// Runs the items of a step. Implementations must be safe to call again for an item whose
/// earlier run was interrupted (outputs are overwritten, never appended).
pub trait StepExecutor: Send + Sync {
    /// Makes one item.
    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>>;
    /// How many items may run at once.
    fn concurrency(&self) -> usize;
    /// Short description for logs.
    fn describe(&self) -> String;
    /// What one item will cost, for a paid executor: held against the channel's budget before
    /// the item starts. Free executors cost nothing.
    fn quote(&self, _job: &ItemJob) -> Result<Option<crate::costs::Quote>, StepFailure> {
        Ok(None)
    }
}

/// Builds the executor configured for a step of a channel: a built-in one (the media programs
/// in the worker settings; the upload publishes under `<workspace>/published` by default), a
/// user's command, or a paid provider's.
pub fn executor_for(
    step: Step,
    config: &ExecutorConfig,
    channel: &ChannelConfig,
    core: &crate::Core,
) -> Result<Arc<dyn StepExecutor>, StepFailure> {
    if let Some(paid) = crate::provider_steps::paid_executor(step, config, channel, core) {
        return paid;
    }
    Ok(match config {
        ExecutorConfig::Builtin if matches!(step, Step::Assets | Step::Composites) => {
            Arc::new(BuiltinExecutor)
        }
        ExecutorConfig::Command {
            program,
            args,
            timeout_secs,
        } => Arc::new(CommandExecutor::new(
            program.clone(),
            args.clone(),
            Duration::from_secs(*timeout_secs),
        )),
        _ => Arc::new(crate::media_steps::MediaExecutor::new(
            step,
            channel,
            core.worker_settings.tools.clone(),
            core.workspace.root().join("published"),
        )),
    })
}

/// The built-in image generators: step 1 draws labelled placeholder art, step 2 composites.
/// Steps 3–7 have their built-ins in [`crate::media_steps`].
#[derive(Debug, Clone, Copy)]
pub struct BuiltinExecutor;

impl StepExecutor for BuiltinExecutor {
    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let job = job.clone();
            tokio::task::spawn_blocking(move || builtin_item(&job))
                .await
                .map_err(|e| {
                    StepFailure::new(
                        ErrorCategory::Transient,
                        format!("the generator thread failed: {e}"),
                    )
                })?
        })
    }

    fn concurrency(&self) -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }

    fn describe(&self) -> String {
        "built-in".into()
    }
}

fn builtin_item(job: &ItemJob) -> Result<ItemOutput, StepFailure> {
    let item = &job.item;
    let image = match job.step {
        Step::Assets => {
            let kind = item.kind.ok_or_else(|| {
                StepFailure::new(ErrorCategory::Permanent, "asset item without a kind")
            })?;
            reviewdesk_imaging::generate_asset(&reviewdesk_imaging::AssetSpec {
                name: &item.key,
                kind: kind.image_kind(),
                prompt: &item.prompt,
                version: item.version,
            })
        }
        Step::Composites => {
            let load = |p: &PathBuf| -> Result<image::RgbaImage, StepFailure> {
                let bytes = std::fs::read(p).map_err(|e| {
                    StepFailure::new(
                        ErrorCategory::Permanent,
                        format!("cannot read {}: {e}; regenerate the asset", p.display()),
                    )
                })?;
                reviewdesk_imaging::decode(&bytes).map_err(|e| {
                    StepFailure::new(
                        ErrorCategory::Permanent,
                        format!("{}: {e}; regenerate or replace the asset", p.display()),
                    )
                })
            };
            let imgs = item
                .inputs
                .iter()
                .map(load)
                .collect::<Result<Vec<_>, _>>()?;
            match imgs.as_slice() {
                [character, environment] => reviewdesk_imaging::composite(character, environment),
                [left, right, environment] => {
                    reviewdesk_imaging::split_screen(left, right, environment)
                }
                _ => {
                    return Err(StepFailure::new(
                        ErrorCategory::Permanent,
                        "a composite needs a character and an environment",
                    ));
                }
            }
        }
        other => {
            return Err(StepFailure::new(
                ErrorCategory::Configuration,
                format!(
                    "there is no built-in executor for step {other}; configure `executor: command` for it"
                ),
            ));
        }
    };
    let encoded = reviewdesk_imaging::encode_png(&image)
        .map_err(|e| StepFailure::new(ErrorCategory::Permanent, e.to_string()))?;
    let prepared = thumbs::prepare_in_memory(&job.workspace, &image, &encoded)?;
    // Checked now so a bad path fails the item here rather than at install time.
    job.workspace.resolve(&item.output_rel)?;
    Ok(ItemOutput {
        prepared: Some(prepared),
        bytes: Some(Arc::new(encoded)),
        ..ItemOutput::default()
    })
}

/// Runs a user's program once per item, with an argument template and a timeout.
///
/// The program runs in a process group of its own, so a timeout, a cancel or the worker's
/// shutdown stops it together with everything it started. It never sees the app's secrets (see
/// [`is_secret_env`]). Its stderr is read to the end (a verbose program must not die of a full
/// pipe) and only the last [`STDERR_TAIL_BYTES`] are kept for the failure message. It writes to a
/// file named for this attempt only; video and audio outputs must pass `ffprobe` before they count.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    /// Program path or name.
    pub program: String,
    /// Argument template.
    pub args: String,
    /// Time limit per item.
    pub timeout: Duration,
    /// The `ffprobe` that checks video and audio outputs (`ffprobe` on the PATH by default).
    pub ffprobe: String,
}

/// How long the validation of one media output may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether an output file is video or audio, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// mp4, mov, webm, mkv.
    Video,
    /// mp3, wav, ogg, opus, m4a, aac.
    Audio,
}

impl MediaKind {
    /// The kind of a file by its extension; `None` for anything else.
    pub fn of(path: &Path) -> Option<MediaKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "mp4" | "mov" | "webm" | "mkv" => Some(MediaKind::Video),
            "mp3" | "wav" | "ogg" | "opus" | "m4a" | "aac" => Some(MediaKind::Audio),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        }
    }
}

/// Contents (blake3 hash, kind) that ffprobe accepted in this process. Identical bytes always
/// probe the same, and a program that copies one clip many times (a placeholder, a test fixture)
/// would otherwise pay a process start for each; bounded, so it never grows without limit.
fn probed() -> std::sync::MutexGuard<'static, std::collections::HashSet<(String, MediaKind)>> {
    static PROBED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashSet<(String, MediaKind)>>,
    > = std::sync::OnceLock::new();
    PROBED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Most contents remembered by [`probed`].
const PROBED_CAP: usize = 4096;

/// Checks with `ffprobe` that `file` is a readable video or audio file with a stream of `kind`.
/// `shown` names the output in messages. Contents accepted before are not probed again.
pub async fn probe_media(
    ffprobe: &str,
    file: &Path,
    kind: MediaKind,
    shown: &str,
) -> Result<(), StepFailure> {
    let path = file.to_path_buf();
    let hash = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(&path)?)?;
        Ok(hasher.finalize().to_hex().to_string())
    })
    .await
    .ok()
    .and_then(Result::ok);
    if let Some(h) = &hash
        && probed().contains(&(h.clone(), kind))
    {
        return Ok(());
    }
    probe_media_uncached(ffprobe, file, kind, shown).await?;
    if let Some(h) = hash {
        let mut seen = probed();
        if seen.len() >= PROBED_CAP {
            seen.clear();
        }
        seen.insert((h, kind));
    }
    Ok(())
}

async fn probe_media_uncached(
    ffprobe: &str,
    file: &Path,
    kind: MediaKind,
    shown: &str,
) -> Result<(), StepFailure> {
    let mut cmd = tokio::process::Command::new(ffprobe);
    cmd.args([
        "-v",
        "error",
        "-show_entries",
        "stream=codec_type",
        "-of",
        "csv=p=0",
    ])
    // `file:` so that a name with a colon is never read as a protocol.
    .arg(format!("file:{}", file.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    scrub_env(&mut cmd);
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StepFailure::new(
                ErrorCategory::Configuration,
                format!(
                    "cannot check {shown}: {ffprobe} was not found. Video and audio outputs are checked with ffprobe; install the Debian package ffmpeg (`sudo apt-get install ffmpeg`, or run scripts/setup.sh)"
                ),
            )
        } else {
            StepFailure::new(
                ErrorCategory::Configuration,
                format!("cannot run {ffprobe} to check {shown}: {e}"),
            )
        }
    })?;
    let out = match tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return Err(StepFailure::new(
                ErrorCategory::Transient,
                format!("waiting for {ffprobe} on {shown}: {e}"),
            ));
        }
        Err(_) => {
            return Err(StepFailure::new(
                ErrorCategory::Transient,
                format!(
                    "{ffprobe} took more than {} s to check {shown}",
                    PROBE_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let what = kind.as_str();
    if !out.status.success() {
        let mut tail = Tail::new(4096);
        tail.push(&out.stderr);
        return Err(StepFailure::new(
            ErrorCategory::Permanent,
            format!(
                "{shown} is not a valid {what} file (ffprobe: {}); the program must write a complete {what} file to {{output}}",
                tail.last_lines(2)
            ),
        ));
    }
    let streams = String::from_utf8_lossy(&out.stdout);
    if !streams.lines().any(|l| l.trim() == what) {
        return Err(StepFailure::new(
            ErrorCategory::Permanent,
            format!(
                "{shown} has no {what} stream (ffprobe found: {}); the program must write a {what} file to {{output}}",
                match streams.split_whitespace().collect::<Vec<_>>().join(", ") {
                    s if s.is_empty() => "nothing".to_string(),
                    s => s,
                }
            ),
        ));
    }
    Ok(())
}

impl CommandExecutor {
    /// A program with an argument template and a time limit per item.
    pub fn new(program: impl Into<String>, args: impl Into<String>, timeout: Duration) -> Self {
        CommandExecutor {
            program: program.into(),
            args: args.into(),
            timeout,
            ffprobe: "ffprobe".into(),
        }
    }

    fn argv(&self, job: &ItemJob, output: &std::path::Path) -> Vec<String> {
        let item = &job.item;
        let input = item
            .inputs
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // Split first, substitute after: a prompt with spaces stays one argument and cannot
        // inject further arguments.
        self.args
            .split_whitespace()
            .map(|tok| {
                tok.replace("{prompt}", &item.prompt)
                    .replace("{output}", &output.display().to_string())
                    .replace("{width}", &item.width.to_string())
                    .replace("{height}", &item.height.to_string())
                    .replace("{task_id}", &job.task_id.to_string())
                    .replace("{item}", &item.key)
                    .replace("{kind}", item.kind.map(|k| k.as_str()).unwrap_or(""))
                    .replace("{index}", &item.index.to_string())
                    .replace("{input}", &input)
                    .replace("{workspace}", &job.workspace.root().display().to_string())
            })
            .collect()
    }
}

/// `.<name>.<attempt>.partial.<ext>` beside the output: unique per attempt, hidden, and with the
/// output's extension last (programs such as ffmpeg pick the format from it).
pub(crate) fn partial_name(output: &Path, attempt: &str) -> PathBuf {
    let name = output.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    output.with_file_name(format!(".{name}.{attempt}.partial.{ext}"))
}

/// Removes partial outputs of earlier attempts at this output (a killed worker leaves them).
pub(crate) async fn remove_old_partials(output: &Path) {
    let (Some(dir), Some(name), Some(ext)) = (
        output.parent(),
        output.file_name().and_then(|n| n.to_str()),
        output.extension().and_then(|e| e.to_str()),
    ) else {
        return;
    };
    let (prefix, suffix) = (format!(".{name}."), format!(".partial.{ext}"));
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(&suffix) {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

impl StepExecutor for CommandExecutor {
    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let output = job.workspace.resolve(&job.item.output_rel)?;
            if let Some(dir) = output.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| CoreError::io("cannot create folder", dir, e))?;
            }
            // A name of its own per attempt: a leftover of a killed attempt is never taken for
            // this attempt's output, and two runs of one item never write the same file.
            remove_old_partials(&output).await;
            let attempt = uuid::Uuid::new_v4().simple().to_string();
            let tmp = partial_name(&output, &attempt[..12]);
            let argv = self.argv(job, &tmp);
            tracing::debug!(program = %self.program, args = %redact(&argv.join(" ")), item = %job.item.key, "running step command");
            let staged = run_program(Program {
                program: &self.program,
                args: argv,
                stdin: None,
                timeout: self.timeout,
                partial: tmp,
                item: &job.item.key,
                start_hint: "check `program` in the channel file",
                timeout_hint: "raise `timeout_secs` in the channel file if it needs longer",
                progress: None,
            })
            .await?;
            match tokio::fs::metadata(staged.path()).await {
                Ok(m) if m.is_file() && m.len() > 0 => {}
                _ => {
                    return Err(StepFailure::new(
                        ErrorCategory::Permanent,
                        format!(
                            "{} exited 0 but wrote nothing to {{output}} for {}",
                            self.program, job.item.key
                        ),
                    ));
                }
            }
            if let Some(kind) = MediaKind::of(&output) {
                let shown = format!(
                    "the {} that {} wrote for {}",
                    output
                        .extension()
                        .and_then(|e| e.to_str())
                        .unwrap_or_default(),
                    self.program,
                    job.item.key
                );
                probe_media(&self.ffprobe, staged.path(), kind, &shown).await?;
            }
            Ok(ItemOutput {
                staged: Some(staged),
                ..ItemOutput::default()
            })
        })
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn describe(&self) -> String {
        format!("command {}", self.program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_kinds_by_extension() {
        assert_eq!(
            MediaKind::of(Path::new("a/clip.MP4")),
            Some(MediaKind::Video)
        );
        assert_eq!(MediaKind::of(Path::new("n.opus")), Some(MediaKind::Audio));
        assert_eq!(MediaKind::of(Path::new("x.png")), None);
        assert_eq!(MediaKind::of(Path::new("noext")), None);
    }
}
