//! The Notion rows the mirror writes and reads, and every property name, written once: `setup`
//! builds and checks the schemas from these names, and the mirror writes and reads pages through
//! [`TaskRow`], [`AssetRow`] and [`ClipRow`].
//!
//! A row's fields are all optional: `to_properties` writes only the fields that are set (a status
//! push sends Status, Updated, Error Log and Retry Status, nothing else), and `from_page` reads
//! what the page has.

use chrono::{DateTime, Utc};
use reviewdesk_core::Priority;
use reviewdesk_notion::{DateValue, FileValue, Page, PageId, PropertyValue};

/// The Status property, in every database.
const STATUS: &str = "Status";

/// Property names of the Tasks database.
pub mod tasks {
    /// The title.
    pub const TITLE: &str = "Title";
    /// Rich text.
    pub const TOPIC: &str = "Topic";
    /// Select: the channel id.
    pub const CHANNEL: &str = "Channel";
    /// Rich text.
    pub const STORY_DIRECTION: &str = "Story Direction";
    /// Select (or Notion's status type): the board name of the task's status.
    pub const STATUS: &str = super::STATUS;
    /// Select: High / Normal / Low.
    pub const PRIORITY: &str = "Priority";
    /// Rich text: the task's log, newest entries kept.
    pub const ERROR_LOG: &str = "Error Log";
    /// Date: refreshed with every status change.
    pub const UPDATED: &str = "Updated";
    /// Rich text, e.g. "Attempt 3/5 - next 15 min".
    pub const RETRY_STATUS: &str = "Retry Status";
    /// URL.
    pub const YOUTUBE_URL: &str = "YouTube URL";
    /// Number (dollars): what the task's paid generators cost so far, from the cost ledger.
    pub const COST: &str = "Cost";
}

/// Property names of the Assets database.
pub mod assets {
    /// The title: `<asset name> v<version>`.
    pub const NAME: &str = "Name";
    /// Rich text, unique: `<task id>/<asset name>/v<version>` (see [`crate::asset_key`]).
    pub const ASSET_KEY: &str = "Asset Key";
    /// Select: character / environment / prop / composite.
    pub const ASSET_TYPE: &str = "Asset Type";
    /// Select: pending / generated / approved / rejected.
    pub const STATUS: &str = super::STATUS;
    /// Date: when the version was generated.
    pub const GENERATED_DATE: &str = "Generated Date";
    /// Relation to the task's page (two-way).
    pub const TASK: &str = "Task";
    /// Files: the image.
    pub const FILE: &str = "File";
    /// Number: the version.
    pub const VERSION: &str = "Version";
    /// Rich text.
    pub const NOTES: &str = "Notes";
}

/// Property names of the Videos and Audio databases (the asset pattern, by clip).
pub mod clips {
    pub use super::assets::{FILE, NAME, NOTES, STATUS, TASK, VERSION};
    /// Number: the clip's place.
    pub const CLIP_NUMBER: &str = "Clip Number";
    /// Select: scene / broll, or narration / sfx.
    pub const TYPE: &str = "Type";
    /// Number: seconds.
    pub const DURATION: &str = "Duration";
}

/// The Status options of an asset row.
pub mod asset_status {
    /// Not generated yet.
    pub const PENDING: &str = "pending";
    /// Published for review.
    pub const GENERATED: &str = "generated";
    /// Approved with the task's decision.
    pub const APPROVED: &str = "approved";
    /// Flagged for regeneration.
    pub const REJECTED: &str = "rejected";
    /// Every option, in schema order.
    pub const ALL: &[&str] = &[PENDING, GENERATED, APPROVED, REJECTED];
}

/// The Priority options of a task, in schema order.
pub const PRIORITIES: &[&str] = &["High", "Normal", "Low"];

/// The Priority option of a priority.
pub fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::High => PRIORITIES[0],
        Priority::Low => PRIORITIES[2],
        _ => PRIORITIES[1],
    }
}

/// The shape of the Tasks Status property: a select, or Notion's status type (read from the
/// schema; a value is written in the shape the property has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusShape {
    /// `select`.
    Select,
    /// `status`.
    Status,
}

impl StatusShape {
    /// The shape of a property of this Notion type, if it can hold a status.
    pub fn of_kind(kind: &str) -> Option<Self> {
        match kind {
            "select" => Some(Self::Select),
            "status" => Some(Self::Status),
            _ => None,
        }
    }

