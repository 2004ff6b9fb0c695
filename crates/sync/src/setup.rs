//! `reviewdesk notion init` (create the databases), `reviewdesk notion check` (validate them) and
//! `check --fix` / Settings → Check connection (add what is missing).

use std::path::Path;

use reviewdesk_core::Status;
use reviewdesk_core::config::NotionIds;
use reviewdesk_notion::{
    DataSource, DataSourceId, DataSourceUpdate, DatabaseId, Idempotency, NewDatabase, NotionClient,
    PageId, PropertyConfig, SchemaChange,
};

use crate::error::{Result, SyncError};
use crate::rows::{PRIORITIES, StatusShape, asset_status, assets, clips, tasks};

/// Colours do not matter to the mirror; one keeps the schema readable.
const COLOR: &str = "default";

fn options(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), COLOR.to_string()))
        .collect()
}

/// Every board name, the options of the Tasks Status select.
pub fn status_options() -> Vec<&'static str> {
    Status::ALL.iter().map(|s| s.board_name()).collect()
}

/// The asset row statuses.
pub const ASSET_STATUSES: &[&str] = asset_status::ALL;
/// The asset types.
pub const ASSET_TYPES: &[&str] = &["character", "environment", "prop", "composite"];

/// The Tasks schema (reverse relations are added by the dual relations of the other databases).
pub fn tasks_schema() -> Vec<(String, PropertyConfig)> {
    vec![
        (tasks::TITLE.into(), PropertyConfig::Title),
        (tasks::TOPIC.into(), PropertyConfig::RichText),
        (tasks::CHANNEL.into(), PropertyConfig::Select(vec![])),
        (tasks::STORY_DIRECTION.into(), PropertyConfig::RichText),
        (
            tasks::STATUS.into(),
            PropertyConfig::Select(options(&status_options())),
        ),
        (
            tasks::PRIORITY.into(),
            PropertyConfig::Select(options(PRIORITIES)),
        ),
        (tasks::ERROR_LOG.into(), PropertyConfig::RichText),
        (tasks::UPDATED.into(), PropertyConfig::Date),
        (tasks::RETRY_STATUS.into(), PropertyConfig::RichText),
        (tasks::YOUTUBE_URL.into(), PropertyConfig::Url),
        (tasks::COST.into(), PropertyConfig::Number("dollar".into())),
    ]
}

/// The Assets schema, related to the Tasks data source.
pub fn assets_schema(tasks: &DataSourceId) -> Vec<(String, PropertyConfig)> {
    vec![
        (assets::NAME.into(), PropertyConfig::Title),
        (assets::ASSET_KEY.into(), PropertyConfig::RichText),
        (
            assets::ASSET_TYPE.into(),
            PropertyConfig::Select(options(ASSET_TYPES)),
        ),
        (
            assets::STATUS.into(),
            PropertyConfig::Select(options(ASSET_STATUSES)),
        ),
        (assets::GENERATED_DATE.into(), PropertyConfig::Date),
        (
            assets::TASK.into(),
            PropertyConfig::Relation {
                data_source_id: tasks.clone(),
                dual: true,
            },
        ),
        (assets::FILE.into(), PropertyConfig::Files),
        (
            assets::VERSION.into(),
            PropertyConfig::Number("number".into()),
        ),
        (assets::NOTES.into(), PropertyConfig::RichText),
    ]
}

fn clip_schema(tasks: &DataSourceId, types: &[&str]) -> Vec<(String, PropertyConfig)> {
    vec![
        (clips::NAME.into(), PropertyConfig::Title),
        (
            clips::CLIP_NUMBER.into(),
            PropertyConfig::Number("number".into()),
        ),
        (clips::TYPE.into(), PropertyConfig::Select(options(types))),
        (
            clips::DURATION.into(),
            PropertyConfig::Number("number".into()),
        ),
        (
            clips::STATUS.into(),
            PropertyConfig::Select(options(ASSET_STATUSES)),
        ),
        (
            clips::TASK.into(),
            PropertyConfig::Relation {
                data_source_id: tasks.clone(),
                dual: true,
            },
        ),
        (clips::FILE.into(), PropertyConfig::Files),
        (
            clips::VERSION.into(),
            PropertyConfig::Number("number".into()),
        ),
        (clips::NOTES.into(), PropertyConfig::RichText),
    ]
}

