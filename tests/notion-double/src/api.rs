//! The `/v1` endpoints (Notion-Version 2025-09-03 shapes).

use axum::Json;
use axum::extract::{FromRequest, Path, Query, Request, State as AxState};
use bytes::Bytes;
use chrono::TimeDelta;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use uuid::Uuid;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::props::{self, ARRAY_LIMIT, check_len, instead};
use crate::state::{
    BlockRec, DataSourceRec, DatabaseRec, PageRec, ParentRef, State, UploadMode, UploadRec,
    floor_minute, iso, notion_url, parse_id, plain_text,
};

type JsonResult = ApiResult<Json<Value>>;

/// Parse a JSON body; an empty body is `{}`. Unparseable bodies are 400 `invalid_json`.
pub(crate) fn parse_body(body: &Bytes) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::new(400, "invalid_json", "Error parsing JSON body."))?;
    if !v.is_object() {
        return Err(ApiError::body_path("body", "an object", &instead(Some(&v))));
    }
    Ok(v)
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// `page_size` ≤ 100 and an opaque cursor (the id of the first item of the next page).
fn paginate(
    items: Vec<(Uuid, Value)>,
    cursor: Option<&Value>,
    page_size: Option<&Value>,
    where_: &str,
    list_type: &str,
) -> ApiResult<Value> {
    let size = match page_size {
        None | Some(Value::Null) => 100,
        Some(v) => {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ApiError::body_path(
                        &format!("{where_}.page_size"),
                        "a number",
                        &instead(Some(v)),
                    )
                })?;
            if n > 100 {
                return Err(ApiError::validation(format!(
                    "{where_} failed validation: {where_}.page_size should be ≤ 100, instead was {n}."
                )));
            }
            if n == 0 {
                return Err(ApiError::validation(format!(
                    "{where_} failed validation: {where_}.page_size should be ≥ 1, instead was 0."
                )));
            }
            n as usize
        }
    };
    let start = match cursor {
        None => 0,
        Some(c) => {
            let id = c.as_str().and_then(|s| Uuid::parse_str(s).ok());
            items
                .iter()
                .position(|(x, _)| Some(*x) == id)
                .ok_or_else(|| {
                    ApiError::body_path(
                        &format!("{where_}.start_cursor"),
                        "a valid cursor",
                        &instead(Some(c)),
                    )
                })?
        }
    };
    let end = (start + size).min(items.len());
    let next = items.get(end).map(|(id, _)| id.to_string());
    let results: Vec<Value> = items[start..end].iter().map(|(_, v)| v.clone()).collect();
    let mut out = json!({"object":"list","results":results,"next_cursor":next,
        "has_more": next.is_some(), "type": list_type});
    out[list_type] = json!({});
    Ok(out)
}

// ---------- rendering ----------

fn parent_json(st: &State, p: ParentRef) -> Value {
    match p {
        ParentRef::Workspace => json!({"type":"workspace","workspace":true}),
        ParentRef::Page(id) => json!({"type":"page_id","page_id":id.to_string()}),
        ParentRef::Database(id) => json!({"type":"database_id","database_id":id.to_string()}),
        ParentRef::Block(id) => json!({"type":"block_id","block_id":id.to_string()}),
        ParentRef::DataSource(id) => {
            let db = st.data_sources.get(&id).map(|d| d.database_id.to_string());
            json!({"type":"data_source_id","data_source_id":id.to_string(),"database_id":db})
        }
    }
}

fn partial_user(id: Uuid) -> Value {
    json!({"object":"user","id":id.to_string()})
}

/// A page object; relation lists in it are cut at 25 (`has_more: true`).
pub(crate) fn render_page(st: &State, p: &PageRec) -> Value {
    let mut properties = Map::new();
    match p.parent {
        ParentRef::DataSource(ds) if st.data_sources.contains_key(&ds) => {
            for schema in &st.data_sources[&ds].props {
                properties.insert(schema.name.clone(), props::render_value(st, p, schema));
            }
        }
        _ => {
            let title = p.props.get("title").cloned().unwrap_or_else(|| json!([]));
            properties.insert(
                "title".into(),
                json!({"id":"title","type":"title","title":title}),
            );
        }
    }
    json!({"object":"page","id":p.id.to_string(),"created_time":iso(p.created_time),
        "last_edited_time":iso(floor_minute(p.last_edited_time)),
        "created_by":partial_user(p.created_by),"last_edited_by":partial_user(p.last_edited_by),
        "cover":null,"icon":null,"parent":parent_json(st,p.parent),"in_trash":p.in_trash,
        "archived":p.in_trash,"is_locked":false,"properties":properties,"url":notion_url(p.id),
        "public_url":null})
}

