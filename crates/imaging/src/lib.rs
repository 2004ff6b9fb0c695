//! Pure image work for Review Desk: the built-in placeholder generator,
//! 1920x1080 composites, fast thumbnails and background keying.
//!
//! Everything here is synchronous and CPU-bound. Callers running on an async
//! runtime should wrap calls in `spawn_blocking`. Nothing in this crate panics
//! on bad input: unreadable bytes and files come back as [`ImagingError`].
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use image::RgbaImage;
use rayon::prelude::*;

mod codec;
mod composite;
mod generate;
mod key;
mod thumb;

pub use codec::{DECODE_BUDGET_BYTES, DecodePermit, decode_budget_state, reserve_decode_memory};
pub use key::{KeyFailure, KeyOptions, KeyResult, KeyWarning};

/// Longest edge of a thumbnail, in pixels.
pub const THUMB_MAX_EDGE: u32 = 640;

/// Width of every composite, in pixels.
pub const COMPOSITE_WIDTH: u32 = 1920;

/// Height of every composite, in pixels.
pub const COMPOSITE_HEIGHT: u32 = 1080;

/// JPEG quality of opaque thumbnails: small files without visible blocking at 640 px.
pub const THUMB_JPEG_QUALITY: u8 = 80;

/// What kind of picture an asset is; decides size and transparency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// A transparent character cut-out.
    Character,
    /// An opaque 1920x1080 background.
    Environment,
    /// A transparent prop cut-out.
    Prop,
}

impl ImageKind {
    /// Pixel size `(width, height)` of this kind: what the built-in generator draws, and what the
    /// pipeline asks every other executor for (reviewdesk-core's `pipeline::asset_size` reads it
    /// here, so the sizes have this one definition).
    pub fn generated_size(self) -> (u32, u32) {
        match self {
            ImageKind::Character => (768, 1024),
            ImageKind::Environment => (1920, 1080),
            ImageKind::Prop => (512, 512),
        }
    }

    /// Upper-case label drawn on generated images ("CHARACTER", ...).
    pub fn label(self) -> &'static str {
        match self {
            ImageKind::Character => "CHARACTER",
            ImageKind::Environment => "ENVIRONMENT",
            ImageKind::Prop => "PROP",
        }
    }
}

/// Everything the built-in generator needs to draw one asset.
#[derive(Debug, Clone, Copy)]
pub struct AssetSpec<'a> {
    /// Asset name, drawn on the image.
    pub name: &'a str,
    /// Asset kind, drawn on the image.
    pub kind: ImageKind,
    /// The prompt the asset is made from (seeds the drawing).
    pub prompt: &'a str,
    /// Version number; a new version must look different.
    pub version: u32,
}

/// Errors from reading, decoding, encoding or resizing images.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The bytes are not a readable image.
    #[error("the image could not be decoded ({0}); the file is corrupt or not a PNG/JPEG")]
    Decode(String),
    /// Encoding failed.
    #[error("the image could not be encoded: {0}")]
    Encode(String),
    /// A file could not be read from disk.
    #[error("could not read image file {}: {source}; check that it exists and is readable", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The image has a zero width or height, so there is nothing to show.
    #[error("the image is empty ({width}x{height} pixels); regenerate or replace it")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// Encoded thumbnail format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbFormat {
    /// Opaque images.
    Jpeg,
    /// Images with transparency.
    Png,
}

impl ThumbFormat {
    /// MIME type of the encoded bytes, for the UI.
    pub fn mime(self) -> &'static str {
        match self {
            ThumbFormat::Jpeg => "image/jpeg",
            ThumbFormat::Png => "image/png",
        }
    }

    /// Usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ThumbFormat::Jpeg => "jpg",
            ThumbFormat::Png => "png",
        }
    }
}

/// An encoded thumbnail.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// Encoded bytes.
    pub bytes: Vec<u8>,
    /// Encoding of `bytes`.
    pub format: ThumbFormat,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// Draws one asset with the built-in generator.