/// The Videos schema.
pub fn videos_schema(tasks: &DataSourceId) -> Vec<(String, PropertyConfig)> {
    clip_schema(tasks, &["scene", "broll"])
}

/// The Audio schema.
pub fn audio_schema(tasks: &DataSourceId) -> Vec<(String, PropertyConfig)> {
    clip_schema(tasks, &["narration", "sfx"])
}

async fn create(
    client: &NotionClient,
    parent: &PageId,
    title: &str,
    properties: Vec<(String, PropertyConfig)>,
) -> Result<(DatabaseId, DataSourceId)> {
    let db = client
        .create_database(&NewDatabase {
            parent_page: parent.clone(),
            title: title.into(),
            properties,
            is_inline: false,
        })
        .await?;
    let ds = db
        .data_sources
        .first()
        .map(|d| d.id.clone())
        .ok_or_else(|| SyncError::Setup(format!("Notion created {title} without a data source")))?;
    Ok((db.id, ds))
}

/// Creates the Tasks, Assets, Videos and Audio databases under `parent` (a page shared with the
/// integration) and returns their ids.
pub async fn init(client: &NotionClient, parent: &PageId, channel_name: &str) -> Result<NotionIds> {
    let (tasks, tasks_ds) = create(
        client,
        parent,
        &format!("{channel_name} — Tasks"),
        tasks_schema(),
    )
    .await?;
    let (assets, _) = create(
        client,
        parent,
        &format!("{channel_name} — Assets"),
        assets_schema(&tasks_ds),
    )
    .await?;
    let (videos, _) = create(
        client,
        parent,
        &format!("{channel_name} — Videos"),
        videos_schema(&tasks_ds),
    )
    .await?;
    let (audio, _) = create(
        client,
        parent,
        &format!("{channel_name} — Audio"),
        audio_schema(&tasks_ds),
    )
    .await?;
    Ok(NotionIds {
        tasks_database_id: Some(tasks.to_string()),
        assets_database_id: Some(assets.to_string()),
        videos_database_id: Some(videos.to_string()),
        audio_database_id: Some(audio.to_string()),
    })
}

/// Writes the database ids into a channel YAML file, keeping every other key.
pub fn write_channel_ids(path: &Path, ids: &NotionIds) -> Result<()> {
    let io = |source| SyncError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| SyncError::Setup(format!("{}: {e}", path.display())))?;
    let map = doc
        .as_mapping_mut()
        .ok_or_else(|| SyncError::Setup(format!("{} is not a YAML mapping", path.display())))?;
    let value = serde_yaml_ng::to_value(ids).map_err(|e| SyncError::Setup(e.to_string()))?;
    map.insert("notion".into(), value);
    let out = serde_yaml_ng::to_string(&doc).map_err(|e| SyncError::Setup(e.to_string()))?;
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, out).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// One finding of `check`: what is wrong and the exact fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which database.
    pub database: String,
    /// What is wrong and how to fix it (the expected type is named).
    pub message: String,
    /// [`add_missing`] can fix it through the API (a missing property or select option); a
    /// property of the wrong type is never changed for the creator, since that loses its values.
    pub fixable: bool,
}

/// One change made by [`add_missing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Which database.
    pub database: String,
    /// What was added.
    pub message: String,
}

/// One difference between a data source and the schema Review Desk needs.
enum Issue {
    /// The property does not exist; `Some` holds what the API can create.
    Missing {
        kind: String,
        config: Option<PropertyConfig>,
    },
    /// The property exists with another type.
    WrongType { kind: String, found: String },
    /// A select lacks options; `fix` is the full option list to send (Notion replaces the list,
    /// so the existing options go along with their colours) or `None` when the API cannot add
    /// them (a `status` property's options can only be edited in Notion).
    MissingOptions {
        missing: Vec<String>,
        fix: Option<PropertyConfig>,
    },
}

