//! The channel editor: the few settings a creator changes in the window (name, id, how many tasks at
//! once, storage, budget, narration voice, active), written into the channel's YAML file.
//!
//! The file stays the creator's: only the lines of the edited keys change (their trailing comments
//! stay), keys the file lacks are added at its end, and everything else is kept as written. The
//! result is read back with the same validation as at start-up before it replaces the file
//! (atomically), and the channels are reloaded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ChannelConfig, StorageStrategy};
use crate::context::Core;
use crate::error::{CoreError, Result};
use crate::ids::ChannelId;

/// What the channel editor shows and saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ChannelForm {
    /// The id of the channel being edited; absent for a new channel.
    #[serde(default)]
    #[ts(optional)]
    pub original_id: Option<String>,
    /// Its id (`[A-Za-z0-9_]`, at most 100): the name of its file and of its tasks' folders.
    pub channel_id: String,
    /// Its display name.
    pub channel_name: String,
    /// Tasks of this channel worked on at once (1–10).
    pub max_concurrent: u32,
    /// How files reach Notion: `none`, `notion` or `r2`.
    pub storage_strategy: String,
    /// The daily budget of paid calls in US dollars; none for no limit.
    #[serde(default)]
    pub budget_daily_usd: Option<f64>,
    /// The espeak-ng voice of the built-in narration (`en-us`).
    pub narration_voice: String,
    /// Inactive channels get no new work.
    pub is_active: bool,
}

impl ChannelForm {
    /// The form of a channel as it is configured.
    pub fn of(c: &ChannelConfig) -> ChannelForm {
        ChannelForm {
            original_id: Some(c.channel_id.to_string()),
            channel_id: c.channel_id.to_string(),
            channel_name: c.channel_name.clone(),
            max_concurrent: c.max_concurrent,
            storage_strategy: storage_name(c.storage_strategy).into(),
            budget_daily_usd: c.budget_daily_usd,
            narration_voice: c.narration.voice.clone(),
            is_active: c.is_active,
        }
    }

    /// Every field checked, each error naming its field.
    fn check(&self) -> Result<()> {
        ChannelId::parse(self.channel_id.trim())?;
        if self.channel_name.trim().is_empty() {
            return Err(CoreError::invalid("channel_name", "enter a name"));
        }
        if self.channel_name.chars().count() > 200 || self.channel_name.contains('\n') {
            return Err(CoreError::invalid(
                "channel_name",
                "one line of at most 200 characters",
            ));
        }
        if !(1..=10).contains(&self.max_concurrent) {
            return Err(CoreError::invalid(
                "max_concurrent",
                format!("{} is outside 1–10", self.max_concurrent),
            ));
        }
        if !["none", "notion", "r2"].contains(&self.storage_strategy.as_str()) {
            return Err(CoreError::invalid(
                "storage_strategy",
                format!("{:?} is not none, notion or r2", self.storage_strategy),
            ));
        }
        if let Some(b) = self.budget_daily_usd
            && (!b.is_finite() || b < 0.0)
        {
            return Err(CoreError::invalid(
                "budget_daily_usd",
                "enter zero or more dollars, or leave it empty for no limit",
            ));
        }
        Ok(())
    }
}

fn storage_name(s: StorageStrategy) -> &'static str {
    match s {
        StorageStrategy::None => "none",
        StorageStrategy::Notion => "notion",
        StorageStrategy::R2 => "r2",
    }
}

/// A channel's form.
pub fn channel_form(core: &Core, id: &str) -> Result<ChannelForm> {
    Ok(ChannelForm::of(&core.channel(&ChannelId::parse(id)?)?))
}

