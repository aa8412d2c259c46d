//! What a GET and a create cost in Redis commands, counted with `INFO commandstats` on the test's own
//! redis-server (never timed): a warm GET reads nothing, a cold one reads the task once, a create
//! spends twenty commands in two round trips. And that
//! the cache stays coherent across nodes sharing one Redis: a DELETE, a revoked token or a
//! disabled tenant on one node takes effect on another within `store.cache.max_stale_ms`, also
//! when the invalidation link is cut.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::edge_node::{self, EdgeNode, TASK_HITS};
use support::harness::{minimal_task, Harness, Options, TASKS};
use support::redis::{commands_between, RedisServer};
use support::turns::TurnCounter;
use support::wait::until;

const MODEL: &str = "dreamina-seedance-2-0";
/// The default `store.cache.max_stale_ms`: the stated bound of every cross-node test here.
const BOUND: Duration = Duration::from_millis(1000);
/// Room for a loaded test machine on top of the bound, for the polls that wait for it.
const SLACK: Duration = Duration::from_millis(1500);

/// `INFO commandstats` of the harness's Redis.
fn command_calls(redis: &RedisServer) -> BTreeMap<String, u64> {
    support::redis::command_calls(redis.port())
}

async fn harness() -> Harness {
    // No reconciler traffic in the counts (the in-process harness runs none, and this says so).
    Harness::start_with(Options { reconcile_interval_ms: 3_600_000, ..Options::default() }).await
}

async fn create(h: &Harness) -> String {
    let r = h.post("acme", TASKS, &minimal_task(MODEL)).await;
    assert_eq!(r.status, 200, "create: {}", r.raw);
    r.body["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn a_warm_get_costs_no_redis_command_and_a_cold_one_a_single_read() {
    let h = harness().await;
    // A long lease: a heartbeat delayed by a busy test machine must not turn hits into reads.
    let node = EdgeNode::start(&h, Duration::from_secs(30)).await;
    let id = create(&h).await;
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    // The first GET on an up link fills the cache (the one before ran untracked).
    assert_eq!(node.get("acme", &id).await, 200);

    let before = command_calls(&h.redis);
    for _ in 0..20 {
        assert_eq!(node.get("acme", &id).await, 200);
    }
    let warm = commands_between(&before, &command_calls(&h.redis));
    assert!(warm.is_empty(), "20 warm GETs ran Redis commands: {warm:?}");
    assert!(node.sample(TASK_HITS) >= 20.0);
    assert!(node.sample("seedance_cache_lookups_total{cache=\"auth\",result=\"hit\"}") >= 20.0);

    // Another task of the same tenant: its record is read once, nothing else.
    let cold_id = create(&h).await;
    let before = command_calls(&h.redis);
    assert_eq!(node.get("acme", &cold_id).await, 200);
    let cold = commands_between(&before, &command_calls(&h.redis));
    assert_eq!(cold, BTreeMap::from([("hgetall".to_string(), 1)]), "a cold GET");

    // Another tenant asking for the cached id gets the same 404 as for an unknown one, from Redis.
    assert_eq!(node.get("globex", &id).await, 404);
}

/// What a create costs on an uncapped channel for a tenant without limits, once its token is
/// cached: the admission script, the intent, the record with its three list indexes and
/// pending entry, and the claim. Index maintenance (pruning, TTL) is due at most hourly per
/// index, so a warm create only reads each index's TTL.
#[tokio::test]
async fn a_create_costs_twenty_redis_commands_in_two_round_trips() {
    let h = harness().await;
    let relay = TurnCounter::start(h.redis.port()).await;
    let node = EdgeNode::start_on(&h, &relay.url(), BOUND).await;
    node.create("acme", MODEL).await;
    node.create("acme", MODEL).await;

    let (before, turns_before) = (command_calls(&h.redis), relay.turns().len());
    let id = node.create("acme", MODEL).await;
    let spent = commands_between(&before, &command_calls(&h.redis));
    // The admission with the intent, then the record with the claim.
    let turns: Vec<_> = relay.turns().split_off(turns_before).into_iter().filter(|t| t.is_work()).collect();
    assert_eq!(turns.len(), 2, "round trips of a create: {turns:?}");
    let expected: BTreeMap<String, u64> = [
        // admit.lua (its stale-slot sweep and the slot), put_task.lua
        ("evalsha", 2),
        ("zrangebyscore", 1),
        // slot, intent, three list indexes, pending
        ("zadd", 6),
        // intent, record, pending, owner index
        ("expire", 4),
        // record, owner index
        ("hset", 2),
        ("incr", 1),
        ("ttl", 3),
        // the claim resolves the intent
        ("zrem", 1),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_string(), n))
    .collect();
    assert_eq!(spent, expected, "a warm create");
    assert_eq!(spent.values().sum::<u64>(), 20);
    assert_eq!(node.get("acme", &id).await, 200);
}

