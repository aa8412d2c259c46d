//! The load harness: fake-ark, a bare Pingora passthrough in front of it, and seedance-edge in
//! front of it (once on the memory store, once on a real redis-server it starts), all in one
//! process on loopback, driven by the same closed-loop client. It prints ratios to the
//! passthrough, not absolute numbers: these machines are shared and noisy, and what matters is what
//! the module adds on top of Pingora itself.
//!
//! Scenarios, each run against the passthrough and the edge(s) back to back:
//! - GET of one task (memory and Redis store), closed loop, then paced at half the passthrough's
//!   saturation rate to read the latency the edge adds when it is not the bottleneck;
//! - create with a small body (memory and Redis store: the first is the edge's own cost, the
//!   difference what the store's two round trips add);
//! - a list page of 10 over the tenant's whole history (Redis store) against the upstream list
//!   call scoped to ten ids.
//!
//! For the Redis edge it also reports Redis commands per request (`INFO commandstats` deltas on
//! its own redis-server), and at the end the process's peak RSS.
//!
//! Targets compared with each other take turns in short slices (`LOAD_SLICE_MS`, default 500)
//! so that the machine's changing load falls on all of them alike.
//!
//! `cargo bench --bench load` (env `LOAD_SECS` per target, `LOAD_CONCURRENCY`, `LOAD_ONLY=get`
//! (or `paced`, `create`, `list`, comma-separated) to run only those phases, `LOAD_ALLOCS=1` to
//! count heap allocations per request, `LOAD_VERBOSE=1` to print every slice; `LOAD_IDLE=N`
//! adds the idle keep-alive check: N client connections held open, RSS sampled for
//! `LOAD_IDLE_SECS`).

