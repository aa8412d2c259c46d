//! A real `seedance-edge run` process started while Redis is down: it comes up, `/healthz` is
//! 200, `/readyz` and every task route answer 503 (`store_unavailable`, nothing guessed), and
//! when Redis appears on its port the node becomes ready and serves without a restart.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::harness::{token, CHANNEL_KEY, TASKS};
use support::redis::RedisServer;
use support::wait;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn starts_without_redis_and_becomes_ready_when_it_appears() {
    let (redis_port, listen, admin) = (wait::free_port(), wait::free_port(), wait::free_port());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("edge.yaml");
    let yaml = format!(
        r#"
listen: [{{ addr: "127.0.0.1:{listen}" }}]
admin: {{ addr: "127.0.0.1:{admin}" }}
store: {{ url: "redis://127.0.0.1:{redis_port}/0", prefix: sde, op_timeout_ms: 500 }}
reconcile: {{ interval_ms: 100 }}
channels:
  - id: main
    task_base_url: "http://127.0.0.1:1"
    region: ap-southeast-1
    api_key: "${{STARTUP_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - {{ id: acme, token_sha256: ["{sha}"], channels: [main] }}
"#,
        sha = seedance_edge::auth::token_sha256(&token("acme"))
    );
    std::fs::write(&conf, yaml).unwrap();
    let _edge = Proc(
        Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
            .args(["run", "--conf"])
            .arg(&conf)
            .env("STARTUP_TEST_KEY", CHANNEL_KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).bearer_auth(token("acme")).send().await.map(|r| r.status().as_u16()).ok() }
    };
    let (healthz, readyz) = (format!("http://127.0.0.1:{admin}/healthz"), format!("http://127.0.0.1:{admin}/readyz"));
    let list = format!("http://127.0.0.1:{listen}{TASKS}");
    assert!(
        wait::until("the process is up", Duration::from_secs(20), || async {
            status(healthz.clone()).await == Some(200)
        })
        .await
    );
    assert_eq!(status(readyz.clone()).await, Some(503), "not ready without its store");
    let r = client.get(&list).bearer_auth(token("acme")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");

    let _redis = RedisServer::start_on(redis_port);
    let ready = wait::until("ready once Redis is there", Duration::from_secs(20), || async {
        status(readyz.clone()).await == Some(200)
    })
    .await;
    assert!(ready, "never became ready");
    assert_eq!(status(list.clone()).await, Some(200), "serves without a restart");
}
