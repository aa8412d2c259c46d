//! Billing exactly once: prices per SKU to the nano-dollar, the final resolution and a
//! video reference choosing the SKU, failures never billed — and across two real edge processes
//! sharing one Redis, 32 concurrent pollers of one succeeded task produce one ledger entry and
//! Prometheus counters that add up to the task's tokens once. A task nobody polls is settled by
//! the reconciler; `billing export` lists exactly the settlements made.

use crate::support;

use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use support::harness::{token, Harness, CHANNEL_KEY, FILTER_OFF_ID, TASKS};
use support::node::Node;
use support::redis::RedisServer;
use support::wait;

fn task(model: &str, resolution: &str, video: bool) -> Value {
    let mut content = vec![json!({"type": "text", "text": "x"})];
    if video {
        content.push(json!({"type": "video_url", "role": "reference_video", "video_url": {"url": "https://93.184.216.34/v.mp4"}}));
    }
    json!({"model": model, "content": content, "resolution": resolution, "duration": 5})
}

/// Expected nano-USD: tokens × price (USD per million) — prices written as in the page.
fn nanos(tokens: u64, usd_per_million: &str) -> u64 {
    let (whole, frac) = usd_per_million.split_once('.').unwrap_or((usd_per_million, "0"));
    let micro: u64 = whole.parse::<u64>().unwrap() * 1_000_000 + format!("{frac:0<6}").parse::<u64>().unwrap();
    tokens * micro / 1000
}

#[tokio::test]
async fn every_sku_is_priced_to_the_nano_dollar() {
    let h = Harness::start().await;
    let tokens = 40_594u64;
    // (tenant, model, requested, final, video, sku, price)
    let cases = [
        ("acme", "dreamina-seedance-2-0", "480p", "480p", false, "dreamina-seedance-2-0-480p-novideo", "7.0"),
        ("acme", "dreamina-seedance-2-0", "480p", "480p", true, "dreamina-seedance-2-0-480p-video", "4.3"),
        ("acme", "dreamina-seedance-2-0", "720p", "720p", false, "dreamina-seedance-2-0-720p-novideo", "7.0"),
        ("acme", "dreamina-seedance-2-0", "720p", "720p", true, "dreamina-seedance-2-0-720p-video", "4.3"),
        ("acme", "dreamina-seedance-2-0", "1080p", "1080p", false, "dreamina-seedance-2-0-1080p-novideo", "7.7"),
        ("acme", "dreamina-seedance-2-0", "1080p", "1080p", true, "dreamina-seedance-2-0-1080p-video", "4.7"),
        ("acme", "dreamina-seedance-2-0-fast", "720p", "720p", false, "dreamina-seedance-2-0-fast-novideo", "5.6"),
        ("acme", "dreamina-seedance-2-0-fast", "480p", "480p", true, "dreamina-seedance-2-0-fast-video", "3.3"),
        // Filter-Off bills at its base model's prices under its own model label.
        (
            "fomo",
            "dreamina-seedance-2-0-filter-off",
            "1080p",
            "1080p",
            false,
            "dreamina-seedance-2-0-1080p-novideo",
            "7.7",
        ),
        // The final resolution (not the requested one) selects the price.
        ("acme", "dreamina-seedance-2-0", "480p", "1080p", true, "dreamina-seedance-2-0-1080p-video", "4.7"),
    ];
    for (tenant, model, requested, final_res, video, sku, price) in cases {
        let r = h.post(tenant, TASKS, &task(model, requested, video)).await;
        assert_eq!(r.status, 200, "{model}: {}", r.raw);
        let id = r.body["id"].as_str().unwrap().to_string();
        h.finish(&id, "succeeded", tokens, final_res);
        let g = h.get(tenant, &format!("{TASKS}/{id}")).await;
        assert_eq!(g.body["status"], "succeeded");
        let rec = h.edge.store.task(tenant, &id).await.unwrap().as_deref().cloned().unwrap();
        let s = rec.settlement.unwrap_or_else(|| panic!("{model} {sku}: not settled"));
        assert_eq!(s.sku, sku, "{model} {requested}->{final_res} video={video}");
        assert_eq!(s.tokens, tokens);
        assert_eq!(s.usd_nanos, nanos(tokens, price), "{sku} at {price}");
        let ledger = h.edge.store.ledger(tenant, 0).await.unwrap();
        let entry = ledger.iter().find(|e| e.task_id == id).expect("ledger entry");
        assert_eq!(entry.usd_nanos, nanos(tokens, price));
        assert_eq!(entry.model, model, "the ledger keeps the public model label");
    }
    assert_eq!(nanos(40_594, "7.0"), 284_158_000);
    // The fast Filter-Off model prices as fast (mapping refused on fomo's channel, so price via the table).
    let t = seedance_filters::sku::sku_for(seedance_filters::PublicModel::FastFilterOff, "720p", true).unwrap();
    assert_eq!(t.as_str(), "dreamina-seedance-2-0-fast-video");
    let p = h.edge.config.prices.price_micro_usd_per_m(&t).unwrap();
    assert_eq!(seedance_filters::sku::cost_usd_nanos(tokens, p), Some(nanos(tokens, "3.3")));
    let _ = FILTER_OFF_ID;
}

