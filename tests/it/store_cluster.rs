//! The Redis store on a real three-primary Redis Cluster on loopback: every tenant's keys share
//! one hash tag, so the ownership and settlement scripts and the listing pipeline run on one slot
//! and the exactly-once guarantee holds as on a standalone server.

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::{settlement, task};
use support::wait;

struct Cluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three primaries, each with `replicas` replicas.
fn start_cluster(replicas: usize) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3 * (1 + replicas)).map(|_| wait::free_port()).collect();
    let mut nodes = Vec::new();
    for p in &ports {
        let node_dir = dir.path().join(p.to_string());
        std::fs::create_dir_all(&node_dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &p.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            .args([
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        nodes.push(child);
    }
    for p in &ports {
        assert!(wait::until_sync("node up", Duration::from_secs(10), || cli(*p, &["PING"]).trim() == "PONG"));
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success(), "redis-cli --cluster create");
    for p in &ports {
        let ok = wait::until_sync("cluster_state:ok", Duration::from_secs(20), || {
            cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
        });
        assert!(ok, "cluster never became ok");
    }
    Cluster { nodes, ports, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_pipelines_run_on_a_cluster() {
    let cluster = start_cluster(0);
    let url = format!(
        "redis+cluster://{}",
        cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    );
    let s = Arc::new(RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap());
    // Tenants land on different slots (and so, likely, different primaries).
    let tenants = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];
    for t in tenants {
        s.put_tenant(&TenantRecord {
            id: t.into(),
            disabled: false,
            channels: vec!["main".into()],
            models: vec![],
            assets: true,
            limits: Default::default(),
        })
        .await
        .unwrap();
        // Listed: created within the retention.
        let now = seedance_edge::clock::now_secs();
        s.put_task(t, &task("cgt-1", now)).await.unwrap();
        s.put_task(t, &task("cgt-2", now)).await.unwrap();
        s.hide_task(t, "cgt-1").await.unwrap();
        let ids: Vec<String> =
            s.task_page(t, &TaskPageQuery::page(1, 500)).await.unwrap().records.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["cgt-2"], "{t}");
        let group = AssetRecord {
            id: "group-1".into(),
            kind: AssetKind::Group,
            channel: "main".into(),
            group_id: None,
            created_at: 1,
        };
        s.put_asset(t, &group).await.unwrap();
        assert_eq!(s.assets(t, AssetKind::Group).await.unwrap(), vec![group]);
    }
    let mut ids = s.tenant_ids().await.unwrap();
    ids.sort();
    let mut want: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(ids, want);

    // Exactly once, concurrently, per tenant.
    let mut handles = Vec::new();
    for t in tenants {
        for i in 0..8 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let settlement = settlement("cgt-2", &format!("node-{i}"));
                matches!(s.settle(t, &settlement).await.unwrap(), SettleOutcome::Settled { .. })
            }));
        }
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, tenants.len(), "one settlement per tenant");
    for t in tenants {
        assert_eq!(s.ledger(t, 0).await.unwrap().len(), 1, "{t}");
    }
}

/// The port of the primary serving `key`'s slot, from `CLUSTER NODES`.
fn primary_of(port: u16, key: &str) -> u16 {
    let slot: u16 = cli(port, &["CLUSTER", "KEYSLOT", key]).trim().parse().unwrap();
    for line in cli(port, &["CLUSTER", "NODES"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
            continue;
        }
        let serves = f[8..].iter().any(|r| {
            let (lo, hi) = r.split_once('-').unwrap_or((r, r));
            matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
        });
        if serves {
            let addr = f[1].split('@').next().unwrap();
            return addr.rsplit_once(':').unwrap().1.parse().unwrap();
        }
    }
    panic!("no primary serves slot {slot}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_fails_over_without_losing_ownership_or_billing_twice() {
    let mut cluster = start_cluster(1);
    let url = format!(
        "redis+cluster://{}",
        cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    );
    let s = Arc::new(RedisStore::connect(&url, "sde", RedisOptions::default()).unwrap());
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    let victim = primary_of(cluster.ports[0], "sde:{t:acme}:task:cgt-1");
    // A tenant whose slot another primary serves keeps working throughout.
    let other = (0..100)
        .map(|i| format!("t{i}"))
        .find(|t| primary_of(cluster.ports[0], &format!("sde:{{t:{t}}}:task:x")) != victim)
        .unwrap();
    // The record reached the replica before the primary dies (replication is asynchronous, and
    // a fresh replica first needs its initial sync).
    let synced = wait::until_sync("the replica caught up", Duration::from_secs(30), || {
        let info = cli(victim, &["INFO", "replication"]);
        let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
        let master = field("master_repl_offset:");
        let replica = field("slave0:")
            .filter(|v| v.contains("state=online"))
            .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("offset=")).map(str::to_string));
        master.is_some() && master == replica
    });
    assert!(synced, "the replica never caught up");
    let i = cluster.ports.iter().position(|p| *p == victim).unwrap();
    let _ = cluster.nodes[i].kill();
    let _ = cluster.nodes[i].wait();

    // During the failover: answers come back within the deadline, never a hang.
    let started = std::time::Instant::now();
    let _ = s.task("acme", "cgt-1").await;
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    s.put_task(&other, &task("cgt-9", 1_700_000_000)).await.unwrap();

    // After it: the replica serves the slot, the ownership record is there.
    let back = wait::until("the replica takes over", Duration::from_secs(30), || async {
        matches!(s.task("acme", "cgt-1").await, Ok(Some(_)))
    })
    .await;
    assert!(back, "acme's slot never came back");
    let mut handles = Vec::new();
    for n in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let settlement = settlement("cgt-1", &format!("node-{n}"));
            matches!(s.settle("acme", &settlement).await, Ok(SettleOutcome::Settled { .. }))
        }));
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, 1, "settled exactly once after the failover");
    assert_eq!(s.ledger("acme", 0).await.unwrap().len(), 1);
}
