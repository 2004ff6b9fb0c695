//! Property schemas and page property values: validation of requests (with Notion's error
//! messages), storage, and rendering in responses.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::{DataSourceRec, PropSchema, State, iso, plain_text};

/// Relation, people and other reference lists are cut at 25 entries in page objects.
pub(crate) const REFERENCE_LIMIT: usize = 25;
/// Arrays in requests (rich text, relation, people, multi_select, children) hold ≤ 100 items.
pub(crate) const ARRAY_LIMIT: usize = 100;
/// `text.content`, `text.link.url` and URLs hold ≤ 2000 characters.
pub(crate) const TEXT_LIMIT: usize = 2000;

/// Notion renders the rejected value in backticks, `undefined` when it was missing.
pub(crate) fn instead(v: Option<&Value>) -> String {
    match v {
        None => "`undefined`".into(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => format!("`{v}`"),
    }
}

/// Length as JavaScript counts it (UTF-16 code units): that is what Notion's limits measure.
pub(crate) fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn too_long(path: &str, limit: usize, was: usize) -> ApiError {
    ApiError::validation(format!(
        "body failed validation: {path}.length should be ≤ {limit}, instead was {was}."
    ))
}

/// Check an array length against a limit.
pub(crate) fn check_len(path: &str, arr: &[Value], limit: usize) -> ApiResult<()> {
    if arr.len() > limit {
        Err(too_long(path, limit, arr.len()))
    } else {
        Ok(())
    }
}

fn array<'a>(v: Option<&'a Value>, path: &str) -> ApiResult<&'a Vec<Value>> {
    v.and_then(Value::as_array)
        .ok_or_else(|| ApiError::body_path(path, "an array", &instead(v)))
}

fn default_annotations() -> Value {
    json!({"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false,"color":"default"})
}

/// Validate a rich text array and return it in response form (with `plain_text`, `href`).
pub(crate) fn rich_text(v: Option<&Value>, path: &str) -> ApiResult<Value> {
    let items = array(v, path)?;
    check_len(path, items, ARRAY_LIMIT)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let obj = item
            .as_object()
            .ok_or_else(|| ApiError::body_path(&p, "an object", &instead(Some(item))))?;
        let mut annotations = default_annotations();
        if let Some(Value::Object(a)) = obj.get("annotations") {
            for (k, v) in a {
                annotations[k] = v.clone();
            }
        }
        if let Some(text) = obj.get("text") {
            let content = text.get("content").and_then(Value::as_str).ok_or_else(|| {
                ApiError::body_path(
                    &format!("{p}.text.content"),
                    "defined",
                    &instead(text.get("content")),
                )
            })?;
            let len = js_len(content);
            if len > TEXT_LIMIT {
                return Err(too_long(&format!("{p}.text.content"), TEXT_LIMIT, len));
            }
            let link = match text.get("link") {
                None | Some(Value::Null) => Value::Null,
                Some(l) => {
                    let url = l.get("url").and_then(Value::as_str).ok_or_else(|| {
                        ApiError::body_path(
                            &format!("{p}.text.link.url"),
                            "defined",
                            &instead(l.get("url")),
                        )
                    })?;
                    if js_len(url) > TEXT_LIMIT {
                        return Err(too_long(
                            &format!("{p}.text.link.url"),
                            TEXT_LIMIT,
                            js_len(url),
                        ));
                    }
                    json!({"url": url})
                }
            };
            let href = link.get("url").cloned().unwrap_or(Value::Null);
            out.push(json!({"type":"text","text":{"content":content,"link":link},
                "annotations":annotations,"plain_text":content,"href":href}));
        } else if let Some(eq) = obj.get("equation") {
            let expr = eq.get("expression").and_then(Value::as_str).unwrap_or("");
            if js_len(expr) > 1000 {
                return Err(too_long(
                    &format!("{p}.equation.expression"),
                    1000,
                    js_len(expr),
                ));
            }
            out.push(json!({"type":"equation","equation":{"expression":expr},
                "annotations":annotations,"plain_text":expr,"href":null}));
        } else if let Some(m) = obj.get("mention") {
            // Mentions are kept as sent; the double does not resolve their targets.
            out.push(
                json!({"type":"mention","mention":m,"annotations":annotations,
                "plain_text":"","href":null}),
            );
        } else {
            return Err(ApiError::body_path(
                &format!("{p}.text"),
                "defined",
                "`undefined`",
            ));
        }
    }
    Ok(Value::Array(out))
}

const COLORS: &[&str] = &[
    "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
];

fn parse_options(cfg: &Value, path: &str) -> ApiResult<Vec<Value>> {
    let Some(opts) = cfg.get("options") else {
        return Ok(Vec::new());
    };
    let opts = array(Some(opts), &format!("{path}.options"))?;
    let mut out = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
            ApiError::body_path(
                &format!("{path}.options[{i}].name"),
                "defined",
                &instead(o.get("name")),
            )
        })?;
        if name.contains(',') {
            return Err(ApiError::validation(format!(
                "body failed validation: {path}.options[{i}].name should not contain commas."
            )));
        }
        let color = o.get("color").and_then(Value::as_str).unwrap_or("default");
        if !COLORS.contains(&color) {
            return Err(ApiError::body_path(
                &format!("{path}.options[{i}].color"),
                "one of the option colors",
                &instead(o.get("color")),
            ));
        }
        out.push(
            json!({"id": Uuid::new_v4().to_string(), "name": name, "color": color,
            "description": o.get("description").cloned().unwrap_or(Value::Null)}),
        );
    }
    Ok(out)
}

