//! Notion ids: one type per kind of object, compared in Notion's dashed form.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parse an id given with or without dashes; stored in Notion's dashed form.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(normalize_id(id.as_ref()))
            }

            /// The dashed id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// A page id.
    PageId
);
id_type!(
    /// A database (container) id.
    DatabaseId
);
id_type!(
    /// A data source id (2025-09-03: the table that holds pages and the schema).
    DataSourceId
);
id_type!(
    /// A user id (person or bot).
    UserId
);
id_type!(
    /// A file upload id.
    FileUploadId
);
id_type!(
    /// A block id (a page id is also a block id).
    BlockId
);

impl From<&PageId> for BlockId {
    fn from(p: &PageId) -> Self {
        BlockId::new(p.as_str())
    }
}

/// Notion accepts ids with or without dashes and answers dashed; compare in one form.
fn normalize_id(raw: &str) -> String {
    let hex: String = raw.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let h = hex.to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    } else {
        raw.to_owned()
    }
}
