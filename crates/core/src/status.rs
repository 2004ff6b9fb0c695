//! Task statuses, their board names, kinds and the transition table (docs/statuses.md).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::CoreError;

/// Every status a task can be in, in pipeline order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each variant is documented by its board name in `board_name`.
pub enum Status {
    Draft,
    Queued,
    Claimed,
    GeneratingAssets,
    AssetsReady,
    AssetsApproved,
    GeneratingComposites,
    CompositesReady,
    GeneratingVideo,
    VideoReady,
    VideoApproved,
    GeneratingAudio,
    AudioReady,
    AudioApproved,
    GeneratingSfx,
    SfxReady,
    Assembling,
    AssemblyReady,
    FinalReview,
    Approved,
    Uploading,
    Published,
    Cancelled,
    AssetError,
    VideoError,
    AudioError,
    UploadError,
}

/// What role a status plays in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// Planning or waiting (draft, queued).
    Planning,
    /// A worker holds the task or a step runs.
    Step,
    /// A step finished and the task passes straight on.
    PassThrough,
    /// A review gate: the worker stops; a person decides.
    Gate,
    /// The result of a person's approval.
    Decision,
    /// A step failed or was rejected.
    Error,
    /// Nothing more happens (published, cancelled) unless re-run.
    Terminal,
}

impl Status {
    /// All statuses in pipeline order.
    pub const ALL: [Status; 27] = [
        Status::Draft,
        Status::Queued,
        Status::Claimed,
        Status::GeneratingAssets,
        Status::AssetsReady,
        Status::AssetsApproved,
        Status::GeneratingComposites,
        Status::CompositesReady,
        Status::GeneratingVideo,
        Status::VideoReady,
        Status::VideoApproved,
        Status::GeneratingAudio,
        Status::AudioReady,
        Status::AudioApproved,
        Status::GeneratingSfx,
        Status::SfxReady,
        Status::Assembling,
        Status::AssemblyReady,
        Status::FinalReview,
        Status::Approved,
        Status::Uploading,
        Status::Published,
        Status::Cancelled,
        Status::AssetError,
        Status::VideoError,
        Status::AudioError,
        Status::UploadError,
    ];

