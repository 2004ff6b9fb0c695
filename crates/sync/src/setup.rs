//! `reviewdesk notion init` (create the databases) and `reviewdesk notion check` (validate them).

use std::path::Path;

use reviewdesk_core::Status;
use reviewdesk_core::config::NotionIds;
use reviewdesk_notion::{
    DataSource, DataSourceId, DatabaseId, NewDatabase, NotionClient, PageId, PropertyConfig,
};

use crate::error::{Result, SyncError};

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
pub const ASSET_STATUSES: &[&str] = &["pending", "generated", "approved", "rejected"];
/// The asset types.
pub const ASSET_TYPES: &[&str] = &["character", "environment", "prop", "composite"];

/// The Tasks schema (reverse relations are added by the dual relations of the other databases).
pub fn tasks_schema() -> Vec<(String, PropertyConfig)> {
    vec![
        ("Title".into(), PropertyConfig::Title),
        ("Topic".into(), PropertyConfig::RichText),
        ("Channel".into(), PropertyConfig::Select(vec![])),
        ("Story Direction".into(), PropertyConfig::RichText),
        (
            "Status".into(),
            PropertyConfig::Select(options(&status_options())),
        ),
        (
            "Priority".into(),
            PropertyConfig::Select(options(&["High", "Normal", "Low"])),
        ),
        ("Error Log".into(), PropertyConfig::RichText),
        ("Updated".into(), PropertyConfig::Date),
        ("Retry Status".into(), PropertyConfig::RichText),
        ("YouTube URL".into(), PropertyConfig::Url),
    ]
}

/// The Assets schema, related to the Tasks data source.
pub fn assets_schema(tasks: &DataSourceId) -> Vec<(String, PropertyConfig)> {
    vec![
        ("Name".into(), PropertyConfig::Title),
        ("Asset Key".into(), PropertyConfig::RichText),
        (
            "Asset Type".into(),
            PropertyConfig::Select(options(ASSET_TYPES)),
        ),
        (
            "Status".into(),
            PropertyConfig::Select(options(ASSET_STATUSES)),
        ),
        ("Generated Date".into(), PropertyConfig::Date),
        (
            "Task".into(),
            PropertyConfig::Relation {
                data_source_id: tasks.clone(),
                dual: true,
            },
        ),
        ("File".into(), PropertyConfig::Files),
        ("Version".into(), PropertyConfig::Number("number".into())),
        ("Notes".into(), PropertyConfig::RichText),
    ]
}

fn clip_schema(tasks: &DataSourceId, types: &[&str]) -> Vec<(String, PropertyConfig)> {
    vec![
        ("Name".into(), PropertyConfig::Title),
        (
            "Clip Number".into(),
            PropertyConfig::Number("number".into()),
        ),
        ("Type".into(), PropertyConfig::Select(options(types))),
        ("Duration".into(), PropertyConfig::Number("number".into())),
        (
            "Status".into(),
            PropertyConfig::Select(options(ASSET_STATUSES)),
        ),
        (
            "Task".into(),
            PropertyConfig::Relation {
                data_source_id: tasks.clone(),
                dual: true,
            },
        ),
        ("File".into(), PropertyConfig::Files),
        ("Version".into(), PropertyConfig::Number("number".into())),
        ("Notes".into(), PropertyConfig::RichText),
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
    /// What is wrong and how to fix it.
    pub message: String,
}

fn compare(
    database: &str,
    ds: &DataSource,
    wanted: &[(String, PropertyConfig)],
    out: &mut Vec<Finding>,
) {
    for (name, cfg) in wanted {
        let json = cfg.to_json();
        let kind = json
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        let mut push = |message: String| {
            out.push(Finding {
                database: database.into(),
                message,
            })
        };
        match ds.properties.get(name) {
            None => push(format!(
                "property \"{name}\" is missing: add it in Notion as type {kind}"
            )),
            Some(p) => {
                let ok = p.kind == kind || (name == "Status" && p.kind == "status");
                if !ok {
                    push(format!(
                        "property \"{name}\" is of type {} but must be {kind}: change its type in Notion",
                        p.kind
                    ));
                    continue;
                }
                if let PropertyConfig::Select(opts) = cfg
                    && name != "Channel"
                {
                    for (o, _) in opts {
                        if !p.options.iter().any(|x| &x.name == o) {
                            push(format!(
                                "property \"{name}\" lacks the option \"{o}\": add it"
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Validates the token, access to every database and every property; each finding names the fix.
pub async fn check(client: &NotionClient, ids: &NotionIds) -> Result<Vec<Finding>> {
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
        let Some(id) = id else {
            out.push(Finding {
                database: label.into(),
                message: format!(
                    "no {} id in the channel file: run `reviewdesk notion init --parent-page <page id> --channel <channel>`",
                    label.to_lowercase()
                ),
            });
            continue;
        };
        let ds = match client.data_source_ids(&DatabaseId::new(id)).await {
            Ok(list) if !list.is_empty() => list[0].id.clone(),
            Ok(_) => {
                out.push(Finding {
                    database: label.into(),
                    message: "the database has no data source".into(),
                });
                continue;
            }
            Err(e) => {
                out.push(Finding {
                    database: label.into(),
                    message: format!(
                        "{e} — share the database with the integration (… → Connections)"
                    ),
                });
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
        compare(label, &schema, &wanted, &mut out);
    }
    Ok(out)
}