/// The admission and the record are scripts sent in one pipeline with the intent's and the
/// claim's commands; a server that lost its scripts (restart, failover, `SCRIPT FLUSH`) answers
/// NOSCRIPT for the script alone. The edge loads it and sends the pair again: the create
/// succeeds, and its intent is resolved by the claim, not left for the orphan scan.
#[tokio::test]
async fn a_create_after_the_server_lost_its_scripts_loads_them_and_leaves_no_intent() {
    let h = harness().await;
    let id = create(&h).await;
    assert_eq!(h.redis.cli(&["SCRIPT", "FLUSH"]).trim(), "OK");
    let before = command_calls(&h.redis);
    let second = create(&h).await;
    let spent = commands_between(&before, &command_calls(&h.redis));
    assert_eq!(spent.get("script|load"), Some(&2), "both scripts loaded again: {spent:?}");
    assert_ne!(id, second);
    assert_eq!(h.get("acme", &format!("{TASKS}/{second}")).await.status, 200);
    let intents = h.redis.cli(&["ZCARD", "sde:{c:main}:intents"]);
    assert_eq!(intents.trim(), "0", "an intent outlived its create");
    let owner = h.redis.cli(&["HGET", "sde:{c:main}:owned", &second]);
    assert_eq!(owner.trim(), "acme");
}

#[tokio::test]
async fn a_delete_on_one_node_hides_the_task_on_another_within_the_bound() {
    let h = harness().await;
    let (a, b) = (EdgeNode::start(&h, BOUND).await, EdgeNode::start(&h, BOUND).await);
    let id = create(&h).await;
    edge_node::cache_on(&b, &id).await;

    edge_node::delete_on_a_reaches_b(&h, &a, &b, &id, BOUND + SLACK).await;
    // Exactly one settlement, whoever observed the success.
    assert_eq!(h.redis.cli(&["XLEN", "sde:{t:acme}:ledger"]).trim(), "1");
}

#[tokio::test]
async fn a_revoked_token_or_disabled_tenant_stops_working_on_another_node() {
    let h = harness().await;
    let node = EdgeNode::start(&h, BOUND).await;
    let id = create(&h).await;
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    assert_eq!(node.get("acme", &id).await, 200);

    // The CLI is another process with its own store handle.
    let cli = seedance_edge::server::open_store(&h.edge.config.store).expect("store");
    edge_node::revoke_and_disable_reach(&node, cli.as_ref(), &id, BOUND + SLACK).await;
}

/// The ids of the connections with client tracking on (`t` in their flags).
fn tracking_clients(redis: &RedisServer) -> Vec<String> {
    redis
        .cli(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.split(' ').any(|f| f.strip_prefix("flags=").is_some_and(|v| v.contains('t'))))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_cut_invalidation_link_never_serves_a_hidden_task() {
    let h = harness().await;
    let node = EdgeNode::start(&h, BOUND).await;
    let id = create(&h).await;
    assert_eq!(node.get("acme", &id).await, 200);
    node.link_up().await;
    assert_eq!(node.get("acme", &id).await, 200);
    assert_eq!(node.get("acme", &id).await, 200);

    // Cut every node's link, then hide the task behind their back: no invalidation can reach them.
    let ids = tracking_clients(&h.redis);
    assert!(!ids.is_empty(), "no tracking connection");
    for id in &ids {
        h.redis.cli(&["CLIENT", "KILL", "ID", id]);
    }
    h.redis.cli(&["HSET", &format!("sde:{{t:acme}}:task:{id}"), "hidden", "1"]);
    let hidden = until("the node answers 404", BOUND + SLACK, || async { node.get("acme", &id).await == 404 }).await;
    assert!(hidden, "the node served a hidden task after its link was cut");
    for _ in 0..10 {
        assert_eq!(node.get("acme", &id).await, 404, "a hidden task came back");
    }
    assert!(node.sample("seedance_cache_invalidations_total{kind=\"everything\"}") >= 1.0, "the cache was flushed");

    // The link comes back by itself, and invalidations flow again.
    node.link_up().await;
    let fresh = create(&h).await;
    assert_eq!(node.get("acme", &fresh).await, 200);
    assert_eq!(node.get("acme", &fresh).await, 200);
    h.redis.cli(&["HSET", &format!("sde:{{t:acme}}:task:{fresh}"), "hidden", "1"]);
    let hidden = until("the node answers 404", BOUND + SLACK, || async { node.get("acme", &fresh).await == 404 }).await;
    assert!(hidden, "a hide after the reconnect was missed");
}
