//! The file of an asset or clip row, per the channel's storage strategy (`notion`, `r2`, `none`).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reviewdesk_core::Task;
use reviewdesk_core::config::StorageStrategy;
use reviewdesk_core::store::AssetRecord;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_notion::{
    FileSource, FileValue, Idempotency, NewFileUpload, SINGLE_PART_MAX, UploadMode,
};

use super::{ChannelCtx, Mirror};
use crate::error::{Result, SyncError};

/// What to send when a file is above the workspace's upload limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Oversize {
    /// A quality-90 JPEG, downscaled until it fits (images).
    Jpeg,
    /// An H.264 copy at a lower height and rate (clips; needs ffmpeg).
    Video,
    /// No file: the row's Notes say where the original is.
    Nothing,
}

/// A workspace file to attach to a row.
pub(super) struct RowFile {
    /// The file, relative to the workspace.
    pub rel: PathBuf,
    /// The name it gets in Notion.
    pub filename: String,
    /// Its MIME type.
    pub content_type: &'static str,
    /// What to send instead when it is too large.
    pub oversize: Oversize,
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

impl Mirror {
    /// The file of an asset version's row and, when the file is a smaller rendition, the note
    /// that says so (see [`Mirror::row_file`]).
    pub(super) async fn asset_file(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        asset: &AssetRecord,
    ) -> Result<(Option<FileValue>, Option<String>)> {
        let version = asset.current_version;
        let rel = Workspace::asset_version_rel(
            &task.channel_id,
            task.id,
            asset.kind,
            &asset.name,
            version,
        );
        self.row_file(
            ctx,
            task,
            RowFile {
                rel,
                filename: format!("{}.v{version}.png", asset.name),
                content_type: "image/png",
                oversize: Oversize::Jpeg,
            },
        )
        .await
    }

    /// The file of a row per the channel's storage strategy, and a note when what was sent is
    /// not the original: uploaded to Notion (`notion`: 2 requests; above the workspace's upload
    /// limit a smaller rendition, or nothing, per [`Oversize`]), put in R2 and linked (`r2`), or
    /// none (`none`).
    pub(super) async fn row_file(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        f: RowFile,
    ) -> Result<(Option<FileValue>, Option<String>)> {
        let RowFile {
            rel,
            filename,
            content_type,
            oversize,
        } = f;
        let mut notes: Option<String> = None;
        let file = match ctx.channel.storage_strategy {
            StorageStrategy::None => None,
            StorageStrategy::Notion => {
                let bytes = self.read_workspace_file(&rel).await?;
                // users/me is read once per mirror (with the bot id) and gives the upload limit.
                self.bot_id().await?;
                let limit = *self.upload_limit.lock().unwrap_or_else(|e| e.into_inner());
                let sent = match limit {
                    Some(limit) if bytes.len() as u64 > limit => {
                        let (sent, note) = self
                            .smaller(&rel, &filename, bytes, limit, oversize)
                            .await?;
                        notes = Some(note);
                        sent
                    }
                    _ => Some((bytes, filename.clone(), content_type)),
                };
                match sent {
                    Some((bytes, filename, content_type)) => Some(
                        self.upload_to_notion(Bytes::from(bytes), filename, content_type)
                            .await?,
                    ),
                    None => None,
                }
            }
            StorageStrategy::R2 => {
                let bytes = self.read_workspace_file(&rel).await?;
                let project = Workspace::project_rel(&task.channel_id, task.id);
                let inner = rel.strip_prefix(&project).unwrap_or(&rel);
                let object = format!(
                    "{}/{}/{}",
                    task.channel_id,
                    task.id,
                    inner.to_string_lossy().replace('\\', "/")
                );
                let uploader = ctx
                    .r2
                    .as_ref()
                    .ok_or_else(|| SyncError::Setup("the r2 uploader is not configured".into()))?;
                let url = uploader
                    .put(&object, Bytes::from(bytes), content_type)
                    .await?;
                Some(FileValue {
                    name: filename,
                    source: FileSource::External { url },
                })
            }
        };
        Ok((file, notes))
    }

