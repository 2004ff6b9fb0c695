//! The paid executors: Gemini makes the assets, Kling the clips, ElevenLabs the narration and
//! the sound effects. Each prices an item before it starts (the worker holds that price against
//! the channel's budget) and reports what the provider billed (the worker writes the ledger).
//!
//! The HTTP clients are in `reviewdesk-providers`; this module turns an item into a request and
//! an answer into the item's file. docs/providers.md has the channel file options.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use reviewdesk_providers::elevenlabs::{
    ElevenLabsClient, ElevenLabsConfig, SoundRequest, SpeechRequest,
};
use reviewdesk_providers::gemini::{AspectRatio, GeminiClient, GeminiConfig, ImageRequest};
use reviewdesk_providers::kling::{Backoff, KlingClient, KlingConfig, KlingMode, VideoRequest};
use reviewdesk_providers::machine::MachineSlots;
use reviewdesk_providers::{ErrorKind, ProviderError, RetryPolicy};

use crate::asset::AssetKind;
use crate::config::{ChannelConfig, ExecutorConfig, parse_hex_colour};
use crate::costs::{PriceTable, Quote};
use crate::executor::{ItemJob, ItemOutput, Paid, StepExecutor, StepFailure};
use crate::status::Step;
use crate::store::Store;
use crate::task::ErrorCategory;
use crate::thumbs;
use crate::workspace::Workspace;

/// The providers' keys: from the OS keyring (the desktop, `serve` and `worker` look there), else
/// the conventional environment variables. `Debug` never shows a key.
pub type ProviderKeys = reviewdesk_providers::Keys;

/// How the paid executors talk to the providers: keys, retries inside a call, and how often a
/// Kling job is polled. Tests shorten the waits.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The keys.
    pub keys: ProviderKeys,
    /// Retries inside one call.
    pub retry: RetryPolicy,
    /// Polling of a Kling job.
    pub poll: Backoff,
    /// Kling jobs at once on this machine (Kling counts them per account and pack).
    pub kling_jobs: usize,
    /// The folder of the lock files that share [`ProviderSettings::kling_jobs`] between every
    /// worker process of this machine; `None` limits this process only.
    pub kling_lock_dir: Option<std::path::PathBuf>,
    /// ElevenLabs requests at once (the plan's limit: Free 2, Starter 3, Creator 5).
    pub elevenlabs_concurrent: usize,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            keys: ProviderKeys::from_env(),
            retry: RetryPolicy::default(),
            poll: Backoff::default(),
            kling_jobs: 3,
            kling_lock_dir: Some(reviewdesk_providers::machine::default_lock_dir()),
            elevenlabs_concurrent: 2,
        }
    }
}

/// The clients, one per provider and host, shared by every task of this process: one rate
/// limit per key and one pool of Kling job places, whatever the number of tasks running.
#[derive(Default)]
pub struct ProviderClients {
    gemini: Mutex<HashMap<String, Arc<GeminiClient>>>,
    kling: Mutex<HashMap<String, Arc<KlingClient>>>,
    elevenlabs: Mutex<HashMap<String, Arc<ElevenLabsClient>>>,
    /// Keys saved or removed in Settings since the start, over the ones the worker began with.
    keys: Mutex<Option<ProviderKeys>>,
}

impl ProviderClients {
    /// Uses `keys` from now on (Settings → Providers saved or removed one): the clients made
    /// with the old keys are let go, so the next item of any task signs with the new ones. Items
    /// under way finish with the client they started with.
    pub fn set_keys(&self, keys: ProviderKeys) {
        *lock(&self.keys) = Some(keys);
        lock(&self.gemini).clear();
        lock(&self.kling).clear();
        lock(&self.elevenlabs).clear();
    }

