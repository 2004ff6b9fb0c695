//! Step executors: the built-in local generators and a user's command, behind one trait.

use futures::future::BoxFuture;
use std::path::PathBuf;
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

/// What an executor produced.
#[derive(Debug, Clone, Default)]
pub struct ItemOutput {
    /// Set when the executor already prepared the image (hash, thumbnail) from memory.
    pub prepared: Option<PreparedImage>,
    /// The encoded bytes written, when the executor had them (saves re-reading the file).
    pub bytes: Option<Arc<Vec<u8>>>,
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
        } => Arc::new(CommandExecutor {
            program: program.clone(),
            args: args.clone(),
            timeout: Duration::from_secs(*timeout_secs),
        }),
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
    let out = job.workspace.resolve(&item.output_rel)?;
    write_atomic_abs(&out, &encoded)?;
    Ok(ItemOutput {
        prepared: Some(prepared),
        bytes: Some(Arc::new(encoded)),
    })
}

/// Runs a user's program once per item, with an argument template and a timeout.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    /// Program path or name.
    pub program: String,
    /// Argument template.
    pub args: String,
    /// Time limit per item.
    pub timeout: Duration,
}

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

impl CommandExecutor {
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

impl StepExecutor for CommandExecutor {
    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let output = job.workspace.resolve(&job.item.output_rel)?;
            if let Some(dir) = output.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| CoreError::io("cannot create folder", dir, e))?;
            }
            // Write to a temporary name and rename after success, so an interrupted program never
            // leaves a half-written output that looks finished.
            let tmp = output.with_file_name(format!(
                ".{}.partial.{}",
                output.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                output.extension().and_then(|e| e.to_str()).unwrap_or("bin")
            ));
            let argv = self.argv(job, &tmp);
            tracing::debug!(program = %self.program, args = %redact(&argv.join(" ")), item = %job.item.key, "running step command");
            let mut child = tokio::process::Command::new(&self.program)
                .args(&argv)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
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
            let mut stderr = child.stderr.take().expect("piped");
            let read_err = async move {
                let mut buf = Vec::new();
                let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut buf).await;
                buf
            };
            let run = async { tokio::join!(child.wait(), read_err) };
            let (status, err_bytes) = match tokio::time::timeout(self.timeout, run).await {
                Ok((status, err)) => (status, err),
                Err(_) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(StepFailure::new(
                        ErrorCategory::Transient,
                        format!(
                            "{} timed out after {} s on {}",
                            self.program,
                            self.timeout.as_secs(),
                            job.item.key
                        ),
                    ));
                }
            };
            let status = status.map_err(|e| {
                StepFailure::new(
                    ErrorCategory::Transient,
                    format!("waiting for {}: {e}", self.program),
                )
            })?;
            let stderr_tail: String = {
                let text = String::from_utf8_lossy(&err_bytes);
                let lines: Vec<&str> = text.lines().rev().take(5).collect();
                lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
            };
            if !status.success() {
                let _ = tokio::fs::remove_file(&tmp).await;
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
                        stderr_tail.trim()
                    )),
                ));
            }
            match tokio::fs::metadata(&tmp).await {
                Ok(m) if m.len() > 0 => {}
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
            tokio::fs::rename(&tmp, &output)
                .await
                .map_err(|e| CoreError::io("cannot write", &output, e))?;
            Ok(ItemOutput::default())
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
}
