//! Step executors: the built-in local generators and a user's command, behind one trait.
//!
//! An executor never writes an item's output in place: it hands back the finished bytes or a
//! file staged under a name unique to the attempt, and the worker moves it into place only while
//! its claim still holds the task. A stale run (its task was cancelled, retried and claimed again)
//! therefore never overwrites the current run's output, and two attempts never share a file.

use futures::future::BoxFuture;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

use crate::asset::AssetKind;
use crate::config::ExecutorConfig;
use crate::error::CoreError;
use crate::ids::TaskId;
use crate::status::Step;
use crate::task::ErrorCategory;
use crate::thumbs::{self, PreparedImage};
use crate::workspace::{Workspace, write_atomic_abs};

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
}

impl StepFailure {
    /// A failure of a category.
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        StepFailure {
            category,
            message: message.into(),
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
}

/// Builds the executor configured for a step.
pub fn executor_for(config: &ExecutorConfig) -> Arc<dyn StepExecutor> {
    match config {
        ExecutorConfig::Builtin => Arc::new(BuiltinExecutor),
        ExecutorConfig::Command {
            program,
            args,
            timeout_secs,
        } => Arc::new(CommandExecutor::new(
            program.clone(),
            args.clone(),
            Duration::from_secs(*timeout_secs),
        )),
    }
}

/// The built-in local generators: step 1 draws labelled placeholder art, step 2 composites.
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
        staged: None,
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

/// How much of a program's stderr is kept (the end of it) for the failure message.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// How long the validation of one media output may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// Classifies a program's exit code (sysexits.h conventions where they exist).
pub fn classify_exit(code: Option<i32>) -> ErrorCategory {
    match code {
        // Killed by a signal: the machine or a person stopped it; try again.
        None => ErrorCategory::Transient,
        Some(69 | 75 | 124) => ErrorCategory::Transient, // unavailable, tempfail, timeout(1)
        Some(77 | 78 | 126 | 127) => ErrorCategory::Configuration, // noperm, config, not executable, not found
        Some(64..=68) => ErrorCategory::Permanent, // usage, dataerr, noinput, nouser, nohost
        Some(_) => ErrorCategory::Unknown,
    }
}

/// Replaces the values of secret-looking environment variables (tokens, keys, passwords) in text
/// that is about to be logged or stored.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        let secret = ["TOKEN", "SECRET", "KEY", "PASSWORD", "CREDENTIAL"]
            .iter()
            .any(|w| upper.contains(w));
        if secret && value.len() >= 6 && out.contains(&value) {
            out = out.replace(&value, "[redacted]");
        }
    }
    out
}

/// Variables a step program never inherits, by exact name: the app's own secrets and database
/// URLs. Anything matching [`is_secret_env`]'s patterns is removed as well.
pub const SECRET_ENV: &[&str] = &[
    "NOTION_TOKEN",
    "NOTION_WEBHOOK_SECRET",
    "REVIEWDESK_SERVER_TOKEN",
    "REVIEWDESK_DATABASE_URL",
    "REVIEWDESK_TEST_PG_URL",
    "DATABASE_URL",
    "PGPASSWORD",
    "PGPASSFILE",
    "GEMINI_API_KEY",
    "KLING_ACCESS_KEY",
    "KLING_SECRET_KEY",
    "ELEVENLABS_API_KEY",
];

/// Whether an environment variable must be kept from a step program: the names in
/// [`SECRET_ENV`], cloud storage keys (`R2_*`, `AWS_*`), anything named like a secret (`*SECRET*`,
/// `*TOKEN*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`, a `KEY` word), any `*DATABASE_URL*`, and
/// any URL that carries a password (`scheme://user:password@host`). A program is the user's
/// code and may log or upload its environment; it gets what it needs through its arguments.
pub fn is_secret_env(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if SECRET_ENV.contains(&upper.as_str())
        || upper.starts_with("R2_")
        || upper.starts_with("AWS_")
        || upper.contains("DATABASE_URL")
    {
        return true;
    }
    if ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return true;
    }
    if upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| matches!(word, "KEY" | "KEYS" | "APIKEY"))
    {
        return true;
    }
    url_has_password(value)
}

fn url_has_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Removes the secret variables of this process from a child's environment.
fn scrub_env(cmd: &mut tokio::process::Command) {
    for (name, value) in std::env::vars_os() {
        let (n, v) = (name.to_string_lossy(), value.to_string_lossy());
        if is_secret_env(&n, &v) {
            cmd.env_remove(&name);
        }
    }
}

