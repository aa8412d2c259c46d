//! The edge speaks HTTPS to a channel: the channel's `ca_file` is trusted for that channel
//! only, and a channel whose certificate nobody vouches for is a 502, never a silent downgrade.

use crate::support;

use fake_ark::{FakeArk, FakeArkConfig};
use serde_json::Value;
use support::harness::{minimal_task, token, CHANNEL_KEY, TASKS};
use support::redis::RedisServer;
use support::tls_front::TlsFront;

#[tokio::test]
async fn https_upstreams_are_verified_against_the_channels_ca() {
    let redis = RedisServer::start();
    let fake =
        FakeArk::start(FakeArkConfig { api_keys: vec![CHANNEL_KEY.into()], ..FakeArkConfig::held() }).await.unwrap();
    let front = TlsFront::start(fake.addr()).await;
    let sha = |t: &str| seedance_edge::auth::token_sha256(&token(t));
    let yaml = format!(
        r#"
store: {{ url: "{redis}", prefix: sde }}
upstream: {{ connect_timeout_ms: 1000, read_timeout_ms: 3000 }}
auth: {{ cache_ttl_ms: 0 }}
channels:
  - id: trusted
    task_base_url: "https://localhost:{port}"
    ca_file: "{ca}"
    region: ap-southeast-1
    api_key: "${{KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
  - id: untrusted
    task_base_url: "https://localhost:{port}"
    region: ap-southeast-1
    api_key: "${{KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - {{ id: acme, token_sha256: ["{acme}"], channels: [trusted] }}
  - {{ id: globex, token_sha256: ["{globex}"], channels: [untrusted] }}
"#,
        redis = redis.url(),
        port = front.port,
        ca = front.ca_file.display(),
        acme = sha("acme"),
        globex = sha("globex"),
    );
    let env = |n: &str| (n == "KEY").then(|| CHANNEL_KEY.to_string());
    let config = seedance_edge::config::Config::from_yaml(&yaml, &env).unwrap();
    let store = seedance_edge::server::open_store(&config.store).unwrap();
    let edge = seedance_edge::server::build_edge(config, store, None).unwrap();
    seedance_edge::billing::reconcile::sync_tenants(&edge).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}{TASKS}", listener.local_addr().unwrap());
    let _stop = seedance_edge::server::serve_in_process(edge, listener);
    let client = reqwest::Client::new();

    let r = client
        .post(&base)
        .bearer_auth(token("acme"))
        .json(&minimal_task("dreamina-seedance-2-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let got: Value =
        client.get(format!("{base}/{id}")).bearer_auth(token("acme")).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["model"], "dreamina-seedance-2-0", "{got}");
    let sent = fake.requests().into_iter().find(|q| q.method == "POST").unwrap();
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {CHANNEL_KEY}").as_str()));

    let creates = fake.creates();
    let r = client
        .post(&base)
        .bearer_auth(token("globex"))
        .json(&minimal_task("dreamina-seedance-2-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502, "a certificate no CA vouches for is refused");
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "upstream_error");
    assert_eq!(fake.creates(), creates, "nothing reached the upstream over the unverified connection");
}
