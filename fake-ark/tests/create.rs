//! Create over HTTP as upstream answers it: the SDK's nulls accepted, refusals in the native
//! shape naming their field, tokens by the 2.0 formula, the account's queue cap, models the
//! account has not activated, and the list's parameter ranges.

mod support;

use fake_ark::FakeArkConfig;
use serde_json::{json, Value};
use support::*;

async fn post(f: &Fake, body: &Value) -> Answer {
    f.send(reqwest::Method::POST, TASKS, Some(body)).await
}

fn text() -> Value {
    json!({"type": "text", "text": "a paper boat"})
}

#[tokio::test]
async fn the_official_sdks_nulls_are_accepted() {
    let f = start(FakeArkConfig::held()).await;
    // What the official SDK sends for a text-only request with nothing else set.
    let body = json!({
        "model": FAST, "content": [text()], "callback_url": null, "return_last_frame": null,
        "service_tier": null, "execution_expires_after": null, "generate_audio": null, "draft": null,
        "camera_fixed": null, "watermark": null, "seed": null, "resolution": null, "ratio": null,
        "duration": null, "frames": null, "output_format": null, "tools": null, "priority": null,
        "safety_identifier": null,
    });
    let id = f.create(&body).await;
    let g = f.task(&id).await;
    assert_eq!((g.body["resolution"].as_str(), g.body["ratio"].as_str()), (Some("720p"), Some("16:9")), "{}", g.raw);
    assert_eq!((g.body["duration"].as_u64(), g.body["generate_audio"].as_bool()), (Some(5), Some(true)));
    assert!(g.body["seed"].is_i64(), "the seed actually used is reported: {}", g.raw);
    assert!(g.body.get("safety_identifier").is_none());
}

