//! Tests of the doubles themselves: they answer like providers.md says the real APIs do.

use std::io::Cursor;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use provider_doubles::*;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// A PNG of this size (a Kling input or a Gemini reference).
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([10, 120, 200]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// What ffprobe says about a file: its first stream and its format.
fn ffprobe(bytes: &[u8], ext: &str) -> Value {
    let path = std::env::temp_dir().join(format!("pd-test-{}.{ext}", uuid::Uuid::new_v4()));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("/usr/bin/ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn duration(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Wait for a state, with a deadline (never a bare sleep).
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------- Gemini ----------

fn generate_url(d: &GeminiDouble, model: &str) -> String {
    format!("{}/v1beta/models/{model}:generateContent", d.url())
}

#[tokio::test]
async fn gemini_answers_a_real_png_on_the_prompts_background_colour_at_the_asked_ratio() {
    let d = GeminiDouble::start(GeminiConfig::default()).await.unwrap();
    // snake_case, as the REST docs also accept, with one reference image.
    let body = json!({
        "contents": [{"role": "user", "parts": [
            {"text": "a red fox on a plain #00ff00 background"},
            {"inline_data": {"mime_type": "image/png", "data": STANDARD.encode(png(64, 64))}}
        ]}],
        "generation_config": {"response_modalities": ["TEXT", "IMAGE"],
            "image_config": {"aspect_ratio": "16:9"}}
    });
    let (status, _, v) = send(
        http()
            .post(generate_url(&d, "gemini-2.5-flash-image"))
            .header("x-goog-api-key", d.api_key())
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let cand = &v["candidates"][0];
    assert_eq!(cand["finishReason"], "STOP");
    let parts = cand["content"]["parts"].as_array().unwrap();
    assert!(parts.iter().any(|p| p["text"].is_string()), "a text part");
    let data = parts
        .iter()
        .find_map(|p| p["inlineData"]["data"].as_str())
        .unwrap();
    assert_eq!(
        parts
            .iter()
            .find_map(|p| p["inlineData"]["mimeType"].as_str()),
        Some("image/png")
    );
    let img = image::load_from_memory(&STANDARD.decode(data).unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (1344, 768));
    for (x, y) in [(0, 0), (1343, 0), (0, 767), (1343, 767)] {
        assert_eq!(img.get_pixel(x, y).0, [0, 255, 0], "corner {x},{y}");
    }
    assert_ne!(img.get_pixel(672, 307).0, [0, 255, 0], "a subject is drawn");
    assert_eq!(
        v["usageMetadata"]["candidatesTokensDetails"][0],
        json!({"modality": "IMAGE", "tokenCount": 1290})
    );
    assert_eq!(d.reference_image_counts(), vec![1]);

    // camelCase, no colour, 9:16 on 3 Pro at 2K: white, 1536x2688, with thought parts first.
    let body = json!({
        "contents": [{"parts": [{"text": "a lighthouse"}]}],
        "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "9:16", "imageSize": "2K"}}
    });
    let (status, _, v) = send(
        http()
            .post(generate_url(&d, "gemini-3-pro-image-preview"))
            .header("x-goog-api-key", d.api_key())
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thought"], true);
    let last = parts.last().unwrap();
    assert!(last.get("thought").is_none());
    let img = image::load_from_memory(
        &STANDARD
            .decode(last["inlineData"]["data"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
    .to_rgb8();
    assert_eq!(img.dimensions(), (1536, 2688));
    assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255]);
    assert_eq!(d.reference_image_counts(), vec![1, 0]);
}

#[tokio::test]
async fn gemini_keys_models_and_bad_arguments_answer_googles_errors() {
    let d = GeminiDouble::start(GeminiConfig::default().api_key("AIza-right"))
        .await
        .unwrap();
    let body = json!({"contents": [{"parts": [{"text": "x"}]}]});
    let url = generate_url(&d, "gemini-2.5-flash-image");

    let (s, _, v) = send(http().post(&url).json(&body)).await;
    assert_eq!(
        (s, v["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    let (s, _, v) = send(
        http()
            .post(&url)
            .header("x-goog-api-key", "AIza-wrong")
            .json(&body),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        v["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let key = ("x-goog-api-key", "AIza-right");
    let (s, _, v) = send(
        http()
            .post(generate_url(&d, "gemini-9-image"))
            .header(key.0, key.1)
            .json(&body),
    )
    .await;
    assert_eq!((s, v["error"]["status"].as_str()), (404, Some("NOT_FOUND")));

    for (config, needle) in [
        (
            json!({"imageConfig": {"aspectRatio": "7:3"}}),
            "aspect ratio",
        ),
        (json!({"imageConfig": {"imageSize": "4K"}}), "4K"),
        (json!({"imageConfig": {"imageSize": "3K"}}), "image size"),
    ] {
        let b = json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": config});
        let (s, _, v) = send(http().post(&url).header(key.0, key.1).json(&b)).await;
        assert_eq!(s, 400, "{config}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{v}"
        );
    }
    let b = json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}]});
    let (s, _, v) = send(http().post(&url).header(key.0, key.1).json(&b)).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Base64 decoding failed")
    );

    let (s, _, v) = send(
        http()
            .get(format!("{}/v1beta/models/gemini-2.5-flash-image", d.url()))
            .header(key.0, key.1),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "models/gemini-2.5-flash-image");
    assert!(
        v["supportedGenerationMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("generateContent"))
    );

    let log = d.requests();
    let labels: Vec<&str> = log.iter().map(|r| r.credential.as_str()).collect();
    assert_eq!(&labels[..3], ["no key", "wrong key", "configured key"]);
    assert_eq!(log[1].code.as_deref(), Some("API_KEY_INVALID"));
    assert!(!format!("{log:?}").contains("AIza-right"));
}

#[tokio::test]
async fn gemini_refusals_and_missing_images_are_http_200_shapes_set_by_triggers() {
    let d = GeminiDouble::start(GeminiConfig::default()).await.unwrap();
    d.refuse_prompts_containing("forbidden");
    d.refuse_images_containing("gore");
    d.text_only_containing("celebrity");
    d.no_image_containing("nothing");
    let ask = |prompt: &str| {
        http()
            .post(generate_url(&d, "gemini-2.5-flash-image"))
            .header("x-goog-api-key", d.api_key())
            .json(&json!({"contents": [{"parts": [{"text": prompt}]}]}))
    };
    let (s, _, v) = send(ask("a FORBIDDEN thing")).await;
    assert_eq!(s, 200);
    assert!(v.get("candidates").is_none());
    assert_eq!(v["promptFeedback"]["blockReason"], "SAFETY");

    let (_, _, v) = send(ask("gore")).await;
    assert_eq!(v["candidates"][0]["finishReason"], "IMAGE_SAFETY");
    assert!(v["candidates"][0].get("content").is_none());

    let (_, _, v) = send(ask("a celebrity")).await;
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert!(parts.iter().all(|p| p.get("inlineData").is_none()));

    let (_, _, v) = send(ask("nothing")).await;
    assert_eq!(v["candidates"][0]["finishReason"], "NO_IMAGE");
}

#[tokio::test]
async fn gemini_429_carries_quota_failure_and_retry_info_but_no_retry_after_header() {
    let d = GeminiDouble::start(GeminiConfig::default().requests_per_minute(1))
        .await
        .unwrap();
    let ask = || {
        http()
            .post(generate_url(&d, "gemini-2.5-flash-image"))
            .header("x-goog-api-key", d.api_key())
            .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
    };
    assert_eq!(send(ask()).await.0, 200);
    let (s, headers, v) = send(ask()).await;
    assert_eq!(s, 429);
    assert!(headers.get("retry-after").is_none());
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let details = v["error"]["details"].as_array().unwrap();
    assert!(details.iter().any(
        |d| d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"
            && d["violations"][0]["quotaId"]
                == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    ));
    let delay = details
        .iter()
        .find_map(|d| d["retryDelay"].as_str())
        .unwrap();
    let secs: u64 = delay.strip_suffix('s').unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{delay}");

    // As an injected fault: retryDelay "2s" by default.
    d.set_requests_per_minute(None);
    d.inject(FaultRule::status(429).path("/v1beta"));
    let (s, headers, v) = send(ask()).await;
    assert_eq!(s, 429);
    assert!(headers.get("retry-after").is_none());
    assert!(
        v["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["retryDelay"] == "2s")
    );
    assert_eq!(send(ask()).await.0, 200, "the fault was used up");
}

// ---------- Kling ----------

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn kling_token(d: &KlingDouble) -> String {
    sign_jwt(&d.access_key(), &d.secret_key(), now() + 1800, now() - 5)
}

fn create_body(image: &[u8]) -> Value {
    json!({"model_name": "kling-v2-5-turbo", "image": STANDARD.encode(image),
        "prompt": "the camera pushes in", "mode": "std", "duration": "5"})
}

async fn kling_create(d: &KlingDouble, body: &Value) -> (u16, Value) {
    let (s, _, v) = send(
        http()
            .post(format!("{}/v1/videos/image2video", d.url()))
            .bearer_auth(kling_token(d))
            .json(body),
    )
    .await;
    (s, v)
}

async fn kling_poll(d: &KlingDouble, id: &str) -> Value {
    let (s, _, v) = send(
        http()
            .get(format!("{}/v1/videos/image2video/{id}", d.url()))
            .bearer_auth(kling_token(d)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn kling_jwt_checks_answer_1000_to_1004_in_the_envelope() {
    let d = KlingDouble::start(KlingConfig::default().api_key("console-key"))
        .await
        .unwrap();
    let (ak, sk) = (d.access_key(), d.secret_key());
    let costs = format!("{}/account/costs?start_time=0&end_time=1", d.url());
    let cases = [
        (None, 1001),
        (Some("not-a-jwt".to_owned()), 1002),
        (
            Some(sign_jwt(&ak, "wrong-secret", now() + 1800, now() - 5)),
            1000,
        ),
        (
            Some(sign_jwt("other-access", &sk, now() + 1800, now() - 5)),
            1000,
        ),
        (Some(sign_jwt(&ak, &sk, now() + 1800, now() + 600)), 1003),
        (Some(sign_jwt(&ak, &sk, now() - 10, now() - 1800)), 1004),
    ];
    for (token, code) in cases {
        let mut req = http().get(&costs);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let (s, _, v) = send(req).await;
        assert_eq!((s, v["code"].as_i64()), (401, Some(code)), "{v}");
        assert!(v["data"].is_null() && v["request_id"].is_string() && v["message"].is_string());
    }
    let (s, _, v) = send(http().get(&costs).bearer_auth(sign_jwt(
        &ak,
        &sk,
        now() + 1800,
        now() - 5,
    )))
    .await;
    assert_eq!((s, v["code"].as_i64()), (200, Some(0)), "{v}");
    let (s, _, _) = send(http().get(&costs).bearer_auth("console-key")).await;
    assert_eq!(s, 200, "a console API key works as the bearer token");

    // A token valid now expires when the double's clock moves past `exp`.
    let token = sign_jwt(&ak, &sk, now() + 1800, now() - 5);
    d.advance_clock(Duration::from_secs(1801));
    let (_, _, v) = send(http().get(&costs).bearer_auth(&token)).await;
    assert_eq!(v["code"], 1004);
    let labels: Vec<String> = d.requests().iter().map(|r| r.credential.clone()).collect();
    assert_eq!(labels[0], "none");
    assert!(labels.contains(&"api key".to_owned()) && labels.contains(&"jwt".to_owned()));
    assert!(!format!("{:?}", d.requests()).contains(&sk));
}

#[tokio::test]
async fn kling_create_validates_fields_like_the_reference() {
    let d = KlingDouble::start(KlingConfig::default()).await.unwrap();
    d.refuse_prompts_containing("weapon");
    let good = png(400, 300);
    let mut cases: Vec<(Value, u16, i64)> = Vec::new();
    let with = |k: &str, v: Value| {
        let mut b = create_body(&good);
        b[k] = v;
        b
    };
    cases.push((
        with(
            "image",
            json!(format!("data:image/png;base64,{}", STANDARD.encode(&good))),
        ),
        400,
        1201,
    ));
    cases.push((
        with("image", json!(STANDARD.encode(png(200, 400)))),
        400,
        1201,
    ));
    cases.push((
        with("image", json!(STANDARD.encode(png(1000, 300)))),
        400,
        1201,
    ));
    cases.push((
        with("image", json!(STANDARD.encode(b"GIF89a not an image"))),
        400,
        1201,
    ));
    cases.push((with("duration", json!(5)), 400, 1201));
    cases.push((with("duration", json!("7")), 400, 1201));
    cases.push((with("mode", json!("ultra")), 400, 1201));
    cases.push((with("prompt", json!("x".repeat(2501))), 400, 1201));
    cases.push((with("model_name", json!("kling-v9")), 404, 1203));
    cases.push((with("prompt", json!("a WEAPON")), 400, 1301));
    let mut no_image = create_body(&good);
    no_image.as_object_mut().unwrap().remove("image");
    cases.push((no_image, 400, 1200));
    for (body, status, code) in cases {
        let (s, v) = kling_create(&d, &body).await;
        assert_eq!((s, v["code"].as_i64()), (status, Some(code)), "{v}");
    }
    assert_eq!(d.creates(), 0);

    let ok = with("external_task_id", json!("job-1"));
    let (s, v) = kling_create(&d, &ok).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["task_status"], "submitted");
    assert!(v["data"]["task_id"].is_string() && v["data"]["created_at"].is_i64());
    let (s, v) = kling_create(&d, &ok).await;
    assert_eq!(
        (s, v["code"].as_i64()),
        (400, Some(1201)),
        "external_task_id is unique: {v}"
    );
    assert_eq!((d.creates(), d.creates_for_external("job-1")), (1, 2));
}

#[tokio::test]
async fn kling_tasks_go_submitted_processing_succeed_and_the_url_serves_a_real_mp4() {
    let d = KlingDouble::start(KlingConfig::default().polls(1, 2))
        .await
        .unwrap();
    let mut body = create_body(&png(640, 360));
    body["external_task_id"] = json!("clip-7");
    let (s, v) = kling_create(&d, &body).await;
    assert_eq!(s, 200, "{v}");
    let id = v["data"]["task_id"].as_str().unwrap().to_owned();
    let statuses: Vec<Value> = [
        kling_poll(&d, &id).await,
        kling_poll(&d, "clip-7").await,
        kling_poll(&d, &id).await,
        kling_poll(&d, &id).await,
    ]
    .into_iter()
    .collect();
    let names: Vec<&str> = statuses
        .iter()
        .map(|s| s["task_status"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["submitted", "processing", "processing", "succeed"]);
    assert_eq!(d.polls_for("clip-7"), 4);
    let video = &statuses[3]["task_result"]["videos"][0];
    assert_eq!(video["duration"], "5", "duration is a string");
    assert_eq!(statuses[3]["task_info"]["external_task_id"], "clip-7");
    let resp = http()
        .get(video["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let mp4 = resp.bytes().await.unwrap();
    let probe = ffprobe(&mp4, "mp4");
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["pix_fmt"], "yuv420p");
    assert_eq!(
        (stream["width"].as_i64(), stream["height"].as_i64()),
        (Some(640), Some(360))
    );
    assert_eq!(stream["r_frame_rate"], "24/1");
    assert!(
        (duration(&probe) - 5.0).abs() < 0.05,
        "{}",
        duration(&probe)
    );
}

#[tokio::test]
async fn kling_answers_1303_past_k_unfinished_tasks_until_one_is_polled_to_its_end() {
    let d = KlingDouble::start(KlingConfig::default().max_running(2).polls(0, 1))
        .await
        .unwrap();
    d.fail_tasks_containing("explode");
    let img = png(400, 400);
    let (_, a) = kling_create(&d, &create_body(&img)).await;
    let mut failing = create_body(&img);
    failing["prompt"] = json!("it explodes");
    let (_, b) = kling_create(&d, &failing).await;
    let (s, v) = kling_create(&d, &create_body(&img)).await;
    assert_eq!((s, v["code"].as_i64()), (429, Some(1303)), "{v}");
    assert_eq!(v["message"], "parallel task over resource pack limit");

    let b = b["data"]["task_id"].as_str().unwrap().to_owned();
    assert_eq!(kling_poll(&d, &b).await["task_status"], "processing");
    assert_eq!(d.running(), 2, "processing still holds its slot");
    let end = kling_poll(&d, &b).await;
    assert_eq!(end["task_status"], "failed");
    assert_eq!(end["task_status_msg"], REFUSAL_MESSAGE);
    assert_eq!(d.running(), 1);
    let (s, _) = kling_create(&d, &create_body(&img)).await;
    assert_eq!(s, 200, "a slot is free again");
    assert!(a["data"]["task_id"].is_string());
}

#[tokio::test]
async fn faults_drop_delay_or_answer_with_the_providers_error_and_are_logged() {
    let d = KlingDouble::start(KlingConfig::default()).await.unwrap();
    let body = create_body(&png(400, 400));
    d.inject(FaultRule::status(503).path("/v1/videos"));
    let (s, v) = kling_create(&d, &body).await;
    assert_eq!((s, v["code"].as_i64()), (503, Some(5001)));
    d.inject(FaultRule::status(429).code("1102").path("/v1/videos"));
    let (s, v) = kling_create(&d, &body).await;
    assert_eq!((s, v["code"].as_i64()), (429, Some(1102)));
    assert_eq!(d.creates(), 0, "faulted requests are not processed");

    d.inject(FaultRule::drop_after_processing().method("POST"));
    let lost = http()
        .post(format!("{}/v1/videos/image2video", d.url()))
        .bearer_auth(kling_token(&d))
        .json(&body)
        .send()
        .await;
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(d.creates(), 1, "but the task was made");

    d.inject(FaultRule::drop_connection().method("POST"));
    assert!(
        http()
            .post(format!("{}/v1/videos/image2video", d.url()))
            .bearer_auth(kling_token(&d))
            .json(&body)
            .send()
            .await
            .is_err()
    );
    assert_eq!(d.creates(), 1, "dropped before processing");

    d.inject(FaultRule::delay_answer(Duration::from_secs(5)).method("POST"));
    let late = http()
        .post(format!("{}/v1/videos/image2video", d.url()))
        .bearer_auth(kling_token(&d))
        .timeout(Duration::from_secs(1))
        .json(&body)
        .send()
        .await;
    assert!(late.unwrap_err().is_timeout());
    assert_eq!(d.creates(), 2, "processed before the late answer");

    let log = d.requests();
    let statuses: Vec<Option<u16>> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(429), None, None, Some(200)]);
    assert_eq!(log[1].code.as_deref(), Some("1102"));
    assert!(log.iter().all(|r| r.injected.is_some()));
}

// ---------- ElevenLabs ----------

fn tts(d: &ElevenLabsDouble, voice: &str) -> reqwest::RequestBuilder {
    http()
        .post(format!(
            "{}/v1/text-to-speech/{voice}?output_format=mp3_44100_128",
            d.url()
        ))
        .header("xi-api-key", d.api_key())
}

#[tokio::test]
async fn elevenlabs_speech_and_sound_are_real_mp3s_with_the_cost_headers() {
    let d = ElevenLabsDouble::start(ElevenLabsConfig::default())
        .await
        .unwrap();
    let text = "Hello there, this is a test of the voice.";
    let resp = tts(&d, "21m00Tcm4TlvDq8ikWAM")
        .json(&json!({"text": text, "model_id": "eleven_multilingual_v2",
            "voice_settings": {"stability": 0.5, "similarity_boost": 0.75, "speed": 1.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "audio/mpeg");
    assert_eq!(
        h["character-cost"],
        text.chars().count().to_string().as_str()
    );
    assert!(h.contains_key("request-id"));
    assert_eq!(h["current-concurrent-requests"], "1");
    assert_eq!(h["maximum-concurrent-requests"], "2");
    let probe = ffprobe(&resp.bytes().await.unwrap(), "mp3");
    let s = &probe["streams"][0];
    assert_eq!(s["codec_name"], "mp3");
    assert_eq!(
        (s["sample_rate"].as_str(), s["channels"].as_i64()),
        (Some("44100"), Some(1))
    );
    let want = mp3_duration_for_text(text);
    assert!(
        (duration(&probe) - want).abs() < 0.1,
        "{} vs {want}",
        duration(&probe)
    );

    for (secs, want) in [(json!(2.5), 2.5), (Value::Null, 5.0)] {
        let resp = http()
            .post(format!("{}/v1/sound-generation", d.url()))
            .header("xi-api-key", d.api_key())
            .json(&json!({"text": "door slam", "duration_seconds": secs, "prompt_influence": 0.3}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let probe = ffprobe(&resp.bytes().await.unwrap(), "mp3");
        assert!(
            (duration(&probe) - want).abs() < 0.1,
            "{} vs {want}",
            duration(&probe)
        );
    }
    assert_eq!(d.characters_used(), text.chars().count() as u64 + 50 + 100);
}

#[tokio::test]
async fn elevenlabs_errors_have_the_detail_shapes() {
    let d = ElevenLabsDouble::start(ElevenLabsConfig::default())
        .await
        .unwrap();
    let voice = "21m00Tcm4TlvDq8ikWAM";
    let (s, _, v) = send(
        http()
            .post(format!("{}/v1/text-to-speech/{voice}", d.url()))
            .header("xi-api-key", "sk_wrong")
            .json(&json!({"text": "x"})),
    )
    .await;
    assert_eq!(
        (s, v["detail"]["status"].as_str()),
        (401, Some("invalid_api_key"))
    );

    let (s, _, v) = send(tts(&d, "nobody").json(&json!({"text": "x"}))).await;
    assert_eq!(
        (s, v["detail"]["status"].as_str()),
        (404, Some("voice_not_found"))
    );

    let cases = [
        (
            json!({"model_id": "eleven_multilingual_v2"}),
            json!(["body", "text"]),
            "missing",
        ),
        (
            json!({"text": "x", "voice_settings": {"stability": 1.5}}),
            json!(["body", "voice_settings", "stability"]),
            "less_than_equal",
        ),
        (
            json!({"text": "x", "voice_settings": {"speed": 0.5}}),
            json!(["body", "voice_settings", "speed"]),
            "greater_than_equal",
        ),
        (
            json!({"text": "x".repeat(10_001)}),
            json!(["body", "text"]),
            "string_too_long",
        ),
    ];
    for (body, loc, kind) in cases {
        let (s, _, v) = send(tts(&d, voice).json(&body)).await;
        assert_eq!(s, 422, "{v}");
        let first = &v["detail"][0];
        assert_eq!(
            (&first["loc"], first["type"].as_str()),
            (&loc, Some(kind)),
            "{v}"
        );
        assert!(first["msg"].is_string());
    }
    let (s, _, v) = send(
        http()
            .post(format!("{}/v1/sound-generation", d.url()))
            .header("xi-api-key", d.api_key())
            .json(&json!({"text": "boom", "duration_seconds": 31})),
    )
    .await;
    assert_eq!(
        (s, &v["detail"][0]["loc"]),
        (422, &json!(["body", "duration_seconds"]))
    );

    d.set_quota_exceeded(true);
    let (s, _, v) = send(tts(&d, voice).json(&json!({"text": "x"}))).await;
    assert_eq!(
        (s, v["detail"]["status"].as_str()),
        (401, Some("quota_exceeded"))
    );

    d.set_missing_permissions(true);
    let (s, _, v) = send(
        http()
            .get(format!("{}/v1/user", d.url()))
            .header("xi-api-key", d.api_key()),
    )
    .await;
    assert_eq!(
        (s, v["detail"]["status"].as_str()),
        (401, Some("missing_permissions"))
    );
    assert!(d.speeches().is_empty(), "nothing was spoken");
}

#[tokio::test]
async fn elevenlabs_answers_429_past_the_concurrency_limit() {
    let d = ElevenLabsDouble::start(ElevenLabsConfig::default().max_concurrent(2))
        .await
        .unwrap();
    let hold = d.hold();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(tokio::spawn(
            tts(&d, "21m00Tcm4TlvDq8ikWAM")
                .json(&json!({"text": "hello"}))
                .send(),
        ));
    }
    wait_until("two requests in flight", || d.in_flight() == 2).await;
    let (s, _, v) = send(tts(&d, "21m00Tcm4TlvDq8ikWAM").json(&json!({"text": "hello"}))).await;
    assert_eq!(
        (s, v["detail"]["status"].as_str()),
        (429, Some("too_many_concurrent_requests"))
    );
    drop(hold);
    for h in held {
        assert_eq!(h.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(d.in_flight(), 0);
    assert_eq!(d.speeches().len(), 2);
}
