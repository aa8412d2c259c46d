//! The operator CLI against a real redis-server: `check` names the bad key, tenants and tokens
//! are managed in the store (tokens only as SHA-256), a disabled tenant stays disabled when the
//! configured tenants are upserted again, and one token hash belongs to one tenant — in the
//! file (`check` and `run` refuse), on `token add`, and when configured tenants are loaded.

use crate::support;

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
    // A standalone Redis gives the nodes an invalidation link: the delay is its bound, the
    // token cache's TTL only when the link is down.
    assert!(out.contains("effective within 1s on every node, 5s on one whose invalidation link is down"), "{out}");
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

/// A config whose two tenants list the same token hash (one in upper case): `extra` adds beta.
fn conf_with_shared_hash(dir: &std::path::Path) -> std::path::PathBuf {
    let hash = seedance_edge::auth::token_sha256("oh-shared");
    let yaml = format!(
        r#"
listen: [{{ addr: "127.0.0.1:{listen}" }}]
store: {{ url: "redis://127.0.0.1:1/0", prefix: sde }}
channels:
  - id: main
    task_base_url: "https://ark.example"
    region: ap-southeast-1
    api_key: "${{CLI_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - {{ id: acme, channels: [main], token_sha256: ["{hash}"] }}
  - {{ id: beta, channels: [main], token_sha256: ["{upper}"] }}
"#,
        listen = support::wait::free_port(),
        upper = hash.to_ascii_uppercase(),
    );
    let path = dir.join("shared.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn check_and_run_refuse_a_token_hash_under_two_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf_with_shared_hash(dir.path());
    for cmd in ["check", "run"] {
        // `run` must refuse before it serves: with a valid config it would block here.
        let (ok, _, err) = run(&conf, &[cmd]);
        assert!(!ok, "{cmd} accepted a token hash held by two tenants");
        assert!(err.contains("tenants[1].token_sha256[0]"), "{cmd}: {err}");
        assert!(err.contains("acme") && err.contains("beta"), "{cmd} names both tenants: {err}");
    }
}

#[tokio::test]
async fn token_add_refuses_a_hash_another_tenant_holds() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path(), &redis.url(), "");
    let store = RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).unwrap();
    for id in ["zeta", "omega"] {
        let (ok, _, err) = run(&conf, &["tenant", "add", id, "--channel", "main"]);
        assert!(ok, "{err}");
    }
    let hash = seedance_edge::auth::token_sha256("oh-held-by-zeta");
    let (ok, _, err) = run(&conf, &["token", "add", "zeta", &hash]);
    assert!(ok, "{err}");

    let (ok, _, err) = run(&conf, &["token", "add", "omega", &hash.to_ascii_uppercase()]);
    assert!(!ok, "a hash held by zeta was rebound to omega");
    assert!(err.contains("zeta"), "the refusal names the holder: {err}");
    assert_eq!(store.token_tenant(&hash).await.unwrap().as_deref(), Some("zeta"), "the token did not move");

    let (ok, _, err) = run(&conf, &["token", "add", "zeta", &hash]);
    assert!(ok, "re-adding to the holder is fine: {err}");
    assert_eq!(store.token_tenant(&hash).await.unwrap().as_deref(), Some("zeta"));
}

