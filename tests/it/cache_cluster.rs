//! The read cache on a real three-primary Redis Cluster: what a GET costs (`INFO commandstats`
//! summed over every node, never timed), a DELETE on one node reaching another within
//! `store.cache.max_stale_ms`, a revoked token refused, a link cut or a master stalled making
//! the cache stand aside until every master is linked again, and the links following a failover.

use crate::support;

use seedance_edge::auth::token_sha256;
use seedance_edge::config::StoreConf;
use seedance_edge::store::cache::CacheConf;
use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use std::collections::BTreeMap;
use std::time::Duration;
use support::edge_node::{self, EdgeNode, TASK_HITS};
use support::harness::{token, Harness, Options};
use support::redis::{command_calls, commands_between};
use support::redis_cluster::{cli, RedisCluster};
use support::wait::{until, until_sync};

const MODEL: &str = "dreamina-seedance-2-0";
/// The default `store.cache.max_stale_ms`: the stated bound of every cross-node test here.
const BOUND: Duration = Duration::from_millis(1000);
/// Room for a loaded test machine on top of the bound, for the polls that wait for it.
const SLACK: Duration = Duration::from_millis(1500);

const TASK_BYPASSES: &str = "seedance_cache_lookups_total{cache=\"task\",result=\"bypass\"}";
const FLUSHES: &str = "seedance_cache_invalidations_total{kind=\"everything\"}";

/// The harness (fake-ark, configuration; its own standalone Redis stays unused) and a cluster.
async fn setup() -> (Harness, RedisCluster) {
    // No reconciler traffic in the counts.
    let h = Harness::start_with(Options { reconcile_interval_ms: 3_600_000, ..Options::default() }).await;
    (h, RedisCluster::start(0))
}

/// A node on the cluster; the first one also writes the configured tenants there.
async fn node(h: &Harness, cluster: &RedisCluster, max_stale: Duration) -> EdgeNode {
    let n = EdgeNode::start_on(h, &cluster.url(), max_stale).await;
    seedance_edge::billing::reconcile::sync_tenants(&n.edge).await.expect("tenants upserted");
    n
}

/// Commands per name, summed over every node of the cluster.
fn cluster_calls(cluster: &RedisCluster) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for p in &cluster.ports {
        for (name, n) in command_calls(*p) {
            *sum.entry(name).or_insert(0) += n;
        }
    }
    sum
}

