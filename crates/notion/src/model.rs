//! Typed Notion objects: ids, property values, schemas, pages, databases, data sources,
//! users, file uploads and blocks. Conversions to request JSON and from response JSON are
//! written out by hand because Notion's request and response shapes differ (responses add
//! `id`, `type`, `plain_text`, `has_more`…), which derive-based serde cannot express cleanly.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Notion's limit on one rich text object's `text.content`, in UTF-16 code units (JS length).
pub const RICH_TEXT_LIMIT: usize = 2000;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parse an id given with or without dashes; stored in Notion's dashed form.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(normalize_id(id.as_ref()))
            }

            /// The dashed id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// A page id.
    PageId
);
id_type!(
    /// A database (container) id.
    DatabaseId
);
id_type!(
    /// A data source id (2025-09-03: the table that holds pages and the schema).
    DataSourceId
);
id_type!(
    /// A user id (person or bot).
    UserId
);
id_type!(
    /// A file upload id.
    FileUploadId
);
id_type!(
    /// A block id (a page id is also a block id).
    BlockId
);

impl From<&PageId> for BlockId {
    fn from(p: &PageId) -> Self {
        BlockId::new(p.as_str())
    }
}

/// Notion accepts ids with or without dashes and answers dashed; compare in one form.
fn normalize_id(raw: &str) -> String {
    let hex: String = raw.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let h = hex.to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    } else {
        raw.to_owned()
    }
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One rich text run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RichText {
    /// The text (≤ 2000 UTF-16 units per object on the wire; use [`RichText::split`]).
    pub content: String,
    /// Optional link URL.
    pub link: Option<String>,
}

impl RichText {
    /// Split text into as many ≤ 2000-unit objects as needed, never inside a character.
    pub fn split(text: &str) -> Vec<RichText> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut units = 0;
        for ch in text.chars() {
            let n = ch.len_utf16();
            if units + n > RICH_TEXT_LIMIT {
                out.push(RichText {
                    content: std::mem::take(&mut cur),
                    link: None,
                });
                units = 0;
            }
            cur.push(ch);
            units += n;
        }
        if !cur.is_empty() {
            out.push(RichText {
                content: cur,
                link: None,
            });
        }
        out
    }

    fn to_request(&self) -> Value {
        let link = self.link.as_ref().map(|u| json!({"url": u}));
        json!({"type":"text","text":{"content": self.content, "link": link}})
    }

    fn from_response(v: &Value) -> Self {
        RichText {
            content: s(v, "plain_text")
                .or_else(|| {
                    v.pointer("/text/content")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
            link: s(v, "href"),
        }
    }
}

fn rich_list(v: &Value) -> Vec<RichText> {
    v.as_array()
        .map(|a| a.iter().map(RichText::from_response).collect())
        .unwrap_or_default()
}

fn map_list<T>(v: &Value, f: impl Fn(&Value) -> T) -> Vec<T> {
    v.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn plain(list: &[RichText]) -> String {
    list.iter().map(|t| t.content.as_str()).collect()
}

/// A select / status / multi_select option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectOption {
    /// Option id (absent when writing by name).
    pub id: Option<String>,
    /// Option name.
    pub name: String,
    /// Option color, as Notion reports it.
    pub color: Option<String>,
}

impl SelectOption {
    /// An option referred to by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            id: None,
            name: name.into(),
            color: None,
        }
    }

    fn to_request(&self) -> Value {
        match &self.id {
            Some(id) if self.name.is_empty() => json!({"id": id}),
            _ => json!({"name": self.name}),
        }
    }

    fn from_response(v: &Value) -> Self {
        Self {
            id: s(v, "id"),
            name: s(v, "name").unwrap_or_default(),
            color: s(v, "color"),
        }
    }
}

/// A date property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateValue {
    /// ISO date or datetime.
    pub start: String,
    /// Optional end (a range).
    pub end: Option<String>,
    /// Optional IANA time zone.
    pub time_zone: Option<String>,
}

