//! A TLS Redis Cluster with a password, on real redis-server processes: `rediss+cluster://` with
//! the credentials given once (they apply to every node the client discovers), and the
//! cluster's CA trusted the way a TLS cluster is trusted here — the system trust store, which
//! OpenSSL reads from `SSL_CERT_FILE` (`store.ca_file` cannot apply to a cluster: the redis
//! crate's native-tls cluster client takes no extra CA). The real binary becomes ready and
//! upserts its tenants across the cluster's slots, and its read cache links every master.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::wait::{free_port, until_sync};

const PASSWORD: &str = "pw-Cluster-9";

struct TlsCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    ca: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

impl TlsCluster {
    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&self.ca)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-a", PASSWORD, "--no-auth-warning"])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Three TLS-only primaries (cluster bus over TLS too), one certificate for 127.0.0.1.
    fn start() -> TlsCluster {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let ok = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(ok.success());
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for p in &ports {
            let node_dir = dir.path().join(p.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", "0", "--tls-port", &p.to_string(), "--bind", "127.0.0.1"])
                .args(["--tls-cluster", "yes", "--tls-replication", "yes", "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&cert)
                .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "2000", "--requirepass", PASSWORD, "--masterauth", PASSWORD])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed");
            nodes.push(child);
        }
        let cluster = TlsCluster { nodes, ports, ca: cert, dir };
        for p in &cluster.ports {
            let up =
                until_sync("TLS node answers", Duration::from_secs(10), || cluster.cli(*p, &["PING"]).trim() == "PONG");
            assert!(up, "a TLS cluster node did not start");
        }
        let addrs: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&cluster.ca)
            .args(["-a", PASSWORD, "--no-auth-warning", "--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(created.success(), "redis-cli --cluster create over TLS");
        for p in &cluster.ports {
            let ok = until_sync("cluster_state:ok", Duration::from_secs(20), || {
                cluster.cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
            assert!(ok, "the TLS cluster never became ok");
        }
        cluster
    }
}

#[tokio::test]
async fn run_serves_on_a_tls_cluster_with_credentials_given_once() {
    let cluster = TlsCluster::start();
    let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    // Credentials only in the first node's address: they apply to every node.
    let url = format!("rediss+cluster://:{PASSWORD}@{}", nodes.join(","));
    let tenants: String = ["acme", "globex", "initech", "umbrella"]
        .iter()
        .map(|t| format!("  - {{ id: {t}, token_sha256: [], channels: [main] }}\n"))
        .collect();
    let body = format!(
        r#"store: {{ url: "{url}", prefix: sde }}
server: {{ threads: 1, grace_period_seconds: 0 }}
channels:
  - id: main
    task_base_url: "http://127.0.0.1:1"
    region: ap-southeast-1
    api_key: "${{TLS_CLUSTER_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
{tenants}"#
    );
    let ca = cluster.ca.display().to_string();
    let env = [("TLS_CLUSTER_KEY", "k"), ("SSL_CERT_FILE", ca.as_str())];
    // `start_yaml` waits for `/readyz` 200: the tenants are upserted and the store answers.
    let node = support::node::Node::start_yaml(cluster.dir.path(), "tls-cluster", &body, &env).await;
    // The tenant records landed on the cluster, on whatever slots their hash tags map to.
    for t in ["acme", "globex", "initech", "umbrella"] {
        let key = format!("sde:{{t:{t}}}:tenant");
        let found = cluster.ports.iter().any(|p| cluster.cli(*p, &["-c", "EXISTS", &key]).trim() == "1");
        assert!(found, "{key} is not on the cluster");
    }
    // A token lookup starts the read cache's links: one per master, over TLS with the password,
    // tracking in broadcast mode (`t` and `B` in the connection's flags).
    let r = reqwest::Client::new().get(format!("{}{}", node.base, support::harness::TASKS)).bearer_auth("nope");
    assert_eq!(r.send().await.expect("edge answers").status().as_u16(), 401);
    let linked = |p: u16| {
        cluster.cli(p, &["CLIENT", "LIST"]).lines().any(|l| {
            l.split(' ').find_map(|f| f.strip_prefix("flags=")).is_some_and(|f| f.contains('t') && f.contains('B'))
        })
    };
    let all =
        until_sync("a link on every TLS master", Duration::from_secs(10), || cluster.ports.iter().all(|p| linked(*p)));
    assert!(all, "the cache's links did not reach every master over TLS");
    assert!(!node.log_text().contains(PASSWORD), "the store password reached the log");
}
