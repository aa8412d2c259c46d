//! Tenant limits and prepaid balances (`tenants[].limits`, reserved at the worst-case price) on a real
//! redis-server: the admission script's counts under concurrency and across processes, slots
//! that end with their task (terminal GET, cancel, settlement, quarantine) or with a create that
//! created nothing, and the exact nano-dollar arithmetic of reserve, charge and release.

use crate::support;

use fake_ark::{FakeArk, FakeArkConfig};
use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::{settlement, task};
use support::harness::{minimal_task, task_path, token, Harness, Options, CHANNEL_KEY, TASKS};
use support::node::Node;
use support::redis::RedisServer;
use support::wait;

/// The worst case of [`minimal_task`] (480p, 4 s, no ratio, no video), worked out by hand:
/// the largest 480p frame is 864×496 = 428 544 px; floor(428544 × (24×4+1) / 1024) = 40 594
/// tokens; at 7.0 USD per million = 284 158 000 nano-USD.
const MINIMAL_WORST_NANOS: i64 = 284_158_000;

fn store(redis: &RedisServer) -> Arc<RedisStore> {
    let opts = RedisOptions { op_timeout: Duration::from_millis(1000), ..RedisOptions::default() };
    Arc::new(RedisStore::connect(&redis.url(), "sde", opts).expect("url parses"))
}

fn extra_tenant(id: &str, limits: &str) -> String {
    format!(
        "  - id: {id}\n    token_sha256: [\"{}\"]\n    channels: [main]\n    limits: {limits}\n",
        seedance_edge::auth::token_sha256(&token(id))
    )
}

async fn harness(tenants: &[(&str, &str)]) -> Harness {
    let extra_tenants = tenants.iter().map(|(id, l)| extra_tenant(id, l)).collect::<String>();
    Harness::start_with(Options { extra_tenants, ..Options::default() }).await
}

fn admission(slot: &str, now_ms: i64) -> Admission {
    Admission {
        slot: slot.into(),
        now_ms,
        max_active_tasks: None,
        creates_per_minute: None,
        reserve_nanos: None,
        stale_before_ms: 0,
    }
}

#[tokio::test]
async fn thirty_concurrent_admissions_take_exactly_the_limit() {
    let redis = RedisServer::start();
    let s = store(&redis);
    let mut joins = Vec::new();
    for i in 0..30 {
        let s = s.clone();
        joins.push(tokio::spawn(async move {
            let a = Admission { max_active_tasks: Some(5), ..admission(&format!("slot-{i}"), 1_000) };
            (i, s.admit("acme", &a).await.unwrap())
        }));
    }
    let mut admitted = Vec::new();
    for j in joins {
        match j.await.unwrap() {
            (i, Admit::Admitted) => admitted.push(format!("slot-{i}")),
            (_, Admit::ActiveLimit { active }) => assert_eq!(active, 5),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted.len(), 5);
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 5);
    assert_eq!(s.wallet("globex").await.unwrap().active_tasks, 0, "limits are per tenant");
    // A create that created nothing gives its slot back, once; then another create fits.
    assert!(s.release_slot("acme", &admitted[0], 2_000).await.unwrap());
    assert!(!s.release_slot("acme", &admitted[0], 2_000).await.unwrap());
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 4);
    let late = Admission { max_active_tasks: Some(5), ..admission("late", 3_000) };
    assert_eq!(s.admit("acme", &late).await.unwrap(), Admit::Admitted);
}

