//! Channel files (one YAML per channel) and the runtime settings of a worker.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::asset::AssetCounts;
use crate::error::{CoreError, Result};
use crate::ids::ChannelId;
use crate::status::Step;
use crate::task::Priority;

/// How a channel publishes files to Notion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageStrategy {
    /// Notion's File Upload API.
    Notion,
    /// Cloudflare R2 through its S3 API, linked as external files.
    R2,
    /// No upload; desktop-only review.
    #[default]
    None,
}

/// Notion database ids of a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotionIds {
    /// Tasks database.
    pub tasks_database_id: Option<String>,
    /// Assets database.
    pub assets_database_id: Option<String>,
    /// Videos database.
    pub videos_database_id: Option<String>,
    /// Audio database.
    pub audio_database_id: Option<String>,
}

/// R2 settings; credentials are referenced, never stored here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct R2Settings {
    /// Cloudflare account id.
    pub account_id: String,
    /// Bucket name.
    pub bucket: String,
    /// Public base URL (r2.dev address or custom domain).
    pub public_base_url: String,
    /// S3 endpoint override (tests); default `https://<account>.r2.cloudflarestorage.com`.
    pub endpoint: Option<String>,
    /// Name of the keyring entry / environment variable prefix holding the credentials.
    pub credentials_ref: Option<String>,
}

/// How the built-in narration speaks (espeak-ng).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrationVoice {
    /// espeak-ng voice (`en-us`, `en-gb`, `de`, …; `espeak-ng --voices` lists them).
    #[serde(default = "default_voice")]
    pub voice: String,
    /// Words per minute (80–450); about 165 makes a 20-word line last 7 s.
    #[serde(default = "default_rate")]
    pub rate: u32,
}

impl Default for NarrationVoice {
    fn default() -> Self {
        NarrationVoice {
            voice: default_voice(),
            rate: default_rate(),
        }
    }
}

fn default_voice() -> String {
    "en-us".into()
}

fn default_rate() -> u32 {
    165
}

/// Where and how the built-in upload publishes (see docs/pipeline.md, "Upload").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSettings {
    /// The folder the final video and its sidecar are copied to; default
    /// `<workspace>/published/<channel_id>`.
    pub dir: Option<PathBuf>,
    /// The description, with `{title}`, `{topic}` and `{chapters}` filled in.
    pub description_template: Option<String>,
    /// Tags written to the sidecar.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Which executor runs a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecutorConfig {
    /// The built-in local implementation (placeholder art, composites, ffmpeg clips and
    /// effects, espeak-ng narration, assembly, publish to a folder).
    Builtin,
    /// A user's program, run once per item.
    Command {
        /// Program path or name on PATH.
        program: String,
        /// Argument template, split on whitespace before substitution; placeholders
        /// `{prompt} {output} {width} {height} {task_id} {item} {kind} {index} {workspace}`.
        #[serde(default = "default_args")]
        args: String,
        /// Seconds before the program is stopped and the attempt counts as a transient failure.
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
    /// Gemini image generation (step 1, assets). Characters and props are asked for on a plain
    /// `background` colour, which is removed locally (the model returns no transparency).
    Gemini {
        /// `gemini-2.5-flash-image` (default), `gemini-3-pro-image-preview`, …
        #[serde(default = "default_gemini_model")]
        model: String,
        /// The channel's look, added to every prompt ("flat vector art, muted colours").
        #[serde(default)]
        style: Option<String>,
        /// The plain colour asked for behind characters and props, as `#rrggbb`.
        #[serde(default = "default_key_colour")]
        background: String,
        /// Assets whose current version goes with every other asset's request as a reference
        /// (e.g. the protagonist, so the others match it); at most 3 work well.
        #[serde(default)]
        references: Vec<String>,
        /// `1K`, `2K` or `4K` (3 Pro only); the model's default when missing.
        #[serde(default)]
        image_size: Option<String>,
        /// Another host (a proxy, a regional endpoint); `GEMINI_BASE_URL` overrides.
        #[serde(default)]
        base_url: Option<String>,
    },
    /// Kling image-to-video (step 3, video): each approved composite becomes a clip.
    Kling {
        /// `kling-v2-5-turbo` (default), `kling-v2-6`, `kling-v2-1`, …
        #[serde(default = "default_kling_model")]
        model: String,
        /// `std` (720p, default) or `pro` (1080p).
        #[serde(default = "default_kling_mode")]
        mode: String,
        /// Seconds of each clip: 5 or 10 (default).
        #[serde(default = "default_kling_duration")]
        duration: u32,
        /// What to keep out of every clip.
        #[serde(default)]
        negative_prompt: Option<String>,
        /// Another host (`https://api-beijing.klingai.com`); `KLING_BASE_URL` overrides.
        #[serde(default)]
        base_url: Option<String>,
    },
    /// ElevenLabs: narration (step 4, audio) with text-to-speech, or sound effects (step 5, sfx)
    /// with sound generation.
    Elevenlabs {
        /// `eleven_multilingual_v2` for narration, `eleven_text_to_sound_v2` for effects
        /// (the defaults).
        #[serde(default)]
        model: Option<String>,
        /// The narration voice (required for narration).
        #[serde(default)]
        voice_id: Option<String>,
        /// Narration voice settings, 0–1 (the voice's own when missing).
        #[serde(default)]
        stability: Option<f32>,
        /// How close to the original voice, 0–1.
        #[serde(default)]
        similarity_boost: Option<f32>,
        /// Speaking speed, 0.7–1.2.
        #[serde(default)]
        speed: Option<f32>,
        /// Seconds of each sound effect, 0.5–30 (default 10, a clip's length).
        #[serde(default)]
        duration_secs: Option<f32>,
        /// How closely an effect follows its description, 0–1 (default 0.3).
        #[serde(default)]
        prompt_influence: Option<f32>,
        /// Another host; `ELEVENLABS_BASE_URL` overrides.
        #[serde(default)]
        base_url: Option<String>,
    },
}

