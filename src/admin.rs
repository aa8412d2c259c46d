//! The admin listener: `/healthz` (the process is up), `/readyz` (config loaded, tenants
//! upserted, store reachable) and `/metrics` (Prometheus text). Bind it to loopback or an
//! internal address: it has no authentication.

use crate::edge::Edge;
use async_trait::async_trait;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct AdminApp {
    pub edge: Arc<Edge>,
}

fn text(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let len = body.len();
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Content-Length", len)
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        match session.req_header().uri.path() {
            "/healthz" => text(200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                if !self.edge.started.load(Ordering::Acquire) {
                    return text(503, "text/plain", b"starting: tenants not loaded yet\n".to_vec());
                }
                match self.edge.store.ping().await {
                    Ok(()) => text(200, "text/plain", b"ready\n".to_vec()),
                    Err(e) => {
                        self.edge.store_failed(&e);
                        text(503, "text/plain", b"store unreachable\n".to_vec())
                    }
                }
            }
            "/metrics" => text(200, "text/plain; version=0.0.4", self.edge.metrics.render()),
            _ => text(404, "text/plain", b"not found: /healthz, /readyz, /metrics\n".to_vec()),
        }
    }
}
