//! The Kling client against the Kling double: JWTs, clips, lost answers, limits, refusals.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{duration, ffprobe, png};
use provider_doubles::{FaultRule, KlingConfig as DoubleConfig, KlingDouble, REFUSAL_MESSAGE};
use reviewdesk_providers::kling::*;
use reviewdesk_providers::{ErrorKind, ProviderError, RetryPolicy, Secret};

async fn double(config: DoubleConfig) -> KlingDouble {
    KlingDouble::start(config).await.unwrap()
}

fn config(d: &KlingDouble, credentials: KlingCredentials) -> KlingConfig {
    let mut c = KlingConfig::new(credentials);
    c.base_url = d.url();
    c.timeout = Duration::from_secs(10);
    c.retry = RetryPolicy::fast();
    c
}

fn keys(d: &KlingDouble) -> KlingCredentials {
    KlingCredentials::AccessSecret {
        access: Secret::new(d.access_key()),
        secret: Secret::new(d.secret_key()),
    }
}

fn client(d: &KlingDouble) -> KlingClient {
    KlingClient::new(config(d, keys(d))).unwrap()
}

fn request(external: Option<&str>) -> VideoRequest {
    VideoRequest {
        model: "kling-v2-5-turbo".into(),
        image: Bytes::from(png(640, 360)),
        prompt: "slow push in".into(),
        negative_prompt: Some("blur".into()),
        mode: KlingMode::Std,
        duration_secs: 5,
        external_task_id: external.map(str::to_owned),
    }
}

fn fast_polls() -> Backoff {
    Backoff {
        start: Duration::from_millis(2),
        max: Duration::from_millis(10),
        give_up_after: Duration::from_secs(10),
    }
}

fn creates_sent(d: &KlingDouble) -> usize {
    d.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/videos/image2video")
        .count()
}

#[tokio::test]
async fn a_signed_jwt_is_accepted_and_a_clip_is_made_waited_for_and_downloaded_as_a_real_mp4() {
    let d = double(DoubleConfig::default().polls(1, 3)).await;
    let c = client(&d);
    c.check().await.unwrap();
    let slot = c.acquire_job_slot().await;
    let id = c
        .create_or_find(&slot, &request(Some("job-1")))
        .await
        .unwrap();
    assert_eq!(
        c.status(id.as_str()).await.unwrap().status,
        KlingStatus::Submitted
    );
    let by_external = c.status("job-1").await.unwrap();
    assert_eq!(by_external.id, id);
    assert_eq!(by_external.external_task_id.as_deref(), Some("job-1"));
    assert_eq!(by_external.status, KlingStatus::Processing);

    let done = c.wait(id.as_str(), &fast_polls()).await.unwrap();
    drop(slot);
    assert_eq!(done.task_id, id);
    assert_eq!(done.duration_secs, 5.0);
    // 2 polls above, then wait's polls through `processing` to the end state.
    assert_eq!(d.polls_for(id.as_str()), 5);
    assert_eq!(d.running(), 0);

    let mp4 = c.download(&done.video_url).await.unwrap();
    let probe = ffprobe(&mp4, "mp4");
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    assert!((duration(&probe) - 5.0).abs() < 0.05);

    let log = d.requests();
    let api: Vec<_> = log
        .iter()
        .filter(|r| !r.path.starts_with("/__files"))
        .collect();
    assert!(api.iter().all(|r| r.credential == "jwt"), "{log:?}");
    let download = log.iter().find(|r| r.path.starts_with("/__files")).unwrap();
    assert_eq!(
        download.credential, "none",
        "no credentials are sent to the video URL"
    );
    let tasks = d.tasks();
    assert_eq!(tasks[0].external_task_id.as_deref(), Some("job-1"));
    assert_eq!(tasks[0].mode, "std");
}

#[tokio::test]
async fn a_console_api_key_is_sent_as_the_bearer_token() {
    let d = double(DoubleConfig::default().api_key("kling-console-key")).await;
    let c = KlingClient::new(config(
        &d,
        KlingCredentials::ApiKey(Secret::new("kling-console-key")),
    ))
    .unwrap();
    c.check().await.unwrap();
    assert_eq!(d.requests()[0].credential, "api key");
}