impl DateValue {
    /// A date without time.
    pub fn date(d: NaiveDate) -> Self {
        Self {
            start: d.format("%Y-%m-%d").to_string(),
            end: None,
            time_zone: None,
        }
    }

    /// An instant.
    pub fn datetime(t: DateTime<Utc>) -> Self {
        Self {
            start: t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            end: None,
            time_zone: None,
        }
    }
}

/// A user as property values and metadata show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// User id.
    pub id: UserId,
    /// Name, where Notion gives it.
    pub name: Option<String>,
    /// `person` or `bot`, where given.
    pub kind: Option<String>,
}

impl UserRef {
    /// A user by id (for writing a people property).
    pub fn id(id: impl Into<UserId>) -> Self {
        Self {
            id: id.into(),
            name: None,
            kind: None,
        }
    }

    fn from_response(v: &Value) -> Self {
        Self {
            id: UserId::new(s(v, "id").unwrap_or_default()),
            name: s(v, "name"),
            kind: s(v, "type"),
        }
    }
}

/// Where a file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A link to a file hosted elsewhere (e.g. R2).
    External {
        /// Public URL.
        url: String,
    },
    /// A file upload to attach (write only).
    Upload {
        /// The uploaded file's id.
        id: FileUploadId,
    },
    /// A Notion-hosted file (read); its URL expires after an hour: re-fetch, never store.
    Hosted {
        /// Temporary URL.
        url: String,
        /// When the URL stops working.
        expiry_time: Option<DateTime<Utc>>,
    },
}

/// One entry of a files property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileValue {
    /// Display name.
    pub name: String,
    /// The file.
    pub source: FileSource,
}

impl FileValue {
    fn to_request(&self) -> Value {
        match &self.source {
            FileSource::External { url } => {
                json!({"type":"external","name":self.name,"external":{"url":url}})
            }
            FileSource::Upload { id } => {
                json!({"type":"file_upload","name":self.name,"file_upload":{"id":id}})
            }
            FileSource::Hosted { url, .. } => {
                json!({"type":"file","name":self.name,"file":{"url":url}})
            }
        }
    }

