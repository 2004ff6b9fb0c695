//! The ElevenLabs client against the ElevenLabs double: audio, errors, concurrency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{duration, ffprobe, wait_until};
use provider_doubles::{ElevenLabsConfig as DoubleConfig, ElevenLabsDouble, FaultRule};
use reviewdesk_providers::elevenlabs::*;
use reviewdesk_providers::{ErrorKind, RetryPolicy, Secret};

const VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

async fn double(config: DoubleConfig) -> ElevenLabsDouble {
    ElevenLabsDouble::start(config).await.unwrap()
}

fn client_with(
    d: &ElevenLabsDouble,
    key: &str,
    max_concurrent: usize,
    attempts: u32,
) -> ElevenLabsClient {
    let mut c = ElevenLabsConfig::new(Secret::new(key));
    c.base_url = d.url();
    c.timeout = Duration::from_secs(20);
    c.max_concurrent = max_concurrent;
    c.retry = RetryPolicy::fast().attempts(attempts);
    ElevenLabsClient::new(c).unwrap()
}

fn client(d: &ElevenLabsDouble) -> ElevenLabsClient {
    client_with(d, &d.api_key(), 2, 3)
}

#[tokio::test]
async fn speech_is_an_mp3_with_its_character_cost_and_request_id() {
    let d = double(DoubleConfig::default()).await;
    let text = "The lighthouse keeper lit the lamp.";
    let audio = client(&d)
        .speech(&SpeechRequest {
            stability: Some(0.4),
            similarity_boost: Some(0.8),
            speed: Some(1.1),
            ..SpeechRequest::new(VOICE, text)
        })
        .await
        .unwrap();
    assert_eq!(audio.mime, "audio/mpeg");
    assert_eq!(audio.character_cost, Some(text.chars().count() as u64));
    assert!(audio.request_id.is_some());
    let probe = ffprobe(&audio.bytes, "mp3");
    assert_eq!(probe["streams"][0]["codec_name"], "mp3");
    let want = provider_doubles::mp3_duration_for_text(text);
    assert!((duration(&probe) - want).abs() < 0.1);
    assert_eq!(d.speeches(), [text]);
}

#[tokio::test]
async fn a_sound_effect_lasts_the_asked_duration() {
    let d = double(DoubleConfig::default()).await;
    let audio = client(&d)
        .sound_effect(&SoundRequest {
            duration_secs: Some(1.5),
            prompt_influence: Some(0.5),
            ..SoundRequest::new("a door slams")
        })
        .await
        .unwrap();
    assert_eq!(audio.character_cost, Some(30), "20 credits per second");
    assert!((duration(&ffprobe(&audio.bytes, "mp3")) - 1.5).abs() < 0.1);
    assert_eq!(d.sounds(), [("a door slams".to_owned(), Some(1.5))]);
}

#[tokio::test]
async fn an_invalid_body_is_permanent_and_names_the_field() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    let err = c
        .speech(&SpeechRequest {
            stability: Some(1.5),
            ..SpeechRequest::new(VOICE, "x")
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Permanent, Some(422))
    );
    assert_eq!(
        err.to_string(),
        "ElevenLabs rejected the request (422 validation_error: body.voice_settings.stability: Input should be less than or equal to 1)"
    );
    let err = c
        .sound_effect(&SoundRequest {
            duration_secs: Some(45.0),
            ..SoundRequest::new("boom")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("body.duration_seconds"), "{err}");
    let err = c
        .speech(&SpeechRequest::new(VOICE, "x".repeat(10_001)))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("body.text: String should have at most 10000 characters"),
        "{err}"
    );
    assert_eq!(d.requests().len(), 3, "never retried");
}

#[tokio::test]
async fn a_wrong_key_used_up_credits_and_an_unknown_voice_are_configuration() {
    let d = double(DoubleConfig::default()).await;
    let err = client_with(&d, "sk_wrong", 2, 3)
        .speech(&SpeechRequest::new(VOICE, "x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Configuration, Some("invalid_api_key"))
    );
    assert_eq!(
        err.to_string(),
        "the ElevenLabs key was refused (401 invalid_api_key: Invalid API key): set ELEVENLABS_API_KEY or save a key in Settings → Providers"
    );

    let c = client(&d);
    let err = c
        .speech(&SpeechRequest::new("nobody", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Configuration, Some("voice_not_found"))
    );
    assert!(err.to_string().contains("choose another voice"), "{err}");

    d.set_quota_exceeded(true);
    let err = c
        .sound_effect(&SoundRequest::new("boom"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Configuration, Some("quota_exceeded"))
    );
    assert!(
        err.to_string()
            .starts_with("the ElevenLabs credits are used up"),
        "{err}"
    );
}

#[tokio::test]
async fn check_accepts_a_key_without_the_user_read_permission() {
    let d = double(DoubleConfig::default()).await;
    client(&d).check().await.unwrap();
    d.set_missing_permissions(true);
    client(&d).check().await.unwrap();
    let err = client_with(&d, "sk_wrong", 2, 3).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn too_many_concurrent_requests_is_retried_then_transient() {
    let d = double(DoubleConfig::default().max_concurrent(1)).await;
    let hold = d.hold();
    let busy = Arc::new(client(&d));
    let first = tokio::spawn({
        let busy = busy.clone();
        async move { busy.speech(&SpeechRequest::new(VOICE, "first")).await }
    });
    wait_until("one request in flight", || d.in_flight() == 1).await;
    let err = client_with(&d, &d.api_key(), 5, 2)
        .speech(&SpeechRequest::new(VOICE, "second"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient { retry_after: None });
    assert_eq!(err.code(), Some("too_many_concurrent_requests"));
    let rejected = d
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(
        rejected, 2,
        "a 429 is retried (never processed), within the attempts"
    );
    drop(hold);
    first.await.unwrap().unwrap();

    d.inject(FaultRule::status(429).code("system_busy"));
    let audio = client(&d)
        .speech(&SpeechRequest::new(VOICE, "third"))
        .await
        .unwrap();
    assert!(!audio.bytes.is_empty(), "system_busy was retried");
}

#[tokio::test]
async fn the_client_never_has_more_than_max_concurrent_requests_in_flight() {
    let d = double(DoubleConfig::default().max_concurrent(2)).await;
    let c = Arc::new(client_with(&d, &d.api_key(), 2, 1));
    let hold = d.hold();
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.speech(&SpeechRequest::new(VOICE, format!("line {i}")))
                    .await
            })
        })
        .collect();
    wait_until("two in flight and the client full", || {
        d.in_flight() == 2 && c.free_slots() == 0
    })
    .await;
    drop(hold);
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert!(
        d.requests().iter().all(|r| r.status == Some(200)),
        "{:?}",
        d.requests()
    );
    assert_eq!(d.speeches().len(), 3);
}

#[tokio::test]
async fn server_errors_and_lost_answers_of_paid_calls_are_transient_and_not_retried() {
    let d = double(DoubleConfig::default()).await;
    let c = client(&d);
    d.inject(FaultRule::status(500));
    let err = c.speech(&SpeechRequest::new(VOICE, "x")).await.unwrap_err();
    assert!(err.is_transient() && err.may_have_landed());
    d.inject(FaultRule::drop_after_processing());
    let err = c.speech(&SpeechRequest::new(VOICE, "x")).await.unwrap_err();
    assert!(err.is_transient() && err.may_have_landed());
    assert_eq!(d.requests().len(), 2);
    assert_eq!(d.characters_used(), 1, "the dropped one was billed");
}