#[tokio::test]
async fn failed_expired_and_cancelled_are_never_billed() {
    let h = Harness::start().await;
    for status in ["failed", "expired"] {
        let id = h.create("acme", "dreamina-seedance-2-0").await;
        h.finish(&id, status, 0, "720p");
        for _ in 0..3 {
            let g = h.get("acme", &format!("{TASKS}/{id}")).await;
            assert_eq!(g.body["status"], status);
        }
        let rec = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
        assert_eq!(rec.status, status);
        assert!(rec.settlement.is_none());
    }
    let queued = h.create("acme", "dreamina-seedance-2-0").await;
    assert_eq!(h.delete("acme", &format!("{TASKS}/{queued}")).await.status, 200);
    assert!(h.edge.store.ledger("acme", 0).await.unwrap().is_empty());
    let m = h.metrics();
    assert!(m.contains("seedance_tasks_settled_total{model=\"dreamina-seedance-2-0\",status=\"failed\"} 1"), "{m}");
    assert!(!m.contains("seedance_billable_tokens_total{"), "{m}");
}

/// Creates a task for acme through this node and returns its id.
async fn create(node: &Node, client: &reqwest::Client, body: &Value) -> String {
    let created: Value = client
        .post(format!("{}{TASKS}", node.base))
        .bearer_auth(token("acme"))
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().expect("an id").to_string()
}

/// A node's configuration: one channel on `upstream`, the acme tenant, a fast reconciler.
fn node_conf(redis: &str, upstream: &str) -> String {
    format!(
        r#"
store: {{ url: "{redis}", prefix: sde }}
reconcile: {{ interval_ms: 200 }}
server: {{ threads: 2, grace_period_seconds: 0 }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{SEEDANCE_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128, dreamina-seedance-2-0-fast: dreamina-seedance-2-0-fast-260128 }}
tenants:
  - id: acme
    token_sha256: ["{sha}"]
    channels: [main]
"#,
        sha = seedance_edge::auth::token_sha256(&token("acme"))
    )
}

/// Every log line, at the most verbose level, goes to a file the test reads for secrets.
async fn start_node(dir: &std::path::Path, name: &str, redis: &str, upstream: &str) -> Node {
    Node::start_yaml(dir, name, &node_conf(redis, upstream), &[("SEEDANCE_TEST_KEY", CHANNEL_KEY)]).await
}

