//! Users: references in pages and properties, the integration's bot, and full user objects.

use serde_json::Value;

use super::UserId;
use super::decode::{opt_str, req_str};
use crate::error::Result;

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

    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        Ok(Self {
            id: UserId::new(req_str(v, path, "id")?),
            name: opt_str(v, "name"),
            kind: opt_str(v, "type"),
        })
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
    pub(crate) fn from_response(v: &Value) -> Result<Self> {
        Ok(BotUser {
            id: UserId::new(req_str(v, "user", "id")?),
            name: opt_str(v, "name"),
            workspace_name: v
                .pointer("/bot/workspace_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            max_file_upload_size: v
                .pointer("/bot/workspace_limits/max_file_upload_size_in_bytes")
                .and_then(Value::as_u64),
        })
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
    /// A type this client does not know, or a partial user (`{object, id}` only: an empty
    /// name).
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

    /// Reads a user object; one without an `id` is a
    /// [`NotionError::Decode`](crate::NotionError::Decode).
    pub fn from_response(v: &Value) -> Result<Self> {
        let kind = match opt_str(v, "type").as_deref() {
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
            Some(other) => UserKind::Other(other.to_owned()),
            // A partial user: `{object, id}` only.
            None => UserKind::Other(String::new()),
        };
        Ok(User {
            id: UserId::new(req_str(v, "user", "id")?),
            name: opt_str(v, "name"),
            avatar_url: opt_str(v, "avatar_url"),
            kind,
        })
    }
}
