//! The task API over HTTP: create, get, progress on command and on timings, list filters,
//! delete semantics and authentication.

mod support;

use fake_ark::FakeArkConfig;
use serde_json::{json, Value};
use support::*;

fn ids(a: &Answer) -> Vec<String> {
    a.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn create_get_and_finish_on_command() {
    let f = start(FakeArkConfig::held()).await;
    let body = json!({"model": FAST, "content": [{"type": "text", "text": "a paper boat"}], "duration": 4,
                      "resolution": "480p", "seed": 7, "safety_identifier": "u"});
    let id = f.create(&body).await;
    assert!(id.starts_with("cgt-") && id.len() == "cgt-20260611204121-462cw".len(), "{id}");
    let other = f.create(&minimal(MODEL)).await;
    assert_ne!(id, other, "ids are unique");

    let g = f.task(&id).await;
    assert_eq!(g.status, 200, "{}", g.raw);
    assert!(g.headers.contains_key("x-request-id"));
    assert_eq!(g.body["id"], id.as_str());
    assert_eq!(g.body["model"], FAST);
    assert_eq!(g.body["status"], "queued");
    assert_eq!(g.body["resolution"], "480p");
    assert_eq!(g.body["seed"], 7);
    assert_eq!(g.body["safety_identifier"], "u");
    assert_eq!((g.body["ratio"].as_str(), g.body["duration"].as_u64()), (Some("16:9"), Some(4)), "adaptive → 16:9");
    assert_eq!((g.body["framespersecond"].as_u64(), g.body["service_tier"].as_str()), (Some(24), Some("default")));
    assert_eq!((g.body["generate_audio"].as_bool(), g.body["draft"].as_bool()), (Some(true), Some(false)));
    assert_eq!(g.body["execution_expires_after"], 172_800);
    for key in [
        "created_at",
        "updated_at",
        "ratio",
        "duration",
        "service_tier",
        "execution_expires_after",
        "generate_audio",
        "draft",
        "priority",
    ] {
        assert!(!g.body[key].is_null(), "{key} missing: {}", g.raw);
    }
    assert!(g.body.get("usage").is_none() && g.body.get("content").is_none());
    assert!(!g.raw.contains("ProjectName") && !g.raw.contains("endpoint_id"), "no leak unless asked: {}", g.raw);

    f.ark.set_status(&id, "running");
    assert_eq!(f.task(&id).await.body["status"], "running");
    f.ark.finish(&id, "succeeded", Some(40_594), Some("720p"));
    let g = f.task(&id).await;
    assert_eq!(g.body["status"], "succeeded");
    assert_eq!(g.body["usage"], json!({"completion_tokens": 40_594, "total_tokens": 40_594}));
    assert_eq!(g.body["resolution"], "720p", "the final resolution may differ from the request");
    assert!(g.body["content"]["video_url"].as_str().unwrap().starts_with("https://"));

    // Default tokens follow the 2.0 formula (the platform page's worked example: fast 480p 16:9
    // 4 s → 40594); failures carry an error object and little else, as upstream's do.
    f.ark.finish(&other, "succeeded", None, None);
    let g = f.task(&other).await;
    assert_eq!(g.body["resolution"], "480p");
    assert_eq!(g.body["usage"], json!({"completion_tokens": 40_594, "total_tokens": 40_594}));
    f.ark.finish(&other, "failed", None, None);
    let g = f.task(&other).await;
    assert_eq!(g.body["status"], "failed");
    assert!(g.body["error"]["code"].is_string() && g.body.get("usage").is_none(), "{}", g.raw);
    assert!(g.body.get("content").is_none() && g.body.get("resolution").is_none(), "{}", g.raw);
    assert_eq!((g.body["service_tier"].as_str(), g.body["model"].as_str()), (Some("default"), Some(MODEL)));

    // The create body is stored verbatim in requests().
    let sent = f.ark.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&sent.body).unwrap()["model"], FAST);
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(f.ark.creates(), 2);
}

