//! The asset library end to end on real Redis and fake-ark over HTTP: the six
//! Actions, forbidden and unknown Actions, body rewriting, AK/SK signatures fake-ark verifies,
//! ownership per tenant (404 without calling the upstream), scoped lists, and `asset://` binding
//! in task creation.

use crate::support;

use serde_json::{json, Value};
use support::harness::{token, Harness, Options, CHANNEL_AK, CHANNEL_SK, TASKS};

fn action(name: &str) -> String {
    format!("/volcark/?Action={name}&Version=2024-01-01")
}

async fn create_group(h: &Harness, tenant: &str, model: &str) -> String {
    let r =
        h.post(tenant, &action("CreateAssetGroup"), &json!({"model": model, "Name": "g", "GroupType": "AIGC"})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["Result"]["Id"].as_str().unwrap().to_string()
}

async fn create_asset(h: &Harness, tenant: &str, model: &str, group: &str) -> String {
    let body = json!({"model": model, "GroupId": group, "url": "https://public.example/a.png", "AssetType": "Image", "Name": "a"});
    let r = h.post(tenant, &action("CreateAsset"), &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["Result"]["Id"].as_str().unwrap().to_string()
}

fn multi_tenant() -> Options {
    let sha = seedance_edge::auth::token_sha256(&token("multi"));
    Options {
        extra_tenants: format!(
            "  - id: multi\n    token_sha256: [\"{sha}\"]\n    channels: [main, fo]\n    assets: true\n"
        ),
        ..Options::default()
    }
}

#[tokio::test]
async fn the_asset_workflow_rewrites_and_signs() {
    let h = Harness::start().await;
    let group = create_group(&h, "acme", "dreamina-seedance-2-0-fast").await;
    let sent = h.fake.requests().last().unwrap().clone();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(body.get("model").is_none(), "model is removed before forwarding");
    assert_eq!(body["ProjectName"], "proj-main");
    assert!(sent
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.starts_with("HMAC-SHA256 Credential=AKCHANNEL/")));
    assert!(!sent.headers.iter().any(|(_, v)| v.contains(&token("acme"))));

    // URL / Url / url → URL; ProjectName is the channel's whatever the customer sent.
    let r = h
        .post("acme", &action("CreateAsset"), &json!({"model": "dreamina-seedance-2-0-fast", "GroupId": group,
            "Url": "https://public.example/b.png", "url": "https://public.example/c.png", "AssetType": "Image", "ProjectName": "someone-else"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let asset = r.body["Result"]["Id"].as_str().unwrap().to_string();
    let body: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(body["URL"], "https://public.example/b.png");
    assert!(body.get("Url").is_none() && body.get("url").is_none());
    assert_eq!(body["ProjectName"], "proj-main");

    let g = h.post("acme", &action("GetAsset"), &json!({"model": "dreamina-seedance-2-0-fast", "Id": asset})).await;
    assert_eq!(g.status, 200, "{}", g.raw);
    assert!(!g.raw.contains("ProjectName") && !g.raw.contains("proj-main"), "{}", g.raw);
    assert!(g.body["Result"].get("model").is_none());
    let l = h
        .post(
            "acme",
            &action("ListAssets"),
            &json!({"model": "dreamina-seedance-2-0-fast", "Filter": {"GroupId": group}}),
        )
        .await;
    assert_eq!(l.status, 200, "{}", l.raw);
    assert_eq!(l.body["Result"]["TotalCount"], 1);
    let body: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(body["Filter"]["GroupType"], "AIGC", "list Actions default GroupType");
}

#[tokio::test]
async fn forbidden_unknown_and_bad_version() {
    let h = Harness::start().await;
    for name in ["UpdateAsset", "DeleteAsset", "DeleteAssetGroup", "UpdateAssetGroup"] {
        let r = h.post("acme", &action(name), &json!({"model": "dreamina-seedance-2-0"})).await;
        assert_eq!(r.status, 403, "{name}: {}", r.raw);
        assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "forbidden_action");
        assert!(r.body.get("Result").is_none());
    }
    for path in [
        "/volcark/?Action=ListModels&Version=2024-01-01",
        "/volcark/?Version=2024-01-01",
        "/volcark/?Action=GetAsset&Version=2023-01-01",
        "/volcark/?Action=GetAsset",
    ] {
        let r = h.post("acme", path, &json!({"model": "dreamina-seedance-2-0"})).await;
        assert_eq!(r.status, 400, "{path}: {}", r.raw);
        assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "invalid_request");
    }
    for strategy in ["Skip", "skip", "SKIP"] {
        let r = h
            .post(
                "acme",
                &action("CreateAssetGroup"),
                &json!({"model": "dreamina-seedance-2-0", "Name": "g", "Moderation": {"Strategy": strategy}}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "moderation_skip_not_allowed");
    }
    let r = h.post("noassets", &action("ListAssetGroups"), &json!({"model": "dreamina-seedance-2-0"})).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "channel_not_available");
    assert_eq!(h.fake.requests().len(), 0, "no refused Action reached the upstream");
}

#[tokio::test]
async fn another_tenants_groups_and_assets_are_404_without_upstream() {
    let h = Harness::start().await;
    let group = create_group(&h, "globex", "dreamina-seedance-2-0").await;
    let asset = create_asset(&h, "globex", "dreamina-seedance-2-0", &group).await;
    let before = h.fake.requests().len();
    let m = "dreamina-seedance-2-0";
    let cases = [
        ("GetAssetGroup", json!({"model": m, "Id": group})),
        ("GetAsset", json!({"model": m, "Id": asset})),
        (
            "CreateAsset",
            json!({"model": m, "GroupId": group, "URL": "https://public.example/x.png", "AssetType": "Image"}),
        ),
        ("ListAssets", json!({"model": m, "Filter": {"GroupId": group}})),
        ("ListAssets", json!({"model": m, "GroupId": group})),
        ("ListAssetGroups", json!({"model": m, "Filter": {"GroupIds": [group]}})),
        ("GetAsset", json!({"model": m, "Id": "asset-never-existed"})),
    ];
    for (name, body) in cases {
        let r = h.post("acme", &action(name), &body).await;
        assert_eq!(r.status, 404, "{name}: {}", r.raw);
        assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "asset_not_found", "{name}");
    }
    assert_eq!(h.fake.requests().len(), before, "the upstream was not called");
    // And globex still sees its own.
    let r = h.post("globex", &action("GetAsset"), &json!({"model": m, "Id": asset})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test]
async fn lists_hold_only_the_tenants_own_items() {
    let h = Harness::start().await;
    let m = "dreamina-seedance-2-0";
    let mine = create_group(&h, "acme", m).await;
    create_asset(&h, "acme", m, &mine).await;
    for _ in 0..3 {
        let g = create_group(&h, "globex", m).await;
        create_asset(&h, "globex", m, &g).await;
    }
    let groups = h.post("acme", &action("ListAssetGroups"), &json!({"model": m})).await;
    assert_eq!(groups.status, 200, "{}", groups.raw);
    let items = groups.body["Result"]["Items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", groups.raw);
    assert_eq!(items[0]["Id"], mine.as_str());
    assert_eq!(groups.body["Result"]["TotalCount"], 1);
    let assets = h.post("acme", &action("ListAssets"), &json!({"model": m})).await;
    assert_eq!(assets.status, 200, "{}", assets.raw);
    assert_eq!(assets.body["Result"]["TotalCount"], 1, "{}", assets.raw);
    assert_eq!(assets.body["Result"]["Items"].as_array().unwrap().len(), 1);
    // A tenant with nothing gets an empty list without the upstream's account-wide one.
    let before = h.fake.requests().len();
    let none = h.post("fomo", &action("ListAssets"), &json!({"model": m})).await;
    assert_eq!(none.status, 200, "{}", none.raw);
    assert_eq!(none.body["Result"]["TotalCount"], 0);
    assert_eq!(h.fake.requests().len(), before);
}

#[tokio::test]
async fn asset_uris_bind_tasks_to_the_assets_channel() {
    let h = Harness::start_with(multi_tenant()).await;
    // A group/asset on channel "fo": only fo maps Filter-Off, so the Action lands there.
    let group = create_group(&h, "multi", "dreamina-seedance-2-0-filter-off").await;
    let asset = create_asset(&h, "multi", "dreamina-seedance-2-0-filter-off", &group).await;
    let body = json!({"model": "dreamina-seedance-2-0", "content": [
        {"type": "text", "text": "x"},
        {"type": "image_url", "role": "reference_image", "image_url": {"url": format!("Asset://{asset}")}}]});
    let r = h.post("multi", TASKS, &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap();
    let rec = h.edge.store.task("multi", id).await.unwrap().unwrap();
    assert_eq!(rec.channel, "fo", "the task goes to the asset's channel, not the preferred one");
    let sent: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(sent["content"][1]["image_url"]["url"], format!("asset://{asset}"));

    // Another tenant's asset is refused, nothing sent.
    let creates = h.fake.creates();
    let r = h.post("acme", TASKS, &body).await;
    assert_eq!(r.status, 404, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "asset_not_found");
    assert_eq!(h.fake.creates(), creates);
    // …in any form: surrounding whitespace, any case of the scheme, any media key.
    let img =
        json!({"type": "image_url", "role": "reference_image", "image_url": {"url": "https://93.184.216.34/a.png"}});
    for (item, code) in [
        (
            json!({"type": "image_url", "role": "reference_image", "image_url": {"url": format!("  asset://{asset}\t")}}),
            "asset_not_found",
        ),
        (
            json!({"type": "audio_url", "role": "reference_audio", "audio_url": {"url": format!("ASSET://{asset}")}}),
            "asset_not_found",
        ),
        (
            json!({"type": "video_url", "role": "reference_video", "video_url": {"url": format!(" Asset://{asset}")}}),
            "asset_not_found",
        ),
        // A media object under a key that does not match the item's type is refused outright.
        (
            json!({"type": "video_url", "role": "reference_video", "video_url": {"url": "https://93.184.216.34/v.mp4"},
                   "image_url": {"url": format!("asset://{asset}")}}),
            "invalid_request",
        ),
    ] {
        let body = json!({"model": "dreamina-seedance-2-0", "content": [img.clone(), item]});
        let r = h.post("acme", TASKS, &body).await;
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.raw);
        assert_eq!(h.fake.creates(), creates, "nothing reached the upstream");
    }

    // Assets from two channels in one request → 400.
    let g2 = create_group(&h, "multi", "dreamina-seedance-2-0").await;
    let a2 = create_asset(&h, "multi", "dreamina-seedance-2-0", &g2).await;
    let rec2 = h.edge.store.asset("multi", &a2).await.unwrap().unwrap();
    assert_eq!(rec2.channel, "main");
    let body = json!({"model": "dreamina-seedance-2-0", "content": [
        {"type": "image_url", "role": "reference_image", "image_url": {"url": format!("asset://{asset}")}},
        {"type": "image_url", "role": "reference_image", "image_url": {"url": format!("asset://{a2}")}}]});
    let r = h.post("multi", TASKS, &body).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "invalid_request");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("resource domains"), "{}", r.raw);
    assert_eq!(h.fake.creates(), creates);
}