    /// What to send for a file above the upload limit, and the note saying so: a rendition, or
    /// nothing when none can be made (the row is still created; the original stays local).
    async fn smaller(
        &self,
        rel: &Path,
        filename: &str,
        bytes: Vec<u8>,
        limit: u64,
        oversize: Oversize,
    ) -> Result<(Option<(Vec<u8>, String, &'static str)>, String)> {
        let original = bytes.len() as u64;
        let stem = Path::new(filename)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let above = format!(
            "The original ({:.1} MB) is above this workspace's upload limit ({:.1} MB)",
            megabytes(original),
            megabytes(limit)
        );
        match oversize {
            Oversize::Jpeg => {
                let (jpeg, w, h) =
                    tokio::task::spawn_blocking(move || jpeg_rendition(&bytes, limit))
                        .await
                        .map_err(|e| SyncError::Setup(format!("rendition thread failed: {e}")))??;
                Ok((
                    Some((jpeg, format!("{stem}.jpg"), "image/jpeg")),
                    format!(
                        "{above}: this file is a JPEG rendition ({w}x{h}). The original is in the Review Desk workspace."
                    ),
                ))
            }
            Oversize::Video => {
                let input = self.core.workspace.resolve(rel)?;
                let scratch = tempfile::tempdir().map_err(|source| SyncError::Io {
                    path: std::env::temp_dir().display().to_string(),
                    source,
                })?;
                match reviewdesk_core::renditions::video_rendition(
                    &self.core.worker_settings.tools,
                    &input,
                    scratch.path(),
                    limit,
                )
                .await
                {
                    Ok(r) => Ok((
                        Some((r.bytes, format!("{stem}.rendition.mp4"), "video/mp4")),
                        format!(
                            "{above}: this file is a smaller rendition (at most {}p). The original is in the Review Desk workspace.",
                            r.height
                        ),
                    )),
                    Err(e) => {
                        tracing::warn!(
                            "no rendition of {filename} small enough for Notion: {}",
                            e.message
                        );
                        Ok((
                            None,
                            format!(
                                "{above} and no smaller copy could be made ({}): no file here; the original is in the Review Desk workspace.",
                                e.message
                            ),
                        ))
                    }
                }
            }
            Oversize::Nothing => Ok((
                None,
                format!("{above}: no file here; the original is in the Review Desk workspace."),
            )),
        }
    }

    /// Sends bytes with the File Upload API (single part up to 20 MB, multi-part above).
    async fn upload_to_notion(
        &self,
        bytes: Bytes,
        filename: String,
        content_type: &'static str,
    ) -> Result<FileValue> {
        let up = if bytes.len() <= SINGLE_PART_MAX {
            let created = self
                .client
                .create_file_upload(
                    &NewFileUpload {
                        mode: UploadMode::SinglePart,
                        filename: Some(filename.clone()),
                        content_type: Some(content_type.into()),
                    },
                    Idempotency::Idempotent,
                )
                .await?;
            self.client
                .send_file_upload(
                    &created.id,
                    bytes,
                    &filename,
                    content_type,
                    None,
                    Idempotency::NotIdempotent,
                )
                .await?
        } else {
            self.client
                .upload_file(&filename, content_type, bytes)
                .await?
        };
        Ok(FileValue {
            name: filename,
            source: FileSource::Upload { id: up.id },
        })
    }
}

/// A high-quality JPEG of a PNG that fits under `limit` bytes: quality 90 at full size, then
/// smaller sizes until it fits. Transparency is flattened onto white.
pub(super) fn jpeg_rendition(png: &[u8], limit: u64) -> Result<(Vec<u8>, u32, u32)> {
    use image::ImageEncoder;
    let img = image::load_from_memory(png)
        .map_err(|e| {
            SyncError::Setup(format!(
                "cannot read the asset to make a smaller rendition: {e}"
            ))
        })?
        .to_rgba8();
    let mut rgb = image::RgbImage::new(img.width(), img.height());
    for (d, s) in rgb.pixels_mut().zip(img.pixels()) {
        let a = s.0[3] as u32;
        for c in 0..3 {
            d.0[c] = ((s.0[c] as u32 * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    let mut scale = 1.0f64;
    loop {
        let (w, h) = (
            ((rgb.width() as f64) * scale).max(1.0) as u32,
            ((rgb.height() as f64) * scale).max(1.0) as u32,
        );
        let frame = if scale < 1.0 {
            image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Triangle)
        } else {
            rgb.clone()
        };
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(frame.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| SyncError::Setup(format!("cannot encode a JPEG rendition: {e}")))?;
        if out.len() as u64 <= limit || w <= 64 {
            return Ok((out, w, h));
        }
        scale *= 0.75;
    }
}
