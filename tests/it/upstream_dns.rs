//! Channel hosts by name: resolved through a cache that honours the record's TTL (one lookup
//! serves many requests, and an expired one is asked again), and every address tried (a host
//! whose first address refuses connections still answers), on the loopback DNS stub.

use crate::support;

use fake_ark::{FakeArk, FakeArkConfig};
use serde_json::Value;
use std::time::Duration;
use support::harness::{minimal_task, task_path, token, Harness, Options, CHANNEL_KEY, TASKS};
use support::wait;

const MODEL: &str = "dreamina-seedance-2-0";
const A: u16 = 1;

fn channel(id: &str, url: &str) -> String {
    format!(
        "  - id: {id}\n    task_base_url: \"{url}\"\n    region: ap-southeast-1\n    api_key: \"${{KEY}}\"\n    models:\n      {MODEL}: dreamina-seedance-2-0-260128\n"
    )
}

fn tenant(id: &str) -> String {
    format!(
        "  - id: {id}\n    token_sha256: [\"{}\"]\n    channels: [{id}]\n",
        seedance_edge::auth::token_sha256(&token(id))
    )
}

async fn setup() -> (Harness, FakeArk) {
    let cfg = FakeArkConfig { api_keys: vec![CHANNEL_KEY.to_string()], ..FakeArkConfig::held() };
    let fake = FakeArk::start(cfg).await.expect("fake-ark starts");
    let port = fake.addr().port();
    let extra_channels = [
        channel("multi", &format!("http://ark-multi.test:{port}")),
        channel("short", &format!("http://ark-short.test:{port}")),
    ]
    .concat();
    let extra_tenants = [tenant("multi"), tenant("short")].concat();
    let h = Harness::start_with(Options { extra_channels, extra_tenants, ..Options::default() }).await;
    (h, fake)
}

fn a_queries(h: &Harness, name: &str) -> usize {
    h.dns.queries().iter().filter(|(n, t)| n == name && *t == A).count()
}

async fn create(h: &Harness, tenant: &str) -> String {
    let r = h.post(tenant, TASKS, &minimal_task(MODEL)).await;
    assert_eq!(r.status, 200, "create: {}", r.raw);
    r.body["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn every_address_is_tried_and_one_lookup_serves_its_ttl() {
    let (h, fake) = setup().await;
    let id = create(&h, "multi").await;
    // The lookup rotates where connecting starts: about half of these begin at 127.0.0.2,
    // which refuses, and must go on to 127.0.0.1.
    for _ in 0..8 {
        let r = h.get("multi", &task_path(&id)).await;
        assert_eq!(r.status, 200, "GET through the second address: {}", r.raw);
        assert_eq!(r.body["id"], Value::from(id.clone()));
    }
    assert_eq!(fake.creates(), 1, "a refused address sent nothing: one create upstream");
    assert_eq!(a_queries(&h, "ark-multi.test."), 1, "nine requests within the TTL of 300 s: one A lookup");
}

#[tokio::test]
async fn an_expired_answer_is_looked_up_again() {
    let (h, _fake) = setup().await;
    let id = create(&h, "short").await;
    assert_eq!(a_queries(&h, "ark-short.test."), 1);
    // TTL 1 s: keep polling until the cached answer has expired and the name was asked again.
    let asked_again = wait::until("a second lookup of ark-short.test", Duration::from_secs(10), || async {
        let r = h.get("short", &task_path(&id)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        a_queries(&h, "ark-short.test.") >= 2
    })
    .await;
    assert!(asked_again, "the answer was kept past its TTL");
}