#[tokio::test]
async fn starting_never_moves_a_token_to_another_tenant() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let hash = seedance_edge::auth::token_sha256("oh-bound-by-the-cli");
    let extra = format!("  - {{ id: beta, channels: [main], token_sha256: [\"{hash}\"] }}\n");
    let conf_path = conf(dir.path(), &redis.url(), &extra);
    // The operator bound the hash to acme with the CLI; the file lists it under beta.
    let store = RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).unwrap();
    store.put_tenant(&tenant("acme")).await.unwrap();
    store.add_token("acme", &hash).await.unwrap();

    let yaml = std::fs::read_to_string(&conf_path).unwrap();
    let config =
        seedance_edge::config::Config::from_yaml(&yaml, &|n| (n == "CLI_TEST_KEY").then(|| "k".into())).unwrap();
    let edge_store = seedance_edge::server::open_store(&config.store).unwrap();
    let edge = seedance_edge::server::build_edge(config, edge_store, None).unwrap();
    let report = seedance_edge::billing::reconcile::sync_tenants(&edge).await.unwrap();
    assert_eq!(store.token_tenant(&hash).await.unwrap().as_deref(), Some("acme"), "the token stayed with acme");
    let conflict = seedance_edge::billing::reconcile::TokenConflict {
        hash: hash.clone(),
        tenant: "beta".into(),
        holder: "acme".into(),
    };
    assert_eq!(report.token_conflicts, vec![conflict], "and the conflict is reported");
    assert!(store.tenant("beta").await.unwrap().is_some(), "beta itself is loaded");
}

fn tenant(id: &str) -> seedance_edge::store::TenantRecord {
    seedance_edge::store::TenantRecord {
        id: id.into(),
        disabled: false,
        channels: vec!["main".into()],
        models: vec![],
        assets: false,
        limits: Default::default(),
    }
}

#[tokio::test]
async fn balances_are_credited_exactly_and_only_to_prepaid_tenants() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let limits = "  - { id: paid, channels: [main], limits: { prepaid: true, max_active_tasks: 3 } }\n";
    let conf = conf(dir.path(), &redis.url(), limits);
    let store = RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).unwrap();
    let paid = seedance_edge::store::TenantRecord {
        limits: seedance_edge::store::TenantLimits {
            prepaid: true,
            max_active_tasks: Some(3),
            creates_per_minute: None,
        },
        ..tenant("paid")
    };
    store.put_tenant(&paid).await.unwrap();
    store.put_tenant(&tenant("zeta")).await.unwrap();

    let (ok, out, err) = run(&conf, &["tenant", "balance", "paid", "--add", "25.123456789"]);
    assert!(ok, "{err}");
    assert!(out.contains("\"balance_usd\": \"25.123456789\""), "{out}");
    assert_eq!(store.wallet("paid").await.unwrap().balance_nanos, 25_123_456_789);
    let (ok, _, err) = run(&conf, &["tenant", "balance", "paid", "--add", "0.0000000001"]);
    assert!(!ok && err.contains("more than 9 decimals"), "{err}");
    let (ok, _, err) = run(&conf, &["tenant", "balance", "paid", "--add=-1"]);
    assert!(!ok && err.contains("not a decimal amount"), "{err}");
    let (ok, _, err) = run(&conf, &["tenant", "balance", "zeta", "--add", "1"]);
    assert!(!ok && err.contains("not prepaid"), "{err}");
    assert_eq!(store.wallet("zeta").await.unwrap().balance_nanos, 0, "nothing credited");

    let (ok, out, _) = run(&conf, &["tenant", "balance", "paid"]);
    assert!(ok && out.contains("\"reserved_usd\": \"0.000000000\"") && out.contains("\"spent_usd\""), "{out}");
    let (ok, out, _) = run(&conf, &["tenant", "show", "paid"]);
    assert!(ok && out.contains("\"max_active_tasks\": 3") && out.contains("\"active_tasks\": 0"), "{out}");
    assert!(out.contains("\"available_usd\": \"25.123456789\""), "{out}");

    let bad = conf_with(dir.path(), &redis.url(), "  - { id: z, channels: [main], limits: { max_active_tasks: 0 } }\n");
    let (ok, _, err) = run(&bad, &["check"]);
    assert!(!ok && err.contains("limits.max_active_tasks"), "{err}");
}

fn conf_with(dir: &std::path::Path, redis: &str, extra: &str) -> std::path::PathBuf {
    let sub = dir.join("bad");
    std::fs::create_dir_all(&sub).unwrap();
    conf(&sub, redis, extra)
}
