//! The operator CLI against a real redis-server: `check` names the bad key, tenants and tokens
//! are managed in the store (tokens only as SHA-256), a disabled tenant stays disabled when the
//! configured tenants are upserted again.

mod support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use std::process::Command;
use support::redis::RedisServer;

fn conf(dir: &std::path::Path, redis: &str, extra: &str) -> std::path::PathBuf {
    let yaml = format!(
        r#"
store: {{ url: "{redis}", prefix: sde }}
channels:
  - id: main
    task_base_url: "https://ark.example"
    region: ap-southeast-1
    api_key: "${{CLI_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - {{ id: acme, channels: [main] }}
{extra}"#
    );
    let path = dir.join("cli.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn run(conf: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(args)
        .arg("--conf")
        .arg(conf)
        .env("CLI_TEST_KEY", "k-secret")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tenants_and_tokens_are_managed_in_the_store() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path(), &redis.url(), "");
    let store = RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).unwrap();

    let (ok, out, _) = run(&conf, &["check"]);
    assert!(ok && out.contains("1 channel(s), 1 tenant(s)"), "{out}");

    let (ok, _, err) = run(&conf, &["tenant", "add", "zeta", "--channel", "nope"]);
    assert!(!ok && err.contains("--channel nope"), "{err}");
    let (ok, _, err) = run(&conf, &["tenant", "add", "bad id", "--channel", "main"]);
    assert!(!ok && err.contains("tenant id"), "{err}");
    let (ok, _, err) = run(&conf, &["tenant", "add", "zeta", "--channel", "main", "--assets"]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&conf, &["tenant", "show", "zeta"]);
    assert!(ok && out.contains("\"assets\": true"), "{out}");

    let (ok, token, _) = run(&conf, &["token", "issue", "zeta"]);
    assert!(ok);
    let token = token.trim().to_string();
    assert!(token.starts_with("oh-") && token.len() > 20, "{token}");
    let hash = seedance_edge::auth::token_sha256(&token);
    assert_eq!(store.token_tenant(&hash).await.unwrap().as_deref(), Some("zeta"));
    let keys = redis.cli(&["KEYS", "*"]);
    assert!(!keys.contains(&token), "the token itself is never stored: {keys}");
    let (ok, out, _) = run(&conf, &["token", "revoke", "--token", &token]);
    assert!(ok && out.starts_with("revoked"), "{out}");
    assert_eq!(store.token_tenant(&hash).await.unwrap(), None);

    let (ok, out, _) = run(&conf, &["tenant", "disable", "zeta"]);
    assert!(ok && out.contains("disabled"), "{out}");
    assert!(store.tenant("zeta").await.unwrap().unwrap().disabled);
}

#[tokio::test]
async fn a_disabled_configured_tenant_stays_disabled_across_upserts() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let conf_path = conf(dir.path(), &redis.url(), "");
    let yaml = std::fs::read_to_string(&conf_path).unwrap();
    let config =
        seedance_edge::config::Config::from_yaml(&yaml, &|n| (n == "CLI_TEST_KEY").then(|| "k".into())).unwrap();
    let store = seedance_edge::server::open_store(&config.store).unwrap();
    let edge = seedance_edge::server::build_edge(config, store, None).unwrap();
    seedance_edge::billing::reconcile::sync_tenants(&edge).await.unwrap();
    let (ok, _, err) = run(&conf_path, &["tenant", "disable", "acme"]);
    assert!(ok, "{err}");
    seedance_edge::billing::reconcile::sync_tenants(&edge).await.unwrap();
    assert!(edge.store.tenant("acme").await.unwrap().unwrap().disabled);
}

#[test]
fn check_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path(), "redis://127.0.0.1:1/0", "  - { id: beta, channels: [missing] }\n");
    let (ok, _, err) = run(&conf, &["check"]);
    assert!(!ok);
    assert!(err.contains("tenants[1].channels"), "{err}");
}
