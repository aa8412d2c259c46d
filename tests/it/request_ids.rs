//! Request ids over real HTTP: the client's id is kept when it is safe and replaced
//! when not, every answer carries it as `X-Request-Id` (edge-written refusals included), the
//! channel sees it as `X-Client-Request-Id`, and an Action error names it in
//! `ResponseMetadata.RequestId`. With `log.format: json`, every access line of a real process
//! is one JSON object carrying it.

use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::harness::{minimal_task, token, Harness, TASKS};
use support::node::{Node, TENANT};

/// Sends one request (`line` is "METHOD /path") with optional id headers; returns status,
/// `X-Request-Id`, body.
async fn send(
    h: &Harness,
    tenant: Option<&str>,
    line: &str,
    body: Option<&Value>,
    ids: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let (method, path) = line.split_once(' ').unwrap();
    let mut rb = h.client.request(method.parse().unwrap(), format!("{}{path}", h.base));
    if let Some(t) = tenant {
        rb = rb.bearer_auth(token(t));
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b.to_string());
    }
    for (k, v) in ids {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    (status, id, body)
}

#[tokio::test]
async fn a_valid_client_id_is_echoed_and_forwarded_upstream() {
    let h = Harness::start().await;
    let ours = "trace-01.a_b:c-d";
    let (status, id, body) = send(
        &h,
        Some("acme"),
        &format!("POST {TASKS}"),
        Some(&minimal_task("dreamina-seedance-2-0")),
        &[("x-request-id", ours)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(id.as_deref(), Some(ours));
    let create = h.fake.requests().into_iter().find(|r| r.method == "POST").expect("the create reached fake-ark");
    assert_eq!(create.header("x-client-request-id"), Some(ours));

    // The official SDK's header is taken as well, and used on a GET's upstream call.
    let task = body["id"].as_str().unwrap().to_string();
    let (status, id, _) =
        send(&h, Some("acme"), &format!("GET {TASKS}/{task}"), None, &[("x-client-request-id", "sdk-42")]).await;
    assert_eq!(status, 200);
    assert_eq!(id.as_deref(), Some("sdk-42"));
    assert!(h.fake.requests().iter().any(|r| r.method == "GET" && r.header("x-client-request-id") == Some("sdk-42")));
}

#[tokio::test]
async fn an_invalid_client_id_is_replaced() {
    let h = Harness::start().await;
    let long = "x".repeat(129);
    for bad in ["has space", "semi;colon", long.as_str()] {
        let (status, id, _) = send(&h, Some("acme"), &format!("GET {TASKS}"), None, &[("x-request-id", bad)]).await;
        assert_eq!(status, 200);
        let id = id.expect("an id");
        assert_ne!(id, bad);
        assert!(id.starts_with("sde-") && id.len() <= 128, "{id}");
    }
}

#[tokio::test]
async fn edge_written_refusals_carry_the_id() {
    let h = Harness::start().await;
    // 401: no token.
    let (status, id, _) = send(&h, None, &format!("GET {TASKS}"), None, &[("x-request-id", "r-401")]).await;
    assert_eq!((status, id.as_deref()), (401, Some("r-401")));
    // 400: a create the edge refuses before any upstream call.
    let (status, id, _) =
        send(&h, Some("acme"), &format!("POST {TASKS}"), Some(&json!({"model": 7})), &[("x-request-id", "r-400")])
            .await;
    assert_eq!((status, id.as_deref()), (400, Some("r-400")));
    // 400 outside the module (no route), and a generated id when none was sent.
    let (status, id, _) = send(&h, None, "GET /elsewhere", None, &[]).await;
    assert_eq!(status, 400);
    assert!(id.is_some_and(|i| i.starts_with("sde-")));
    // An Action error names the same id in its body.
    let (status, id, body) = send(
        &h,
        Some("acme"),
        "POST /volcark/?Action=NoSuchAction&Version=2024-01-01",
        Some(&json!({})),
        &[("x-request-id", "r-action")],
    )
    .await;
    assert!(status >= 400, "{body}");
    assert_eq!(id.as_deref(), Some("r-action"));
    assert_eq!(body["ResponseMetadata"]["RequestId"], "r-action", "{body}");
    // An Action refused at authentication, too.
    let (_, id, body) = send(
        &h,
        None,
        "POST /volcark/?Action=ListAssetGroups&Version=2024-01-01",
        Some(&json!({})),
        &[("x-request-id", "r-action-401")],
    )
    .await;
    assert_eq!(id.as_deref(), Some("r-action-401"));
    assert_eq!(body["ResponseMetadata"]["RequestId"], "r-action-401", "{body}");
}

#[tokio::test]
async fn json_access_lines_parse_and_carry_the_request_id() {
    let fake = fake_ark::FakeArk::start(fake_ark::FakeArkConfig {
        api_keys: vec![support::harness::CHANNEL_KEY.to_string()],
        ..fake_ark::FakeArkConfig::held()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
store: {{ url: "memory://", prefix: sde }}
log: {{ format: json }}
server: {{ threads: 2, grace_period_seconds: 0 }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{NODE_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - id: {TENANT}
    token_sha256: ["{sha}"]
    channels: [main]
"#,
        upstream = fake.base_url(),
        sha = seedance_edge::auth::token_sha256(&token(TENANT))
    );
    let node = Node::start_yaml(dir.path(), "json", &body, &[("NODE_TEST_KEY", support::harness::CHANNEL_KEY)]).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}{TASKS}", node.base))
        .bearer_auth(token(TENANT))
        .header("x-request-id", "json-create-1")
        .json(&minimal_task("dreamina-seedance-2-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let task: Value = created.json().await.unwrap();
    let refused = client.get(format!("{}{TASKS}", node.base)).header("x-request-id", "json-401").send().await.unwrap();
    assert_eq!(refused.status(), 401);

    let logged = support::wait::until("both access lines", Duration::from_secs(10), || async {
        let log = node.log_text();
        log.contains("json-create-1") && log.contains("json-401")
    })
    .await;
    let log = node.log_text();
    assert!(logged, "{log}");
    let access: Vec<Value> = log
        .lines()
        .filter(|l| l.contains("\"request_id\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}")))
        .collect();
    assert!(!log.lines().any(|l| l.contains(" route=")), "a text access line in json mode: {log}");
    let line = |id: &str| access.iter().find(|v| v["request_id"] == id).cloned().unwrap();
    let create = line("json-create-1");
    assert_eq!(create["tenant"], TENANT);
    assert_eq!(create["route"], "create_task");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["status"], 200);
    assert_eq!(create["task_id"], task["id"]);
    assert_eq!(create["channel"], "main");
    assert_eq!(create["upstream_status"], 200);
    assert!(create["upstream_request_id"].as_str().is_some_and(|s| !s.is_empty()), "{create}");
    assert!(create["duration_ms"].as_f64().is_some() && create["upstream_ms"].as_f64().is_some());
    let refusal = line("json-401");
    assert_eq!(refusal["status"], 401);
    assert!(refusal["tenant"].is_null() && refusal["upstream_status"].is_null());
}