    /// The keys in use: the last ones Settings gave, else `configured` (the start's).
    pub fn keys(&self, configured: &ProviderKeys) -> ProviderKeys {
        lock(&self.keys)
            .clone()
            .unwrap_or_else(|| configured.clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for ProviderClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderClients")
    }
}

fn shared<C>(
    map: &Mutex<HashMap<String, Arc<C>>>,
    base: &str,
    make: impl FnOnce() -> reviewdesk_providers::Result<C>,
) -> Result<Arc<C>, StepFailure> {
    let mut m = lock(map);
    if let Some(c) = m.get(base) {
        return Ok(c.clone());
    }
    let c = Arc::new(make().map_err(failure)?);
    m.insert(base.to_string(), c.clone());
    Ok(c)
}

/// What the app says and where it calls for each paid provider, outside its client: the one
/// place its name, the way to give it a key and its host's variable and default live, for the
/// executors and for Check connection alike.
pub struct ProviderInfo {
    /// `gemini`, `kling`, `elevenlabs` (the channel file's `executor:`).
    pub id: &'static str,
    /// Its name as shown.
    pub shown: &'static str,
    /// What is missing and how to give it.
    key_missing: &'static str,
    base_env: &'static str,
    default_base: &'static str,
}

impl ProviderInfo {
    /// The host to call: the environment's, else the channel's, else the provider's own.
    fn base_url(&self, configured: Option<&str>) -> String {
        reviewdesk_providers::resolve_base_url(self.base_env, configured, self.default_base)
    }
}

const GEMINI: ProviderInfo = ProviderInfo {
    id: "gemini",
    shown: "Gemini",
    key_missing: "no Gemini key: save one in Settings → Providers or set GEMINI_API_KEY",
    base_env: reviewdesk_providers::gemini::BASE_URL_ENV,
    default_base: reviewdesk_providers::gemini::DEFAULT_BASE_URL,
};
const KLING: ProviderInfo = ProviderInfo {
    id: "kling",
    shown: "Kling",
    key_missing: "no Kling keys: save the access and secret keys in Settings → Providers or set KLING_ACCESS_KEY and KLING_SECRET_KEY",
    base_env: reviewdesk_providers::kling::BASE_URL_ENV,
    default_base: reviewdesk_providers::kling::DEFAULT_BASE_URL,
};
const ELEVENLABS: ProviderInfo = ProviderInfo {
    id: "elevenlabs",
    shown: "ElevenLabs",
    key_missing: "no ElevenLabs key: save one in Settings → Providers or set ELEVENLABS_API_KEY",
    base_env: reviewdesk_providers::elevenlabs::BASE_URL_ENV,
    default_base: reviewdesk_providers::elevenlabs::DEFAULT_BASE_URL,
};

/// The providers Settings can check, in the order it lists them.
pub const PROVIDERS: [ProviderInfo; 3] = [GEMINI, KLING, ELEVENLABS];

fn missing_key(provider: &ProviderInfo) -> StepFailure {
    StepFailure::new(
        ErrorCategory::Configuration,
        format!("{}; then retry the task", provider.key_missing),
    )
}

/// A provider's failure as the worker's: waits and retries for transient ones, a fix of the
/// configuration for keys and models, and a change of the input for refusals.
fn failure(e: ProviderError) -> StepFailure {
    let category = match e.kind() {
        ErrorKind::Transient { .. } => ErrorCategory::Transient,
        ErrorKind::Configuration => ErrorCategory::Configuration,
        ErrorKind::Refused | ErrorKind::Permanent => ErrorCategory::Permanent,
    };
    StepFailure::new(category, crate::executor::redact(&e.to_string()))
}

/// What one item of a paid step costs: the one rule the executors price by before they start
/// and the gates estimate by ("Approve → 18 clips, about $7.56"). `text` is the item's prompt
/// (a narration line is priced by its characters). `None` for a free executor.
pub fn item_quote(
    config: &ExecutorConfig,
    step: Step,
    prices: &PriceTable,
    text: &str,
) -> crate::error::Result<Option<Quote>> {
    let (provider, model, key, units) = match config {
        ExecutorConfig::Gemini { model, .. } => {
            ("gemini", model.clone(), format!("gemini/{model}"), 1)
        }
        ExecutorConfig::Kling {
            model,
            mode,
            duration,
            ..
        } => (
            "kling",
            format!("{model} {mode}"),
            format!("kling/{model}/{mode}"),
            i64::from(*duration),
        ),
        ExecutorConfig::Elevenlabs {
            model,
            duration_secs,
            ..
        } => {
            let model = elevenlabs_model(model.as_deref(), step);
            let units = if step == Step::Audio {
                text.trim().chars().count() as i64
            } else {
                duration_secs.unwrap_or(10.0).ceil() as i64
            };
            let key = format!("elevenlabs/{model}");
            ("elevenlabs", model, key, units)
        }
        ExecutorConfig::Builtin | ExecutorConfig::Command { .. } => return Ok(None),
    };
    prices.quote(provider, &model, &key, units).map(Some)
}

/// The ElevenLabs model of a step: the channel's, else speech for narration and sound
/// generation for effects.
fn elevenlabs_model(configured: Option<&str>, step: Step) -> String {
    configured
        .unwrap_or(if step == Step::Audio {
            reviewdesk_providers::elevenlabs::DEFAULT_SPEECH_MODEL
        } else {
            reviewdesk_providers::elevenlabs::DEFAULT_SOUND_MODEL
        })
        .to_string()
}

/// What Settings → Providers → Check connection found for one provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ProviderCheck {
    /// `gemini`, `kling` or `elevenlabs`.
    pub provider: String,
    /// Every host checked answered that the key works.
    pub ok: bool,
    /// One line per host checked: connected, or what is wrong and what to do (never a key).
    pub lines: Vec<String>,
}

