//! Redis over TLS and with a password, on real redis-server processes: `rediss://` with the
//! CA in `store.ca_file` works (and is refused without it: the CA is the only trust), a
//! `requirepass` server needs the password in the URL, and `run` starts and becomes ready on a
//! `rediss://` store (it used to exit 2: the redis crate had no TLS).

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use support::redis::{TlsRedis, TLS_PASSWORD as PASSWORD};

fn opts(ca: Option<&std::path::Path>) -> RedisOptions {
    RedisOptions { ca_file: ca.map(|p| p.to_path_buf()), ..RedisOptions::default() }
}

#[tokio::test]
async fn rediss_with_the_ca_file_and_password_works_and_nothing_less_does() {
    let r = TlsRedis::start();
    let good = RedisStore::connect(&r.url(PASSWORD), "sde", opts(Some(&r.ca))).unwrap();
    good.ping().await.expect("TLS + password + ca_file");
    assert!(good.tenant_ids().await.unwrap().is_empty(), "a command through the TLS connection");

    let untrusted = RedisStore::connect(&r.url(PASSWORD), "sde", opts(None)).unwrap();
    assert!(untrusted.ping().await.is_err(), "a self-signed server was trusted without store.ca_file");

    let wrong = RedisStore::connect(&r.url("not-it"), "sde", opts(Some(&r.ca))).unwrap();
    let e = wrong.ping().await.unwrap_err().to_string();
    assert!(!e.contains("not-it"), "the password reached an error: {e}");

    let plain = RedisStore::connect(&format!("redis://:{PASSWORD}@127.0.0.1:{}/0", r.port), "sde", opts(None)).unwrap();
    assert!(plain.ping().await.is_err(), "plaintext to a TLS port must fail");
}

#[tokio::test]
async fn a_password_protected_standalone_needs_the_password() {
    let redis = support::redis::RedisServer::start();
    redis.cli(&["CONFIG", "SET", "requirepass", PASSWORD]);
    let url = |pw: &str| format!("redis://:{pw}@127.0.0.1:{}/0", redis.port());
    RedisStore::connect(&url(PASSWORD), "sde", opts(None)).unwrap().ping().await.expect("with the password");
    let without = RedisStore::connect(&format!("redis://127.0.0.1:{}/0", redis.port()), "sde", opts(None)).unwrap();
    assert!(without.ping().await.is_err());
    assert!(RedisStore::connect(&url("wrong"), "sde", opts(None)).unwrap().ping().await.is_err());
}

#[tokio::test]
async fn run_serves_on_a_rediss_store() {
    let r = TlsRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "store: {{ url: \"{}\", prefix: sde, ca_file: \"{}\" }}\nserver: {{ threads: 1, grace_period_seconds: 0 }}\n",
        r.url(PASSWORD),
        r.ca.display()
    );
    // `start_yaml` waits for `/readyz` 200, which needs a store that answers.
    let node = support::node::Node::start_yaml(dir.path(), "tls", &body, &[]).await;
    assert!(!node.log_text().contains(PASSWORD), "the store password reached the log");
}

#[test]
fn store_ca_file_is_refused_where_it_cannot_apply() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "x").unwrap();
    let load = |url: &str| {
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, format!("store: {{ url: \"{url}\", ca_file: \"{}\" }}\n", ca.display())).unwrap();
        seedance_edge::config::Config::load(&path).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(load("rediss://localhost:6380/0").is_ok());
    let e = load("redis://localhost:6379/0").unwrap_err();
    assert!(e.starts_with("store.ca_file"), "{e}");
    let e = load("rediss+cluster://h1:7000,h2:7001").unwrap_err();
    assert!(e.starts_with("store.ca_file"), "{e}");
}