fn counter_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with(name)
                && (l.as_bytes().get(name.len()) == Some(&b'{') || l.as_bytes().get(name.len()) == Some(&b' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_32_pollers_one_settlement() {
    let redis = RedisServer::start();
    let cfg = fake_ark::FakeArkConfig { api_keys: vec![CHANNEL_KEY.into()], ..fake_ark::FakeArkConfig::held() };
    let fake = fake_ark::FakeArk::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = start_node(dir.path(), "a", &redis.url(), &fake.base_url()).await;
    let b = start_node(dir.path(), "b", &redis.url(), &fake.base_url()).await;
    let client = reqwest::Client::new();

    let id = create(&a, &client, &task("dreamina-seedance-2-0", "720p", false)).await;
    let tokens = 123_457u64;
    fake.finish(&id, "succeeded", Some(tokens), Some("720p"));

    let mut pollers = Vec::new();
    for i in 0..32 {
        let url = format!("{}{TASKS}/{id}", if i % 2 == 0 { &a.base } else { &b.base });
        let client = client.clone();
        pollers.push(tokio::spawn(async move {
            let v: Value = client.get(url).bearer_auth(token("acme")).send().await.unwrap().json().await.unwrap();
            assert_eq!(v["status"], "succeeded", "{v}");
            assert_eq!(v["model"], "dreamina-seedance-2-0");
        }));
    }
    for p in pollers {
        p.await.unwrap();
    }
    let entries = redis.cli(&["XLEN", "sde:{t:acme}:ledger"]);
    assert_eq!(entries.trim(), "1", "exactly one ledger entry");
    let scrape = |n: &Node| {
        let client = client.clone();
        let url = format!("{}/metrics", n.admin);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (ma, mb) = (scrape(&a).await, scrape(&b).await);
    let total = counter_sum(&ma, "seedance_billable_tokens_total") + counter_sum(&mb, "seedance_billable_tokens_total");
    assert_eq!(total as u64, tokens, "counters over both nodes = the task's tokens once");
    let usd = counter_sum(&ma, "seedance_billed_usd_total") + counter_sum(&mb, "seedance_billed_usd_total");
    assert!((usd - tokens as f64 * 7.0 / 1e6).abs() < 1e-9, "{usd}");

    // A task nobody polls is settled by the reconciler (running in both nodes).
    let quiet = create(&b, &client, &task("dreamina-seedance-2-0-fast", "480p", true)).await;
    fake.finish(&quiet, "succeeded", Some(1000), Some("480p"));
    let settled = wait::until("the reconciler settles an unpolled task", Duration::from_secs(20), || async {
        redis.cli(&["XLEN", "sde:{t:acme}:ledger"]).trim() == "2"
    })
    .await;
    assert!(settled, "the reconciler did not settle the unpolled task");

    // billing export lists exactly the settlements made.
    let conf = dir.path().join("a.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["billing", "export", "--since", "0", "--conf"])
        .arg(&conf)
        .env("SEEDANCE_TEST_KEY", CHANNEL_KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let mut ids: Vec<&str> = lines.iter().map(|l| l["task_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![id.as_str(), quiet.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(
        lines.iter().find(|l| l["task_id"] == quiet.as_str()).unwrap()["sku"],
        "dreamina-seedance-2-0-fast-video"
    );

    // `task show` prints the audit record with the upstream request and the settlement.
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["task", "show", &id, "--conf"])
        .arg(&conf)
        .env("SEEDANCE_TEST_KEY", CHANNEL_KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["properties"]["upstream_request"]["model"], "dreamina-seedance-2-0-260128");
    assert_eq!(shown["settlement"]["tokens"], tokens);

    // No log line of either node, at debug level, holds the channel key or a customer token.
    drop((a, b));
    for name in ["a", "b"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        assert!(log.contains("tenant=acme"), "node {name} logged its requests: {log}");
        for secret in [CHANNEL_KEY, token("acme").as_str()] {
            assert!(!log.contains(secret), "node {name} logged a secret");
        }
    }
}
