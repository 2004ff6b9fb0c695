//! Typed Notion objects, one module per kind: ids, property values, pages, databases and data
//! sources, users, file uploads and blocks. Conversions to request JSON and from response JSON
//! are written out by hand because Notion's request and response shapes differ (responses add
//! `id`, `type`, `plain_text`, `has_more`…), which derive-based serde cannot express cleanly.
//!
//! Reading is strict where Notion always answers a field (ids, times, types, the users of a
//! page): a response without it is a [`NotionError::Decode`](crate::NotionError::Decode) naming
//! the field, never an empty id or a 1970 timestamp.

mod block;
mod data_source;
mod decode;
mod file_upload;
mod ids;
mod page;
mod property;
mod user;

use serde_json::Value;

pub use block::{Block, BlockContent};
pub use data_source::{
    DataSource, DataSourceRef, DataSourceUpdate, Database, NewDatabase, PropertyConfig,
    PropertySchema, RelationSchema, SchemaChange,
};
pub use file_upload::{FileUpload, FileUploadStatus, NewFileUpload, UploadMode};
pub use ids::{BlockId, DataSourceId, DatabaseId, FileUploadId, PageId, UserId};
pub use page::{NewPage, Page, PageParent, PageUpdate, Parent, Property};
pub use property::{
    DateValue, FileSource, FileValue, PropertyValue, RICH_TEXT_LIMIT, RichText, SelectOption,
};
pub use user::{BotUser, User, UserKind, UserRef};

use crate::error::Result;

/// One page of a paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    /// Items of this page.
    pub results: Vec<T>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// More pages follow.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// Reads a list object whose results are `item`s (`pages[3].id` names a field of the
    /// fourth result).
    pub(crate) fn decode(
        v: &Value,
        item: &str,
        f: impl Fn(&Value, &str) -> Result<T>,
    ) -> Result<Self> {
        let results = decode::req_array(v, "list", "results")?;
        Ok(ListPage {
            results: decode::items(results, &format!("{item}s"), f)?,
            next_cursor: decode::opt_str(v, "next_cursor"),
            has_more: decode::req_bool(v, "list", "has_more")?,
        })
    }
}