    /// A value of this shape.
    pub fn value(self, name: &str) -> PropertyValue {
        match self {
            Self::Select => PropertyValue::select(name),
            Self::Status => PropertyValue::status(name),
        }
    }
}

fn text(page: &Page, name: &str) -> Option<String> {
    page.get(name).and_then(PropertyValue::plain_text)
}

/// A page of the Tasks database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRow {
    /// Title (read: the page's title property, whatever its name).
    pub title: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Story Direction.
    pub story_direction: Option<String>,
    /// Channel (the channel id or name).
    pub channel: Option<String>,
    /// Priority option.
    pub priority: Option<String>,
    /// Status (a board name).
    pub status: Option<String>,
    /// Updated.
    pub updated: Option<DateTime<Utc>>,
    /// Error Log (written through [`crate::error_log_value`]: the newest entries that fit).
    pub error_log: Option<String>,
    /// Retry Status.
    pub retry_status: Option<String>,
    /// Cost, in dollars.
    pub cost: Option<f64>,
}

impl TaskRow {
    /// The properties to send: the fields that are set, Status in the property's shape.
    pub fn to_properties(&self, status: StatusShape) -> Vec<(String, PropertyValue)> {
        let mut out: Vec<(String, PropertyValue)> = Vec::new();
        let mut put = |name: &str, v: PropertyValue| out.push((name.into(), v));
        if let Some(t) = &self.title {
            put(tasks::TITLE, PropertyValue::title(t));
        }
        if let Some(t) = &self.topic {
            put(tasks::TOPIC, PropertyValue::text(t));
        }
        if let Some(t) = &self.story_direction {
            put(tasks::STORY_DIRECTION, PropertyValue::text(t));
        }
        if let Some(c) = &self.channel {
            put(tasks::CHANNEL, PropertyValue::select(c));
        }
        if let Some(p) = &self.priority {
            put(tasks::PRIORITY, PropertyValue::select(p));
        }
        if let Some(s) = &self.status {
            put(tasks::STATUS, status.value(s));
        }
        if let Some(at) = self.updated {
            put(
                tasks::UPDATED,
                PropertyValue::Date(Some(DateValue::datetime(at))),
            );
        }
        if let Some(log) = &self.error_log {
            put(tasks::ERROR_LOG, crate::error_log_value(log));
        }
        if let Some(r) = &self.retry_status {
            put(tasks::RETRY_STATUS, PropertyValue::text(r));
        }
        if let Some(c) = self.cost {
            put(tasks::COST, PropertyValue::Number(Some(c)));
        }
        out
    }

    /// What the mirror reads of a Tasks page (Updated is not read: the mirror writes it).
    pub fn from_page(page: &Page) -> Self {
        TaskRow {
            title: Some(page.title()),
            topic: text(page, tasks::TOPIC),
            story_direction: text(page, tasks::STORY_DIRECTION),
            channel: text(page, tasks::CHANNEL),
            priority: text(page, tasks::PRIORITY),
            status: text(page, tasks::STATUS),
            updated: None,
            error_log: text(page, tasks::ERROR_LOG),
            retry_status: text(page, tasks::RETRY_STATUS),
            // The mirror writes Cost; a reviewer's edit of it means nothing.
            cost: None,
        }
    }
}

/// A row of the Assets database: one version of one asset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetRow {
    /// Name (the title).
    pub name: Option<String>,
    /// Asset Key.
    pub key: Option<String>,
    /// Asset Type option.
    pub asset_type: Option<String>,
    /// Status option (see [`asset_status`]).
    pub status: Option<String>,
    /// Generated Date.
    pub generated: Option<DateTime<Utc>>,
    /// Task: the task's page.
    pub task: Option<PageId>,
    /// Version.
    pub version: Option<u32>,
    /// File.
    pub file: Option<FileValue>,
    /// Notes.
    pub notes: Option<String>,
}

