//! Pure image work for Review Desk (placeholder API; the imaging work fills it in).

use image::RgbaImage;

/// Longest edge of a thumbnail, in pixels.
pub const THUMB_MAX_EDGE: u32 = 640;

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

/// Errors from decoding, encoding or resizing images.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The bytes are not a readable image.
    #[error("the image could not be decoded ({0}); the file is corrupt or not a PNG/JPEG")]
    Decode(String),
    /// Encoding failed.
    #[error("the image could not be encoded: {0}")]
    Encode(String),
}

/// Encoded thumbnail format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbFormat {
    /// Opaque images.
    Jpeg,
    /// Images with transparency.
    Png,
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

/// Draws one asset.
pub fn generate_asset(spec: &AssetSpec<'_>) -> RgbaImage {
    let (w, h, a) = match spec.kind {
        ImageKind::Environment => (1920, 1080, 255),
        ImageKind::Character => (768, 1024, 0),
        ImageKind::Prop => (512, 512, 0),
    };
    let seed = spec.name.bytes().fold(spec.version, |acc, b| acc.wrapping_mul(31).wrapping_add(b as u32));
    let mut img = RgbaImage::from_pixel(w, h, image::Rgba([(seed & 255) as u8, (seed >> 8) as u8, (seed >> 16) as u8, a]));
    for y in h / 4..h * 3 / 4 {
        for x in w / 4..w * 3 / 4 {
            img.put_pixel(x, y, image::Rgba([200, (seed >> 3) as u8, 40, 255]));
        }
    }
    img
}

/// Encodes an image as PNG.
pub fn encode_png(img: &RgbaImage) -> Result<Vec<u8>, ImagingError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| ImagingError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

/// Decodes PNG or JPEG bytes.
pub fn decode(bytes: &[u8]) -> Result<RgbaImage, ImagingError> {
    image::load_from_memory(bytes).map(|i| i.to_rgba8()).map_err(|e| ImagingError::Decode(e.to_string()))
}

/// Places a character over an environment on a 1920x1080 canvas.
pub fn composite(character: &RgbaImage, environment: &RgbaImage) -> RgbaImage {
    let mut canvas = image::imageops::resize(environment, 1920, 1080, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut canvas, character, 576, 56);
    canvas
}

/// Two characters side by side over an environment, 1920x1080.
pub fn split_screen(left: &RgbaImage, right: &RgbaImage, environment: &RgbaImage) -> RgbaImage {
    let mut canvas = composite(left, environment);
    image::imageops::overlay(&mut canvas, right, 1100, 56);
    canvas
}

/// Thumbnail of an in-memory image.
pub fn thumbnail_from_image(img: &RgbaImage, max_edge: u32) -> Result<Thumbnail, ImagingError> {
    let t = image::imageops::thumbnail(img, max_edge, max_edge * img.height() / img.width().max(1));
    let bytes = encode_png(&t)?;
    Ok(Thumbnail { width: t.width(), height: t.height(), bytes, format: ThumbFormat::Png })
}

/// Thumbnail of encoded image bytes.
pub fn thumbnail_from_bytes(bytes: &[u8], max_edge: u32) -> Result<Thumbnail, ImagingError> {
    thumbnail_from_image(&decode(bytes)?, max_edge)
}