impl ExecutorConfig {
    /// The paid provider behind this executor (`gemini`, `kling`, `elevenlabs`), if any.
    pub fn provider(&self) -> Option<&'static str> {
        match self {
            ExecutorConfig::Gemini { .. } => Some("gemini"),
            ExecutorConfig::Kling { .. } => Some("kling"),
            ExecutorConfig::Elevenlabs { .. } => Some("elevenlabs"),
            ExecutorConfig::Builtin | ExecutorConfig::Command { .. } => None,
        }
    }

    /// What is wrong with this executor for `step`, as `steps.<step>…: why` lines' tails.
    fn check(&self, step: Step) -> std::result::Result<(), String> {
        let unit = |v: Option<f32>, field: &str, lo: f32, hi: f32| match v {
            Some(x) if !(lo..=hi).contains(&x) => {
                Err(format!(".{field}: {x} is outside {lo}–{hi}"))
            }
            _ => Ok(()),
        };
        match self {
            ExecutorConfig::Builtin => Ok(()),
            ExecutorConfig::Command {
                program,
                timeout_secs,
                ..
            } => {
                if program.trim().is_empty() {
                    return Err(".program is empty".into());
                }
                if *timeout_secs == 0 {
                    return Err(".timeout_secs must be at least 1".into());
                }
                Ok(())
            }
            ExecutorConfig::Gemini {
                model,
                background,
                image_size,
                base_url,
                ..
            } => {
                if step != Step::Assets {
                    return Err(": gemini makes the assets of step 1 (steps.assets)".into());
                }
                check_name(model, "model")?;
                if parse_hex_colour(background).is_none() {
                    return Err(format!(
                        ".background: {background:?} is not a colour like #00ff00"
                    ));
                }
                if let Some(s) = image_size
                    && !["1K", "2K", "4K"].contains(&s.as_str())
                {
                    return Err(format!(".image_size: {s:?} is not 1K, 2K or 4K"));
                }
                check_base_url(base_url.as_deref())
            }
            ExecutorConfig::Kling {
                model,
                mode,
                duration,
                negative_prompt,
                base_url,
            } => {
                if step != Step::Video {
                    return Err(": kling makes the clips of step 3 (steps.video)".into());
                }
                check_name(model, "model")?;
                if !["std", "pro"].contains(&mode.as_str()) {
                    return Err(format!(".mode: {mode:?} is not std or pro"));
                }
                if ![5, 10].contains(duration) {
                    return Err(format!(".duration: {duration} is not 5 or 10 (seconds)"));
                }
                if negative_prompt
                    .as_ref()
                    .is_some_and(|n| n.chars().count() > 2500)
                {
                    return Err(".negative_prompt: longer than 2500 characters".into());
                }
                check_base_url(base_url.as_deref())
            }
            ExecutorConfig::Elevenlabs {
                model,
                voice_id,
                stability,
                similarity_boost,
                speed,
                duration_secs,
                prompt_influence,
                base_url,
            } => {
                match step {
                    Step::Audio => match voice_id {
                        Some(v) => check_name(v, "voice_id")?,
                        None => {
                            return Err(".voice_id is missing: the narration needs an ElevenLabs voice id (Voices → ID in ElevenLabs)".into());
                        }
                    },
                    Step::Sfx => {}
                    _ => {
                        return Err(
                            ": elevenlabs makes narration (steps.audio) and sound effects (steps.sfx)"
                                .into(),
                        );
                    }
                }
                if let Some(m) = model {
                    check_name(m, "model")?;
                }
                unit(*stability, "stability", 0.0, 1.0)?;
                unit(*similarity_boost, "similarity_boost", 0.0, 1.0)?;
                unit(*speed, "speed", 0.7, 1.2)?;
                unit(*duration_secs, "duration_secs", 0.5, 30.0)?;
                unit(*prompt_influence, "prompt_influence", 0.0, 1.0)?;
                check_base_url(base_url.as_deref())
            }
        }
    }
}

