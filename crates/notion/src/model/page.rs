//! Pages: what Notion returns ([`Page`]) and what is sent ([`NewPage`], [`PageUpdate`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::decode::{at, opt_str, req, req_str, req_time, wrong};
use super::property::{plain, properties_json};
use super::{BlockContent, BlockId, DataSourceId, DatabaseId, PageId, PropertyValue, UserRef};
use crate::error::Result;

/// A page's parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// A row of a data source.
    DataSource {
        /// The data source.
        data_source_id: DataSourceId,
        /// Its database, where given.
        database_id: Option<DatabaseId>,
    },
    /// A database (older versions).
    Database(DatabaseId),
    /// A page.
    Page(PageId),
    /// A block.
    Block(BlockId),
    /// The workspace.
    Workspace,
}

impl Parent {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let id = |k: &str| req_str(v, path, k);
        Ok(match req_str(v, path, "type")?.as_str() {
            "data_source_id" => Parent::DataSource {
                data_source_id: DataSourceId::new(id("data_source_id")?),
                database_id: opt_str(v, "database_id").map(DatabaseId::new),
            },
            "database_id" => Parent::Database(DatabaseId::new(id("database_id")?)),
            "page_id" => Parent::Page(PageId::new(id("page_id")?)),
            "block_id" => Parent::Block(BlockId::new(id("block_id")?)),
            _ => Parent::Workspace,
        })
    }
}

/// A page property with its stable id.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Stable property id (survives renames).
    pub id: String,
    /// The value.
    pub value: PropertyValue,
}

/// A page (a row of a data source, or a plain page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Page id.
    pub id: PageId,
    /// Where it lives.
    pub parent: Parent,
    /// Creation time.
    pub created_time: DateTime<Utc>,
    /// Last edit, rounded down to the minute by Notion.
    pub last_edited_time: DateTime<Utc>,
    /// Creator (id only in page metadata).
    pub created_by: UserRef,
    /// Last editor (id only in page metadata).
    pub last_edited_by: UserRef,
    /// In the trash.
    pub in_trash: bool,
    /// `https://www.notion.so/…`.
    pub url: Option<String>,
    /// Properties by name.
    pub properties: BTreeMap<String, Property>,
}

impl Page {
    /// A property value by name.
    pub fn get(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.get(name).map(|p| &p.value)
    }

    /// The plain text of the title property.
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find_map(|p| match &p.value {
                PropertyValue::Title(t) => Some(plain(t)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Reads a page object: `id`, `parent`, the times, the users and `properties` must be
    /// there ([`NotionError::Decode`](crate::NotionError::Decode) naming the field otherwise).
    pub(crate) fn from_response(v: &Value) -> Result<Self> {
        Self::decode(v, "page")
    }

    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let props_path = at(path, "properties");
        let props = req(v, path, "properties")?;
        let Value::Object(m) = props else {
            return Err(wrong(props_path, "an object", props));
        };
        let mut properties = BTreeMap::new();
        for (name, p) in m {
            let pp = at(&props_path, name);
            properties.insert(
                name.clone(),
                Property {
                    id: req_str(p, &pp, "id")?,
                    value: PropertyValue::decode(p, &pp)?,
                },
            );
        }
        Ok(Page {
            id: PageId::new(req_str(v, path, "id")?),
            parent: Parent::decode(req(v, path, "parent")?, &at(path, "parent"))?,
            created_time: req_time(v, path, "created_time")?,
            last_edited_time: req_time(v, path, "last_edited_time")?,
            created_by: UserRef::decode(req(v, path, "created_by")?, &at(path, "created_by"))?,
            last_edited_by: UserRef::decode(
                req(v, path, "last_edited_by")?,
                &at(path, "last_edited_by"),
            )?,
            in_trash: v
                .get("in_trash")
                .or(v.get("archived"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            url: opt_str(v, "url"),
            properties,
        })
    }
}

/// Where a new page goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageParent {
    /// A row of this data source.
    DataSource(DataSourceId),
    /// A sub-page of this page.
    Page(PageId),
}

/// `POST /v1/pages`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPage {
    /// Where it goes.
    pub parent: PageParent,
    /// Property values by name.
    pub properties: Vec<(String, PropertyValue)>,
    /// Content blocks (≤ 100).
    pub children: Vec<BlockContent>,
}

impl NewPage {
    pub(crate) fn to_json(&self) -> Value {
        let parent = match &self.parent {
            PageParent::DataSource(id) => json!({"type": "data_source_id", "data_source_id": id}),
            PageParent::Page(id) => json!({"type": "page_id", "page_id": id}),
        };
        let mut body = json!({"parent": parent, "properties": properties_json(&self.properties)});
        if !self.children.is_empty() {
            body["children"] =
                Value::Array(self.children.iter().map(BlockContent::to_json).collect());
        }
        body
    }
}

/// `PATCH /v1/pages/{id}`: only the properties sent change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageUpdate {
    /// Property values by name.
    pub properties: Vec<(String, PropertyValue)>,
    /// Move to / out of the trash.
    pub in_trash: Option<bool>,
}

impl PageUpdate {
    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({});
        if !self.properties.is_empty() {
            body["properties"] = properties_json(&self.properties);
        }
        if let Some(t) = self.in_trash {
            body["in_trash"] = json!(t);
        }
        body
    }
}
