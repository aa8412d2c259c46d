//! The four task routes end to end, on a real redis-server, fake-ark over HTTP
//! and the loopback DNS stub: every task-route row of the error table, the model table, tenant
//! isolation, list paging and filters, delete, upstream failures, and that no secret leaks.

use crate::support;

use serde_json::{json, Value};
use support::harness::{minimal_task, token, Harness, CHANNEL_KEY, CHANNEL_SK, TASKS};

fn task_path(id: &str) -> String {
    format!("{TASKS}/{id}")
}

#[tokio::test]
async fn create_get_round_trip_rewrites_model_both_ways() {
    let h = Harness::start().await;
    let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0-fast")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cgt-"));
    assert!(r.body.get("platform_id").is_none());

    // Upstream saw the official id, the channel key, and never the customer's token.
    let sent = h.fake.requests().into_iter().find(|q| q.method == "POST").unwrap();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["model"], "dreamina-seedance-2-0-fast-260128");
    let auth = sent.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).unwrap();
    assert_eq!(auth.1, format!("Bearer {CHANNEL_KEY}"));
    assert!(!sent.headers.iter().any(|(_, v)| v.contains(&token("acme"))));

    let g = h.get("acme", &task_path(&id)).await;
    assert_eq!(g.status, 200, "{}", g.raw);
    assert_eq!(g.body["model"], "dreamina-seedance-2-0-fast");
    assert_eq!(g.body["id"], id.as_str());
    assert!(!g.raw.contains("260128"), "official id leaked: {}", g.raw);
}

#[tokio::test]
async fn aliases_are_normalized_in_get_list_and_store() {
    let h = Harness::start().await;
    let id = h.create("acme", "dreamina-seedance-2-0-260128").await;
    let g = h.get("acme", &task_path(&id)).await;
    assert_eq!(g.body["model"], "dreamina-seedance-2-0");
    let l = h.get("acme", &format!("{TASKS}?filter.model=dreamina-seedance-2-0-260128")).await;
    assert_eq!(l.status, 200, "{}", l.raw);
    assert_eq!(l.body["total"], 1);
    assert_eq!(l.body["items"][0]["model"], "dreamina-seedance-2-0");
    let stored = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    assert_eq!(stored.public_model, "dreamina-seedance-2-0");
    assert_eq!(stored.official_model, "dreamina-seedance-2-0-260128");
}

#[tokio::test]
async fn short_ids_and_invented_names_are_refused_before_upstream() {
    let h = Harness::start().await;
    for model in [
        "seedance-2-0",
        "seedance-2-0-260128",
        "seedance-2-0-fast",
        "seedance-2-0-fast-260128",
        "dreamina-seedance-2-0-filter-off-260128",
        "dreamina-seedance-2-0-260128-filter-off",
        "dreamina-seedance-2-0-fast-filter-off-260128",
        "dreamina-seedance-2-0-fast-260128-filter-off",
    ] {
        let r = h.post("acme", TASKS, &minimal_task(model)).await;
        assert_eq!(r.status, 400, "{model}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "invalid_request");
        assert_eq!(r.body["error"]["param"], "model");
    }
    assert_eq!(h.fake.creates(), 0);
}

#[tokio::test]
async fn filter_off_needs_an_exact_mapping() {
    let h = Harness::start().await;
    // acme's channel has no Filter-Off mapping.
    let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0-filter-off")).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "model_mapping_required");
    // fomo's channel maps fast Filter-Off to an ordinary model: refused, never downgraded.
    let r = h.post("fomo", TASKS, &minimal_task("dreamina-seedance-2-0-fast-filter-off")).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "model_mapping_required");
    assert_eq!(h.fake.creates(), 0);
    // An exact official Filter-Off mapping works, and the public name comes back.
    let id = h.create("fomo", "dreamina-seedance-2-0-filter-off").await;
    let sent: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(sent["model"], support::harness::FILTER_OFF_ID);
    let g = h.get("fomo", &task_path(&id)).await;
    assert_eq!(g.body["model"], "dreamina-seedance-2-0-filter-off");
}