fn check_name(v: &str, field: &str) -> std::result::Result<(), String> {
    if v.is_empty()
        || v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(".{field}: {v:?} is not a valid name"));
    }
    Ok(())
}

fn check_base_url(url: Option<&str>) -> std::result::Result<(), String> {
    match url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(format!(
            ".base_url: {u:?} must start with https:// (or http:// for a local proxy)"
        )),
        _ => Ok(()),
    }
}

/// `#rrggbb` as RGB.
pub fn parse_hex_colour(s: &str) -> Option<[u8; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn default_gemini_model() -> String {
    "gemini-2.5-flash-image".into()
}

fn default_key_colour() -> String {
    "#00ff00".into()
}

fn default_kling_model() -> String {
    "kling-v2-5-turbo".into()
}

fn default_kling_mode() -> String {
    "std".into()
}

fn default_kling_duration() -> u32 {
    10
}

fn default_args() -> String {
    "{prompt} {output} {width} {height} {task_id}".into()
}

fn default_timeout() -> u64 {
    600
}

/// One channel file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// `^[a-zA-Z0-9_]+$`.
    pub channel_id: ChannelId,
    /// Display name.
    pub channel_name: String,
    /// Notion database ids.
    #[serde(default)]
    pub notion: NotionIds,
    /// How files reach Notion.
    #[serde(default)]
    pub storage_strategy: StorageStrategy,
    /// R2 settings, required for `storage_strategy: r2`.
    #[serde(default)]
    pub r2: Option<R2Settings>,
    /// Tasks of this channel processed at once (1–10).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// Default priority of new tasks.
    #[serde(default)]
    pub priority: Priority,
    /// Inactive channels get no new work.
    #[serde(default = "default_true")]
    pub is_active: bool,
    /// What paid generators may spend in one day, in US dollars; no limit when missing. A paid
    /// item that would pass it waits for the next day (or a raised budget).
    #[serde(default)]
    pub budget_daily_usd: Option<f64>,
    /// The time zone whose midnight starts the budget day (`Europe/Berlin`); UTC when missing.
    #[serde(default)]
    pub budget_time_zone: Option<String>,
    /// This channel's prices over the price table (`kling/kling-v2-5-turbo/std: { usd: 0.042, per: second }`).
    #[serde(default)]
    pub prices: BTreeMap<String, crate::costs::PriceSpec>,
    /// Counts of characters, environments and props.
    #[serde(default)]
    pub asset_counts: AssetCountsConfig,
    /// Executor per step (`assets`, `composites`, `video`, …). Missing steps use the built-in
    /// executor.
    #[serde(default)]
    pub steps: BTreeMap<String, ExecutorConfig>,
    /// The built-in narration's voice.
    #[serde(default)]
    pub narration: NarrationVoice,
    /// The built-in upload's folder, description and tags.
    #[serde(default)]
    pub publish: PublishSettings,
}

