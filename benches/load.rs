//! The load harness: fake-ark, a bare Pingora passthrough in front of it, and seedance-edge in
//! front of it, all in one process on loopback, driven by the same closed-loop client. It prints
//! ratios (edge vs passthrough vs direct), not absolute numbers: these machines are shared and
//! noisy, and what matters is what the module adds on top of Pingora itself.
//!
//! `cargo bench --bench load` (env `LOAD_SECS`, `LOAD_CONCURRENCY` to change the run,
//! `LOAD_STORE` for a Redis URL instead of the memory store).

use async_trait::async_trait;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};
use seedance_edge::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "bench-channel-key";
const TOKEN: &str = "oh-bench-token";

/// The baseline: Pingora forwarding every request to fake-ark untouched.
struct Passthrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(&self, _s: &mut Session, _c: &mut ()) -> pingora_core::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn serve_passthrough(upstream: SocketAddr, listener: tokio::net::TcpListener) -> tokio::sync::watch::Sender<bool> {
    let conf = Arc::new(pingora_core::server::configuration::ServerConf::default());
    // The same accept loop (and socket options) as the edge's, or the loop decides the ratio.
    seedance_edge::server::serve_app(Arc::new(pingora_proxy::http_proxy(&conf, Passthrough { upstream })), listener)
}

struct Stats {
    requests: u64,
    p50: Duration,
    p99: Duration,
    rps: f64,
}

async fn drive(url: String, auth: String, secs: u64, concurrency: usize) -> Stats {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client.get(&url).header("authorization", &auth).send().await.expect("send");
                assert!(r.status().is_success(), "{url}: {}", r.status());
                let _ = r.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    Stats { requests: all.len() as u64, p50: pick(0.5), p99: pick(0.99), rps: all.len() as f64 / elapsed }
}

fn main() {
    let secs: u64 = std::env::var("LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let concurrency: usize = std::env::var("LOAD_CONCURRENCY").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let cfg = fake_ark::FakeArkConfig { api_keys: vec![KEY.into()], ..fake_ark::FakeArkConfig::held() };
        let fake = fake_ark::FakeArk::start(cfg).await.expect("fake-ark");

        let pt_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let pt_addr = pt_listener.local_addr().expect("addr");
        let _passthrough = serve_passthrough(fake.addr(), pt_listener);

        // LOAD_STORE=redis://127.0.0.1:6379/0 measures with the ownership lookup on Redis.
        let store_url = std::env::var("LOAD_STORE").unwrap_or_else(|_| "memory://".into());
        let yaml = format!(
            r#"
listen: []
store: {{ url: "{store}" }}
auth: {{ cache_ttl_ms: 60000 }}
channels:
  - id: bench
    task_base_url: "{}"
    region: ap-southeast-1
    api_key: "{KEY}"
    models: {{ dreamina-seedance-2-0-fast: dreamina-seedance-2-0-fast-260128 }}
tenants:
  - id: bench
    token_sha256: ["{}"]
    channels: [bench]
"#,
            fake.base_url(),
            seedance_edge::auth::token_sha256(TOKEN),
            store = store_url,
        );
        let config = Config::from_yaml(&yaml, &|_| None).expect("config");
        let store = seedance_edge::server::open_store(&config.store).expect("store");
        let edge = seedance_edge::server::build_edge(config, store, None).expect("edge");
        seedance_edge::billing::reconcile::sync_tenants(&edge).await.expect("tenants");
        let edge_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let edge_addr = edge_listener.local_addr().expect("addr");
        let _stop = seedance_edge::server::serve_in_process(edge, edge_listener);

        // One task to poll, created through the edge so the edge owns it.
        let client = reqwest::Client::new();
        let created: serde_json::Value = client
            .post(format!("http://{edge_addr}/volcark/api/v3/contents/generations/tasks"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"model":"dreamina-seedance-2-0-fast","content":[{"type":"text","text":"bench"}]}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id").to_string();
        let path = format!("/api/v3/contents/generations/tasks/{id}");

        println!("load: GET task, {concurrency} connections, {secs}s per target, store {store_url}");
        let direct = drive(format!("{}{path}", fake.base_url()), format!("Bearer {KEY}"), secs, concurrency).await;
        let passthrough = drive(format!("http://{pt_addr}{path}"), format!("Bearer {KEY}"), secs, concurrency).await;
        let edge =
            drive(format!("http://{edge_addr}/volcark{path}"), format!("Bearer {TOKEN}"), secs, concurrency).await;
        for (name, s) in [("fake-ark direct", &direct), ("pingora passthrough", &passthrough), ("seedance-edge", &edge)]
        {
            println!("  {name:<20} {:>8} requests  p50 {:>9.3?}  p99 {:>9.3?}", s.requests, s.p50, s.p99);
        }
        println!(
            "ratios (edge / passthrough): throughput {:.2}, p50 {:.2}, p99 {:.2}",
            edge.rps / passthrough.rps,
            edge.p50.as_secs_f64() / passthrough.p50.as_secs_f64().max(1e-9),
            edge.p99.as_secs_f64() / passthrough.p99.as_secs_f64().max(1e-9)
        );
        println!(
            "ratios (passthrough / direct): throughput {:.2}, p50 {:.2}",
            passthrough.rps / direct.rps,
            passthrough.p50.as_secs_f64() / direct.p50.as_secs_f64().max(1e-9)
        );
    });
}
