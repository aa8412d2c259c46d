//! A real `seedance-edge run` process on free ports, for black-box tests of what only the binary
//! assembles: the admin listener and its token, the metrics a scraper sees, the access log on
//! stderr (at debug level, in `<dir>/<name>.log`), peak memory. Ready once `/readyz` answers 200;
//! killed on drop.
#![allow(dead_code)]

use super::harness::{token, token_sha256_var, CHANNEL_KEY, TASKS};
use super::wait;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The test tenant every [`NodeConf`] node knows, with token `token("acme")`.
pub const TENANT: &str = "acme";

pub struct Node {
    child: Child,
    pub base: String,
    pub admin: String,
    pub listen_addr: String,
    /// stderr of the process: the access log and everything else it logs.
    pub log: PathBuf,
    /// The configuration file it runs on (a test may rewrite it and send SIGHUP).
    pub conf: PathBuf,
    env: Vec<(String, String)>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The common node: one channel, the test tenant, a fast reconciler.
pub struct NodeConf<'a> {
    pub store_url: &'a str,
    pub upstream: &'a str,
    /// YAML appended to the `admin:` mapping (e.g. `bearer_token_file: "/path"`).
    pub admin_extra: &'a str,
}

impl Default for NodeConf<'_> {
    fn default() -> Self {
        NodeConf { store_url: "memory://", upstream: "http://127.0.0.1:1", admin_extra: "" }
    }
}

/// What `launch` adds around a configuration body: YAML inside the `admin:` mapping and more
/// entries of the `listen:` list (each starting with ", ").
#[derive(Default)]
struct Around<'a> {
    admin_extra: &'a str,
    more_listeners: &'a str,
}

/// How a process is started: its ports, and whether it takes the sockets over (`--upgrade`).
struct Start {
    listen: u16,
    admin: u16,
    upgrade: bool,
}

impl Node {
    /// Starts a [`NodeConf`] node in `dir`: `fixtures/node.yaml`, whose `${VAR}`s the process
    /// expands from the environment given here.
    pub async fn start(dir: &Path, name: &str, conf: NodeConf<'_>) -> Node {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/node.yaml");
        let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let sha = token_sha256_var("ACME_TOKEN_SHA256").expect("a token variable");
        let env = [
            ("NODE_TEST_KEY", CHANNEL_KEY),
            ("STORE_URL", conf.store_url),
            ("UPSTREAM", conf.upstream),
            ("ACME_TOKEN_SHA256", sha.as_str()),
        ];
        let around = Around { admin_extra: conf.admin_extra, ..Around::default() };
        Node::launch(dir, name, &body, &env, around).await
    }

    /// Starts a node on `body`, a configuration without `listen` and `admin` (added here);
    /// `env` feeds its `${VAR}`s.
    pub async fn start_yaml(dir: &Path, name: &str, body: &str, env: &[(&str, &str)]) -> Node {
        Node::launch(dir, name, body, env, Around::default()).await
    }

    /// Like [`Node::start_yaml`], with one more listener (a YAML mapping, e.g. with `tls`).
    pub async fn start_yaml_with_listener(
        dir: &Path,
        name: &str,
        body: &str,
        env: &[(&str, &str)],
        listener: &str,
    ) -> Node {
        let more_listeners = format!(", {listener}");
        Node::launch(dir, name, body, env, Around { more_listeners: &more_listeners, ..Around::default() }).await
    }

    async fn launch(dir: &Path, name: &str, body: &str, env: &[(&str, &str)], around: Around<'_>) -> Node {
        let Around { admin_extra, more_listeners } = around;
        let (listen, admin) = (wait::free_port(), wait::free_port());
        let admin_extra = if admin_extra.is_empty() { String::new() } else { format!(", {admin_extra}") };
        let yaml = format!(
            "listen: [{{ addr: \"127.0.0.1:{listen}\" }}{more_listeners}]\nadmin: {{ addr: \"127.0.0.1:{admin}\"{admin_extra} }}\n{body}"
        );
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).expect("write config");
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let node = Node::spawn(dir, name, &path, &env, Start { listen, admin, upgrade: false });
        let client = reqwest::Client::new();
        let ready = wait::until(&format!("{name} ready"), Duration::from_secs(20), || async {
            matches!(client.get(format!("{}/readyz", node.admin)).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        assert!(ready, "node {name} never became ready: {}", std::fs::read_to_string(&node.log).unwrap_or_default());
        node
    }

    fn spawn(dir: &Path, name: &str, conf: &Path, env: &[(String, String)], start: Start) -> Node {
        let Start { listen, admin, upgrade } = start;
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seedance-edge"));
        cmd.args(["run", "--conf"]).arg(conf).env("RUST_LOG", "debug").stdout(Stdio::null());
        if upgrade {
            cmd.arg("--upgrade");
        }
        cmd.stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Node {
            child: cmd.spawn().expect("start seedance-edge"),
            base: format!("http://127.0.0.1:{listen}"),
            admin: format!("http://127.0.0.1:{admin}"),
            listen_addr: format!("127.0.0.1:{listen}"),
            log,
            conf: conf.to_path_buf(),
            env: env.to_vec(),
        }
    }

    /// A second process on this node's configuration started with `run --upgrade`: it waits for
    /// this one's listening sockets, which this one hands over on SIGQUIT. Not waited for.
    pub fn spawn_upgrade(&self, dir: &Path, name: &str) -> Node {
        let port = |url: &str| url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
        let start = Start { listen: port(&self.base), admin: port(&self.admin), upgrade: true };
        Node::spawn(dir, name, &self.conf, &self.env, start)
    }

    /// Sends `signal` (`HUP`, `TERM`, `QUIT`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill").args(["-s", signal, &self.pid().to_string()]).status().expect("kill runs");
        assert!(ok.success(), "kill -s {signal} failed");
    }

    /// Waits up to `deadline` for the process to exit, without blocking the runtime (client
    /// loops keep running meanwhile); its status if it did.
    pub async fn wait_exit(&mut self, deadline: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait::until("the process exits", deadline, || {
            status = self.child.try_wait().ok().flatten();
            std::future::ready(status.is_some())
        })
        .await;
        status
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident set (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// The `/metrics` page (with the admin token, if given); panics unless it is 200.
    pub async fn scrape(&self, admin_token: Option<&str>) -> String {
        let mut rb = reqwest::Client::new().get(format!("{}/metrics", self.admin));
        if let Some(t) = admin_token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.expect("admin answers");
        assert_eq!(r.status(), 200, "scrape refused");
        r.text().await.expect("metrics text")
    }

    /// An authenticated list request as the test tenant: one request through every layer.
    pub async fn list_tasks(&self) -> u16 {
        let r = reqwest::Client::new()
            .get(format!("{}{TASKS}", self.base))
            .bearer_auth(token(TENANT))
            .send()
            .await
            .expect("edge answers");
        r.status().as_u16()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The value of one sample line (`name{labels} value`), if the page has exactly that series.
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Metric family names declared on a page (`# TYPE name kind`).
pub fn families(page: &str) -> Vec<String> {
    page.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next().map(str::to_string)).collect()
}