#[tokio::test]
async fn the_rate_window_slides_and_says_when_it_has_room() {
    let redis = RedisServer::start();
    let s = store(&redis);
    let at = |slot: &str, ms: i64| Admission { creates_per_minute: Some(2), ..admission(slot, ms) };
    assert_eq!(s.admit("acme", &at("a", 10_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &at("b", 30_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &at("c", 50_000)).await.unwrap(), Admit::RateLimited { retry_after_ms: 20_000 });
    // At 70 s the first create (10 s) has left the window: one more fits, then none until 90 s.
    assert_eq!(s.admit("acme", &at("d", 70_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &at("e", 70_001)).await.unwrap(), Admit::RateLimited { retry_after_ms: 19_999 });
}

#[tokio::test]
async fn reservations_charges_and_releases_are_exact_and_once() {
    let redis = RedisServer::start();
    let s = store(&redis);
    let w = s.credit("acme", 1_000_000_000, 1).await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos), (1_000_000_000, 0, 0));
    let reserve = |slot: &str, n: u64| Admission { reserve_nanos: Some(n), ..admission(slot, 1_000) };
    assert_eq!(s.admit("acme", &reserve("s1", 400_000_001)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &reserve("s2", 400_000_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(
        s.admit("acme", &reserve("s3", 200_000_000)).await.unwrap(),
        Admit::InsufficientQuota { available_nanos: 199_999_999 },
        "a refusal reserves nothing"
    );
    // s1 succeeds: settlement charges the actual price and releases the whole hold, once.
    let mut t1 = task("cgt-1", 1);
    (t1.slot, t1.prepaid) = (Some("s1".into()), true);
    s.put_task("acme", &t1).await.unwrap();
    let st = Settlement { usd_nanos: 123_456_789, ..settlement("cgt-1", "n1-a") };
    assert!(matches!(s.settle("acme", &st).await.unwrap(), SettleOutcome::Settled { .. }));
    let again = Settlement { settlement_id: "n2-b".into(), ..st.clone() };
    assert!(matches!(s.settle("acme", &again).await.unwrap(), SettleOutcome::AlreadySettled { .. }));
    s.set_status("acme", "cgt-1", "succeeded").await.unwrap();
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos), (876_543_211, 400_000_000, 123_456_789));
    // s2 fails: everything released, nothing charged, however often it is observed.
    let mut t2 = task("cgt-2", 2);
    (t2.slot, t2.prepaid) = (Some("s2".into()), true);
    s.put_task("acme", &t2).await.unwrap();
    s.set_status("acme", "cgt-2", "failed").await.unwrap();
    s.set_status("acme", "cgt-2", "failed").await.unwrap();
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos, w.active_tasks), (876_543_211, 0, 123_456_789, 0));
    // A quarantined task is never charged and releases its hold.
    assert_eq!(s.admit("acme", &reserve("s4", 5)).await.unwrap(), Admit::Admitted);
    let mut t4 = task("cgt-4", 4);
    (t4.slot, t4.prepaid) = (Some("s4".into()), true);
    s.put_task("acme", &t4).await.unwrap();
    let q = QuarantineRecord { reason: "over_bound".into(), usage: "1e12".into(), at_ms: 5 };
    assert!(s.quarantine("acme", "cgt-4", &q).await.unwrap());
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos), (876_543_211, 0));

    let moves = s.wallet_movements("acme").await.unwrap();
    let sum = |kind: &str| moves.iter().filter(|m| m.kind == kind).map(|m| m.usd_nanos).sum::<u64>();
    let kinds: Vec<&str> = moves.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["credit", "reserve", "reserve", "release", "charge", "release", "reserve", "release"]);
    assert_eq!(sum("reserve"), sum("release"), "nothing stays reserved");
    let ledger: u64 = s.ledger("acme", 0).await.unwrap().iter().map(|e| e.usd_nanos).sum();
    assert_eq!(sum("charge"), ledger, "charged = settled in the ledger");
    assert_eq!(sum("credit") - sum("charge"), 876_543_211);
}

#[tokio::test]
async fn a_stale_slot_gives_back_its_capacity_and_reservation() {
    let redis = RedisServer::start();
    let s = store(&redis);
    s.credit("acme", 100, 1).await.unwrap();
    let a = Admission { max_active_tasks: Some(1), reserve_nanos: Some(100), ..admission("old", 1_000) };
    assert_eq!(s.admit("acme", &a).await.unwrap(), Admit::Admitted);
    let b = Admission { slot: "new".into(), now_ms: 2_000, ..a.clone() };
    assert_eq!(s.admit("acme", &b).await.unwrap(), Admit::ActiveLimit { active: 1 });
    let c = Admission { stale_before_ms: 1_500, ..b };
    assert_eq!(s.admit("acme", &c).await.unwrap(), Admit::Admitted, "the slot from 1 000 ms is stale at 1 500");
    assert_eq!(s.wallet("acme").await.unwrap().reserved_nanos, 100);
}

