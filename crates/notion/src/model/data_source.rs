//! Databases and data sources: what Notion returns ([`Database`], [`DataSource`] and its
//! schema) and what is sent ([`NewDatabase`], [`DataSourceUpdate`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::decode::{at, opt_str, req, req_items, req_str, wrong};
use super::property::{plain, rich_json, rich_list};
use super::{DataSourceId, DatabaseId, PageId, Parent, SelectOption};
use crate::error::Result;

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
    pub(crate) fn from_response(v: &Value) -> Result<Self> {
        let path = "database";
        Ok(Database {
            id: DatabaseId::new(req_str(v, path, "id")?),
            title: plain(&rich_list(req(v, path, "title")?, &at(path, "title"))?),
            parent: Parent::decode(req(v, path, "parent")?, &at(path, "parent"))?,
            data_sources: req_items(v, path, "data_sources", |d, p| {
                Ok(DataSourceRef {
                    id: DataSourceId::new(req_str(d, p, "id")?),
                    name: req_str(d, p, "name")?,
                })
            })?,
            url: opt_str(v, "url"),
        })
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

impl PropertySchema {
    fn decode(name: &str, p: &Value, path: &str) -> Result<Self> {
        let kind = req_str(p, path, "type")?;
        let null = Value::Null;
        let cfg = p.get(&kind).unwrap_or(&null);
        let cp = at(path, &kind);
        let options = match cfg.get("options") {
            None | Some(Value::Null) => Vec::new(),
            Some(_) => req_items(cfg, &cp, "options", SelectOption::decode)?,
        };
        let relation = if kind == "relation" {
            Some(RelationSchema {
                data_source_id: DataSourceId::new(req_str(cfg, &cp, "data_source_id")?),
                database_id: opt_str(cfg, "database_id").map(DatabaseId::new),
                dual: cfg.get("type").and_then(Value::as_str) == Some("dual_property"),
                synced_property_name: cfg
                    .pointer("/dual_property/synced_property_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        } else {
            None
        };
        Ok(PropertySchema {
            id: req_str(p, path, "id")?,
            name: name.to_owned(),
            kind,
            options,
            relation,
        })
    }
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
    pub(crate) fn from_response(v: &Value) -> Result<Self> {
        let path = "data_source";
        let props_path = at(path, "properties");
        let props = req(v, path, "properties")?;
        let Value::Object(m) = props else {
            return Err(wrong(props_path, "an object", props));
        };
        let mut properties = BTreeMap::new();
        for (name, p) in m {
            properties.insert(
                name.clone(),
                PropertySchema::decode(name, p, &at(&props_path, name))?,
            );
        }
        Ok(DataSource {
            id: DataSourceId::new(req_str(v, path, "id")?),
            database_id: v
                .pointer("/parent/database_id")
                .and_then(Value::as_str)
                .map(DatabaseId::new),
            title: plain(&rich_list(req(v, path, "title")?, &at(path, "title"))?),
            properties,
        })
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
