//! The in-memory workspace: users, pages, databases, data sources, blocks and file uploads.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::Rng;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::faults::Faults;
use crate::{LoggedRequest, RateLimit, UserInfo};

/// The double's clock: real time (or a frozen instant) plus whatever `advance_clock` added.
///
/// Injectable so tests can cross the 1-hour upload expiry or a minute boundary without sleeping.
#[derive(Debug)]
pub(crate) struct Clock {
    frozen: bool,
    base: DateTime<Utc>,
    started: Instant,
    offset: TimeDelta,
}

impl Clock {
    pub(crate) fn new(frozen_at: Option<DateTime<Utc>>) -> Self {
        Self {
            frozen: frozen_at.is_some(),
            base: frozen_at.unwrap_or_else(Utc::now),
            started: Instant::now(),
            offset: TimeDelta::zero(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        let running = if self.frozen {
            TimeDelta::zero()
        } else {
            TimeDelta::from_std(self.started.elapsed()).unwrap_or_default()
        };
        self.base + running + self.offset
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.offset += TimeDelta::from_std(by).unwrap_or_default();
    }
}

/// Notion rounds `last_edited_time` down to the minute.
pub(crate) fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// ISO 8601 with milliseconds, as Notion writes it.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentRef {
    Workspace,
    Page(Uuid),
    Database(Uuid),
    DataSource(Uuid),
    Block(Uuid),
}

/// A user: the integration's bot or a person.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub bot: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct PageRec {
    pub id: Uuid,
    pub seq: u64,
    pub parent: ParentRef,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub created_by: Uuid,
    pub last_edited_by: Uuid,
    pub in_trash: bool,
    /// Stored values keyed by property id (see `props` for the stored shapes).
    pub props: HashMap<String, Value>,
    pub children: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub(crate) struct DatabaseRec {
    pub id: Uuid,
    pub parent: ParentRef,
    pub title: Value,
    pub is_inline: bool,
    pub in_trash: bool,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub data_sources: Vec<Uuid>,
}

/// One schema entry.
#[derive(Debug, Clone)]
pub(crate) struct PropSchema {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub config: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct DataSourceRec {
    pub id: Uuid,
    pub database_id: Uuid,
    pub title: Value,
    pub props: Vec<PropSchema>,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub created_by: Uuid,
    pub last_edited_by: Uuid,
}

impl DataSourceRec {
    /// A schema entry by name or by id (requests may use either).
    pub(crate) fn prop(&self, key: &str) -> Option<&PropSchema> {
        self.props
            .iter()
            .find(|p| p.name == key)
            .or_else(|| self.props.iter().find(|p| p.id == key))
    }