fn render_database(st: &State, d: &DatabaseRec) -> Value {
    let sources: Vec<Value> = d
        .data_sources
        .iter()
        .filter_map(|id| st.data_sources.get(id))
        .map(|s| json!({"id":s.id.to_string(),"name":plain_text(&s.title)}))
        .collect();
    json!({"object":"database","id":d.id.to_string(),"title":d.title,"description":[],
        "parent":parent_json(st,d.parent),"is_inline":d.is_inline,"in_trash":d.in_trash,
        "archived":d.in_trash,"is_locked":false,"created_time":iso(d.created_time),
        "last_edited_time":iso(floor_minute(d.last_edited_time)),"data_sources":sources,
        "icon":null,"cover":null,"url":notion_url(d.id),"public_url":null})
}

fn render_data_source(st: &State, d: &DataSourceRec) -> Value {
    let mut properties = Map::new();
    for p in &d.props {
        properties.insert(p.name.clone(), props::render_schema(p));
    }
    let db = st.databases.get(&d.database_id);
    json!({"object":"data_source","id":d.id.to_string(),"title":d.title,"description":[],
        "parent":{"type":"database_id","database_id":d.database_id.to_string()},
        "database_parent": db.map(|db| parent_json(st, db.parent)),
        "is_inline": db.is_some_and(|db| db.is_inline),"in_trash":false,"archived":false,
        "created_time":iso(d.created_time),"last_edited_time":iso(floor_minute(d.last_edited_time)),
        "created_by":partial_user(d.created_by),"last_edited_by":partial_user(d.last_edited_by),
        "properties":properties,"icon":null,"cover":null,"url":notion_url(d.id),"public_url":null})
}

fn render_block(st: &State, b: &BlockRec) -> Value {
    let mut content = b.content.clone();
    if content["type"] == "file_upload_ref" {
        let id: Uuid = content["upload"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        content =
            json!({"caption": content["caption"], "type": "file", "file": st.hosted_file(id)});
    }
    let mut v = json!({"object":"block","id":b.id.to_string(),"parent":parent_json(st,b.parent),
        "created_time":iso(b.created_time),"last_edited_time":iso(floor_minute(b.last_edited_time)),
        "created_by":partial_user(st.bot_id),"last_edited_by":partial_user(st.bot_id),
        "has_children":!b.children.is_empty(),"in_trash":false,"archived":false,"type":b.kind});
    v[&b.kind] = content;
    v
}

pub(crate) fn render_upload(st: &State, u: &UploadRec) -> Value {
    let status = u.status(st.now());
    let mut v = json!({"object":"file_upload","id":u.id.to_string(),
        "created_time":iso(u.created_time),"last_edited_time":iso(floor_minute(u.last_edited_time)),
        "created_by":{"id":st.bot_id.to_string(),"type":"bot"},
        "expiry_time": if u.attached { Value::Null } else { json!(iso(u.expiry_time)) },
        "upload_url": format!("{}/v1/file_uploads/{}/send", st.base_url, u.id),
        "in_trash":false,"archived":false,"status":status,"filename":u.filename,
        "content_type":u.content_type,
        "content_length": u.data.as_ref().map(|d| d.len())});
    if u.mode == UploadMode::MultiPart {
        v["complete_url"] = json!(format!("{}/v1/file_uploads/{}/complete", st.base_url, u.id));
        v["number_of_parts"] = json!({"total":u.number_of_parts,"sent":u.parts.len()});
    }
    v
}

fn render_bot(st: &State) -> Value {
    let bot = st.user(st.bot_id).expect("bot exists");
    json!({"object":"user","id":bot.id.to_string(),"name":bot.name,"avatar_url":null,"type":"bot",
        "bot":{"owner":{"type":"workspace","workspace":true},"workspace_name":st.workspace_name,
        "workspace_limits":{"max_file_upload_size_in_bytes":st.upload_limit}}})
}

// ---------- users ----------

pub(crate) async fn users_me(AxState(s): AxState<Shared>) -> JsonResult {
    let st = lock(&s);
    Ok(Json(render_bot(&st)))
}

/// Without a user-information capability the users endpoints (but users/me) answer 403.
fn may_read_users(st: &State) -> Result<(), ApiError> {
    if st.user_info == crate::UserInfo::None {
        return Err(ApiError::new(
            403,
            "restricted_resource",
            "Insufficient permissions for this endpoint.",
        ));
    }
    Ok(())
}

pub(crate) async fn user_get(AxState(s): AxState<Shared>, Path(id): Path<String>) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "user_id")?;
    may_read_users(&st)?;
    if id == st.bot_id {
        return Ok(Json(render_bot(&st)));
    }
    match st.user(id) {
        Some(_) => Ok(Json(st.render_user(id))),
        None => Err(ApiError::not_found("user", &id.to_string())),
    }
}