const SCHEMA_TYPES: &[&str] = &[
    "title",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "people",
    "files",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "relation",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
];

/// The type key of a schema request entry (`{"rich_text":{}}` or `{"type":"rich_text",…}`).
fn schema_type(spec: &Value, path: &str) -> ApiResult<Option<String>> {
    if let Some(t) = spec.get("type").and_then(Value::as_str) {
        if SCHEMA_TYPES.contains(&t) {
            return Ok(Some(t.to_owned()));
        }
        return Err(ApiError::body_path(
            &format!("{path}.type"),
            "a supported property type",
            &instead(spec.get("type")),
        ));
    }
    let obj = spec
        .as_object()
        .ok_or_else(|| ApiError::body_path(path, "an object", &instead(Some(spec))))?;
    for k in obj.keys() {
        if SCHEMA_TYPES.contains(&k.as_str()) {
            return Ok(Some(k.clone()));
        }
    }
    if obj.keys().any(|k| k != "name" && k != "description") {
        let k = obj.keys().next().cloned().unwrap_or_default();
        return Err(ApiError::validation(format!(
            "body failed validation: {path}.{k} is not a supported property type."
        )));
    }
    Ok(None)
}

/// Build a schema entry's config; relations return the target data source to wire up.
fn schema_config(
    st: &State,
    kind: &str,
    spec: &Value,
    path: &str,
) -> ApiResult<(Value, Option<(Uuid, bool)>)> {
    let cfg = spec.get(kind).cloned().unwrap_or_else(|| json!({}));
    let p = format!("{path}.{kind}");
    Ok(match kind {
        "select" | "multi_select" => (json!({"options": parse_options(&cfg, &p)?}), None),
        "status" => {
            let mut options = parse_options(&cfg, &p)?;
            if options.is_empty() {
                for (n, c) in [
                    ("Not started", "default"),
                    ("In progress", "blue"),
                    ("Done", "green"),
                ] {
                    options.push(json!({"id":Uuid::new_v4().to_string(),"name":n,"color":c,"description":null}));
                }
            }
            let ids: Vec<Value> = options.iter().map(|o| o["id"].clone()).collect();
            (
                json!({"options": options, "groups":[{"id":Uuid::new_v4().to_string(),
                "name":"All","color":"gray","option_ids":ids}]}),
                None,
            )
        }
        "number" => (
            json!({"format": cfg.get("format").cloned().unwrap_or(json!("number"))}),
            None,
        ),
        "relation" => {
            let target = if let Some(ds) = cfg.get("data_source_id").and_then(Value::as_str) {
                crate::state::parse_id(ds, "data_source_id").map_err(|_| {
                    ApiError::body_path(
                        &format!("{p}.data_source_id"),
                        "a valid uuid",
                        &instead(cfg.get("data_source_id")),
                    )
                })?
            } else if let Some(db) = cfg.get("database_id").and_then(Value::as_str) {
                let db = crate::state::parse_id(db, "database_id")?;
                let rec = st.database(db)?;
                match rec.data_sources.as_slice() {
                    [one] => *one,
                    _ => {
                        return Err(ApiError::validation(format!(
                            "body failed validation: {p}.data_source_id should be defined, instead was `undefined`."
                        )));
                    }
                }
            } else {
                return Err(ApiError::body_path(
                    &format!("{p}.data_source_id"),
                    "defined",
                    "`undefined`",
                ));
            };
            let target_rec = st.data_source(target)?;
            let dual = match cfg.get("type").and_then(Value::as_str) {
                Some("dual_property") => true,
                Some("single_property") => false,
                Some(_) => {
                    return Err(ApiError::body_path(
                        &format!("{p}.type"),
                        "`single_property` or `dual_property`",
                        &instead(cfg.get("type")),
                    ));
                }
                None => cfg.get("dual_property").is_some(),
            };
            let mut c = json!({"database_id": target_rec.database_id.to_string(),
                "data_source_id": target.to_string()});
            if dual {
                c["type"] = json!("dual_property");
            } else {
                c["type"] = json!("single_property");
                c["single_property"] = json!({});
            }
            (c, Some((target, dual)))
        }
        _ => (json!({}), None),
    })
}

