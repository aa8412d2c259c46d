//! One more edge, in-process, on the harness's fake-ark and configuration — on its Redis or
//! on another store URL (a cluster) — with a token cache that only an invalidation can empty
//! within a test (a one-hour TTL). For the multi-node cache tests.
#![allow(dead_code)]

use super::harness::{minimal_task, task_path, token, Harness, TASKS};
use super::wait::until;
use seedance_edge::Edge;
use std::sync::Arc;
use std::time::Duration;

pub struct EdgeNode {
    pub edge: Arc<Edge>,
    pub base: String,
    client: reqwest::Client,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl EdgeNode {
    /// On the harness's Redis, with `max_stale` as `store.cache.max_stale_ms`.
    pub async fn start(h: &Harness, max_stale: Duration) -> EdgeNode {
        EdgeNode::start_on(h, &h.edge.config.store.url, max_stale).await
    }

    /// On the store at `url`.
    pub async fn start_on(h: &Harness, url: &str, max_stale: Duration) -> EdgeNode {
        let mut config = (*h.edge.config).clone();
        config.auth_cache_ttl = Duration::from_secs(3600);
        config.store.url = url.to_string();
        config.store.cache.max_stale = max_stale;
        let store = seedance_edge::server::open_store(&config.store).expect("store");
        let edge = seedance_edge::server::build_edge(config, store, None).expect("edge");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = seedance_edge::server::serve_in_process(edge.clone(), listener);
        EdgeNode { edge, base, client: reqwest::Client::new(), _stop: stop }
    }

    pub async fn send(&self, tenant: &str, method: &str, path: &str) -> u16 {
        let rb = self.client.request(method.parse().expect("method"), format!("{}{path}", self.base));
        rb.bearer_auth(token(tenant)).send().await.expect("edge answers").status().as_u16()
    }

    pub async fn get(&self, tenant: &str, id: &str) -> u16 {
        self.send(tenant, "GET", &task_path(id)).await
    }

    /// Creates a minimal task of `model` through this node and returns its id.
    pub async fn create(&self, tenant: &str, model: &str) -> String {
        let r = self.client.post(format!("{}{TASKS}", self.base)).bearer_auth(token(tenant)).json(&minimal_task(model));
        let resp = r.send().await.expect("edge answers");
        assert_eq!(resp.status().as_u16(), 200, "create");
        let body: serde_json::Value = resp.json().await.expect("json");
        body["id"].as_str().expect("id").to_string()
    }

    /// Waits until the invalidation link is up and confirmed (it starts with the first read).
    pub async fn link_up(&self) {
        let coherence = self.edge.store.coherence().expect("a Redis store caches");
        let up = until("the invalidation link is up", Duration::from_secs(10), || {
            let c = coherence.clone();
            async move { c.usable() }
        })
        .await;
        assert!(up);
    }

    pub fn sample(&self, series: &str) -> f64 {
        let page = String::from_utf8_lossy(&self.edge.metrics.render()).into_owned();
        super::node::sample(&page, series).unwrap_or(0.0)
    }
}

/// The task-invalidation counter of a node's metrics.
pub const TASK_INVALIDATIONS: &str = "seedance_cache_invalidations_total{kind=\"task\"}";

/// The cache lookups that found the task cached.
pub const TASK_HITS: &str = "seedance_cache_lookups_total{cache=\"task\",result=\"hit\"}";

/// Makes `node` answer `id` from its cache: a first GET (maybe before the link is up), a GET
/// on the up link that fills the cache, and a third that must be a hit.
pub async fn cache_on(node: &EdgeNode, id: &str) {
    assert_eq!(node.get("acme", id).await, 200);
    node.link_up().await;
    assert_eq!(node.get("acme", id).await, 200);
    let hits = node.sample(TASK_HITS);
    assert_eq!(node.get("acme", id).await, 200);
    assert!(node.sample(TASK_HITS) > hits, "the node answers from its cache");
}

/// The upstream finishes `id`; node A deletes it (settling first), which hides it. Node B, which
/// answered it from its cache and sends nothing meanwhile, must hear of it from Redis within
/// `within` and then answer 404 itself, without asking the upstream.
pub async fn delete_on_a_reaches_b(h: &Harness, a: &EdgeNode, b: &EdgeNode, id: &str, within: Duration) {
    let heard = b.sample(TASK_INVALIDATIONS);
    h.finish(id, "succeeded", 1000, "480p");
    assert_eq!(a.send("acme", "DELETE", &task_path(id)).await, 200);
    let deleted = std::time::Instant::now();
    let told = until("node B hears of the change", within, || async { b.sample(TASK_INVALIDATIONS) > heard }).await;
    assert!(told, "no invalidation reached node B");
    eprintln!("node B heard of the DELETE on node A {:?} after its answer", deleted.elapsed());
    let upstream_before = h.fake.requests().len();
    for _ in 0..10 {
        assert_eq!(b.get("acme", id).await, 404, "node B serves the deleted task");
    }
    assert_eq!(h.fake.requests().len(), upstream_before, "node B asked the upstream about a hidden task");
}

/// A token revoked and a tenant disabled through another store handle (the CLI is another
/// process) stop working on `node`, which had both cached, within `within`. `id` is a task of
/// acme that `node` answered before.
pub async fn revoke_and_disable_reach(
    node: &EdgeNode,
    cli: &dyn seedance_edge::store::Store,
    id: &str,
    within: Duration,
) {
    let sha = seedance_edge::auth::token_sha256(&token("acme"));
    assert!(cli.revoke_token(&sha).await.expect("revoke"));
    let refused = until("the revoked token is refused", within, || async { node.get("acme", id).await == 401 }).await;
    if !refused {
        let page = String::from_utf8_lossy(&node.edge.metrics.render()).into_owned();
        for l in page.lines().filter(|l| l.starts_with("seedance_cache")) {
            eprintln!("{l}");
        }
    }
    assert!(refused, "the revoked token still works (the TTL is an hour)");

    // Disabling a tenant reaches a cached token of it the same way.
    let other = "globex";
    assert_eq!(node.send(other, "GET", TASKS).await, 200);
    assert_eq!(node.send(other, "GET", TASKS).await, 200);
    let mut record = cli.tenant(other).await.expect("read").expect("tenant");
    record.disabled = true;
    cli.put_tenant(&record).await.expect("disable");
    let refused =
        until("the disabled tenant is refused", within, || async { node.send(other, "GET", TASKS).await == 401 }).await;
    assert!(refused, "the disabled tenant's cached token still works");
}