    fn from_response(v: &Value) -> Self {
        let source = match v.get("type").and_then(Value::as_str) {
            Some("file") => FileSource::Hosted {
                url: v
                    .pointer("/file/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                expiry_time: v.get("file").and_then(|f| time(f, "expiry_time")),
            },
            Some("file_upload") => FileSource::Upload {
                id: FileUploadId::new(
                    v.pointer("/file_upload/id")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
            },
            _ => FileSource::External {
                url: v
                    .pointer("/external/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
        };
        Self {
            name: s(v, "name").unwrap_or_default(),
            source,
        }
    }
}

/// A page property value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// The page title.
    Title(Vec<RichText>),
    /// Rich text.
    RichText(Vec<RichText>),
    /// One option, or none.
    Select(Option<SelectOption>),
    /// Notion's status type.
    Status(Option<SelectOption>),
    /// Several options.
    MultiSelect(Vec<SelectOption>),
    /// A date or range, or none.
    Date(Option<DateValue>),
    /// A number, or none.
    Number(Option<f64>),
    /// A URL, or none.
    Url(Option<String>),
    /// A checkbox.
    Checkbox(bool),
    /// Related pages. Page objects list at most 25: `has_more` says the list was cut.
    Relation {
        /// Related page ids.
        ids: Vec<PageId>,
        /// True when Notion cut the list (read the property item endpoint for all).
        has_more: bool,
    },
    /// Files and media.
    Files(Vec<FileValue>),
    /// People.
    People(Vec<UserRef>),
    /// Read only: creation time.
    CreatedTime(DateTime<Utc>),
    /// Read only: last edit (Notion rounds it down to the minute).
    LastEditedTime(DateTime<Utc>),
    /// Read only: creator.
    CreatedBy(UserRef),
    /// Read only: last editor.
    LastEditedBy(UserRef),
    /// Any other type (formula, rollup, email…), kept raw.
    Other {
        /// Notion's type name.
        kind: String,
        /// The value under that type key.
        value: Value,
    },
}

impl PropertyValue {
    /// A title from plain text (split into ≤ 2000-unit objects).
    pub fn title(text: &str) -> Self {
        Self::Title(RichText::split(text))
    }

    /// Rich text from plain text (split into ≤ 2000-unit objects).
    pub fn text(text: &str) -> Self {
        Self::RichText(RichText::split(text))
    }

    /// A select option by name.
    pub fn select(name: &str) -> Self {
        Self::Select(Some(SelectOption::named(name)))
    }

    /// A status by name.
    pub fn status(name: &str) -> Self {
        Self::Status(Some(SelectOption::named(name)))
    }

    /// A relation to these pages.
    pub fn relation(ids: impl IntoIterator<Item = PageId>) -> Self {
        Self::Relation {
            ids: ids.into_iter().collect(),
            has_more: false,
        }
    }

    /// Plain text of a title, rich text, select, status or URL value.
    pub fn plain_text(&self) -> Option<String> {
        match self {
            Self::Title(t) | Self::RichText(t) => Some(plain(t)),
            Self::Select(o) | Self::Status(o) => o.as_ref().map(|o| o.name.clone()),
            Self::Url(u) => u.clone(),
            _ => None,
        }
    }

    /// Notion's type name of this value.
    pub fn kind(&self) -> &str {
        match self {
            Self::Title(_) => "title",
            Self::RichText(_) => "rich_text",
            Self::Select(_) => "select",
            Self::Status(_) => "status",
            Self::MultiSelect(_) => "multi_select",
            Self::Date(_) => "date",
            Self::Number(_) => "number",
            Self::Url(_) => "url",
            Self::Checkbox(_) => "checkbox",
            Self::Relation { .. } => "relation",
            Self::Files(_) => "files",
            Self::People(_) => "people",
            Self::CreatedTime(_) => "created_time",
            Self::LastEditedTime(_) => "last_edited_time",
            Self::CreatedBy(_) => "created_by",
            Self::LastEditedBy(_) => "last_edited_by",
            Self::Other { kind, .. } => kind,
        }
    }

    /// The request value object (`{"rich_text":[…]}`, …). Read-only types give `None`.
    pub fn to_request(&self) -> Option<Value> {
        let inner = match self {
            Self::Title(t) | Self::RichText(t) => {
                Value::Array(t.iter().map(RichText::to_request).collect())
            }
            Self::Select(o) | Self::Status(o) => {
                o.as_ref().map_or(Value::Null, SelectOption::to_request)
            }
            Self::MultiSelect(os) => {
                Value::Array(os.iter().map(SelectOption::to_request).collect())
            }
            Self::Date(d) => d.as_ref().map_or(
                Value::Null,
                |d| json!({"start": d.start, "end": d.end, "time_zone": d.time_zone}),
            ),
            Self::Number(n) => n.map_or(Value::Null, |n| json!(n)),
            Self::Url(u) => u.as_ref().map_or(Value::Null, |u| json!(u)),
            Self::Checkbox(b) => json!(b),
            Self::Relation { ids, .. } => {
                Value::Array(ids.iter().map(|id| json!({"id": id})).collect())
            }
            Self::Files(fs) => Value::Array(fs.iter().map(FileValue::to_request).collect()),
            Self::People(us) => Value::Array(
                us.iter()
                    .map(|u| json!({"object":"user","id":u.id}))
                    .collect(),
            ),
            Self::Other { kind, value } => return Some(json!({ kind.as_str(): value })),
            _ => return None,
        };
        Some(json!({ self.kind(): inner }))
    }

    /// Read a response property (`{"id","type",<type>:…}`).
    pub fn from_response(v: &Value) -> Self {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        let inner = v.get(kind).cloned().unwrap_or(Value::Null);
        match kind {
            "title" => Self::Title(rich_list(&inner)),
            "rich_text" => Self::RichText(rich_list(&inner)),
            "select" => {
                Self::Select((!inner.is_null()).then(|| SelectOption::from_response(&inner)))
            }
            "status" => {
                Self::Status((!inner.is_null()).then(|| SelectOption::from_response(&inner)))
            }
            "multi_select" => Self::MultiSelect(map_list(&inner, SelectOption::from_response)),
            "date" => Self::Date((!inner.is_null()).then(|| DateValue {
                start: s(&inner, "start").unwrap_or_default(),
                end: s(&inner, "end"),
                time_zone: s(&inner, "time_zone"),
            })),
            "number" => Self::Number(inner.as_f64()),
            "url" => Self::Url(inner.as_str().map(str::to_owned)),
            "checkbox" => Self::Checkbox(inner.as_bool().unwrap_or(false)),
            "relation" => Self::Relation {
                ids: map_list(&inner, |x| {
                    PageId::new(x.get("id").and_then(Value::as_str).unwrap_or_default())
                }),
                has_more: v.get("has_more").and_then(Value::as_bool).unwrap_or(false),
            },
            "files" => Self::Files(map_list(&inner, FileValue::from_response)),
            "people" => Self::People(map_list(&inner, UserRef::from_response)),
            "created_time" | "last_edited_time" => {
                let t = inner
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default();
                if kind == "created_time" {
                    Self::CreatedTime(t)
                } else {
                    Self::LastEditedTime(t)
                }
            }
            "created_by" => Self::CreatedBy(UserRef::from_response(&inner)),
            "last_edited_by" => Self::LastEditedBy(UserRef::from_response(&inner)),
            other => Self::Other {
                kind: other.to_owned(),
                value: inner,
            },
        }
    }
}

/// Property values keyed by name, serialised into a request `properties` object.
pub(crate) fn properties_json(props: &[(String, PropertyValue)]) -> Value {
    let mut m = Map::new();
    for (name, v) in props {
        if let Some(req) = v.to_request() {
            m.insert(name.clone(), req);
        }
    }
    Value::Object(m)
}

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
    fn from_response(v: &Value) -> Self {
        let id = |k: &str| s(v, k).unwrap_or_default();
        match v.get("type").and_then(Value::as_str) {
            Some("data_source_id") => Parent::DataSource {
                data_source_id: DataSourceId::new(id("data_source_id")),
                database_id: s(v, "database_id").map(DatabaseId::new),
            },
            Some("database_id") => Parent::Database(DatabaseId::new(id("database_id"))),
            Some("page_id") => Parent::Page(PageId::new(id("page_id"))),
            Some("block_id") => Parent::Block(BlockId::new(id("block_id"))),
            _ => Parent::Workspace,
        }
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

    pub(crate) fn from_response(v: &Value) -> Self {
        let mut properties = BTreeMap::new();
        if let Some(Value::Object(m)) = v.get("properties") {
            for (name, p) in m {
                properties.insert(
                    name.clone(),
                    Property {
                        id: s(p, "id").unwrap_or_default(),
                        value: PropertyValue::from_response(p),
                    },
                );
            }
        }
        Page {
            id: PageId::new(s(v, "id").unwrap_or_default()),
            parent: v
                .get("parent")
                .map(Parent::from_response)
                .unwrap_or(Parent::Workspace),
            created_time: time(v, "created_time").unwrap_or_default(),
            last_edited_time: time(v, "last_edited_time").unwrap_or_default(),
            created_by: UserRef::from_response(v.get("created_by").unwrap_or(&Value::Null)),
            last_edited_by: UserRef::from_response(v.get("last_edited_by").unwrap_or(&Value::Null)),
            in_trash: v
                .get("in_trash")
                .or(v.get("archived"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            url: s(v, "url"),
            properties,
        }
    }
}

/// A data source listed by its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceRef {
    /// Data source id.
    pub id: DataSourceId,
    /// Its name.
    pub name: String,
}

/// A database (2025-09-03: a container of data sources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// Database id.
    pub id: DatabaseId,
    /// Plain title.
    pub title: String,
    /// Where it lives.
    pub parent: Parent,
    /// Its data sources (pick one and cache its id).
    pub data_sources: Vec<DataSourceRef>,
    /// `https://www.notion.so/…`.
    pub url: Option<String>,
}

impl Database {
    pub(crate) fn from_response(v: &Value) -> Self {
        Database {
            id: DatabaseId::new(s(v, "id").unwrap_or_default()),
            title: plain(&rich_list(v.get("title").unwrap_or(&Value::Null))),
            parent: v
                .get("parent")
                .map(Parent::from_response)
                .unwrap_or(Parent::Workspace),
            data_sources: v
                .get("data_sources")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|d| DataSourceRef {
                            id: DataSourceId::new(s(d, "id").unwrap_or_default()),
                            name: s(d, "name").unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            url: s(v, "url"),
        }
    }
}

/// Relation settings of a schema entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationSchema {
    /// The related data source.
    pub data_source_id: DataSourceId,
    /// Its database.
    pub database_id: Option<DatabaseId>,
    /// Two-way (`dual_property`) relation.
    pub dual: bool,
    /// Name of the synced property on the other side, for two-way relations.
    pub synced_property_name: Option<String>,
}

/// One property of a data source schema.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertySchema {
    /// Stable property id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type name (`rich_text`, `select`, `status`, …).
    pub kind: String,
    /// Options of select / multi_select / status.
    pub options: Vec<SelectOption>,
    /// Relation settings.
    pub relation: Option<RelationSchema>,
}

/// A data source: the schema and the pages.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// Data source id.
    pub id: DataSourceId,
    /// Its database.
    pub database_id: Option<DatabaseId>,
    /// Plain title.
    pub title: String,
    /// Schema by property name.
    pub properties: BTreeMap<String, PropertySchema>,
}

impl DataSource {
    pub(crate) fn from_response(v: &Value) -> Self {
        let mut properties = BTreeMap::new();
        if let Some(Value::Object(m)) = v.get("properties") {
            for (name, p) in m {
                let kind = s(p, "type").unwrap_or_default();
                let cfg = p.get(&kind).cloned().unwrap_or(Value::Null);
                let options = cfg
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(SelectOption::from_response).collect())
                    .unwrap_or_default();
                let relation = (kind == "relation").then(|| RelationSchema {
                    data_source_id: DataSourceId::new(
                        s(&cfg, "data_source_id").unwrap_or_default(),
                    ),
                    database_id: s(&cfg, "database_id").map(DatabaseId::new),
                    dual: cfg.get("type").and_then(Value::as_str) == Some("dual_property"),
                    synced_property_name: cfg
                        .pointer("/dual_property/synced_property_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
                properties.insert(
                    name.clone(),
                    PropertySchema {
                        id: s(p, "id").unwrap_or_default(),
                        name: name.clone(),
                        kind,
                        options,
                        relation,
                    },
                );
            }
        }
        DataSource {
            id: DataSourceId::new(s(v, "id").unwrap_or_default()),
            database_id: v
                .pointer("/parent/database_id")
                .and_then(Value::as_str)
                .map(DatabaseId::new),
            title: plain(&rich_list(v.get("title").unwrap_or(&Value::Null))),
            properties,
        }
    }
}

/// A property type to create or change in a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyConfig {
    /// The title (one per data source).
    Title,
    /// Rich text.
    RichText,
    /// Number with a Notion format name (`number`, `dollar`, …).
    Number(String),
    /// Select with these options (name, color).
    Select(Vec<(String, String)>),
    /// Multi-select with these options (name, color).
    MultiSelect(Vec<(String, String)>),
    /// Status with these options (Notion's defaults when empty).
    Status(Vec<(String, String)>),
    /// Date.
    Date,
    /// URL.
    Url,
    /// Checkbox.
    Checkbox,
    /// Files & media.
    Files,
    /// People.
    People,
    /// Relation to a data source; `dual` makes it two-way.
    Relation {
        /// Target data source.
        data_source_id: DataSourceId,
        /// Two-way: Notion adds the synced property on the target.
        dual: bool,
    },
    /// Created time (read only values).
    CreatedTime,
    /// Last edited time (read only values).
    LastEditedTime,
    /// Last edited by (read only values).
    LastEditedBy,
}

impl PropertyConfig {
    /// The schema request object (`{"select":{"options":[…]}}`, …).
    pub fn to_json(&self) -> Value {
        let opts = |o: &[(String, String)]| json!({"options": o.iter().map(|(n, c)| json!({"name": n, "color": c})).collect::<Vec<_>>()});
        match self {
            Self::Title => json!({"title": {}}),
            Self::RichText => json!({"rich_text": {}}),
            Self::Number(f) => json!({"number": {"format": f}}),
            Self::Select(o) => json!({"select": opts(o)}),
            Self::MultiSelect(o) => json!({"multi_select": opts(o)}),
            Self::Status(o) if o.is_empty() => json!({"status": {}}),
            Self::Status(o) => json!({"status": opts(o)}),
            Self::Date => json!({"date": {}}),
            Self::Url => json!({"url": {}}),
            Self::Checkbox => json!({"checkbox": {}}),
            Self::Files => json!({"files": {}}),
            Self::People => json!({"people": {}}),
            Self::Relation {
                data_source_id,
                dual,
            } => {
                if *dual {
                    json!({"relation": {"data_source_id": data_source_id, "type": "dual_property", "dual_property": {}}})
                } else {
                    json!({"relation": {"data_source_id": data_source_id, "type": "single_property", "single_property": {}}})
                }
            }
            Self::CreatedTime => json!({"created_time": {}}),
            Self::LastEditedTime => json!({"last_edited_time": {}}),
            Self::LastEditedBy => json!({"last_edited_by": {}}),
        }
    }
}

/// One schema change of a data source update.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaChange {
    /// Add the property (or change the type of an existing one).
    Set(PropertyConfig),
    /// Rename the property.
    Rename(String),
    /// Remove the property.
    Remove,
}

/// `PATCH /v1/data_sources/{id}`: title and schema changes by property name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataSourceUpdate {
    /// New title.
    pub title: Option<String>,
    /// Changes by property name.
    pub properties: Vec<(String, SchemaChange)>,
}

