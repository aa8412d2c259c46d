//! Fail closed: with Redis stopped the edge answers 503 `store_unavailable`, creates nothing
//! upstream and never guesses ownership; with Redis back (same port, empty or not) it serves
//! again without a restart. A create whose ownership write fails after the upstream answered is
//! journaled and replayed, never orphaned.

use crate::support;

use std::time::{Duration, Instant};
use support::harness::{minimal_task, Harness, Options, TASKS};
use support::wait;

#[tokio::test]
async fn redis_down_is_503_and_nothing_is_created_upstream() {
    let mut h = Harness::start().await;
    let id = h.create("acme", "dreamina-seedance-2-0").await;
    let creates = h.fake.creates();
    h.redis.kill();
    let failures = || -> u64 {
        let errors = &h.edge.metrics.store_errors;
        seedance_edge::store::metered::STORE_OPS.iter().map(|op| errors.with_label_values(&[op]).get()).sum()
    };
    let failures_before = failures();

    let started = Instant::now();
    let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0")).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "store_unavailable");
    assert_eq!(h.fake.creates(), creates, "no upstream create while the store is down");
    for path in [format!("{TASKS}/{id}"), TASKS.to_string()] {
        let before = h.fake.requests().len();
        let r = h.get("acme", &path).await;
        assert_eq!(r.status, 503, "{path}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "store_unavailable");
        assert_eq!(h.fake.requests().len(), before, "{path}: never forwarded unscoped or unchecked");
    }
    let r = h.delete("acme", &format!("{TASKS}/{id}")).await;
    assert_eq!(r.status, 503);
    assert!(started.elapsed() < Duration::from_secs(10), "fail fast: {:?}", started.elapsed());
    // Each refused request stopped at its first failed store call, counted once by the store.
    assert_eq!(failures() - failures_before, 4, "one counted failure per refused request");
    assert!(h.metrics().contains("seedance_store_errors_total"));

    h.redis.restart();
    // Redis came back empty; the reconciler (run here by hand) restores the configured tenants.
    let reconciler = seedance_edge::billing::reconcile::Reconciler { edge: h.edge.clone() };
    let recovered = wait::until("edge serves again after Redis restarts", Duration::from_secs(10), || async {
        reconciler.pass().await.is_ok() && h.get("acme", TASKS).await.status == 200
    })
    .await;
    assert!(recovered);
    // Redis came back empty (no persistence): the task is gone from the store, so it is 404 —
    // and new work succeeds.
    h.create("acme", "dreamina-seedance-2-0").await;
}

#[tokio::test]
async fn ownership_write_failure_after_create_goes_to_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("ownership.journal");
    let opts = Options { journal: Some(journal.clone()), ..Options::default() };
    let h = Harness::start_with(opts).await;
    // The store refuses writes (OOM) before the create: the write-ahead intent cannot be
    // recorded, so nothing is created upstream.
    h.redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    h.redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    let r = h.post("acme", TASKS, &minimal_task("dreamina-seedance-2-0")).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(h.fake.creates(), 0, "fail closed: nothing created upstream");
    h.redis.cli(&["CONFIG", "SET", "maxmemory", "0"]);

    // The store starts refusing writes while the upstream is creating: the create succeeds
    // upstream, the ownership record cannot be written, the journal keeps it.
    h.fault_next_create("delay:800");
    let create = spawn_create(&h);
    let arrived =
        support::wait::until("the create reaches the upstream", std::time::Duration::from_secs(10), || async {
            h.fake.requests().iter().any(|r| r.method == "POST" && r.path.ends_with("/tasks"))
        })
        .await;
    assert!(arrived);
    h.redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    let (status, raw) = create.await.unwrap();
    assert_eq!(status, 200, "{raw}");
    let body: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    assert!(std::fs::read_to_string(&journal).unwrap().contains(&id));
    assert_eq!(h.edge.journal.as_ref().unwrap().pending(), 1);

    h.redis.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    let reconciler = seedance_edge::billing::reconcile::Reconciler { edge: h.edge.clone() };
    reconciler.pass().await.unwrap();
    assert_eq!(h.edge.journal.as_ref().unwrap().pending(), 0);
    let g = h.get("acme", &format!("{TASKS}/{id}")).await;
    assert_eq!(g.status, 200, "replayed ownership: {}", g.raw);
    assert_eq!(g.body["model"], "dreamina-seedance-2-0");
}