#[tokio::test]
async fn every_task_route_error_row() {
    let h = Harness::start().await;
    let t = |v: Value| v;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!("not an object"), 400, "invalid_request", ""),
        (t(json!({"content": [{"type": "text", "text": "x"}]})), 400, "invalid_request", "model"),
        (t(json!({"model": "dreamina-seedance-2-0", "content": []})), 400, "invalid_request", "content"),
        (
            t(json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "duration": 16})),
            400,
            "invalid_duration",
            "duration",
        ),
        (
            t(json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "duration": 4.5})),
            400,
            "invalid_duration",
            "duration",
        ),
        (
            t(json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "ratio": "2:1"})),
            400,
            "invalid_request",
            "ratio",
        ),
        (
            t(
                json!({"model": "dreamina-seedance-2-0-fast", "content": [{"type": "text", "text": "x"}], "resolution": "1080p"}),
            ),
            400,
            "invalid_request",
            "resolution",
        ),
        (
            t(json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "priority": 10})),
            400,
            "invalid_request",
            "priority",
        ),
        (
            t(
                json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "watermark": "true"}),
            ),
            400,
            "invalid_request",
            "watermark",
        ),
        (
            t(
                json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "callback_url": "http://public.example/cb"}),
            ),
            400,
            "invalid_request",
            "callback_url",
        ),
    ];
    for (body, status, code, param) in cases {
        let r = h.post("acme", TASKS, &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.raw);
        if !param.is_empty() {
            assert_eq!(r.body["error"]["param"], param, "{body}: {}", r.raw);
        }
        assert!(!r.body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    // Body not JSON at all.
    let resp =
        h.client.post(format!("{}{TASKS}", h.base)).bearer_auth(token("acme")).body("{nope").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_request");
    // 401 in every form.
    for auth in [None, Some("Bearer oh-unknown"), Some("Basic abc"), Some("Bearer")] {
        let mut rb = h.client.get(format!("{}{TASKS}", h.base));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized");
    }
    // 404 for an unknown task on GET and DELETE.
    for r in [h.get("acme", &task_path("cgt-nope")).await, h.delete("acme", &task_path("cgt-nope")).await] {
        assert_eq!(r.status, 404, "{}", r.raw);
        assert_eq!(r.body["error"]["code"], "task_not_found");
    }
    // Bad list query parameters.
    for q in [
        "page_num=0",
        "page_num=501",
        "page_size=0",
        "page_size=501",
        "filter.status=done",
        "filter.model=seedance-2-0",
        "filter.service_tier=scale",
        "bogus=1",
    ] {
        let r = h.get("acme", &format!("{TASKS}?{q}")).await;
        assert_eq!(r.status, 400, "{q}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "invalid_request");
    }
    // A tenant without a channel for the model.
    let r = h.post("noassets", TASKS, &minimal_task("dreamina-seedance-2-0-filter-off")).await;
    assert_eq!(r.status, 503);
    assert_eq!(h.fake.creates(), 0, "no rejection reached the upstream");
}

#[tokio::test]
async fn tenant_isolation_on_get_delete_and_list() {
    let h = Harness::start().await;
    let mine = h.create("acme", "dreamina-seedance-2-0").await;
    let theirs = h.create("globex", "dreamina-seedance-2-0").await;
    let before = h.fake.requests().len();

    let g = h.get("acme", &task_path(&theirs)).await;
    assert_eq!(g.status, 404);
    assert_eq!(g.body["error"]["code"], "task_not_found");
    let d = h.delete("acme", &task_path(&theirs)).await;
    assert_eq!(d.status, 404);
    assert_eq!(h.fake.requests().len(), before, "the upstream was never asked about another tenant's task");

    let l = h.get("acme", &format!("{TASKS}?filter.task_ids={mine},{theirs}")).await;
    assert_eq!(l.status, 200, "{}", l.raw);
    assert_eq!(l.body["total"], 1);
    let ids: Vec<&str> = l.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![mine.as_str()]);
    // Every upstream list query was scoped to acme's own ids.
    for q in h.fake.requests().iter().filter(|q| q.method == "GET" && q.path.ends_with("/tasks")) {
        let query = q.query.clone().unwrap_or_default();
        assert!(query.contains("filter.task_ids="), "unscoped upstream list: {query}");
        assert!(!query.contains(&theirs), "asked about another tenant's task: {query}");
    }
    // globex still sees its own.
    assert_eq!(h.get("globex", &task_path(&theirs)).await.status, 200);
}

#[tokio::test]
async fn list_pages_totals_and_filters() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let model = if i % 2 == 0 { "dreamina-seedance-2-0" } else { "dreamina-seedance-2-0-fast" };
        ids.push(h.create("acme", model).await);
    }
    h.create("globex", "dreamina-seedance-2-0").await;
    let l = h.get("acme", &format!("{TASKS}?page_num=1&page_size=2")).await;
    assert_eq!(l.body["total"], 5, "{}", l.raw);
    let page1: Vec<String> =
        l.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(page1.len(), 2);
    let l3 = h.get("acme", &format!("{TASKS}?page_num=3&page_size=2")).await;
    assert_eq!(l3.body["items"].as_array().unwrap().len(), 1);
    let l4 = h.get("acme", &format!("{TASKS}?page_num=4&page_size=2")).await;
    assert_eq!(l4.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(l4.body["total"], 5);
    // Newest first: the last created is first.
    let all = h.get("acme", &format!("{TASKS}?page_size=100")).await;
    let order: Vec<String> =
        all.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(order, expected);

    let fast = h.get("acme", &format!("{TASKS}?filter.model=dreamina-seedance-2-0-fast")).await;
    assert_eq!(fast.body["total"], 2);
    assert!(fast.body["items"].as_array().unwrap().iter().all(|i| i["model"] == "dreamina-seedance-2-0-fast"));

    // Status filter sees the upstream's current status.
    h.fake.set_status(&ids[0], "running");
    h.finish(&ids[1], "succeeded", 1000, "480p");
    let running = h.get("acme", &format!("{TASKS}?filter.status=running")).await;
    assert_eq!(running.body["total"], 1, "{}", running.raw);
    assert_eq!(running.body["items"][0]["id"], ids[0].as_str());
    let queued = h.get("acme", &format!("{TASKS}?filter.status=queued")).await;
    assert_eq!(queued.body["total"], 3);
    let done = h.get("acme", &format!("{TASKS}?filter.status=succeeded&filter.task_ids={}", ids[1])).await;
    assert_eq!(done.body["total"], 1);
    assert_eq!(done.body["items"][0]["model"], "dreamina-seedance-2-0-fast");
}

