//! The paid executors against local doubles of Gemini, Kling and ElevenLabs: a task runs from
//! Queued to Ready for Review with a review at each gate, every paid call lands in the ledger at
//! the configured price, a rejected clip costs exactly one more clip, and a channel's budget
//! makes a task wait (not fail) until the next day.

use std::sync::Arc;
use std::time::Duration;

use provider_doubles::{
    ElevenLabsConfig, ElevenLabsDouble, GeminiConfig, GeminiDouble, KlingConfig, KlingDouble,
};
use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::costs::Usd;
use reviewdesk_core::provider_steps::{ProviderKeys, ProviderSettings};
use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::{
    AssetName, Core, NewTask, ReviewInput, ReviewService, Source, Status, Step, TaskId,
    TaskService, Worker,
};
use reviewdesk_providers::RetryPolicy;
use reviewdesk_providers::Secret;
use reviewdesk_providers::kling::{Backoff, KlingCredentials};
use reviewdesk_providers::machine::MachineSlots;
use reviewdesk_testkit::{OpenCore, TestCore, fast_worker_settings};

struct Doubles {
    gemini: GeminiDouble,
    kling: KlingDouble,
    eleven: ElevenLabsDouble,
    /// The machine's Kling places (their lock files), private to the test.
    lock_dir: tempfile::TempDir,
}

async fn doubles() -> Doubles {
    Doubles {
        gemini: GeminiDouble::start(GeminiConfig::default()).await.unwrap(),
        // Each clip answers `submitted` once and `processing` twice before it is done.
        kling: KlingDouble::start(KlingConfig::default().polls(1, 2))
            .await
            .unwrap(),
        eleven: ElevenLabsDouble::start(ElevenLabsConfig::default())
            .await
            .unwrap(),
        lock_dir: tempfile::tempdir().unwrap(),
    }
}

fn settings(d: &Doubles) -> WorkerSettings {
    WorkerSettings {
        providers: ProviderSettings {
            keys: ProviderKeys {
                gemini: Some(Secret::new(d.gemini.api_key())),
                kling: Some(KlingCredentials::AccessSecret {
                    access: Secret::new(d.kling.access_key()),
                    secret: Secret::new(d.kling.secret_key()),
                }),
                elevenlabs: Some(Secret::new(d.eleven.api_key())),
            },
            retry: RetryPolicy::fast(),
            poll: Backoff {
                start: Duration::from_millis(5),
                max: Duration::from_millis(20),
                give_up_after: Duration::from_secs(120),
            },
            kling_jobs: 3,
            kling_lock_dir: Some(d.lock_dir.path().to_path_buf()),
            elevenlabs_concurrent: 2,
        },
        ..fast_worker_settings()
    }
}

/// The assembly is not a provider's: a short ffmpeg command stands in for it here.
const QUICK_ASSEMBLY: &str = r#"  assembly:
    executor: command
    program: ffmpeg
    args: "-nostdin -y -loglevel error -f lavfi -i testsrc=duration=1:size=320x180:rate=10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p {output}"
    timeout_secs: 60
"#;

async fn open(d: &Doubles, channel_extra: &str, steps: &str) -> (OpenCore, Arc<Core>) {
    let yaml =
        format!("channel_id: default\nchannel_name: Default\n{channel_extra}steps:\n{steps}",);
    let open = TestCore::new()
        .worker_settings(settings(d))
        .channel(&yaml)
        .open()
        .await;
    let core = open.core.clone();
    (open, core)
}

fn every_provider(d: &Doubles) -> String {
    format!(
        "  assets:\n    executor: gemini\n    base_url: {}\n    style: flat vector art\n    references: [protagonist]\n  video:\n    executor: kling\n    base_url: {}\n    duration: 10\n  audio:\n    executor: elevenlabs\n    base_url: {}\n    voice_id: {}\n  sfx:\n    executor: elevenlabs\n    base_url: {}\n    duration_secs: 10\n{QUICK_ASSEMBLY}",
        d.gemini.url(),
        d.kling.url(),
        d.eleven.url(),
        "21m00Tcm4TlvDq8ikWAM",
        d.eleven.url(),
    )
}