#[tokio::test]
async fn private_asset_urls_are_refused() {
    let h = Harness::start().await;
    let group = create_group(&h, "acme", "dreamina-seedance-2-0").await;
    for url in [
        "https://127.0.0.1/a.png",
        "http://private.example/a.png",
        "ftp://public.example/a.png",
        "https://169.254.169.254/",
    ] {
        let r = h
            .post(
                "acme",
                &action("CreateAsset"),
                &json!({"model": "dreamina-seedance-2-0", "GroupId": group, "URL": url, "AssetType": "Image"}),
            )
            .await;
        assert_eq!(r.status, 400, "{url}: {}", r.raw);
        assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "invalid_request");
    }
    // Plain http to a public host is fine for assets (the upstream downloads it).
    let r = h
        .post("acme", &action("CreateAsset"), &json!({"model": "dreamina-seedance-2-0", "GroupId": group, "URL": "http://public.example/a.png", "AssetType": "Image"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test]
async fn just_created_assets_are_briefly_invisible() {
    let mut opts = Options::default();
    opts.fake.asset_invisible_ms = 60_000;
    let h = Harness::start_with(opts).await;
    let group = create_group(&h, "acme", "dreamina-seedance-2-0").await;
    let r = h.post("acme", &action("GetAssetGroup"), &json!({"model": "dreamina-seedance-2-0", "Id": group})).await;
    assert_eq!(r.status, 404, "{}", r.raw);
    assert_eq!(r.body["ResponseMetadata"]["Error"]["Code"], "asset_not_found");
    assert!(r.body["ResponseMetadata"]["Error"]["Message"].as_str().unwrap().contains("retry"));
}

#[tokio::test]
async fn fake_ark_refuses_bad_signatures() {
    let h = Harness::start().await;
    let url = format!("{}/?Action=ListAssetGroups&Version=2024-01-01", h.fake.base_url());
    let body = json!({"ProjectName": "proj-main", "Filter": {"GroupType": "AIGC"}}).to_string();
    // Unsigned.
    let r = h.client.post(&url).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Signed with the wrong secret.
    let endpoint = seedance_edge::ark::Endpoint::parse(&h.fake.base_url(), None).unwrap();
    let request = seedance_edge::ark::UpstreamRequest::action("ListAssetGroups", "2024-01-01", body.clone().into());
    let creds = seedance_edge::ark::Credentials {
        access_key_id: CHANNEL_AK,
        secret_access_key: "wrong",
        region: "ap-southeast-1",
        service: "ark",
    };
    let signed = seedance_edge::ark::sign(&request, &endpoint, &creds, seedance_edge::clock::now());
    let mut rb = h.client.post(&url).header("content-type", "application/json").body(body.clone());
    for (k, v) in &signed {
        rb = rb.header(*k, v);
    }
    assert_eq!(rb.send().await.unwrap().status(), 401);
    // Signed right: accepted (the edge's signer and fake-ark's checker agree).
    let creds = seedance_edge::ark::Credentials { secret_access_key: CHANNEL_SK, ..creds };
    let signed = seedance_edge::ark::sign(&request, &endpoint, &creds, seedance_edge::clock::now());
    let mut rb = h.client.post(&url).header("content-type", "application/json").body(body);
    for (k, v) in &signed {
        rb = rb.header(*k, v);
    }
    assert_eq!(rb.send().await.unwrap().status(), 200);
}