impl DataSourceUpdate {
    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({});
        if let Some(t) = &self.title {
            body["title"] = rich_json(t);
        }
        if !self.properties.is_empty() {
            let mut m = Map::new();
            for (name, change) in &self.properties {
                m.insert(
                    name.clone(),
                    match change {
                        SchemaChange::Set(c) => c.to_json(),
                        SchemaChange::Rename(n) => json!({"name": n}),
                        SchemaChange::Remove => Value::Null,
                    },
                );
            }
            body["properties"] = Value::Object(m);
        }
        body
    }
}

pub(crate) fn rich_json(text: &str) -> Value {
    Value::Array(
        RichText::split(text)
            .iter()
            .map(RichText::to_request)
            .collect(),
    )
}

/// `POST /v1/databases`: a database with its initial data source under a page.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDatabase {
    /// The page it goes under (must be shared with the integration).
    pub parent_page: PageId,
    /// Title.
    pub title: String,
    /// Schema of the initial data source (exactly one `Title`).
    pub properties: Vec<(String, PropertyConfig)>,
    /// Inline in the parent page.
    pub is_inline: bool,
}

impl NewDatabase {
    pub(crate) fn to_json(&self) -> Value {
        let mut props = Map::new();
        for (name, c) in &self.properties {
            props.insert(name.clone(), c.to_json());
        }
        json!({"parent": {"type": "page_id", "page_id": self.parent_page},
            "title": rich_json(&self.title), "is_inline": self.is_inline,
            "initial_data_source": {"properties": props}})
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
    pub(crate) fn from_response(v: &Value) -> Self {
        let kind = s(v, "type").unwrap_or_default();
        let image = (kind == "image").then(|| FileValue::from_response(&v["image"]).source);
        Block {
            id: BlockId::new(s(v, "id").unwrap_or_default()),
            kind,
            image,
            raw: v.clone(),
        }
    }
}

/// The integration's bot user (`GET /v1/users/me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUser {
    /// Bot user id: pages whose `last_edited_by` is this were our own edits.
    pub id: UserId,
    /// Bot name.
    pub name: Option<String>,
    /// Workspace name.
    pub workspace_name: Option<String>,
    /// Per-file upload cap of the workspace, in bytes (5 MiB on free workspaces).
    pub max_file_upload_size: Option<u64>,
}

