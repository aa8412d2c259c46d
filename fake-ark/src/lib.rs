//! fake-ark: a BytePlus ModelArk simulator (task API + asset Actions) for seedance-edge's tests
//! and demo. A real HTTP/1.1 server on loopback: tasks move queued → running → succeeded on
//! timings or on command, DELETE behaves as upstream does, faults can be injected (status codes,
//! unparseable bodies, dropped connections, latency), asset Actions verify the AK/SK signature,
//! and every request received is recorded for tests to inspect.
//!
//! Shapes follow `shared/reference/byteplus-upstream.md`; where the reference marks a point
//! unconfirmed (asset list filter keys, `filter.task_ids` comma splitting), the choice made here
//! is the one in this crate's `assets.rs` / `tasks.rs`, in one place each.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod assets;
mod config;
mod reply;
pub mod sign;
mod tasks;

pub use config::{FakeArkConfig, Fault};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const TASKS_PATH: &str = "/api/v3/contents/generations/tasks";

/// One request as fake-ark received it (header names lowercase).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

struct State {
    tasks: tasks::Tasks,
    assets: assets::Assets,
    requests: Vec<RecordedRequest>,
}

struct Inner {
    cfg: FakeArkConfig,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single insert or assignment: a poisoned guard is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator; dropping it stops accepting connections.
pub struct FakeArk {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
}

impl FakeArk {
    /// Serves on a free loopback port, in the current tokio runtime.
    pub async fn start(cfg: FakeArkConfig) -> std::io::Result<FakeArk> {
        FakeArk::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    pub async fn start_on(addr: SocketAddr, cfg: FakeArkConfig) -> std::io::Result<FakeArk> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            cfg,
            state: Mutex::new(State { tasks: Default::default(), assets: Default::default(), requests: Vec::new() }),
        });
        let served = inner.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let inner = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(inner.clone(), req));
                    // An Err from the service (a `drop` fault) closes the connection unanswered.
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        Ok(FakeArk { addr, inner, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far (control requests excluded), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.lock().requests.clone()
    }

    /// Create-task requests received so far, whatever their outcome.
    pub fn creates(&self) -> usize {
        self.inner.lock().tasks.creates
    }

    /// Forces a task's status (no usage).
    pub fn set_status(&self, id: &str, status: &str) {
        self.inner.lock().tasks.force(id, status, None, None);
    }

    /// Moves a task to a terminal status; `succeeded` reports `tokens` and the final `resolution`.
    pub fn finish(&self, id: &str, status: &str, tokens: Option<u64>, resolution: Option<&str>) {
        self.inner.lock().tasks.force(id, status, tokens, resolution);
    }

    /// The next create request fails this way (once).
    pub fn fault_next_create(&self, fault: Fault) {
        self.inner.lock().tasks.next_fault = Some(fault);
    }

    pub fn set_asset_status(&self, id: &str, status: &str) {
        self.inner.lock().assets.force(id, status);
    }
}

impl Drop for FakeArk {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Why a connection is closed without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection dropped")
    }
}

impl std::error::Error for Dropped {}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Result<reply::Reply, Dropped> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    if let Some(rest) = path.strip_prefix("/_control/") {
        return Ok(control(&inner, &method, rest, &body));
    }
    let recorded = RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        headers,
        body: body.to_vec(),
    };
    inner.lock().requests.push(recorded.clone());
    if inner.cfg.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(inner.cfg.latency_ms)).await;
    }
    let mut resp = route(&inner, &recorded).await?;
    let rid = format!("fake-{:08x}", inner.lock().requests.len());
    if let Ok(v) = rid.parse() {
        resp.headers_mut().insert("x-request-id", v);
    }
    Ok(resp)
}

