//! The Redis store on a real three-primary Redis Cluster on loopback: every tenant's keys share
//! one hash tag, so the ownership and settlement scripts and the listing pipeline run on one slot
//! and the exactly-once guarantee holds as on a standalone server.

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::{settlement, task};
use support::redis_cluster::{cli, RedisCluster};
use support::wait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_pipelines_run_on_a_cluster() {
    let cluster = RedisCluster::start(0);
    let url = cluster.url();
    let s = Arc::new(RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap());
    // Tenants land on different slots (and so, likely, different primaries).
    let tenants = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];
    for t in tenants {
        s.put_tenant(&TenantRecord {
            id: t.into(),
            disabled: false,
            channels: vec!["main".into()],
            models: vec![],
            assets: true,
            limits: Default::default(),
        })
        .await
        .unwrap();
        // Listed: created within the retention.
        let now = seedance_edge::clock::now_secs();
        s.put_task(t, &task("cgt-1", now)).await.unwrap();
        s.put_task(t, &task("cgt-2", now)).await.unwrap();
        s.hide_task(t, "cgt-1").await.unwrap();
        let ids: Vec<String> =
            s.task_page(t, &TaskPageQuery::page(1, 500)).await.unwrap().records.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["cgt-2"], "{t}");
        let group = AssetRecord {
            id: "group-1".into(),
            kind: AssetKind::Group,
            channel: "main".into(),
            group_id: None,
            created_at: 1,
        };
        s.put_asset(t, &group).await.unwrap();
        assert_eq!(s.assets(t, AssetKind::Group).await.unwrap(), vec![group]);
    }
    let mut ids = s.tenant_ids().await.unwrap();
    ids.sort();
    let mut want: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(ids, want);

    // Exactly once, concurrently, per tenant.
    let mut handles = Vec::new();
    for t in tenants {
        for i in 0..8 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let settlement = settlement("cgt-2", &format!("node-{i}"));
                matches!(s.settle(t, &settlement).await.unwrap(), SettleOutcome::Settled { .. })
            }));
        }
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, tenants.len(), "one settlement per tenant");
    for t in tenants {
        assert_eq!(s.ledger(t, 0).await.unwrap().len(), 1, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_fails_over_without_losing_ownership_or_billing_twice() {
    let mut cluster = RedisCluster::start(1);
    let url = cluster.url();
    let s = Arc::new(RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap());
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    let victim = cluster.primary_of("sde:{t:acme}:task:cgt-1");
    // A tenant whose slot another primary serves keeps working throughout.
    let other = (0..100)
        .map(|i| format!("t{i}"))
        .find(|t| cluster.primary_of(&format!("sde:{{t:{t}}}:task:x")) != victim)
        .unwrap();
    // The record reached the replica before the primary dies (replication is asynchronous, and
    // a fresh replica first needs its initial sync).
    let synced = wait::until_sync("the replica caught up", Duration::from_secs(30), || {
        let info = cli(victim, &["INFO", "replication"]);
        let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
        let master = field("master_repl_offset:");
        let replica = field("slave0:")
            .filter(|v| v.contains("state=online"))
            .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("offset=")).map(str::to_string));
        master.is_some() && master == replica
    });
    assert!(synced, "the replica never caught up");
    cluster.kill(victim);

    // During the failover: answers come back within the deadline, never a hang.
    let started = std::time::Instant::now();
    let _ = s.task("acme", "cgt-1").await;
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    s.put_task(&other, &task("cgt-9", 1_700_000_000)).await.unwrap();

    // After it: the replica serves the slot, the ownership record is there.
    let back = wait::until("the replica takes over", Duration::from_secs(30), || async {
        matches!(s.task("acme", "cgt-1").await, Ok(Some(_)))
    })
    .await;
    assert!(back, "acme's slot never came back");
    let mut handles = Vec::new();
    for n in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let settlement = settlement("cgt-1", &format!("node-{n}"));
            matches!(s.settle("acme", &settlement).await, Ok(SettleOutcome::Settled { .. }))
        }));
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, 1, "settled exactly once after the failover");
    assert_eq!(s.ledger("acme", 0).await.unwrap().len(), 1);
}