impl BotUser {
    pub(crate) fn from_response(v: &Value) -> Self {
        BotUser {
            id: UserId::new(s(v, "id").unwrap_or_default()),
            name: s(v, "name"),
            workspace_name: v
                .pointer("/bot/workspace_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            max_file_upload_size: v
                .pointer("/bot/workspace_limits/max_file_upload_size_in_bytes")
                .and_then(Value::as_u64),
        }
    }
}

/// What kind of user a [`User`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKind {
    /// A person. `email` is there only when the integration has the capability "Read user
    /// information including email addresses".
    Person {
        /// The person's email, where the integration may read it.
        email: Option<String>,
    },
    /// A bot (an integration).
    Bot {
        /// The bot's workspace, where given.
        workspace_name: Option<String>,
    },
    /// A type this client does not know, or a partial user (`{object, id}` only).
    Other(String),
}

/// A user (`GET /v1/users/{id}`): a person or a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: UserId,
    /// Display name, where given.
    pub name: Option<String>,
    /// Avatar URL, where given.
    pub avatar_url: Option<String>,
    /// Person or bot.
    pub kind: UserKind,
}

impl User {
    /// The person's email, when Notion gave it.
    pub fn email(&self) -> Option<&str> {
        match &self.kind {
            UserKind::Person { email } => email.as_deref(),
            _ => None,
        }
    }