/// Add one property to a data source (used by database create and data source update).
/// A `dual_property` relation also adds its synced property to the target data source.
pub(crate) fn add_property(
    st: &mut State,
    ds_id: Uuid,
    name: &str,
    spec: &Value,
    path: &str,
) -> ApiResult<()> {
    let Some(kind) = schema_type(spec, path)? else {
        return Err(ApiError::validation(format!(
            "body failed validation: {path} should define a property type."
        )));
    };
    let (config, relation) = schema_config(st, &kind, spec, path)?;
    let ds = st.data_sources.get(&ds_id).expect("data source exists");
    if kind == "title" && ds.props.iter().any(|p| p.kind == "title") {
        return Err(ApiError::validation(
            "body failed validation: a data source has exactly one title property.",
        ));
    }
    let id = if kind == "title" {
        "title".to_owned()
    } else {
        State::new_prop_id(ds)
    };
    let source_title = plain_text(&ds.title);
    let source_db = ds.database_id;
    let mut schema = PropSchema {
        id: id.clone(),
        name: name.to_owned(),
        kind,
        config,
    };
    if let Some((target, true)) = relation {
        let target_rec = st.data_sources.get(&target).expect("checked");
        let mut reverse_name = format!("Related to {source_title} ({name})");
        let mut n = 2;
        while target_rec.props.iter().any(|p| p.name == reverse_name)
            || (target == ds_id && reverse_name == name)
        {
            reverse_name = format!("Related to {source_title} ({name}) {n}");
            n += 1;
        }
        let mut reverse_id = State::new_prop_id(target_rec);
        while reverse_id == id {
            reverse_id = State::new_prop_id(target_rec);
        }
        schema.config["dual_property"] =
            json!({"synced_property_name": reverse_name, "synced_property_id": reverse_id});
        let reverse = PropSchema {
            id: reverse_id,
            name: reverse_name,
            kind: "relation".into(),
            config: json!({"database_id": source_db.to_string(), "data_source_id": ds_id.to_string(),
                "type":"dual_property","dual_property":{"synced_property_name": name, "synced_property_id": id}}),
        };
        st.data_sources
            .get_mut(&ds_id)
            .expect("exists")
            .props
            .push(schema);
        st.data_sources
            .get_mut(&target)
            .expect("exists")
            .props
            .push(reverse);
    } else {
        st.data_sources
            .get_mut(&ds_id)
            .expect("exists")
            .props
            .push(schema);
    }
    Ok(())
}

