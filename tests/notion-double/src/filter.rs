//! Data source query filters and sorts, evaluated over stored page values.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::props::instead;
use crate::state::{DataSourceRec, PageRec, State, floor_minute, plain_text};

/// A point in time from an ISO date (`2025-05-01`, midnight UTC) or datetime (with or without offset).
pub(crate) fn parse_when(s: &str) -> Option<(DateTime<Utc>, bool)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some((t.with_timezone(&Utc), false));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some((t.and_utc(), false));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some((t.and_utc(), false));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| (d.and_hms_opt(0, 0, 0).expect("midnight").and_utc(), true))
}

/// What a filter compares.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    Prop { id: String, kind: String },
    CreatedTime,
    LastEditedTime,
}

#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Leaf {
        subject: Subject,
        op: String,
        operand: Value,
    },
}

const TEXT_OPS: &[&str] = &[
    "equals",
    "does_not_equal",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
];
const NUMBER_OPS: &[&str] = &[
    "equals",
    "does_not_equal",
    "greater_than",
    "less_than",
    "greater_than_or_equal_to",
    "less_than_or_equal_to",
    "is_empty",
    "is_not_empty",
];
const SELECT_OPS: &[&str] = &["equals", "does_not_equal", "is_empty", "is_not_empty"];
const LIST_OPS: &[&str] = &["contains", "does_not_contain", "is_empty", "is_not_empty"];
const CHECKBOX_OPS: &[&str] = &["equals", "does_not_equal"];
const DATE_OPS: &[&str] = &[
    "equals",
    "before",
    "after",
    "on_or_before",
    "on_or_after",
    "is_empty",
    "is_not_empty",
];

fn ops_for(kind: &str) -> &'static [&'static str] {
    match kind {
        "title" | "rich_text" | "url" | "email" | "phone_number" => TEXT_OPS,
        "number" => NUMBER_OPS,
        "select" | "status" => SELECT_OPS,
        "multi_select" | "relation" | "people" | "files" => LIST_OPS,
        "checkbox" => CHECKBOX_OPS,
        "date" | "created_time" | "last_edited_time" => DATE_OPS,
        _ => &[],
    }
}

