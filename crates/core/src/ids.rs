//! Identifiers parsed once at the boundary; inside the core nothing is a bare string.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::error::CoreError;

/// A task's id (UUID v7, so ids sort by creation time).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl TaskId {
    /// A fresh time-ordered id.
    pub fn new() -> Self {
        TaskId(Uuid::now_v7())
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TaskId {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(TaskId)
            .map_err(|_| CoreError::invalid("task id", format!("{s:?} is not a task id (a UUID)")))
    }
}

/// True when `s` matches `^[a-zA-Z0-9_-]{1,100}$` (asset names, task ids as path parts).
pub fn is_safe_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a name.
            pub fn parse(s: impl Into<String>) -> Result<Self, CoreError> {
                let s = s.into();
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok($name(s))
                } else {
                    Err(CoreError::invalid($field, format!("{s:?} must match {}", $rule)))
                }
            }
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

validated_name!(
    /// An asset's name, safe to use as a file name.
    AssetName,
    "asset name",
    is_safe_identifier,
    "^[a-zA-Z0-9_-]{1,100}$"
);

validated_name!(
    /// A channel's id (`^[a-zA-Z0-9_]+$`).
    ChannelId,
    "channel_id",
    |s| !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
    "^[a-zA-Z0-9_]{1,100}$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(AssetName::parse("hero_01-a").is_ok());
        for bad in ["", "../etc", "a/b", "a b", "é", &"x".repeat(101)] {
            let e = AssetName::parse(bad).unwrap_err();
            assert!(e.to_string().contains("asset name"), "{e}");
        }
        assert!(ChannelId::parse("my_channel").is_ok());
        assert!(ChannelId::parse("my-channel").is_err());
        assert!("not-a-uuid".parse::<TaskId>().is_err());
    }
}