/// Optional overrides of the default 8/8/6 counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetCountsConfig {
    /// Characters (6–8).
    pub characters: Option<usize>,
    /// Environments (8–10).
    pub environments: Option<usize>,
    /// Props (4–6).
    pub props: Option<usize>,
}

fn default_max_concurrent() -> u32 {
    2
}

fn default_true() -> bool {
    true
}

/// The id of the channel used when no channel file exists.
pub const DEFAULT_CHANNEL: &str = "default";

impl ChannelConfig {
    /// The channel used when no channel file exists: built-in generators, no Notion.
    pub fn default_channel() -> ChannelConfig {
        ChannelConfig {
            channel_id: ChannelId::parse(DEFAULT_CHANNEL).expect("valid"),
            channel_name: "Default channel".into(),
            notion: NotionIds::default(),
            storage_strategy: StorageStrategy::None,
            r2: None,
            max_concurrent: 2,
            priority: Priority::Normal,
            is_active: true,
            budget_daily_usd: None,
            budget_time_zone: None,
            prices: BTreeMap::new(),
            asset_counts: AssetCountsConfig::default(),
            steps: BTreeMap::new(),
            narration: NarrationVoice::default(),
            publish: PublishSettings::default(),
        }
    }

    /// Parses and validates YAML text; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<ChannelConfig> {
        let bad = |message: String| CoreError::Config {
            file: file.to_string(),
            message,
        };
        let cfg: ChannelConfig = serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        if !(1..=10).contains(&cfg.max_concurrent) {
            return Err(bad(format!(
                "max_concurrent: {} is outside 1–10",
                cfg.max_concurrent
            )));
        }
        if cfg.storage_strategy == StorageStrategy::R2 && cfg.r2.is_none() {
            return Err(bad("r2: storage_strategy is r2 but the r2 section (account_id, bucket, public_base_url) is missing".into()));
        }
        if let Some(b) = cfg.budget_daily_usd
            && (b.is_nan() || b < 0.0)
        {
            return Err(bad(format!("budget_daily_usd: {b} must be zero or more")));
        }
        cfg.counts().map_err(|e| bad(e.to_string()))?;
        if !(80..=450).contains(&cfg.narration.rate) {
            return Err(bad(format!(
                "narration.rate: {} words per minute is outside 80–450",
                cfg.narration.rate
            )));
        }
        if cfg.narration.voice.trim().is_empty()
            || !cfg
                .narration
                .voice
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+/".contains(c))
        {
            return Err(bad(
                "narration.voice: use an espeak-ng voice name such as en-us (`espeak-ng --voices` lists them)".into(),
            ));
        }
        if cfg.publish.dir.as_ref().is_some_and(|d| !d.is_absolute()) {
            return Err(bad("publish.dir: must be an absolute folder path".into()));
        }
        for (name, exec) in &cfg.steps {
            if Step::parse(name).is_none() {
                return Err(bad(format!(
                    "steps.{name}: unknown step; expected one of assets, composites, video, audio, sfx, assembly, upload"
                )));
            }
            if let Some(step) = Step::parse(name) {
                exec.check(step)
                    .map_err(|why| bad(format!("steps.{name}{why}")))?;
            }
        }
        if let Some(tz) = &cfg.budget_time_zone {
            crate::costs::parse_time_zone(tz).map_err(bad)?;
        }
        for (k, p) in &cfg.prices {
            crate::costs::check_price(k, p).map_err(|e| bad(format!("prices.{e}")))?;
        }
        Ok(cfg)
    }

    /// The validated asset counts.
    pub fn counts(&self) -> Result<AssetCounts> {
        let d = AssetCounts::default();
        let c = AssetCounts {
            characters: self.asset_counts.characters.unwrap_or(d.characters),
            environments: self.asset_counts.environments.unwrap_or(d.environments),
            props: self.asset_counts.props.unwrap_or(d.props),
        };
        c.validate()?;
        Ok(c)
    }

    /// The executor configured for a step, the built-in one when the channel names none.
    pub fn executor_for(&self, step: Step) -> ExecutorConfig {
        self.steps
            .get(step.as_str())
            .cloned()
            .unwrap_or(ExecutorConfig::Builtin)
    }

    /// The daily budget, if the channel has one.
    pub fn budget(&self) -> Option<crate::costs::Usd> {
        self.budget_daily_usd.map(crate::costs::Usd::from_dollars)
    }

    /// The time zone of the budget day (checked when the file was read).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.budget_time_zone
            .as_deref()
            .and_then(|t| crate::costs::parse_time_zone(t).ok())
            .unwrap_or(chrono_tz::UTC)
    }
}