fn upstream_deletes(h: &Harness, id: &str) -> usize {
    h.fake.requests().iter().filter(|r| r.method == "DELETE" && r.path.ends_with(id)).count()
}

#[tokio::test]
async fn delete_running_queued_and_terminal() {
    let h = Harness::start().await;
    let running = h.create("acme", "dreamina-seedance-2-0").await;
    h.fake.set_status(&running, "running");
    let r = h.delete("acme", &task_path(&running)).await;
    assert_eq!(r.status, 409, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "InvalidAction.RunningTaskDeletion");
    assert_eq!(h.get("acme", &task_path(&running)).await.status, 200, "a 409 hides nothing");

    // Queued: cancelled upstream and still visible as cancelled, as the upstream keeps it.
    let queued = h.create("acme", "dreamina-seedance-2-0").await;
    let r = h.delete("acme", &task_path(&queued)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let g = h.get("acme", &task_path(&queued)).await;
    assert_eq!((g.status, g.body["status"].as_str()), (200, Some("cancelled")), "{}", g.raw);
    let l = h.get("acme", &format!("{TASKS}?filter.status=cancelled")).await;
    assert_eq!(l.body["total"], 1, "{}", l.raw);
    assert_eq!(l.body["items"][0]["id"], queued.as_str());
    // Cancelled: hidden locally; the upstream, which refuses it, is not asked.
    let deletes_before = upstream_deletes(&h, &queued);
    let r = h.delete("acme", &task_path(&queued)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(upstream_deletes(&h, &queued), deletes_before, "a cancelled task is not deleted upstream");
    assert_eq!(h.get("acme", &task_path(&queued)).await.status, 404);
    let rec = h.edge.store.task("acme", &queued).await.unwrap().as_deref().cloned().unwrap();
    assert!(rec.hidden, "the audit record is kept, hidden");
    assert_eq!(rec.status, "cancelled");

    let done = h.create("acme", "dreamina-seedance-2-0").await;
    h.finish(&done, "succeeded", 5000, "720p");
    let r = h.delete("acme", &task_path(&done)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(h.get("acme", &task_path(&done)).await.status, 404);
    let rec = h.edge.store.task("acme", &done).await.unwrap().as_deref().cloned().unwrap();
    assert!(rec.settlement.is_some(), "a finished task deleted unpolled is still billed");
    let l = h.get("acme", TASKS).await;
    assert_eq!(l.body["total"], 1, "hidden tasks leave the list: {}", l.raw);
}

#[tokio::test]
async fn upstream_failures_are_502_and_record_nothing() {
    let h = Harness::start().await;
    for fault in ["500", "unparseable", "drop"] {
        h.fault_next_create(fault);
        let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0")).await;
        assert_eq!(r.status, 502, "{fault}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "upstream_error");
        let l = h.get("acme", TASKS).await;
        assert_eq!(l.body["total"], 0, "{fault}: nothing recorded");
    }
    // A refused connection: a task recorded on a channel whose endpoint is a closed port.
    let id = h.create("acme", "dreamina-seedance-2-0").await;
    let mut rec = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    rec.channel = "dead".into();
    h.edge.store.put_task("acme", &rec).await.unwrap();
    let before = h.fake.requests().len();
    let r = h.get("acme", &task_path(&id)).await;
    assert_eq!(r.status, 502, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "upstream_error");
    assert_eq!(h.fake.requests().len(), before);
    assert!(h.metrics().contains("seedance_upstream_requests_total"));
}

#[tokio::test]
async fn upstream_4xx_passes_through_in_native_shape() {
    let h = Harness::start().await;
    // Not 429: an upstream 429 moves the create to the next channel, or becomes the edge's own
    // 429 rate_limit_exceeded (tests/it/failover.rs).
    h.fault_next_create("400");
    let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0")).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(r.body["error"]["code"].is_string());
    assert!(!r.raw.contains("260128"), "official id rewritten: {}", r.raw);
}

#[tokio::test]
async fn no_secret_in_any_response_or_log() {
    let h = Harness::start().await;
    let id = h.create("acme", "dreamina-seedance-2-0").await;
    h.finish(&id, "succeeded", 100, "480p");
    let mut bodies = vec![
        h.get("acme", &task_path(&id)).await.raw,
        h.get("acme", TASKS).await.raw,
        h.post("acme", TASKS, &json!({"model": "x"})).await.raw,
        h.get("globex", &task_path(&id)).await.raw,
    ];
    bodies.push(h.metrics());
    for b in &bodies {
        for secret in [CHANNEL_KEY, CHANNEL_SK, &token("acme")] {
            assert!(!b.contains(secret), "secret in response: {b}");
        }
        assert!(!b.contains("proj-main"), "project name leaked: {b}");
    }
}

#[tokio::test]
async fn internal_fields_from_the_upstream_are_stripped() {
    let mut opts = support::harness::Options::default();
    opts.fake.leak_internal_fields = true;
    let h = Harness::start_with(opts).await;
    let id = h.create("acme", "dreamina-seedance-2-0").await;
    let g = h.get("acme", &task_path(&id)).await;
    assert_eq!(g.status, 200);
    assert!(!g.raw.contains("ep-") && !g.raw.contains("ProjectName") && !g.raw.contains("endpoint_id"), "{}", g.raw);
    let l = h.get("acme", TASKS).await;
    assert!(!l.raw.contains("ep-") && !l.raw.contains("ProjectName"), "{}", l.raw);
}
