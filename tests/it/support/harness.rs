//! The whole edge, in-process, on real parts: a redis-server on a free port, fake-ark as a real
//! HTTP server, the loopback DNS stub, and the seedance-edge module behind a Pingora proxy on a
//! port the OS picked. Tests talk to it over HTTP like a customer.

use super::dns::DnsStub;
use super::redis::RedisServer;
use fake_ark::{FakeArk, FakeArkConfig};
use seedance_edge::config::Config;
use seedance_edge::Edge;
use serde_json::Value;
use std::sync::Arc;

pub const TASKS: &str = "/volcark/api/v3/contents/generations/tasks";
/// The channel API key fake-ark accepts; tests assert it never reaches a customer.
pub const CHANNEL_KEY: &str = "sk-channel-secret-do-not-leak";
pub const CHANNEL_AK: &str = "AKCHANNEL";
pub const CHANNEL_SK: &str = "SKCHANNEL-secret-do-not-leak";
/// Credentials of the "revoked" channel, which fake-ark refuses: the upstream's refusals name
/// them, and tests assert the tenant never sees them.
pub const REVOKED_KEY: &str = "sk-revoked-channel-key-0123456789";
pub const REVOKED_AK: &str = "AKLTREVOKED0123456789";
/// A model id the "unopened" channel maps to and its account has not activated (`ModelNotOpen`).
pub const UNOPENED_MODEL: &str = "dreamina-seedance-2-0-unopened-260128";
/// An official Filter-Off id the "fo" channel maps to (fake-ark knows it).
pub const FILTER_OFF_ID: &str = "dreamina-seedance-2-0-fo-260301";

/// The path of one task.
pub fn task_path(id: &str) -> String {
    format!("{TASKS}/{id}")
}

/// Customer tokens of the test tenants.
pub fn token(tenant: &str) -> String {
    format!("oh-test-token-{tenant}")
}

pub struct Options {
    pub fake: FakeArkConfig,
    /// Extra YAML appended under `tenants:` (already indented), for special tenants.
    pub extra_tenants: String,
    /// Extra YAML appended under `channels:` (already indented), for special channels.
    pub extra_channels: String,
    pub journal: Option<std::path::PathBuf>,
    pub max_body_bytes: u64,
    /// `limits.max_inflight_body_bytes`; `None` = 8 × `max_body_bytes`.
    pub max_inflight_body_bytes: Option<u64>,
    pub reconcile_interval_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fake: FakeArkConfig::held(),
            extra_tenants: String::new(),
            extra_channels: String::new(),
            journal: None,
            max_body_bytes: 33_554_432,
            max_inflight_body_bytes: None,
            reconcile_interval_ms: 200,
        }
    }
}

pub struct Harness {
    pub redis: RedisServer,
    pub fake: FakeArk,
    pub dns: DnsStub,
    pub edge: Arc<Edge>,
    pub base: String,
    pub client: reqwest::Client,
    _stop: tokio::sync::watch::Sender<bool>,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Harness {
        let redis = RedisServer::start();
        Harness::start_on(redis, opts).await
    }

    /// A second edge on the same Redis (multi-node tests) shares `redis` by URL.
    pub async fn start_on(redis: RedisServer, mut opts: Options) -> Harness {
        opts.fake.api_keys = vec![CHANNEL_KEY.to_string()];
        opts.fake.credentials = vec![(CHANNEL_AK.to_string(), CHANNEL_SK.to_string())];
        if !opts.fake.models.iter().any(|m| m == FILTER_OFF_ID) {
            opts.fake.models.push(FILTER_OFF_ID.to_string());
        }
        // The "unopened" channel's model exists upstream but its account has not activated it.
        opts.fake.models.push(UNOPENED_MODEL.to_string());
        opts.fake.inactive_models.push(UNOPENED_MODEL.to_string());
        let fake = FakeArk::start(opts.fake.clone()).await.expect("fake-ark starts");
        let dns = DnsStub::start();
        let edge = build_edge(&redis.url(), &fake.base_url(), &dns.nameserver(), &opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = seedance_edge::server::serve_in_process(edge.clone(), listener);
        seedance_edge::billing::reconcile::sync_tenants(&edge).await.expect("tenants upserted");
        Harness { redis, fake, dns, edge, base, client: reqwest::Client::new(), _stop: stop }
    }

    pub async fn send(&self, tenant: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}{}", self.base, path);
        let mut rb = self.client.request(method.parse().expect("method"), url);
        if let Some(t) = tenant {
            rb = rb.bearer_auth(token(t));
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b.to_string());
        }
        let resp = rb.send().await.expect("edge answers");
        let status = resp.status().as_u16();
        let raw = resp.text().await.expect("body");
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Resp { status, body, raw }
    }

    pub async fn post(&self, tenant: &str, path: &str, body: &Value) -> Resp {
        self.send(Some(tenant), "POST", path, Some(body)).await
    }

    pub async fn get(&self, tenant: &str, path: &str) -> Resp {
        self.send(Some(tenant), "GET", path, None).await
    }

    pub async fn delete(&self, tenant: &str, path: &str) -> Resp {
        self.send(Some(tenant), "DELETE", path, None).await
    }

    /// Creates a minimal task for `tenant` and returns its id.
    pub async fn create(&self, tenant: &str, model: &str) -> String {
        let r = self.post(tenant, TASKS, &minimal_task(model)).await;
        assert_eq!(r.status, 200, "create: {}", r.raw);
        r.body["id"].as_str().expect("id").to_string()
    }

    /// Moves a task on fake-ark to a terminal status, with its usage and final resolution.
    pub fn finish(&self, id: &str, status: &str, tokens: u64, resolution: &str) {
        self.fake.finish(id, status, Some(tokens), Some(resolution));
    }

    /// The next create reaching fake-ark fails this way: "500", "429", "unparseable", "drop".
    pub fn fault_next_create(&self, fault: &str) {
        self.fake.fault_next_create(fault.parse().expect("a known fault"));
    }

    /// The edge's metrics page.
    pub fn metrics(&self) -> String {
        String::from_utf8_lossy(&self.edge.metrics.render()).into_owned()
    }
}