async fn add_task(core: &Arc<Core>) -> TaskId {
    TaskService::new(core.clone())
        .create(
            NewTask {
                title: "How Volcanoes Work".into(),
                topic: "volcanoes".into(),
                story_direction: "curious and calm".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap()
        .id
}

async fn run_worker(core: &Arc<Core>) {
    tokio::time::timeout(
        Duration::from_secs(300),
        Worker::new(core.clone()).run_until_idle(),
    )
    .await
    .expect("the worker went idle in time")
    .unwrap();
}

async fn at(core: &Arc<Core>, id: TaskId, want: Status) {
    let t = TaskService::new(core.clone()).get(id).await.unwrap();
    assert_eq!(t.status, want, "{}", t.error_log);
}

/// An asset of a task's detail by name.
fn asset_named<'a>(
    detail: &'a reviewdesk_core::task_service::TaskDetail,
    name: &str,
) -> &'a reviewdesk_core::task_service::AssetDetail {
    detail
        .assets
        .iter()
        .find(|a| a.asset.name.as_str() == name)
        .unwrap_or_else(|| panic!("no asset {name}"))
}

fn review() -> ReviewInput {
    ReviewInput::by(Source::Desktop, local_reviewer())
}

/// What the ledger holds for one step: (rows, dollars).
async fn step_cost(core: &Arc<Core>, id: TaskId, step: Step) -> (usize, Usd) {
    let rows = core.store.ledger(None, Some(id), 0).await.unwrap();
    let rows: Vec<_> = rows.into_iter().filter(|r| r.item.step == step).collect();
    (rows.len(), rows.iter().map(|r| r.usd).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_paid_call_is_in_the_ledger_and_a_rejected_clip_costs_one_more_clip() {
    let d = doubles().await;
    let (_open, core) = open(&d, "", &every_provider(&d)).await;
    let id = add_task(&core).await;
    let reviews = ReviewService::new(core.clone());

    // Gate 1: 22 pictures from Gemini at $0.039; characters and props keyed out.
    run_worker(&core).await;
    at(&core, id, Status::AssetsReady).await;
    let log = TaskService::new(core.clone())
        .get(id)
        .await
        .unwrap()
        .error_log;
    assert_eq!(
        step_cost(&core, id, Step::Assets).await,
        (22, Usd::from_dollars(0.039).times(22)),
        "{log}"
    );
    assert_eq!(d.gemini.generations().len(), 22, "{log}");
    let detail = TaskService::new(core.clone()).detail(id).await.unwrap();
    let hero = detail
        .assets
        .iter()
        .find(|a| a.asset.kind == reviewdesk_core::asset::AssetKind::Character)
        .unwrap();
    let png = core.workspace.root().join(&hero.file);
    let img = image::open(&png).unwrap().to_rgba8();
    assert_eq!(
        img.get_pixel(0, 0)[3],
        0,
        "the plain background is keyed out"
    );
    let (w, h) = img.dimensions();
    assert_eq!(img.get_pixel(w / 2, h / 2)[3], 255, "the subject stays");
    let environment = detail
        .assets
        .iter()
        .find(|a| a.asset.kind == reviewdesk_core::asset::AssetKind::Environment)
        .unwrap();
    let env = image::open(core.workspace.root().join(&environment.file))
        .unwrap()
        .to_rgba8();
    assert_eq!(
        env.get_pixel(0, 0)[3],
        255,
        "an environment keeps its background"
    );
    // A first pass sends no references; a character made again goes with the kept protagonist.
    assert!(d.gemini.reference_image_counts().iter().all(|n| *n == 0));
    reviews
        .reject(
            id,
            Some(vec![AssetName::parse("villain").unwrap()]),
            review().with_reason("make him match the hero's style"),
        )
        .await
        .unwrap();
    reviews.retry(id, review()).await.unwrap();
    run_worker(&core).await;
    at(&core, id, Status::AssetsReady).await;
    assert_eq!(d.gemini.reference_image_counts().last(), Some(&1));
    assert_eq!(d.gemini.generations().len(), 23);
    assert_eq!(
        step_cost(&core, id, Step::Assets).await,
        (23, Usd::from_dollars(0.039).times(23))
    );
    let detail = TaskService::new(core.clone()).detail(id).await.unwrap();
    // The gate says what approving starts and what it costs.
    let estimate = detail
        .approve_cost
        .clone()
        .expect("an estimate at the gate");
    assert_eq!(
        (estimate.step, estimate.items, estimate.model.as_str()),
        (Step::Video, 18, "kling-v2-5-turbo std")
    );
    assert_eq!(Usd::from_dollars(estimate.usd).to_string(), "$7.56");
    reviews.approve(id, review()).await.unwrap();

    // Gate 2: 18 Kling clips at $0.42 (10 s std). Another worker of this machine holds 2 of
    // the 3 Kling places and the account allows 3 jobs: this worker runs one at a time, so
    // Kling never answers 1303 (too many jobs).
    let other_worker = MachineSlots::new(d.lock_dir.path(), "kling-job", 3);
    let held = [
        other_worker.try_acquire().unwrap().unwrap(),
        other_worker.try_acquire().unwrap().unwrap(),
    ];
    d.kling.set_max_running(1);
    run_worker(&core).await;
    drop(held);
    d.kling.set_max_running(3);
    at(&core, id, Status::VideoReady).await;
    let over_limit = d
        .kling
        .requests()
        .iter()
        .filter(|r| r.code.as_deref() == Some("1303"))
        .count();
    assert_eq!(
        over_limit, 0,
        "the machine's places kept the account's limit"
    );
    assert_eq!(d.kling.creates(), 18);
    let clip = Usd::from_dollars(0.042).times(10);
    assert_eq!(
        step_cost(&core, id, Step::Video).await,
        (18, clip.times(18))
    );
    // One clip rejected: exactly one more create and one more clip's price.
    reviews
        .reject(
            id,
            Some(vec![AssetName::parse("clip_03").unwrap()]),
            review().with_reason("the camera drifts off the subject"),
        )
        .await
        .unwrap();
    reviews.retry(id, review()).await.unwrap();
    run_worker(&core).await;
    at(&core, id, Status::VideoReady).await;
    assert_eq!(d.kling.creates(), 19);
    assert_eq!(
        step_cost(&core, id, Step::Video).await,
        (19, clip.times(19))
    );
    reviews.approve(id, review()).await.unwrap();

    // Gate 3: 18 narrations, billed by the characters ElevenLabs counted.
    run_worker(&core).await;
    at(&core, id, Status::AudioReady).await;
    let chars = d.eleven.characters_used() as i64;
    assert!(chars > 18 * 20, "{chars} characters");
    assert_eq!(
        step_cost(&core, id, Step::Audio).await,
        (18, Usd::from_dollars(0.00022).times(chars))
    );
    reviews.approve(id, review()).await.unwrap();

    // Gate 4: 18 effects of 10 s at $0.0044 a second, then the assembly.
    run_worker(&core).await;
    at(&core, id, Status::FinalReview).await;
    assert_eq!(
        step_cost(&core, id, Step::Sfx).await,
        (18, Usd::from_dollars(0.0044).times(180))
    );
    let expected = Usd::from_dollars(0.039).times(23)
        + clip.times(19)
        + Usd::from_dollars(0.00022).times(chars)
        + Usd::from_dollars(0.0044).times(180);
    assert_eq!(core.store.task_spend(id).await.unwrap(), expected);
    let detail = TaskService::new(core.clone()).detail(id).await.unwrap();
    assert_eq!(detail.spent_usd, expected.dollars());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_makes_the_task_wait_until_the_next_day() {
    let d = doubles().await;
    // 22 pictures at $0.039 cost $0.858: $0.50 pays for 12 of them today.
    let steps = format!(
        "  assets:\n    executor: gemini\n    base_url: {}\n",
        d.gemini.url()
    );
    let (_open, core) = open(&d, "budget_daily_usd: 0.5\n", &steps).await;
    let id = add_task(&core).await;
    run_worker(&core).await;
    let t = TaskService::new(core.clone()).get(id).await.unwrap();
    assert_eq!(t.status, Status::GeneratingAssets, "{}", t.error_log);
    assert!(
        t.error_log
            .contains("budget reached: $0.47 of $0.50 today (the next item costs $0.04) — resumes tomorrow or raise the budget"),
        "{}",
        t.error_log
    );
    assert_eq!(t.attempts, 0, "waiting for money is not a failed attempt");
    assert_eq!(d.gemini.generations().len(), 12);
    let paid = step_cost(&core, id, Step::Assets).await;
    assert_eq!(paid, (12, Usd::from_dollars(0.039).times(12)));
    assert!(paid.1 <= Usd::from_dollars(0.5));
    // The status bar's figures: spent today against the budget, nothing held once it waits.
    let today = reviewdesk_core::cost_report::spend_today(&core, None)
        .await
        .unwrap();
    assert_eq!(today.len(), 1);
    assert_eq!(
        (today[0].spent_usd, today[0].held_usd, today[0].budget_usd),
        (0.468, 0.0, Some(0.5))
    );

    // The next day the running worker makes the rest by itself; nothing made yesterday is paid
    // for again.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(core.clone());
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run(rx).await }
    });
    core.worker_settings
        .clock
        .advance(chrono::Duration::days(1));
    reviewdesk_testkit::wait_until_async(
        "the task reaches Assets Ready",
        Duration::from_secs(120),
        || {
            let core = core.clone();
            async move { TaskService::new(core).get(id).await.unwrap().status == Status::AssetsReady }
        },
    )
    .await;
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
    at(&core, id, Status::AssetsReady).await;
    let log = TaskService::new(core.clone())
        .get(id)
        .await
        .unwrap()
        .error_log;
    assert_eq!(
        step_cost(&core, id, Step::Assets).await,
        (22, Usd::from_dollars(0.039).times(22)),
        "{log}"
    );
    assert_eq!(d.gemini.generations().len(), 22, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_asset_shows_its_reason_and_the_others_are_made_and_kept() {
    let d = doubles().await;
    d.gemini.refuse_prompts_containing("villain");
    d.gemini.busy_background_containing("lantern");
    let steps = format!(
        "  assets:\n    executor: gemini\n    base_url: {}\n",
        d.gemini.url()
    );
    let (_open, core) = open(&d, "", &steps).await;
    let id = add_task(&core).await;
    run_worker(&core).await;

    // Every asset was asked for once; the refusal stopped only the villain.
    let t = TaskService::new(core.clone()).get(id).await.unwrap();
    assert_eq!(t.status, Status::AssetError, "{}", t.error_log);
    assert!(
        t.error_log.contains("1 of 22 items could not be made") && t.error_log.contains("villain"),
        "{}",
        t.error_log
    );
    assert_eq!(d.gemini.generations().len(), 22);
    assert_eq!(
        step_cost(&core, id, Step::Assets).await,
        (21, Usd::from_dollars(0.039).times(21)),
        "a refused picture is not charged"
    );
    let detail = TaskService::new(core.clone()).detail(id).await.unwrap();
    let asset = |n: &str| asset_named(&detail, n).clone();
    let villain = asset("villain");
    assert_eq!(villain.asset.current_version, 0);
    let reason = villain.asset.failure.clone().expect("the tile shows why");
    assert!(
        reason.contains("villain") && reason.contains("SAFETY"),
        "{reason}"
    );
    // The lantern's background could not be removed: kept, with a warning for its tile.
    let lantern = asset("lantern");
    assert_eq!(lantern.asset.current_version, 1);
    let note = lantern.versions[0]
        .version
        .note
        .clone()
        .expect("a warning on the tile");
    assert!(note.contains("background not removed"), "{note}");
    let compass = asset("compass");
    assert_eq!(compass.asset.failure, None);
    assert_eq!(
        compass.versions[0].version.note, None,
        "a keyed prop has no warning"
    );
    let mtime = |a: &reviewdesk_core::task_service::AssetDetail| {
        std::fs::metadata(core.workspace.root().join(&a.file))
            .unwrap()
            .modified()
            .unwrap()
    };
    let compass_mtime = mtime(&compass);

    // The creator rewords the refused prompt; a retry asks again for that asset only.
    let tasks = TaskService::new(core.clone());
    let villain_name = AssetName::parse("villain").unwrap();
    let e = tasks
        .edit_asset_prompt(id, &villain_name, "   ", Source::Desktop)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let edited = tasks
        .edit_asset_prompt(
            id,
            &villain_name,
            "Full-body stern antagonist in a grey cloak, for a video about volcanoes",
            Source::Desktop,
        )
        .await
        .unwrap();
    assert!(edited.prompt.starts_with("Full-body stern antagonist"));
    let retried = ReviewService::new(core.clone())
        .retry(id, review())
        .await
        .unwrap();
    let e = tasks
        .edit_asset_prompt(id, &villain_name, "anything", Source::Desktop)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("Assets Ready or Asset Error only"),
        "{} in {}: {e}",
        retried.status,
        retried.status.board_name()
    );
    run_worker(&core).await;
    at(&core, id, Status::AssetsReady).await;
    assert_eq!(d.gemini.generations().len(), 23);
    assert!(
        d.gemini.generations()[22]
            .prompt
            .contains("stern antagonist"),
        "the new version is drawn from the new prompt"
    );
    let detail = TaskService::new(core.clone()).detail(id).await.unwrap();
    let villain = asset_named(&detail, "villain");
    assert_eq!(
        (
            villain.asset.current_version,
            villain.asset.failure.as_deref()
        ),
        (1, None)
    );
    let compass = asset_named(&detail, "compass");
    assert_eq!(compass.asset.current_version, 1);
    assert_eq!(
        mtime(compass),
        compass_mtime,
        "a kept asset is not made again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connection_says_which_keys_work_and_new_keys_apply_without_a_restart() {
    use reviewdesk_core::provider_steps::check_provider;
    let d = doubles().await;
    let (_open, core) = open(&d, "", &every_provider(&d)).await;
    for provider in ["gemini", "kling", "elevenlabs"] {
        let c = check_provider(&core, provider).await.unwrap();
        assert!(c.ok, "{provider}: {:?}", c.lines);
        assert_eq!(c.lines.len(), 1, "one host per provider here");
        assert!(
            c.lines[0].contains("connected (127.0.0.1:"),
            "{:?}",
            c.lines
        );
    }
    assert!(check_provider(&core, "openai").await.is_err());

    // Settings saves a wrong Gemini key and removes the ElevenLabs one.
    let good = core.worker_settings.providers.keys.clone();
    core.providers.set_keys(ProviderKeys {
        gemini: Some(Secret::new("AIzaWrongKey0000000000")),
        elevenlabs: None,
        ..good.clone()
    });
    let gemini = check_provider(&core, "gemini").await.unwrap();
    assert!(!gemini.ok);
    assert!(
        gemini.lines[0].contains("key was refused") && !gemini.lines[0].contains("AIzaWrong"),
        "{:?}",
        gemini.lines
    );
    let eleven = check_provider(&core, "elevenlabs").await.unwrap();
    assert!(!eleven.ok);
    assert!(
        eleven.lines[0].contains("ELEVENLABS_API_KEY"),
        "{:?}",
        eleven.lines
    );

    // The running worker signs with the keys as they are now: refused, then made once the
    // right key is back, without a restart.
    let id = add_task(&core).await;
    run_worker(&core).await;
    let t = TaskService::new(core.clone()).get(id).await.unwrap();
    assert_eq!(t.status, Status::AssetError, "{}", t.error_log);
    assert!(t.error_log.contains("key was refused"), "{}", t.error_log);
    core.providers.set_keys(good);
    ReviewService::new(core.clone())
        .retry(id, review())
        .await
        .unwrap();
    run_worker(&core).await;
    at(&core, id, Status::AssetsReady).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_racing_for_the_last_dollars_never_overshoot_the_budget() {
    let Some(db) = reviewdesk_testkit::TestDb::postgres("budget_race_workers").await else {
        return;
    };
    let d = doubles().await;
    // Every picture takes a while, so both workers have items under way at once.
    d.gemini.set_latency(Duration::from_millis(150));
    let yaml = format!(
        "channel_id: default\nchannel_name: Default\nmax_concurrent: 2\nbudget_daily_usd: 0.5\nsteps:\n  assets:\n    executor: gemini\n    base_url: {}\n",
        d.gemini.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let builder = TestCore::new()
        .worker_settings(settings(&d))
        .channel(&yaml)
        .database_url(&db.url);
    // Two cores on one database and one workspace: two worker processes of one machine.
    let a = builder.open_in(dir.path()).await;
    let b = builder.open_in(dir.path()).await;
    let first = add_task(&a).await;
    let second = add_task(&b).await;
    tokio::join!(run_worker(&a), run_worker(&b));

    // $0.50 pays for 12 pictures at $0.039 ($0.468); the 13th would pass the budget.
    let rows = a.store.ledger(None, None, 0).await.unwrap();
    let spent: Usd = rows.iter().map(|r| r.usd).sum();
    assert_eq!(rows.len(), 12, "{rows:?}");
    assert!(spent <= Usd::from_dollars(0.5), "{spent}");
    assert_eq!(
        d.gemini.generations().len(),
        12,
        "nothing unpaid or paid twice"
    );
    for id in [first, second] {
        let t = TaskService::new(a.clone()).get(id).await.unwrap();
        assert_eq!(t.status, Status::GeneratingAssets, "{}", t.error_log);
        assert_eq!(t.attempts, 0);
    }
    a.store.close().await;
    b.store.close().await;
    db.finish().await;
}