/// Checks a provider's key with one free authenticated call (Gemini: the model's description;
/// Kling: the account's costs of the last day; ElevenLabs: the user) against every host a channel
/// uses for it, or the provider's own host when no channel uses it yet.
pub async fn check_provider(
    core: &crate::Core,
    provider: &str,
) -> Result<ProviderCheck, crate::CoreError> {
    let Some(info) = PROVIDERS.iter().find(|p| p.id == provider) else {
        return Err(crate::CoreError::invalid(
            "provider",
            format!("{provider:?} is not gemini, kling or elevenlabs"),
        ));
    };
    let settings = &core.worker_settings.providers;
    let keys = core.providers.keys(&settings.keys);
    // (base URL, Gemini model) of every channel step on this provider.
    let mut targets: Vec<(Option<String>, String)> = Vec::new();
    for channel in core.channels() {
        for step in Step::ALL {
            let config = channel.executor_for(step);
            if config.provider() != Some(provider) {
                continue;
            }
            let target = match config {
                ExecutorConfig::Gemini {
                    model, base_url, ..
                } => (base_url, model),
                ExecutorConfig::Kling { base_url, .. }
                | ExecutorConfig::Elevenlabs { base_url, .. } => (base_url, String::new()),
                _ => continue,
            };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    if targets.is_empty() {
        targets.push((
            None,
            reviewdesk_providers::gemini::DEFAULT_MODEL.to_string(),
        ));
    }
    let mut lines = Vec::new();
    let mut ok = true;
    for (url, model) in targets {
        let base = info.base_url(url.as_deref());
        // A person is waiting on the answer: one retry at most, and no long waits.
        let retry = RetryPolicy {
            max_wait: std::time::Duration::from_secs(5),
            ..settings.retry
        }
        .attempts(2);
        let result: Result<(), String> = match provider {
            "gemini" => match keys.gemini.clone() {
                None => Err(info.key_missing.into()),
                Some(key) => match GeminiClient::new(GeminiConfig {
                    base_url: base.clone(),
                    retry,
                    ..GeminiConfig::new(key)
                }) {
                    Ok(c) => c.check(&model).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            },
            "kling" => match keys.kling.clone() {
                None => Err(info.key_missing.into()),
                Some(credentials) => match KlingClient::new(KlingConfig {
                    base_url: base.clone(),
                    retry,
                    ..KlingConfig::new(credentials)
                }) {
                    Ok(c) => c.check().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            },
            _ => match keys.elevenlabs.clone() {
                None => Err(info.key_missing.into()),
                Some(key) => match ElevenLabsClient::new(ElevenLabsConfig {
                    base_url: base.clone(),
                    retry,
                    ..ElevenLabsConfig::new(key)
                }) {
                    Ok(c) => c.check().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            },
        };
        let host = base
            .split("://")
            .nth(1)
            .unwrap_or(&base)
            .trim_end_matches('/')
            .to_string();
        match result {
            Ok(()) => lines.push(format!("{}: connected ({host})", info.shown)),
            Err(e) => {
                ok = false;
                lines.push(format!(
                    "{} ({host}): {}",
                    info.shown,
                    crate::executor::redact(&e)
                ));
            }
        }
    }
    Ok(ProviderCheck {
        provider: provider.to_string(),
        ok,
        lines,
    })
}

/// The paid executor configured for a step, or `None` for a free one.
pub(crate) fn paid_executor(
    step: Step,
    config: &ExecutorConfig,
    channel: &ChannelConfig,
    core: &crate::Core,
) -> Option<Result<Arc<dyn StepExecutor>, StepFailure>> {
    let settings = &core.worker_settings.providers;
    let keys = core.providers.keys(&settings.keys);
    let prices = core.prices.with(&channel.prices);
    Some(match config {
        ExecutorConfig::Gemini {
            model,
            style,
            background,
            references,
            image_size,
            base_url: url,
        } => (|| {
            let key = keys.gemini.clone().ok_or_else(|| missing_key(&GEMINI))?;
            let base = GEMINI.base_url(url.as_deref());
            let client = shared(&core.providers.gemini, &base, || {
                GeminiClient::new(GeminiConfig {
                    base_url: base.clone(),
                    retry: settings.retry,
                    ..GeminiConfig::new(key)
                })
            })?;
            Ok(Arc::new(GeminiExecutor {
                config: config.clone(),
                client,
                model: model.clone(),
                style: style.clone(),
                background: background.clone(),
                references: references.clone(),
                image_size: image_size.as_deref().and_then(image_size_of),
                prices,
                store: core.store.clone(),
            }) as Arc<dyn StepExecutor>)
        })(),
        ExecutorConfig::Kling {
            model,
            mode,
            duration,
            negative_prompt,
            base_url: url,
        } => (|| {
            let credentials = keys.kling.clone().ok_or_else(|| missing_key(&KLING))?;
            let base = KLING.base_url(url.as_deref());
            let client = shared(&core.providers.kling, &base, || {
                KlingClient::new(KlingConfig {
                    base_url: base.clone(),
                    retry: settings.retry,
                    max_concurrent_jobs: settings.kling_jobs.max(1),
                    ..KlingConfig::new(credentials)
                })
            })?;
            Ok(Arc::new(KlingExecutor {
                config: config.clone(),
                client,
                model: model.clone(),
                mode: if mode == "pro" {
                    KlingMode::Pro
                } else {
                    KlingMode::Std
                },
                duration: *duration,
                negative_prompt: negative_prompt.clone(),
                prices,
                store: core.store.clone(),
                poll: settings.poll,
                jobs: settings.kling_jobs.max(1),
                machine: settings
                    .kling_lock_dir
                    .as_ref()
                    .map(|dir| MachineSlots::new(dir, "kling-job", settings.kling_jobs)),
            }) as Arc<dyn StepExecutor>)
        })(),
        ExecutorConfig::Elevenlabs {
            model,
            voice_id,
            stability,
            similarity_boost,
            speed,
            duration_secs,
            prompt_influence,
            base_url: url,
        } => (|| {
            let key = keys
                .elevenlabs
                .clone()
                .ok_or_else(|| missing_key(&ELEVENLABS))?;
            let base = ELEVENLABS.base_url(url.as_deref());
            let client = shared(&core.providers.elevenlabs, &base, || {
                ElevenLabsClient::new(ElevenLabsConfig {
                    base_url: base.clone(),
                    retry: settings.retry,
                    max_concurrent: settings.elevenlabs_concurrent.max(1),
                    ..ElevenLabsConfig::new(key)
                })
            })?;
            Ok(Arc::new(ElevenLabsExecutor {
                config: config.clone(),
                client,
                step,
                model: elevenlabs_model(model.as_deref(), step),
                voice_id: voice_id.clone().unwrap_or_default(),
                stability: *stability,
                similarity_boost: *similarity_boost,
                speed: *speed,
                duration_secs: duration_secs.unwrap_or(10.0),
                prompt_influence: *prompt_influence,
                prices,
                concurrency: settings.elevenlabs_concurrent.max(1),
            }) as Arc<dyn StepExecutor>)
        })(),
        ExecutorConfig::Builtin | ExecutorConfig::Command { .. } => return None,
    })
}

fn image_size_of(s: &str) -> Option<reviewdesk_providers::gemini::ImageSize> {
    use reviewdesk_providers::gemini::ImageSize;
    match s {
        "1K" => Some(ImageSize::K1),
        "2K" => Some(ImageSize::K2),
        "4K" => Some(ImageSize::K4),
        _ => None,
    }
}

/// The aspect ratio Gemini offers nearest to `w:h`.
fn nearest_aspect(w: u32, h: u32) -> AspectRatio {
    let want = (w.max(1) as f64 / h.max(1) as f64).ln();
    let ratio = |a: AspectRatio| {
        let (x, y) = a.as_str().split_once(':').unwrap_or(("1", "1"));
        (x.parse::<f64>().unwrap_or(1.0) / y.parse::<f64>().unwrap_or(1.0)).ln()
    };
    AspectRatio::ALL
        .into_iter()
        .min_by(|a, b| {
            (ratio(*a) - want)
                .abs()
                .total_cmp(&(ratio(*b) - want).abs())
        })
        .unwrap_or(AspectRatio::Square)
}

/// Gemini: one picture per asset. Characters and props come on a plain colour that is keyed out
/// here (the model returns no transparency); when that fails the picture is kept as it came and
/// the tile says why.
struct GeminiExecutor {
    config: ExecutorConfig,
    client: Arc<GeminiClient>,
    model: String,
    style: Option<String>,
    background: String,
    references: Vec<String>,
    image_size: Option<reviewdesk_providers::gemini::ImageSize>,
    prices: PriceTable,
    store: Store,
}

impl GeminiExecutor {
    fn prompt(&self, job: &ItemJob) -> String {
        let mut p = job.item.prompt.trim().to_string();
        if let Some(style) = self.style.as_deref().filter(|s| !s.trim().is_empty()) {
            p.push_str(&format!(". Style: {}", style.trim()));
        }
        if matches!(job.item.kind, Some(AssetKind::Character | AssetKind::Prop)) {
            p.push_str(&format!(
                ". Show only the subject, whole and centred, on a plain solid {} background: one flat colour, no shadow, no floor, no other objects.",
                self.background
            ));
        }
        p
    }

    /// When an asset is made again (after a rejection), the current files of the channel's
    /// reference assets that were kept (not flagged), at most 3, so the new version matches them.
    /// A first pass sends none: its assets are being drawn at the same time, and a picture
    /// nobody has looked at is no reference.
    async fn references(&self, job: &ItemJob) -> Vec<reviewdesk_providers::gemini::InputImage> {
        let mut out = Vec::new();
        if self.references.is_empty() || job.item.version < 2 {
            return out;
        }
        let Ok(task) = self.store.task(job.task_id).await else {
            return out;
        };
        let Ok(assets) = self.store.assets(job.task_id).await else {
            return out;
        };
        for a in assets.iter().filter(|a| {
            self.references.iter().any(|r| r == a.name.as_str())
                && a.name.as_str() != job.item.key
                && !a.flagged
                && a.current_version > 0
        }) {
            let rel = Workspace::asset_rel(&task.channel_id, task.id, a.kind, &a.name);
            if let Ok(path) = job.workspace.resolve(&rel)
                && let Ok(bytes) = tokio::fs::read(&path).await
            {
                out.push(reviewdesk_providers::gemini::InputImage {
                    mime: "image/png".into(),
                    bytes: bytes.into(),
                });
            }
            if out.len() == 3 {
                break;
            }
        }
        out
    }
}

impl StepExecutor for GeminiExecutor {
    fn quote(&self, job: &ItemJob) -> Result<Option<Quote>, StepFailure> {
        Ok(item_quote(
            &self.config,
            job.step,
            &self.prices,
            &job.item.prompt,
        )?)
    }

    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let quote = priced(self.quote(job)?)?;
            let req = ImageRequest {
                model: self.model.clone(),
                prompt: self.prompt(job),
                reference_images: self.references(job).await,
                aspect_ratio: Some(nearest_aspect(job.item.width, job.item.height)),
                image_size: self.image_size,
            };
            let picture = self.client.generate_image(&req).await.map_err(|e| {
                let f = failure(e);
                StepFailure::new(f.category, format!("{}: {}", job.item.key, f.message))
            })?;
            let key = matches!(job.item.kind, Some(AssetKind::Character | AssetKind::Prop));
            let background = parse_hex_colour(&self.background);
            let ws = job.workspace.clone();
            let name = job.item.key.clone();
            let (prepared, encoded, warning) = tokio::task::spawn_blocking(move || {
                finish_picture(&ws, &name, &picture.bytes, key, background)
            })
            .await
            .map_err(|e| {
                StepFailure::new(
                    ErrorCategory::Transient,
                    format!("the picture thread failed: {e}"),
                )
            })??;
            job.workspace.resolve(&job.item.output_rel)?;
            Ok(ItemOutput {
                prepared: Some(prepared),
                bytes: Some(Arc::new(encoded)),
                warning,
                paid: Some(Paid {
                    quote,
                    correlation_id: None,
                }),
                ..ItemOutput::default()
            })
        })
    }

    fn concurrency(&self) -> usize {
        4
    }

    fn describe(&self) -> String {
        format!("gemini ({})", self.model)
    }
}

/// Decodes Gemini's picture, keys out the background of a character or prop, and prepares the
/// PNG and its thumbnail. A picture that cannot be keyed is kept with a warning for its tile.
fn finish_picture(
    ws: &Workspace,
    name: &str,
    bytes: &[u8],
    key: bool,
    background: Option<[u8; 3]>,
) -> Result<(thumbs::PreparedImage, Vec<u8>, Option<String>), StepFailure> {
    let image = reviewdesk_imaging::decode(bytes).map_err(|e| {
        StepFailure::new(
            ErrorCategory::Permanent,
            format!("{name}: Gemini's picture cannot be read ({e}); retry to ask again"),
        )
    })?;
    let mut warning = None;
    let image = if key {
        let keyed =
            reviewdesk_imaging::key_background(&image, &reviewdesk_imaging::KeyOptions::default());
        let mut notes: Vec<String> = keyed.warnings.iter().map(|w| w.to_string()).collect();
        if let Some(f) = &keyed.failure {
            notes.insert(0, format!("background not removed: {f}"));
        } else if let (Some(found), Some([r, g, b])) = (keyed.background, background) {
            let d = |x: u8, y: u8| (x as i32 - y as i32).abs();
            if d(found[0], r) + d(found[1], g) + d(found[2], b) > 96 {
                notes.push(format!(
                    "the background was #{:02x}{:02x}{:02x}, not the plain colour asked for",
                    found[0], found[1], found[2]
                ));
            }
        }
        if !notes.is_empty() {
            warning = Some(notes.join("; "));
        }
        keyed.image
    } else {
        image
    };
    let encoded = reviewdesk_imaging::encode_png(&image)
        .map_err(|e| StepFailure::new(ErrorCategory::Permanent, e.to_string()))?;
    let prepared = thumbs::prepare_in_memory(ws, &image, &encoded)?;
    Ok((prepared, encoded, warning))
}

/// Kling: one clip per approved composite. The job's id is written down before the first poll,
/// so a worker stopped while polling (even killed) waits for the same job after a restart and
/// never pays for a second one.
struct KlingExecutor {
    config: ExecutorConfig,
    client: Arc<KlingClient>,
    model: String,
    mode: KlingMode,
    duration: u32,
    negative_prompt: Option<String>,
    prices: PriceTable,
    store: Store,
    poll: Backoff,
    jobs: usize,
    /// The places shared with the other workers of this machine.
    machine: Option<MachineSlots>,
}

/// Kling takes jpg or png up to 10 MB.
const KLING_MAX_IMAGE: usize = 10 * 1024 * 1024;

impl StepExecutor for KlingExecutor {
    fn quote(&self, job: &ItemJob) -> Result<Option<Quote>, StepFailure> {
        Ok(item_quote(
            &self.config,
            job.step,
            &self.prices,
            &job.item.prompt,
        )?)
    }

    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let quote = priced(self.quote(job)?)?;
            let dest = job.workspace.resolve(&job.item.output_rel)?;
            let version = crate::worker::next_item_version(&dest);
            let slot = self.client.acquire_job_slot().await;
            let (task, step, item) = (job.task_id, job.step, job.item.key.as_str());
            // This process's place first, then one of the machine's: a process never holds a
            // machine place it has no room to use.
            let machine = match &self.machine {
                Some(m) => Some(m.acquire().await.map_err(|e| named(item, e))?),
                None => None,
            };
            let id = match self.store.provider_job(task, step, item, version).await? {
                Some((_, id)) => {
                    tracing::info!(item, job = %id, "resuming the Kling job");
                    id
                }
                None => {
                    let image = composite_for_kling(job).await?;
                    let req = VideoRequest {
                        model: self.model.clone(),
                        image: image.into(),
                        prompt: job.item.prompt.chars().take(2500).collect(),
                        negative_prompt: self.negative_prompt.clone(),
                        mode: self.mode,
                        duration_secs: self.duration,
                        // Unique per item version and attempt: a lost answer is found again by
                        // it, and a new attempt after a failed job starts a new one.
                        external_task_id: Some(format!(
                            "rd-{task}-{item}-v{version}-a{}",
                            job.attempt
                        )),
                    };
                    let id = self
                        .client
                        .create_or_find(&slot, &req)
                        .await
                        .map_err(|e| named(item, e))?;
                    self.store
                        .save_provider_job(task, step, item, version, "kling", id.as_str())
                        .await?;
                    id.0
                }
            };
            let done = match self.client.wait(&id, &self.poll).await {
                Ok(done) => done,
                Err(e) => {
                    if !e.is_transient() {
                        // The job ended without a clip: the next attempt starts a new one.
                        self.store
                            .forget_provider_job(task, step, item, version)
                            .await?;
                    }
                    return Err(named(item, e));
                }
            };
            drop((slot, machine));
            let bytes = self
                .client
                .download(&done.video_url)
                .await
                .map_err(|e| named(item, e))?;
            Ok(ItemOutput {
                bytes: Some(Arc::new(bytes.to_vec())),
                paid: Some(Paid {
                    quote,
                    correlation_id: Some(done.task_id.0),
                }),
                ..ItemOutput::default()
            })
        })
    }

    fn concurrency(&self) -> usize {
        self.jobs
    }

    fn describe(&self) -> String {
        format!("kling ({} {})", self.model, self.mode.as_str())
    }
}