pub(crate) async fn users_list(
    AxState(s): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let st = lock(&s);
    may_read_users(&st)?;
    let items = st
        .users
        .iter()
        .map(|u| {
            (
                u.id,
                if u.id == st.bot_id {
                    render_bot(&st)
                } else {
                    st.render_user(u.id)
                },
            )
        })
        .collect();
    let cursor = q.get("start_cursor").map(|c| json!(c));
    let size = q.get("page_size").map(|c| json!(c));
    Ok(Json(paginate(
        items,
        cursor.as_ref(),
        size.as_ref(),
        "query",
        "user",
    )?))
}

// ---------- databases & data sources ----------

pub(crate) async fn database_get(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "database_id")?;
    let db = st.database(id)?;
    Ok(Json(render_database(&st, db)))
}

fn page_parent(st: &State, parent: Option<&Value>, path: &str) -> ApiResult<ParentRef> {
    let parent = parent
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::body_path(path, "an object", &instead(parent)))?;
    if let Some(id) = parent.get("page_id").and_then(Value::as_str) {
        let id = parse_id(id, "parent.page_id")?;
        st.page(id)?;
        return Ok(ParentRef::Page(id));
    }
    if let Some(id) = parent.get("data_source_id").and_then(Value::as_str) {
        let id = parse_id(id, "parent.data_source_id")?;
        st.data_source(id)?;
        return Ok(ParentRef::DataSource(id));
    }
    if let Some(id) = parent.get("database_id").and_then(Value::as_str) {
        let id = parse_id(id, "parent.database_id")?;
        let db = st.database(id)?;
        return match db.data_sources.as_slice() {
            [one] => Ok(ParentRef::DataSource(*one)),
            _ => Err(ApiError::validation(
                "body failed validation: the database has several data sources; use parent.data_source_id.",
            )),
        };
    }
    if parent.get("workspace").is_some() {
        return Err(ApiError::validation(
            "body failed validation: internal integrations cannot create workspace-level content; use parent.page_id.",
        ));
    }
    Err(ApiError::body_path(
        &format!("{path}.page_id"),
        "defined",
        "`undefined`",
    ))
}

pub(crate) async fn database_create(AxState(s): AxState<Shared>, body: Bytes) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let parent = page_parent(&st, body.get("parent"), "body.parent")?;
    if !matches!(parent, ParentRef::Page(_)) {
        return Err(ApiError::validation(
            "body failed validation: body.parent.page_id should be defined, instead was `undefined`.",
        ));
    }
    let title = match body.get("title") {
        None => json!([]),
        t => props::rich_text(t, "body.title")?,
    };
    let empty = Map::new();
    let schema = match body
        .get("initial_data_source")
        .and_then(|d| d.get("properties"))
    {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ApiError::body_path(
                "body.initial_data_source.properties",
                "an object",
                &instead(Some(other)),
            ));
        }
        None => &empty,
    };
    props::precheck_schema(&st, schema, "body.initial_data_source.properties", true)?;
    let now = st.now();
    let (db_id, ds_id) = (Uuid::new_v4(), Uuid::new_v4());
    st.databases.insert(
        db_id,
        DatabaseRec {
            id: db_id,
            parent,
            title: title.clone(),
            is_inline: body
                .get("is_inline")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            in_trash: false,
            created_time: now,
            last_edited_time: now,
            data_sources: vec![ds_id],
        },
    );
    let bot = st.bot_id;
    st.data_sources.insert(
        ds_id,
        DataSourceRec {
            id: ds_id,
            database_id: db_id,
            title,
            props: Vec::new(),
            created_time: now,
            last_edited_time: now,
            created_by: bot,
            last_edited_by: bot,
        },
    );
    for (name, spec) in schema {
        let path = format!("body.initial_data_source.properties.{name}");
        props::add_property(&mut st, ds_id, name, spec, &path)?;
    }
    let db = &st.databases[&db_id];
    Ok(Json(render_database(&st, db)))
}

pub(crate) async fn database_update(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let id = parse_id(&id, "database_id")?;
    st.database(id)?;
    let title = match body.get("title") {
        None => None,
        t => Some(props::rich_text(t, "body.title")?),
    };
    let now = st.now();
    let db = st.databases.get_mut(&id).expect("checked");
    if let Some(t) = title {
        db.title = t;
    }
    if let Some(b) = body
        .get("in_trash")
        .or(body.get("archived"))
        .and_then(Value::as_bool)
    {
        db.in_trash = b;
    }
    db.last_edited_time = now;
    let db = &st.databases[&id];
    Ok(Json(render_database(&st, db)))
}

pub(crate) async fn data_source_get(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "data_source_id")?;
    let ds = st.data_source(id)?;
    Ok(Json(render_data_source(&st, ds)))
}

