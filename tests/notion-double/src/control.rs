//! Controls for tests: the Rust API behind [`crate::NotionDouble`]'s methods and the same
//! operations as HTTP routes under `/__control` (for other processes and languages).

use std::time::Duration;

use axum::extract::{Path, State as AxState};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::faults::{FaultRule, RandomFaults};
use crate::rendezvous::{Rendezvous, RendezvousRule};
use crate::state::{PageRec, ParentRef, State, UserRec, parse_id};
use crate::{LoggedRequest, RateLimit, Shared, api, server};

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn requests(s: &Shared) -> Vec<LoggedRequest> {
    lock(s).log.clone()
}

pub(crate) fn clear_requests(s: &Shared) {
    lock(s).log.clear();
}

pub(crate) fn advance_clock(s: &Shared, by: Duration) {
    lock(s).clock.advance(by);
}

pub(crate) fn set_rate_limit(s: &Shared, rate: Option<RateLimit>) {
    let mut st = lock(s);
    st.limiter = rate.as_ref().map(server::limiter);
    st.rate = rate;
}

pub(crate) fn add_person(s: &Shared, name: &str, email: Option<&str>) -> Uuid {
    let id = Uuid::new_v4();
    lock(s).users.push(UserRec {
        id,
        name: name.to_owned(),
        email: email.map(str::to_owned),
        bot: false,
    });
    id
}

/// A workspace-level page (as a person would create it), optionally shared with the integration.
pub(crate) fn seed_page(s: &Shared, title: &str, shared: bool) -> Uuid {
    let mut st = lock(s);
    let id = Uuid::new_v4();
    let now = st.now();
    let seq = st.next_seq();
    let owner = st.users.iter().find(|u| !u.bot).map_or(st.bot_id, |u| u.id);
    let mut props = std::collections::HashMap::new();
    props.insert(
        "title".to_owned(),
        crate::props::rich_text(Some(&json!([{"text":{"content":title}}])), "title")
            .unwrap_or_else(|_| json!([])),
    );
    st.pages.insert(
        id,
        PageRec {
            id,
            seq,
            parent: ParentRef::Workspace,
            created_time: now,
            last_edited_time: now,
            created_by: owner,
            last_edited_by: owner,
            in_trash: false,
            props,
            children: Vec::new(),
        },
    );
    if shared {
        st.shared.insert(id);
    }
    id
}

fn known(st: &State, id: Uuid) -> bool {
    st.pages.contains_key(&id)
        || st.databases.contains_key(&id)
        || st.data_sources.contains_key(&id)
        || st.blocks.contains_key(&id)
}

pub(crate) fn share(s: &Shared, id: &str, on: bool) -> ApiResult<()> {
    let mut st = lock(s);
    let id = parse_id(id, "id")?;
    if !known(&st, id) {
        return Err(ApiError::not_found("object", &id.to_string()));
    }
    if on {
        st.unshared.remove(&id);
        st.shared.insert(id);
    } else {
        st.shared.remove(&id);
        st.unshared.insert(id);
    }
    Ok(())
}

