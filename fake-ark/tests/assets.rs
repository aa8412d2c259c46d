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

fn code_n(a: &Answer) -> Option<u64> {
    a.body["ResponseMetadata"]["Error"]["CodeN"].as_u64()
}

/// A list body with the parts upstream requires.
fn list_body(filter: serde_json::Value) -> serde_json::Value {
    json!({"Filter": filter, "PageNumber": 1, "PageSize": 100})
}

#[test]
fn the_test_signer_matches_a_python_vector() {
    // Same inputs as fake-ark's own `sign` unit test, whose expectation came from Python.
    let body = br#"{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}"#;
    let req = ToSign {
        method: "POST",
        host: "ark.ap-southeast-1.byteplusapi.com",
        query: "Version=2024-01-01&Action=ListAssetGroups&Note=a b/c~é",
        content_type: "application/json",
        body,
    };
    let key = Key { ak: "AKLTtestaccesskey0001", sk: "c2VjcmV0LWtleS1mb3ItdGVzdHM=", region: "ap-southeast-1" };
    let h = sign(&req, &key, 1_767_323_045);
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
    let body = json!({"ProjectName": "p", "Filter": {"GroupType": "AIGC"}});
    let ok = f.action_signed(LIST, &body, SIGNING_KEY, unix_now()).await;
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

    let wrong_sk = f.action_signed(LIST, &body, Key { sk: "wrong", ..SIGNING_KEY }, unix_now()).await;
    assert_eq!((wrong_sk.status, error_code(&wrong_sk)), (401, "SignatureDoesNotMatch"), "{}", wrong_sk.raw);
    assert_eq!(code_n(&wrong_sk), Some(100_010));
    assert!(wrong_sk.body.get("Result").is_none());
    let unknown = f.action_signed(LIST, &body, Key { ak: "AKOTHER", ..SIGNING_KEY }, unix_now()).await;
    assert_eq!((unknown.status, error_code(&unknown), code_n(&unknown)), (401, "InvalidAccessKey", Some(100_009)));
    assert_eq!(
        unknown.body["ResponseMetadata"]["Error"]["Message"],
        "The accesskey [AKOTHER] included in the request is invalid.",
        "names the AK, as upstream does"
    );
    let skewed = f.action_signed(LIST, &body, SIGNING_KEY, unix_now() - 16 * 60).await;
    assert_eq!((skewed.status, error_code(&skewed), code_n(&skewed)), (400, "InvalidTimestamp", Some(100_006)));
    let slightly = f.action_signed(LIST, &body, SIGNING_KEY, unix_now() + 10 * 60).await;
    assert_eq!(slightly.status, 200, "10 minutes of skew is fine: {}", slightly.raw);
    let unsigned = answer(f.client.post(f.url(&format!("/?{LIST}"))).json(&body).send().await.unwrap()).await;
    assert_eq!((unsigned.status, error_code(&unsigned)), (401, "MissingAuthenticationToken"));
    assert_eq!(code_n(&unsigned), Some(100_003));

    // A body changed after signing: X-Content-Sha256 no longer matches.
    let host = f.ark.addr().to_string();
    let mut rb = f.client.post(f.url(&format!("/?{LIST}"))).body(r#"{"ProjectName":"q"}"#);
    let signed_body = ToSign {
        method: "POST",
        host: &host,
        query: LIST,
        content_type: "application/json",
        body: br#"{"ProjectName":"p"}"#,
    };
    for (k, v) in sign(&signed_body, &SIGNING_KEY, unix_now()) {
        rb = rb.header(k, v);
    }
    let tampered = answer(rb.send().await.unwrap()).await;
    assert_eq!((tampered.status, error_code(&tampered)), (401, "SignatureDoesNotMatch"));
    // Signed for another region.
    let mut rb = f.client.post(f.url(&format!("/?{LIST}"))).body("{}");
    let empty = ToSign { method: "POST", host: &host, query: LIST, content_type: "application/json", body: b"{}" };
    for (k, v) in sign(&empty, &Key { region: "cn-beijing", ..SIGNING_KEY }, unix_now()) {
        rb = rb.header(k, v);
    }
    assert_eq!(answer(rb.send().await.unwrap()).await.status, 401);
    // Every one of them was recorded, refused or not.
    assert_eq!(f.ark.requests().len(), 8);
}

#[tokio::test]
async fn versions_and_actions_outside_the_six() {
    let f = start(FakeArkConfig::held()).await;
    let v = f.action_signed("Action=ListAssets&Version=2023-01-01", &json!({}), SIGNING_KEY, unix_now()).await;
    assert_eq!((v.status, error_code(&v), code_n(&v)), (404, "InvalidActionOrVersion", Some(100_008)));
    assert_eq!(
        v.body["ResponseMetadata"]["Error"]["Message"],
        "Could not find operation ListAssets for version 2023-01-01."
    );
    for action in ["UpdateAsset", "DeleteAssetGroup", "DeleteAsset"] {
        let a = f.action(action, &json!({"Id": "asset-x"})).await;
        assert_eq!((a.status, error_code(&a), code_n(&a)), (403, "AccessDenied", Some(100_013)), "{action}");
    }
    let a = f.action("FrobnicateAsset", &json!({})).await;
    assert_eq!((a.status, error_code(&a)), (404, "InvalidActionOrVersion"));
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
    assert_eq!((missing.status, error_code(&missing)), (404, "NotFound.group_id"));
    assert!(code_n(&missing).is_some(), "every Action error has a CodeN");

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
    assert_eq!(r["Status"], "Processing", "held: Processing until told (upstream has no Pending)");
    assert!(r.get("Error").is_none());
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
    assert_eq!((unknown.status, error_code(&unknown)), (404, "NotFound.asset_id"));
    assert!(unknown.body.get("Result").is_none());
    let no_id = f.action("GetAssetGroup", &json!({})).await;
    assert_eq!((no_id.status, error_code(&no_id), code_n(&no_id)), (400, "MissingParameter", Some(100_002)));

    // Failed carries Error{Code,Message}: a default one, or the one a test names.
    f.ark.set_asset_status(&asset, "Failed");
    let r = f.action("GetAsset", &json!({"Id": asset})).await.body["Result"].clone();
    assert_eq!(
        (r["Status"].as_str(), r["Error"]["Code"].as_str()),
        (Some("Failed"), Some("InvalidParameter.DownloadFailed"))
    );
    f.ark.fail_asset(&asset, "InvalidParameter.FpsTooLow", "The video frame rate is too low.");
    let r = f.action("GetAsset", &json!({"Id": asset})).await.body["Result"].clone();
    assert_eq!(
        r["Error"],
        json!({"Code": "InvalidParameter.FpsTooLow", "Message": "The video frame rate is too low."})
    );
    let data = f
        .action("CreateAsset", &json!({"GroupId": group, "URL": "data:image/png;base64,AAAA", "AssetType": "Image"}))
        .await;
    assert_eq!((data.status, error_code(&data)), (400, "InvalidParameter"), "no data URIs");
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
    assert_eq!(f.action("GetAsset", &json!({"Id": id})).await.body["Result"]["Status"], "Processing");
}

#[tokio::test]
async fn just_created_records_are_invisible_to_get_for_a_while() {
    let f = start(FakeArkConfig { asset_invisible_ms: 60_000, ..FakeArkConfig::held() }).await;
    let group =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    let g = f.action("GetAssetGroup", &json!({"Id": group})).await;
    assert_eq!((g.status, error_code(&g)), (404, "NotFound.group_id"));
    // Still usable as a parent, and listed.
    let a = f.action("CreateAsset", &json!({"GroupId": group, "URL": "https://x/a.png", "AssetType": "Image"})).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let asset = a.body["Result"]["Id"].as_str().unwrap().to_string();
    assert_eq!(f.action("GetAsset", &json!({"Id": asset})).await.status, 404);
    let listed = f.action("ListAssets", &list_body(json!({"GroupType": "AIGC"}))).await;
    assert_eq!(listed.body["Result"]["TotalCount"], 1, "{}", listed.raw);

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
    let aigc = json!({"GroupType": "AIGC"});
    let all = f.action("ListAssetGroups", &json!({"Filter": aigc})).await;
    let r = &all.body["Result"];
    assert_eq!(
        (r["TotalCount"].as_u64(), r["PageNumber"].as_u64(), r["PageSize"].as_u64()),
        (Some(3), Some(1), Some(10)),
        "ListAssetGroups' page is optional: {}",
        all.raw
    );
    assert_eq!(r["Items"][0]["Id"], groups[2].as_str(), "newest first");
    assert_eq!(r["Items"][0]["Title"], "c", "the deprecated Title is still there");

    let two = f
        .action("ListAssetGroups", &json!({"Filter": {"GroupType": "AIGC", "GroupIds": [groups[0], groups[2]]}}))
        .await;
    assert_eq!(two.body["Result"]["TotalCount"], 2);
    let none = f.action("ListAssetGroups", &json!({"Filter": {"GroupType": "AIGC", "GroupIds": []}})).await;
    assert_eq!(none.body["Result"]["TotalCount"], 0, "an empty scope matches nothing");
    let liveness = f.action("ListAssetGroups", &json!({"Filter": {"GroupType": "LivenessFace"}})).await;
    assert_eq!(liveness.body["Result"]["TotalCount"], 0);
    let named = f.action("ListAssetGroups", &json!({"Filter": {"GroupType": "AIGC", "Name": "b"}})).await;
    assert_eq!(named.body["Result"]["TotalCount"], 1);

    let every = f.action("ListAssets", &list_body(aigc.clone())).await;
    assert_eq!(every.body["Result"]["TotalCount"], 6, "account-wide: {}", every.raw);
    // `GroupId` (singular) is not a Filter key upstream knows: it scopes nothing.
    let singular = f.action("ListAssets", &list_body(json!({"GroupType": "AIGC", "GroupId": groups[2]}))).await;
    assert_eq!(singular.body["Result"]["TotalCount"], 6);
    let in_c = f.action("ListAssets", &list_body(json!({"GroupType": "AIGC", "GroupIds": [groups[2]]}))).await;
    assert_eq!(in_c.body["Result"]["TotalCount"], 3);
    assert!(in_c.body["Result"]["Items"].as_array().unwrap().iter().all(|i| i["GroupId"] == groups[2].as_str()));
    let in_ab =
        f.action("ListAssets", &list_body(json!({"GroupType": "AIGC", "GroupIds": [groups[0], groups[1]]}))).await;
    assert_eq!(in_ab.body["Result"]["TotalCount"], 3);
    let page = f.action("ListAssets", &json!({"Filter": aigc, "PageNumber": 2, "PageSize": 4})).await;
    let r = &page.body["Result"];
    assert_eq!((r["Items"].as_array().unwrap().len(), r["TotalCount"].as_u64()), (2, Some(6)));

    // Statuses filter on the asset's status now.
    let newest = f.action("ListAssets", &list_body(aigc.clone())).await.body["Result"]["Items"][0]["Id"].clone();
    f.ark.set_asset_status(newest.as_str().unwrap(), "Active");
    let active = f.action("ListAssets", &list_body(json!({"GroupType": "AIGC", "Statuses": ["Active"]}))).await;
    assert_eq!(active.body["Result"]["TotalCount"], 1);
    assert_eq!(active.body["Result"]["Items"][0]["Id"], newest);
}

#[tokio::test]
async fn lists_require_group_type_and_list_assets_a_page() {
    let f = start(FakeArkConfig::held()).await;
    let refused = [
        ("ListAssetGroups", json!({}), "MissingParameter.Filter"),
        ("ListAssetGroups", json!({"Filter": {"GroupIds": ["group-x"]}}), "MissingParameter.Filter.GroupType"),
        ("ListAssetGroups", json!({"Filter": {"GroupType": "Other"}}), "InvalidParameter"),
        ("ListAssetGroups", json!({"Filter": {"GroupType": "AIGC"}, "PageSize": 101}), "InvalidParameter"),
        ("ListAssets", json!({"PageNumber": 1, "PageSize": 10}), "MissingParameter.Filter"),
        ("ListAssets", json!({"Filter": {}, "PageNumber": 1, "PageSize": 10}), "MissingParameter.Filter.GroupType"),
        ("ListAssets", json!({"Filter": {"GroupType": "AIGC"}, "PageSize": 10}), "MissingParameter"),
        ("ListAssets", json!({"Filter": {"GroupType": "AIGC"}, "PageNumber": 1}), "MissingParameter"),
        ("ListAssets", json!({"Filter": {"GroupType": "AIGC"}, "PageNumber": 1, "PageSize": 101}), "InvalidParameter"),
        ("ListAssets", json!({"Filter": {"GroupType": "AIGC"}, "PageNumber": 0, "PageSize": 10}), "InvalidParameter"),
    ];
    for (action, body, code) in refused {
        let a = f.action(action, &body).await;
        assert_eq!((a.status, error_code(&a)), (400, code), "{action} {body}: {}", a.raw);
        assert!(code_n(&a).is_some(), "{}", a.raw);
        assert!(a.body.get("Result").is_none());
    }
    let ok = f
        .action("ListAssets", &json!({"Filter": {"GroupType": "LivenessFace"}, "PageNumber": 1, "PageSize": 100}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    assert_eq!(ok.body["Result"], json!({"Items": [], "TotalCount": 0, "PageNumber": 1, "PageSize": 100}));
}

#[tokio::test]
async fn the_control_api_fails_an_asset_with_a_named_error() {
    let f = start(FakeArkConfig::held()).await;
    let group =
        f.action("CreateAssetGroup", &json!({"Name": "g"})).await.body["Result"]["Id"].as_str().unwrap().to_string();
    let a = f.action("CreateAsset", &json!({"GroupId": group, "URL": "https://x/v.mp4", "AssetType": "Video"})).await;
    let asset = a.body["Result"]["Id"].as_str().unwrap().to_string();
    let failed = json!({"status": "Failed", "code": "InvalidParameter.FormatUnsupported", "message": "bad format"});
    let r = f.client.post(f.url(&format!("/_control/assets/{asset}"))).json(&failed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let got = f.action("GetAsset", &json!({"Id": asset})).await;
    assert_eq!(got.body["Result"]["Status"], "Failed");
    assert_eq!(
        got.body["Result"]["Error"],
        json!({"Code": "InvalidParameter.FormatUnsupported", "Message": "bad format"})
    );
    let r = f.client.post(f.url("/_control/assets/asset-nope")).json(&failed).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
