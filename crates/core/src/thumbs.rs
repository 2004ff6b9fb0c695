//! Preparing images for review: content hash, dimensions and a cached thumbnail.

use reviewdesk_imaging::{THUMB_MAX_EDGE, ThumbFormat, Thumbnail};
use std::path::Path;

use crate::error::{CoreError, Result};
use crate::workspace::Workspace;

/// Longest edge of the small thumbnail a gallery tile shows (tiles are about 160 px wide, so this
/// stays sharp at 2× pixel density while decoding four times fewer pixels than the 640 px one).
pub const TILE_MAX_EDGE: u32 = 320;

/// The largest image file taken in (a 1920x1080 PNG is a few MiB; a 16k×16k photo fits): bigger
/// files are refused with a clear error before anything is read into memory.
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The tile thumbnail's path for a thumbnail path (`<hash>.jpg` → `<hash>.tile.jpg`).
pub fn tile_rel(thumb_rel: &str) -> String {
    match thumb_rel.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.tile.{ext}"),
        None => format!("{thumb_rel}.tile"),
    }
}

/// An image ready for the gallery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedImage {
    /// blake3 of the file bytes.
    pub content_hash: String,
    /// Thumbnail path relative to the workspace.
    pub thumb_rel: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// File size in bytes.
    pub bytes: u64,
}

impl PreparedImage {
    /// The stored version row for this image.
    pub fn into_version(
        self,
        version: u32,
        source: crate::event::Source,
    ) -> crate::store::AssetVersion {
        crate::store::AssetVersion {
            version,
            content_hash: self.content_hash,
            thumb_path: Some(self.thumb_rel),
            width: self.width,
            height: self.height,
            bytes: self.bytes,
            source: source.as_str().into(),
            created_at: chrono::Utc::now(),
            note: None,
        }
    }
}

/// Content hash used for caching and change detection.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn ext(format: ThumbFormat) -> &'static str {
    match format {
        ThumbFormat::Jpeg => "jpg",
        ThumbFormat::Png => "png",
    }
}

/// The cached thumbnail of this content, if one was made before.
fn cached(ws: &Workspace, hash: &str) -> Option<String> {
    ["jpg", "png"].into_iter().find_map(|e| {
        let rel = Workspace::thumb_rel(hash, e);
        ws.root()
            .join(&rel)
            .is_file()
            .then(|| rel.to_string_lossy().into_owned())
    })
}

/// The cached thumbnail of this content, if both it and its tile thumbnail were made before.
fn cached_with_tile(ws: &Workspace, hash: &str) -> Option<String> {
    cached(ws, hash).filter(|rel| ws.root().join(tile_rel(rel)).is_file())
}

fn store(ws: &Workspace, hash: &str, thumb: &Thumbnail) -> Result<String> {
    let rel = Workspace::thumb_rel(hash, ext(thumb.format));
    ws.write_atomic(&rel, &thumb.bytes)?;
    Ok(rel.to_string_lossy().into_owned())
}

/// Makes both thumbnails (640 px and the tile one) from decoded pixels.
fn store_both(ws: &Workspace, hash: &str, image: &image::RgbaImage) -> Result<String> {
    let rel = store(
        ws,
        hash,
        &reviewdesk_imaging::thumbnail_from_image(image, THUMB_MAX_EDGE)?,
    )?;
    let tile = reviewdesk_imaging::thumbnail_from_image(image, TILE_MAX_EDGE)?;
    ws.write_atomic(tile_rel(&rel), &tile.bytes)?;
    Ok(rel)
}

/// Prepares an image the app just made in memory: the thumbnail comes straight from the pixels,
/// so nothing is decoded twice. Blocking: call from a blocking thread.
pub fn prepare_in_memory(
    ws: &Workspace,
    image: &image::RgbaImage,
    encoded: &[u8],
) -> Result<PreparedImage> {
    let hash = content_hash(encoded);
    // Both thumbnails, like prepare_bytes: the gallery shows the tile one.
    let thumb_rel = match cached_with_tile(ws, &hash) {
        Some(rel) => rel,
        None => store_both(ws, &hash, image)?,
    };
    Ok(PreparedImage {
        content_hash: hash,
        thumb_rel,
        width: image.width(),
        height: image.height(),
        bytes: encoded.len() as u64,
    })
}

/// Prepares an image file made elsewhere (a command executor, an image editor). A corrupt file
/// is an error naming the file. Blocking: call from a blocking thread.
pub fn prepare_file(ws: &Workspace, path: &Path) -> Result<PreparedImage> {
    let bytes = crate::workspace::read_regular_file(path, MAX_IMAGE_FILE_BYTES)?;
    prepare_bytes(ws, &bytes).map_err(|e| match e {
        CoreError::Imaging(err) => {
            CoreError::invalid("image", format!("{}: {err}", path.display()))
        }
        other => other,
    })
}

/// Prepares encoded image bytes.
pub fn prepare_bytes(ws: &Workspace, bytes: &[u8]) -> Result<PreparedImage> {
    let hash = content_hash(bytes);
    if let Some(rel) = cached_with_tile(ws, &hash) {
        // Cache hit: only the header is read for the size.
        let (width, height) = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| CoreError::invalid("image", e.to_string()))?
            .into_dimensions()
            .map_err(|e| {
                CoreError::Imaging(reviewdesk_imaging::ImagingError::Decode(e.to_string()))
            })?;
        return Ok(PreparedImage {
            content_hash: hash,
            thumb_rel: rel,
            width,
            height,
            bytes: bytes.len() as u64,
        });
    }
    let image = reviewdesk_imaging::decode(bytes)?;
    let thumb_rel = store_both(ws, &hash, &image)?;
    Ok(PreparedImage {
        content_hash: hash,
        thumb_rel,
        width: image.width(),
        height: image.height(),
        bytes: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reviewdesk_imaging::{AssetSpec, ImageKind};

    fn tile_of(ws: &Workspace, p: &PreparedImage) -> image::DynamicImage {
        let tile = ws.root().join(tile_rel(&p.thumb_rel));
        image::open(&tile).unwrap_or_else(|e| panic!("tile {}: {e}", tile.display()))
    }

    #[test]
    fn images_made_in_memory_get_a_tile_thumbnail_too() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        for kind in [
            ImageKind::Character,
            ImageKind::Environment,
            ImageKind::Prop,
        ] {
            let image = reviewdesk_imaging::generate_asset(&AssetSpec {
                name: "hero",
                kind,
                prompt: "a hero",
                version: 1,
            });
            let encoded = reviewdesk_imaging::encode_png(&image).unwrap();
            let p = prepare_in_memory(&ws, &image, &encoded).unwrap();
            let tile = tile_of(&ws, &p);
            assert_eq!(
                tile.width().max(tile.height()),
                TILE_MAX_EDGE,
                "{kind:?}: tile size"
            );
            // Cut-outs keep their transparency for the checkerboard; backgrounds are opaque JPEG.
            assert_eq!(
                tile.color().has_alpha(),
                kind != ImageKind::Environment,
                "{kind:?}"
            );
            // The same bytes from disk reuse both thumbnails.
            let again = prepare_bytes(&ws, &encoded).unwrap();
            assert_eq!(again, p);
        }
    }
}
