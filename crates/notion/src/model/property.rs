//! Page property values: rich text, options, dates, files and the typed [`PropertyValue`].

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::decode::{
    at, items, opt_str, opt_time, parse_time, req, req_bool, req_items, req_str, wrong,
};
use super::{FileUploadId, PageId, UserRef};
use crate::error::Result;

/// Notion's limit on one rich text object's `text.content`, in UTF-16 code units (JS length).
pub const RICH_TEXT_LIMIT: usize = 2000;

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

    pub(crate) fn to_request(&self) -> Value {
        let link = self.link.as_ref().map(|u| json!({"url": u}));
        json!({"type":"text","text":{"content": self.content, "link": link}})
    }

    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let content = match opt_str(v, "plain_text") {
            Some(t) => t,
            None => match v.pointer("/text/content").and_then(Value::as_str) {
                Some(t) => t.to_owned(),
                None => req_str(v, path, "plain_text")?,
            },
        };
        Ok(RichText {
            content,
            link: opt_str(v, "href"),
        })
    }
}

/// A rich text array (`title`, `rich_text`, a database title).
pub(crate) fn rich_list(v: &Value, path: &str) -> Result<Vec<RichText>> {
    let list = v
        .as_array()
        .ok_or_else(|| wrong(path.into(), "an array", v))?;
    items(list, path, RichText::decode)
}

pub(crate) fn plain(list: &[RichText]) -> String {
    list.iter().map(|t| t.content.as_str()).collect()
}

pub(crate) fn rich_json(text: &str) -> Value {
    Value::Array(
        RichText::split(text)
            .iter()
            .map(RichText::to_request)
            .collect(),
    )
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

    pub(crate) fn to_request(&self) -> Value {
        match &self.id {
            Some(id) if self.name.is_empty() => json!({"id": id}),
            _ => json!({"name": self.name}),
        }
    }

    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        Ok(Self {
            id: opt_str(v, "id"),
            name: req_str(v, path, "name")?,
            color: opt_str(v, "color"),
        })
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

    fn decode(v: &Value, path: &str) -> Result<Self> {
        Ok(DateValue {
            start: req_str(v, path, "start")?,
            end: opt_str(v, "end"),
            time_zone: opt_str(v, "time_zone"),
        })
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

impl FileSource {
    /// Reads `{"type": "file" | "file_upload" | "external", <type>: …}` (a files entry or an
    /// image block).
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let kind = req_str(v, path, "type")?;
        Ok(match kind.as_str() {
            "file" => {
                let file = req(v, path, "file")?;
                let fp = at(path, "file");
                FileSource::Hosted {
                    url: req_str(file, &fp, "url")?,
                    expiry_time: opt_time(file, &fp, "expiry_time")?,
                }
            }
            "file_upload" => FileSource::Upload {
                id: FileUploadId::new(req_str(
                    req(v, path, "file_upload")?,
                    &at(path, "file_upload"),
                    "id",
                )?),
            },
            _ => FileSource::External {
                url: req_str(req(v, path, "external")?, &at(path, "external"), "url")?,
            },
        })
    }
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

    fn decode(v: &Value, path: &str) -> Result<Self> {
        Ok(Self {
            name: req_str(v, path, "name")?,
            source: FileSource::decode(v, path)?,
        })
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

    /// Reads a response property (`{"id","type",<type>:…}`); a field Notion always sends that
    /// is missing is a [`NotionError::Decode`](crate::NotionError::Decode).
    pub fn from_response(v: &Value) -> Result<Self> {
        Self::decode(v, "property")
    }

    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let kind = req_str(v, path, "type")?;
        let ip = at(path, &kind);
        let null = Value::Null;
        let inner = v.get(&kind).unwrap_or(&null);
        let option = |inner: &Value| -> Result<Option<SelectOption>> {
            if inner.is_null() {
                Ok(None)
            } else {
                SelectOption::decode(inner, &ip).map(Some)
            }
        };
        Ok(match kind.as_str() {
            "title" => Self::Title(rich_list(req(v, path, &kind)?, &ip)?),
            "rich_text" => Self::RichText(rich_list(req(v, path, &kind)?, &ip)?),
            "select" => Self::Select(option(inner)?),
            "status" => Self::Status(option(inner)?),
            "multi_select" => Self::MultiSelect(req_items(v, path, &kind, SelectOption::decode)?),
            "date" => Self::Date(if inner.is_null() {
                None
            } else {
                Some(DateValue::decode(inner, &ip)?)
            }),
            "number" => Self::Number(match inner {
                Value::Null => None,
                n => Some(n.as_f64().ok_or_else(|| wrong(ip.clone(), "a number", n))?),
            }),
            "url" => Self::Url(match inner {
                Value::Null => None,
                u => Some(
                    u.as_str()
                        .ok_or_else(|| wrong(ip.clone(), "a string", u))?
                        .to_owned(),
                ),
            }),
            "checkbox" => Self::Checkbox(req_bool(v, path, &kind)?),
            "relation" => Self::Relation {
                ids: req_items(v, path, &kind, |x, p| req_str(x, p, "id").map(PageId::new))?,
                has_more: v.get("has_more").and_then(Value::as_bool).unwrap_or(false),
            },
            "files" => Self::Files(req_items(v, path, &kind, FileValue::decode)?),
            "people" => Self::People(req_items(v, path, &kind, UserRef::decode)?),
            "created_time" => Self::CreatedTime(parse_time(req(v, path, &kind)?, ip)?),
            "last_edited_time" => Self::LastEditedTime(parse_time(req(v, path, &kind)?, ip)?),
            "created_by" => Self::CreatedBy(UserRef::decode(req(v, path, &kind)?, &ip)?),
            "last_edited_by" => Self::LastEditedBy(UserRef::decode(req(v, path, &kind)?, &ip)?),
            _ => Self::Other {
                value: inner.clone(),
                kind,
            },
        })
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