///
/// Environments are 1920x1080 and fully opaque; characters (768x1024) and
/// props (512x512) have a transparent background around an opaque,
/// anti-aliased figure. Every image carries its name, kind and version in
/// readable text. The drawing is seeded from name, prompt and version, so any
/// change to those gives a visibly different image, and the same spec always
/// gives the same pixels.
pub fn generate_asset(spec: &AssetSpec<'_>) -> RgbaImage {
    generate::generate(spec)
}

/// Encodes an image as PNG with fast (fdeflate) compression.
///
/// Fully opaque images are written as RGB, which is both smaller and faster
/// to encode and decode than RGBA.
pub fn encode_png(img: &RgbaImage) -> Result<Vec<u8>, ImagingError> {
    codec::encode_png_rgba(img.as_raw(), img.width(), img.height())
}

/// Decodes PNG or JPEG bytes into RGBA.
pub fn decode(bytes: &[u8]) -> Result<RgbaImage, ImagingError> {
    codec::decode(bytes)?.into_rgba()
}

/// Removes a plain background colour, making a cut-out of a generated picture.
///
/// Image generators such as Gemini return no alpha channel, so characters and props are asked
/// for on one flat colour (pure green works best; white works when the subject's edge is not
/// white) and that colour is keyed out here: it is read from the border, flood-filled from the
/// border (the same colour inside the subject stays), and the edge is softened and un-mixed so no
/// fringe of the background colour is left. When the border is not one plain colour the result
/// says why in [`KeyResult::failure`] and carries the input untouched; suspicious results (almost
/// everything or almost nothing removed) come back with [`KeyResult::warnings`]. Never panics.
/// Runs on the calling thread; a 1024x1024 picture takes about 15 ms.
pub fn key_background(image: &RgbaImage, options: &KeyOptions) -> KeyResult {
    key::key(image, options)
}

/// Places a character over an environment on a 1920x1080 canvas.
///
/// The environment is scaled to cover the canvas and centre-cropped, whatever
/// its size or aspect ratio. The character is scaled to 90 % of the canvas
/// height (never wider than 90 % of its width), centred and standing near the
/// bottom edge, and alpha-blended with Porter-Duff "over".
pub fn composite(character: &RgbaImage, environment: &RgbaImage) -> RgbaImage {
    composite::composite(character, environment)
}

/// Two characters side by side over an environment, 1920x1080.
///
/// Each character gets one half of the canvas and is centred in it; sizing and
/// blending are as in [`composite`].
pub fn split_screen(left: &RgbaImage, right: &RgbaImage, environment: &RgbaImage) -> RgbaImage {
    composite::split_screen(left, right, environment)
}

/// Thumbnail of an in-memory image.
///
/// The longest edge becomes `max_edge` (images already smaller are not
/// enlarged). Fully opaque images are encoded as JPEG; images with any
/// transparency as PNG so the UI can show a checkerboard behind them.
pub fn thumbnail_from_image(img: &RgbaImage, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    thumb::from_rgba(img, max_edge)
}

/// Thumbnail of encoded PNG or JPEG bytes; see [`thumbnail_from_image`].
pub fn thumbnail_from_bytes(bytes: &[u8], max_edge: u32) -> Result<Thumbnail, ImagingError> {
    thumb::from_bytes(bytes, max_edge)
}

/// Thumbnail of one image file; see [`thumbnail_from_image`].
///
/// Unreadable files give [`ImagingError::Io`]; decode errors name the file.
pub fn thumbnail_from_file(path: &Path, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    thumb::from_file(path, max_edge).map_err(|e| match e {
        // The caller batches many files: say which one is broken.
        ImagingError::Decode(msg) => ImagingError::Decode(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Thumbnails of many image files, made in parallel on the rayon pool.
///
/// Results come back in the order of `paths`; one bad file does not stop the
/// others. This blocks until all are done, so call it from `spawn_blocking`.
pub fn thumbnails_from_files(
    paths: &[PathBuf],
    max_edge: u32,
) -> Vec<Result<Thumbnail, ImagingError>> {
    // One file per task: files are large (milliseconds each), so rayon's
    // per-task overhead is negligible and both cores stay busy to the end.
    paths
        .par_iter()
        .with_max_len(1)
        .map(|p| thumbnail_from_file(p, max_edge))
        .collect()
}