#[tokio::test]
async fn wrong_or_expired_credentials_are_configuration_errors() {
    let d = double(DoubleConfig::default()).await;
    let wrong = KlingClient::new(config(
        &d,
        KlingCredentials::AccessSecret {
            access: Secret::new(d.access_key()),
            secret: Secret::new("not-the-secret"),
        },
    ))
    .unwrap();
    let err = wrong.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(err.code(), Some("1000"));
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "the Kling keys were refused (401 1000: Authentication failed): set KLING_ACCESS_KEY"
        ),
        "{msg}"
    );
    let slot = wrong.acquire_job_slot().await;
    let err = wrong.create(&slot, &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(creates_sent(&d), 1, "a 401 is not retried");

    // The double's clock runs an hour ahead: the client's (cached) JWT has expired there.
    let c = client(&d);
    c.check().await.unwrap();
    d.advance_clock(Duration::from_secs(3600));
    let err = c.check().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Configuration, Some("1004"))
    );
    assert!(
        err.to_string()
            .contains("check that this computer's clock is right"),
        "{err}"
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_after_processing_is_found_and_not_paid_twice() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    let slot = c.acquire_job_slot().await;

    d.inject(FaultRule::drop_after_processing().method("POST"));
    let id = c
        .create_or_find(&slot, &request(Some("lost-1")))
        .await
        .unwrap();
    assert_eq!(d.creates_for_external("lost-1"), 1);
    assert_eq!(d.creates(), 1);
    assert_eq!(d.tasks()[0].task_id, id.as_str());

    // An answer held past the client's timeout: the same.
    let mut cfg = config(&d, keys(&d));
    cfg.timeout = Duration::from_secs(1);
    let impatient = KlingClient::new(cfg).unwrap();
    let slot2 = impatient.acquire_job_slot().await;
    d.inject(FaultRule::delay_answer(Duration::from_secs(3)).method("POST"));
    let id2 = impatient
        .create_or_find(&slot2, &request(Some("late-1")))
        .await
        .unwrap();
    assert_eq!(d.creates_for_external("late-1"), 1);
    assert_eq!(d.creates(), 2);
    assert_ne!(id, id2);

    // A plain create reports the lost answer as transient, and does not send it again.
    d.inject(FaultRule::drop_after_processing().method("POST"));
    let err = c
        .create(&slot, &request(Some("plain-1")))
        .await
        .unwrap_err();
    assert!(err.is_transient() && err.may_have_landed(), "{err:?}");
    assert_eq!(d.creates_for_external("plain-1"), 1);
}

#[tokio::test]
async fn a_create_that_failed_before_processing_is_sent_once_more_after_the_lookup() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    let slot = c.acquire_job_slot().await;
    d.inject(FaultRule::status(500).method("POST"));
    let id = c
        .create_or_find(&slot, &request(Some("retry-1")))
        .await
        .unwrap();
    assert_eq!(d.creates(), 1);
    assert_eq!(d.creates_for_external("retry-1"), 1);
    assert_eq!(
        creates_sent(&d),
        2,
        "the 500 was not processed; the lookup proved it"
    );
    // Order: lookup, create (500), lookup (not found), create.
    let kinds: Vec<(String, Option<u16>)> = d
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("GET".into(), Some(404)),
            ("POST".into(), Some(500)),
            ("GET".into(), Some(404)),
            ("POST".into(), Some(200))
        ]
    );
    // Resuming the same job (e.g. after a restart) finds it instead of creating it.
    let again = c
        .create_or_find(&slot, &request(Some("retry-1")))
        .await
        .unwrap();
    assert_eq!(again, id);
    assert_eq!(creates_sent(&d), 2);
}

#[tokio::test]
async fn a_full_resource_pack_1303_is_transient_after_bounded_retries() {
    let d = double(DoubleConfig::default().max_running(1)).await;
    let c = client(&d);
    let (a, b) = (c.acquire_job_slot().await, c.acquire_job_slot().await);
    c.create(&a, &request(None)).await.unwrap();
    let err = c.create(&b, &request(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient { retry_after: None });
    assert_eq!(err.code(), Some("1303"));
    assert!(!err.may_have_landed());
    assert!(
        err.to_string().starts_with("Kling is already running as many clips as the resource pack allows (429 1303: parallel task over resource pack limit)"),
        "{err}"
    );
    assert_eq!(
        creates_sent(&d),
        1 + 3,
        "a 429 is retried (never processed), at most 3 attempts"
    );
    assert_eq!(d.creates(), 1);

    d.inject(FaultRule::status(429).code("1102").method("POST"));
    let err = c.create(&b, &request(None)).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Configuration,
        "a used-up pack needs a person"
    );
    assert!(
        err.to_string()
            .contains("top up or renew the resource pack"),
        "{err}"
    );
}

