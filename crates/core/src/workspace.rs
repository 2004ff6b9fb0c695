//! The workspace: where every file of every task lives, and the only place files are served from.

use std::path::{Component, Path, PathBuf};

use crate::asset::AssetKind;
use crate::error::{CoreError, Result};
use crate::ids::{AssetName, ChannelId, TaskId};

/// Folder (inside the workspace) for app-private files such as thumbnails.
pub const PRIVATE_DIR: &str = ".reviewdesk";

/// The workspace root and its path rules (docs/pipeline.md and the README's "Files").
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens (creating if needed) a workspace, checking that it is writable so the creator
    /// learns about a read-only disk now rather than in the middle of a step.
    pub fn open(root: impl Into<PathBuf>) -> Result<Workspace> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| CoreError::io("cannot create workspace folder", &root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| CoreError::io("cannot open workspace folder", &root, e))?;
        let private = root.join(PRIVATE_DIR).join("thumbs");
        std::fs::create_dir_all(&private)
            .map_err(|e| CoreError::io("workspace is not writable: cannot create", &private, e))?;
        let probe = root.join(PRIVATE_DIR).join(".write-probe");
        std::fs::write(&probe, b"ok")
            .map_err(|e| CoreError::io("workspace is not writable: cannot write", &probe, e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Workspace { root })
    }

    /// The absolute root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `channels/{channel}/projects/{task}` relative to the root.
    pub fn project_rel(channel: &ChannelId, task: TaskId) -> PathBuf {
        PathBuf::from("channels")
            .join(channel.as_str())
            .join("projects")
            .join(task.to_string())
    }

    /// Relative path of an asset's current file: `assets/{kind}/{name}.png`.
    pub fn asset_rel(
        channel: &ChannelId,
        task: TaskId,
        kind: AssetKind,
        name: &AssetName,
    ) -> PathBuf {
        Self::project_rel(channel, task)
            .join("assets")
            .join(kind.folder())
            .join(format!("{name}.png"))
    }

    /// Relative path of the kept copy of one version: `assets/{kind}/versions/{name}.v{n}.png`.
    /// Every version is kept there, so an edit of the current file in place never loses one.
    pub fn asset_version_rel(
        channel: &ChannelId,
        task: TaskId,
        kind: AssetKind,
        name: &AssetName,
        version: u32,
    ) -> PathBuf {
        Self::project_rel(channel, task)
            .join("assets")
            .join(kind.folder())
            .join("versions")
            .join(format!("{name}.v{version}.png"))
    }

    /// Relative path of one scene's composite (scenes count from 1):
    /// `composites/composite_{nn}.png`.
    pub fn composite_rel(channel: &ChannelId, task: TaskId, scene: usize) -> PathBuf {
        Self::scene_rel(channel, task, "composites", "composite", scene, "png")
    }

    /// Relative path of one scene's video clip: `video/clip_{nn}.mp4`.
    pub fn clip_rel(channel: &ChannelId, task: TaskId, scene: usize) -> PathBuf {
        Self::scene_rel(channel, task, "video", "clip", scene, "mp4")
    }

    /// Relative path of one scene's narration: `audio/narration_{nn}.mp3`.
    pub fn narration_rel(channel: &ChannelId, task: TaskId, scene: usize) -> PathBuf {
        Self::scene_rel(channel, task, "audio", "narration", scene, "mp3")
    }

    /// Relative path of one scene's sound effect: `sfx/sfx_{nn}.mp3`.
    pub fn sfx_rel(channel: &ChannelId, task: TaskId, scene: usize) -> PathBuf {
        Self::scene_rel(channel, task, "sfx", "sfx", scene, "mp3")
    }

    /// Relative path of the assembled video: `final/{task}_final.mp4`.
    pub fn final_video_rel(channel: &ChannelId, task: TaskId) -> PathBuf {
        Self::project_rel(channel, task)
            .join("final")
            .join(format!("{task}_final.mp4"))
    }

    /// Relative path of the upload step's result: `upload/result.txt`.
    pub fn upload_result_rel(channel: &ChannelId, task: TaskId) -> PathBuf {
        Self::project_rel(channel, task)
            .join("upload")
            .join("result.txt")
    }

    /// `{folder}/{prefix}_{nn}.{ext}` in the project: one file per scene, numbered from 01.
    fn scene_rel(
        channel: &ChannelId,
        task: TaskId,
        folder: &str,
        prefix: &str,
        scene: usize,
        ext: &str,
    ) -> PathBuf {
        Self::project_rel(channel, task)
            .join(folder)
            .join(format!("{prefix}_{scene:02}.{ext}"))
    }

    /// Relative path of a thumbnail made from content with this hash.
    pub fn thumb_rel(hash: &str, ext: &str) -> PathBuf {
        PathBuf::from(PRIVATE_DIR)
            .join("thumbs")
            .join(format!("{hash}.{ext}"))
    }

    /// Resolves a relative path, refusing anything that would leave the workspace
    /// (absolute paths, `..`, and symlinks pointing outside).
    pub fn resolve(&self, rel: impl AsRef<Path>) -> Result<PathBuf> {
        let rel = rel.as_ref();
        let shown = rel.display().to_string();
        if rel.as_os_str().is_empty() {
            return Err(CoreError::PathEscape(shown));
        }
        for c in rel.components() {
            if !matches!(c, Component::Normal(_)) {
                return Err(CoreError::PathEscape(shown));
            }
        }
        let full = self.root.join(rel);
        // Symlinks: the deepest existing ancestor must still be inside the root.
        let mut probe = full.as_path();
        loop {
            if let Ok(real) = probe.canonicalize() {
                if !real.starts_with(&self.root) {
                    return Err(CoreError::PathEscape(shown));
                }
                break;
            }
            match probe.parent() {
                Some(p) => probe = p,
                None => break,
            }
        }
        Ok(full)
    }

    /// The path relative to the root, if `abs` is inside it.
    pub fn relative(&self, abs: &Path) -> Option<PathBuf> {
        abs.strip_prefix(&self.root).ok().map(Path::to_path_buf)
    }

    /// Writes a file atomically (temp file + rename), so a crash never leaves half an image and
    /// a watcher sees one complete change.
    pub fn write_atomic(&self, rel: impl AsRef<Path>, bytes: &[u8]) -> Result<PathBuf> {
        let full = self.resolve(rel)?;
        write_atomic_abs(&full, bytes)?;
        Ok(full)
    }
}