#[tokio::test]
async fn a_garbage_journal_line_is_kept_aside_and_the_good_lines_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("ownership.journal");
    let line = |tenant: &str, id: &str| {
        let task = support::fixtures::task(id, 1_700_000_000);
        serde_json::json!({"tenant": tenant, "task": task}).to_string()
    };
    let garbage = "{\"tenant\":\"acme\",\"task\":{\"id\":\"cgt-torn";
    let text = format!("{}\n{garbage}\n{}\n", line("acme", "cgt-before"), line("globex", "cgt-after"));
    std::fs::write(&journal, text).unwrap();

    let h = Harness::start_with(Options { journal: Some(journal.clone()), ..Options::default() }).await;
    seedance_edge::billing::reconcile::Reconciler { edge: h.edge.clone() }.pass().await.unwrap();

    assert!(h.edge.store.task("acme", "cgt-before").await.unwrap().is_some(), "the line before is in Redis");
    assert!(h.edge.store.task("globex", "cgt-after").await.unwrap().is_some(), "the line after is in Redis");
    let corrupt = std::fs::read_to_string(dir.path().join("ownership.journal.corrupt")).expect("a .corrupt file");
    assert_eq!(corrupt, format!("{garbage}\n"), "the garbage line, kept verbatim");
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "", "nothing left to replay");
    assert_eq!(h.edge.journal.as_ref().unwrap().pending(), 0);
    assert!(h.metrics().contains("\nseedance_journal_corrupt_lines_total 1\n"), "{}", h.metrics());
}

/// The record and the claim go to Redis together. When the record fails (here: the tenant's keys
/// become off limits while the upstream is creating) and there is no journal, the claim that
/// succeeded alongside it is taken back: the owner index must not name an unrecorded task, or the
/// orphan scan would never report it.
#[tokio::test]
async fn a_create_recorded_nowhere_leaves_no_claim_and_the_orphan_scan_finds_it() {
    use seedance_edge::billing::orphans::{scan, Window};
    let h = Harness::start().await;
    h.fault_next_create("delay:800");
    let create = spawn_create(&h);
    let arrived = wait::until("the create reaches the upstream", Duration::from_secs(10), || async {
        h.fake.requests().iter().any(|r| r.method == "POST" && r.path.ends_with("/tasks"))
    })
    .await;
    assert!(arrived);
    // Only the channels' keys stay writable: the record fails, the claim does not.
    h.redis.cli(&["ACL", "SETUSER", "default", "resetkeys", "~sde:{c:*"]);
    let (status, raw) = create.await.unwrap();
    h.redis.cli(&["ACL", "SETUSER", "default", "allkeys"]);
    assert_eq!(status, 503, "{raw}");
    assert!(raw.contains("store_unavailable"), "{raw}");
    assert_eq!(h.fake.creates(), 1);

    let found = scan(&h.edge, Window { grace_secs: 0, window_secs: 3600 }).await.unwrap();
    assert_eq!(found, 1, "the unrecorded task is an orphan");
    let mut orphans = Vec::new();
    for c in ["dead", "fo", "main", "revoked", "unopened"] {
        orphans.extend(h.edge.store.orphans(c).await.unwrap());
    }
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(orphans[0].probable_tenant.as_deref(), Some("acme"), "the intent is back");
    assert_eq!(h.edge.store.channel_owner("main", &orphans[0].task_id).await.unwrap(), None);
}

/// acme's create, in a task of its own so the test can break the store while the (delayed)
/// upstream is creating: (status, body).
fn spawn_create(h: &Harness) -> tokio::task::JoinHandle<(u16, String)> {
    let (client, url, token) = (h.client.clone(), format!("{}{TASKS}", h.base), support::harness::token("acme"));
    tokio::spawn(async move {
        let r = client.post(url).bearer_auth(token).json(&minimal_task("dreamina-seedance-2-0")).send().await;
        let r = r.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}
