//! The asset Actions over HTTP: AK/SK signatures checked against an independent signer, the six
//! Actions, refused Actions, the invisibility window and scoped lists.

mod support;

use fake_ark::FakeArkConfig;
use serde_json::json;
use support::*;

const LIST: &str = "Action=ListAssetGroups&Version=2024-01-01";

fn error_code(a: &Answer) -> &str {
    a.body["ResponseMetadata"]["Error"]["Code"].as_str().unwrap_or("")
}

#[test]
fn the_test_signer_matches_a_python_vector() {
    // Same inputs as fake-ark's own `sign` unit test, whose expectation came from Python.
    let body = br#"{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}"#;
    let h = sign(
        "POST",
        "ark.ap-southeast-1.byteplusapi.com",
        "Version=2024-01-01&Action=ListAssetGroups&Note=a b/c~é",
        "application/json",
        body,
        "AKLTtestaccesskey0001",
        "c2VjcmV0LWtleS1mb3ItdGVzdHM=",
        "ap-southeast-1",
        1_767_323_045,
    );
    assert_eq!(x_date(1_767_323_045), "20260102T030405Z");
    assert!(
        h[3].1.ends_with("Signature=0572d739c39d124d214562bf20d0282289679f1ddc76754c841978fa6cd7bf65"),
        "{}",
        h[3].1
    );
}

