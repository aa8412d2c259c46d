//! Channel capacity and failover (`channels[].max_active_tasks`, a 429
//! `rate_limit_exceeded` when every channel is full) on a real redis-server with two fake-arks, so each channel's upstream
//! creates can be counted apart: a full channel spills to the next, an upstream 429 or a refused
//! connection moves the create without a second upstream task, a timeout after sending never
//! moves it, and a create bound to an asset's channel stays there.

use crate::support;

use fake_ark::{FakeArk, FakeArkConfig};
use seedance_edge::store::{AssetKind, AssetRecord, TaskPageQuery};
use serde_json::json;
use support::harness::{minimal_task, task_path, token, Harness, Options, CHANNEL_KEY, TASKS};

const MODEL: &str = "dreamina-seedance-2-0";

/// Channel `a` (capped at 2) and `c` (uncapped) on `one`, `b` (capped at 1) on `two`; the
/// harness's `dead` channel points at a port nothing listens on.
struct Setup {
    h: Harness,
    one: FakeArk,
    two: FakeArk,
}

async fn fake() -> FakeArk {
    let cfg = FakeArkConfig { api_keys: vec![CHANNEL_KEY.to_string()], ..FakeArkConfig::held() };
    FakeArk::start(cfg).await.expect("fake-ark starts")
}

fn channel(id: &str, url: &str, cap: Option<u32>) -> String {
    let cap = cap.map(|n| format!("    max_active_tasks: {n}\n")).unwrap_or_default();
    format!(
        "  - id: {id}\n    task_base_url: \"{url}\"\n    region: ap-southeast-1\n    api_key: \"${{KEY}}\"\n{cap}    models:\n      {MODEL}: dreamina-seedance-2-0-260128\n"
    )
}

fn tenant(id: &str, channels: &str) -> String {
    format!(
        "  - id: {id}\n    token_sha256: [\"{}\"]\n    channels: [{channels}]\n    assets: true\n",
        seedance_edge::auth::token_sha256(&token(id))
    )
}

async fn setup() -> Setup {
    let (one, two) = (fake().await, fake().await);
    let extra_channels = [
        channel("a", &one.base_url(), Some(2)),
        channel("b", &two.base_url(), Some(1)),
        channel("c", &one.base_url(), None),
    ]
    .concat();
    let extra_tenants = [
        tenant("spill", "a, b"),
        tenant("flaky", "c, b"),
        tenant("refused", "dead, b"),
        tenant("pinned", "a, b"),
        tenant("tripped", "dead, c"),
    ]
    .concat();
    let h = Harness::start_with(Options { extra_channels, extra_tenants, ..Options::default() }).await;
    Setup { h, one, two }
}

/// The value of the series of `name` whose labels include every one of `labels`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines().filter(|l| l.starts_with(&format!("{name}{{"))).find_map(|l| {
        let all = labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")));
        if all {
            l.rsplit(' ').next()?.parse().ok()
        } else {
            None
        }
    })
}

fn failovers(h: &Harness, from: &str, to: &str, reason: &str) -> f64 {
    sample(&h.metrics(), "seedance_channel_failovers_total", &[("from", from), ("to", to), ("reason", reason)])
        .unwrap_or(0.0)
}

async fn create_on(h: &Harness, tenant: &str) -> String {
    let r = h.post(tenant, TASKS, &minimal_task(MODEL)).await;
    assert_eq!(r.status, 200, "create: {}", r.raw);
    let id = r.body["id"].as_str().expect("id").to_string();
    h.edge.store.task(tenant, &id).await.expect("store answers").expect("recorded").channel.clone()
}

/// A create answered with its `Retry-After` header, which [`Harness::post`] does not keep.
async fn post_with_headers(h: &Harness, tenant: &str, body: &serde_json::Value) -> (u16, Option<String>, String) {
    let resp = h
        .client
        .post(format!("{}{TASKS}", h.base))
        .bearer_auth(token(tenant))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("edge answers");
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, retry, resp.text().await.expect("body"))
}