/// A paid executor's price (always there: its quote is never `None`).
fn priced(q: Option<Quote>) -> Result<Quote, StepFailure> {
    q.ok_or_else(|| StepFailure::new(ErrorCategory::Configuration, "a paid step has no price"))
}

fn named(item: &str, e: ProviderError) -> StepFailure {
    let f = failure(e);
    StepFailure::new(f.category, format!("{item}: {}", f.message))
}

/// The composite as Kling takes it: the PNG when it is small enough, else a JPEG.
async fn composite_for_kling(job: &ItemJob) -> Result<Vec<u8>, StepFailure> {
    let Some(input) = job.item.inputs.first() else {
        return Err(StepFailure::new(
            ErrorCategory::Permanent,
            format!("{}: no composite to animate", job.item.key),
        ));
    };
    let bytes = tokio::fs::read(input).await.map_err(|e| {
        StepFailure::new(
            ErrorCategory::Permanent,
            format!(
                "cannot read {}: {e}; approve the assets again to remake it",
                input.display()
            ),
        )
    })?;
    if bytes.len() <= KLING_MAX_IMAGE {
        return Ok(bytes);
    }
    let key = job.item.key.clone();
    tokio::task::spawn_blocking(move || {
        let img = reviewdesk_imaging::decode(&bytes)
            .map_err(|e| StepFailure::new(ErrorCategory::Permanent, format!("{key}: {e}")))?;
        let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&rgb)
            .map_err(|e| StepFailure::new(ErrorCategory::Permanent, format!("{key}: {e}")))?;
        Ok(out)
    })
    .await
    .map_err(|e| StepFailure::new(ErrorCategory::Transient, e.to_string()))?
}