pub(crate) async fn data_source_update(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let id = parse_id(&id, "data_source_id")?;
    st.data_source(id)?;
    let title = match body.get("title") {
        None => None,
        t => Some(props::rich_text(t, "body.title")?),
    };
    if let Some(p) = body.get("properties") {
        let m = p.as_object().ok_or_else(|| {
            ApiError::body_path("body.properties", "an object", &instead(Some(p)))
        })?;
        // Entries naming a new property must define a type; renames of existing ones need not.
        let new_entries: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| st.data_sources[&id].prop(k).is_none())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in &new_entries {
            if !v.is_null()
                && v.as_object()
                    .is_some_and(|o| o.keys().all(|k| k == "name" || k == "description"))
            {
                return Err(ApiError::validation(format!(
                    "body failed validation: body.properties.{k} should define a property type."
                )));
            }
        }
        props::precheck_schema(&st, &new_entries, "body.properties", false)?;
        props::update_schema(&mut st, id, m)?;
    }
    let now = st.now();
    let bot = st.bot_id;
    let ds = st.data_sources.get_mut(&id).expect("checked");
    if let Some(t) = title {
        ds.title = t;
    }
    ds.last_edited_time = now;
    ds.last_edited_by = bot;
    let ds = &st.data_sources[&id];
    Ok(Json(render_data_source(&st, ds)))
}

pub(crate) async fn data_source_query(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let body = parse_body(&body)?;
    let st = lock(&s);
    let id = parse_id(&id, "data_source_id")?;
    let ds = st.data_source(id)?;
    let compiled = match body.get("filter") {
        None => None,
        Some(f) => Some(filter::compile(f, ds, "body.filter", 0)?),
    };
    let sorts = match body.get("sorts") {
        None => Vec::new(),
        Some(v) => filter::compile_sorts(v, ds)?,
    };
    let in_trash = body
        .get("in_trash")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut pages: Vec<&PageRec> = st
        .pages
        .values()
        .filter(|p| p.parent == ParentRef::DataSource(id) && p.in_trash == in_trash)
        .filter(|p| compiled.as_ref().is_none_or(|c| filter::eval(&st, c, p)))
        .collect();
    filter::sort_pages(&mut pages, &sorts);
    let items = pages.iter().map(|p| (p.id, render_page(&st, p))).collect();
    Ok(Json(paginate(
        items,
        body.get("start_cursor"),
        body.get("page_size"),
        "body",
        "page_or_data_source",
    )?))
}

// ---------- search ----------

/// `POST /v1/search`: the pages the integration can reach (shared with it, or below a shared one),
/// not in the trash, whose title contains `query` (any case), most recently edited first, paginated
/// like every list. `filter.value` `data_source` answers none here (the app searches pages only).
pub(crate) async fn search(AxState(s): AxState<Shared>, body: Bytes) -> JsonResult {
    let body = if body.is_empty() {
        json!({})
    } else {
        parse_body(&body)?
    };
    let st = lock(&s);
    let query = match body.get("query") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(q)) => q.to_lowercase(),
        other => {
            return Err(ApiError::body_path(
                "body.query",
                "a string",
                &instead(other),
            ));
        }
    };
    let want_pages = match body.get("filter") {
        None | Some(Value::Null) => true,
        Some(f) => match (
            f.get("property").and_then(Value::as_str),
            f.get("value").and_then(Value::as_str),
        ) {
            (Some("object"), Some("page")) => true,
            (Some("object"), Some("data_source")) => false,
            _ => {
                return Err(ApiError::validation(
                    "body failed validation: body.filter.value should be `\"page\"` or `\"data_source\"`, and body.filter.property should be `\"object\"`.",
                ));
            }
        },
    };
    let mut pages: Vec<&PageRec> = if want_pages {
        st.pages
            .values()
            .filter(|p| !p.in_trash && st.accessible(p.id))
            .collect()
    } else {
        Vec::new()
    };
    pages.sort_by(|a, b| {
        b.last_edited_time
            .cmp(&a.last_edited_time)
            .then(b.seq.cmp(&a.seq))
    });
    let items = pages
        .iter()
        .map(|p| (p.id, render_page(&st, p)))
        .filter(|(_, v)| query.is_empty() || rendered_title(v).to_lowercase().contains(&query))
        .collect();
    Ok(Json(paginate(
        items,
        body.get("start_cursor"),
        body.get("page_size"),
        "body",
        "page_or_data_source",
    )?))
}

/// The plain text of a rendered page's title property.
fn rendered_title(page: &Value) -> String {
    page.get("properties")
        .and_then(Value::as_object)
        .and_then(|m| {
            m.values()
                .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
        })
        .map(|p| crate::state::plain_text(p.get("title").unwrap_or(&Value::Null)))
        .unwrap_or_default()
}

// ---------- pages ----------

/// Validated blocks, inserted only once the whole request validated.
pub(crate) struct PendingBlock {
    kind: String,
    content: Value,
    children: Vec<PendingBlock>,
    attach: Vec<Uuid>,
}

const TEXT_BLOCKS: &[&str] = &[
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
    "code",
];