#[tokio::test]
async fn signatures_are_verified() {
    let f = start(FakeArkConfig::held()).await;
    let body = json!({"ProjectName": "p"});
    let ok = f.action_signed(LIST, &body, AK, SK, unix_now()).await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    assert!(ok.headers.contains_key("x-request-id"));
    assert_eq!(ok.body["ResponseMetadata"]["Version"], "2024-01-01");
    assert_eq!(ok.body["ResponseMetadata"]["Service"], "ark");
    assert_eq!(ok.body["ResponseMetadata"]["Region"], "ap-southeast-1");
    assert_eq!(ok.body["ResponseMetadata"]["Action"], "ListAssetGroups");
    assert_eq!(
        ok.body["ResponseMetadata"]["RequestId"].as_str(),
        ok.headers["x-request-id"].to_str().ok(),
        "one id per request"
    );

    let wrong_sk = f.action_signed(LIST, &body, AK, "wrong", unix_now()).await;
    assert_eq!((wrong_sk.status, error_code(&wrong_sk)), (401, "SignatureDoesNotMatch"), "{}", wrong_sk.raw);
    assert!(wrong_sk.body.get("Result").is_none());
    let unknown = f.action_signed(LIST, &body, "AKOTHER", SK, unix_now()).await;
    assert_eq!((unknown.status, error_code(&unknown)), (401, "InvalidAccessKey"));
    let skewed = f.action_signed(LIST, &body, AK, SK, unix_now() - 16 * 60).await;
    assert_eq!((skewed.status, error_code(&skewed)), (401, "SignatureDoesNotMatch"));
    let slightly = f.action_signed(LIST, &body, AK, SK, unix_now() + 10 * 60).await;
    assert_eq!(slightly.status, 200, "10 minutes of skew is fine: {}", slightly.raw);
    let unsigned = answer(f.client.post(f.url(&format!("/?{LIST}"))).json(&body).send().await.unwrap()).await;
    assert_eq!((unsigned.status, error_code(&unsigned)), (401, "InvalidAuthorization"));

    // A body changed after signing: X-Content-Sha256 no longer matches.
    let host = f.ark.addr().to_string();
    let mut rb = f.client.post(f.url(&format!("/?{LIST}"))).body(r#"{"ProjectName":"q"}"#);
    for (k, v) in
        sign("POST", &host, LIST, "application/json", br#"{"ProjectName":"p"}"#, AK, SK, "ap-southeast-1", unix_now())
    {
        rb = rb.header(k, v);
    }
    let tampered = answer(rb.send().await.unwrap()).await;
    assert_eq!((tampered.status, error_code(&tampered)), (401, "SignatureDoesNotMatch"));
    // Signed for another region.
    let mut rb = f.client.post(f.url(&format!("/?{LIST}"))).body("{}");
    for (k, v) in sign("POST", &host, LIST, "application/json", b"{}", AK, SK, "cn-beijing", unix_now()) {
        rb = rb.header(k, v);
    }
    assert_eq!(answer(rb.send().await.unwrap()).await.status, 401);
    // Every one of them was recorded, refused or not.
    assert_eq!(f.ark.requests().len(), 8);
}

#[tokio::test]
async fn versions_and_actions_outside_the_six() {
    let f = start(FakeArkConfig::held()).await;
    let v = f.action_signed("Action=ListAssets&Version=2023-01-01", &json!({}), AK, SK, unix_now()).await;
    assert_eq!((v.status, error_code(&v)), (400, "InvalidVersion"));
    for action in ["UpdateAsset", "DeleteAssetGroup", "DeleteAsset"] {
        let a = f.action(action, &json!({"Id": "asset-x"})).await;
        assert_eq!((a.status, error_code(&a)), (403, "AccessDenied"), "{action}");
    }
    let a = f.action("FrobnicateAsset", &json!({})).await;
    assert_eq!((a.status, error_code(&a)), (400, "InvalidAction"));
    assert_eq!(a.body["ResponseMetadata"]["Action"], "FrobnicateAsset");
}

#[tokio::test]
async fn groups_and_assets_round_trip() {
    let f = start(FakeArkConfig::held()).await;
    let g = f
        .action(
            "CreateAssetGroup",
            &json!({"Name": "cats", "GroupType": "AIGC", "Description": "d", "ProjectName": "proj-main"}),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.raw);
    let group = g.body["Result"]["Id"].as_str().unwrap().to_string();
    assert!(group.starts_with("group-"), "{group}");

    let missing = f
        .action("CreateAsset", &json!({"GroupId": "group-nope", "URL": "https://x/a.png", "AssetType": "Image"}))
        .await;
    assert_eq!((missing.status, error_code(&missing)), (404, "NotFound"));

    let a = f
        .action(
            "CreateAsset",
            &json!({"GroupId": group, "URL": "https://x/a.png", "AssetType": "Image", "Name": "a", "ProjectName": "p"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let asset = a.body["Result"]["Id"].as_str().unwrap().to_string();
    assert!(asset.starts_with("asset-"), "{asset}");

    let got = f.action("GetAsset", &json!({"Id": asset})).await;
    let r = &got.body["Result"];
    assert_eq!((r["Id"].as_str(), r["GroupId"].as_str()), (Some(asset.as_str()), Some(group.as_str())));
    assert_eq!((r["URL"].as_str(), r["AssetType"].as_str()), (Some("https://x/a.png"), Some("Image")));
    assert_eq!(r["Status"], "Pending", "held: Pending until told");
    assert_eq!(r["ProjectName"], "p", "deliberately present for the edge to strip");
    assert!(r["CreateTime"].as_str().unwrap().ends_with('Z'));
    f.ark.set_asset_status(&asset, "Active");
    assert_eq!(f.action("GetAsset", &json!({"Id": asset})).await.body["Result"]["Status"], "Active");

    let gg = f.action("GetAssetGroup", &json!({"Id": group})).await;
    assert_eq!(
        (gg.body["Result"]["Name"].as_str(), gg.body["Result"]["ProjectName"].as_str()),
        (Some("cats"), Some("proj-main"))
    );
    let unknown = f.action("GetAsset", &json!({"Id": "asset-nope"})).await;
    assert_eq!((unknown.status, error_code(&unknown)), (404, "NotFound"));
    assert!(unknown.body.get("Result").is_none());
}

#[tokio::test]
async fn assets_progress_on_timings() {
    let f = start(FakeArkConfig { asset_processing_ms: Some(0), ..FakeArkConfig::held() }).await;
    let g =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    let a = f.action("CreateAsset", &json!({"GroupId": g, "URL": "https://x/v.mp4", "AssetType": "Video"})).await;
    let id = a.body["Result"]["Id"].as_str().unwrap().to_string();
    assert_eq!(f.action("GetAsset", &json!({"Id": id})).await.body["Result"]["Status"], "Active");
    let f = start(FakeArkConfig { asset_processing_ms: Some(60_000), ..FakeArkConfig::held() }).await;
    let g =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    let a = f.action("CreateAsset", &json!({"GroupId": g, "URL": "https://x/v.mp4", "AssetType": "Video"})).await;
    let id = a.body["Result"]["Id"].as_str().unwrap().to_string();
    assert_eq!(f.action("GetAsset", &json!({"Id": id})).await.body["Result"]["Status"], "Pending");
}

#[tokio::test]
async fn just_created_records_are_invisible_to_get_for_a_while() {
    let f = start(FakeArkConfig { asset_invisible_ms: 60_000, ..FakeArkConfig::held() }).await;
    let group =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    let g = f.action("GetAssetGroup", &json!({"Id": group})).await;
    assert_eq!((g.status, error_code(&g)), (404, "NotFound"));
    // Still usable as a parent, and listed.
    let a = f.action("CreateAsset", &json!({"GroupId": group, "URL": "https://x/a.png", "AssetType": "Image"})).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let asset = a.body["Result"]["Id"].as_str().unwrap().to_string();
    assert_eq!(f.action("GetAsset", &json!({"Id": asset})).await.status, 404);
    assert_eq!(f.action("ListAssets", &json!({})).await.body["Result"]["TotalCount"], 1);

    let f = start(FakeArkConfig { asset_invisible_ms: 0, ..FakeArkConfig::held() }).await;
    let group =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    assert_eq!(f.action("GetAssetGroup", &json!({"Id": group})).await.status, 200);
}

#[tokio::test]
async fn lists_are_scoped_by_group_filters_and_paged() {
    let f = start(FakeArkConfig::held()).await;
    let mut groups = Vec::new();
    for name in ["a", "b", "c"] {
        let g = f.action("CreateAssetGroup", &json!({"Name": name, "GroupType": "AIGC"})).await;
        groups.push(g.body["Result"]["Id"].as_str().unwrap().to_string());
    }
    for (i, g) in groups.iter().enumerate() {
        for _ in 0..=i {
            let a =
                f.action("CreateAsset", &json!({"GroupId": g, "URL": "https://x/a.png", "AssetType": "Image"})).await;
            assert_eq!(a.status, 200);
        }
    }
    let all = f.action("ListAssetGroups", &json!({})).await;
    let r = &all.body["Result"];
    assert_eq!(
        (r["TotalCount"].as_u64(), r["PageNumber"].as_u64(), r["PageSize"].as_u64()),
        (Some(3), Some(1), Some(10))
    );
    assert_eq!(r["Items"][0]["Id"], groups[2].as_str(), "newest first");

    let two = f.action("ListAssetGroups", &json!({"Filter": {"GroupIds": [groups[0], groups[2]]}})).await;
    assert_eq!(two.body["Result"]["TotalCount"], 2);
    let none = f.action("ListAssetGroups", &json!({"Filter": {"GroupIds": []}})).await;
    assert_eq!(none.body["Result"]["TotalCount"], 0, "an empty scope matches nothing");
    let other_type = f.action("ListAssetGroups", &json!({"Filter": {"GroupType": "Other"}})).await;
    assert_eq!(other_type.body["Result"]["TotalCount"], 0);

    assert_eq!(f.action("ListAssets", &json!({})).await.body["Result"]["TotalCount"], 6, "account-wide");
    let in_c = f.action("ListAssets", &json!({"Filter": {"GroupId": groups[2]}})).await;
    assert_eq!(in_c.body["Result"]["TotalCount"], 3);
    assert!(in_c.body["Result"]["Items"].as_array().unwrap().iter().all(|i| i["GroupId"] == groups[2].as_str()));
    let in_ab =
        f.action("ListAssets", &json!({"Filter": {"GroupType": "AIGC", "GroupIds": [groups[0], groups[1]]}})).await;
    assert_eq!(in_ab.body["Result"]["TotalCount"], 3);
    let page = f.action("ListAssets", &json!({"PageNumber": 2, "PageSize": 4})).await;
    let r = &page.body["Result"];
    assert_eq!((r["Items"].as_array().unwrap().len(), r["TotalCount"].as_u64()), (2, Some(6)));
}
