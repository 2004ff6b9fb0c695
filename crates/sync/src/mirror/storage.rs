//! The file of an asset row, per the channel's storage strategy (`notion`, `r2`, `none`).

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

impl Mirror {
    /// The file of an asset version's row and, when the file is a smaller rendition, the note
    /// that says so: uploaded to Notion (`notion`: 2 requests, a JPEG rendition above the
    /// workspace's upload limit), put in R2 and linked (`r2`), or none (`none`).
    pub(super) async fn asset_file(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        asset: &AssetRecord,
    ) -> Result<(Option<FileValue>, Option<String>)> {
        let version = asset.current_version;
        let filename = format!("{}.v{version}.png", asset.name);
        let mut notes: Option<String> = None;
        let rel = Workspace::asset_version_rel(
            &task.channel_id,
            task.id,
            asset.kind,
            &asset.name,
            version,
        );
        let file = match ctx.channel.storage_strategy {
            StorageStrategy::None => None,
            StorageStrategy::Notion => {
                let bytes = self.read_workspace_file(&rel).await?;
                // users/me is read once per mirror (with the bot id) and gives the upload limit.
                self.bot_id().await?;
                let limit = *self.upload_limit.lock().unwrap_or_else(|e| e.into_inner());
                let (bytes, filename, content_type) = match limit {
                    Some(limit) if bytes.len() as u64 > limit => {
                        let original = bytes.len();
                        let (jpeg, w, h) =
                            tokio::task::spawn_blocking(move || jpeg_rendition(&bytes, limit))
                                .await
                                .map_err(|e| {
                                    SyncError::Setup(format!("rendition thread failed: {e}"))
                                })??;
                        notes = Some(format!(
                            "The original PNG ({:.1} MB) is above this workspace's upload limit ({:.1} MB): this file is a JPEG rendition ({w}x{h}). The original is in the Review Desk workspace.",
                            original as f64 / 1_048_576.0,
                            limit as f64 / 1_048_576.0
                        ));
                        (jpeg, format!("{}.v{version}.jpg", asset.name), "image/jpeg")
                    }
                    _ => (bytes, filename.clone(), "image/png"),
                };
                let bytes = Bytes::from(bytes);
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
                Some(FileValue {
                    name: filename,
                    source: FileSource::Upload { id: up.id },
                })
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
                    .put(&object, Bytes::from(bytes), "image/png")
                    .await?;
                Some(FileValue {
                    name: filename.clone(),
                    source: FileSource::External { url },
                })
            }
        };
        Ok((file, notes))
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