/// `PATCH /v1/data_sources/{id}` `properties`: add, rename, retype (`{name?, <type>?}`) or remove (`null`).
pub(crate) fn update_schema(
    st: &mut State,
    ds_id: Uuid,
    props: &Map<String, Value>,
) -> ApiResult<()> {
    for (key, spec) in props {
        let path = format!("body.properties.{key}");
        let existing = st.data_sources[&ds_id].prop(key).cloned();
        match (existing, spec) {
            (Some(p), Value::Null) => {
                if p.kind == "title" {
                    return Err(ApiError::validation(
                        "body failed validation: the title property cannot be removed.",
                    ));
                }
                remove_synced(st, &p);
                st.data_sources
                    .get_mut(&ds_id)
                    .expect("exists")
                    .props
                    .retain(|x| x.id != p.id);
            }
            (None, Value::Null) => {
                return Err(ApiError::validation(format!(
                    "{key} is not a property that exists."
                )));
            }
            (Some(p), spec) => {
                if let Some(new_name) = spec.get("name").and_then(Value::as_str) {
                    if new_name != p.name && st.data_sources[&ds_id].prop(new_name).is_some() {
                        return Err(ApiError::validation(format!(
                            "body failed validation: a property named {new_name} already exists."
                        )));
                    }
                    st.data_sources
                        .get_mut(&ds_id)
                        .expect("exists")
                        .prop_mut(&p.id)
                        .expect("exists")
                        .name = new_name.to_owned();
                    rename_synced(st, &p, new_name);
                }
                if let Some(kind) = schema_type(spec, &path)? {
                    if kind == "title" && p.kind != "title" {
                        return Err(ApiError::validation(
                            "body failed validation: a data source has exactly one title property.",
                        ));
                    }
                    let (config, _) = schema_config(st, &kind, spec, &path)?;
                    let entry = st
                        .data_sources
                        .get_mut(&ds_id)
                        .expect("exists")
                        .prop_mut(&p.id)
                        .expect("exists");
                    entry.kind = kind;
                    entry.config = config;
                }
            }
            (None, spec) => add_property(st, ds_id, key, spec, &path)?,
        }
    }
    Ok(())
}

fn synced_of(p: &PropSchema) -> Option<(Uuid, String)> {
    if p.kind != "relation" || p.config["type"] != "dual_property" {
        return None;
    }
    let ds = p.config["data_source_id"].as_str()?.parse().ok()?;
    let id = p.config["dual_property"]["synced_property_id"]
        .as_str()?
        .to_owned();
    Some((ds, id))
}

fn remove_synced(st: &mut State, p: &PropSchema) {
    if let Some((ds, id)) = synced_of(p)
        && let Some(rec) = st.data_sources.get_mut(&ds)
    {
        rec.props.retain(|x| x.id != id);
    }
}

fn rename_synced(st: &mut State, p: &PropSchema, new_name: &str) {
    if let Some((ds, id)) = synced_of(p)
        && let Some(rec) = st.data_sources.get_mut(&ds)
        && let Some(other) = rec.prop_mut(&id)
    {
        other.config["dual_property"]["synced_property_name"] = json!(new_name);
    }
}

/// A schema entry in responses.
pub(crate) fn render_schema(p: &PropSchema) -> Value {
    let mut v = json!({"id": p.id, "name": p.name, "description": "", "type": p.kind});
    v[&p.kind] = p.config.clone();
    v
}

/// One validated property write, applied only once every property of the request validated.
#[derive(Debug)]
pub(crate) struct Write {
    pub prop_id: String,
    pub kind: String,
    pub value: Value,
    /// Select / multi_select options that do not exist yet (Notion adds them to the schema).
    pub new_options: Vec<Value>,
    /// File uploads attached by this write.
    pub attach: Vec<Uuid>,
}

const READ_ONLY: &[&str] = &[
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "formula",
    "rollup",
    "unique_id",
];