#[tokio::test]
async fn a_slot_ends_when_its_task_is_seen_terminal_or_cancelled_or_never_created() {
    let h = harness(&[("capped", "{ max_active_tasks: 2 }")]).await;
    let model = "dreamina-seedance-2-0";
    // An upstream refusal created nothing: it holds no slot.
    h.fault_next_create("429");
    let r = h.post("capped", TASKS, &minimal_task(model)).await;
    assert_eq!(r.status, 429, "{}", r.raw);
    assert_eq!(h.edge.store.wallet("capped").await.unwrap().active_tasks, 0);

    let a = h.create("capped", model).await;
    let b = h.create("capped", model).await;
    let before = h.fake.creates();
    let r = h.post("capped", TASKS, &minimal_task(model)).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (429, Some("active_task_limit_exceeded")), "{}", r.raw);
    assert_eq!(h.fake.creates(), before, "a refused create never reaches the upstream");
    // Its write-ahead intent went with the admission (one round trip) and was taken back.
    assert!(h.edge.store.intents("main", 0).await.unwrap().is_empty(), "a refused create left an intent");
    h.create("globex", model).await; // another tenant is not limited

    // `a` fails upstream; the GET that sees it frees its slot.
    h.finish(&a, "failed", 0, "480p");
    assert_eq!(h.get("capped", &task_path(&a)).await.body["status"], "failed");
    let c = h.create("capped", model).await;
    // Cancelling queued `b` frees its slot too.
    assert_eq!(h.delete("capped", &task_path(&b)).await.status, 200);
    h.create("capped", model).await;
    let r = h.post("capped", TASKS, &minimal_task(model)).await;
    assert_eq!(r.status, 429, "c and the last create hold both slots: {}", r.raw);
    assert_eq!(h.edge.store.wallet("capped").await.unwrap().active_tasks, 2);
    let _ = c;
    assert!(
        h.metrics().contains("seedance_rejections_total{code=\"active_task_limit_exceeded\"} 2"),
        "{}",
        h.metrics()
    );
}

#[tokio::test]
async fn a_create_never_sent_frees_its_slot_and_one_that_may_have_arrived_keeps_it() {
    let dead =
        "  - id: deadcap\n    token_sha256: [\"{}\"]\n    channels: [dead]\n    limits: { max_active_tasks: 1 }\n";
    let dead = dead.replace("{}", &seedance_edge::auth::token_sha256(&token("deadcap")));
    let h = Harness::start_with(Options {
        extra_tenants: dead + &extra_tenant("capped", "{ max_active_tasks: 1 }"),
        ..Options::default()
    })
    .await;
    let model = "dreamina-seedance-2-0";
    // The channel refuses connections: nothing left the edge, twice in a row with one slot.
    for _ in 0..2 {
        let r = h.post("deadcap", TASKS, &minimal_task(model)).await;
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (502, Some("upstream_error")), "{}", r.raw);
    }
    assert_eq!(h.edge.store.wallet("deadcap").await.unwrap().active_tasks, 0);
    // The connection drops after the request was sent: the task may exist upstream.
    h.fault_next_create("drop");
    assert_eq!(h.post("capped", TASKS, &minimal_task(model)).await.status, 502);
    let r = h.post("capped", TASKS, &minimal_task(model)).await;
    assert_eq!(r.body["error"]["code"], "active_task_limit_exceeded", "the slot is kept: {}", r.raw);
}