    pub(crate) fn prop_mut(&mut self, key: &str) -> Option<&mut PropSchema> {
        let idx = self
            .props
            .iter()
            .position(|p| p.name == key)
            .or_else(|| self.props.iter().position(|p| p.id == key))?;
        self.props.get_mut(idx)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BlockRec {
    pub id: Uuid,
    pub parent: ParentRef,
    pub kind: String,
    pub content: Value,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub children: Vec<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadMode {
    SinglePart,
    MultiPart,
}

#[derive(Debug, Clone)]
pub(crate) struct UploadRec {
    pub id: Uuid,
    pub seq: u64,
    pub mode: UploadMode,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub expiry_time: DateTime<Utc>,
    pub uploaded: bool,
    pub attached: bool,
    pub number_of_parts: Option<u32>,
    pub parts: std::collections::BTreeMap<u32, bytes::Bytes>,
    pub data: Option<bytes::Bytes>,
}

impl UploadRec {
    /// `pending` → `uploaded`; either turns `expired` one hour after creation unless attached.
    pub(crate) fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.attached {
            "uploaded"
        } else if now >= self.expiry_time {
            "expired"
        } else if self.uploaded {
            "uploaded"
        } else {
            "pending"
        }
    }
}

/// Everything the double knows. One mutex guards it; handlers never await while holding it.
#[derive(Debug)]
pub(crate) struct State {
    pub base_url: String,
    pub token: String,
    pub token_revoked: bool,
    pub clock: Clock,
    pub started: Instant,
    pub bot_id: Uuid,
    pub workspace_name: String,
    pub upload_limit: u64,
    pub users: Vec<UserRec>,
    pub pages: HashMap<Uuid, PageRec>,
    pub databases: HashMap<Uuid, DatabaseRec>,
    pub data_sources: HashMap<Uuid, DataSourceRec>,
    pub blocks: HashMap<Uuid, BlockRec>,
    pub uploads: HashMap<Uuid, UploadRec>,
    pub shared: HashSet<Uuid>,
    pub unshared: HashSet<Uuid>,
    pub seq: u64,
    pub log: Vec<LoggedRequest>,
    pub faults: Faults,
    pub latency: Duration,
    pub rendezvous: Option<crate::rendezvous::Rendezvous>,
    pub rate: Option<RateLimit>,
    pub user_info: UserInfo,
    pub limiter: Option<governor::DefaultDirectRateLimiter>,
}

impl State {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn user(&self, id: Uuid) -> Option<&UserRec> {
        self.users.iter().find(|u| u.id == id)
    }

    /// An integration reaches an object shared with it, or any descendant of one, unless the
    /// object (or an ancestor below the shared one) was explicitly unshared.
    pub(crate) fn accessible(&self, id: Uuid) -> bool {
        let mut cur = Some(id);
        let mut hops = 0;
        while let Some(id) = cur {
            if self.unshared.contains(&id) {
                return false;
            }
            if self.shared.contains(&id) {
                return true;
            }
            hops += 1;
            if hops > 64 {
                return false;
            }
            cur = self.parent_of(id).and_then(|p| match p {
                ParentRef::Workspace => None,
                ParentRef::Page(x)
                | ParentRef::Database(x)
                | ParentRef::DataSource(x)
                | ParentRef::Block(x) => Some(x),
            });
        }
        false
    }

    fn parent_of(&self, id: Uuid) -> Option<ParentRef> {
        if let Some(p) = self.pages.get(&id) {
            return Some(p.parent);
        }
        if let Some(d) = self.data_sources.get(&id) {
            return Some(ParentRef::Database(d.database_id));
        }
        if let Some(d) = self.databases.get(&id) {
            return Some(d.parent);
        }
        self.blocks.get(&id).map(|b| b.parent)
    }

    /// A page the integration can reach, else 404.
    pub(crate) fn page(&self, id: Uuid) -> ApiResult<&PageRec> {
        match self.pages.get(&id) {
            Some(p) if self.accessible(id) => Ok(p),
            _ => Err(ApiError::not_found("page", &id.to_string())),
        }
    }

    pub(crate) fn data_source(&self, id: Uuid) -> ApiResult<&DataSourceRec> {
        match self.data_sources.get(&id) {
            Some(d) if self.accessible(id) => Ok(d),
            _ => Err(ApiError::not_found("data_source", &id.to_string())),
        }
    }

    pub(crate) fn database(&self, id: Uuid) -> ApiResult<&DatabaseRec> {
        match self.databases.get(&id) {
            Some(d) if self.accessible(id) => Ok(d),
            _ => Err(ApiError::not_found("database", &id.to_string())),
        }
    }

    /// A fresh short property id, unique within the data source (Notion's are 4 URL-safe chars).
    pub(crate) fn new_prop_id(ds: &DataSourceRec) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        loop {
            let id: String = (0..4)
                .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
                .collect();
            if ds.props.iter().all(|p| p.id != id) && id != "title" {
                return id;
            }
        }
    }

    /// A user as the integration may see it: full when known and the integration has a
    /// user-information capability (`person.email` only with the email capability), else
    /// partial (`{object, id}`).
    pub(crate) fn render_user(&self, id: Uuid) -> Value {
        match self.user(id) {
            _ if self.user_info == UserInfo::None => json!({"object":"user","id":id.to_string()}),
            Some(u) if u.bot => json!({"object":"user","id":u.id.to_string(),"name":u.name,
                "avatar_url":null,"type":"bot","bot":{}}),
            Some(u) => {
                let person = match (&u.email, self.user_info) {
                    (Some(e), UserInfo::WithEmail) => json!({"email": e}),
                    _ => json!({}),
                };
                json!({"object":"user","id":u.id.to_string(),"name":u.name,
                    "avatar_url":null,"type":"person","person":person})
            }
            None => json!({"object":"user","id":id.to_string()}),
        }
    }

    /// The Notion-hosted (1-hour) URL of an attached upload.
    pub(crate) fn hosted_file(&self, upload: Uuid) -> Value {
        let name = self
            .uploads
            .get(&upload)
            .and_then(|u| u.filename.clone())
            .unwrap_or_else(|| "file".into());
        json!({"url": format!("{}/__files/{}/{}", self.base_url, upload, name),
               "expiry_time": iso(self.now() + TimeDelta::hours(1))})
    }
}

/// A page URL the way Notion shapes it (title slug + id without dashes).
pub(crate) fn notion_url(id: Uuid) -> String {
    format!("https://www.notion.so/{}", id.simple())
}

/// Parse an id given with or without dashes.
pub(crate) fn parse_id(raw: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::validation(format!(
            "path failed validation: path.{what} should be a valid uuid, instead was `\"{raw}\"`."
        ))
    })
}

/// Plain text of a stored rich text array.
pub(crate) fn plain_text(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("plain_text").and_then(Value::as_str))
                .collect::<String>()
        })
        .unwrap_or_default()
}
