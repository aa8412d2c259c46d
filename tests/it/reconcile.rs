//! The reconciler on a real redis-server, against hostile state: one tenant's unreadable keys or
//! records never stop it settling another tenant's tasks, and a settlement it cannot make is
//! counted (`seedance_settlements_deferred_total{reason}`) and shown on the task by `task show`.

use crate::support;

use seedance_edge::billing::reconcile::Reconciler;
use seedance_edge::billing::{observe, Observed};
use serde_json::{json, Value};
use std::process::Command;
use support::harness::Harness;

/// The value of one sample on the edge's metrics page (`name{labels}` exactly as rendered).
fn sample(h: &Harness, series: &str) -> Option<f64> {
    h.metrics().lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `seedance-edge task show` (the real binary) on the harness's Redis.
fn task_show(h: &Harness, dir: &std::path::Path, tenant: &str, id: &str) -> Value {
    let conf = dir.join("show.yaml");
    std::fs::write(&conf, format!("store: {{ url: \"{}\", prefix: sde }}\n", h.redis.url())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["task", "show", id, "--tenant", tenant, "--conf"])
        .arg(&conf)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn unreadable_state_of_one_tenant_does_not_stop_another_tenants_settlement() {
    let h = Harness::start().await;
    let acme = h.create("acme", "dreamina-seedance-2-0").await;
    let globex = h.create("globex", "dreamina-seedance-2-0").await;
    h.finish(&acme, "succeeded", 1000, "480p");
    h.finish(&globex, "succeeded", 1000, "480p");
    // acme (first in the pass) has garbage where its pending set should be; globex has two
    // unreadable records due before its good task: a string where a hash belongs, and a hash
    // with a field that is not a number.
    h.redis.cli(&["SET", "sde:{t:acme}:pending", "garbage"]);
    h.redis.cli(&["SET", "sde:{t:globex}:task:cgt-garbage", "garbage"]);
    h.redis.cli(&["HSET", "sde:{t:globex}:task:cgt-broken", "channel", "main", "public_model", "x", "created_at", "?"]);
    h.redis.cli(&["ZADD", "sde:{t:globex}:pending", "1", "cgt-garbage", "2", "cgt-broken"]);

    let reconciler = Reconciler { edge: h.edge.clone() };
    let finished = reconciler.pass().await.expect("the pass goes on past unreadable state");

    assert_eq!(finished, 1);
    let settled = h.edge.store.task("globex", &globex).await.unwrap().as_deref().cloned().unwrap();
    assert!(settled.settlement.is_some(), "globex's task is settled despite acme's and its own bad records");
    assert_eq!(h.edge.store.ledger("globex", 0).await.unwrap().len(), 1);
    assert_eq!(sample(&h, "seedance_reconcile_skipped_total{reason=\"record_unreadable\"}"), Some(3.0));
    // The unreadable records are looked at again later, not at the head of every batch.
    let now_ms = seedance_edge::clock::now_ms() as f64;
    for id in ["cgt-garbage", "cgt-broken"] {
        let next: f64 = h.redis.cli(&["ZSCORE", "sde:{t:globex}:pending", id]).trim().parse().unwrap();
        assert!(next > now_ms, "{id} backed off: {next}");
    }
}

#[tokio::test]
async fn an_unreadable_tenant_record_does_not_keep_the_others_out_of_the_store() {
    let h = Harness::start().await;
    h.redis.cli(&["SET", "sde:{t:acme}:tenant", "garbage"]);
    h.redis.cli(&["DEL", "sde:{t:globex}:tenant"]);
    h.redis.cli(&["SREM", "sde:tenants", "globex"]);

    let report = seedance_edge::billing::reconcile::sync_tenants(&h.edge).await.expect("sync goes on");

    assert_eq!(report.unreadable, vec!["acme".to_string()]);
    assert!(h.edge.store.tenant("globex").await.unwrap().is_some(), "globex is loaded again");
    assert_eq!(h.redis.cli(&["GET", "sde:{t:acme}:tenant"]).trim(), "garbage", "left for an operator");
}

#[tokio::test]
async fn a_deferred_settlement_is_counted_and_shown_on_the_task() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    for reason in
        ["missing_usage", "missing_resolution", "unknown_resolution", "unknown_model", "no_price", "channel_removed"]
    {
        let series = format!("seedance_settlements_deferred_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&h, &series), Some(0.0), "{series} is exported from the start");
    }

    // The upstream says succeeded but reports no usage: nothing to bill yet.
    let id = h.create("acme", "dreamina-seedance-2-0").await;
    let record = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    let no_usage = json!({"id": id, "status": "succeeded", "resolution": "480p"});
    assert_eq!(observe(&h.edge, "acme", &record, &no_usage).await, Observed::Deferred);
    assert_eq!(observe(&h.edge, "acme", &record, &no_usage).await, Observed::Deferred);
    assert_eq!(sample(&h, "seedance_settlements_deferred_total{reason=\"missing_usage\"}"), Some(2.0));
    let shown = task_show(&h, dir.path(), "acme", &id);
    let pending = &shown["settlement_pending"];
    assert_eq!(pending["reason"], "missing_usage", "{shown}");
    assert_eq!(pending["attempts"], 2, "{shown}");
    let since = pending["since_ms"].as_i64().expect("since_ms");
    assert!(since > 1_700_000_000_000, "{shown}");

    // A task whose channel was removed from the configuration: the reconciler cannot ask.
    let mut orphan = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    orphan.id = "cgt-20260101000000-orphan".into();
    orphan.channel = "gone".into();
    orphan.settlement = None;
    h.edge.store.put_task("acme", &orphan).await.unwrap();
    Reconciler { edge: h.edge.clone() }.pass().await.unwrap();
    assert_eq!(sample(&h, "seedance_settlements_deferred_total{reason=\"channel_removed\"}"), Some(1.0));
    assert_eq!(task_show(&h, dir.path(), "acme", &orphan.id)["settlement_pending"]["reason"], "channel_removed");

    // Once usage is there the task settles, and the pending note goes.
    let with_usage =
        json!({"id": id, "status": "succeeded", "resolution": "480p", "usage": {"completion_tokens": 1000}});
    assert_eq!(observe(&h.edge, "acme", &record, &with_usage).await, Observed::Settled);
    let shown = task_show(&h, dir.path(), "acme", &id);
    assert!(shown["settlement_pending"].is_null(), "{shown}");
    assert_eq!(shown["settlement"]["tokens"], 1000);
}
