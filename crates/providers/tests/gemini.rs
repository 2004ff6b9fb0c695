//! The Gemini client against the Gemini double: pictures, and every error class.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{png, wait_until};
use provider_doubles::{FaultRule, GeminiConfig as DoubleConfig, GeminiDouble};
use reviewdesk_providers::gemini::*;
use reviewdesk_providers::{ErrorKind, ProviderError, RetryPolicy, Secret};

async fn double() -> GeminiDouble {
    GeminiDouble::start(DoubleConfig::default()).await.unwrap()
}

fn client_with(d: &GeminiDouble, key: &str) -> GeminiClient {
    let mut c = GeminiConfig::new(Secret::new(key));
    c.base_url = d.url();
    c.timeout = Duration::from_secs(10);
    c.retry = RetryPolicy::fast();
    GeminiClient::new(c).unwrap()
}

fn client(d: &GeminiDouble) -> GeminiClient {
    client_with(d, &d.api_key())
}

fn request(prompt: &str) -> ImageRequest {
    ImageRequest {
        model: DEFAULT_MODEL.into(),
        prompt: prompt.into(),
        reference_images: vec![],
        aspect_ratio: None,
        image_size: None,
    }
}

fn generate_posts(d: &GeminiDouble) -> usize {
    d.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(":generateContent"))
        .count()
}