/// Sends SIGKILL to every process of a group. std has no `killpg` and this crate forbids unsafe
/// code, so the shell's `kill` builtin sends it (one short process; failures mean the group is
/// already gone).
pub fn kill_process_group(pgid: u32) {
    if pgid <= 1 {
        return;
    }
    let _ = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s KILL -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The process groups of the step programs running in this process.
static RUNNING_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn running_groups() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills the process groups of every step program running in this process, at once. For a
/// process about to exit without an orderly stop (a second Ctrl-C before `std::process::exit`):
/// the programs run in process groups of their own, so they would otherwise outlive it. An
/// orderly stop is [`crate::worker::Worker::shutdown`], which also gives the leases back.
pub fn kill_all_running_programs() {
    let groups = std::mem::take(&mut *running_groups());
    for pgid in groups {
        kill_process_group(pgid);
    }
}

/// Kills a running program's process group and removes its partial output when dropped: on a
/// timeout, and when the worker drops the item's future (cancel, lost lease, shutdown).
struct RunningProgram {
    pgid: Option<u32>,
    partial: Option<PathBuf>,
}

impl RunningProgram {
    fn new(pgid: Option<u32>, partial: PathBuf) -> Self {
        if let Some(g) = pgid {
            running_groups().push(g);
        }
        RunningProgram {
            pgid,
            partial: Some(partial),
        }
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            running_groups().retain(|g| *g != pgid);
            kill_process_group(pgid);
        }
    }

    /// The program exited: its group is killed now (stragglers it left behind must not write
    /// after the output is checked) and the partial file becomes the caller's.
    fn finished(&mut self) -> Option<PathBuf> {
        self.kill();
        self.partial.take()
    }
}

impl Drop for RunningProgram {
    fn drop(&mut self) {
        self.kill();
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The last `cap` bytes of a stream.
#[derive(Debug, Default)]
struct Tail {
    buf: VecDeque<u8>,
    cap: usize,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        let bytes = &bytes[bytes.len().saturating_sub(self.cap)..];
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    /// The last lines (progress redraws with `\r` count as lines), joined with " | ".
    fn last_lines(&self, n: usize) -> String {
        let bytes: Vec<u8> = self.buf.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
        // A single huge line must not become a huge message: keep its end.
        match joined.char_indices().rev().nth(1999) {
            Some((i, _)) => format!("…{}", &joined[i..]),
            None => joined,
        }
    }
}

/// Reads a stream to its end, keeping the last `cap` bytes.
async fn drain_tail(mut r: impl tokio::io::AsyncRead + Unpin, cap: usize) -> Tail {
    let mut tail = Tail {
        buf: VecDeque::new(),
        cap,
    };
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return tail,
            Ok(n) => tail.push(&chunk[..n]),
        }
    }
}

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
        let mut tail = Tail {
            buf: VecDeque::new(),
            cap: 4096,
        };
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
fn partial_name(output: &Path, attempt: &str) -> PathBuf {
    let name = output.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    output.with_file_name(format!(".{name}.{attempt}.partial.{ext}"))
}