impl AssetRow {
    /// The properties to send: the fields that are set.
    pub fn to_properties(&self) -> Vec<(String, PropertyValue)> {
        let mut out: Vec<(String, PropertyValue)> = Vec::new();
        let mut put = |name: &str, v: PropertyValue| out.push((name.into(), v));
        if let Some(n) = &self.name {
            put(assets::NAME, PropertyValue::title(n));
        }
        if let Some(k) = &self.key {
            put(assets::ASSET_KEY, PropertyValue::text(k));
        }
        if let Some(t) = &self.asset_type {
            put(assets::ASSET_TYPE, PropertyValue::select(t));
        }
        if let Some(s) = &self.status {
            put(assets::STATUS, PropertyValue::select(s));
        }
        if let Some(at) = self.generated {
            put(
                assets::GENERATED_DATE,
                PropertyValue::Date(Some(DateValue::datetime(at))),
            );
        }
        if let Some(t) = &self.task {
            put(assets::TASK, PropertyValue::relation([t.clone()]));
        }
        if let Some(v) = self.version {
            put(assets::VERSION, PropertyValue::Number(Some(f64::from(v))));
        }
        if let Some(f) = &self.file {
            put(assets::FILE, PropertyValue::Files(vec![f.clone()]));
        }
        if let Some(n) = &self.notes {
            put(assets::NOTES, PropertyValue::text(n));
        }
        out
    }

    /// What a page of the Assets database says.
    pub fn from_page(page: &Page) -> Self {
        let generated = match page.get(assets::GENERATED_DATE) {
            Some(PropertyValue::Date(Some(d))) => DateTime::parse_from_rfc3339(&d.start)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            _ => None,
        };
        let task = match page.get(assets::TASK) {
            Some(PropertyValue::Relation { ids, .. }) => ids.first().cloned(),
            _ => None,
        };
        let version = whole_number(page, assets::VERSION);
        let file = match page.get(assets::FILE) {
            Some(PropertyValue::Files(f)) => f.first().cloned(),
            _ => None,
        };
        AssetRow {
            name: Some(page.title()),
            key: text(page, assets::ASSET_KEY),
            asset_type: text(page, assets::ASSET_TYPE),
            status: text(page, assets::STATUS),
            generated,
            task,
            version,
            file,
            notes: text(page, assets::NOTES),
        }
    }
}

/// A row of the Videos or Audio database: one version of one scene's clip, narration or effect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClipRow {
    /// Name (the title), e.g. `Clip 03 v2`.
    pub name: Option<String>,
    /// Clip Number: the scene, 1–18.
    pub clip_number: Option<u32>,
    /// Type option: scene (Videos), narration or sfx (Audio).
    pub clip_type: Option<String>,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Status option (the asset statuses, see [`asset_status`]).
    pub status: Option<String>,
    /// Task: the task's page.
    pub task: Option<PageId>,
    /// Version.
    pub version: Option<u32>,
    /// File.
    pub file: Option<FileValue>,
    /// Notes.
    pub notes: Option<String>,
}

impl ClipRow {
    /// The properties to send: the fields that are set.
    pub fn to_properties(&self) -> Vec<(String, PropertyValue)> {
        let mut out: Vec<(String, PropertyValue)> = Vec::new();
        let mut put = |name: &str, v: PropertyValue| out.push((name.into(), v));
        if let Some(n) = &self.name {
            put(clips::NAME, PropertyValue::title(n));
        }
        if let Some(n) = self.clip_number {
            put(
                clips::CLIP_NUMBER,
                PropertyValue::Number(Some(f64::from(n))),
            );
        }
        if let Some(t) = &self.clip_type {
            put(clips::TYPE, PropertyValue::select(t));
        }
        if let Some(d) = self.duration {
            // Tenths of a second are what a reviewer reads.
            put(
                clips::DURATION,
                PropertyValue::Number(Some((d * 10.0).round() / 10.0)),
            );
        }
        if let Some(s) = &self.status {
            put(clips::STATUS, PropertyValue::select(s));
        }
        if let Some(t) = &self.task {
            put(clips::TASK, PropertyValue::relation([t.clone()]));
        }
        if let Some(v) = self.version {
            put(clips::VERSION, PropertyValue::Number(Some(f64::from(v))));
        }
        if let Some(f) = &self.file {
            put(clips::FILE, PropertyValue::Files(vec![f.clone()]));
        }
        if let Some(n) = &self.notes {
            put(clips::NOTES, PropertyValue::text(n));
        }
        out
    }