/// Check a filter against the schema once, before any page is looked at.
pub(crate) fn compile(
    f: &Value,
    ds: &DataSourceRec,
    path: &str,
    depth: usize,
) -> ApiResult<Compiled> {
    let obj = f
        .as_object()
        .ok_or_else(|| ApiError::body_path(path, "an object", &instead(Some(f))))?;
    for (key, ctor) in [("and", Compiled::And as fn(_) -> _), ("or", Compiled::Or)] {
        if let Some(list) = obj.get(key) {
            if depth >= 2 {
                return Err(ApiError::validation(format!(
                    "body failed validation: {path}.{key} is nested too deeply (compound filters nest at most two levels)."
                )));
            }
            let arr = list.as_array().ok_or_else(|| {
                ApiError::body_path(&format!("{path}.{key}"), "an array", &instead(Some(list)))
            })?;
            let mut out = Vec::new();
            for (i, x) in arr.iter().enumerate() {
                out.push(compile(x, ds, &format!("{path}.{key}[{i}]"), depth + 1)?);
            }
            return Ok(ctor(out));
        }
    }
    let (subject, kind_key) = if let Some(ts) = obj.get("timestamp") {
        match ts.as_str() {
            Some("created_time") => (Subject::CreatedTime, "created_time"),
            Some("last_edited_time") => (Subject::LastEditedTime, "last_edited_time"),
            _ => {
                return Err(ApiError::body_path(
                    &format!("{path}.timestamp"),
                    "`created_time` or `last_edited_time`",
                    &instead(Some(ts)),
                ));
            }
        }
    } else if let Some(name) = obj.get("property").and_then(Value::as_str) {
        let p = ds.prop(name).ok_or_else(|| {
            ApiError::validation(format!("Could not find property with name or id: {name}"))
        })?;
        // The condition key is the property type; timestamp properties also accept `date`.
        let key = if obj.contains_key(&p.kind) {
            p.kind.as_str()
        } else if matches!(p.kind.as_str(), "created_time" | "last_edited_time")
            && obj.contains_key("date")
        {
            "date"
        } else {
            return Err(ApiError::validation(format!(
                "body failed validation: {path}.{} should be defined, instead was `undefined` (property {name} is of type {}).",
                p.kind, p.kind
            )));
        };
        let subject = match p.kind.as_str() {
            "created_time" => Subject::CreatedTime,
            "last_edited_time" => Subject::LastEditedTime,
            _ => Subject::Prop {
                id: p.id.clone(),
                kind: p.kind.clone(),
            },
        };
        (subject, key)
    } else {
        return Err(ApiError::body_path(
            &format!("{path}.property"),
            "defined",
            "`undefined`",
        ));
    };
    let cond = obj
        .get(kind_key)
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::body_path(
                &format!("{path}.{kind_key}"),
                "an object",
                &instead(obj.get(kind_key)),
            )
        })?;
    let (op, operand) = cond.iter().next().ok_or_else(|| {
        ApiError::validation(format!(
            "body failed validation: {path}.{kind_key} should have a condition."
        ))
    })?;
    let kind = match &subject {
        Subject::Prop { kind, .. } => kind.as_str(),
        Subject::CreatedTime => "created_time",
        Subject::LastEditedTime => "last_edited_time",
    };
    if !ops_for(kind).contains(&op.as_str()) {
        return Err(ApiError::validation(format!(
            "body failed validation: {path}.{kind_key}.{op} is not a supported condition for {kind} (supported: {}).",
            ops_for(kind).join(", ")
        )));
    }
    let op_path = format!("{path}.{kind_key}.{op}");
    let ok = match op.as_str() {
        "is_empty" | "is_not_empty" => operand == &Value::Bool(true),
        _ if kind == "checkbox" => operand.is_boolean(),
        _ if kind == "number" => operand.is_number(),
        _ if DATE_OPS.contains(&op.as_str()) && ops_for(kind) == DATE_OPS => operand
            .as_str()
            .is_some_and(|s| parse_when(s).is_some() || relative(s).is_some()),
        _ => operand.is_string(),
    };
    if !ok {
        return Err(ApiError::body_path(
            &op_path,
            "a valid operand",
            &instead(Some(operand)),
        ));
    }
    Ok(Compiled::Leaf {
        subject,
        op: op.clone(),
        operand: operand.clone(),
    })
}

fn relative(s: &str) -> Option<TimeDelta> {
    Some(match s {
        "today" => TimeDelta::zero(),
        "tomorrow" => TimeDelta::days(1),
        "yesterday" => TimeDelta::days(-1),
        "one_week_ago" => TimeDelta::weeks(-1),
        "one_week_from_now" => TimeDelta::weeks(1),
        "one_month_ago" => TimeDelta::days(-30),
        "one_month_from_now" => TimeDelta::days(30),
        _ => return None,
    })
}

fn operand_time(st: &State, s: &str) -> (DateTime<Utc>, bool) {
    if let Some(d) = relative(s) {
        let day = (st.now() + d).date_naive();
        return (day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(), true);
    }
    parse_when(s).unwrap_or((DateTime::<Utc>::MIN_UTC, false))
}

/// The comparable value of a page for a subject.
fn page_time(page: &PageRec, subject: &Subject) -> Option<DateTime<Utc>> {
    match subject {
        Subject::CreatedTime => Some(page.created_time),
        // Notion stores last_edited_time rounded down to the minute; filters see that value.
        Subject::LastEditedTime => Some(floor_minute(page.last_edited_time)),
        Subject::Prop { id, .. } => page
            .props
            .get(id)
            .and_then(|d| d.get("start"))
            .and_then(Value::as_str)
            .and_then(parse_when)
            .map(|x| x.0),
    }
}

