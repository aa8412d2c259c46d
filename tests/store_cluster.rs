//! The Redis store on a real three-primary Redis Cluster on loopback: every tenant's keys share
//! one hash tag, so the ownership and settlement scripts and the listing pipeline run on one slot
//! and the exactly-once guarantee holds as on a standalone server.

mod support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::task;
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

fn start_cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| wait::free_port()).collect();
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
        .args(["--cluster-replicas", "0", "--cluster-yes"])
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
    let cluster = start_cluster();
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
        })
        .await
        .unwrap();
        s.put_task(t, &task("cgt-1", 1_700_000_000)).await.unwrap();
        s.put_task(t, &task("cgt-2", 1_700_000_000)).await.unwrap();
        s.hide_task(t, "cgt-1").await.unwrap();
        let ids: Vec<String> = s.tasks(t).await.unwrap().into_iter().map(|r| r.id).collect();
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
                let settlement = Settlement {
                    settlement_id: format!("node-{i}"),
                    task_id: "cgt-2".into(),
                    sku: "dreamina-seedance-2-0-720p-novideo".into(),
                    tokens: 100,
                    usd_nanos: 700_000,
                    settled_at_ms: 1,
                    public_model: "dreamina-seedance-2-0".into(),
                    final_resolution: "720p".into(),
                };
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