pub(crate) fn validate_blocks(
    st: &State,
    v: Option<&Value>,
    path: &str,
    depth: usize,
) -> ApiResult<Vec<PendingBlock>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| ApiError::body_path(path, "an array", &instead(Some(v))))?;
    check_len(path, arr, ARRAY_LIMIT)?;
    let mut out = Vec::new();
    for (i, b) in arr.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let kind = b
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                b.as_object()?
                    .keys()
                    .find(|k| *k != "object" && *k != "type")
                    .cloned()
            })
            .ok_or_else(|| ApiError::body_path(&format!("{p}.type"), "defined", "`undefined`"))?;
        let body = b
            .get(&kind)
            .ok_or_else(|| ApiError::body_path(&format!("{p}.{kind}"), "defined", "`undefined`"))?;
        let mut attach = Vec::new();
        let mut children = Vec::new();
        let content = if kind == "image" {
            let mut stored = props::file_ref(st, body, &format!("{p}.image"), false, &mut attach)?;
            stored["caption"] = match body.get("caption") {
                None => json!([]),
                c => props::rich_text(c, &format!("{p}.image.caption"))?,
            };
            if let Some(o) = stored.as_object_mut() {
                o.remove("name");
            }
            stored
        } else {
            let mut c = body.clone();
            if TEXT_BLOCKS.contains(&kind.as_str()) {
                c["rich_text"] = props::rich_text(
                    Some(body.get("rich_text").unwrap_or(&json!([]))),
                    &format!("{p}.{kind}.rich_text"),
                )?;
            }
            if let Some(kids) = body.get("children") {
                if depth >= 2 {
                    return Err(ApiError::validation(format!(
                        "body failed validation: {p}.{kind}.children exceeds the two levels of nesting allowed per request."
                    )));
                }
                children =
                    validate_blocks(st, Some(kids), &format!("{p}.{kind}.children"), depth + 1)?;
                if let Some(o) = c.as_object_mut() {
                    o.remove("children");
                }
            }
            c
        };
        out.push(PendingBlock {
            kind,
            content,
            children,
            attach,
        });
    }
    Ok(out)
}

pub(crate) fn insert_blocks(
    st: &mut State,
    parent: ParentRef,
    blocks: Vec<PendingBlock>,
) -> Vec<Uuid> {
    let now = st.now();
    let mut ids = Vec::new();
    for b in blocks {
        let id = Uuid::new_v4();
        for up in &b.attach {
            if let Some(u) = st.uploads.get_mut(up) {
                u.attached = true;
            }
        }
        st.blocks.insert(
            id,
            BlockRec {
                id,
                parent,
                kind: b.kind,
                content: b.content,
                created_time: now,
                last_edited_time: now,
                children: Vec::new(),
            },
        );
        let kids = insert_blocks(st, ParentRef::Block(id), b.children);
        st.blocks.get_mut(&id).expect("inserted").children = kids;
        ids.push(id);
    }
    ids
}

pub(crate) async fn page_create(AxState(s): AxState<Shared>, body: Bytes) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let parent = page_parent(&st, body.get("parent"), "body.parent")?;
    let ds_id = match parent {
        ParentRef::DataSource(id) => Some(id),
        _ => None,
    };
    let empty = json!({});
    let writes = {
        let ds = ds_id.map(|id| &st.data_sources[&id]);
        props::validate_values(&st, ds, body.get("properties").unwrap_or(&empty))?
    };
    let blocks = validate_blocks(&st, body.get("children"), "body.children", 0)?;
    let id = Uuid::new_v4();
    let now = st.now();
    let seq = st.next_seq();
    let bot = st.bot_id;
    st.pages.insert(
        id,
        PageRec {
            id,
            seq,
            parent,
            created_time: now,
            last_edited_time: now,
            created_by: bot,
            last_edited_by: bot,
            in_trash: false,
            props: HashMap::new(),
            children: Vec::new(),
        },
    );
    props::apply_writes(&mut st, id, ds_id, writes, bot);
    let kids = insert_blocks(&mut st, ParentRef::Page(id), blocks);
    st.pages.get_mut(&id).expect("inserted").children = kids;
    let page = &st.pages[&id];
    Ok(Json(render_page(&st, page)))
}

pub(crate) async fn page_get(AxState(s): AxState<Shared>, Path(id): Path<String>) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "page_id")?;
    let page = st.page(id)?;
    Ok(Json(render_page(&st, page)))
}