    /// The internal value stored in the database (`assets_ready`).
    pub fn as_str(self) -> &'static str {
        use Status::*;
        match self {
            Draft => "draft",
            Queued => "queued",
            Claimed => "claimed",
            GeneratingAssets => "generating_assets",
            AssetsReady => "assets_ready",
            AssetsApproved => "assets_approved",
            GeneratingComposites => "generating_composites",
            CompositesReady => "composites_ready",
            GeneratingVideo => "generating_video",
            VideoReady => "video_ready",
            VideoApproved => "video_approved",
            GeneratingAudio => "generating_audio",
            AudioReady => "audio_ready",
            AudioApproved => "audio_approved",
            GeneratingSfx => "generating_sfx",
            SfxReady => "sfx_ready",
            Assembling => "assembling",
            AssemblyReady => "assembly_ready",
            FinalReview => "final_review",
            Approved => "approved",
            Uploading => "uploading",
            Published => "published",
            Cancelled => "cancelled",
            AssetError => "asset_error",
            VideoError => "video_error",
            AudioError => "audio_error",
            UploadError => "upload_error",
        }
    }

    /// The name shown on the Notion board and in the UI (`Assets Ready`).
    pub fn board_name(self) -> &'static str {
        use Status::*;
        match self {
            Draft => "Draft",
            Queued => "Queued",
            Claimed => "Processing",
            GeneratingAssets => "Assets Generating",
            AssetsReady => "Assets Ready",
            AssetsApproved => "Assets Approved",
            GeneratingComposites => "Composites Creating",
            CompositesReady => "Composites Ready",
            GeneratingVideo => "Videos Generating",
            VideoReady => "Videos Ready",
            VideoApproved => "Videos Approved",
            GeneratingAudio => "Audio Generating",
            AudioReady => "Audio Ready",
            AudioApproved => "Audio Approved",
            GeneratingSfx => "SFX Generating",
            SfxReady => "SFX Ready",
            Assembling => "Assembling Video",
            AssemblyReady => "Assembly Ready",
            FinalReview => "Ready for Review",
            Approved => "Review Approved",
            Uploading => "Uploading",
            Published => "Upload Complete",
            Cancelled => "Cancelled",
            AssetError => "Asset Error",
            VideoError => "Video Error",
            AudioError => "Audio Error",
            UploadError => "Upload Error",
        }
    }

    /// Parses a board name (exact, as written by [`Status::board_name`]).
    pub fn from_board_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.board_name() == name)
    }

    /// The role this status plays.
    pub fn kind(self) -> StatusKind {
        use Status::*;
        match self {
            Draft | Queued => StatusKind::Planning,
            Claimed | GeneratingAssets | GeneratingComposites | GeneratingVideo
            | GeneratingAudio | GeneratingSfx | Assembling | Uploading => StatusKind::Step,
            CompositesReady | SfxReady | AssemblyReady => StatusKind::PassThrough,
            AssetsReady | VideoReady | AudioReady | FinalReview => StatusKind::Gate,
            AssetsApproved | VideoApproved | AudioApproved | Approved => StatusKind::Decision,
            AssetError | VideoError | AudioError | UploadError => StatusKind::Error,
            Published | Cancelled => StatusKind::Terminal,
        }
    }

    /// True for the four review gates.
    pub fn is_gate(self) -> bool {
        self.kind() == StatusKind::Gate
    }

    /// True for published and cancelled.
    pub fn is_terminal(self) -> bool {
        self.kind() == StatusKind::Terminal
    }

    /// True when the table of docs/statuses.md allows moving from `self` to `to`.
    pub fn can_transition_to(self, to: Status) -> bool {
        use Status::*;
        if to == Cancelled && !self.is_terminal() {
            // The creator can always stop a task that is not finished.
            return true;
        }
        match self {
            Draft => matches!(to, Queued),
            Queued => matches!(to, Claimed),
            // A resumed task goes straight to whichever step comes next.
            Claimed => Step::ALL.iter().any(|s| s.running_status() == to),
            GeneratingAssets => matches!(to, AssetsReady | AssetError),
            AssetsReady => matches!(to, AssetsApproved | AssetError),
            AssetsApproved => matches!(to, GeneratingComposites | Queued),
            GeneratingComposites => matches!(to, CompositesReady | AssetError),
            CompositesReady => matches!(to, GeneratingVideo),
            GeneratingVideo => matches!(to, VideoReady | VideoError),
            VideoReady => matches!(to, VideoApproved | VideoError),
            VideoApproved => matches!(to, GeneratingAudio | Queued),
            GeneratingAudio => matches!(to, AudioReady | AudioError),
            AudioReady => matches!(to, AudioApproved | AudioError),
            AudioApproved => matches!(to, GeneratingSfx | Queued),
            GeneratingSfx => matches!(to, SfxReady | AudioError),
            SfxReady => matches!(to, Assembling),
            Assembling => matches!(to, AssemblyReady | VideoError),
            AssemblyReady => matches!(to, FinalReview),
            FinalReview => matches!(to, Approved | VideoError),
            Approved => matches!(to, Uploading | Queued),
            Uploading => matches!(to, Published | UploadError),
            UploadError => matches!(to, Queued | FinalReview),
            AssetError | VideoError | AudioError => matches!(to, Queued),
            Published | Cancelled => matches!(to, Queued),
        }
    }

    /// Checks a move, returning an error that names both statuses when it is refused.
    pub fn check_transition(self, to: Status) -> Result<(), CoreError> {
        if self.can_transition_to(to) {
            Ok(())
        } else {
            Err(CoreError::RefusedTransition { from: self, to })
        }
    }

    /// For a gate: the status an approval leads to.
    pub fn approved_status(self) -> Option<Status> {
        use Status::*;
        match self {
            AssetsReady => Some(AssetsApproved),
            VideoReady => Some(VideoApproved),
            AudioReady => Some(AudioApproved),
            FinalReview => Some(Approved),
            _ => None,
        }
    }

    /// For a gate: the error status a rejection leads to.
    pub fn rejected_status(self) -> Option<Status> {
        use Status::*;
        match self {
            AssetsReady => Some(AssetError),
            VideoReady | FinalReview => Some(VideoError),
            AudioReady => Some(AudioError),
            _ => None,
        }
    }

    /// For a gate or its decision: the step whose output is reviewed there.
    pub fn reviewed_step(self) -> Option<Step> {
        use Status::*;
        match self {
            AssetsReady | AssetsApproved => Some(Step::Assets),
            VideoReady | VideoApproved => Some(Step::Video),
            AudioReady | AudioApproved => Some(Step::Audio),
            FinalReview | Approved => Some(Step::Assembly),
            _ => None,
        }
    }

    /// The step whose work this status belongs to (for error cards and resumption).
    pub fn step(self) -> Option<Step> {
        Step::ALL.into_iter().find(|s| {
            s.running_status() == self || s.done_status() == self || s.error_status() == self
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.board_name())
    }
}