/// Atomic write to an absolute path (creating parent folders).
pub fn write_atomic_abs(full: &Path, bytes: &[u8]) -> Result<()> {
    let dir = full
        .parent()
        .ok_or_else(|| CoreError::PathEscape(full.display().to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io("cannot create folder", dir, e))?;
    let file_name = full.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{file_name}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CoreError::io("cannot write", full, e)
    })?;
    std::fs::rename(&tmp, full).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CoreError::io("cannot write", full, e)
    })
}

/// Opens a file for reading only if it is a regular file, without ever blocking on a FIFO, a
/// socket or a device: the open is non-blocking (a FIFO with no writer would otherwise hang the
/// calling thread forever) and the type is checked on the open handle, so a swap between a check
/// and the open cannot slip a special file through. `None` when missing or not a regular file.
pub fn open_regular(path: &Path) -> Option<(std::fs::File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    // A cheap refusal first: opening even non-blocking has side effects on some devices.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
}

/// Reads a whole regular file of at most `max_bytes`, refusing FIFOs, devices and oversized files
/// with an error naming the file (its content is never quoted).
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, meta) = open_regular(path).ok_or_else(|| CoreError::Invalid {
        field: "file".into(),
        message: format!("{} is missing or not a regular file", path.display()),
    })?;
    if meta.len() > max_bytes {
        return Err(too_large(path, max_bytes));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // `take` guards against a file that grows while it is read.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CoreError::io("cannot read", path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(path, max_bytes));
    }
    Ok(bytes)
}

fn too_large(path: &Path, max_bytes: u64) -> CoreError {
    CoreError::Invalid {
        field: "file".into(),
        message: format!(
            "{} is larger than {} KiB, the most Review Desk reads for it",
            path.display(),
            max_bytes / 1024
        ),
    }
}

