//! Redis Sentinel on real processes: a master, a replica and one sentinel monitoring them on
//! free loopback ports. The store finds the master through `redis+sentinel://`, `run` becomes
//! ready on such a URL, and after `SENTINEL FAILOVER` the store writes to the promoted replica
//! without a restart (the broken connection is dropped and the sentinels are asked again).

use crate::support;

use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::Store;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::redis::RedisServer;
use support::wait::{free_port, until, until_sync};

const MASTER: &str = "mymaster";

/// A redis-server in sentinel mode monitoring `MASTER` with a quorum of one. Killed on drop.
struct Sentinel {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(master_port: u16) -> Sentinel {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // Sentinel rewrites its config file, so it must be a writable file of its own.
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 5000\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let s = Sentinel { port, child, _dir: dir };
        let up = until_sync("the sentinel knows the master", Duration::from_secs(10), || {
            s.master_port() == Some(master_port)
        });
        assert!(up, "redis sentinel did not start on port {port}");
        s
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("redis-cli is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The master's port as this sentinel sees it now.
    fn master_port(&self) -> Option<u16> {
        let out = self.cli(&["SENTINEL", "get-master-addr-by-name", MASTER]);
        out.lines().nth(1).and_then(|p| p.trim().parse().ok())
    }

    fn url(&self, master: &str) -> String {
        // A dead first sentinel: the client must move on to the next one listed.
        format!("redis+sentinel://127.0.0.1:{},127.0.0.1:{}/{master}", free_port(), self.port)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn store(url: &str) -> RedisStore {
    RedisStore::connect(url, "sde", RedisOptions::default()).unwrap()
}

#[tokio::test]
async fn the_store_finds_the_master_through_the_sentinels() {
    let master = RedisServer::start();
    let sentinel = Sentinel::start(master.port());
    let s = store(&sentinel.url(MASTER));
    s.ping().await.expect("ping through the sentinel-resolved master");
    assert!(s.try_lease("acme", "node-a", 60_000).await.unwrap(), "a write through the sentinel-resolved master");
    assert!(master.cli(&["KEYS", "*"]).contains("acme"), "the write did not land on the master");

    let unknown = store(&sentinel.url("no-such-master"));
    assert!(unknown.ping().await.is_err(), "a master name the sentinels do not monitor must fail");
}

#[tokio::test]
async fn the_store_follows_a_failover_without_a_restart() {
    let master = RedisServer::start();
    let replica = RedisServer::start();
    replica.cli(&["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    let synced = until_sync("the replica syncs", Duration::from_secs(10), || {
        replica.cli(&["INFO", "replication"]).contains("master_link_status:up")
    });
    assert!(synced);
    let sentinel = Sentinel::start(master.port());
    // A failover needs a replica the sentinel has seen (it learns them from the master's INFO).
    let seen = until_sync("the sentinel sees the replica", Duration::from_secs(20), || {
        sentinel.cli(&["SENTINEL", "replicas", MASTER]).contains(&replica.port().to_string())
    });
    assert!(seen);

    let s = store(&sentinel.url(MASTER));
    assert!(s.try_lease("before", "node-a", 600_000).await.unwrap());

    let started = until_sync("SENTINEL FAILOVER is accepted", Duration::from_secs(20), || {
        sentinel.cli(&["SENTINEL", "FAILOVER", MASTER]).trim() == "OK"
    });
    assert!(started);
    let moved = until_sync("the sentinel promotes the replica", Duration::from_secs(30), || {
        sentinel.master_port() == Some(replica.port())
    });
    assert!(moved, "the failover did not happen");

    // Until the sentinel demotes the old master (and kills its clients) a write can still be
    // acknowledged there; after that the broken connection is dropped and the sentinels asked
    // again, so writes land on the promoted replica. No restart, no sleep.
    let mut n = 0;
    let recovered = until("a store write lands on the new master", Duration::from_secs(30), || {
        n += 1;
        let tenant = format!("after{n}");
        let (s, replica) = (&s, &replica);
        async move {
            s.try_lease(&tenant, "node-a", 600_000).await.is_ok()
                && replica.cli(&["ROLE"]).starts_with("master")
                && replica.cli(&["KEYS", "*"]).contains(&format!(":{tenant}}}"))
        }
    })
    .await;
    assert!(recovered, "the store did not follow the failover");
    assert!(master.cli(&["ROLE"]).starts_with("slave"), "the old master was not demoted");
    assert!(replica.cli(&["KEYS", "*"]).contains("before"), "the data written before the failover is gone");
}

#[tokio::test]
async fn run_serves_on_a_sentinel_store() {
    let master = RedisServer::start();
    let sentinel = Sentinel::start(master.port());
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "store: {{ url: \"{}\", prefix: sde }}\nserver: {{ threads: 1, grace_period_seconds: 0 }}\n",
        sentinel.url(MASTER)
    );
    // `start_yaml` waits for `/readyz` 200, which needs a store that answers.
    let _node = support::node::Node::start_yaml(dir.path(), "sentinel", &body, &[]).await;
}