#[tokio::test]
async fn over_the_rate_the_answer_says_when_to_retry() {
    let h = harness(&[("rated", "{ creates_per_minute: 2 }")]).await;
    let model = "dreamina-seedance-2-0";
    h.create("rated", model).await;
    h.create("rated", model).await;
    let resp = h
        .client
        .post(format!("{}{TASKS}", h.base))
        .bearer_auth(token("rated"))
        .json(&minimal_task(model))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(h.fake.creates(), 2);
}

#[tokio::test]
async fn a_prepaid_tenant_reserves_the_worst_case_and_pays_the_actual_price() {
    let h = harness(&[("paid", "{ prepaid: true }")]).await;
    let (model, store) = ("dreamina-seedance-2-0", h.edge.store.clone());
    let r = h.post("paid", TASKS, &minimal_task(model)).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (429, Some("insufficient_quota")), "{}", r.raw);
    assert_eq!(h.fake.creates(), 0);

    store.credit("paid", 1_000_000_000, 1).await.unwrap();
    let a = h.create("paid", model).await;
    let b = h.create("paid", model).await;
    let c = h.create("paid", model).await;
    let w = store.wallet("paid").await.unwrap();
    assert_eq!(w.reserved_nanos, 3 * MINIMAL_WORST_NANOS);
    // 1 USD − 3 × 0.284158 = 0.147526 USD left: a fourth worst case does not fit.
    let r = h.post("paid", TASKS, &minimal_task(model)).await;
    assert_eq!(r.body["error"]["code"], "insufficient_quota", "{}", r.raw);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("0.147526000"), "{}", r.raw);
    // An upstream refusal releases its reservation at once.
    store.credit("paid", MINIMAL_WORST_NANOS as u64, 2).await.unwrap();
    h.fault_next_create("429");
    assert_eq!(h.post("paid", TASKS, &minimal_task(model)).await.status, 429);
    assert_eq!(store.wallet("paid").await.unwrap().reserved_nanos, 3 * MINIMAL_WORST_NANOS);

    // a succeeds with 30 000 tokens at 480p: 30 000 × 7.0 / 1e6 USD = 210 000 000 nano-USD.
    h.finish(&a, "succeeded", 30_000, "480p");
    assert_eq!(h.get("paid", &task_path(&a)).await.body["status"], "succeeded");
    assert_eq!(h.get("paid", &task_path(&a)).await.status, 200, "a second look charges nothing more");
    h.finish(&b, "failed", 0, "480p");
    h.get("paid", &task_path(&b)).await;
    assert_eq!(h.delete("paid", &task_path(&c)).await.status, 200, "cancel");

    let w = store.wallet("paid").await.unwrap();
    let credited = 1_000_000_000 + MINIMAL_WORST_NANOS;
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos), (credited - 210_000_000, 0, 210_000_000));
    assert_eq!(w.active_tasks, 0);
    let moves = store.wallet_movements("paid").await.unwrap();
    let sum = |kind: &str| moves.iter().filter(|m| m.kind == kind).map(|m| m.usd_nanos).sum::<u64>();
    assert_eq!(sum("reserve"), sum("release"));
    assert_eq!(moves.iter().filter(|m| m.kind == "charge").count(), 1);
    let ledger: u64 = store.ledger("paid", 0).await.unwrap().iter().map(|e| e.usd_nanos).sum();
    assert_eq!((sum("charge"), ledger), (210_000_000, 210_000_000));
}