pub(crate) fn eval(st: &State, c: &Compiled, page: &PageRec) -> bool {
    match c {
        Compiled::And(xs) => xs.iter().all(|x| eval(st, x, page)),
        Compiled::Or(xs) => xs.iter().any(|x| eval(st, x, page)),
        Compiled::Leaf {
            subject,
            op,
            operand,
        } => eval_leaf(st, subject, op, operand, page),
    }
}

fn eval_leaf(st: &State, subject: &Subject, op: &str, operand: &Value, page: &PageRec) -> bool {
    let kind = match subject {
        Subject::Prop { kind, .. } => kind.as_str(),
        _ => "date",
    };
    if matches!(kind, "date") || !matches!(subject, Subject::Prop { .. }) {
        let t = page_time(page, subject);
        return match op {
            "is_empty" => t.is_none(),
            "is_not_empty" => t.is_some(),
            _ => {
                let Some(t) = t else { return false };
                let (o, date_only) = operand_time(st, operand.as_str().unwrap_or_default());
                if date_only {
                    // A date without time compares whole days.
                    let (d, od) = (t.date_naive(), o.date_naive());
                    match op {
                        "equals" => d == od,
                        "before" => d < od,
                        "after" => d > od,
                        "on_or_before" => d <= od,
                        "on_or_after" => d >= od,
                        _ => false,
                    }
                } else {
                    match op {
                        "equals" => t == o,
                        "before" => t < o,
                        "after" => t > o,
                        "on_or_before" => t <= o,
                        "on_or_after" => t >= o,
                        _ => false,
                    }
                }
            }
        };
    }
    let Subject::Prop { id, .. } = subject else {
        return false;
    };
    let stored = page.props.get(id).cloned().unwrap_or(Value::Null);
    match kind {
        "title" | "rich_text" | "url" | "email" | "phone_number" => {
            let text = if matches!(kind, "title" | "rich_text") {
                plain_text(&stored)
            } else {
                stored.as_str().unwrap_or_default().to_owned()
            };
            let o = operand.as_str().unwrap_or_default();
            match op {
                "equals" => text == o,
                "does_not_equal" => text != o,
                "contains" => text.contains(o),
                "does_not_contain" => !text.contains(o),
                "starts_with" => text.starts_with(o),
                "ends_with" => text.ends_with(o),
                "is_empty" => text.is_empty(),
                "is_not_empty" => !text.is_empty(),
                _ => false,
            }
        }
        "number" => {
            let n = stored.as_f64();
            let o = operand.as_f64().unwrap_or_default();
            match (op, n) {
                ("is_empty", n) => n.is_none(),
                ("is_not_empty", n) => n.is_some(),
                ("does_not_equal", None) => true,
                (_, None) => false,
                ("equals", Some(n)) => n == o,
                ("does_not_equal", Some(n)) => n != o,
                ("greater_than", Some(n)) => n > o,
                ("less_than", Some(n)) => n < o,
                ("greater_than_or_equal_to", Some(n)) => n >= o,
                ("less_than_or_equal_to", Some(n)) => n <= o,
                _ => false,
            }
        }
        "checkbox" => {
            let b = stored.as_bool().unwrap_or(false);
            let o = operand.as_bool().unwrap_or(false);
            if op == "equals" { b == o } else { b != o }
        }
        "select" | "status" => {
            let name = stored.get("name").and_then(Value::as_str);
            match op {
                "equals" => name == operand.as_str(),
                "does_not_equal" => name != operand.as_str(),
                "is_empty" => name.is_none(),
                "is_not_empty" => name.is_some(),
                _ => false,
            }
        }
        _ => {
            // Lists: multi_select (by name), relation and people (by id), files.
            let items: Vec<String> = stored
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            x.as_str()
                                .or_else(|| x.get("name").and_then(Value::as_str))
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let o = operand.as_str().unwrap_or_default();
            // Relation/people operands may come without dashes.
            let o = uuid::Uuid::parse_str(o)
                .ok()
                .filter(|_| kind != "multi_select")
                .map(|u| u.to_string())
                .unwrap_or_else(|| o.to_owned());
            match op {
                "contains" => items.contains(&o),
                "does_not_contain" => !items.contains(&o),
                "is_empty" => items.is_empty(),
                "is_not_empty" => !items.is_empty(),
                _ => false,
            }
        }
    }
}