/// Update a page's properties as `editor` (the bot for API calls, a person for the control API).
pub(crate) fn update_page(
    st: &mut State,
    id: Uuid,
    body: &Value,
    editor: Uuid,
) -> ApiResult<Value> {
    let page = st.page(id)?;
    let trash = body
        .get("in_trash")
        .or(body.get("archived"))
        .and_then(Value::as_bool);
    if page.in_trash && trash != Some(false) {
        return Err(ApiError::validation(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    let ds_id = match page.parent {
        ParentRef::DataSource(ds) => Some(ds),
        _ => None,
    };
    let writes = match body.get("properties") {
        None => Vec::new(),
        Some(p) => {
            let ds = ds_id.map(|id| &st.data_sources[&id]);
            props::validate_values(st, ds, p)?
        }
    };
    props::apply_writes(st, id, ds_id, writes, editor);
    let now = st.now();
    let page = st.pages.get_mut(&id).expect("checked");
    if let Some(t) = trash {
        page.in_trash = t;
    }
    page.last_edited_time = now;
    page.last_edited_by = editor;
    let page = &st.pages[&id];
    Ok(render_page(st, page))
}

pub(crate) async fn page_update(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let id = parse_id(&id, "page_id")?;
    let bot = st.bot_id;
    Ok(Json(update_page(&mut st, id, &body, bot)?))
}

/// `GET /v1/pages/{id}/properties/{property_id}`: the untruncated, paginated value.
pub(crate) async fn page_property(
    AxState(s): AxState<Shared>,
    Path((id, prop)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "page_id")?;
    let page = st.page(id)?;
    let schema = match page.parent {
        ParentRef::DataSource(ds) => st.data_sources[&ds].prop(&prop).cloned(),
        _ => None,
    }
    .ok_or_else(|| ApiError::not_found("property", &prop))?;
    let stored = page.props.get(&schema.id).cloned();
    let list = match schema.kind.as_str() {
        "relation" => Some(
            stored.and_then(|v| v.as_array().cloned()).unwrap_or_default().into_iter()
                .map(|x| json!({"object":"property_item","id":schema.id,"type":"relation","relation":{"id":x}}))
                .collect::<Vec<_>>(),
        ),
        "people" => Some(
            stored.and_then(|v| v.as_array().cloned()).unwrap_or_default().into_iter()
                .filter_map(|x| x.as_str().and_then(|s| s.parse().ok()))
                .map(|u| json!({"object":"property_item","id":schema.id,"type":"people","people":st.render_user(u)}))
                .collect::<Vec<_>>(),
        ),
        "title" | "rich_text" => Some(
            stored.and_then(|v| v.as_array().cloned()).unwrap_or_default().into_iter()
                .map(|x| { let mut v = json!({"object":"property_item","id":schema.id,"type":schema.kind}); v[&schema.kind] = x; v })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    match list {
        Some(items) => {
            // Items carry no ids of their own: the cursor is the index, encoded as a uuid.
            let items = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Uuid::from_u128(i as u128), v))
                .collect();
            let cursor = q.get("start_cursor").map(|c| json!(c));
            let size = q.get("page_size").map(|c| json!(c));
            let mut out = paginate(
                items,
                cursor.as_ref(),
                size.as_ref(),
                "query",
                "property_item",
            )?;
            out["property_item"] = json!({"id":schema.id,"type":schema.kind,"next_url":null});
            Ok(Json(out))
        }
        None => {
            let mut v = props::render_value(&st, page, &schema);
            v["object"] = json!("property_item");
            Ok(Json(v))
        }
    }
}

// ---------- blocks ----------

fn block_parent(st: &State, id: Uuid) -> ApiResult<ParentRef> {
    if st.pages.contains_key(&id) {
        st.page(id)?;
        return Ok(ParentRef::Page(id));
    }
    match st.blocks.get(&id) {
        Some(_) if st.accessible(id) => Ok(ParentRef::Block(id)),
        _ => Err(ApiError::not_found("block", &id.to_string())),
    }
}

pub(crate) async fn block_children_append(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let id = parse_id(&id, "block_id")?;
    let parent = block_parent(&st, id)?;
    if body.get("children").is_none() {
        return Err(ApiError::body_path(
            "body.children",
            "defined",
            "`undefined`",
        ));
    }
    let blocks = validate_blocks(&st, body.get("children"), "body.children", 0)?;
    let ids = insert_blocks(&mut st, parent, blocks);
    let now = st.now();
    let bot = st.bot_id;
    match parent {
        ParentRef::Page(p) => {
            let page = st.pages.get_mut(&p).expect("checked");
            page.children.extend(&ids);
            page.last_edited_time = now;
            page.last_edited_by = bot;
        }
        _ => st
            .blocks
            .get_mut(&id)
            .expect("checked")
            .children
            .extend(&ids),
    }
    let items = ids
        .iter()
        .map(|b| (*b, render_block(&st, &st.blocks[b])))
        .collect();
    Ok(Json(paginate(items, None, None, "body", "block")?))
}

pub(crate) async fn block_children_list(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let st = lock(&s);
    let id = parse_id(&id, "block_id")?;
    let kids = match block_parent(&st, id)? {
        ParentRef::Page(p) => st.pages[&p].children.clone(),
        _ => st.blocks[&id].children.clone(),
    };
    let items = kids
        .iter()
        .map(|b| (*b, render_block(&st, &st.blocks[b])))
        .collect();
    let cursor = q.get("start_cursor").map(|c| json!(c));
    let size = q.get("page_size").map(|c| json!(c));
    Ok(Json(paginate(
        items,
        cursor.as_ref(),
        size.as_ref(),
        "query",
        "block",
    )?))
}

// ---------- file uploads ----------

/// Single-part sends are limited to 20 MB; larger files go multi-part.
pub const SINGLE_PART_LIMIT: u64 = 20 * 1024 * 1024;
/// Multi-part parts are 5–20 MiB, except the last.
const MIN_PART: usize = 5 * 1024 * 1024;
/// A free workspace's per-file cap; multi-part needs a paid workspace (larger cap).
pub const FREE_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024;

fn guess_type(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        "ico" => "image/vnd.microsoft.icon",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        _ => return None,
    })
}

pub(crate) async fn upload_create(AxState(s): AxState<Shared>, body: Bytes) -> JsonResult {
    let body = parse_body(&body)?;
    let mut st = lock(&s);
    let mode = match body.get("mode").and_then(Value::as_str) {
        None | Some("single_part") => UploadMode::SinglePart,
        Some("multi_part") => UploadMode::MultiPart,
        Some("external_url") => {
            return Err(ApiError::validation(
                "body failed validation: mode `external_url` is not supported by the test double.",
            ));
        }
        Some(_) => {
            return Err(ApiError::body_path(
                "body.mode",
                "one of `single_part`, `multi_part`, `external_url`",
                &instead(body.get("mode")),
            ));
        }
    };
    let filename = body
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(f) = &filename
        && f.len() > 900
    {
        return Err(ApiError::validation(format!(
            "body failed validation: body.filename.length should be ≤ 900, instead was {}.",
            f.len()
        )));
    }
    let mut content_type = body
        .get("content_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if content_type.is_none() {
        content_type = filename.as_deref().and_then(guess_type).map(str::to_owned);
    }
    let mut parts = None;
    if mode == UploadMode::MultiPart {
        if filename.is_none() {
            return Err(ApiError::body_path(
                "body.filename",
                "defined",
                "`undefined`",
            ));
        }
        let n = body
            .get("number_of_parts")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                ApiError::body_path(
                    "body.number_of_parts",
                    "defined",
                    &instead(body.get("number_of_parts")),
                )
            })?;
        if !(1..=1000).contains(&n) {
            return Err(ApiError::validation(format!(
                "body failed validation: body.number_of_parts should be between 1 and 1000, instead was {n}."
            )));
        }
        if st.upload_limit <= FREE_UPLOAD_LIMIT {
            return Err(ApiError::validation(
                "body failed validation: multi_part uploads require a paid workspace (the file upload limit of this workspace is 5 MiB).",
            ));
        }
        parts = Some(n as u32);
    }
    let now = st.now();
    let id = Uuid::new_v4();
    let seq = st.next_seq();
    st.uploads.insert(
        id,
        UploadRec {
            id,
            seq,
            mode,
            filename,
            content_type,
            created_time: now,
            last_edited_time: now,
            expiry_time: now + TimeDelta::hours(1),
            uploaded: false,
            attached: false,
            number_of_parts: parts,
            parts: Default::default(),
            data: None,
        },
    );
    Ok(Json(render_upload(&st, &st.uploads[&id])))
}