async fn route(inner: &Inner, r: &RecordedRequest) -> Result<reply::Reply, Dropped> {
    let cfg = &inner.cfg;
    if r.path == "/" && r.method == "POST" {
        return Ok(action(inner, r));
    }
    let Some(rest) = r.path.strip_prefix(TASKS_PATH) else {
        return Ok(reply::task_error(404, "NotFound", &format!("no route {}", r.path), ""));
    };
    let key = r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    if !cfg.api_keys.iter().any(|k| k == key) {
        return Ok(reply::task_error(
            401,
            "AuthenticationError",
            "The API key in the request is missing or invalid.",
            "",
        ));
    }
    let id = rest.strip_prefix('/').filter(|s| !s.is_empty());
    match (r.method.as_str(), id) {
        ("POST", None) => {
            let created = inner.lock().tasks.create(cfg, &r.body);
            match created {
                tasks::Created::Reply(reply) => Ok(reply),
                tasks::Created::Drop => Err(Dropped),
                tasks::Created::Delay(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    match inner.lock().tasks.create_now(cfg, &r.body) {
                        tasks::Created::Reply(reply) => Ok(reply),
                        _ => Err(Dropped),
                    }
                }
            }
        }
        ("GET", None) => Ok(inner.lock().tasks.list(cfg, r.query.as_deref().unwrap_or(""))),
        ("GET", Some(id)) => Ok(inner.lock().tasks.get(cfg, id)),
        ("DELETE", Some(id)) => Ok(inner.lock().tasks.delete(cfg, id)),
        _ => Ok(reply::task_error(405, "MethodNotAllowed", "method not allowed", "")),
    }
}

fn action(inner: &Inner, r: &RecordedRequest) -> reply::Reply {
    let cfg = &inner.cfg;
    let query = r.query.as_deref().unwrap_or("");
    let param = |name: &str| {
        query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| decode(v))
    };
    let action = param("Action").unwrap_or_default();
    let rid = format!("fake-{:08x}", inner.lock().requests.len());
    let err = |status, code: &str, msg: &str| reply::action_error(status, &rid, &action, &cfg.region, code, msg);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let secret_of = |ak: &str| cfg.credentials.iter().find(|(a, _)| a == ak).map(|(_, s)| s.clone());
    match sign::verify(&r.method, &r.path, query, &r.headers, &r.body, now, &secret_of) {
        Ok(_) => {}
        Err(sign::Refusal::Missing(m)) => return err(401, "InvalidAuthorization", &m),
        Err(sign::Refusal::UnknownKey(ak)) => {
            return err(401, "InvalidAccessKey", &format!("access key {ak} is not valid"))
        }
        Err(sign::Refusal::Mismatch(m)) => return err(401, "SignatureDoesNotMatch", &m),
    }
    if param("Version").as_deref() != Some(assets::VERSION) {
        return err(400, "InvalidVersion", "Version must be 2024-01-01.");
    }
    if action.is_empty() {
        return err(400, "MissingAction", "Action is required.");
    }
    let call = assets::Call { cfg, request_id: &rid, action: &action };
    inner.lock().assets.handle(&call, &r.body)
}

/// The control API for the binary: drive statuses and faults without linking the crate.
fn control(inner: &Inner, method: &str, rest: &str, body: &Bytes) -> reply::Reply {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method, rest.split_once('/').unwrap_or((rest, ""))) {
        ("POST", ("tasks", id)) => {
            let status = v["status"].as_str().unwrap_or("succeeded");
            let found = inner.lock().tasks.force(id, status, v["tokens"].as_u64(), v["resolution"].as_str());
            reply::json(if found { 200 } else { 404 }, &json!({"ok": found}))
        }
        ("POST", ("assets", id)) => {
            let found = inner.lock().assets.force(id, v["status"].as_str().unwrap_or("Active"));
            reply::json(if found { 200 } else { 404 }, &json!({"ok": found}))
        }
        ("POST", ("fault", _)) => match v["fault"].as_str().unwrap_or_default().parse::<Fault>() {
            Ok(f) => {
                inner.lock().tasks.next_fault = Some(f);
                reply::json(200, &json!({"ok": true}))
            }
            Err(e) => reply::json(400, &json!({"error": e})),
        },
        ("GET", ("requests", _)) => {
            let list: Vec<Value> = inner
                .lock()
                .requests
                .iter()
                .map(|r| json!({"method": r.method, "path": r.path, "query": r.query, "body": String::from_utf8_lossy(&r.body)}))
                .collect();
            reply::json(200, &Value::Array(list))
        }
        _ => reply::json(404, &json!({"error": "unknown control route"})),
    }
}

/// Percent-decoding of a query value (`+` is left alone, as RFC 3986 has it).
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