impl FromStr for Status {
    type Err = CoreError;

    /// Accepts the internal value (`assets_ready`) or the board name (`Assets Ready`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s || st.board_name() == s)
            .ok_or_else(|| CoreError::Invalid {
                field: "status".into(),
                message: format!("unknown status {s:?}"),
            })
    }
}

/// The pipeline's steps, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Step 1: the 22 images.
    Assets,
    /// Step 2: 18 composites.
    Composites,
    /// Step 3: 18 clips.
    Video,
    /// Step 4: 18 narration clips.
    Audio,
    /// Step 5: 18 sound effects.
    Sfx,
    /// Step 6: the final MP4.
    Assembly,
    /// Step 7: upload to YouTube.
    Upload,
}

impl Step {
    /// All steps in order.
    pub const ALL: [Step; 7] = [
        Step::Assets,
        Step::Composites,
        Step::Video,
        Step::Audio,
        Step::Sfx,
        Step::Assembly,
        Step::Upload,
    ];

    /// Stable name used in the database and channel files.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Assets => "assets",
            Step::Composites => "composites",
            Step::Video => "video",
            Step::Audio => "audio",
            Step::Sfx => "sfx",
            Step::Assembly => "assembly",
            Step::Upload => "upload",
        }
    }

    /// Parses [`Step::as_str`].
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status while the step runs.
    pub fn running_status(self) -> Status {
        match self {
            Step::Assets => Status::GeneratingAssets,
            Step::Composites => Status::GeneratingComposites,
            Step::Video => Status::GeneratingVideo,
            Step::Audio => Status::GeneratingAudio,
            Step::Sfx => Status::GeneratingSfx,
            Step::Assembly => Status::Assembling,
            Step::Upload => Status::Uploading,
        }
    }

    /// The status once the step is done: a gate, a pass-through, or published.
    pub fn done_status(self) -> Status {
        match self {
            Step::Assets => Status::AssetsReady,
            Step::Composites => Status::CompositesReady,
            Step::Video => Status::VideoReady,
            Step::Audio => Status::AudioReady,
            Step::Sfx => Status::SfxReady,
            Step::Assembly => Status::AssemblyReady,
            Step::Upload => Status::Published,
        }
    }

    /// The status when the step fails.
    pub fn error_status(self) -> Status {
        match self {
            Step::Assets | Step::Composites => Status::AssetError,
            Step::Video | Step::Assembly => Status::VideoError,
            Step::Audio | Step::Sfx => Status::AudioError,
            Step::Upload => Status::UploadError,
        }
    }

    /// The step after this one.
    pub fn next(self) -> Option<Step> {
        let i = Step::ALL.iter().position(|s| *s == self)?;
        Step::ALL.get(i + 1).copied()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// The table of docs/statuses.md written out as data, independently of `can_transition_to`.
    fn table() -> Vec<(Status, Vec<Status>)> {
        vec![
            (Draft, vec![Queued, Cancelled]),
            (Queued, vec![Claimed, Cancelled]),
            (
                Claimed,
                vec![
                    GeneratingAssets,
                    GeneratingComposites,
                    GeneratingVideo,
                    GeneratingAudio,
                    GeneratingSfx,
                    Assembling,
                    Uploading,
                ],
            ),
            (GeneratingAssets, vec![AssetsReady, AssetError]),
            (AssetsReady, vec![AssetsApproved, AssetError]),
            (AssetsApproved, vec![GeneratingComposites, Queued]),
            (GeneratingComposites, vec![CompositesReady, AssetError]),
            (CompositesReady, vec![GeneratingVideo]),
            (GeneratingVideo, vec![VideoReady, VideoError]),
            (VideoReady, vec![VideoApproved, VideoError]),
            (VideoApproved, vec![GeneratingAudio, Queued]),
            (GeneratingAudio, vec![AudioReady, AudioError]),
            (AudioReady, vec![AudioApproved, AudioError]),
            (AudioApproved, vec![GeneratingSfx, Queued]),
            (GeneratingSfx, vec![SfxReady, AudioError]),
            (SfxReady, vec![Assembling]),
            (Assembling, vec![AssemblyReady, VideoError]),
            (AssemblyReady, vec![FinalReview]),
            (FinalReview, vec![Approved, Cancelled, VideoError]),
            (Approved, vec![Uploading, Queued]),
            (Uploading, vec![Published, UploadError]),
            (Published, vec![Queued]),
            (Cancelled, vec![Queued]),
            (AssetError, vec![Queued]),
            (VideoError, vec![Queued]),
            (AudioError, vec![Queued]),
            (UploadError, vec![Queued, FinalReview]),
        ]
    }

    #[test]
    fn every_pair_is_allowed_exactly_when_the_table_says_so() {
        let table = table();
        assert_eq!(table.len(), Status::ALL.len());
        for from in Status::ALL {
            let allowed = &table.iter().find(|(f, _)| *f == from).unwrap().1;
            for to in Status::ALL {
                let expected = allowed.contains(&to) || (to == Cancelled && !from.is_terminal());
                assert_eq!(from.can_transition_to(to), expected, "{from:?} -> {to:?}");
                let checked = from.check_transition(to);
                assert_eq!(checked.is_ok(), expected);
                if let Err(e) = checked {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(from.board_name()) && msg.contains(to.board_name()),
                        "{msg}"
                    );
                }
            }
        }
    }

    #[test]
    fn board_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in Status::ALL {
            assert!(seen.insert(s.board_name()));
            assert_eq!(Status::from_board_name(s.board_name()), Some(s));
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(s.board_name().parse::<Status>().unwrap(), s);
        }
        assert_eq!(Claimed.board_name(), "Processing");
        assert_eq!(Published.board_name(), "Upload Complete");
        assert_eq!(FinalReview.board_name(), "Ready for Review");
        assert!("Nonsense".parse::<Status>().is_err());
    }

    #[test]
    fn gates_and_their_decisions() {
        let gates: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_gate()).collect();
        assert_eq!(
            gates,
            vec![AssetsReady, VideoReady, AudioReady, FinalReview]
        );
        for g in gates {
            assert!(g.can_transition_to(g.approved_status().unwrap()));
            assert!(g.can_transition_to(g.rejected_status().unwrap()));
        }
    }
}