#[tokio::test]
async fn refusals_at_create_and_after_acceptance_carry_klings_reason() {
    let d = double(DoubleConfig::default().polls(0, 1)).await;
    d.refuse_prompts_containing("weapon");
    d.fail_tasks_containing("explosion");
    let c = client(&d);
    let slot = c.acquire_job_slot().await;
    let err = c
        .create(
            &slot,
            &VideoRequest {
                prompt: "a weapon".into(),
                ..request(None)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(
        err.to_string(),
        "Kling refused the image: Failure to pass the risk control system"
    );

    let err = c
        .generate(
            &VideoRequest {
                prompt: "an explosion".into(),
                ..request(None)
            },
            &fast_polls(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(
        err.to_string(),
        format!("Kling refused the clip after accepting it: {REFUSAL_MESSAGE}")
    );
    assert_eq!(c.free_job_slots(), 2, "generate gave its slot back");
}

#[tokio::test]
async fn an_unknown_model_is_configuration_and_bad_fields_are_permanent() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    let slot = c.acquire_job_slot().await;
    let err = c
        .create(
            &slot,
            &VideoRequest {
                model: "kling-v9".into(),
                ..request(None)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Configuration, Some("1203"))
    );
    assert!(
        err.to_string().contains("choose another video model"),
        "{err}"
    );

    let err = c
        .create(
            &slot,
            &VideoRequest {
                prompt: "x".repeat(2501),
                ..request(None)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Permanent, Some("1201"))
    );
    assert!(
        err.to_string()
            .contains("prompt must be at most 2500 characters"),
        "{err}"
    );

    let err = c
        .create(
            &slot,
            &VideoRequest {
                image: Bytes::from(png(200, 200)),
                ..request(None)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("300px"), "{err}");

    let err = c.status("no-such-task").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(c.find("no-such-task").await.unwrap().is_none());
}

#[tokio::test]
async fn job_slots_bound_the_jobs_in_flight_and_belong_to_their_client() {
    let d = double(DoubleConfig::default()).await;
    let mut cfg = config(&d, keys(&d));
    cfg.max_concurrent_jobs = 2;
    let c = KlingClient::new(cfg).unwrap();
    let a = c.acquire_job_slot().await;
    let _b = c.acquire_job_slot().await;
    assert!(c.try_acquire_job_slot().is_none());
    assert_eq!(c.free_job_slots(), 0);
    drop(a);
    let _c = c
        .try_acquire_job_slot()
        .expect("a dropped slot is free again");

    let other = client(&d);
    let foreign = other.acquire_job_slot().await;
    let c = client(&d);
    let err = c.create(&foreign, &request(None)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidInput { .. }), "{err:?}");
    assert_eq!(creates_sent(&d), 0);
}

#[tokio::test]
async fn wait_rides_out_transient_poll_failures_and_gives_up_as_still_running() {
    let d = double(DoubleConfig::default().polls(1, 1)).await;
    let c = client(&d);
    let slot = c.acquire_job_slot().await;
    let id = c.create(&slot, &request(None)).await.unwrap();
    // More 503s than one call retries: wait keeps polling through them.
    d.inject(FaultRule::status(503).method("GET").times(4));
    let done = c.wait(id.as_str(), &fast_polls()).await.unwrap();
    assert_eq!(done.task_id, id);

    d.set_polls(1000, 0);
    let id = c.create(&slot, &request(None)).await.unwrap();
    let err = c
        .wait(
            id.as_str(),
            &Backoff {
                give_up_after: Duration::from_millis(50),
                ..fast_polls()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::StillRunning { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(d.polls_for(id.as_str()) >= 2);
}

#[tokio::test]
async fn a_deleted_video_is_a_permanent_error_saying_why() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    let err = c
        .download(&format!("{}/__files/videos/gone.mp4", d.url()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("30 days"), "{err}");
}