impl Issue {
    fn findings(&self, database: &str, name: &str) -> Vec<Finding> {
        let f = |message: String, fixable: bool| Finding {
            database: database.into(),
            message,
            fixable,
        };
        match self {
            Issue::Missing { kind, config } => {
                if kind == "title" {
                    vec![f(
                        format!(
                            "property \"{name}\" is missing: rename the database's title property to \"{name}\" in Notion (type title)"
                        ),
                        false,
                    )]
                } else {
                    vec![f(
                        format!("property \"{name}\" is missing: add it in Notion as type {kind}"),
                        config.is_some(),
                    )]
                }
            }
            Issue::WrongType { kind, found } => vec![f(
                format!(
                    "property \"{name}\" is of type {found} but must be {kind}: change its type in Notion"
                ),
                false,
            )],
            Issue::MissingOptions { missing, fix } => missing
                .iter()
                .map(|o| {
                    if fix.is_some() {
                        f(
                            format!("property \"{name}\" (select) lacks the option \"{o}\": add it"),
                            true,
                        )
                    } else {
                        f(
                            format!(
                                "property \"{name}\" (status) lacks the option \"{o}\": add it in Notion (the API cannot change a status property's options)"
                            ),
                            false,
                        )
                    }
                })
                .collect(),
        }
    }
}

fn kind_of(cfg: &PropertyConfig) -> String {
    cfg.to_json()
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default()
}

/// Compares a data source with the wanted schema. `relations_known` is false when the Tasks data
/// source could not be read, so a missing relation to it cannot be created.
fn compare(
    ds: &DataSource,
    wanted: &[(String, PropertyConfig)],
    relations_known: bool,
) -> Vec<(String, Issue)> {
    let mut out = Vec::new();
    for (name, cfg) in wanted {
        let kind = kind_of(cfg);
        match ds.properties.get(name) {
            None => {
                // A data source has exactly one title: a missing "Title" is a renamed one.
                let creatable = kind != "title"
                    && (relations_known || !matches!(cfg, PropertyConfig::Relation { .. }));
                out.push((
                    name.clone(),
                    Issue::Missing {
                        kind,
                        config: creatable.then(|| cfg.clone()),
                    },
                ));
            }
            Some(p) => {
                // Every database's Status may be Notion's status type; the mirror writes that shape.
                let ok = p.kind == kind
                    || (name == tasks::STATUS && StatusShape::of_kind(&p.kind).is_some());
                if !ok {
                    out.push((
                        name.clone(),
                        Issue::WrongType {
                            kind,
                            found: p.kind.clone(),
                        },
                    ));
                    continue;
                }
                // Channel's options are the creator's own; only the mirror's fixed sets matter.
                if let PropertyConfig::Select(opts) = cfg
                    && name != tasks::CHANNEL
                {
                    let missing: Vec<(String, String)> = opts
                        .iter()
                        .filter(|(o, _)| !p.options.iter().any(|x| &x.name == o))
                        .cloned()
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let fix = (p.kind == "select").then(|| {
                        let mut all: Vec<(String, String)> = p
                            .options
                            .iter()
                            .map(|o| {
                                (
                                    o.name.clone(),
                                    o.color.clone().unwrap_or_else(|| COLOR.into()),
                                )
                            })
                            .collect();
                        all.extend(missing.iter().cloned());
                        PropertyConfig::Select(all)
                    });
                    out.push((
                        name.clone(),
                        Issue::MissingOptions {
                            missing: missing.into_iter().map(|(n, _)| n).collect(),
                            fix,
                        },
                    ));
                }
            }
        }
    }
    out
}

