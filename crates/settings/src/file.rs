//! The settings file: JSON, loaded leniently, saved atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, SettingsError};
use crate::service::{DEFAULT_POLL_SECS, MAX_POLL_SECS, MIN_POLL_SECS};

/// The saved overrides. `None` means "use the default". Secrets never live here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Workspace folder (absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// Configuration folder holding `channels/*.yaml` (absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<PathBuf>,
    /// Seconds between Notion polls, 5–600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notion_poll_secs: Option<u32>,
}

impl Settings {
    /// The poll interval in effect: the saved one or [`DEFAULT_POLL_SECS`].
    pub fn poll_secs(&self) -> u32 {
        self.notion_poll_secs.unwrap_or(DEFAULT_POLL_SECS)
    }

    /// What is wrong with values a person may have typed into the file by hand.
    fn problem(&self) -> Option<String> {
        if let Some(p) = self.notion_poll_secs
            && !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&p)
        {
            return Some(format!(
                "notion_poll_secs is {p}; it must be between {MIN_POLL_SECS} and {MAX_POLL_SECS}"
            ));
        }
        for (name, path) in [
            ("workspace", &self.workspace),
            ("config_dir", &self.config_dir),
        ] {
            if let Some(p) = path
                && !p.is_absolute()
            {
                return Some(format!("{name} {} is not an absolute path", p.display()));
            }
        }
        None
    }
}

/// The settings file at a path chosen by the caller (the app uses `<config dir>/settings.json`).
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
    /// The settings as loaded, or as last saved.
    pub settings: Settings,
}

impl SettingsFile {
    /// Reads the file. A missing file gives the defaults; a damaged one gives
    /// [`SettingsError::BadFile`], which names the file, and the file is left as it is.
    pub fn load(path: impl Into<PathBuf>) -> Result<SettingsFile> {
        let path = path.into();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SettingsFile {
                    path,
                    settings: Settings::default(),
                });
            }
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        let settings: Settings = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return Err(SettingsError::BadFile {
                    path,
                    problem: format!("not valid settings JSON: {e}"),
                });
            }
        };
        if let Some(problem) = settings.problem() {
            return Err(SettingsError::BadFile { path, problem });
        }
        Ok(SettingsFile { path, settings })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `settings` atomically (temporary file in the same folder, flushed, then renamed over
    /// the old one) and keeps them on success. On failure the old file and `self` are unchanged.
    pub fn save(&mut self, settings: Settings) -> Result<()> {
        self.save_with(settings, |_| Ok(()))
    }

    /// [`SettingsFile::save`] with a hook that runs after the temporary file is written and before
    /// the rename; tests use it to fail at the worst moment.
    pub(crate) fn save_with(
        &mut self,
        settings: Settings,
        before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<()> {
        let write = || {
            // Fails only for paths that are not valid UTF-8.
            let mut text =
                serde_json::to_string_pretty(&settings).map_err(std::io::Error::other)?;
            text.push('\n');
            write_atomic(&self.path, text.as_bytes(), before_rename)
        };
        write().map_err(|source| SettingsError::Save {
            path: self.path.clone(),
            source,
        })?;
        self.settings = settings;
        Ok(())
    }
}

pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    before_rename(tmp.path())?;
    // On error the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        // Make the rename itself durable; failure here leaves a valid file either way.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_before_rename_keeps_the_old_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let mut file = SettingsFile::load(&path).unwrap();
        file.save(Settings {
            notion_poll_secs: Some(30),
            ..Settings::default()
        })
        .unwrap();
        let before = std::fs::read(&path).unwrap();

        let mut seen_tmp = None;
        let err = file
            .save_with(
                Settings {
                    notion_poll_secs: Some(60),
                    ..Settings::default()
                },
                |tmp| {
                    // The new content is complete in the temporary file before anything is replaced.
                    let text = std::fs::read_to_string(tmp)?;
                    assert!(text.contains("60"), "{text}");
                    seen_tmp = Some(tmp.to_path_buf());
                    Err(std::io::Error::other("disk full"))
                },
            )
            .unwrap_err();
        assert!(matches!(err, SettingsError::Save { .. }), "{err}");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(
            err.to_string().contains("previous settings were kept"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!seen_tmp.unwrap().exists(), "temporary file removed");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(
            file.settings.notion_poll_secs,
            Some(30),
            "in-memory copy unchanged"
        );
        assert_eq!(
            SettingsFile::load(&path).unwrap().settings.notion_poll_secs,
            Some(30)
        );
    }
}
