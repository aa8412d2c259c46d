//! A real Redis Cluster on loopback: three primaries, each with `replicas` replicas, as
//! redis-server processes owned by the test (killed on drop). No persistence.
#![allow(dead_code)]

use super::wait;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisCluster {
    pub nodes: Vec<Child>,
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

/// One cluster-enabled node answering, on a free port. Tests start clusters in parallel,
/// so a port free a moment ago may be taken by the time the server binds it: then another.
fn spawn_node(dir: &std::path::Path) -> (u16, Child) {
    for _ in 0..5 {
        let port = wait::free_port();
        let node_dir = dir.join(port.to_string());
        std::fs::create_dir_all(&node_dir).unwrap();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        // Ours, not another test's server on the same port: the process id says so.
        let pid = format!("process_id:{}", child.id());
        let ours = || cli(port, &["INFO", "server"]).lines().any(|l| l.trim() == pid);
        let settled =
            wait::until_sync("node up", Duration::from_secs(10), || ours() || matches!(child.try_wait(), Ok(Some(_))));
        if settled && ours() {
            return (port, child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("no cluster node could start");
}

/// Runs `redis-cli` against the node on `port` and returns its stdout.
pub use super::redis::redis_cli as cli;

impl RedisCluster {
    /// Three primaries, each with `replicas` replicas.
    pub fn start(replicas: usize) -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        let mut ports = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            let (port, child) = spawn_node(dir.path());
            ports.push(port);
            nodes.push(child);
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
        RedisCluster { nodes, ports, _dir: dir }
    }

    /// `redis+cluster://` naming every node.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The port of the primary serving `key`'s slot, from `CLUSTER NODES`.
    pub fn primary_of(&self, key: &str) -> u16 {
        let port = self.ports[0];
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

    /// SIGKILL of the node on `port`.
    pub fn kill(&mut self, port: u16) {
        let i = self.ports.iter().position(|p| *p == port).expect("a node of this cluster");
        let _ = self.nodes[i].kill();
        let _ = self.nodes[i].wait();
    }
}
