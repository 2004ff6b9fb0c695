//! Data source query: filters, sorts, page size.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::model::PageId;

/// A page timestamp usable in filters and sorts without a schema property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// `created_time`.
    CreatedTime,
    /// `last_edited_time` (rounded down to the minute by Notion: filter with a margin).
    LastEditedTime,
}

impl Timestamp {
    fn name(self) -> &'static str {
        match self {
            Self::CreatedTime => "created_time",
            Self::LastEditedTime => "last_edited_time",
        }
    }
}

/// A date condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateCondition {
    /// Strictly after.
    After(String),
    /// At or after.
    OnOrAfter(String),
    /// Strictly before.
    Before(String),
    /// At or before.
    OnOrBefore(String),
    /// Equal.
    Equals(String),
}

impl DateCondition {
    fn to_json(&self) -> Value {
        let (op, v) = match self {
            Self::After(v) => ("after", v),
            Self::OnOrAfter(v) => ("on_or_after", v),
            Self::Before(v) => ("before", v),
            Self::OnOrBefore(v) => ("on_or_before", v),
            Self::Equals(v) => ("equals", v),
        };
        json!({ op: v })
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A query filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// A property condition: `{"property": name, <type>: {<op>: value}}`.
    Property {
        /// Property name or id.
        property: String,
        /// The property's type key (`rich_text`, `status`, …).
        kind: String,
        /// Operator (`equals`, `contains`, `is_empty`, …).
        op: String,
        /// Operand (`true` for `is_empty` / `is_not_empty`).
        value: Value,
    },
    /// A timestamp condition.
    Timestamp(Timestamp, DateCondition),
    /// All must hold.
    And(Vec<Filter>),
    /// One must hold.
    Or(Vec<Filter>),
}

impl Filter {
    /// Any property condition.
    pub fn property(property: &str, kind: &str, op: &str, value: impl Into<Value>) -> Self {
        Self::Property {
            property: property.into(),
            kind: kind.into(),
            op: op.into(),
            value: value.into(),
        }
    }

    /// Rich text equals (exact plain text).
    pub fn rich_text_equals(property: &str, text: &str) -> Self {
        Self::property(property, "rich_text", "equals", text)
    }

    /// Rich text contains.
    pub fn rich_text_contains(property: &str, text: &str) -> Self {
        Self::property(property, "rich_text", "contains", text)
    }

    /// Title equals.
    pub fn title_equals(property: &str, text: &str) -> Self {
        Self::property(property, "title", "equals", text)
    }

    /// Select equals.
    pub fn select_equals(property: &str, name: &str) -> Self {
        Self::property(property, "select", "equals", name)
    }

    /// Status equals.
    pub fn status_equals(property: &str, name: &str) -> Self {
        Self::property(property, "status", "equals", name)
    }

    /// Number equals.
    pub fn number_equals(property: &str, n: f64) -> Self {
        Self::property(property, "number", "equals", n)
    }

    /// Checkbox equals.
    pub fn checkbox_equals(property: &str, b: bool) -> Self {
        Self::property(property, "checkbox", "equals", b)
    }

    /// Relation contains a page.
    pub fn relation_contains(property: &str, page: &PageId) -> Self {
        Self::property(property, "relation", "contains", page.as_str())
    }

    /// The property of this type is empty.
    pub fn is_empty(property: &str, kind: &str) -> Self {
        Self::property(property, kind, "is_empty", true)
    }

    /// Edited strictly after `t` (rounded to the minute by Notion).
    pub fn last_edited_after(t: DateTime<Utc>) -> Self {
        Self::Timestamp(Timestamp::LastEditedTime, DateCondition::After(iso(t)))
    }

    /// Edited at or after `t`.
    pub fn last_edited_on_or_after(t: DateTime<Utc>) -> Self {
        Self::Timestamp(Timestamp::LastEditedTime, DateCondition::OnOrAfter(iso(t)))
    }

    /// The filter object.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Property {
                property,
                kind,
                op,
                value,
            } => json!({"property": property, kind.as_str(): { op.as_str(): value }}),
            Self::Timestamp(ts, cond) => {
                json!({"timestamp": ts.name(), ts.name(): cond.to_json()})
            }
            Self::And(fs) => json!({"and": fs.iter().map(Filter::to_json).collect::<Vec<_>>()}),
            Self::Or(fs) => json!({"or": fs.iter().map(Filter::to_json).collect::<Vec<_>>()}),
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Ascending,
    /// Descending.
    Descending,
}

/// A sort key; earlier keys take precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sort {
    /// By a property.
    Property(String, Direction),
    /// By a timestamp.
    Timestamp(Timestamp, Direction),
}

impl Sort {
    fn to_json(&self) -> Value {
        let dir = |d: &Direction| match d {
            Direction::Ascending => "ascending",
            Direction::Descending => "descending",
        };
        match self {
            Self::Property(p, d) => json!({"property": p, "direction": dir(d)}),
            Self::Timestamp(t, d) => json!({"timestamp": t.name(), "direction": dir(d)}),
        }
    }
}

/// `POST /v1/data_sources/{id}/query` body without the cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Filter.
    pub filter: Option<Filter>,
    /// Sorts.
    pub sorts: Vec<Sort>,
    /// Page size (≤ 100; Notion's default 100).
    pub page_size: Option<u32>,
}

impl Query {
    /// The request body, with `start_cursor` only when continuing (never `null`).
    pub fn to_json(&self, start_cursor: Option<&str>) -> Value {
        let mut body = json!({});
        if let Some(f) = &self.filter {
            body["filter"] = f.to_json();
        }
        if !self.sorts.is_empty() {
            body["sorts"] = Value::Array(self.sorts.iter().map(Sort::to_json).collect());
        }
        if let Some(n) = self.page_size {
            body["page_size"] = json!(n);
        }
        if let Some(c) = start_cursor {
            body["start_cursor"] = json!(c);
        }
        body
    }
}
