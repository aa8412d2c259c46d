//! The HTTP/1.1 server: accepts connections, records every request, and routes it to the task
//! API, the asset Actions or the control API.

use crate::assets::{self, Call};
use crate::config::Fault;
use crate::reply::{self, Reply};
use crate::sign;
use crate::state::Shared;
use crate::{control, query, RecordedRequest};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub const TASKS_PATH: &str = "/api/v3/contents/generations/tasks";

/// Why a connection is closed without an answer: hyper drops the connection when the service
/// fails, which is exactly the `drop` fault.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    #[error("fault injected: connection dropped")]
    Dropped,
    #[error("reading the request body: {0}")]
    Body(#[from] hyper::Error),
}

/// Serves until the returned future is dropped. Connections live in a `JoinSet` owned by this
/// future, so aborting it (dropping `FakeArk`) also ends every open keep-alive connection.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(shared.clone(), req));
                        if let Err(e) = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await
                        {
                            log::debug!("fake-ark: connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    log::warn!("fake-ark: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow for the server's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Unanswered> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = req.into_body().collect().await?.to_bytes();
    let request_id = shared.next_request_id();
    // The control API drives the simulator; it is not traffic under test, so it is not recorded.
    if let Some(rest) = path.strip_prefix("/_control/") {
        return Ok(with_request_id(control::handle(&shared, &method, rest, &body), &request_id));
    }
    let recorded = RecordedRequest { method, path, query, headers, body: body.to_vec() };
    shared.lock().requests.push(recorded.clone());
    if shared.cfg.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(shared.cfg.latency_ms)).await;
    }
    let reply = route(&shared, &recorded, &request_id).await?;
    Ok(with_request_id(reply, &request_id))
}

fn with_request_id(mut reply: Reply, request_id: &str) -> Reply {
    if let Ok(v) = request_id.parse() {
        reply.headers_mut().insert("x-request-id", v);
    }
    reply
}

async fn route(shared: &Shared, r: &RecordedRequest, request_id: &str) -> Result<Reply, Unanswered> {
    if r.path == "/" || r.path.is_empty() {
        return Ok(action(shared, r, request_id));
    }
    let Some(rest) = r.path.strip_prefix(TASKS_PATH) else {
        return Ok(reply::task_error(404, "NotFound", &format!("There is no route {}.", r.path), ""));
    };
    let id = match rest.strip_prefix('/') {
        Some(id) if !id.is_empty() && !id.contains('/') => Some(id),
        None if rest.is_empty() => None,
        _ => return Ok(reply::task_error(404, "NotFound", &format!("There is no route {}.", r.path), "")),
    };
    let is_create = r.method == "POST" && id.is_none();
    if is_create {
        // Counted before auth: tests assert that nothing at all reached the upstream.
        shared.lock().creates += 1;
    }
    let key = r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).map(str::trim);
    if !key.is_some_and(|key| shared.cfg.api_keys.iter().any(|k| k == key)) {
        // Like upstream, the message names the refused key: the edge must not relay it.
        let message = crate::unconfirmed::api_key_message(key, request_id);
        return Ok(reply::task_error(401, "AuthenticationError", &message, ""));
    }
    let cfg = &shared.cfg;
    match (r.method.as_str(), id) {
        ("POST", None) => create(shared, &r.body).await,
        ("GET", None) => Ok(shared.lock().tasks.list(cfg, r.query.as_deref().unwrap_or(""))),
        ("GET", Some(id)) => Ok(shared.lock().tasks.get(cfg, id)),
        ("DELETE", Some(id)) => Ok(shared.lock().tasks.delete(cfg, id)),
        _ => Ok(reply::task_error(405, "MethodNotAllowed", &format!("{} is not allowed here.", r.method), "")),
    }
}

/// A create, unless a fault was queued for it.
async fn create(shared: &Shared, body: &[u8]) -> Result<Reply, Unanswered> {
    let fault = shared.lock().next_fault.take();
    match fault {
        None => {}
        Some(Fault::Drop) => return Err(Unanswered::Dropped),
        Some(Fault::Status(code)) => {
            let model = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|b| b.get("model").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| crate::config::DEFAULT_MODELS[0].to_string());
            return Ok(reply::fault_error(code, &model));
        }
        // Not JSON at all, as a misbehaving proxy in front of upstream might answer.
        Some(Fault::Unparseable) => {
            return Ok(reply::raw(200, "text/html", bytes::Bytes::from_static(b"<html>upstream hiccup</html>")))
        }
        Some(Fault::Delay(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
    }
    Ok(shared.lock().tasks.create(&shared.cfg, body))
}

/// `POST /?Action=X&Version=2024-01-01`: signature first (as the gateway does), then version,
/// then the Action itself.
fn action(shared: &Shared, r: &RecordedRequest, request_id: &str) -> Reply {
    let cfg = &shared.cfg;
    let raw_query = r.query.as_deref().unwrap_or("");
    let action = query::param(raw_query, "Action").unwrap_or_default();
    let call = Call { cfg, request_id, action: &action };
    if r.method != "POST" {
        return call.err(405, "MethodNotAllowed", "Actions are called with POST.");
    }
    let secret_of = |ak: &str| cfg.credentials.iter().find(|(a, _)| a == ak).map(|(_, s)| s.clone());
    let signed = sign::Signed { method: &r.method, path: "/", query: raw_query, headers: &r.headers, body: &r.body };
    let expect = sign::Expect { region: &cfg.region, now_secs: crate::clock::now_secs(), secret_of: &secret_of };
    if let Err(refusal) = sign::verify(&signed, &expect) {
        // The gateway's message says nothing of which step failed; the log does.
        log::info!("fake-ark: {action} refused: {refusal}");
        return call.err(refusal.status(), refusal.code(), &refusal.message());
    }
    if action.is_empty() {
        return call.err(400, "MissingParameter", "The request is missing Action parameter.");
    }
    let version = query::param(raw_query, "Version").unwrap_or_default();
    if version.is_empty() {
        return call.err(400, "MissingParameter", "The request is missing Version parameter.");
    }
    if version != assets::VERSION {
        return call.err(
            404,
            "InvalidActionOrVersion",
            &format!("Could not find operation {action} for version {version}."),
        );
    }
    shared.lock().assets.handle(&call, &r.body)
}
