//! File uploads: the upload object and the request that creates one.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::FileUploadId;
use super::decode::{opt_str, opt_time, req_str};
use crate::error::Result;

/// A file upload's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileUploadStatus {
    /// Waiting for bytes (or `complete` for multi-part).
    Pending,
    /// Bytes received; attachable.
    Uploaded,
    /// Not attached within an hour; unusable.
    Expired,
    /// An import failed; unusable.
    Failed,
    /// A status this client does not know.
    Other(String),
}

/// A file upload object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpload {
    /// Upload id (attach it with [`FileSource::Upload`](super::FileSource::Upload)).
    pub id: FileUploadId,
    /// State.
    pub status: FileUploadStatus,
    /// File name.
    pub filename: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Size once uploaded.
    pub content_length: Option<u64>,
    /// When an unattached upload expires (`None` once attached).
    pub expiry_time: Option<DateTime<Utc>>,
    /// Multi-part: (total, sent).
    pub number_of_parts: Option<(u32, u32)>,
}

impl FileUpload {
    pub(crate) fn from_response(v: &Value) -> Result<Self> {
        let path = "file_upload";
        let status = match req_str(v, path, "status")?.as_str() {
            "pending" => FileUploadStatus::Pending,
            "uploaded" => FileUploadStatus::Uploaded,
            "expired" => FileUploadStatus::Expired,
            "failed" => FileUploadStatus::Failed,
            other => FileUploadStatus::Other(other.to_owned()),
        };
        Ok(FileUpload {
            id: FileUploadId::new(req_str(v, path, "id")?),
            status,
            filename: opt_str(v, "filename"),
            content_type: opt_str(v, "content_type"),
            content_length: v.get("content_length").and_then(Value::as_u64),
            expiry_time: opt_time(v, path, "expiry_time")?,
            number_of_parts: v.get("number_of_parts").and_then(|n| {
                Some((
                    n.get("total")?.as_u64()? as u32,
                    n.get("sent")?.as_u64()? as u32,
                ))
            }),
        })
    }
}

/// How a file upload is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// One send (≤ 20 MB).
    SinglePart,
    /// Several sends then `complete` (paid workspaces, above 20 MB).
    MultiPart {
        /// Number of parts.
        number_of_parts: u32,
    },
}

/// `POST /v1/file_uploads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFileUpload {
    /// Mode.
    pub mode: UploadMode,
    /// File name with extension (required for multi-part).
    pub filename: Option<String>,
    /// MIME type (must match the bytes and extension).
    pub content_type: Option<String>,
}

impl NewFileUpload {
    pub(crate) fn to_json(&self) -> Value {
        let mut body = match self.mode {
            UploadMode::SinglePart => json!({"mode": "single_part"}),
            UploadMode::MultiPart { number_of_parts } => {
                json!({"mode": "multi_part", "number_of_parts": number_of_parts})
            }
        };
        if let Some(f) = &self.filename {
            body["filename"] = json!(f);
        }
        if let Some(c) = &self.content_type {
            body["content_type"] = json!(c);
        }
        body
    }
}