/// The largest channel file read (a real one is well under 4 KiB).
const MAX_CHANNEL_FILE_BYTES: u64 = 1024 * 1024;

/// Loads every `*.yaml`/`*.yml` in `dir`; with none, returns the default channel.
/// A broken file is an error naming the file and field, so nothing runs on a half-read config.
pub fn load_channels(dir: &Path) -> Result<Vec<ChannelConfig>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| CoreError::io("cannot list channel folder", dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
            .collect();
        paths.sort();
        for p in paths {
            // Regular files of sane size only: a FIFO named `x.yaml` must not hang start-up.
            let bytes = crate::workspace::read_regular_file(&p, MAX_CHANNEL_FILE_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|_| CoreError::Config {
                file: p.display().to_string(),
                message: "the file is not UTF-8 text".into(),
            })?;
            let cfg = ChannelConfig::parse(&text, &p.display().to_string())?;
            if out
                .iter()
                .any(|c: &ChannelConfig| c.channel_id == cfg.channel_id)
            {
                return Err(CoreError::Config {
                    file: p.display().to_string(),
                    message: format!(
                        "channel_id: {} is already defined in another file",
                        cfg.channel_id
                    ),
                });
            }
            out.push(cfg);
        }
    }
    if !out.iter().any(|c| c.channel_id.as_str() == DEFAULT_CHANNEL) {
        out.push(ChannelConfig::default_channel());
    }
    Ok(out)
}

/// Timings of a worker; tests shrink them.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often the lease is renewed while working.
    pub heartbeat: Duration,
    /// How often an idle worker looks for work (it also wakes at once on local events).
    pub poll: Duration,
    /// Delays before retry attempts 2, 3, 4, 5.
    pub retry_schedule: Vec<Duration>,
    /// Attempts before a transient failure becomes an error status.
    pub max_attempts: u32,
    /// The media programs of the built-in steps 3–6 (`REVIEWDESK_FFMPEG`, `REVIEWDESK_FFPROBE`,
    /// `REVIEWDESK_ESPEAK_NG`; names on PATH by default).
    pub tools: reviewdesk_media::Tools,
    /// The time budgets and the cost ledger go by (tests move it a day on).
    pub clock: crate::costs::Clock,
    /// Keys and waits of the paid executors.
    pub providers: crate::provider_steps::ProviderSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_millis(500),
            retry_schedule: [60, 300, 900, 3600].map(Duration::from_secs).to_vec(),
            max_attempts: 5,
            tools: reviewdesk_media::Tools::default(),
            clock: crate::costs::Clock::default(),
            providers: crate::provider_steps::ProviderSettings::default(),
        }
    }
}

