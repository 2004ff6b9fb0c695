//! No key ever appears in a TRACE log (ours, reqwest's, hyper's), a Debug output or an error.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Capture, png};
use provider_doubles::*;
use reviewdesk_providers::elevenlabs::{
    ElevenLabsClient, ElevenLabsConfig as EConfig, SpeechRequest,
};
use reviewdesk_providers::gemini::{
    DEFAULT_MODEL, GeminiClient, GeminiConfig as GConfig, ImageRequest,
};
use reviewdesk_providers::kling::{
    KlingClient, KlingConfig as KConfig, KlingCredentials, KlingMode, VideoRequest,
};
use reviewdesk_providers::{RetryPolicy, Secret};

const GEMINI_KEY: &str = "AIzaSUPERSECRETgemini0123456789";
const KLING_ACCESS: &str = "AKSUPERSECRETkling0123";
const KLING_SECRET: &str = "SKSUPERSECRETkling4567";
const ELEVEN_KEY: &str = "sk_SUPERSECRETeleven89ab";
const WRONG: &str = "WRONGSECRET_fedcba9876543210";

#[tokio::test]
async fn the_keys_never_appear_in_trace_logs_debug_or_errors() {
    // `log` records (reqwest, hyper) go through tracing too; harmless if already installed.
    let _ = tracing_log::LogTracer::init();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fast = RetryPolicy::fast();

    // Gemini: a picture, a retried 503 on the check, a wrong key.
    let gd = GeminiDouble::start(GeminiConfig::default().api_key(GEMINI_KEY))
        .await
        .unwrap();
    let gemini = |key: &str| {
        let mut c = GConfig::new(Secret::new(key));
        c.base_url = gd.url();
        c.retry = fast;
        GeminiClient::new(c).unwrap()
    };
    let g = gemini(GEMINI_KEY);
    let req = ImageRequest {
        model: DEFAULT_MODEL.into(),
        prompt: "a boat".into(),
        reference_images: vec![],
        aspect_ratio: None,
        image_size: None,
    };
    g.generate_image(&req).await.unwrap();
    gd.inject(FaultRule::status(503).method("GET"));
    g.check(DEFAULT_MODEL).await.unwrap();
    let g_err = gemini(WRONG).generate_image(&req).await.unwrap_err();

    // Kling: a JWT-signed create and poll, a dropped answer, a wrong secret.
    let kd = KlingDouble::start(KlingConfig::default().keys(KLING_ACCESS, KLING_SECRET))
        .await
        .unwrap();
    let kling = |secret: &str| {
        let mut c = KConfig::new(KlingCredentials::AccessSecret {
            access: Secret::new(KLING_ACCESS),
            secret: Secret::new(secret),
        });
        c.base_url = kd.url();
        c.retry = fast;
        c.timeout = Duration::from_secs(10);
        KlingClient::new(c).unwrap()
    };
    let k = kling(KLING_SECRET);
    let slot = k.acquire_job_slot().await;
    let video = VideoRequest {
        model: "kling-v2-6".into(),
        image: Bytes::from(png(400, 400)),
        prompt: "pan left".into(),
        negative_prompt: None,
        mode: KlingMode::Pro,
        duration_secs: 10,
        external_task_id: Some("secret-test".into()),
    };
    kd.inject(FaultRule::drop_after_processing().method("POST"));
    let id = k.create_or_find(&slot, &video).await.unwrap();
    k.status(id.as_str()).await.unwrap();
    let k_err = kling(WRONG).check().await.unwrap_err();

    // ElevenLabs: speech, a wrong key.
    let ed = ElevenLabsDouble::start(ElevenLabsConfig::default().api_key(ELEVEN_KEY))
        .await
        .unwrap();
    let eleven = |key: &str| {
        let mut c = EConfig::new(Secret::new(key));
        c.base_url = ed.url();
        c.retry = fast;
        ElevenLabsClient::new(c).unwrap()
    };
    let e = eleven(ELEVEN_KEY);
    e.speech(&SpeechRequest::new("21m00Tcm4TlvDq8ikWAM", "hi"))
        .await
        .unwrap();
    let e_err = eleven(WRONG).check().await.unwrap_err();

    let kling_creds = KlingCredentials::AccessSecret {
        access: Secret::new(KLING_ACCESS),
        secret: Secret::new(KLING_SECRET),
    };
    let dump = format!(
        "{g_err} {g_err:?} {k_err} {k_err:?} {e_err} {e_err:?} {g:?} {k:?} {e:?} {:?} {kling_creds:?} {:?} {:?} {:?} {:?}",
        Secret::new(GEMINI_KEY),
        GConfig::new(Secret::new(GEMINI_KEY)),
        KConfig::new(kling_creds.clone()),
        gd.requests(),
        KlingConfig::default().keys(KLING_ACCESS, KLING_SECRET),
    );
    tracing::info!(dump, "dump");

    let out = capture.text();
    if std::env::var_os("SHOW_TRACE").is_some() {
        println!("{out}");
    }
    assert!(
        out.contains("provider call ok"),
        "the clients logged at debug level"
    );
    assert!(out.len() > 2000, "the run was traced");
    for secret in [
        GEMINI_KEY,
        KLING_SECRET,
        KLING_ACCESS,
        ELEVEN_KEY,
        WRONG,
        "SUPERSECRET",
        "WRONGSECRET",
    ] {
        assert!(!out.contains(secret), "{secret} leaked into the logs");
        assert!(
            !dump.contains(secret),
            "{secret} leaked into Debug or an error"
        );
    }
    // Nor the JWT (its header always encodes to this).
    assert!(
        !out.contains("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"),
        "a JWT leaked"
    );
    assert!(dump.contains("***"));
}