use async_trait::async_trait;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};
use seedance_edge::config::Config;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts heap allocations while `LOAD_ALLOCS=1` (off by default: the shared counter would cost
/// the target that allocates more a little throughput). Allocations are the edge's largest cost
/// the profile shows beside the HTTP legs, and unlike time they do not depend on the machine.
struct CountingAlloc;

static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter has no effect on
// the memory handed out.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

fn count_allocation() {
    use std::sync::atomic::Ordering::Relaxed;
    if COUNTING.load(Relaxed) {
        ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

fn allocations() -> u64 {
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const KEY: &str = "bench-channel-key";
const TOKEN: &str = "oh-bench-token";
const MODEL: &str = "dreamina-seedance-2-0-fast";
const OFFICIAL: &str = "dreamina-seedance-2-0-fast-260128";

/// The baseline: Pingora forwarding every request to fake-ark untouched.
struct Passthrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(&self, _s: &mut Session, _c: &mut ()) -> pingora_core::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn serve_passthrough(upstream: SocketAddr, listener: tokio::net::TcpListener) -> tokio::sync::watch::Sender<bool> {
    let conf = Arc::new(pingora_core::server::configuration::ServerConf::default());
    // The same accept loop (and socket options) as the edge's, or the loop decides the ratio.
    seedance_edge::server::serve_app(Arc::new(pingora_proxy::http_proxy(&conf, Passthrough { upstream })), listener)
}

/// A redis-server of the bench's own (its command counters are the bench's alone).
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/test installs it)");
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.conn().is_none() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::yield_now();
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn conn(&self) -> Option<redis::Connection> {
        let mut c = redis::Client::open(self.url()).ok()?.get_connection().ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    /// Commands served since the last reset, leaving out the bench's own INFO/CONFIG calls.
    fn commands(&self) -> u64 {
        let mut c = self.conn().expect("redis");
        let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).expect("info");
        info.lines()
            .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info") && !l.starts_with("cmdstat_config"))
            .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
            .sum()
    }

    fn reset(&self) {
        let mut c = self.conn().expect("redis");
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).expect("resetstat");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct Target {
    url: String,
    auth: String,
    /// A POST body; GET when absent.
    body: Option<bytes::Bytes>,
}

/// One target's requests over every slice it was given.
#[derive(Default)]
struct Stats {
    /// Latency of every answered request.
    lat: Vec<Duration>,
    /// Answers that were not 2xx (counted, not measured: a bench reports, it does not stop).
    errors: u64,
    /// Time the target was driven, summed over its slices.
    secs: f64,
    /// Requests answered in each slice, for the spread of the per-slice ratios.
    per_slice: Vec<f64>,
    /// Heap allocations in the whole process during this target's slices (`LOAD_ALLOCS=1`).
    allocations: u64,
    /// CPU seconds of this process (client, fake-ark, passthrough, edges) during its slices.
    cpu_secs: f64,
    /// CPU seconds of the bench's redis-server during its slices.
    redis_cpu_secs: f64,
}

impl Stats {
    fn requests(&self) -> u64 {
        self.lat.len() as u64
    }
    fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.secs.max(1e-9)
    }
    fn quantile(&self, q: f64) -> Duration {
        let mut all = self.lat.clone();
        all.sort();
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default()
    }
    fn p50(&self) -> Duration {
        self.quantile(0.5)
    }
    fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
    fn cpu_per_request(&self) -> f64 {
        self.cpu_secs / self.requests().max(1) as f64
    }
    fn redis_cpu_per_request(&self) -> f64 {
        self.redis_cpu_secs / self.requests().max(1) as f64
    }
}

/// CPU seconds (user + system) this process has used, all threads: /proc/self/stat's utime and
/// stime, in clock ticks of 10 ms (Linux's USER_HZ), so only sums over many slices are exact.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The port of the bench's redis-server, for its CPU counters.
static REDIS_PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

/// CPU seconds the bench's redis-server has used (`INFO cpu`), 0 before it runs.
fn redis_cpu_secs() -> f64 {
    let Some(port) = REDIS_PORT.get() else { return 0.0 };
    let info: Option<String> = redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("INFO").arg("cpu").query(&mut c))
        .ok();
    info.unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

/// A target and the client that keeps its connections between slices.
struct Driver {
    target: Target,
    client: reqwest::Client,
    stats: Stats,
}

impl Driver {
    fn new(target: Target, concurrency: usize) -> Driver {
        let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
        Driver { target, client, stats: Stats::default() }
    }

    /// Closed loop (`rate` None) or paced at `rate` requests/s across all connections, for `secs`.
    async fn slice(&mut self, secs: f64, concurrency: usize, rate: Option<f64>) {
        // Read before the workers start: the Redis read blocks this thread for a moment.
        let (cpu_before, redis_before) = (process_cpu_secs(), redis_cpu_secs());
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(secs);
        let interval = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
        let mut handles = Vec::new();
        for worker in 0..concurrency {
            let (client, t) = (self.client.clone(), self.target.clone());
            handles.push(tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                // Paced workers start staggered so the load is spread over the interval.
                let mut next = interval.map(|i| started + i.mul_f64(worker as f64 / concurrency as f64));
                while Instant::now() < deadline {
                    if let (Some(at), Some(i)) = (next.as_mut(), interval) {
                        tokio::time::sleep_until((*at).into()).await;
                        *at += i;
                    }
                    let req = match &t.body {
                        Some(b) => client.post(&t.url).header("content-type", "application/json").body(b.clone()),
                        None => client.get(&t.url),
                    };
                    let sent = Instant::now();
                    let r = req.header("authorization", &t.auth).send().await.expect("send");
                    if !r.status().is_success() {
                        errors += 1;
                    }
                    let _ = r.bytes().await;
                    lat.push(sent.elapsed());
                }
                (lat, errors)
            }));
        }
        let (before, allocs_before) = (self.stats.lat.len(), allocations());
        for h in handles {
            let (lat, e) = h.await.expect("worker");
            self.stats.lat.extend(lat);
            self.stats.errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        self.stats.allocations += allocations() - allocs_before;
        self.stats.cpu_secs += process_cpu_secs() - cpu_before;
        self.stats.redis_cpu_secs += redis_cpu_secs() - redis_before;
        self.stats.secs += elapsed;
        self.stats.per_slice.push((self.stats.lat.len() - before) as f64 / elapsed);
    }
}

/// Length of one slice (`LOAD_SLICE_MS`, default 500): targets take turns this often, so a change
/// in the machine's load (these machines are shared) falls on all of them alike instead of on
/// whichever ran last. A slice as long as `LOAD_SECS` runs the targets one after the other (for
/// a profiler).
fn slice_length() -> Duration {
    let ms = std::env::var("LOAD_SLICE_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    Duration::from_millis(ms)
}

/// Drives the targets in turns of one slice ([`slice_length`]) each until each has had `secs`, and returns
/// their stats in the same order.
async fn interleaved(targets: Vec<Target>, secs: u64, concurrency: usize, rate: Option<f64>) -> Vec<Stats> {
    let mut drivers: Vec<Driver> = targets.into_iter().map(|t| Driver::new(t, concurrency)).collect();
    // One unmeasured request each first: connections open and caches warm before measuring.
    for d in &mut drivers {
        d.slice(0.0, 1, None).await;
        d.stats = Stats::default();
    }
    let slice = slice_length().as_secs_f64();
    let rounds = ((secs as f64 / slice).ceil() as usize).max(1);
    let verbose = std::env::var("LOAD_VERBOSE").is_ok_and(|v| v == "1");
    for round in 0..rounds {
        // The order rotates, so no target always follows the same one.
        for i in 0..drivers.len() {
            let k = (i + round) % drivers.len();
            drivers[k].slice(slice, concurrency, rate).await;
            if verbose {
                println!(
                    "    round {round} target {k}: {:.0} rps",
                    drivers[k].stats.per_slice.last().copied().unwrap_or(0.0)
                );
            }
        }
    }
    drivers.into_iter().map(|d| d.stats).collect()
}

fn print(name: &str, s: &Stats) {
    let allocs = if s.allocations > 0 {
        format!("  {:.0} allocations/req (process-wide)", s.allocations as f64 / s.requests().max(1) as f64)
    } else {
        String::new()
    };
    println!(
        "  {name:<28} {:>8} req {:>9.0} rps  p50 {:>9.3?}  p99 {:>9.3?}{allocs}{}",
        s.requests(),
        s.rps(),
        s.p50(),
        s.p99(),
        if s.errors > 0 { format!("  ({} not 2xx)", s.errors) } else { String::new() }
    );
}

/// The ratio over the whole run, and the spread (10th to 90th percentile) of the per-slice
/// ratios, each slice compared with the passthrough's slice of the same round.
/// A phase's lines: the passthrough and each edge (by store), then each edge's throughput
/// ratio and CPU per request against the passthrough.
fn report(phase: &str, passthrough: &Stats, edges: &[(&str, &Stats)]) {
    print("passthrough", passthrough);
    for (store, s) in edges {
        print(&format!("edge, {store} store"), s);
    }
    for (store, s) in edges {
        ratio(&format!("{phase} {store}"), s, passthrough);
    }
    for (store, s) in edges {
        cpu(&format!("{phase} {store}"), s, passthrough);
    }
}

/// CPU per request against the passthrough's: this process (client and fake-ark included, the
/// same work for every target) and the redis-server, which shares the machine's cores.
fn cpu(name: &str, edge: &Stats, base: &Stats) {
    let of_base = |v: f64| v / base.cpu_per_request().max(1e-12);
    println!(
        "  cpu {name:<24} per request {:.2}x the passthrough's in this process, redis-server {:.2}x on top",
        of_base(edge.cpu_per_request()),
        of_base(edge.redis_cpu_per_request())
    );
}

fn ratio(name: &str, edge: &Stats, base: &Stats) {
    let mut slices: Vec<f64> = edge.per_slice.iter().zip(&base.per_slice).map(|(e, b)| e / b.max(1e-9)).collect();
    slices.sort_by(f64::total_cmp);
    let at = |q: f64| slices.get(((slices.len() as f64 * q) as usize).min(slices.len().saturating_sub(1))).copied();
    println!(
        "  ratio {name:<22} throughput {:.2} (slices p10 {:.2} p90 {:.2})  p50 {:.2}  p99 {:.2}",
        edge.rps() / base.rps(),
        at(0.1).unwrap_or_default(),
        at(0.9).unwrap_or_default(),
        edge.p50().as_secs_f64() / base.p50().as_secs_f64().max(1e-9),
        edge.p99().as_secs_f64() / base.p99().as_secs_f64().max(1e-9)
    );
}

/// From /proc/self/status: (current, peak) resident set in MiB.
fn rss_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn start_edge(upstream: &str, store_url: &str) -> SocketAddr {
    let yaml = format!(
        r#"
listen: []
store: {{ url: "{store_url}" }}
auth: {{ cache_ttl_ms: 60000 }}
channels:
  - id: bench
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "{KEY}"
    models: {{ {MODEL}: {OFFICIAL} }}
tenants:
  - id: bench
    token_sha256: ["{}"]
    channels: [bench]
"#,
        seedance_edge::auth::token_sha256(TOKEN),
    );
    let config = Config::from_yaml(&yaml, &|_| None).expect("config");
    let store = seedance_edge::server::open_store(&config.store).expect("store");
    let edge = seedance_edge::server::build_edge(config, store, None).expect("edge");
    seedance_edge::billing::reconcile::sync_tenants(&edge).await.expect("tenants");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The stop handle is leaked on purpose: the edge serves until the bench exits.
    std::mem::forget(seedance_edge::server::serve_in_process(edge, listener));
    addr
}

async fn create(edge: SocketAddr) -> String {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{edge}/volcark/api/v3/contents/generations/tasks"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"model": MODEL, "content": [{"type": "text", "text": "bench"}]}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    created["id"].as_str().expect("id").to_string()
}

fn main() {
    let secs: u64 = std::env::var("LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let concurrency: usize = std::env::var("LOAD_CONCURRENCY").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
    let idle: usize = std::env::var("LOAD_IDLE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    // LOAD_ONLY=get (or paced, create, list; comma-separated) runs only those phases, e.g. under
    // a profiler; paced runs the GET phase too (for its rate), list the create phase (its tasks).
    let only = std::env::var("LOAD_ONLY").ok();
    let run = move |phase: &str| only.as_deref().is_none_or(|o| o.split(',').any(|p| p == phase));
    COUNTING.store(std::env::var("LOAD_ALLOCS").is_ok_and(|v| v == "1"), std::sync::atomic::Ordering::Relaxed);
    let idle_secs: u64 = std::env::var("LOAD_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let redis = Redis::start();
    let _ = REDIS_PORT.set(redis.port);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let cfg = fake_ark::FakeArkConfig { api_keys: vec![KEY.into()], ..fake_ark::FakeArkConfig::held() };
        let fake = fake_ark::FakeArk::start(cfg).await.expect("fake-ark");
        let pt_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let pt = pt_listener.local_addr().expect("addr");
        let _passthrough = serve_passthrough(fake.addr(), pt_listener);
        let mem_edge = start_edge(&fake.base_url(), "memory://").await;
        let redis_edge = start_edge(&fake.base_url(), &redis.url()).await;

        println!("load: {concurrency} connections, {secs}s per target; ratios are edge / bare pingora passthrough");
        let mem_id = create(mem_edge).await;
        let redis_id = create(redis_edge).await;
        let upstream = |id: &str| format!("/api/v3/contents/generations/tasks/{id}");
        let bearer = |t: &str| format!("Bearer {t}");
        let get = |addr: SocketAddr, path: String, auth: String| Target { url: format!("http://{addr}{path}"), auth, body: None };

        // The paced phase is set from the GET phase's saturation rate.
        if run("get") || run("paced") {
            println!("GET one task");
            let edge_get_target = get(redis_edge, format!("/volcark{}", upstream(&redis_id)), bearer(TOKEN));
            let pt_get_target = get(pt, upstream(&redis_id), bearer(KEY));
            let mem_get_target = get(mem_edge, format!("/volcark{}", upstream(&mem_id)), bearer(TOKEN));
            // One request first so the measured ones are warm (token, tenant and ownership cached);
            // then only the Redis edge talks to Redis: the counters over the whole run are its own.
            Driver::new(edge_get_target.clone(), 1).slice(0.0, 1, None).await;
            redis.reset();
            let mut got = interleaved(vec![pt_get_target.clone(), mem_get_target, edge_get_target.clone()], secs, concurrency, None)
                .await
                .into_iter();
            let (pt_get, mem_get, redis_get) = (got.next().unwrap_or_default(), got.next().unwrap_or_default(), got.next().unwrap_or_default());
            let get_cmds = redis.commands() as f64 / redis_get.requests() as f64;
            report("GET", &pt_get, &[("memory", &mem_get), ("redis", &redis_get)]);
            println!("  redis commands per warm GET: {get_cmds:.3}");

            if run("paced") {
                let half = pt_get.rps() / 2.0;
                println!("GET one task paced at half the passthrough's saturation ({half:.0} rps)");
                let mut paced = interleaved(vec![pt_get_target, edge_get_target], secs, concurrency, Some(half)).await.into_iter();
                let (pt_paced, edge_paced) = (paced.next().unwrap_or_default(), paced.next().unwrap_or_default());
                print("passthrough", &pt_paced);
                print("edge, redis store", &edge_paced);
                println!(
                    "  added latency: p50 {:+.3} ms  p99 {:+.3} ms",
                    (edge_paced.p50().as_secs_f64() - pt_paced.p50().as_secs_f64()) * 1e3,
                    (edge_paced.p99().as_secs_f64() - pt_paced.p99().as_secs_f64()) * 1e3
                );

            }
        }
        if run("create") || run("list") {
            println!("create, small body");
            let body = |model: &str| {
                bytes::Bytes::from(
                    serde_json::json!({"model": model, "content": [{"type": "text", "text": "a paper boat"}], "duration": 4})
                        .to_string(),
                )
            };
            let tasks = "/api/v3/contents/generations/tasks";
            let pt_create = Target { url: format!("http://{pt}{tasks}"), auth: bearer(KEY), body: Some(body(OFFICIAL)) };
            let edge_create =
                Target { url: format!("http://{redis_edge}/volcark{tasks}"), auth: bearer(TOKEN), body: Some(body(MODEL)) };
            // The memory store shows what the edge costs a create without Redis.
            let mem_create =
                Target { url: format!("http://{mem_edge}/volcark{tasks}"), auth: bearer(TOKEN), body: Some(body(MODEL)) };
            redis.reset();
            let mut created =
                interleaved(vec![pt_create, mem_create, edge_create], secs, concurrency, None).await.into_iter();
            let (pt_c, mem_c, edge_c) =
                (created.next().unwrap_or_default(), created.next().unwrap_or_default(), created.next().unwrap_or_default());
            // Each target's warm-up request is one create more than `requests()` counts.
            let create_cmds = redis.commands() as f64 / (edge_c.requests() + 1) as f64;
            report("create", &pt_c, &[("memory", &mem_c), ("redis", &edge_c)]);
            println!("  redis commands per create: {create_cmds:.2}");

            // The list reads the tasks the create phase made.
            if run("list") {
                println!("list, page of 10 over {} tasks of history", edge_c.requests() + 2);
                let page: serde_json::Value = reqwest::Client::new()
                    .get(format!("http://{redis_edge}/volcark{tasks}?page_size=10"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("list")
                    .json()
                    .await
                    .expect("json");
                let ids: Vec<String> = page["items"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t["id"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let scoped: String = ids.iter().map(|id| format!("&filter.task_ids={id}")).collect();
                let pt_list = get(pt, format!("{tasks}?page_size=10{scoped}"), bearer(KEY));
                let edge_list = get(redis_edge, format!("/volcark{tasks}?page_size=10"), bearer(TOKEN));
                redis.reset();
                let mut listed = interleaved(vec![pt_list, edge_list], secs, concurrency, None).await.into_iter();
                let (pt_l, edge_l) = (listed.next().unwrap_or_default(), listed.next().unwrap_or_default());
                let list_cmds = redis.commands() as f64 / (edge_l.requests() + 1) as f64;
                print("passthrough (10 scoped ids)", &pt_l);
                print("edge, redis store", &edge_l);
                ratio("list redis", &edge_l, &pt_l);
            cpu("list redis", &edge_l, &pt_l);
                println!("  redis commands per list page: {list_cmds:.2}");
            }

        }
        let (rss, peak) = rss_mib();
        println!("process RSS {rss} MiB, peak {peak} MiB (fake-ark, passthrough, both edges and the client)");

        if idle > 0 {
            idle_connections(redis_edge, idle, idle_secs).await;
        }
    });
}

/// Holds `n` keep-alive connections open on the edge, each having made one request, and samples
/// the edge process's RSS while they idle: a connection costs its buffers, and that must stay flat.
/// The clients live in a separate process (python3) so each side of the sockets has its own
/// file-descriptor limit.
async fn idle_connections(edge: SocketAddr, n: usize, secs: u64) {
    let (before, _) = rss_mib();
    let script = r#"
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /volcark/api/v3/contents/generations/tasks/cgt-00000000000000-idle HTTP/1.1\r\nHost: bench\r\n\r\n")
    s.recv(4096)
    conns.append(s)
print("open", flush=True)
time.sleep(secs)
"#;
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", script, &edge.port().to_string(), &n.to_string(), &secs.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let opened = lines.next_line().await.expect("read").is_some_and(|l| l == "open");
    assert!(opened, "the idle clients could not open {n} connections");
    let (open_rss, _) = rss_mib();
    println!("idle: {n} keep-alive connections: RSS {before} MiB before, {open_rss} MiB once open");
    let mut samples = vec![open_rss];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs((secs / 10).max(1))).await;
        samples.push(rss_mib().0);
    }
    println!("idle: RSS over {secs}s (MiB): {samples:?}");
    let _ = child.wait().await;
}