/// How a workspace file may be shown by the app's own origin. Only media and JSON are shown
/// inline; anything else (HTML, scripts, SVG, unknown) is a download, because a file dropped into
/// the workspace must never run with the app's origin and its API access.
pub fn served_type(path: &Path) -> (&'static str, bool) {
    let t = content_type(path);
    let inline = t.starts_with("image/") && t != "image/svg+xml"
        || t.starts_with("video/")
        || t.starts_with("audio/")
        || t == "application/json";
    if inline {
        (t, true)
    } else {
        ("application/octet-stream", false)
    }
}

/// The Content-Type a webview needs for a workspace or UI file, by extension.
pub fn content_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("webm") => "video/webm",
        Some("mov") => "video/quicktime",
        Some("ogg" | "opus") => "audio/ogg",
        Some("m4a") => "audio/mp4",
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Thumbnails are named by content hash and version copies never change: safe to cache forever.
pub fn is_immutable(rel: &str) -> bool {
    rel.starts_with(".reviewdesk/thumbs/") || rel.contains("/versions/")
}

/// What a `Range` header asks of a file of a given length. Shared by the server's `/files` and the
/// desktop's `reviewdesk://` scheme, so both answer `<video>`/`<audio>` the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable range: send the whole file (absent, not `bytes`, malformed or several ranges,
    /// all of which a server may ignore).
    Full,
    /// Bytes `start..=end`, already clamped to the file.
    Part {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// A well-formed range that lies wholly past the end: 416.
    Unsatisfiable,
}

/// Parses one `bytes=` range against a file length (RFC 9110 §14.1.2). Several ranges are
/// answered with the whole file: no browser media player asks for them, and multipart bodies
/// would be code for nobody.
pub fn parse_range(value: &str, len: u64) -> ByteRange {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), num(first), num(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    start: len - n.min(len),
                    end: len - 1,
                }
            }
        }
        // `a-` or `a-b`.
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if let Some(e) = end
                && e < start
            {
                return ByteRange::Full;
            }
            if start >= len {
                return ByteRange::Unsatisfiable;
            }
            ByteRange::Part {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            }
        }
        _ => ByteRange::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        assert!(ws.resolve("channels/a/b.png").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(
                matches!(ws.resolve(bad), Err(CoreError::PathEscape(_))),
                "{bad}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), ws.root().join("link")).unwrap();
            assert!(matches!(
                ws.resolve("link/secret"),
                Err(CoreError::PathEscape(_))
            ));
        }
    }

    #[test]
    fn unwritable_workspace_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = Workspace::open(file.join("ws")).unwrap_err().to_string();
        assert!(e.contains("cannot create workspace folder"), "{e}");
    }

    fn part(start: u64, end: u64) -> ByteRange {
        ByteRange::Part { start, end }
    }

    #[test]
    fn ranges_are_parsed_and_clamped_to_the_file() {
        let cases = [
            ("bytes=0-99", part(0, 99)),
            ("bytes=0-", part(0, 999)),
            ("bytes=990-2000", part(990, 999)),
            ("bytes=-10", part(990, 999)),
            ("bytes=-5000", part(0, 999)),
            ("bytes= 10 - 20 ", part(10, 20)),
            ("bytes=1000-", ByteRange::Unsatisfiable),
            ("bytes=1000-1001", ByteRange::Unsatisfiable),
            ("bytes=-0", ByteRange::Unsatisfiable),
            // Ignored, as a server may: the whole file.
            ("bytes=20-10", ByteRange::Full),
            ("bytes=0-1,5-6", ByteRange::Full),
            ("items=0-1", ByteRange::Full),
            ("bytes=a-b", ByteRange::Full),
            ("bytes=-", ByteRange::Full),
            ("bytes=+1-2", ByteRange::Full),
            ("bytes=99999999999999999999999-", ByteRange::Full),
        ];
        for (header, want) in cases {
            assert_eq!(parse_range(header, 1000), want, "{header}");
        }
        assert_eq!(parse_range("bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), ByteRange::Unsatisfiable);
    }
}