/// A validated sort key.
#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    subject: Subject,
    descending: bool,
}

pub(crate) fn compile_sorts(v: &Value, ds: &DataSourceRec) -> ApiResult<Vec<SortKey>> {
    let arr = v
        .as_array()
        .ok_or_else(|| ApiError::body_path("body.sorts", "an array", &instead(Some(v))))?;
    let mut out = Vec::new();
    for (i, s) in arr.iter().enumerate() {
        let path = format!("body.sorts[{i}]");
        let descending = match s.get("direction").and_then(Value::as_str) {
            Some("ascending") => false,
            Some("descending") => true,
            _ => {
                return Err(ApiError::body_path(
                    &format!("{path}.direction"),
                    "`ascending` or `descending`",
                    &instead(s.get("direction")),
                ));
            }
        };
        let subject = if let Some(ts) = s.get("timestamp") {
            match ts.as_str() {
                Some("created_time") => Subject::CreatedTime,
                Some("last_edited_time") => Subject::LastEditedTime,
                _ => {
                    return Err(ApiError::body_path(
                        &format!("{path}.timestamp"),
                        "`created_time` or `last_edited_time`",
                        &instead(Some(ts)),
                    ));
                }
            }
        } else if let Some(name) = s.get("property").and_then(Value::as_str) {
            let p = ds.prop(name).ok_or_else(|| {
                ApiError::validation(format!(
                    "Could not find sort property with name or id: {name}"
                ))
            })?;
            match p.kind.as_str() {
                "created_time" => Subject::CreatedTime,
                "last_edited_time" => Subject::LastEditedTime,
                _ => Subject::Prop {
                    id: p.id.clone(),
                    kind: p.kind.clone(),
                },
            }
        } else {
            return Err(ApiError::body_path(
                &format!("{path}.property"),
                "defined",
                "`undefined`",
            ));
        };
        out.push(SortKey {
            subject,
            descending,
        });
    }
    Ok(out)
}

#[derive(PartialEq, PartialOrd)]
enum Key {
    Time(DateTime<Utc>),
    Num(f64),
    Text(String),
}

fn sort_key(page: &PageRec, s: &Subject) -> Option<Key> {
    match s {
        Subject::CreatedTime | Subject::LastEditedTime => page_time(page, s).map(Key::Time),
        Subject::Prop { id, kind } => {
            let v = page.props.get(id)?;
            match kind.as_str() {
                "number" => v.as_f64().map(Key::Num),
                "checkbox" => Some(Key::Num(if v.as_bool()? { 1.0 } else { 0.0 })),
                "date" => page_time(page, s).map(Key::Time),
                "title" | "rich_text" => {
                    Some(Key::Text(plain_text(v))).filter(|k| *k != Key::Text(String::new()))
                }
                "select" | "status" => v
                    .get("name")
                    .and_then(Value::as_str)
                    .map(|s| Key::Text(s.into())),
                _ => v.as_str().map(|s| Key::Text(s.into())),
            }
        }
    }
}

/// Order pages by the sort keys (empty values last), then by creation order.
pub(crate) fn sort_pages(pages: &mut [&PageRec], sorts: &[SortKey]) {
    pages.sort_by(|a, b| {
        for s in sorts {
            let (ka, kb) = (sort_key(a, &s.subject), sort_key(b, &s.subject));
            let ord = match (ka, kb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                    if s.descending { o.reverse() } else { o }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.seq.cmp(&b.seq)
    });
}