#[tokio::test]
async fn a_full_channel_spills_to_the_next_and_takes_creates_again_when_a_task_ends() {
    let s = setup().await;
    let h = &s.h;
    assert_eq!(create_on(h, "spill").await, "a");
    assert_eq!(create_on(h, "spill").await, "a");
    assert_eq!(create_on(h, "spill").await, "b", "a holds its max_active_tasks of 2");
    assert_eq!((s.one.creates(), s.two.creates()), (2, 1));
    assert_eq!(failovers(h, "a", "b", "full"), 1.0);
    let page = h.metrics();
    assert_eq!(sample(&page, "seedance_channel_active_tasks", &[("channel", "a")]), Some(2.0), "{page}");
    assert_eq!(sample(&page, "seedance_channel_active_tasks", &[("channel", "b")]), Some(1.0), "{page}");

    // Both full: 429 with Retry-After, nothing sent upstream, and the tenant slot given back.
    let (status, retry, raw) = post_with_headers(h, "spill", &minimal_task(MODEL)).await;
    assert_eq!(status, 429, "{raw}");
    assert!(raw.contains("rate_limit_exceeded"), "{raw}");
    assert!(retry.is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1)), "Retry-After missing: {raw}");
    assert_eq!((s.one.creates(), s.two.creates()), (2, 1));
    assert_eq!(failovers(h, "a", "b", "full"), 2.0);
    assert_eq!(failovers(h, "b", "none", "full"), 1.0);
    assert_eq!(h.edge.store.wallet("spill").await.expect("wallet").active_tasks, 3);

    // A task on `a` ends (seen terminal on GET): `a` has room again.
    let page = h.edge.store.task_page("spill", &TaskPageQuery::page(1, 500)).await.expect("tasks");
    let on_a = page.records.into_iter().find(|t| t.channel == "a").expect("a task on a");
    s.one.finish(&on_a.id, "failed", None, None);
    let r = h.get("spill", &task_path(&on_a.id)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("failed")), "{}", r.raw);
    assert_eq!(h.edge.store.channel_active("a").await.expect("count"), 1);
    assert_eq!(create_on(h, "spill").await, "a");
}

#[tokio::test]
async fn an_upstream_429_moves_the_create_to_the_next_channel_without_a_second_task() {
    let s = setup().await;
    let h = &s.h;
    s.one.fault_next_create("429".parse().expect("fault"));
    assert_eq!(create_on(h, "flaky").await, "b");
    // One refused create on the first fake, one created task on the second: no duplicate.
    assert_eq!((s.one.creates(), s.two.creates()), (1, 1));
    assert_eq!(h.edge.store.task_page("flaky", &TaskPageQuery::page(1, 500)).await.expect("tasks").total, 1);
    assert_eq!(failovers(h, "c", "b", "rate_limited"), 1.0);
    // The skipped channel's intent was dropped; b's stays claimed by its task.
    assert!(h.edge.store.intents("c", 0).await.expect("intents").is_empty());
}

#[tokio::test]
async fn every_channel_answering_429_is_a_429_with_retry_after() {
    let s = setup().await;
    let h = &s.h;
    s.one.fault_next_create("429".parse().expect("fault"));
    s.two.fault_next_create("429".parse().expect("fault"));
    let (status, retry, raw) = post_with_headers(h, "flaky", &minimal_task(MODEL)).await;
    assert_eq!(status, 429, "{raw}");
    assert!(raw.contains("rate_limit_exceeded"), "{raw}");
    assert!(retry.is_some(), "{raw}");
    assert_eq!((s.one.creates(), s.two.creates()), (1, 1));
    assert_eq!(failovers(h, "b", "none", "rate_limited"), 1.0);
    // Nothing was created: the tenant slot and b's room are free.
    assert_eq!(h.edge.store.wallet("flaky").await.expect("wallet").active_tasks, 0);
    assert_eq!(h.edge.store.channel_active("b").await.expect("count"), 0);
}

#[tokio::test]
async fn a_refused_connection_moves_the_create_to_the_next_channel() {
    let s = setup().await;
    let h = &s.h;
    assert_eq!(create_on(h, "refused").await, "b");
    assert_eq!(s.two.creates(), 1);
    assert_eq!(failovers(h, "dead", "b", "connect"), 1.0);
}

/// A channel that keeps refusing is skipped untried for its cool-down (circuit breaker): the
/// creates after the third refusal go straight to the next channel.
#[tokio::test]
async fn a_channel_that_keeps_refusing_is_skipped_for_a_cool_down() {
    let s = setup().await;
    let h = &s.h;
    for _ in 0..seedance_edge::circuit::OPEN_AFTER {
        assert_eq!(create_on(h, "tripped").await, "c");
    }
    assert_eq!(failovers(h, "dead", "c", "connect"), f64::from(seedance_edge::circuit::OPEN_AFTER));
    assert!(h.edge.channels.get("dead").expect("configured").breaker.is_open());
    assert_eq!(sample(&h.metrics(), "seedance_channel_circuit_open", &[("channel", "dead")]), Some(1.0));
    assert_eq!(create_on(h, "tripped").await, "c");
    assert_eq!(failovers(h, "dead", "c", "circuit_open"), 1.0, "skipped without an attempt");
    assert_eq!(failovers(h, "dead", "c", "connect"), f64::from(seedance_edge::circuit::OPEN_AFTER));
    // The scrape reads each tenant's active tasks (four queued creates).
    seedance_edge::capacity::refresh_gauges(&h.edge).await;
    let active = f64::from(seedance_edge::circuit::OPEN_AFTER + 1);
    assert_eq!(sample(&h.metrics(), "seedance_tenant_active_tasks", &[("tenant", "tripped")]), Some(active));
}