/// Validate `properties` of a page create/update against the parent's schema.
/// `ds` is `None` for pages under a page, whose only property is `title`.
pub(crate) fn validate_values(
    st: &State,
    ds: Option<&DataSourceRec>,
    props: &Value,
) -> ApiResult<Vec<Write>> {
    let obj = props.as_object().ok_or_else(|| {
        ApiError::body_path("body.properties", "an object", &instead(Some(props)))
    })?;
    let title_only = PropSchema {
        id: "title".into(),
        name: "title".into(),
        kind: "title".into(),
        config: json!({}),
    };
    let mut writes = Vec::new();
    for (key, value) in obj {
        let schema = match ds {
            Some(ds) => ds.prop(key).ok_or_else(|| {
                ApiError::validation(format!("{key} is not a property that exists."))
            })?,
            None if key == "title" || key == "Name" => &title_only,
            None => {
                return Err(ApiError::validation(format!(
                    "{key} is not a property that exists."
                )));
            }
        };
        let path = format!("body.properties.{key}");
        if READ_ONLY.contains(&schema.kind.as_str()) {
            return Err(ApiError::validation(format!(
                "body failed validation: {path} is a read-only property of type {}.",
                schema.kind
            )));
        }
        let inner = value.get(&schema.kind);
        if inner.is_none() {
            return Err(ApiError::body_path(
                &format!("{path}.{}", schema.kind),
                "defined",
                "`undefined`",
            ));
        }
        let p = format!("{path}.{}", schema.kind);
        let mut w = Write {
            prop_id: schema.id.clone(),
            kind: schema.kind.clone(),
            value: Value::Null,
            new_options: Vec::new(),
            attach: Vec::new(),
        };
        w.value = validate_one(st, schema, inner, &p, &mut w)?;
        writes.push(w);
    }
    Ok(writes)
}

fn validate_one(
    st: &State,
    schema: &PropSchema,
    v: Option<&Value>,
    p: &str,
    w: &mut Write,
) -> ApiResult<Value> {
    let v_or_null = v.cloned().unwrap_or(Value::Null);
    match schema.kind.as_str() {
        "title" | "rich_text" => rich_text(v, p),
        "number" => match v {
            Some(Value::Null) | Some(Value::Number(_)) => Ok(v_or_null),
            _ => Err(ApiError::body_path(p, "a number or `null`", &instead(v))),
        },
        "checkbox" => match v {
            Some(Value::Bool(_)) => Ok(v_or_null),
            _ => Err(ApiError::body_path(p, "a boolean", &instead(v))),
        },
        "url" | "email" | "phone_number" => match v {
            Some(Value::Null) => Ok(Value::Null),
            Some(Value::String(s)) => {
                let limit = if schema.kind == "url" {
                    TEXT_LIMIT
                } else {
                    200
                };
                if js_len(s) > limit {
                    Err(too_long(p, limit, js_len(s)))
                } else {
                    Ok(v_or_null)
                }
            }
            _ => Err(ApiError::body_path(p, "a string or `null`", &instead(v))),
        },
        "date" => match v {
            Some(Value::Null) => Ok(Value::Null),
            Some(Value::Object(d)) => {
                let start = d.get("start").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::body_path(&format!("{p}.start"), "defined", &instead(d.get("start")))
                })?;
                if crate::filter::parse_when(start).is_none() {
                    return Err(ApiError::body_path(
                        &format!("{p}.start"),
                        "a valid ISO 8601 date string",
                        &instead(d.get("start")),
                    ));
                }
                if let Some(end) = d.get("end").and_then(Value::as_str)
                    && crate::filter::parse_when(end).is_none()
                {
                    return Err(ApiError::body_path(
                        &format!("{p}.end"),
                        "a valid ISO 8601 date string",
                        &instead(d.get("end")),
                    ));
                }
                Ok(
                    json!({"start": start, "end": d.get("end").cloned().unwrap_or(Value::Null),
                    "time_zone": d.get("time_zone").cloned().unwrap_or(Value::Null)}),
                )
            }
            _ => Err(ApiError::body_path(p, "an object or `null`", &instead(v))),
        },
        "select" | "status" => match v {
            Some(Value::Null) => Ok(Value::Null),
            Some(o @ Value::Object(_)) => {
                let (opt, new) = pick_option(schema, o, p)?;
                if let Some(new) = new {
                    w.new_options.push(new);
                }
                Ok(opt)
            }
            _ => Err(ApiError::body_path(p, "an object or `null`", &instead(v))),
        },
        "multi_select" => {
            let items = array(v, p)?;
            check_len(p, items, ARRAY_LIMIT)?;
            let mut out: Vec<Value> = Vec::new();
            for (i, o) in items.iter().enumerate() {
                let (opt, new) = pick_option(schema, o, &format!("{p}[{i}]"))?;
                // The same new name twice in one request makes one option.
                let opt = match new {
                    Some(new) => match w.new_options.iter().find(|x| x["name"] == new["name"]) {
                        Some(existing) => existing.clone(),
                        None => {
                            w.new_options.push(new);
                            opt
                        }
                    },
                    None => opt,
                };
                if !out.iter().any(|x| x["id"] == opt["id"]) {
                    out.push(opt);
                }
            }
            Ok(Value::Array(out))
        }
        "relation" => {
            let items = array(v, p)?;
            check_len(p, items, ARRAY_LIMIT)?;
            let target: Option<Uuid> = schema.config["data_source_id"]
                .as_str()
                .and_then(|s| s.parse().ok());
            let mut out: Vec<Value> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let raw = item.get("id").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::body_path(
                        &format!("{p}[{i}].id"),
                        "defined",
                        &instead(item.get("id")),
                    )
                })?;
                let id = Uuid::parse_str(raw).map_err(|_| {
                    ApiError::body_path(
                        &format!("{p}[{i}].id"),
                        "a valid uuid",
                        &instead(item.get("id")),
                    )
                })?;
                let page = st.page(id)?;
                if let Some(target) = target
                    && page.parent != crate::state::ParentRef::DataSource(target)
                {
                    return Err(ApiError::validation(format!(
                        "body failed validation: {p}[{i}].id {id} is not a page of the related data source {target}."
                    )));
                }
                let s = json!(id.to_string());
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(Value::Array(out))
        }
        "people" => {
            let items = array(v, p)?;
            check_len(p, items, ARRAY_LIMIT)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| {
                        ApiError::body_path(
                            &format!("{p}[{i}].id"),
                            "a valid uuid",
                            &instead(item.get("id")),
                        )
                    })?;
                if st.user(id).is_none() {
                    return Err(ApiError::not_found("user", &id.to_string()));
                }
                out.push(json!(id.to_string()));
            }
            Ok(Value::Array(out))
        }
        "files" => {
            let items = array(v, p)?;
            check_len(p, items, ARRAY_LIMIT)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ip = format!("{p}[{i}]");
                out.push(file_ref(st, item, &ip, true, &mut w.attach)?);
            }
            Ok(Value::Array(out))
        }
        other => Err(ApiError::validation(format!(
            "body failed validation: {p} of type {other} is not writable in the double."
        ))),
    }
}

