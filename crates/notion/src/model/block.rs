//! Blocks: what is appended ([`BlockContent`]) and what Notion returns ([`Block`]).

use serde_json::{Value, json};

use super::decode::{at, req, req_str};
use super::property::rich_json;
use super::{BlockId, FileSource, FileUploadId};
use crate::error::Result;

/// A block to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockContent {
    /// An image from a URL or a file upload.
    Image {
        /// External URL or upload.
        source: FileSource,
        /// Optional caption.
        caption: Option<String>,
    },
    /// A paragraph of text.
    Paragraph(String),
}

impl BlockContent {
    /// An image block from an uploaded file.
    pub fn image_upload(id: FileUploadId) -> Self {
        Self::Image {
            source: FileSource::Upload { id },
            caption: None,
        }
    }

    /// An image block from an external URL.
    pub fn image_url(url: impl Into<String>) -> Self {
        Self::Image {
            source: FileSource::External { url: url.into() },
            caption: None,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Image { source, caption } => {
                let mut image = match source {
                    FileSource::External { url } | FileSource::Hosted { url, .. } => {
                        json!({"type": "external", "external": {"url": url}})
                    }
                    FileSource::Upload { id } => {
                        json!({"type": "file_upload", "file_upload": {"id": id}})
                    }
                };
                image["caption"] = caption.as_deref().map_or(json!([]), rich_json);
                json!({"object": "block", "type": "image", "image": image})
            }
            Self::Paragraph(t) => {
                json!({"object": "block", "type": "paragraph", "paragraph": {"rich_text": rich_json(t)}})
            }
        }
    }
}

/// A block as Notion returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Block id.
    pub id: BlockId,
    /// Type name (`image`, `paragraph`, …).
    pub kind: String,
    /// For image blocks: the file.
    pub image: Option<FileSource>,
    /// The full object.
    pub raw: Value,
}

impl Block {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let kind = req_str(v, path, "type")?;
        let image = if kind == "image" {
            Some(FileSource::decode(
                req(v, path, "image")?,
                &at(path, "image"),
            )?)
        } else {
            None
        };
        Ok(Block {
            id: BlockId::new(req_str(v, path, "id")?),
            kind,
            image,
            raw: v.clone(),
        })
    }
}