/// Saves the form into the channel's file (a new file `channels/{id}.yaml` for a new channel or
/// one without a file yet), reloads the channels and answers the form as now configured.
pub async fn save_channel(core: &Core, form: ChannelForm) -> Result<ChannelForm> {
    form.check()?;
    let id = form.channel_id.trim().to_string();
    let dir = core.config_dir.join("channels");
    let files = channel_files(&dir)?;
    let original = form
        .original_id
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    let known = |c: &str| core.channels().iter().any(|k| k.channel_id.as_str() == c);
    match original {
        Some(o) if !known(o) => {
            return Err(CoreError::invalid(
                "original_id",
                format!("there is no channel {o:?} to change; leave it empty for a new channel"),
            ));
        }
        Some(o) if o != id => {
            return Err(CoreError::invalid(
                "channel_id",
                "a channel's id cannot change (its tasks and folders are named by it): add a new channel instead",
            ));
        }
        None if known(&id) => {
            return Err(CoreError::invalid(
                "channel_id",
                format!("there is already a channel {id}: edit it, or choose another id"),
            ));
        }
        _ => {}
    }
    let existing = original.and_then(|o| files.iter().find(|(fid, _)| fid == o));
    let (path, text) = match existing {
        Some((_, path)) => (
            path.clone(),
            std::fs::read_to_string(path).map_err(|e| CoreError::io("cannot read", path, e))?,
        ),
        None => (dir.join(format!("{id}.yaml")), String::new()),
    };
    if existing.is_none() && path.exists() {
        return Err(CoreError::invalid(
            "channel_id",
            format!("{} exists and names another channel", path.display()),
        ));
    }
    let mut text = text;
    set_top(&mut text, "channel_id", &id);
    set_top(
        &mut text,
        "channel_name",
        &yaml_string(form.channel_name.trim()),
    );
    set_top(
        &mut text,
        "max_concurrent",
        &form.max_concurrent.to_string(),
    );
    set_top(&mut text, "storage_strategy", &form.storage_strategy);
    match form.budget_daily_usd {
        Some(b) => set_top(&mut text, "budget_daily_usd", &b.to_string()),
        None => remove_top(&mut text, "budget_daily_usd"),
    }
    set_top(
        &mut text,
        "is_active",
        if form.is_active { "true" } else { "false" },
    );
    set_nested(
        &mut text,
        "narration",
        "voice",
        &yaml_string(form.narration_voice.trim()),
    );
    let config = ChannelConfig::parse(&text, &path.display().to_string()).map_err(|e| match e {
        // What only the file can get wrong (the voice's letters, R2 without its section) is said
        // as the file says it.
        CoreError::Config { message, .. } => {
            let field = message.split(':').next().unwrap_or("channel").trim();
            let field = if field == "narration.voice" {
                "narration_voice"
            } else {
                field
            };
            CoreError::invalid(field, message.clone())
        }
        other => other,
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| CoreError::io("cannot create", &dir, e))?;
    crate::workspace::write_atomic_abs(&path, text.as_bytes())?;
    core.reload_channels().await?;
    Ok(ChannelForm::of(&config))
}

/// The file that defines channel `id`, if one does (the built-in default channel has none).
pub fn file_of(core: &Core, id: &str) -> Result<Option<PathBuf>> {
    Ok(channel_files(&core.config_dir.join("channels"))?
        .into_iter()
        .find(|(fid, _)| fid == id)
        .map(|(_, p)| p))
}

/// (channel id, file) of every readable channel file.
fn channel_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if !matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) || !p.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        if let Ok(c) = ChannelConfig::parse(&text, &p.display().to_string()) {
            out.push((c.channel_id.to_string(), p));
        }
    }
    Ok(out)
}

