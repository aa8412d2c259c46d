//! Peak memory of creates with 30 MiB bodies, measured on the real binary as its peak
//! resident set (`VmHWM`), for 1 and 8 concurrent creates. It prints sizes relative to the body,
//! not a pass/fail: the integration test `hostile::a_30_mib_create_costs_a_small_multiple_of_its_body`
//! holds the bound; this shows the curve.
//!
//! `cargo bench --bench memory` (env `MEMORY_BODY_MIB` to change the body size).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "bench-channel-key";
const TOKEN: &str = "oh-bench-memory-token";

struct Edge(Child);

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn junk_create(size: usize) -> Vec<u8> {
    let mut body =
        br#"{"model":"dreamina-seedance-2-0","content":[{"type":"text","text":"a boat"}],"x_junk":["#.to_vec();
    while body.len() + 4 < size {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    body
}

fn start_edge(dir: &std::path::Path, upstream: &str) -> (Edge, String) {
    let (listen, admin) = (free_port(), free_port());
    let sha = seedance_edge::auth::token_sha256(TOKEN);
    let yaml = format!(
        r#"
listen: [{{ addr: "127.0.0.1:{listen}" }}]
admin: {{ addr: "127.0.0.1:{admin}" }}
store: {{ url: "memory://" }}
limits: {{ max_body_bytes: 67108864, max_inflight_body_bytes: 1073741824 }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{MEMORY_BENCH_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - {{ id: acme, token_sha256: ["{sha}"], channels: [main] }}
"#
    );
    let conf = dir.join("memory.yaml");
    std::fs::write(&conf, yaml).expect("conf");
    let child = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["run", "--conf"])
        .arg(&conf)
        .env("MEMORY_BENCH_KEY", KEY)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start seedance-edge");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    (Edge(child), format!("http://127.0.0.1:{listen}/volcark/api/v3/contents/generations/tasks"))
}

async fn run(concurrency: usize, body: &[u8], upstream: &str) -> (u64, u64) {
    let dir = std::env::temp_dir().join(format!("seedance-memory-bench-{}-{concurrency}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (edge, url) = start_edge(&dir, upstream);
    let before = peak_rss(edge.0.id());
    let client = reqwest::Client::new();
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body) = (client.clone(), url.clone(), body.to_vec());
        handles.push(tokio::spawn(async move {
            let r =
                client.post(&url).bearer_auth(TOKEN).header("content-type", "application/json").body(body).send().await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    for h in handles {
        let status = h.await.unwrap_or(0);
        assert_eq!(status, 200, "a create failed");
    }
    (before, peak_rss(edge.0.id()))
}

fn main() {
    let mib: usize = std::env::var("MEMORY_BODY_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let fake = fake_ark::FakeArk::start(fake_ark::FakeArkConfig {
            api_keys: vec![KEY.to_string()],
            ..fake_ark::FakeArkConfig::held()
        })
        .await
        .expect("fake-ark");
        let body = junk_create(mib << 20);
        println!("create body: {mib} MiB (an array of zeros in an unknown field)");
        for concurrency in [1usize, 8] {
            let (before, peak) = run(concurrency, &body, &fake.base_url()).await;
            let added = peak.saturating_sub(before);
            println!(
                "{concurrency} concurrent: peak RSS {} MiB (idle {} MiB); added {:.2}x the bodies in flight",
                peak >> 20,
                before >> 20,
                added as f64 / (concurrency * body.len()) as f64
            );
        }
    });
}