/// A database as `check` sees it: readable with its differences, or a finding saying why not.
enum Inspected {
    Readable {
        label: &'static str,
        ds: DataSourceId,
        issues: Vec<(String, Issue)>,
    },
    Unreadable(Finding),
}

async fn inspect(client: &NotionClient, ids: &NotionIds) -> Result<Vec<Inspected>> {
    client.me().await?;
    let mut out = Vec::new();
    let mut tasks_ds = None;
    let all = [
        ("Tasks", &ids.tasks_database_id),
        ("Assets", &ids.assets_database_id),
        ("Videos", &ids.videos_database_id),
        ("Audio", &ids.audio_database_id),
    ];
    for (label, id) in all {
        let unreadable = |message: String| {
            Inspected::Unreadable(Finding {
                database: label.into(),
                message,
                fixable: false,
            })
        };
        let Some(id) = id else {
            out.push(unreadable(format!(
                "no {} id in the channel file: run `reviewdesk notion init --parent-page <page id> --channel <channel>`",
                label.to_lowercase()
            )));
            continue;
        };
        let ds = match client.data_source_ids(&DatabaseId::new(id)).await {
            Ok(list) if !list.is_empty() => list[0].id.clone(),
            Ok(_) => {
                out.push(unreadable("the database has no data source".into()));
                continue;
            }
            Err(e) => {
                out.push(unreadable(format!(
                    "{e} — share the database with the integration (… → Connections)"
                )));
                continue;
            }
        };
        let schema = client.retrieve_data_source(&ds).await?;
        let placeholder = DataSourceId::new("00000000-0000-0000-0000-000000000000");
        let t = tasks_ds.clone().unwrap_or(placeholder);
        let wanted = match label {
            "Tasks" => {
                tasks_ds = Some(ds.clone());
                tasks_schema()
            }
            "Assets" => assets_schema(&t),
            "Videos" => videos_schema(&t),
            _ => audio_schema(&t),
        };
        let issues = compare(&schema, &wanted, tasks_ds.is_some());
        out.push(Inspected::Readable { label, ds, issues });
    }
    Ok(out)
}

/// Validates the token, access to every database and every property; each finding names the fix
/// and says whether [`add_missing`] can make it.
pub async fn check(client: &NotionClient, ids: &NotionIds) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for db in inspect(client, ids).await? {
        match db {
            Inspected::Unreadable(f) => out.push(f),
            Inspected::Readable { label, issues, .. } => {
                for (name, issue) in &issues {
                    out.extend(issue.findings(label, name));
                }
            }
        }
    }
    Ok(out)
}

/// Adds exactly the missing properties and select options that the API can add (one
/// `PATCH /v1/data_sources/{id}` per database that needs it) and nothing else: a property of the
/// wrong type is left for the creator. Running it again adds nothing.
pub async fn add_missing(client: &NotionClient, ids: &NotionIds) -> Result<Vec<Added>> {
    let mut added = Vec::new();
    for db in inspect(client, ids).await? {
        let Inspected::Readable { label, ds, issues } = db else {
            continue;
        };
        let mut update = DataSourceUpdate::default();
        for (name, issue) in issues {
            match issue {
                Issue::Missing {
                    kind,
                    config: Some(cfg),
                } => {
                    added.push(Added {
                        database: label.into(),
                        message: format!("added property \"{name}\" (type {kind})"),
                    });
                    update.properties.push((name, SchemaChange::Set(cfg)));
                }
                Issue::MissingOptions {
                    missing,
                    fix: Some(cfg),
                } => {
                    for o in &missing {
                        added.push(Added {
                            database: label.into(),
                            message: format!("added the option \"{o}\" to \"{name}\""),
                        });
                    }
                    update.properties.push((name, SchemaChange::Set(cfg)));
                }
                _ => {}
            }
        }
        if update.properties.is_empty() {
            continue;
        }
        // Setting the same properties twice leaves the same schema, so a retry is harmless.
        client
            .update_data_source(&ds, &update, Idempotency::Idempotent)
            .await?;
    }
    Ok(added)
}