fn node_yaml(store_url: &str, upstream: &str, limits: &str) -> String {
    format!(
        r#"
store: {{ url: "{store_url}", prefix: sde }}
reconcile: {{ interval_ms: 200 }}
server: {{ threads: 2, grace_period_seconds: 0 }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{NODE_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - id: acme
    token_sha256: ["{sha}"]
    channels: [main]
    limits: {limits}
"#,
        sha = seedance_edge::auth::token_sha256(&token("acme"))
    )
}

/// `/readyz` can answer before the proxy listener accepts: wait for the listener as well.
async fn serving(node: Node) -> Node {
    let addr = node.listen_addr.clone();
    let up = wait::until("the proxy listener accepts", Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(&addr).await.is_ok()
    })
    .await;
    assert!(up, "{}", node.log_text());
    node
}

async fn fake_ark() -> FakeArk {
    let cfg = FakeArkConfig { api_keys: vec![CHANNEL_KEY.to_string()], ..FakeArkConfig::held() };
    FakeArk::start(cfg).await.expect("fake-ark starts")
}

#[tokio::test]
async fn two_nodes_create_exactly_max_active_tasks_upstream() {
    let redis = RedisServer::start();
    let fake = fake_ark().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = node_yaml(&redis.url(), &fake.base_url(), "{ max_active_tasks: 5 }");
    let env = [("NODE_TEST_KEY", CHANNEL_KEY)];
    let nodes = [
        serving(Node::start_yaml(dir.path(), "n1", &yaml, &env).await).await,
        serving(Node::start_yaml(dir.path(), "n2", &yaml, &env).await).await,
    ];
    let client = reqwest::Client::new();
    let mut joins = Vec::new();
    for i in 0..30 {
        let url = format!("{}{TASKS}", nodes[i % 2].base);
        let client = client.clone();
        joins.push(tokio::spawn(async move {
            let body = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "boat"}]});
            client.post(url).bearer_auth(token("acme")).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for j in joins {
        statuses.push(j.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 25, "{statuses:?}");
    assert_eq!(fake.creates(), 5, "exactly the limit reached the upstream");
}

#[tokio::test]
async fn a_reservation_survives_a_restart_and_settles_on_the_next_node() {
    let redis = RedisServer::start();
    let fake = fake_ark().await;
    let s = store(&redis);
    let dir = tempfile::tempdir().unwrap();
    let yaml = node_yaml(&redis.url(), &fake.base_url(), "{ prepaid: true }");
    let env = [("NODE_TEST_KEY", CHANNEL_KEY)];
    s.credit("acme", 2_000_000_000, 1).await.unwrap();
    let first = serving(Node::start_yaml(dir.path(), "before", &yaml, &env).await).await;
    let r = reqwest::Client::new()
        .post(format!("{}{TASKS}", first.base))
        .bearer_auth(token("acme"))
        .json(&minimal_task("dreamina-seedance-2-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    drop(first);
    assert_eq!(s.wallet("acme").await.unwrap().reserved_nanos, MINIMAL_WORST_NANOS, "held while nobody runs");

    fake.finish(&id, "succeeded", Some(10_000), Some("480p"));
    let _second = Node::start_yaml(dir.path(), "after", &yaml, &env).await;
    let settled = wait::until("the reconciler settles the task", Duration::from_secs(20), || async {
        s.wallet("acme").await.map(|w| w.reserved_nanos == 0).unwrap_or(false)
    })
    .await;
    assert!(settled);
    let w = s.wallet("acme").await.unwrap();
    // 10 000 tokens × 7.0 USD/M = 70 000 000 nano-USD.
    assert_eq!((w.balance_nanos, w.spent_nanos, w.active_tasks), (1_930_000_000, 70_000_000, 0));
}

#[tokio::test]
async fn hiding_a_task_the_upstream_lost_ends_its_slot_without_a_charge() {
    let redis = RedisServer::start();
    let s = store(&redis);
    s.credit("acme", 1_000, 1).await.unwrap();
    let a = Admission { max_active_tasks: Some(1), reserve_nanos: Some(600), ..admission("s1", 1_000) };
    assert_eq!(s.admit("acme", &a).await.unwrap(), Admit::Admitted);
    let mut t = task("cgt-lost", 1);
    (t.slot, t.prepaid) = (Some("s1".into()), true);
    s.put_task("acme", &t).await.unwrap();
    s.hide_task("acme", "cgt-lost").await.unwrap();
    s.hide_task("acme", "cgt-lost").await.unwrap();
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos, w.active_tasks), (1_000, 0, 0, 0));
    let releases = s.wallet_movements("acme").await.unwrap().into_iter().filter(|m| m.kind == "release").count();
    assert_eq!(releases, 1, "released once");
}