/// Validate a file object in a request (files property item or image block) and return its
/// stored form; a `file_upload` must be `uploaded` (not pending, not expired).
pub(crate) fn file_ref(
    st: &State,
    item: &Value,
    p: &str,
    named: bool,
    attach: &mut Vec<Uuid>,
) -> ApiResult<Value> {
    let name = item.get("name").and_then(Value::as_str);
    if named
        && let Some(n) = name
        && js_len(n) > 100
    {
        return Err(too_long(&format!("{p}.name"), 100, js_len(n)));
    }
    let kind = item.get("type").and_then(Value::as_str).or_else(|| {
        ["external", "file_upload", "file"]
            .into_iter()
            .find(|k| item.get(*k).is_some())
    });
    match kind {
        Some("external") => {
            let url = item["external"]["url"].as_str().ok_or_else(|| {
                ApiError::body_path(&format!("{p}.external.url"), "defined", "`undefined`")
            })?;
            if js_len(url) > TEXT_LIMIT {
                return Err(too_long(
                    &format!("{p}.external.url"),
                    TEXT_LIMIT,
                    js_len(url),
                ));
            }
            if named && name.is_none() {
                return Err(ApiError::body_path(
                    &format!("{p}.name"),
                    "defined",
                    "`undefined`",
                ));
            }
            Ok(json!({"name": name.unwrap_or(""), "type": "external", "external": {"url": url}}))
        }
        Some("file_upload") => {
            let raw = item["file_upload"]["id"].as_str().ok_or_else(|| {
                ApiError::body_path(&format!("{p}.file_upload.id"), "defined", "`undefined`")
            })?;
            let id = Uuid::parse_str(raw).map_err(|_| {
                ApiError::body_path(
                    &format!("{p}.file_upload.id"),
                    "a valid uuid",
                    &format!("`\"{raw}\"`"),
                )
            })?;
            let up = st
                .uploads
                .get(&id)
                .ok_or_else(|| ApiError::not_found("file_upload", raw))?;
            let status = up.status(st.now());
            if status != "uploaded" {
                return Err(ApiError::validation(format!(
                    "body failed validation: {p}.file_upload.id refers to a file upload with status `{status}`; only `uploaded` file uploads can be attached."
                )));
            }
            attach.push(id);
            let name = name
                .map(str::to_owned)
                .or_else(|| up.filename.clone())
                .unwrap_or_else(|| "file".into());
            Ok(json!({"name": name, "type": "file_upload_ref", "upload": id.to_string()}))
        }
        Some("file") => {
            // Keep-existing form: a Notion-hosted URL read earlier; map ours back to its upload.
            let url = item["file"]["url"].as_str().unwrap_or_default();
            if let Some(rest) = url.split("/__files/").nth(1)
                && let Some(id) = rest.split('/').next().and_then(|s| Uuid::parse_str(s).ok())
                && st.uploads.contains_key(&id)
            {
                return Ok(
                    json!({"name": name.unwrap_or("file"), "type": "file_upload_ref", "upload": id.to_string()}),
                );
            }
            Ok(
                json!({"name": name.unwrap_or("file"), "type": "external", "external": {"url": url}}),
            )
        }
        _ => Err(ApiError::body_path(
            &format!("{p}.external"),
            "defined",
            "`undefined`",
        )),
    }
}