fn upload_of(st: &State, raw: &str) -> ApiResult<Uuid> {
    let id = parse_id(raw, "file_upload_id")?;
    if st.uploads.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::not_found("file_upload", &id.to_string()))
    }
}

pub(crate) async fn upload_get(AxState(s): AxState<Shared>, Path(id): Path<String>) -> JsonResult {
    let st = lock(&s);
    let id = upload_of(&st, &id)?;
    Ok(Json(render_upload(&st, &st.uploads[&id])))
}

pub(crate) async fn upload_list(
    AxState(s): AxState<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let st = lock(&s);
    let now = st.now();
    let mut ups: Vec<&UploadRec> = st
        .uploads
        .values()
        .filter(|u| q.get("status").is_none_or(|want| u.status(now) == want))
        .collect();
    ups.sort_by_key(|u| std::cmp::Reverse(u.seq));
    let items = ups.iter().map(|u| (u.id, render_upload(&st, u))).collect();
    let cursor = q.get("start_cursor").map(|c| json!(c));
    let size = q.get("page_size").map(|c| json!(c));
    Ok(Json(paginate(
        items,
        cursor.as_ref(),
        size.as_ref(),
        "query",
        "file_upload",
    )?))
}

pub(crate) async fn upload_send(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    req: Request,
) -> JsonResult {
    let mut mp = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|e| {
            ApiError::validation(format!(
                "body failed validation: expected multipart/form-data ({e})."
            ))
        })?;
    let (mut file, mut part_number, mut part_name, mut part_type) = (None, None, None, None);
    while let Some(field) = mp.next_field().await.map_err(|e| {
        ApiError::validation(format!(
            "body failed validation: malformed multipart body ({e})."
        ))
    })? {
        match field.name() {
            Some("file") => {
                part_name = field.file_name().map(str::to_owned);
                part_type = field.content_type().map(str::to_owned);
                file = Some(field.bytes().await.map_err(|e| {
                    ApiError::validation(format!(
                        "body failed validation: unreadable file part ({e})."
                    ))
                })?);
            }
            Some("part_number") => {
                part_number = Some(field.text().await.unwrap_or_default());
            }
            _ => {}
        }
    }
    let file = file.ok_or_else(|| ApiError::body_path("body.file", "defined", "`undefined`"))?;
    let mut st = lock(&s);
    let id = upload_of(&st, &id)?;
    let now = st.now();
    let limit = st.upload_limit;
    let up = &st.uploads[&id];
    let status = up.status(now);
    if status != "pending" {
        return Err(ApiError::validation(format!(
            "body failed validation: the file upload is `{status}`; only `pending` uploads accept data."
        )));
    }
    let up = st.uploads.get_mut(&id).expect("checked");
    match up.mode {
        UploadMode::SinglePart => {
            if part_number.is_some() {
                return Err(ApiError::validation(
                    "body failed validation: body.part_number is only allowed for multi_part uploads.",
                ));
            }
            let len = file.len() as u64;
            if len > SINGLE_PART_LIMIT {
                return Err(ApiError::validation(format!(
                    "body failed validation: file of {len} bytes exceeds the single_part limit of {SINGLE_PART_LIMIT} bytes; use mode multi_part."
                )));
            }
            if len > limit {
                return Err(ApiError::validation(format!(
                    "body failed validation: file of {len} bytes exceeds the workspace file upload limit of {limit} bytes."
                )));
            }
            if let Some(n) = part_name {
                up.filename = Some(n);
            }
            if up.content_type.is_none() {
                up.content_type = part_type;
            }
            up.data = Some(file);
            up.uploaded = true;
        }
        UploadMode::MultiPart => {
            let total = up.number_of_parts.unwrap_or(1);
            let n: u32 = part_number
                .as_deref()
                .and_then(|p| p.trim().parse().ok())
                .filter(|n| (1..=total).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "body failed validation: body.part_number should be an integer from 1 to {total}, instead was {}.",
                        instead(part_number.as_ref().map(|p| json!(p)).as_ref())
                    ))
                })?;
            if file.len() as u64 > SINGLE_PART_LIMIT {
                return Err(ApiError::validation(format!(
                    "body failed validation: part {n} of {} bytes exceeds 20 MiB.",
                    file.len()
                )));
            }
            if n < total && file.len() < MIN_PART {
                return Err(ApiError::validation(format!(
                    "body failed validation: part {n} of {} bytes is below 5 MiB; only the last part may be smaller.",
                    file.len()
                )));
            }
            up.parts.insert(n, file);
        }
    }
    up.last_edited_time = now;
    Ok(Json(render_upload(&st, &st.uploads[&id])))
}

