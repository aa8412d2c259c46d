//! The task cache on each store topology, on real redis-server processes: its invalidation link
//! comes up on a password-protected `rediss://` server and on a master found through Sentinel
//! and on a Redis Cluster (one broadcast link per master), and follows a hide made through
//! another store handle within `store.cache.max_stale_ms`.

use crate::support;

use seedance_edge::config::StoreConf;
use seedance_edge::metrics::Metrics;
use seedance_edge::store::cache::CacheConf;
use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use std::sync::Arc;
use std::time::Duration;
use support::redis::{RedisServer, Sentinel, TlsRedis, TLS_PASSWORD};
use support::redis_cluster::{cli, RedisCluster};
use support::wait::until;

const BOUND: Duration = Duration::from_millis(1000);
const SLACK: Duration = Duration::from_millis(1500);
const HITS: &str = "seedance_cache_lookups_total{cache=\"task\",result=\"hit\"}";

fn conf(url: &str, ca_file: Option<std::path::PathBuf>) -> StoreConf {
    StoreConf {
        url: url.to_string(),
        ca_file,
        prefix: "sde".into(),
        op_timeout: Duration::from_millis(1000),
        retention: Duration::from_secs(86_400),
        journal: None,
        cache: CacheConf { max_entries: 1000, max_stale: BOUND },
    }
}

/// Puts a task, waits for the link, reads it into the cache and from it, hides it through
/// `other` (an uncached handle, as another node would), and waits for the cache to follow.
async fn the_cache_follows_a_hide(store: Arc<dyn Store>, other: &dyn Store) {
    let metrics = Metrics::new(false).unwrap();
    let coherence = store.coherence().expect("this topology has a cache");
    coherence.attach_counters(metrics.cache_counters());
    let id = "cgt-cache-topology-1";
    other.put_task("acme", &support::fixtures::task(id, 1_700_000_000)).await.unwrap();
    assert!(store.task("acme", id).await.unwrap().is_some(), "the first read starts the link");
    let up = until("the invalidation link is up", Duration::from_secs(10), || {
        let c = coherence.clone();
        async move { c.usable() }
    })
    .await;
    assert!(up, "the invalidation link never came up");
    for _ in 0..3 {
        assert!(!store.task("acme", id).await.unwrap().unwrap().hidden);
    }
    let page = String::from_utf8_lossy(&metrics.render()).into_owned();
    assert!(support::node::sample(&page, HITS).unwrap_or(0.0) >= 2.0, "reads after the fill are hits: {page}");

    other.hide_task("acme", id).await.unwrap();
    let hidden = until("the cache follows the hide", BOUND + SLACK, || async {
        store.task("acme", id).await.unwrap().is_some_and(|t| t.hidden)
    })
    .await;
    assert!(hidden, "the cache kept serving a hidden task");
}

#[tokio::test]
async fn the_link_works_over_tls_with_a_password() {
    let redis = TlsRedis::start();
    let url = redis.url(TLS_PASSWORD);
    let store = seedance_edge::server::open_store(&conf(&url, Some(redis.ca.clone()))).unwrap();
    let opts = RedisOptions { ca_file: Some(redis.ca.clone()), ..RedisOptions::default() };
    let other = RedisStore::connect(&url, "sde", opts).unwrap();
    the_cache_follows_a_hide(store, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_links_reach_every_master_of_a_cluster() {
    let cluster = RedisCluster::start(0);
    let url = cluster.url();
    let store = seedance_edge::server::open_store(&conf(&url, None)).unwrap();
    let other = RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap();
    the_cache_follows_a_hide(store.clone(), &other).await;
    // On every master, one connection tracks in broadcast mode (`t` and `B` in its flags).
    for p in &cluster.ports {
        let list = cli(*p, &["CLIENT", "LIST"]);
        let flags = |l: &str| l.split(' ').find_map(|f| f.strip_prefix("flags=")).unwrap_or("").to_string();
        let links = list.lines().map(flags).filter(|f| f.contains('t') && f.contains('B')).count();
        assert_eq!(links, 1, "node {p}: {list}");
    }
}

#[tokio::test]
async fn the_link_finds_the_master_through_the_sentinels() {
    let master = RedisServer::start();
    let sentinel = Sentinel::start(master.port());
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port);
    let store = seedance_edge::server::open_store(&conf(&url, None)).unwrap();
    let other = RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap();
    the_cache_follows_a_hide(store, &other).await;
    // The link is on the master itself.
    assert!(master.cli(&["CLIENT", "LIST"]).lines().any(|l| l.contains("flags=t")));
}

#[test]
fn every_topology_gets_a_cache_and_an_off_switch_turns_it_off() {
    let cluster = seedance_edge::server::open_store(&conf("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", None));
    assert!(cluster.unwrap().coherence().is_some(), "a cluster URL gets a cache too");
    let mut off = conf("redis://127.0.0.1:6379/0", None);
    off.cache.max_entries = 0;
    assert!(seedance_edge::server::open_store(&off).unwrap().coherence().is_none());
    let on = seedance_edge::server::open_store(&conf("redis://127.0.0.1:6379/0", None)).unwrap();
    assert!(on.coherence().is_some());
}