/// The ids of the connections with client tracking on (`t` in their flags) on one node.
fn tracking_clients(port: u16) -> Vec<String> {
    cli(port, &["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.split(' ').any(|f| f.strip_prefix("flags=").is_some_and(|v| v.contains('t'))))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")).map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_a_cluster_a_warm_get_costs_no_command_on_any_node() {
    let (h, cluster) = setup().await;
    // A long lease: a heartbeat delayed by a busy test machine must not turn hits into reads.
    let node = node(&h, &cluster, Duration::from_secs(30)).await;
    let id = node.create("acme", MODEL).await;
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    // One link per master, each in broadcast mode.
    for p in &cluster.ports {
        assert_eq!(tracking_clients(*p).len(), 1, "node {p}: {}", cli(*p, &["CLIENT", "LIST"]));
    }
    assert_eq!(node.get("acme", &id).await, 200);

    let before = cluster_calls(&cluster);
    for _ in 0..20 {
        assert_eq!(node.get("acme", &id).await, 200);
    }
    let warm = commands_between(&before, &cluster_calls(&cluster));
    assert!(warm.is_empty(), "20 warm GETs ran Redis commands: {warm:?}");
    assert!(node.sample(TASK_HITS) >= 20.0);
    assert!(node.sample("seedance_cache_lookups_total{cache=\"auth\",result=\"hit\"}") >= 20.0);

    let cold_id = node.create("acme", MODEL).await;
    let before = cluster_calls(&cluster);
    assert_eq!(node.get("acme", &cold_id).await, 200);
    let cold = commands_between(&before, &cluster_calls(&cluster));
    assert_eq!(cold, BTreeMap::from([("hgetall".to_string(), 1)]), "a cold GET");
    // Another tenant asking for the cached id gets the same 404 as for an unknown one.
    assert_eq!(node.get("globex", &id).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_a_cluster_a_delete_on_one_node_hides_the_task_on_another_within_the_bound() {
    let (h, cluster) = setup().await;
    let a = node(&h, &cluster, BOUND).await;
    let b = EdgeNode::start_on(&h, &cluster.url(), BOUND).await;
    let id = a.create("acme", MODEL).await;
    edge_node::cache_on(&b, &id).await;

    edge_node::delete_on_a_reaches_b(&h, &a, &b, &id, BOUND + SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_a_cluster_a_revoked_token_or_disabled_tenant_stops_working() {
    let (h, cluster) = setup().await;
    let node = node(&h, &cluster, BOUND).await;
    let id = node.create("acme", MODEL).await;
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    assert_eq!(node.get("acme", &id).await, 200);

    // The CLI is another process with its own store handle.
    let mut conf = h.edge.config.store.clone();
    conf.url = cluster.url();
    let cli = seedance_edge::server::open_store(&conf).expect("store");
    edge_node::revoke_and_disable_reach(&node, cli.as_ref(), &id, BOUND + SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_a_cluster_stands_aside_while_any_master_is_unlinked_then_recovers() {
    let (h, cluster) = setup().await;
    let node = node(&h, &cluster, BOUND).await;
    let id = node.create("acme", MODEL).await;
    let key = format!("sde:{{t:acme}}:task:{id}");
    let home = cluster.primary_of(&key);
    // A master holding neither the task nor the token (both are read while the cache stands
    // aside: a stalled master holding them would only time the reads out).
    let token_home = cluster.primary_of(&format!("sde:token:{}", token_sha256(&token("acme"))));
    let elsewhere = *cluster.ports.iter().find(|p| **p != home && **p != token_home).expect("three primaries");
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    assert_eq!(node.get("acme", &id).await, 200);

    // The link to a master that does not even hold the task is cut: the cache is emptied.
    let flushes = node.sample(FLUSHES);
    for c in tracking_clients(elsewhere) {
        cli(elsewhere, &["CLIENT", "KILL", "ID", &c]);
    }
    let flushed = until("the cache is flushed", BOUND + SLACK, || async { node.sample(FLUSHES) > flushes }).await;
    assert!(flushed, "a cut link did not empty the cache");
    node.link_up().await;

    // That master stalls (its link's heartbeat goes unanswered): reads go to Redis.
    cli(elsewhere, &["CLIENT", "PAUSE", "4000", "ALL"]);
    let coherence = node.edge.store.coherence().expect("cached");
    let aside = until("the cache stands aside", BOUND + SLACK, || {
        let c = coherence.clone();
        async move { !c.usable() }
    })
    .await;
    assert!(aside, "the cache stayed in use with a master silent");
    let bypasses = node.sample(TASK_BYPASSES);
    let before = command_calls(home);
    assert_eq!(node.get("acme", &id).await, 200);
    let read = commands_between(&before, &command_calls(home));
    assert_eq!(read.get("hgetall"), Some(&1), "a GET while a master is unlinked reads Redis: {read:?}");
    assert!(node.sample(TASK_BYPASSES) > bypasses);
    // A hide meanwhile is seen at once (the read went to Redis).
    cli(home, &["HSET", &key, "hidden", "1"]);
    assert_eq!(node.get("acme", &id).await, 404);

    // The pause ends, every master is linked again, and the cache serves once more.
    let back = until("the links are back", Duration::from_secs(15), || {
        let c = coherence.clone();
        async move { c.usable() }
    })
    .await;
    assert!(back, "the links never came back");
    let fresh = node.create("acme", MODEL).await;
    assert_eq!(node.get("acme", &fresh).await, 200);
    let before = cluster_calls(&cluster);
    assert_eq!(node.get("acme", &fresh).await, 200);
    let warm = commands_between(&before, &cluster_calls(&cluster));
    assert!(warm.is_empty(), "a warm GET after the recovery ran {warm:?}");
}

/// Whether the node on `port` has a connection tracking in broadcast mode (`t` and `B` flags).
fn linked(port: u16) -> bool {
    cli(port, &["CLIENT", "LIST"]).lines().any(|l| {
        l.split(' ').find_map(|f| f.strip_prefix("flags=")).is_some_and(|f| f.contains('t') && f.contains('B'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_on_a_cluster_follows_a_failover_to_the_new_master() {
    let cluster = RedisCluster::start(1);
    let conf = StoreConf {
        url: cluster.url(),
        ca_file: None,
        prefix: "sde".into(),
        op_timeout: Duration::from_millis(1000),
        retention: Duration::from_secs(86_400),
        journal: None,
        cache: CacheConf { max_entries: 1000, max_stale: BOUND },
    };
    let store = seedance_edge::server::open_store(&conf).expect("store");
    let other = RedisStore::connect(&conf.url, "sde", RedisOptions::default()).expect("store");
    let id = "cgt-failover-1";
    other.put_task("acme", &support::fixtures::task(id, 1_700_000_000)).await.expect("put");
    assert!(store.task("acme", id).await.expect("read").is_some(), "the first read starts the links");
    let coherence = store.coherence().expect("a cluster caches");
    let usable = || {
        let c = coherence.clone();
        async move { c.usable() }
    };
    assert!(until("the links are up", Duration::from_secs(10), usable).await);
    assert!(!store.task("acme", id).await.expect("read").expect("task").hidden);

    // The task's master hands over to its replica gracefully: the old master stays up (now a
    // replica), so only the changed master set tells the links.
    let key = format!("sde:{{t:acme}}:task:{id}");
    let old = cluster.primary_of(&key);
    let replica = *cluster
        .ports
        .iter()
        .find(|p| cli(**p, &["ROLE"]).lines().nth(2).is_some_and(|l| l.trim() == old.to_string()))
        .expect("the master has a replica");
    // A manual failover waits for the replica to have caught up: a fresh one first syncs.
    let synced = until_sync("the replica is in sync", Duration::from_secs(30), || {
        cli(replica, &["INFO", "replication"]).contains("master_link_status:up")
    });
    assert!(synced, "the replica never synced");
    let lifetime = coherence.link_value();
    let moved = (0..3).any(|_| {
        cli(replica, &["CLUSTER", "FAILOVER"]);
        until_sync("the replica serves the slot", Duration::from_secs(10), || cluster.primary_of(&key) == replica)
    });
    assert!(moved, "the failover did not happen");
    let relinked = until("the links move to the new master", Duration::from_secs(15), || {
        let c = coherence.clone();
        async move { c.usable() && c.link_value() > lifetime + 1 && linked(replica) }
    })
    .await;
    assert!(relinked, "the links did not follow the failover");

    // A hide on the new master reaches the cache within the bound.
    assert!(!store.task("acme", id).await.expect("read").expect("task").hidden);
    other.hide_task("acme", id).await.expect("hide");
    let hidden = until("the cache follows the hide", BOUND + SLACK, || async {
        store.task("acme", id).await.expect("read").is_some_and(|t| t.hidden)
    })
    .await;
    assert!(hidden, "the cache kept serving a task hidden on the new master");
}
