//! Reading response JSON: a field Notion always sends that is missing or of another shape is a
//! [`NotionError::Decode`] naming the field (`page.last_edited_time`), never a default value
//! (an empty id or a 1970 timestamp would flow on into cursors and lookups).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{NotionError, Result};

/// `path.key` (or `key` at the root).
pub(crate) fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn shape(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn missing(field: String) -> NotionError {
    NotionError::Decode {
        field,
        problem: "is missing".into(),
    }
}

pub(crate) fn wrong(field: String, wanted: &str, got: &Value) -> NotionError {
    NotionError::Decode {
        field,
        problem: format!("is {} where {wanted} was expected", shape(got)),
    }
}

/// A field that must be there and not null.
pub(crate) fn req<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a Value> {
    match v.get(key) {
        None | Some(Value::Null) => Err(missing(at(path, key))),
        Some(x) => Ok(x),
    }
}

/// A string field that must be there.
pub(crate) fn req_str(v: &Value, path: &str, key: &str) -> Result<String> {
    let x = req(v, path, key)?;
    x.as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong(at(path, key), "a string", x))
}

/// An optional string field (absent or null: `None`).
pub(crate) fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// An array field that must be there.
pub(crate) fn req_array<'a>(v: &'a Value, path: &str, key: &str) -> Result<&'a Vec<Value>> {
    let x = req(v, path, key)?;
    x.as_array()
        .ok_or_else(|| wrong(at(path, key), "an array", x))
}

/// A boolean field that must be there.
pub(crate) fn req_bool(v: &Value, path: &str, key: &str) -> Result<bool> {
    let x = req(v, path, key)?;
    x.as_bool()
        .ok_or_else(|| wrong(at(path, key), "a boolean", x))
}

/// An RFC 3339 time.
pub(crate) fn parse_time(x: &Value, field: String) -> Result<DateTime<Utc>> {
    let t = x
        .as_str()
        .ok_or_else(|| wrong(field.clone(), "a time", x))?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| NotionError::Decode {
            field,
            problem: format!("\"{t}\" is not an RFC 3339 time ({e})"),
        })
}

/// A time field that must be there.
pub(crate) fn req_time(v: &Value, path: &str, key: &str) -> Result<DateTime<Utc>> {
    parse_time(req(v, path, key)?, at(path, key))
}

/// An optional time field (absent or null: `None`; present, it must be a time).
pub(crate) fn opt_time(v: &Value, path: &str, key: &str) -> Result<Option<DateTime<Utc>>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => parse_time(x, at(path, key)).map(Some),
    }
}

/// Every item of an array, each decoded at `path[i]`.
pub(crate) fn items<T>(
    list: &[Value],
    path: &str,
    f: impl Fn(&Value, &str) -> Result<T>,
) -> Result<Vec<T>> {
    list.iter()
        .enumerate()
        .map(|(i, x)| f(x, &format!("{path}[{i}]")))
        .collect()
}

/// An array field that must be there, each item decoded.
pub(crate) fn req_items<T>(
    v: &Value,
    path: &str,
    key: &str,
    f: impl Fn(&Value, &str) -> Result<T>,
) -> Result<Vec<T>> {
    items(req_array(v, path, key)?, &at(path, key), f)
}