/// ElevenLabs: a narration line with the channel's voice, or a sound effect from its
/// description.
struct ElevenLabsExecutor {
    config: ExecutorConfig,
    client: Arc<ElevenLabsClient>,
    step: Step,
    model: String,
    voice_id: String,
    stability: Option<f32>,
    similarity_boost: Option<f32>,
    speed: Option<f32>,
    duration_secs: f32,
    prompt_influence: Option<f32>,
    prices: PriceTable,
    concurrency: usize,
}

impl StepExecutor for ElevenLabsExecutor {
    fn quote(&self, job: &ItemJob) -> Result<Option<Quote>, StepFailure> {
        Ok(item_quote(
            &self.config,
            job.step,
            &self.prices,
            &job.item.prompt,
        )?)
    }

    fn run_item<'a>(&'a self, job: &'a ItemJob) -> BoxFuture<'a, Result<ItemOutput, StepFailure>> {
        Box::pin(async move {
            let quote = priced(self.quote(job)?)?;
            let item = job.item.key.as_str();
            job.workspace.resolve(&job.item.output_rel)?;
            let audio = if self.step == Step::Audio {
                let mut req = SpeechRequest::new(&self.voice_id, job.item.prompt.trim());
                req.model_id = self.model.clone();
                req.stability = self.stability;
                req.similarity_boost = self.similarity_boost;
                req.speed = self.speed;
                self.client.speech(&req).await
            } else {
                let mut req = SoundRequest::new(job.item.prompt.trim());
                req.model_id = self.model.clone();
                req.duration_secs = Some(self.duration_secs);
                req.prompt_influence = self.prompt_influence;
                self.client.sound_effect(&req).await
            }
            .map_err(|e| named(item, e))?;
            // Speech is billed by the characters ElevenLabs counted (`character-cost`).
            let quote = match (self.step, audio.character_cost) {
                (Step::Audio, Some(chars)) => quote.with_units(chars as i64),
                _ => quote,
            };
            Ok(ItemOutput {
                bytes: Some(Arc::new(audio.bytes.to_vec())),
                paid: Some(Paid {
                    quote,
                    correlation_id: audio.request_id,
                }),
                ..ItemOutput::default()
            })
        })
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn describe(&self) -> String {
        format!("elevenlabs ({})", self.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_aspect_ratio_is_picked() {
        assert_eq!(nearest_aspect(1024, 1024), AspectRatio::Square);
        assert_eq!(nearest_aspect(1920, 1080), AspectRatio::R16x9);
        assert_eq!(nearest_aspect(1080, 1920), AspectRatio::R9x16);
        assert_eq!(nearest_aspect(800, 600), AspectRatio::R4x3);
        assert_eq!(nearest_aspect(0, 0), AspectRatio::Square);
    }
}
