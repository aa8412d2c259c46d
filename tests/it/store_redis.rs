//! What only the Redis store has, on a real redis-server: retention TTLs, the settlement
//! script's exactly-once guarantee across connections, typed errors for foreign data, fail-fast
//! while Redis is down and recovery without a restart. The behaviour both stores share is
//! `store_contract`.

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fixtures::{settlement, task};
use support::redis::RedisServer;
use support::wait;

fn store(redis: &RedisServer) -> Arc<RedisStore> {
    let opts = RedisOptions { op_timeout: Duration::from_millis(500), ..RedisOptions::default() };
    Arc::new(RedisStore::connect(&redis.url(), "sde", opts).expect("url parses"))
}

#[tokio::test]
async fn records_round_trip_in_the_tenants_namespace_only() {
    let redis = RedisServer::start();
    let s = store(&redis);
    let t = task("cgt-1", 1_700_000_000);
    s.put_task("acme", &t).await.unwrap();
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().as_deref(), Some(&t));
    assert_eq!(s.task("globex", "cgt-1").await.unwrap(), None, "another tenant's id is simply absent");
    assert!(redis.cli(&["TTL", "sde:{t:acme}:task:cgt-1"]).trim().parse::<i64>().unwrap() > 86_400);
    assert!(!s.put_task_if_absent("acme", &task("cgt-1", 1)).await.unwrap(), "replay never overwrites");
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().unwrap().created_at, 1_700_000_000);

    let tenant = TenantRecord {
        id: "acme".into(),
        disabled: false,
        channels: vec!["main".into()],
        models: vec![],
        assets: true,
        limits: Default::default(),
    };
    s.put_tenant(&tenant).await.unwrap();
    s.add_token("acme", "ab12").await.unwrap();
    assert_eq!(s.tenant("acme").await.unwrap(), Some(tenant));
    assert_eq!(s.tenant_ids().await.unwrap(), vec!["acme".to_string()]);
    assert_eq!(s.token_tenant("ab12").await.unwrap().as_deref(), Some("acme"));
    assert!(s.revoke_token("ab12").await.unwrap());
    assert!(!s.revoke_token("ab12").await.unwrap());
    assert_eq!(s.token_tenant("ab12").await.unwrap(), None);

    let group = AssetRecord {
        id: "group-1".into(),
        kind: AssetKind::Group,
        channel: "main".into(),
        group_id: None,
        created_at: 5,
    };
    let asset = AssetRecord {
        id: "asset-1".into(),
        kind: AssetKind::Asset,
        channel: "main".into(),
        group_id: Some("group-1".into()),
        created_at: 6,
    };
    s.put_asset("acme", &group).await.unwrap();
    s.put_asset("acme", &asset).await.unwrap();
    assert_eq!(s.asset("acme", "asset-1").await.unwrap(), Some(asset.clone()));
    assert_eq!(s.asset("globex", "asset-1").await.unwrap(), None);
    assert_eq!(s.assets("acme", AssetKind::Group).await.unwrap(), vec![group]);
    assert_eq!(s.assets("acme", AssetKind::Asset).await.unwrap(), vec![asset]);
}

#[tokio::test]
async fn settlement_is_exactly_once_under_concurrency() {
    let redis = RedisServer::start();
    let s = store(&redis);
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..32 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.settle("acme", &settlement("cgt-1", &format!("node-{i}"))).await.unwrap()
        }));
    }
    let mut won = 0;
    for h in handles {
        match h.await.unwrap() {
            SettleOutcome::Settled { .. } => won += 1,
            SettleOutcome::AlreadySettled { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(redis.cli(&["XLEN", "sde:{t:acme}:ledger"]).trim(), "1");
    let rec = s.task("acme", "cgt-1").await.unwrap().as_deref().cloned().unwrap();
    let by = rec.settlement.clone().unwrap().settled_by;
    assert_eq!(rec.status, "succeeded");
    assert_eq!(rec.settlement.unwrap().usd_nanos, 174_554_200);
    // The winner's retry after a lost reply is recognised, not billed again.
    assert_eq!(s.settle("acme", &settlement("cgt-1", &by)).await.unwrap(), SettleOutcome::Replay);
    assert_eq!(s.settle("globex", &settlement("cgt-1", "x")).await.unwrap(), SettleOutcome::NoTask);
    let ledger = s.ledger("acme", 0).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].tokens, ledger[0].settlement_id.as_str()), (40_594, by.as_str()));
    assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty(), "settled tasks leave the pending set");
}