/// A file as a response shows it: attached uploads become Notion-hosted `file` objects.
pub(crate) fn render_file(st: &State, stored: &Value) -> Value {
    if stored["type"] == "file_upload_ref" {
        let id: Uuid = stored["upload"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        json!({"name": stored["name"], "type": "file", "file": st.hosted_file(id)})
    } else {
        stored.clone()
    }
}

fn pick_option(schema: &PropSchema, o: &Value, p: &str) -> ApiResult<(Value, Option<Value>)> {
    let options = schema.config["options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let strip = |x: &Value| json!({"id": x["id"], "name": x["name"], "color": x["color"]});
    if let Some(id) = o.get("id").and_then(Value::as_str) {
        return options
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| (strip(x), None))
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "body failed validation: {p}.id `{id}` is not an option of {}.",
                    schema.name
                ))
            });
    }
    let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
        ApiError::body_path(&format!("{p}.name"), "defined", &instead(o.get("name")))
    })?;
    if let Some(x) = options.iter().find(|x| x["name"] == name) {
        return Ok((strip(x), None));
    }
    if schema.kind == "status" {
        return Err(ApiError::validation(format!(
            "Invalid status option. Status option \"{name}\" does not exist for property {}.",
            schema.name
        )));
    }
    if name.contains(',') {
        return Err(ApiError::validation(format!(
            "body failed validation: {p}.name should not contain commas."
        )));
    }
    if js_len(name) > 100 {
        return Err(too_long(&format!("{p}.name"), 100, js_len(name)));
    }
    let new = json!({"id": Uuid::new_v4().to_string(), "name": name, "color": "default", "description": null});
    Ok((strip(&new), Some(new)))
}

/// Apply validated writes to a page (which must exist): new options go into the schema,
/// uploads are marked attached, and two-way relations update the other side.
pub(crate) fn apply_writes(
    st: &mut State,
    page_id: Uuid,
    ds_id: Option<Uuid>,
    writes: Vec<Write>,
    editor: Uuid,
) {
    let now = st.now();
    for w in writes {
        if let Some(ds) = ds_id
            && !w.new_options.is_empty()
            && let Some(prop) = st
                .data_sources
                .get_mut(&ds)
                .and_then(|d| d.prop_mut(&w.prop_id))
            && let Some(opts) = prop.config["options"].as_array_mut()
        {
            for o in w.new_options {
                if !opts.iter().any(|x| x["name"] == o["name"]) {
                    opts.push(o);
                }
            }
        }
        for up in &w.attach {
            if let Some(u) = st.uploads.get_mut(up) {
                u.attached = true;
            }
        }
        if w.kind == "relation"
            && let Some(ds) = ds_id
        {
            let schema = st.data_sources[&ds].prop(&w.prop_id).cloned();
            if let Some(schema) = schema
                && let Some((_, synced_id)) = synced_of(&schema)
            {
                let old: Vec<Value> = st.pages[&page_id]
                    .props
                    .get(&w.prop_id)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let new = w.value.as_array().cloned().unwrap_or_default();
                let me = json!(page_id.to_string());
                for other in old.iter().filter(|x| !new.contains(x)) {
                    sync_side(st, other, &synced_id, &me, false, now, editor);
                }
                for other in new.iter().filter(|x| !old.contains(x)) {
                    sync_side(st, other, &synced_id, &me, true, now, editor);
                }
            }
        }
        let page = st.pages.get_mut(&page_id).expect("page exists");
        page.props.insert(w.prop_id, w.value);
    }
}