impl WorkerSettings {
    /// Reads overrides from the environment (`REVIEWDESK_LEASE_MS`, `REVIEWDESK_HEARTBEAT_MS`,
    /// `REVIEWDESK_POLL_MS`, `REVIEWDESK_RETRY_SCHEDULE_MS` as a comma list).
    pub fn from_env() -> Result<WorkerSettings> {
        let mut s = WorkerSettings::default();
        let ms = |name: &str| -> Result<Option<Duration>> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(|n| Some(Duration::from_millis(n)))
                    .map_err(|_| {
                        CoreError::invalid(name, format!("{v:?} is not a number of milliseconds"))
                    }),
                Err(_) => Ok(None),
            }
        };
        if let Some(d) = ms("REVIEWDESK_LEASE_MS")? {
            s.lease = d;
        }
        if let Some(d) = ms("REVIEWDESK_HEARTBEAT_MS")? {
            s.heartbeat = d;
        }
        if let Some(d) = ms("REVIEWDESK_POLL_MS")? {
            s.poll = d;
        }
        // How often a provider's job (a Kling clip) is polled: a fixed interval instead of the
        // default 5 s rising to 20 s (for test doubles and local proxies).
        if let Some(d) = ms("REVIEWDESK_PROVIDER_POLL_MS")? {
            s.providers.poll.start = d;
            s.providers.poll.max = d;
        }
        if let Ok(v) = std::env::var("REVIEWDESK_RETRY_SCHEDULE_MS") {
            s.retry_schedule = v
                .split(',')
                .map(|p| p.trim().parse::<u64>().map(Duration::from_millis))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    CoreError::invalid(
                        "REVIEWDESK_RETRY_SCHEDULE_MS",
                        format!("{v:?} is not a comma list of milliseconds"),
                    )
                })?;
        }
        for (name, slot) in [
            ("REVIEWDESK_FFMPEG", &mut s.tools.ffmpeg),
            ("REVIEWDESK_FFPROBE", &mut s.tools.ffprobe),
            ("REVIEWDESK_ESPEAK_NG", &mut s.tools.espeak_ng),
        ] {
            if let Ok(v) = std::env::var(name)
                && !v.trim().is_empty()
            {
                *slot = v;
            }
        }
        if s.heartbeat >= s.lease {
            return Err(CoreError::invalid(
                "REVIEWDESK_HEARTBEAT_MS",
                "the heartbeat must be shorter than the lease",
            ));
        }
        Ok(s)
    }

    /// Delay before the next attempt, after `attempts` failed ones.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let i =
            (attempts.saturating_sub(1) as usize).min(self.retry_schedule.len().saturating_sub(1));
        self.retry_schedule
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_file_errors_name_the_field() {
        let base = "channel_id: main\nchannel_name: Main\n";
        assert!(ChannelConfig::parse(base, "c.yaml").is_ok());
        let cases = [
            (format!("{base}max_concurrent: 11\n"), "max_concurrent"),
            (
                "channel_id: bad-id\nchannel_name: X\n".to_string(),
                "channel_id",
            ),
            (format!("{base}storage_strategy: r2\n"), "r2"),
            (format!("{base}colour: blue\n"), "colour"),
            (
                format!("{base}steps:\n  video:\n    executor: command\n    program: ' '\n"),
                "steps.video.program",
            ),
            (
                format!("{base}steps:\n  dance:\n    executor: builtin\n"),
                "steps.dance",
            ),
            (
                format!("{base}asset_counts:\n  props: 9\n"),
                "asset_counts.props",
            ),
        ];
        for (text, field) in cases {
            let e = ChannelConfig::parse(&text, "c.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(field) && e.contains("c.yaml"), "{field}: {e}");
        }
    }

    #[test]
    fn every_step_defaults_to_its_built_in_executor() {
        let c = ChannelConfig::default_channel();
        for step in Step::ALL {
            assert_eq!(c.executor_for(step), ExecutorConfig::Builtin, "{step}");
        }
        let text = "channel_id: c\nchannel_name: C\nsteps:\n  video:\n    executor: command\n    program: /bin/true\n";
        let c = ChannelConfig::parse(text, "c").unwrap();
        assert!(matches!(
            c.executor_for(Step::Video),
            ExecutorConfig::Command {
                timeout_secs: 600,
                ..
            }
        ));
        assert_eq!(c.executor_for(Step::Audio), ExecutorConfig::Builtin);
    }

    #[test]
    fn narration_and_publish_settings_are_read_and_checked() {
        let base = "channel_id: c\nchannel_name: C\n";
        let c = ChannelConfig::parse(
            &format!("{base}narration:\n  voice: en-gb\n  rate: 150\npublish:\n  dir: /srv/videos\n  tags: [science]\n"),
            "c",
        )
        .unwrap();
        assert_eq!(c.narration.voice, "en-gb");
        assert_eq!(c.narration.rate, 150);
        assert_eq!(c.publish.dir.as_deref(), Some(Path::new("/srv/videos")));
        assert_eq!(c.publish.tags, vec!["science"]);
        let d = ChannelConfig::parse(base, "c").unwrap();
        assert_eq!(
            (d.narration.voice.as_str(), d.narration.rate),
            ("en-us", 165)
        );
        for (text, field) in [
            ("narration:\n  rate: 20\n", "narration.rate"),
            ("narration:\n  voice: \"en us; rm\"\n", "narration.voice"),
            ("publish:\n  dir: relative/path\n", "publish.dir"),
            ("publish:\n  folder: /x\n", "folder"),
        ] {
            let e = ChannelConfig::parse(&format!("{base}{text}"), "c.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