#[tokio::test]
async fn refusals_name_their_field_in_the_native_shape() {
    let f = start(FakeArkConfig::held()).await;
    let cases = [
        (json!({"content": [text()]}), "MissingParameter", "model"),
        (json!({"model": MODEL}), "MissingParameter", "content"),
        (json!({"model": MODEL, "content": [text()], "frames": 121}), "InvalidParameter", "frames"),
        (json!({"model": MODEL, "content": [text()], "tools": [{"type": "web_search"}]}), "InvalidParameter", "tools"),
        (json!({"model": MODEL, "content": [text()], "camera_fixed": true}), "InvalidParameter", "camera_fixed"),
        (json!({"model": MODEL, "content": [text()], "draft": true}), "InvalidParameter", "draft"),
        (json!({"model": MODEL, "content": [text()], "service_tier": "flex"}), "InvalidParameter", "service_tier"),
        (json!({"model": MODEL, "content": [text()], "duration": 3}), "InvalidParameter", "duration"),
        (json!({"model": MODEL, "content": [text()], "ratio": "2:1"}), "InvalidParameter", "ratio"),
        (json!({"model": FAST, "content": [text()], "resolution": "1080p"}), "InvalidParameter", "resolution"),
    ];
    for (body, code, param) in cases {
        let a = post(&f, &body).await;
        assert_eq!(a.status, 400, "{body}: {}", a.raw);
        let e = &a.body["error"];
        assert_eq!(
            (e["code"].as_str(), e["param"].as_str(), e["type"].as_str()),
            (Some(code), Some(param), Some("BadRequest"))
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The content rules' live texts.
    let image = |role: &str| json!({"type": "image_url", "image_url": {"url": "https://x/a.png"}, "role": role});
    let video = json!({"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"});
    let mixed = post(&f, &json!({"model": MODEL, "content": [text(), image("first_frame"), video]})).await;
    assert_eq!(mixed.body["error"]["message"], "first/last frame content cannot be mixed with reference media content");
    let roleless = json!({"type": "image_url", "image_url": {"url": "https://x/b.png"}});
    let a = post(&f, &json!({"model": MODEL, "content": [text(), image("reference_image"), roleless]})).await;
    assert_eq!(a.body["error"]["message"], "role must be specified for image contents");
    assert_eq!(f.get(TASKS).await.body["total"], 0, "nothing refused was created");
    // And the modes that are fine.
    f.create(&json!({"model": MODEL, "content": [text(), image("first_frame"), image("last_frame")]})).await;
    f.create(&json!({"model": MODEL, "content": [text(), image("reference_image"), image("reference_image")]})).await;
}

/// Tokens a succeeded task reports when no test forced them.
async fn tokens_of(f: &Fake, body: Value) -> (Value, Value) {
    let id = f.create(&body).await;
    f.ark.finish(&id, "succeeded", None, None);
    let g = f.task(&id).await;
    assert_eq!(g.body["usage"]["completion_tokens"], g.body["usage"]["total_tokens"], "{}", g.raw);
    (g.body["usage"]["completion_tokens"].clone(), g.body)
}

#[tokio::test]
async fn tokens_follow_the_observed_formula() {
    let f = start(FakeArkConfig::held()).await;
    let (t, _) = tokens_of(&f, json!({"model": FAST, "content": [text()], "resolution": "480p", "duration": 4})).await;
    assert_eq!(t, 40_594);
    let (t, g) = tokens_of(&f, json!({"model": MODEL, "content": [text()], "duration": 5})).await;
    assert_eq!((t, g["resolution"].as_str()), (json!(108_900), Some("720p")));
    let reference =
        json!([text(), {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"}]);
    let (t, _) = tokens_of(&f, json!({"model": MODEL, "content": reference, "duration": 4})).await;
    assert_eq!(t, 173_700, "720p 4 s + one 4 s reference video");
    // −1 reports (and bills) 5 s; a 9:16 frame is the 16:9 one turned.
    let (t, g) = tokens_of(&f, json!({"model": MODEL, "content": [text()], "duration": -1, "ratio": "9:16"})).await;
    assert_eq!((t, g["duration"].as_u64(), g["ratio"].as_str()), (json!(108_900), Some(5), Some("9:16")));
    // A forced count still wins.
    let id = f.create(&json!({"model": MODEL, "content": [text()]})).await;
    f.ark.finish(&id, "succeeded", Some(12), Some("1080p"));
    assert_eq!(f.task(&id).await.body["usage"]["total_tokens"], 12);
}

#[tokio::test]
async fn reference_video_seconds_are_configurable_and_capped() {
    let f = start(FakeArkConfig { reference_video_secs: 6, ..FakeArkConfig::held() }).await;
    let video = || json!({"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"});
    let one = json!({"model": MODEL, "content": [text(), video()], "duration": 4, "resolution": "480p"});
    let (t, _) = tokens_of(&f, one).await;
    assert_eq!(t, json!(864 * 496 * (24 * (6 + 4) + 1) / 1024));
    let three =
        json!({"model": MODEL, "content": [text(), video(), video(), video()], "duration": 4, "resolution": "480p"});
    let (t, _) = tokens_of(&f, three).await;
    assert_eq!(t, json!(864 * 496 * (24 * (15 + 4) + 1) / 1024), "18 s of video counts as the 15 s cap");
}

#[tokio::test]
async fn the_queue_cap_refuses_and_creates_nothing() {
    let f = start(FakeArkConfig { max_queued: Some(2), ..FakeArkConfig::held() }).await;
    let first = f.create(&minimal(MODEL)).await;
    f.create(&minimal(MODEL)).await;
    let a = post(&f, &minimal(MODEL)).await;
    assert_eq!(a.status, 429, "{}", a.raw);
    assert_eq!(
        (a.body["error"]["code"].as_str(), a.body["error"]["type"].as_str()),
        (Some("ServerOverloaded"), Some("TooManyRequests"))
    );
    assert_eq!(f.get(TASKS).await.body["total"], 2, "the refused create stored nothing");
    assert_eq!(f.ark.creates(), 3);
    // A started task leaves the queue, which makes room.
    f.ark.set_status(&first, "running");
    assert_eq!(post(&f, &minimal(MODEL)).await.status, 200);
    assert_eq!(post(&f, &minimal(MODEL)).await.status, 429);
}

#[tokio::test]
async fn a_model_the_account_has_not_activated_names_the_account() {
    let cfg =
        FakeArkConfig { inactive_models: vec![FAST.into()], account_id: "2100777777".into(), ..FakeArkConfig::held() };
    let f = start(cfg).await;
    let a = post(&f, &minimal(FAST)).await;
    assert_eq!(a.status, 404, "{}", a.raw);
    assert_eq!(
        (a.body["error"]["code"].as_str(), a.body["error"]["type"].as_str()),
        (Some("ModelNotOpen"), Some("NotFound"))
    );
    let message = a.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("Your account 2100777777 has not activated the model {FAST}.")), "{message}");
    assert_eq!(post(&f, &minimal(MODEL)).await.status, 200, "other models are open");
}

#[tokio::test]
async fn a_wrong_key_shaped_like_a_real_one_is_named_too() {
    let f = start(FakeArkConfig::held()).await;
    let r = f.client.get(f.url(TASKS)).bearer_auth("49580189-aaaa-bbbb-cccc-88f7f5b34883").send().await.unwrap();
    let a = answer(r).await;
    assert_eq!(a.status, 401);
    let message = a.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("The API key 49580189**** is invalid."), "{message}");
}

#[tokio::test]
async fn list_parameters_are_checked_and_tiers_filter() {
    let f = start(FakeArkConfig::held()).await;
    let id = f.create(&minimal(MODEL)).await;
    for q in
        ["page_num=0", "page_num=501", "page_size=0", "page_size=501", "filter.status=done", "filter.service_tier=x"]
    {
        let a = f.get(&format!("{TASKS}?{q}")).await;
        assert_eq!((a.status, a.body["error"]["code"].as_str()), (400, Some("InvalidParameter")), "{q}: {}", a.raw);
    }
    let a = f.get(&format!("{TASKS}?page_num=500&page_size=500")).await;
    assert_eq!((a.status, &a.body), (200, &json!({"items": [], "total": 1})));
    let default = f.get(&format!("{TASKS}?filter.service_tier=default")).await;
    assert_eq!(default.body["items"][0]["id"], id.as_str());
    let flex = f.get(&format!("{TASKS}?filter.service_tier=flex")).await;
    assert_eq!(flex.body, json!({"items": [], "total": 0}));
}