#[tokio::test]
async fn a_timeout_after_sending_is_never_retried_elsewhere() {
    let s = setup().await;
    let h = &s.h;
    // Longer than the harness's 3 s read timeout: the task may exist upstream.
    s.one.fault_next_create("delay:5000".parse().expect("fault"));
    let r = h.post("flaky", TASKS, &minimal_task(MODEL)).await;
    assert_eq!(r.status, 502, "{}", r.raw);
    assert_eq!((s.one.creates(), s.two.creates()), (1, 0), "no second upstream create");
    assert_eq!(failovers(h, "c", "b", "rate_limited") + failovers(h, "c", "b", "connect"), 0.0);
    // The slot stays: the task may be running.
    assert_eq!(h.edge.store.wallet("flaky").await.expect("wallet").active_tasks, 1);
}

#[tokio::test]
async fn a_create_bound_to_a_full_assets_channel_is_refused_and_says_so() {
    let s = setup().await;
    let h = &s.h;
    let asset = AssetRecord {
        id: "asset-on-a".into(),
        kind: AssetKind::Asset,
        channel: "a".into(),
        group_id: Some("group-on-a".into()),
        created_at: 0,
    };
    h.edge.store.put_asset("pinned", &asset).await.expect("asset stored");
    assert_eq!(create_on(h, "pinned").await, "a");
    assert_eq!(create_on(h, "pinned").await, "a");
    let body = json!({"model": MODEL, "content": [
        {"type": "text", "text": "x"},
        {"type": "image_url", "role": "reference_image", "image_url": {"url": "asset://asset-on-a"}}]});
    let (status, retry, raw) = post_with_headers(h, "pinned", &body).await;
    assert_eq!(status, 429, "{raw}");
    assert!(raw.contains("rate_limit_exceeded") && raw.contains("full"), "{raw}");
    assert!(retry.is_some(), "{raw}");
    // Not moved to b, which has room: the asset lives in a's library only.
    assert_eq!((s.one.creates(), s.two.creates()), (2, 0));
    assert_eq!(failovers(h, "a", "b", "full"), 0.0);
}

#[tokio::test]
async fn the_channel_script_admits_exactly_its_cap_under_concurrency_and_drops_stale_entries() {
    use seedance_edge::store::redis::{RedisOptions, RedisStore};
    use seedance_edge::store::{ChannelAdmission, ChannelAdmit, Store};
    use std::sync::Arc;
    let redis = support::redis::RedisServer::start();
    let store = Arc::new(RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).expect("url parses"));
    let admission = |slot: String, now_ms: i64, stale_before_ms: i64| ChannelAdmission {
        slot,
        now_ms,
        max_active_tasks: 5,
        stale_before_ms,
    };
    let mut joins = Vec::new();
    for i in 0..30 {
        let (store, a) = (store.clone(), admission(format!("s{i}"), 1_000, 0));
        joins.push(tokio::spawn(async move { store.channel_admit("x", &a).await.expect("store answers") }));
    }
    let mut admitted = 0;
    for j in joins {
        if matches!(j.await.expect("task"), ChannelAdmit::Admitted { .. }) {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    assert_eq!(store.channel_active("x").await.expect("count"), 5);
    // Each admitted slot's release lowers the count once; the refused ones held nothing.
    let mut winners = Vec::new();
    for i in 0..30 {
        let slot = format!("s{i}");
        if store.channel_release("x", &slot).await.expect("release") < 5 - winners.len() as u64 {
            winners.push(slot);
        }
    }
    assert_eq!(winners.len(), 5, "{winners:?}");
    assert_eq!(store.channel_release("x", &winners[0]).await.expect("release"), 0);
    // Stale entries (admitted before the cut) leave on the next admission.
    for i in 0..5 {
        store.channel_admit("x", &admission(format!("old{i}"), 1_000, 0)).await.expect("admit");
    }
    assert!(matches!(
        store.channel_admit("x", &admission("late".into(), 2_000, 0)).await.expect("admit"),
        ChannelAdmit::Full { active: 5 }
    ));
    assert_eq!(
        store.channel_admit("x", &admission("late".into(), 2_000, 1_500)).await.expect("admit"),
        ChannelAdmit::Admitted { active: 1 }
    );
}
