//! Start at login, so review notifications arrive after a reboot: on Linux an entry in the XDG
//! autostart folder (`$XDG_CONFIG_HOME/autostart`, else `~/.config/autostart`), which every
//! freedesktop session starts.
//!
//! Written here rather than with the `auto-launch` crate (what Tauri's autostart plugin uses): it
//! puts the entry under `~/.config` whatever `XDG_CONFIG_HOME` says, against the specification, and
//! the entry is one small file.

use std::path::{Path, PathBuf};

use crate::error::{Result, SettingsError};

/// The file name of the entry.
pub const AUTOSTART_FILE: &str = "reviewdesk.desktop";

/// The start-at-login entry of one executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autostart {
    entry: PathBuf,
    exec: PathBuf,
}

impl Autostart {
    /// The entry that starts `exec`, in the user's autostart folder; `None` when there is no
    /// home folder to put it in.
    pub fn for_exe(exec: PathBuf) -> Option<Autostart> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(Autostart::in_dir(config.join("autostart"), exec))
    }

    /// The entry that starts `exec`, in `dir`.
    pub fn in_dir(dir: PathBuf, exec: PathBuf) -> Autostart {
        Autostart {
            entry: dir.join(AUTOSTART_FILE),
            exec,
        }
    }

    /// Where the entry is.
    pub fn entry(&self) -> &Path {
        &self.entry
    }

    /// Whether the app starts at login.
    pub fn is_enabled(&self) -> bool {
        self.entry.is_file()
    }

    /// Writes (atomically) or removes the entry.
    pub fn set(&self, on: bool) -> Result<()> {
        let fail = |source| SettingsError::Autostart {
            path: self.entry.clone(),
            source,
        };
        if on {
            crate::file::write_atomic(&self.entry, self.contents().as_bytes(), |_| Ok(()))
                .map_err(fail)
        } else {
            match std::fs::remove_file(&self.entry) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e)),
                _ => Ok(()),
            }
        }
    }

    fn contents(&self) -> String {
        format!(
            "[Desktop Entry]\nType=Application\nName=Review Desk\nComment=Starts Review Desk at login so review notifications arrive\nExec={}\nIcon=reviewdesk\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
            exec_quoted(&self.exec)
        )
    }
}

/// A path as the `Exec` key takes it: quoted when it holds a space or a reserved character, with
/// `"`, `` ` ``, `$` and `\` escaped (the Desktop Entry Specification's rules).
fn exec_quoted(path: &Path) -> String {
    let p = path.to_string_lossy();
    if !p.chars().any(|c| " \t\"'\\><~|&;$*?#()`".contains(c)) {
        return p.into_owned();
    }
    let mut out = String::from("\"");
    for c in p.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_written_and_removed_and_names_the_program() {
        let dir = tempfile::tempdir().unwrap();
        let a = Autostart::in_dir(
            dir.path().join("autostart"),
            PathBuf::from("/opt/Review Desk/reviewdesk-desktop"),
        );
        assert!(!a.is_enabled());
        a.set(true).unwrap();
        assert!(a.is_enabled());
        let text = std::fs::read_to_string(a.entry()).unwrap();
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(
            text.contains("\nExec=\"/opt/Review Desk/reviewdesk-desktop\"\n"),
            "{text}"
        );
        a.set(true).unwrap();
        a.set(false).unwrap();
        assert!(!a.is_enabled());
        a.set(false).unwrap(); // already off
    }

    #[test]
    fn reserved_characters_are_escaped_in_exec() {
        assert_eq!(
            exec_quoted(Path::new("/usr/bin/reviewdesk-desktop")),
            "/usr/bin/reviewdesk-desktop"
        );
        assert_eq!(exec_quoted(Path::new("/a b/$x\"y")), "\"/a b/\\$x\\\"y\"");
    }

    #[test]
    fn an_unwritable_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let e = Autostart::in_dir(file.join("autostart"), PathBuf::from("/bin/true"))
            .set(true)
            .unwrap_err();
        assert_eq!(e.code(), "autostart_failed");
        assert!(e.to_string().contains("start-at-login"), "{e}");
    }
}