/// Edit a page the way a person does in Notion: `last_edited_by` becomes that person and
/// `last_edited_time` moves to now. `body` is a page update body (`properties`, `in_trash`).
pub(crate) fn edit_page_as(s: &Shared, page: &str, user: &str, body: &Value) -> ApiResult<Value> {
    let mut st = lock(s);
    let page = parse_id(page, "page_id")?;
    let user = parse_id(user, "user_id")?;
    if st.user(user).is_none_or(|u| u.bot) {
        return Err(ApiError::not_found("user", &user.to_string()));
    }
    if !st.pages.contains_key(&page) {
        return Err(ApiError::not_found("page", &page.to_string()));
    }
    // A person edits pages whether or not they are shared with the integration.
    let was_unshared = !st.accessible(page);
    if was_unshared {
        st.shared.insert(page);
    }
    let out = api::update_page(&mut st, page, body, user);
    if was_unshared {
        st.shared.remove(&page);
    }
    out
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

#[derive(Deserialize)]
struct Millis {
    millis: u64,
}

#[derive(Deserialize)]
struct Bytes {
    bytes: u64,
}

#[derive(Deserialize)]
struct UserInfoBody {
    user_info: crate::UserInfo,
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    email: Option<String>,
}

#[derive(Deserialize)]
struct NewPage {
    title: String,
    #[serde(default = "yes")]
    shared: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Edit {
    user_id: String,
    #[serde(flatten)]
    body: Value,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route(
            "/info",
            get(|AxState(s): AxState<Shared>| async move {
                let st = lock(&s);
                Json(json!({"url": st.base_url, "token": st.token, "bot_id": st.bot_id.to_string(),
                    "now": crate::state::iso(st.now()), "upload_limit": st.upload_limit,
                    "rate_limit": st.rate}))
            }),
        )
        .route(
            "/requests",
            get(|AxState(s): AxState<Shared>| async move { Json(requests(&s)) }).delete(
                |AxState(s): AxState<Shared>| async move {
                    clear_requests(&s);
                    Json(json!({}))
                },
            ),
        )
        .route(
            "/clock/advance",
            post(|AxState(s): AxState<Shared>, Json(a): Json<Advance>| async move {
                advance_clock(&s, Duration::from_secs_f64(a.seconds.max(0.0)));
                Json(json!({"now": crate::state::iso(lock(&s).now())}))
            }),
        )
        .route(
            "/faults",
            post(|AxState(s): AxState<Shared>, Json(r): Json<FaultRule>| async move {
                lock(&s).faults.add(r);
                Json(json!({}))
            })
            .delete(|AxState(s): AxState<Shared>| async move {
                lock(&s).faults.clear();
                Json(json!({}))
            }),
        )
        .route(
            "/faults/random",
            post(|AxState(s): AxState<Shared>, Json(r): Json<RandomFaults>| async move {
                lock(&s).faults.add_random(r);
                Json(json!({}))
            }),
        )
        .route(
            "/latency",
            put(|AxState(s): AxState<Shared>, Json(m): Json<Millis>| async move {
                lock(&s).latency = Duration::from_millis(m.millis);
                Json(json!({}))
            }),
        )
        .route(
            "/rendezvous",
            post(
                |AxState(s): AxState<Shared>, Json(r): Json<RendezvousRule>| async move {
                    lock(&s).rendezvous = Some(Rendezvous::new(r));
                    Json(json!({}))
                },
            )
            .get(|AxState(s): AxState<Shared>| async move {
                Json(json!(lock(&s).rendezvous.as_ref().map(Rendezvous::state)))
            })
            .delete(|AxState(s): AxState<Shared>| async move {
                lock(&s).rendezvous = None;
                Json(json!({}))
            }),
        )
        .route(
            "/rate_limit",
            put(|AxState(s): AxState<Shared>, Json(r): Json<Option<RateLimit>>| async move {
                set_rate_limit(&s, r);
                Json(json!({}))
            }),
        )
        .route(
            "/upload_limit",
            put(|AxState(s): AxState<Shared>, Json(b): Json<Bytes>| async move {
                lock(&s).upload_limit = b.bytes;
                Json(json!({}))
            }),
        )
        .route(
            "/user_info",
            put(|AxState(s): AxState<Shared>, Json(u): Json<UserInfoBody>| async move {
                lock(&s).user_info = u.user_info;
                Json(json!({}))
            }),
        )
        .route(
            "/users",
            post(|AxState(s): AxState<Shared>, Json(u): Json<NewUser>| async move {
                Json(json!({"id": add_person(&s, &u.name, u.email.as_deref()).to_string()}))
            }),
        )
        .route(
            "/pages",
            post(|AxState(s): AxState<Shared>, Json(p): Json<NewPage>| async move {
                Json(json!({"id": seed_page(&s, &p.title, p.shared).to_string()}))
            }),
        )
        .route(
            "/pages/{id}/edit",
            post(
                |AxState(s): AxState<Shared>, Path(id): Path<String>, Json(e): Json<Edit>| async move {
                    edit_page_as(&s, &id, &e.user_id, &e.body).map(Json)
                },
            ),
        )
        .route(
            "/share/{id}",
            post(|AxState(s): AxState<Shared>, Path(id): Path<String>| async move {
                share(&s, &id, true).map(|()| Json(json!({})))
            }),
        )
        .route(
            "/unshare/{id}",
            post(|AxState(s): AxState<Shared>, Path(id): Path<String>| async move {
                share(&s, &id, false).map(|()| Json(json!({})))
            }),
        )
        .route(
            "/token/revoke",
            post(|AxState(s): AxState<Shared>| async move {
                lock(&s).token_revoked = true;
                Json(json!({}))
            }),
        )
        .route(
            "/token",
            put(|AxState(s): AxState<Shared>, Json(t): Json<Token>| async move {
                let mut st = lock(&s);
                st.token = t.token;
                st.token_revoked = false;
                Json(json!({}))
            }),
        )
        .layer(axum::middleware::from_fn(server::render_errors))
}
