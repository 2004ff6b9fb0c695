//! The workspace watcher: an asset file changed outside the app becomes a new version with a
//! fresh thumbnail and an event; edited channel files are reloaded.

use notify::{RecursiveMode, Watcher};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::asset::AssetKind;
use crate::context::Core;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source};
use crate::ids::{AssetName, TaskId};
use crate::status::Status;
use crate::thumbs;
use crate::workspace::Workspace;

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    _watcher: Box<dyn std::any::Any + Send>,
    debounce: tokio::task::JoinHandle<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.debounce.abort();
        self.task.abort();
    }
}

/// `channels/{c}/projects/{task}/assets/{kind}/{name}.png` → (task, kind, name).
pub fn parse_asset_path(rel: &Path) -> Option<(TaskId, AssetKind, AssetName)> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [
        "channels",
        _channel,
        "projects",
        task,
        "assets",
        folder,
        file,
    ] = parts.as_slice()
    else {
        return None;
    };
    let kind = AssetKind::ALL.into_iter().find(|k| k.folder() == *folder)?;
    let name = file.strip_suffix(".png")?;
    if name.starts_with('.') {
        return None;
    }
    Some((task.parse().ok()?, kind, AssetName::parse(name).ok()?))
}

/// Starts watching the workspace and the channel folder.
pub fn watch(core: Arc<Core>) -> Result<WatchHandle> {
    let (tx, mut raw) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    // A plain watcher, debounced below on the runtime: a debouncer thread ticks for as long as the
    // app runs (several wake-ups a second when idle); this wakes only when a file changes.
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(e) = res
            && (e.kind.is_create() || e.kind.is_modify())
            && !e.paths.is_empty()
        {
            let _ = tx.send(e.paths);
        }
    })
    .map_err(|e| CoreError::invalid("watcher", format!("cannot start the file watcher: {e}")))?;
    // A file is taken in once it has been quiet for this long (an editor or a copy writes in pieces).
    const QUIET: Duration = Duration::from_millis(300);
    let (batches, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let debounce = tokio::spawn(async move {
        while let Some(first) = raw.recv().await {
            let mut paths = first;
            loop {
                tokio::select! {
                    more = raw.recv() => match more {
                        Some(p) => paths.extend(p),
                        None => break,
                    },
                    _ = tokio::time::sleep(QUIET) => break,
                }
            }
            if batches.send(paths).is_err() {
                return;
            }
        }
    });
    watcher
        .watch(core.workspace.root(), RecursiveMode::Recursive)
        .map_err(|e| {
            CoreError::invalid(
                "watcher",
                format!("cannot watch {}: {e}", core.workspace.root().display()),
            )
        })?;
    let channels_dir = core.config_dir.join("channels");
    if std::fs::create_dir_all(&channels_dir).is_ok() {
        let _ = watcher.watch(&channels_dir, RecursiveMode::NonRecursive);
    }
    let channels_dir = channels_dir.canonicalize().unwrap_or(channels_dir);
    let task = tokio::spawn(async move {
        while let Some(paths) = rx.recv().await {
            let mut reload = false;
            let mut seen = std::collections::HashSet::new();
            for p in paths {
                if !seen.insert(p.clone()) {
                    continue;
                }
                if p.starts_with(&channels_dir) {
                    reload = true;
                    continue;
                }
                if let Some(rel) = core.workspace.relative(&p)
                    && let Some((task_id, kind, name)) = parse_asset_path(&rel)
                    && let Err(e) = on_asset_changed(&core, task_id, kind, &name, &rel).await
                {
                    tracing::warn!(path = %rel.display(), error = %e, "could not take in a changed asset file");
                }
            }
            if reload && let Err(e) = core.reload_channels().await {
                tracing::error!(error = %e, "a channel file is invalid; the previous settings stay in force");
            }
        }
    });
    Ok(WatchHandle {
        _watcher: Box::new(watcher),
        debounce,
        task,
    })
}

/// Takes in an asset file changed on disk: a new version when its content is new.
pub async fn on_asset_changed(
    core: &Arc<Core>,
    task_id: TaskId,
    kind: AssetKind,
    name: &AssetName,
    rel: &Path,
) -> Result<Option<u32>> {
    let task = match core.store.task(task_id).await {
        Ok(t) => t,
        Err(CoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // While the worker generates, its own writes are not edits.
    if matches!(task.status, Status::Claimed | Status::GeneratingAssets) {
        return Ok(None);
    }
    let asset = match core.store.asset(task_id, name).await {
        Ok(a) if a.kind == kind => a,
        _ => return Ok(None),
    };
    let versions = core.store.asset_versions(task_id, name).await?;
    let ws = core.workspace.clone();
    let full = ws.resolve(rel)?;
    let (bytes, hash) = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, String)> {
        // Regular files under the size cap only: a FIFO named like an asset must not hang the
        // watcher, and a huge file must not be read into memory.
        let bytes = crate::workspace::read_regular_file(&full, thumbs::MAX_IMAGE_FILE_BYTES)?;
        let hash = thumbs::content_hash(&bytes);
        Ok((bytes, hash))
    })
    .await
    .map_err(|e| CoreError::invalid("watcher", e.to_string()))??;
    if versions.iter().any(|v| v.content_hash == hash) {
        return Ok(None);
    }
    let version = asset.current_version + 1;
    let version_rel = Workspace::asset_version_rel(&task.channel_id, task_id, kind, name, version);
    let prepared = tokio::task::spawn_blocking(move || -> Result<thumbs::PreparedImage> {
        let p = thumbs::prepare_bytes(&ws, &bytes)?;
        ws.write_atomic(&version_rel, &bytes)?;
        Ok(p)
    })
    .await
    .map_err(|e| CoreError::invalid("watcher", e.to_string()))??;
    let v = prepared.into_version(version, Source::Watcher);
    core.store
        .add_asset_version(
            task_id,
            name,
            asset.current_version,
            &v,
            None,
            Source::Watcher,
        )
        .await?;
    tracing::info!(task_id = %task_id, asset = %name, version, "asset changed on disk: new version");
    core.events.emit(DomainEvent::AssetVersionAdded {
        task_id,
        name: name.to_string(),
        version,
        source: Source::Watcher,
    });
    Ok(Some(version))
}
