//! The programs the built-in media steps run, and where to find them.

use std::path::PathBuf;

/// A program a built-in step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    /// Encodes clips, effects and the final video.
    Ffmpeg,
    /// Measures and checks media.
    Ffprobe,
    /// Speaks narration lines.
    EspeakNg,
}

impl Tool {
    /// The program's usual name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
            Tool::EspeakNg => "espeak-ng",
        }
    }

    /// The Debian package that installs it.
    pub fn package(self) -> &'static str {
        match self {
            Tool::Ffmpeg | Tool::Ffprobe => "ffmpeg",
            Tool::EspeakNg => "espeak-ng",
        }
    }
}

/// Where the media programs are: a name looked up on PATH, or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// ffmpeg.
    pub ffmpeg: String,
    /// ffprobe.
    pub ffprobe: String,
    /// espeak-ng.
    pub espeak_ng: String,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            ffmpeg: Tool::Ffmpeg.program().into(),
            ffprobe: Tool::Ffprobe.program().into(),
            espeak_ng: Tool::EspeakNg.program().into(),
        }
    }
}

impl Tools {
    /// The configured program of a tool.
    pub fn program(&self, tool: Tool) -> &str {
        match tool {
            Tool::Ffmpeg => &self.ffmpeg,
            Tool::Ffprobe => &self.ffprobe,
            Tool::EspeakNg => &self.espeak_ng,
        }
    }

    /// Where a tool is: its configured name found on PATH (or the path itself), `None` when it is
    /// not there or cannot be run.
    pub fn locate(&self, tool: Tool) -> Option<PathBuf> {
        which::which(self.program(tool)).ok()
    }

    /// Those of `needed` that cannot be found, in order.
    pub fn missing(&self, needed: &[Tool]) -> Vec<Tool> {
        needed
            .iter()
            .copied()
            .filter(|t| self.locate(*t).is_none())
            .collect()
    }

    /// What to tell the creator when `missing` is not empty: which programs, and the Debian
    /// command that installs them.
    pub fn install_hint(missing: &[Tool]) -> String {
        let programs: Vec<&str> = missing.iter().map(|t| t.program()).collect();
        let mut packages: Vec<&str> = missing.iter().map(|t| t.package()).collect();
        packages.dedup();
        format!(
            "{} not installed: install with `sudo apt-get install {}` (or run scripts/setup.sh)",
            match programs.as_slice() {
                [one] => format!("{one} is"),
                many => format!("{} are", many.join(" and ")),
            },
            packages.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let tools = Tools {
            espeak_ng: "/nonexistent/espeak-ng".into(),
            ..Tools::default()
        };
        assert_eq!(tools.missing(&[Tool::EspeakNg]), vec![Tool::EspeakNg]);
        assert_eq!(
            Tools::install_hint(&[Tool::EspeakNg]),
            "espeak-ng is not installed: install with `sudo apt-get install espeak-ng` (or run scripts/setup.sh)"
        );
        assert_eq!(
            Tools::install_hint(&[Tool::Ffmpeg, Tool::Ffprobe]),
            "ffmpeg and ffprobe are not installed: install with `sudo apt-get install ffmpeg` (or run scripts/setup.sh)"
        );
    }

    #[test]
    fn a_program_on_path_is_found() {
        let tools = Tools {
            ffmpeg: "sh".into(),
            ..Tools::default()
        };
        assert!(tools.locate(Tool::Ffmpeg).is_some());
    }
}