fn sync_side(
    st: &mut State,
    other: &Value,
    prop: &str,
    me: &Value,
    add: bool,
    now: chrono::DateTime<chrono::Utc>,
    editor: Uuid,
) {
    let Some(id) = other.as_str().and_then(|s| Uuid::parse_str(s).ok()) else {
        return;
    };
    let Some(page) = st.pages.get_mut(&id) else {
        return;
    };
    let list = page
        .props
        .entry(prop.to_owned())
        .or_insert_with(|| json!([]));
    let Some(arr) = list.as_array_mut() else {
        return;
    };
    if add {
        if !arr.contains(me) {
            arr.push(me.clone());
        }
    } else {
        arr.retain(|x| x != me);
    }
    page.last_edited_time = now;
    page.last_edited_by = editor;
}

/// A page property in responses: `{id, type, <type>: value}`, reference lists cut at 25.
pub(crate) fn render_value(st: &State, page: &crate::state::PageRec, schema: &PropSchema) -> Value {
    let stored = page.props.get(&schema.id);
    let k = schema.kind.as_str();
    let mut out = json!({"id": schema.id, "type": k});
    let value = match k {
        "title" | "rich_text" | "multi_select" => stored.cloned().unwrap_or_else(|| json!([])),
        "checkbox" => stored.cloned().unwrap_or(json!(false)),
        "relation" => {
            let all = stored
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            out["has_more"] = json!(all.len() > REFERENCE_LIMIT);
            Value::Array(
                all.iter()
                    .take(REFERENCE_LIMIT)
                    .map(|id| json!({"id": id}))
                    .collect(),
            )
        }
        "people" => {
            let all = stored
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Value::Array(
                all.iter()
                    .take(REFERENCE_LIMIT)
                    .filter_map(|id| id.as_str().and_then(|s| s.parse().ok()))
                    .map(|id| st.render_user(id))
                    .collect(),
            )
        }
        "files" => Value::Array(
            stored
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|f| render_file(st, f)).collect())
                .unwrap_or_default(),
        ),
        "created_time" => json!(iso(page.created_time)),
        "last_edited_time" => json!(iso(crate::state::floor_minute(page.last_edited_time))),
        "created_by" => st.render_user(page.created_by),
        "last_edited_by" => st.render_user(page.last_edited_by),
        _ => stored.cloned().unwrap_or(Value::Null),
    };
    out[k] = value;
    out
}

/// Check schema entries without changing anything, so a failing create/update leaves no trace.
pub(crate) fn precheck_schema(
    st: &State,
    props: &Map<String, Value>,
    path: &str,
    require_title: bool,
) -> ApiResult<()> {
    let mut titles = 0;
    for (name, spec) in props {
        if spec.is_null() {
            continue;
        }
        let p = format!("{path}.{name}");
        if let Some(kind) = schema_type(spec, &p)? {
            if kind == "title" {
                titles += 1;
            }
            schema_config(st, &kind, spec, &p)?;
        } else if require_title {
            return Err(ApiError::validation(format!(
                "body failed validation: {p} should define a property type."
            )));
        }
    }
    if require_title && titles != 1 {
        return Err(ApiError::validation(format!(
            "body failed validation: {path} should have exactly one title property, instead was {titles}."
        )));
    }
    if !require_title && titles > 0 {
        return Err(ApiError::validation(
            "body failed validation: a data source has exactly one title property.",
        ));
    }
    Ok(())
}