#[tokio::test]
async fn generate_image_returns_a_decodable_png_with_text_and_image_tokens() {
    let d = double().await;
    let c = client(&d);
    let reference = InputImage {
        mime: "image/png".into(),
        bytes: Bytes::from(png(32, 32)),
    };
    let img = c
        .generate_image(&ImageRequest {
            reference_images: vec![reference.clone(), reference],
            aspect_ratio: Some(AspectRatio::R16x9),
            ..request("a fox in front of #ff0000")
        })
        .await
        .unwrap();
    assert_eq!(img.mime, "image/png");
    assert_eq!(img.image_tokens, Some(1290));
    assert!(img.text.is_some());
    let pic = image::load_from_memory(&img.bytes).unwrap().to_rgb8();
    assert_eq!(pic.dimensions(), (1344, 768));
    assert_eq!(pic.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(pic.get_pixel(1343, 767).0, [255, 0, 0]);
    assert_eq!(d.reference_image_counts(), vec![2]);
    let seen = &d.generations()[0];
    assert_eq!(seen.aspect_ratio.as_deref(), Some("16:9"));

    // 3 Pro sends an interim "thought" image first; the final one is taken.
    let img = c
        .generate_image(&ImageRequest {
            model: "gemini-3-pro-image-preview".into(),
            image_size: Some(ImageSize::K2),
            ..request("a lighthouse")
        })
        .await
        .unwrap();
    let pic = image::load_from_memory(&img.bytes).unwrap().to_rgb8();
    assert_eq!(pic.dimensions(), (2048, 2048));
    assert_eq!(
        pic.get_pixel(0, 0).0,
        [255, 255, 255],
        "not the grey interim"
    );
    assert_eq!(img.image_tokens, Some(1120));
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_a_configuration_error_naming_the_setting() {
    let d = double().await;
    let err = client_with(&d, "AIza-wrong")
        .generate_image(&request("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(err.code(), Some("API_KEY_INVALID"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("the Gemini key was refused (400 API_KEY_INVALID: API key not valid."),
        "{msg}"
    );
    assert!(
        msg.ends_with("set GEMINI_API_KEY or save a key in Settings → Providers"),
        "{msg}"
    );
    assert_eq!(generate_posts(&d), 1, "never retried");

    let err = client_with(&d, "AIza-wrong")
        .check(DEFAULT_MODEL)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);

    let err = client_with(&d, "  ")
        .generate_image(&request("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("GEMINI_API_KEY"), "{err}");
    assert_eq!(generate_posts(&d), 1, "no key: nothing sent");

    let err = client_with(&d, "  ")
        .check(DEFAULT_MODEL)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no Gemini key is set: set GEMINI_API_KEY or save a key in Settings → Providers"
    );

    d.inject(FaultRule::status(400).code("FAILED_PRECONDITION"));
    let err = client(&d).generate_image(&request("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("enable billing"), "{err}");

    // 403 (e.g. the API is not enabled for the key) is a setting too.
    d.inject(FaultRule::status(403));
    let err = client(&d).generate_image(&request("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn check_passes_for_a_known_model_and_an_unknown_model_is_configuration() {
    let d = double().await;
    let c = client(&d);
    c.check(DEFAULT_MODEL).await.unwrap();
    let err = c.check("gemini-9-image").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string().contains("Gemini does not know this model"),
        "{err}"
    );
    let err = c
        .generate_image(&ImageRequest {
            model: "gemini-9-image".into(),
            ..request("x")
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Configuration, Some(404))
    );
}

#[tokio::test]
async fn refusals_are_refused_with_the_reason_and_missing_images_are_permanent() {
    let d = double().await;
    d.refuse_prompts_containing("forbidden");
    d.refuse_images_containing("gore");
    d.text_only_containing("celebrity");
    d.no_image_containing("nothing");
    let c = client(&d);

    let err = c.generate_image(&request("forbidden")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(
        err.to_string(),
        "Gemini refused the prompt: blocked for SAFETY"
    );

    let err = c.generate_image(&request("gore")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    let msg = err.to_string();
    assert!(
        msg.starts_with("Gemini refused the image: Unable to show the generated image."),
        "{msg}"
    );
    assert!(msg.ends_with("(IMAGE_SAFETY)"), "{msg}");

    let err = c.generate_image(&request("a celebrity")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(matches!(err, ProviderError::NoOutput { .. }));
    assert!(
        err.to_string()
            .contains("it answered with text only: I can describe"),
        "{err}"
    );

    let err = c.generate_image(&request("nothing")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("NO_IMAGE"), "{err}");
    assert_eq!(generate_posts(&d), 4, "200 answers are never retried");
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_delay_then_succeeds() {
    let d = double().await;
    d.inject(FaultRule::status(429).retry_after(Duration::from_millis(300)));
    let img = client(&d).generate_image(&request("x")).await.unwrap();
    assert!(!img.bytes.is_empty());
    let log = d.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, Some(429));
    assert!(
        log[1].at_ms - log[0].at_ms >= 290,
        "waited the retryDelay, not the 5 ms backoff: {log:?}"
    );
}

#[tokio::test]
async fn a_429_asking_more_than_max_wait_comes_back_transient_with_retry_after() {
    let d = double().await;
    d.inject(FaultRule::status(429).retry_after(Duration::from_secs(29)));
    let err = client(&d).generate_image(&request("x")).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Transient {
            retry_after: Some(Duration::from_secs(29))
        }
    );
    assert!(err.to_string().contains("tried again after 29s"), "{err}");
    assert!(
        err.to_string()
            .contains("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
        "{err}"
    );
    assert_eq!(generate_posts(&d), 1);

    // A quota of 0 (free tier without image quota) will never pass: a setting.
    d.inject(FaultRule::status(429).code("0"));
    let err = client(&d).generate_image(&request("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("enable billing"), "{err}");
}

#[tokio::test]
async fn server_errors_timeouts_and_drops_of_a_paid_call_are_transient_and_not_retried() {
    let d = double().await;
    let c = client(&d);
    d.inject(FaultRule::status(503));
    let err = c.generate_image(&request("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient { retry_after: None });
    assert!(
        err.to_string()
            .starts_with("Gemini is having trouble (503 UNAVAILABLE: The model is overloaded."),
        "{err}"
    );
    assert!(err.may_have_landed());

    d.inject(FaultRule::drop_connection());
    let err = c.generate_image(&request("x")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(err.is_transient());

    let mut cfg = GeminiConfig::new(Secret::new(d.api_key()));
    cfg.base_url = d.url();
    cfg.timeout = Duration::from_millis(300);
    cfg.retry = RetryPolicy::fast();
    let slow = GeminiClient::new(cfg).unwrap();
    d.inject(FaultRule::delay_answer(Duration::from_secs(3)));
    let err = slow.generate_image(&request("x")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    // The double logs the late one when it has made the picture.
    wait_until("the late request is logged", || generate_posts(&d) >= 3).await;
    assert_eq!(generate_posts(&d), 3, "each paid call was sent once");

    // The free check is a GET: retried through a 503.
    d.inject(FaultRule::status(503).method("GET"));
    c.check(DEFAULT_MODEL).await.unwrap();
    assert_eq!(d.requests().iter().filter(|r| r.method == "GET").count(), 2);
}

#[tokio::test]
async fn requests_per_minute_paces_calls_evenly() {
    let d = double().await;
    let mut cfg = GeminiConfig::new(Secret::new(d.api_key()));
    cfg.base_url = d.url();
    cfg.requests_per_minute = Some(600); // one every 100 ms
    let c = GeminiClient::new(cfg).unwrap();
    for _ in 0..3 {
        c.check(DEFAULT_MODEL).await.unwrap();
    }
    let at: Vec<u64> = d.requests().iter().map(|r| r.at_ms).collect();
    assert!(at[1] - at[0] >= 90 && at[2] - at[1] >= 90, "{at:?}");
}
