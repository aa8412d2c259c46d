//! A real `seedance-edge run` process on free ports, with its admin listener: started from a
//! configuration body (the listeners are added here), ready once `/readyz` answers 200, killed
//! on drop. Its log goes to `<dir>/<name>.log` at debug level, for tests that read it.

use super::wait;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Node {
    child: Child,
    pub base: String,
    pub admin: String,
}

impl Node {
    /// `yaml` is the configuration without `listen` and `admin`; `env` feeds its `${VAR}`s.
    pub async fn start(dir: &std::path::Path, name: &str, yaml: &str, env: &[(&str, &str)]) -> Node {
        let (listen, admin) = (wait::free_port(), wait::free_port());
        let conf = dir.join(format!("{name}.yaml"));
        let full =
            format!("listen: [{{ addr: \"127.0.0.1:{listen}\" }}]\nadmin: {{ addr: \"127.0.0.1:{admin}\" }}\n{yaml}");
        std::fs::write(&conf, full).expect("write conf");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seedance-edge"));
        cmd.args(["run", "--conf"]).arg(&conf).env("RUST_LOG", "debug").stdout(Stdio::null());
        cmd.stderr(std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start seedance-edge");
        let node =
            Node { child, base: format!("http://127.0.0.1:{listen}"), admin: format!("http://127.0.0.1:{admin}") };
        let client = reqwest::Client::new();
        let ready = wait::until(&format!("{name} ready"), Duration::from_secs(20), || async {
            matches!(client.get(format!("{}/readyz", node.admin)).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        assert!(ready, "node {name} never became ready");
        node
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
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
