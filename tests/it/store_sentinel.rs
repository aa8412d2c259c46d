//! Redis Sentinel on real processes: a master, a replica and one sentinel monitoring them on
//! free loopback ports. The store finds the master through `redis+sentinel://`, `run` becomes
//! ready on such a URL, and after `SENTINEL FAILOVER` the store writes to the promoted replica
//! without a restart (the broken connection is dropped and the sentinels are asked again).

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use std::time::Duration;
use support::redis::{RedisServer, Sentinel, MASTER};
use support::wait::{until, until_sync};

fn store(url: &str) -> RedisStore {
    RedisStore::connect(url, "sde", RedisOptions::default()).unwrap()
}

#[tokio::test]
async fn the_store_finds_the_master_through_the_sentinels() {
    let master = RedisServer::start();
    let sentinel = Sentinel::start(master.port());
    let s = store(&sentinel.url(MASTER));
    s.ping().await.expect("ping through the sentinel-resolved master");
    assert!(s.try_lease("acme", "node-a", 60_000).await.unwrap(), "a write through the sentinel-resolved master");
    assert!(master.cli(&["KEYS", "*"]).contains("acme"), "the write did not land on the master");

    let unknown = store(&sentinel.url("no-such-master"));
    assert!(unknown.ping().await.is_err(), "a master name the sentinels do not monitor must fail");
}

#[tokio::test]
async fn the_store_follows_a_failover_without_a_restart() {
    let master = RedisServer::start();
    let replica = RedisServer::start();
    replica.cli(&["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    let synced = until_sync("the replica syncs", Duration::from_secs(10), || {
        replica.cli(&["INFO", "replication"]).contains("master_link_status:up")
    });
    assert!(synced);
    let sentinel = Sentinel::start(master.port());
    // A failover needs a replica the sentinel has seen (it learns them from the master's INFO).
    let seen = until_sync("the sentinel sees the replica", Duration::from_secs(20), || {
        sentinel.cli(&["SENTINEL", "replicas", MASTER]).contains(&replica.port().to_string())
    });
    assert!(seen);

    let s = store(&sentinel.url(MASTER));
    assert!(s.try_lease("before", "node-a", 600_000).await.unwrap());

    let started = until_sync("SENTINEL FAILOVER is accepted", Duration::from_secs(20), || {
        sentinel.cli(&["SENTINEL", "FAILOVER", MASTER]).trim() == "OK"
    });
    assert!(started);
    let moved = until_sync("the sentinel promotes the replica", Duration::from_secs(30), || {
        sentinel.master_port() == Some(replica.port())
    });
    assert!(moved, "the failover did not happen");

    // Until the sentinel demotes the old master (and kills its clients) a write can still be
    // acknowledged there; after that the broken connection is dropped and the sentinels asked
    // again, so writes land on the promoted replica. No restart, no sleep.
    let mut n = 0;
    let recovered = until("a store write lands on the new master", Duration::from_secs(30), || {
        n += 1;
        let tenant = format!("after{n}");
        let (s, replica) = (&s, &replica);
        async move {
            s.try_lease(&tenant, "node-a", 600_000).await.is_ok()
                && replica.cli(&["ROLE"]).starts_with("master")
                && replica.cli(&["KEYS", "*"]).contains(&format!(":{tenant}}}"))
        }
    })
    .await;
    assert!(recovered, "the store did not follow the failover");
    assert!(master.cli(&["ROLE"]).starts_with("slave"), "the old master was not demoted");
    assert!(replica.cli(&["KEYS", "*"]).contains("before"), "the data written before the failover is gone");
}

#[tokio::test]
async fn run_serves_on_a_sentinel_store() {
    let master = RedisServer::start();
    let sentinel = Sentinel::start(master.port());
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "store: {{ url: \"{}\", prefix: sde }}\nserver: {{ threads: 1, grace_period_seconds: 0 }}\n",
        sentinel.url(MASTER)
    );
    // `start_yaml` waits for `/readyz` 200, which needs a store that answers.
    let _node = support::node::Node::start_yaml(dir.path(), "sentinel", &body, &[]).await;
}