pub fn minimal_task(model: &str) -> Value {
    serde_json::json!({"model": model, "content": [{"type": "text", "text": "a paper boat"}], "duration": 4, "resolution": "480p"})
}

/// The edge of `fixtures/edge.yaml`: its `${VAR}`s filled through the edge's own expansion,
/// `opts`' numbers set on the parsed tree and its extra channels and tenants appended.
fn build_edge(redis_url: &str, upstream: &str, nameserver: &str, opts: &Options) -> Arc<Edge> {
    let mut tree = fixture("edge.yaml");
    let max_inflight = opts.max_inflight_body_bytes.unwrap_or(opts.max_body_bytes * 8);
    set(&mut tree, &["limits", "max_body_bytes"], opts.max_body_bytes.into());
    set(&mut tree, &["limits", "max_inflight_body_bytes"], max_inflight.into());
    set(&mut tree, &["reconcile", "interval_ms"], opts.reconcile_interval_ms.into());
    if let Some(journal) = &opts.journal {
        set(&mut tree, &["store", "journal"], journal.display().to_string().into());
    }
    append(&mut tree, "channels", &opts.extra_channels);
    append(&mut tree, "tenants", &opts.extra_tenants);
    let yaml = serde_yaml_ng::to_string(&tree).expect("the fixture serializes");
    let env = |name: &str| match name {
        "REDIS_URL" => Some(redis_url.to_string()),
        "UPSTREAM" => Some(upstream.to_string()),
        "NAMESERVER" => Some(nameserver.to_string()),
        "KEY" => Some(CHANNEL_KEY.to_string()),
        "AK" => Some(CHANNEL_AK.to_string()),
        "SK" => Some(CHANNEL_SK.to_string()),
        "REVOKED_KEY" => Some(REVOKED_KEY.to_string()),
        "REVOKED_AK" => Some(REVOKED_AK.to_string()),
        "REVOKED_SK" => Some("SKREVOKED-secret".to_string()),
        "FILTER_OFF_ID" => Some(FILTER_OFF_ID.to_string()),
        "UNOPENED_MODEL" => Some(UNOPENED_MODEL.to_string()),
        other => token_sha256_var(other),
    };
    let config = Config::from_yaml(&yaml, &env).expect("test config is valid");
    let store = seedance_edge::server::open_store(&config.store).expect("store");
    seedance_edge::server::build_edge(config, store, None).expect("edge")
}

/// `<TENANT>_TOKEN_SHA256`: the hash of that tenant's test token (`token("<tenant>")`).
pub fn token_sha256_var(name: &str) -> Option<String> {
    let tenant = name.strip_suffix("_TOKEN_SHA256")?.to_ascii_lowercase();
    Some(seedance_edge::auth::token_sha256(&token(&tenant)))
}

/// A file of `tests/it/fixtures`, parsed (its `${VAR}`s still unexpanded).
pub fn fixture(name: &str) -> serde_yaml_ng::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sets the value at `path` (mappings only), creating the mappings on the way.
fn set(tree: &mut serde_yaml_ng::Value, path: &[&str], value: serde_yaml_ng::Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut at = tree;
    for key in parents {
        let map = at.as_mapping_mut().expect("a mapping on the way");
        at = map.entry((*key).into()).or_insert_with(|| serde_yaml_ng::Mapping::new().into());
    }
    at.as_mapping_mut().expect("a mapping").insert((*last).into(), value);
}

/// Appends the items of `extra` (a YAML sequence, as written under the key) to the list `key`.
fn append(tree: &mut serde_yaml_ng::Value, key: &str, extra: &str) {
    if extra.trim().is_empty() {
        return;
    }
    let items: Vec<serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(extra).unwrap_or_else(|e| panic!("extra {key} are not a YAML list: {e}\n{extra}"));
    let list = tree.get_mut(key).and_then(serde_yaml_ng::Value::as_sequence_mut).expect("the fixture has the list");
    list.extend(items);
}