#[tokio::test]
async fn foreign_data_under_our_keys_is_a_typed_error() {
    let redis = RedisServer::start();
    let s = store(&redis);
    redis.cli(&["SET", "sde:{t:acme}:task:cgt-1", "not a hash"]);
    let e = s.task("acme", "cgt-1").await.unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    redis.cli(&["HSET", "sde:{t:acme}:task:cgt-2", "channel", "main", "public_model", "m", "created_at", "yesterday"]);
    assert!(matches!(s.task("acme", "cgt-2").await.unwrap_err(), StoreError::Corrupt { .. }));
}

#[tokio::test]
async fn down_is_fast_unavailable_and_recovery_needs_no_restart() {
    let mut redis = RedisServer::start();
    let s = store(&redis);
    s.ping().await.unwrap();
    redis.kill();
    let started = Instant::now();
    let e = s.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "failed in {:?}", started.elapsed());
    assert!(s.put_task("acme", &task("cgt-1", 1)).await.is_err());
    redis.restart();
    let back = wait::until("store reconnects", Duration::from_secs(10), || async { s.ping().await.is_ok() }).await;
    assert!(back);
    s.put_task("acme", &task("cgt-1", 1)).await.unwrap();
}

#[tokio::test]
async fn a_store_made_while_redis_is_down_starts_and_connects_later() {
    let mut redis = RedisServer::start();
    redis.kill();
    let s = store(&redis);
    assert!(s.ping().await.is_err());
    redis.restart();
    assert!(wait::until("first connection", Duration::from_secs(10), || async { s.ping().await.is_ok() }).await);
}

#[tokio::test]
async fn a_stalled_redis_is_unavailable_within_the_deadline_not_a_hang() {
    let redis = RedisServer::start();
    let s = store(&redis);
    s.ping().await.unwrap();
    // CLIENT PAUSE holds every client's commands: a blackholed server, as far as we can tell.
    redis.cli(&["CLIENT", "PAUSE", "3000", "ALL"]);
    let started = Instant::now();
    let e = s.task("acme", "cgt-1").await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(1500), "answered after {:?}", started.elapsed());
    redis.cli(&["CLIENT", "UNPAUSE"]);
    assert!(wait::until("store answers again", Duration::from_secs(10), || async { s.ping().await.is_ok() }).await);
}

#[tokio::test]
async fn one_token_hash_binds_one_tenant_even_when_raced() {
    let redis = RedisServer::start();
    let s = store(&redis);
    s.add_token("acme", "ab12").await.unwrap();
    s.add_token("acme", "ab12").await.expect("binding again to the holder is fine");
    match s.add_token("globex", "ab12").await {
        Err(TokenError::HeldByOther { holder }) => assert_eq!(holder, "acme"),
        other => panic!("globex took acme's token: {other:?}"),
    }
    assert_eq!(s.token_tenant("ab12").await.unwrap().as_deref(), Some("acme"));

    // Sixteen tenants race for each of eight fresh hashes: exactly one wins each, and the key
    // names the winner.
    for n in 0..8 {
        let hash = format!("race{n}");
        let mut handles = Vec::new();
        for i in 0..16 {
            let (s, hash) = (s.clone(), hash.clone());
            handles.push(tokio::spawn(async move { (i, s.add_token(&format!("t{i}"), &hash).await) }));
        }
        let mut winners = Vec::new();
        for h in handles {
            match h.await.unwrap() {
                (i, Ok(())) => winners.push(format!("t{i}")),
                (_, Err(TokenError::HeldByOther { .. })) => {}
                (_, Err(e)) => panic!("{e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "{hash}: {winners:?}");
        assert_eq!(s.token_tenant(&hash).await.unwrap(), Some(winners[0].clone()));
    }
}
