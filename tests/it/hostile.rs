//! Hostile input and a misbehaving upstream, on real parts: money that cannot be corrupted
//! (usage that is negative, fractional or absurd is held for review, never billed, and never
//! makes a task unreadable), bounded audit records, and bounded memory.

use crate::support;

use serde_json::{json, Value};
use std::process::Command;
use support::harness::{task_path, Harness, TASKS};

/// `seedance-edge task show` against the harness's Redis.
fn task_show(h: &Harness, id: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("show.yaml");
    let yaml = format!(
        "store: {{ url: \"{}\", prefix: sde }}\nchannels:\n  - id: main\n    task_base_url: \"https://ark.example\"\n    region: ap-southeast-1\n    api_key: \"${{SHOW_KEY}}\"\n    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}\ntenants: []\n",
        h.redis.url()
    );
    std::fs::write(&conf, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["task", "show", id, "--conf"])
        .arg(&conf)
        .env("SHOW_KEY", "k")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn unbelievable_usage_is_held_for_review_and_never_breaks_reads() {
    let h = Harness::start().await;
    let cases = [
        (json!({"completion_tokens": -5, "total_tokens": -5}), "negative"),
        (json!({"completion_tokens": 12.5}), "not_integer"),
        (json!({"completion_tokens": "40594"}), "not_integer"),
        (
            json!({"completion_tokens": 10_000_000_000_000_000u64, "total_tokens": 10_000_000_000_000_000u64}),
            "over_bound",
        ),
    ];
    let mut ids = Vec::new();
    for (usage, _) in &cases {
        let id = h.create("acme", "dreamina-seedance-2-0-fast").await;
        h.fake.finish_with_usage(&id, usage.clone());
        ids.push(id);
    }
    let honest = h.create("acme", "dreamina-seedance-2-0-fast").await;
    h.finish(&honest, "succeeded", 40_594, "480p");

    for _ in 0..2 {
        for id in ids.iter().chain([&honest]) {
            let g = h.get("acme", &task_path(id)).await;
            assert_eq!((g.status, g.body["status"].as_str()), (200, Some("succeeded")), "{}", g.raw);
        }
        let l = h.get("acme", TASKS).await;
        assert_eq!((l.status, l.body["total"].as_u64()), (200, Some(5)), "{}", l.raw);
    }
    let ledger = h.edge.store.ledger("acme", 0).await.unwrap();
    assert_eq!(ledger.len(), 1, "only the honest task is billed: {ledger:?}");
    assert_eq!(ledger[0].task_id, honest);

    let metrics = h.metrics();
    for (reason, n) in [("negative", 1), ("not_integer", 2), ("over_bound", 1)] {
        let line = format!("seedance_settlements_quarantined_total{{reason=\"{reason}\"}} {n}");
        assert!(metrics.contains(&line), "{line} missing (each task counted once):\n{metrics}");
    }
    for (id, (_, reason)) in ids.iter().zip(cases.iter()) {
        let rec = h.edge.store.task("acme", id).await.unwrap().as_deref().cloned().unwrap();
        assert!(rec.settlement.is_none(), "{id} was billed");
        assert_eq!(rec.quarantine.as_ref().map(|q| q.reason.as_str()), Some(*reason), "{id}");
    }
    let shown = task_show(&h, &ids[3]);
    assert_eq!(shown["quarantine"]["reason"], "over_bound", "{shown}");
    assert!(shown["quarantine"]["usage"].as_str().unwrap().contains("10000000000000000"), "{shown}");
    // Nothing is left for the reconciler to retry.
    assert!(h.edge.store.due_tasks("acme", i64::MAX, 100).await.unwrap().iter().all(|(id, _)| !ids.contains(id)));
}

/// A create body of `size` bytes whose bulk is an array of zeros in a field the edge does not
/// know: the cheapest way to make a JSON tree cost many times its text.
fn junk_create(size: usize) -> Vec<u8> {
    let head = br#"{"model":"dreamina-seedance-2-0","content":[{"type":"text","text":"a boat"}],"x_junk":["#;
    let mut body = Vec::with_capacity(size + 64);
    body.extend_from_slice(head);
    while body.len() + 4 < size {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    body
}

fn node_conf(redis: &str, upstream: &str, limits: &str) -> String {
    format!(
        r#"
store: {{ url: "{redis}", prefix: sde }}
limits: {{ {limits} }}
server: {{ threads: 2, grace_period_seconds: 0 }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{HOSTILE_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - id: acme
    token_sha256: ["{sha}"]
    channels: [main]
"#,
        sha = seedance_edge::auth::token_sha256(&support::harness::token("acme"))
    )
}

/// A 30 MiB create is parsed once and never deep-copied. Measured on the real binary
/// as its peak resident set (VmHWM), not as time.
#[tokio::test]
async fn a_30_mib_create_costs_a_small_multiple_of_its_body() {
    let redis = support::redis::RedisServer::start();
    let fake = fake_ark::FakeArk::start(fake_ark::FakeArkConfig {
        api_keys: vec![support::harness::CHANNEL_KEY.to_string()],
        ..fake_ark::FakeArkConfig::held()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = node_conf(&redis.url(), &fake.base_url(), "max_body_bytes: 33554432");
    let node =
        support::node::Node::start_yaml(dir.path(), "mem", &conf, &[("HOSTILE_KEY", support::harness::CHANNEL_KEY)])
            .await;
    let before = node.peak_rss();
    let body = junk_create(30 << 20);
    let r = reqwest::Client::new()
        .post(format!("{}{TASKS}", node.base))
        .bearer_auth(support::harness::token("acme"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(fake.creates(), 1);
    let peak = node.peak_rss();
    let grown = peak.saturating_sub(before);
    eprintln!("peak RSS {} MiB (before {} MiB, +{} MiB) for a 30 MiB create", peak >> 20, before >> 20, grown >> 20);
    assert!(grown < 100 << 20, "a 30 MiB create grew the peak RSS by {} MiB", grown >> 20);
    // The audit record is bounded, whatever the body carried.
    let store = seedance_edge::store::redis::RedisStore::connect(&redis.url(), "sde", Default::default()).unwrap();
    use seedance_edge::store::Store;
    let page = store.task_page("acme", &seedance_edge::store::TaskPageQuery::page(1, 500)).await.unwrap();
    let rec = store.task("acme", &page.records[0].id).await.unwrap().as_deref().cloned().unwrap();
    let snap = rec.upstream_request.unwrap_or_default();
    assert!(snap.len() <= 16 * 1024, "audit snapshot of {} bytes", snap.len());
    assert!(snap.contains("x_junk"), "{snap}");
}

/// Bodies in flight are bounded across the process; over the budget → 503 `overloaded`
/// with `Retry-After`, before the body is read; the budget comes back when a request ends.
#[tokio::test]
async fn bodies_in_flight_are_bounded_across_the_process() {
    use std::io::Write;
    let h = Harness::start_with(support::harness::Options {
        max_body_bytes: 1 << 20,
        max_inflight_body_bytes: Some(1 << 20),
        ..Default::default()
    })
    .await;
    let addr = h.base.trim_start_matches("http://").to_string();
    // One create that has declared a whole MiB and sent only part of it holds the budget.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST {TASKS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"model\":",
        support::harness::token("acme"),
        1 << 20
    )
    .unwrap();
    slow.flush().unwrap();
    let held = support::wait::until("the slow body holds the budget", std::time::Duration::from_secs(10), || async {
        h.edge.body_budget.used() == 1 << 20
    })
    .await;
    assert!(held);
    let small = support::harness::minimal_task("dreamina-seedance-2-0");
    let r = h
        .client
        .post(format!("{}{TASKS}", h.base))
        .bearer_auth(support::harness::token("acme"))
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "overloaded", "{v}");
    assert_eq!(h.fake.creates(), 0);
    // The slow client gives up: its bytes come back and creates go through again.
    drop(slow);
    let back = support::wait::until("the budget comes back", std::time::Duration::from_secs(10), || async {
        h.edge.body_budget.used() == 0
    })
    .await;
    assert!(back);
    assert_eq!(h.post("acme", TASKS, &small).await.status, 200);
    assert!(h.metrics().contains("seedance_rejections_total{code=\"overloaded\"} 1"), "{}", h.metrics());
}

/// An upstream task nobody owns (here: created straight on the account, as a crash between the
/// upstream's answer and the ownership write would leave it) is found, recorded once, counted
/// and attributed to the tenant whose create intent is closest in time.
#[tokio::test]
async fn orphans_are_found_recorded_and_counted_once() {
    use seedance_edge::billing::orphans::{scan, Window};
    use seedance_edge::store::Intent;
    let h = Harness::start().await;
    let owned = h.create("acme", "dreamina-seedance-2-0").await;
    // The crash: an intent was written, the upstream created the task, nothing else happened.
    let now_ms = seedance_edge::clock::now_ms();
    let intent = Intent { tenant: "globex".into(), id: "crashed".into(), at_ms: now_ms };
    h.edge.store.put_intent("main", &intent).await.unwrap();
    let direct: Value = h
        .client
        .post(format!("{}/api/v3/contents/generations/tasks", h.fake.base_url()))
        .bearer_auth(support::harness::CHANNEL_KEY)
        .json(&json!({"model": "dreamina-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orphan_id = direct["id"].as_str().unwrap().to_string();

    let window = Window { grace_secs: 0, window_secs: 3600 };
    assert_eq!(scan(&h.edge, window).await.unwrap(), 1);
    assert_eq!(scan(&h.edge, window).await.unwrap(), 0, "recorded once");
    let mut found = Vec::new();
    for c in ["dead", "fo", "main", "revoked", "unopened"] {
        found.extend(h.edge.store.orphans(c).await.unwrap());
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].task_id, orphan_id);
    assert_eq!(found[0].probable_tenant.as_deref(), Some("globex"));
    assert!(found.iter().all(|o| o.task_id != owned), "a task the edge created is owned");
    let channel = &found[0].channel;
    let line = format!("seedance_orphan_tasks_total{{channel=\"{channel}\"}} 1");
    assert!(h.metrics().contains(&line), "{line} missing:\n{}", h.metrics());
    // A create refused upstream leaves no intent behind.
    h.fault_next_create("400");
    assert_eq!(h.post("acme", TASKS, &support::harness::minimal_task("dreamina-seedance-2-0")).await.status, 400);
    let left = h.edge.store.intents("main", 0).await.unwrap();
    assert_eq!(left, vec![intent], "only the crashed create's intent remains");
}

/// A succeeded task is settled before the upstream deletes its record; when the
/// settlement cannot be recorded, nothing is deleted (503) and the task stays as it was.
#[tokio::test]
async fn a_task_whose_settlement_cannot_be_recorded_is_not_deleted_upstream() {
    let h = Harness::start().await;
    let id = h.create("acme", "dreamina-seedance-2-0-fast").await;
    // Succeeded, but without usage: the settlement is deferred, not made.
    h.fake.finish_with_usage(&id, json!({}));
    let r = h.delete("acme", &task_path(&id)).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "store_unavailable");
    let deletes = h.fake.requests().iter().filter(|r| r.method == "DELETE").count();
    assert_eq!(deletes, 0, "the upstream record, the only proof of usage, is kept");
    assert_eq!(h.get("acme", &task_path(&id)).await.status, 200, "nothing was hidden");
    // Once the usage is there, the same DELETE settles, then deletes.
    h.finish(&id, "succeeded", 40_594, "480p");
    assert_eq!(h.delete("acme", &task_path(&id)).await.status, 200);
    let rec = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    assert_eq!(rec.settlement.map(|s| s.tokens), Some(40_594));
    assert!(rec.hidden);
}