pub(crate) async fn upload_complete(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
) -> JsonResult {
    let mut st = lock(&s);
    let id = upload_of(&st, &id)?;
    let now = st.now();
    let limit = st.upload_limit;
    let status = st.uploads[&id].status(now);
    let up = st.uploads.get_mut(&id).expect("checked");
    if up.mode != UploadMode::MultiPart {
        return Err(ApiError::validation(
            "body failed validation: only multi_part uploads are completed.",
        ));
    }
    if status != "pending" {
        return Err(ApiError::validation(format!(
            "body failed validation: the file upload is `{status}`; only `pending` uploads can be completed."
        )));
    }
    let total = up.number_of_parts.unwrap_or(1);
    let missing: Vec<String> = (1..=total)
        .filter(|n| !up.parts.contains_key(n))
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(format!(
            "body failed validation: parts {} of {total} were not sent.",
            missing.join(", ")
        )));
    }
    let mut all = Vec::new();
    for p in up.parts.values() {
        all.extend_from_slice(p);
    }
    if all.len() as u64 > limit {
        return Err(ApiError::validation(format!(
            "body failed validation: file of {} bytes exceeds the workspace file upload limit of {limit} bytes.",
            all.len()
        )));
    }
    up.data = Some(Bytes::from(all));
    up.parts.clear();
    up.uploaded = true;
    up.last_edited_time = now;
    Ok(Json(render_upload(&st, &st.uploads[&id])))
}

/// The bytes behind a Notion-hosted URL (no auth, as with Notion's signed URLs).
pub(crate) async fn hosted_file(
    AxState(s): AxState<Shared>,
    Path((id, _name)): Path<(String, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let st = lock(&s);
    let up = Uuid::parse_str(&id).ok().and_then(|id| st.uploads.get(&id));
    match up.and_then(|u| u.data.clone().map(|d| (d, u.content_type.clone()))) {
        Some((data, ct)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                ct.unwrap_or_else(|| "application/octet-stream".into()),
            )],
            data,
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}