    /// What a page of the Videos or Audio database says.
    pub fn from_page(page: &Page) -> Self {
        let task = match page.get(clips::TASK) {
            Some(PropertyValue::Relation { ids, .. }) => ids.first().cloned(),
            _ => None,
        };
        let file = match page.get(clips::FILE) {
            Some(PropertyValue::Files(f)) => f.first().cloned(),
            _ => None,
        };
        let duration = match page.get(clips::DURATION) {
            Some(PropertyValue::Number(Some(n))) => Some(*n),
            _ => None,
        };
        ClipRow {
            name: Some(page.title()),
            clip_number: whole_number(page, clips::CLIP_NUMBER),
            clip_type: text(page, clips::TYPE),
            duration,
            status: text(page, clips::STATUS),
            task,
            version: whole_number(page, clips::VERSION),
            file,
            notes: text(page, clips::NOTES),
        }
    }
}

/// A Number property holding a whole, non-negative number.
fn whole_number(page: &Page, name: &str) -> Option<u32> {
    match page.get(name) {
        Some(PropertyValue::Number(Some(n))) if *n >= 0.0 && n.fract() == 0.0 => {
            u32::try_from(*n as u64).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use reviewdesk_notion::{FileSource, Parent, Property, UserRef};

    use super::*;

    /// A page holding these property values, as Notion would return them.
    fn page(props: Vec<(String, PropertyValue)>) -> Page {
        let t = Utc::now();
        Page {
            id: PageId::new("59833787-2cf9-4fdf-8782-e53db20768a5"),
            parent: Parent::Workspace,
            created_time: t,
            last_edited_time: t,
            created_by: UserRef::id("u"),
            last_edited_by: UserRef::id("u"),
            in_trash: false,
            url: None,
            properties: props
                .into_iter()
                .map(|(name, value)| {
                    let id = name.clone();
                    (name, Property { id, value })
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn only_the_fields_set_are_written_status_in_the_property_shape() {
        let row = TaskRow {
            status: Some("Assets Ready".into()),
            error_log: Some("[t] a".into()),
            ..TaskRow::default()
        };
        let props = row.to_properties(StatusShape::Status);
        let names: Vec<&str> = props.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [tasks::STATUS, tasks::ERROR_LOG]);
        assert_eq!(props[0].1, PropertyValue::status("Assets Ready"));
        assert_eq!(
            row.to_properties(StatusShape::Select)[0].1,
            PropertyValue::select("Assets Ready")
        );
    }

    #[test]
    fn task_and_asset_rows_read_back_what_they_write() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T10:00:00.000Z")
            .unwrap()
            .with_timezone(&Utc);
        let task = TaskRow {
            title: Some("A title".into()),
            topic: Some("Topic".into()),
            story_direction: Some("Bluer".into()),
            channel: Some("demo".into()),
            priority: Some(priority_name(Priority::High).into()),
            status: Some("Queued".into()),
            updated: Some(at),
            error_log: Some("[t] one\n[t] two".into()),
            retry_status: Some("Attempt 1/5 - next 1 min".into()),
            cost: Some(7.56),
        };
        let props = task.to_properties(StatusShape::Select);
        assert!(props.contains(&("Cost".into(), PropertyValue::Number(Some(7.56)))));
        let back = TaskRow::from_page(&page(task.to_properties(StatusShape::Select)));
        assert_eq!(
            back,
            TaskRow {
                updated: None,
                cost: None,
                ..task
            }
        );

        let asset = AssetRow {
            name: Some("hero v2".into()),
            key: Some("t/hero/v2".into()),
            asset_type: Some("character".into()),
            status: Some(asset_status::GENERATED.into()),
            generated: Some(at),
            task: Some(PageId::new("p")),
            version: Some(2),
            file: Some(FileValue {
                name: "hero.v2.png".into(),
                source: FileSource::External {
                    url: "https://example.com/hero.png".into(),
                },
            }),
            notes: Some("a note".into()),
        };
        assert_eq!(AssetRow::from_page(&page(asset.to_properties())), asset);

        let clip = ClipRow {
            name: Some("Clip 03 v2".into()),
            clip_number: Some(3),
            clip_type: Some("scene".into()),
            duration: Some(6.4),
            status: Some(asset_status::REJECTED.into()),
            task: Some(PageId::new("p")),
            version: Some(2),
            file: None,
            notes: Some("over 10 s".into()),
        };
        assert_eq!(ClipRow::from_page(&page(clip.to_properties())), clip);
    }
}