    /// Reads a user object.
    pub fn from_response(v: &Value) -> Self {
        let kind = match s(v, "type").as_deref() {
            Some("person") => UserKind::Person {
                email: v
                    .pointer("/person/email")
                    .and_then(Value::as_str)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned),
            },
            Some("bot") => UserKind::Bot {
                workspace_name: v
                    .pointer("/bot/workspace_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
            other => UserKind::Other(other.unwrap_or_default().to_owned()),
        };
        User {
            id: UserId::new(s(v, "id").unwrap_or_default()),
            name: s(v, "name"),
            avatar_url: s(v, "avatar_url"),
            kind,
        }
    }
}

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
    /// Upload id (attach it with [`FileSource::Upload`]).
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
    pub(crate) fn from_response(v: &Value) -> Self {
        let status = match v.get("status").and_then(Value::as_str).unwrap_or_default() {
            "pending" => FileUploadStatus::Pending,
            "uploaded" => FileUploadStatus::Uploaded,
            "expired" => FileUploadStatus::Expired,
            "failed" => FileUploadStatus::Failed,
            other => FileUploadStatus::Other(other.to_owned()),
        };
        FileUpload {
            id: FileUploadId::new(s(v, "id").unwrap_or_default()),
            status,
            filename: s(v, "filename"),
            content_type: s(v, "content_type"),
            content_length: v.get("content_length").and_then(Value::as_u64),
            expiry_time: time(v, "expiry_time"),
            number_of_parts: v.get("number_of_parts").and_then(|n| {
                Some((
                    n.get("total")?.as_u64()? as u32,
                    n.get("sent")?.as_u64()? as u32,
                ))
            }),
        }
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