/// Removes partial outputs of earlier attempts at this output (a killed worker leaves them).
async fn remove_old_partials(output: &Path) {
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
            let mut cmd = tokio::process::Command::new(&self.program);
            cmd.args(&argv)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            scrub_env(&mut cmd);
            #[cfg(unix)]
            cmd.process_group(0);
            let mut child = cmd.spawn().map_err(|e| {
                let category = if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::PermissionDenied
                {
                    ErrorCategory::Configuration
                } else {
                    ErrorCategory::Transient
                };
                StepFailure::new(
                    category,
                    format!(
                        "cannot start {:?}: {e}; check `program` in the channel file",
                        self.program
                    ),
                )
            })?;
            let mut running = RunningProgram::new(child.id(), tmp);
            // Read to the end however much comes, keeping the end: a program stopped from
            // writing its progress would die of SIGPIPE.
            let stderr = child
                .stderr
                .take()
                .map(|e| drain_tail(e, STDERR_TAIL_BYTES));
            let mut stderr = tokio::spawn(async move {
                match stderr {
                    Some(f) => f.await,
                    None => Tail::default(),
                }
            });
            let status = match tokio::time::timeout(self.timeout, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    drop(running); // kills the whole group, removes the partial output
                    let tail = tokio::time::timeout(Duration::from_secs(2), &mut stderr)
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .map(|t| t.last_lines(3))
                        .unwrap_or_default();
                    stderr.abort();
                    let said = if tail.is_empty() {
                        String::new()
                    } else {
                        format!(" (it last said: {tail})")
                    };
                    return Err(StepFailure::new(
                        ErrorCategory::Transient,
                        redact(&format!(
                            "{} timed out after {} s on {} and was stopped with everything it started{said}; raise `timeout_secs` in the channel file if it needs longer",
                            self.program,
                            self.timeout.as_secs(),
                            job.item.key
                        )),
                    ));
                }
            };
            let tmp = running.finished();
            // The group is gone, so the pipe closes; a program that escaped it (setsid) must not
            // hold the item forever.
            let tail = match tokio::time::timeout(Duration::from_secs(5), &mut stderr).await {
                Ok(Ok(t)) => t,
                _ => {
                    stderr.abort();
                    Tail::default()
                }
            };
            // From here the partial file is ours to keep or remove.
            let staged = tmp.map(StagedFile::new);
            let status = status.map_err(|e| {
                StepFailure::new(
                    ErrorCategory::Transient,
                    format!("waiting for {}: {e}", self.program),
                )
            })?;
            if !status.success() {
                let category = classify_exit(status.code());
                let code = status
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "a signal".into());
                return Err(StepFailure::new(
                    category,
                    redact(&format!(
                        "{} exited with {code} on {}: {}",
                        self.program,
                        job.item.key,
                        tail.last_lines(5)
                    )),
                ));
            }
            let Some(staged) = staged else {
                return Err(StepFailure::new(
                    ErrorCategory::Transient,
                    "the partial output was lost",
                ));
            };
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
                prepared: None,
                bytes: None,
                staged: Some(staged),
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
    fn exit_codes_are_classified() {
        assert_eq!(classify_exit(Some(75)), ErrorCategory::Transient);
        assert_eq!(classify_exit(Some(78)), ErrorCategory::Configuration);
        assert_eq!(classify_exit(Some(127)), ErrorCategory::Configuration);
        assert_eq!(classify_exit(Some(65)), ErrorCategory::Permanent);
        assert_eq!(classify_exit(Some(1)), ErrorCategory::Unknown);
        assert_eq!(classify_exit(None), ErrorCategory::Transient);
    }

    #[test]
    fn secret_variables_are_recognised_by_name_and_by_url_password() {
        for name in [
            "NOTION_TOKEN",
            "REVIEWDESK_SERVER_TOKEN",
            "NOTION_WEBHOOK_SECRET",
            "R2_ACCOUNT_ID",
            "AWS_REGION",
            "REVIEWDESK_DATABASE_URL",
            "PGPASSWORD",
            "REVIEWDESK_TEST_PG_URL",
            "GEMINI_API_KEY",
            "KLING_ACCESS_KEY",
            "openai_api_key",
            "SSH_KEY",
        ] {
            assert!(is_secret_env(name, "x"), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "KEYBOARD_LAYOUT",
            "REVIEWDESK_WORKSPACE",
        ] {
            assert!(!is_secret_env(name, "/usr/bin"), "{name}");
        }
        assert!(is_secret_env("MIRROR", "https://u:pw@example.com/x"));
        assert!(!is_secret_env("MIRROR", "https://example.com/a@b"));
        assert!(!is_secret_env("MIRROR", "https://user@example.com/"));
    }

    #[test]
    fn the_tail_keeps_the_last_bytes_and_lines() {
        let mut t = Tail {
            buf: VecDeque::new(),
            cap: 16,
        };
        t.push(b"first line\nsecond line\n");
        t.push(b"progress 1\rprogress 2\rdone\n");
        assert_eq!(t.buf.len(), 16);
        assert_eq!(t.last_lines(2), "progress 2 | done");
        t.push(&[b'x'; 100]);
        assert_eq!(t.last_lines(5), "x".repeat(16));
        let mut huge = Tail {
            buf: VecDeque::new(),
            cap: 64 * 1024,
        };
        huge.push("é".repeat(10_000).as_bytes());
        let line = huge.last_lines(1);
        assert!(
            line.starts_with('…') && line.chars().count() <= 2001,
            "{}",
            line.len()
        );
    }

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
