//! Injected faults on create, latency, and shutdown on drop.

mod support;

use fake_ark::{FakeArkConfig, Fault};
use std::time::{Duration, Instant};
use support::*;

async fn post_create(f: &Fake) -> Result<reqwest::Response, reqwest::Error> {
    f.client.post(f.url(TASKS)).bearer_auth(KEY).json(&minimal(MODEL)).send().await
}

#[tokio::test]
async fn status_faults_answer_native_errors_once() {
    let f = start(FakeArkConfig::held()).await;
    for (fault, code) in [(500, "InternalServiceError"), (429, "RateLimitExceeded"), (503, "ServiceUnavailable")] {
        f.ark.fault_next_create(Fault::Status(fault));
        let a = answer(post_create(&f).await.unwrap()).await;
        assert_eq!(a.status, fault);
        assert_eq!(a.body["error"]["code"], code, "{}", a.raw);
        assert!(a.headers.contains_key("x-request-id"));
        if fault == 429 {
            assert!(a.raw.contains(MODEL), "names the official id, as upstream does: {}", a.raw);
        }
        // Once only.
        assert_eq!(answer(post_create(&f).await.unwrap()).await.status, 200);
    }
    assert_eq!(f.ark.creates(), 6);
    assert_eq!(f.get(TASKS).await.body["total"], 3, "faulted creates store nothing");
}

#[tokio::test]
async fn unparseable_is_a_200_that_is_not_json() {
    let f = start(FakeArkConfig::held()).await;
    f.ark.fault_next_create("unparseable".parse().unwrap());
    let r = post_create(&f).await.unwrap();
    assert_eq!(r.status(), 200);
    let raw = r.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&raw).is_err(), "{raw}");
    assert_eq!(f.get(TASKS).await.body["total"], 0);
}

#[tokio::test]
async fn drop_closes_the_connection_unanswered() {
    let f = start(FakeArkConfig::held()).await;
    f.ark.fault_next_create(Fault::Drop);
    let err = post_create(&f).await.expect_err("no answer");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(f.ark.creates(), 1);
    assert_eq!(f.get(TASKS).await.body["total"], 0);
    // The server itself carries on.
    assert_eq!(post_create(&f).await.unwrap().status(), 200);
}

#[tokio::test]
async fn delay_answers_late_but_creates() {
    let f = start(FakeArkConfig::held()).await;
    f.ark.fault_next_create("delay:150".parse().unwrap());
    let t = Instant::now();
    let a = answer(post_create(&f).await.unwrap()).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(f.get(TASKS).await.body["total"], 1);
}

#[tokio::test]
async fn latency_is_added_to_every_answer() {
    let f = start(FakeArkConfig { latency_ms: 100, ..FakeArkConfig::held() }).await;
    let t = Instant::now();
    assert_eq!(f.get(TASKS).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let f = start(FakeArkConfig::held()).await;
    assert_eq!(f.get(TASKS).await.status, 200);
    let Fake { ark, client } = f;
    let url = format!("{}{TASKS}", ark.base_url());
    drop(ark);
    // Give the aborted server task a turn to be torn down.
    tokio::task::yield_now().await;
    let r = client.get(&url).bearer_auth(KEY).timeout(Duration::from_secs(5)).send().await;
    assert!(r.is_err(), "still answering after drop: {r:?}");
}