#[tokio::test]
async fn create_validates_model_and_body() {
    let f = start(FakeArkConfig::held()).await;
    let post = |b: &'static str| {
        f.client.post(f.url(TASKS)).bearer_auth(KEY).header("content-type", "application/json").body(b).send()
    };
    let a = answer(post(r#"{"model":"dreamina-seedance-2-0","content":[]}"#).await.unwrap()).await;
    assert_eq!(a.status, 404, "{}", a.raw);
    assert_eq!(a.body["error"]["code"], "InvalidEndpointOrModel.NotFound");
    let a = answer(post("not json").await.unwrap()).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"]["code"], "InvalidParameter");
    assert_eq!(f.ark.creates(), 2, "refused creates still count");
    assert_eq!(f.get(TASKS).await.body["total"], 0);
}

#[tokio::test]
async fn statuses_follow_the_timings() {
    let cfg = FakeArkConfig { queued_ms: Some(0), running_ms: Some(0), ..FakeArkConfig::held() };
    let f = start(cfg).await;
    let id = f.create(&minimal(MODEL)).await;
    let g = f.task(&id).await;
    assert_eq!(g.body["status"], "succeeded", "{}", g.raw);
    assert!(g.body["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let cfg = FakeArkConfig { queued_ms: Some(0), running_ms: None, ..FakeArkConfig::held() };
    let f = start(cfg).await;
    let id = f.create(&minimal(MODEL)).await;
    assert_eq!(f.task(&id).await.body["status"], "running", "running until told");

    let f = start(FakeArkConfig::default()).await;
    let id = f.create(&minimal(MODEL)).await;
    assert_eq!(f.task(&id).await.body["status"], "queued", "default: a second in the queue");
}

#[tokio::test]
async fn list_pages_filters_and_repeated_task_ids() {
    let f = start(FakeArkConfig::held()).await;
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(f.create(&minimal(if i % 2 == 0 { MODEL } else { FAST })).await);
    }
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    let l = f.get(&format!("{TASKS}?page_size=100")).await;
    assert_eq!(l.body["total"], 5);
    assert_eq!(ids(&l), newest_first, "account-wide, newest first");
    assert_eq!(ids(&f.get(TASKS).await).len(), 5, "default page size 20");

    let p2 = f.get(&format!("{TASKS}?page_num=2&page_size=2")).await;
    assert_eq!(ids(&p2), newest_first[2..4]);
    assert_eq!(p2.body["total"], 5);
    assert_eq!(ids(&f.get(&format!("{TASKS}?page_num=4&page_size=2")).await).len(), 0);

    let fast = f.get(&format!("{TASKS}?filter.model={FAST}")).await;
    assert_eq!(fast.body["total"], 2);

    f.ark.set_status(&all[0], "running");
    f.ark.finish(&all[1], "succeeded", Some(10), None);
    assert_eq!(ids(&f.get(&format!("{TASKS}?filter.status=running")).await), [all[0].clone()]);
    assert_eq!(f.get(&format!("{TASKS}?filter.status=queued")).await.body["total"], 3);

    // Repeated, comma-separated, and both at once.
    let rep = f.get(&format!("{TASKS}?filter.task_ids={}&filter.task_ids={}", all[0], all[3])).await;
    assert_eq!(ids(&rep), [all[3].clone(), all[0].clone()]);
    let comma = f.get(&format!("{TASKS}?filter.task_ids={},{}", all[0], all[3])).await;
    assert_eq!(ids(&comma), ids(&rep));
    let both = f.get(&format!("{TASKS}?filter.task_ids={},{}&filter.task_ids={}", all[0], all[3], all[4])).await;
    assert_eq!(both.body["total"], 3);
    let escaped = f.get(&format!("{TASKS}?filter.task_ids={}%2C{}", all[1], all[2])).await;
    assert_eq!(escaped.body["total"], 2);
    let none = f.get(&format!("{TASKS}?filter.task_ids=cgt-nope")).await;
    assert_eq!(none.body, json!({"items": [], "total": 0}));
    let mixed = f.get(&format!("{TASKS}?filter.task_ids={},{}&filter.status=succeeded", all[0], all[1])).await;
    assert_eq!(ids(&mixed), [all[1].clone()]);
}

#[tokio::test]
async fn delete_queued_running_terminal_and_unknown() {
    let f = start(FakeArkConfig::held()).await;
    let queued = f.create(&minimal(MODEL)).await;
    let d = f.delete(&format!("{TASKS}/{queued}")).await;
    assert_eq!(d.status, 200, "{}", d.raw);
    let g = f.task(&queued).await;
    assert_eq!((g.status, g.body["status"].as_str()), (200, Some("cancelled")), "kept, cancelled");

    let running = f.create(&minimal(MODEL)).await;
    f.ark.set_status(&running, "running");
    let d = f.delete(&format!("{TASKS}/{running}")).await;
    assert_eq!(d.status, 409);
    assert_eq!(
        d.body,
        json!({"error": {
            "code": "InvalidAction.RunningTaskDeletion",
            "message": "Cannot delete task because it is currently running.",
            "param": "",
            "type": "Conflict",
        }})
    );
    assert_eq!(f.task(&running).await.body["status"], "running");

    for status in ["succeeded", "failed", "expired"] {
        let id = f.create(&minimal(MODEL)).await;
        f.ark.finish(&id, status, None, None);
        let d = f.delete(&format!("{TASKS}/{id}")).await;
        assert_eq!((d.status, &d.body), (200, &json!({})), "{status}");
        let g = f.task(&id).await;
        assert_eq!(g.status, 404, "{status}: record deleted");
        assert_eq!(g.body["error"]["code"], "ResourceNotFound");
    }
    // A cancelled task cannot be deleted (upstream refuses; its code is unconfirmed).
    let d = f.delete(&format!("{TASKS}/{queued}")).await;
    assert_eq!(d.status, 400, "{}", d.raw);
    assert_eq!(d.body["error"]["code"], "InvalidAction.CancelledTaskDeletion");
    assert_eq!(d.body["error"]["type"], "BadRequest");
    assert_eq!(f.task(&queued).await.body["status"], "cancelled", "still there");
    let l = f.get(&format!("{TASKS}?filter.status=cancelled")).await;
    assert_eq!(ids(&l), [queued.as_str()], "listed and found by status");
    let d = f.delete(&format!("{TASKS}/cgt-never")).await;
    assert_eq!(d.status, 404);
    assert_eq!(d.body["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn every_task_request_needs_the_api_key() {
    let f = start(FakeArkConfig::held()).await;
    let id = f.create(&minimal(MODEL)).await;
    let paths = [TASKS.to_string(), format!("{TASKS}/{id}")];
    for auth in [None, Some("Bearer wrong"), Some("Basic c2s=")] {
        for path in &paths {
            let mut rb = f.client.get(f.url(path));
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            let a = answer(rb.send().await.unwrap()).await;
            assert_eq!(a.status, 401, "{auth:?} {path}");
            assert_eq!(a.body["error"]["code"], "AuthenticationError");
            assert_eq!(a.body["error"]["type"], "Unauthorized");
            let message = a.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(" Request id: "), "{message}");
            if auth == Some("Bearer wrong") {
                assert!(message.starts_with("The API key format is incorrect"), "{message}");
                assert!(message.contains("wro****"), "names the refused key's prefix: {message}");
            } else {
                assert!(message.starts_with("The API key or AK/SK in the request is missing or invalid."), "{message}");
            }
        }
    }
    let a = answer(f.client.post(f.url(TASKS)).json(&minimal(MODEL)).send().await.unwrap()).await;
    assert_eq!(a.status, 401);
    let a = answer(f.client.delete(f.url(&format!("{TASKS}/{id}"))).send().await.unwrap()).await;
    assert_eq!(a.status, 401);
    assert_eq!(f.task(&id).await.body["status"], "queued", "the refused delete did nothing");
    assert_eq!(f.ark.creates(), 2, "an unauthenticated create POST still counts");
    // Refused requests are recorded too.
    assert_eq!(f.ark.requests().len(), 1 + 6 + 2 + 1);
}

#[tokio::test]
async fn leaked_internal_fields_when_asked() {
    let f = start(FakeArkConfig { leak_internal_fields: true, ..FakeArkConfig::held() }).await;
    let id = f.create(&minimal(MODEL)).await;
    let g = f.task(&id).await;
    assert_eq!(g.body["project_name"], "proj-secret");
    assert_eq!(g.body["account_id"], "2100123456");
    assert_eq!(g.body["ProjectName"], "proj-secret");
    assert!(g.body["endpoint_id"].as_str().unwrap().starts_with("ep-"));
    assert!(f.get(TASKS).await.raw.contains("endpoint_id"), "lists leak too");
}

#[tokio::test]
async fn control_api_drives_a_process_without_being_recorded() {
    let f = start(FakeArkConfig::held()).await;
    let id = f.create(&minimal(MODEL)).await;
    let post = |path: String, body: Value| f.client.post(f.url(&path)).json(&body).send();
    let r = post(format!("/_control/tasks/{id}"), json!({"status": "succeeded", "tokens": 99, "resolution": "1080p"}));
    assert_eq!(r.await.unwrap().status(), 200);
    let g = f.task(&id).await;
    assert_eq!((g.body["usage"]["total_tokens"].as_u64(), g.body["resolution"].as_str()), (Some(99), Some("1080p")));
    assert_eq!(post("/_control/tasks/cgt-nope".into(), json!({"status": "running"})).await.unwrap().status(), 404);
    assert_eq!(post("/_control/fault".into(), json!({"fault": "bogus"})).await.unwrap().status(), 400);
    assert_eq!(post("/_control/fault".into(), json!({"fault": "429"})).await.unwrap().status(), 200);
    let a = f.send(reqwest::Method::POST, TASKS, Some(&minimal(MODEL))).await;
    assert_eq!(a.status, 429);
    let listed = answer(f.client.get(f.url("/_control/requests")).send().await.unwrap()).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    let creates = answer(f.client.get(f.url("/_control/creates")).send().await.unwrap()).await;
    assert_eq!(creates.body["creates"], 2);
    assert_eq!(f.ark.requests().len(), 3, "control calls are not recorded");
}