/// A string as a YAML scalar that reads back as exactly it (quoted when plain would not).
fn yaml_string(s: &str) -> String {
    serde_yaml_ng::to_string(s)
        .map(|y| y.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// The top-level line `key: …` (not indented), if any.
fn top_line(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        if let Some(rest) = line.strip_prefix(key)
            && rest.starts_with(':')
        {
            return Some((start, end));
        }
        start = end;
    }
    None
}

/// The comment after a value on its line (`  # why`), kept when the value changes.
fn trailing_comment(line: &str) -> &str {
    // A ` #` outside quotes starts a comment; values written here have no ` #` inside quotes
    // except in a quoted name, which is replaced whole anyway.
    match line.find(" #") {
        Some(i) if !line[..i].contains('"') && !line[..i].contains('\'') => {
            // With the spaces before it, as the creator aligned it.
            let start = line[..i].trim_end().len();
            &line[start..]
        }
        _ => "",
    }
}

fn set_top(text: &mut String, key: &str, value: &str) {
    match top_line(text, key) {
        Some((start, end)) => {
            let old = text[start..end].trim_end_matches('\n');
            let comment = trailing_comment(old).to_string();
            text.replace_range(start..end, &format!("{key}: {value}{comment}\n"));
        }
        None => {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{key}: {value}\n"));
        }
    }
}

fn remove_top(text: &mut String, key: &str) {
    if let Some((start, end)) = top_line(text, key) {
        text.replace_range(start..end, "");
    }
}

/// Sets `parent.key` in a block mapping (`parent:` then indented lines), adding what is missing.
fn set_nested(text: &mut String, parent: &str, key: &str, value: &str) {
    let Some((start, end)) = top_line(text, parent) else {
        set_top(text, parent, "");
        if text.ends_with(&format!("{parent}: \n")) {
            let len = text.len();
            text.replace_range(len - 2..len, "\n");
        }
        text.push_str(&format!("  {key}: {value}\n"));
        return;
    };
    let head = text[start..end].trim_end();
    if !head
        .trim_end_matches(trailing_comment(head))
        .trim_end()
        .ends_with(':')
    {
        // A flow mapping (`narration: {voice: en-us}`): written again as a block with the value.
        let parsed: Option<serde_yaml_ng::Mapping> =
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(head)
                .ok()
                .and_then(|v| v.get(parent).and_then(|m| m.as_mapping()).cloned());
        let mut block = format!("{parent}:\n");
        for (k, v) in parsed.unwrap_or_default() {
            let k = k.as_str().unwrap_or_default().to_string();
            if k != key {
                let v = serde_yaml_ng::to_string(&v).unwrap_or_default();
                block.push_str(&format!("  {k}: {}\n", v.trim_end()));
            }
        }
        block.push_str(&format!("  {key}: {value}\n"));
        text.replace_range(start..end, &block);
        return;
    }
    // The block's lines: indented, until the next top-level line.
    let mut pos = end;
    let mut indent = "  ".to_string();
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = &text[pos..line_end];
        let trimmed = line.trim_start();
        if !line.starts_with(' ') && !line.starts_with('\t') && !trimmed.is_empty() {
            break;
        }
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            indent = line[..line.len() - trimmed.len()].to_string();
            if let Some(rest) = trimmed.strip_prefix(key)
                && rest.starts_with(':')
            {
                let comment = trailing_comment(line.trim_end_matches('\n')).to_string();
                text.replace_range(pos..line_end, &format!("{indent}{key}: {value}{comment}\n"));
                return;
            }
        }
        pos = line_end;
    }
    text.insert_str(end, &format!("{indent}{key}: {value}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_keys_change_in_place_and_comments_and_other_keys_stay() {
        let mut text = "# Science Daily: the main channel\nchannel_id: science   # never change\nchannel_name: Science\nmax_concurrent: 2  # CPU\nnarration:\n  rate: 170\n  voice: en-gb # British\nsteps:\n  video: { executor: kling }\n".to_string();
        set_top(
            &mut text,
            "channel_name",
            &yaml_string("Science Daily: Live"),
        );
        set_top(&mut text, "max_concurrent", "3");
        set_top(&mut text, "budget_daily_usd", "25");
        set_nested(&mut text, "narration", "voice", &yaml_string("en-us"));
        assert_eq!(
            text,
            "# Science Daily: the main channel\nchannel_id: science   # never change\nchannel_name: 'Science Daily: Live'\nmax_concurrent: 3  # CPU\nnarration:\n  rate: 170\n  voice: en-us # British\nsteps:\n  video: { executor: kling }\nbudget_daily_usd: 25\n"
        );
        remove_top(&mut text, "budget_daily_usd");
        assert!(!text.contains("budget_daily_usd"));
        let c = ChannelConfig::parse(&text, "t").unwrap();
        assert_eq!(c.channel_name, "Science Daily: Live");
        assert_eq!(c.narration.rate, 170);
    }

    #[test]
    fn missing_blocks_are_added_and_flow_mappings_become_blocks() {
        let mut text = "channel_id: a\nchannel_name: A".to_string();
        set_nested(&mut text, "narration", "voice", "de");
        assert_eq!(
            ChannelConfig::parse(&text, "t").unwrap().narration.voice,
            "de"
        );
        let mut flow =
            "channel_id: a\nchannel_name: A\nnarration: {voice: en-gb, rate: 150}\n".to_string();
        set_nested(&mut flow, "narration", "voice", "fr");
        let c = ChannelConfig::parse(&flow, "t").unwrap();
        assert_eq!((c.narration.voice.as_str(), c.narration.rate), ("fr", 150));
    }

    #[test]
    fn each_bad_field_is_named() {
        let good = ChannelForm {
            original_id: None,
            channel_id: "science".into(),
            channel_name: "Science".into(),
            max_concurrent: 2,
            storage_strategy: "none".into(),
            budget_daily_usd: Some(10.0),
            narration_voice: "en-us".into(),
            is_active: true,
        };
        good.check().unwrap();
        let field = |f: ChannelForm| match f.check().unwrap_err() {
            CoreError::Invalid { field, .. } => field,
            other => panic!("{other}"),
        };
        assert_eq!(
            field(ChannelForm {
                channel_id: "bad id!".into(),
                ..good.clone()
            }),
            "channel_id"
        );
        assert_eq!(
            field(ChannelForm {
                channel_name: " ".into(),
                ..good.clone()
            }),
            "channel_name"
        );
        assert_eq!(
            field(ChannelForm {
                max_concurrent: 0,
                ..good.clone()
            }),
            "max_concurrent"
        );
        assert_eq!(
            field(ChannelForm {
                storage_strategy: "s3".into(),
                ..good.clone()
            }),
            "storage_strategy"
        );
        assert_eq!(
            field(ChannelForm {
                budget_daily_usd: Some(-1.0),
                ..good.clone()
            }),
            "budget_daily_usd"
        );
    }
}
