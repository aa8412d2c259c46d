//! An existing Pingora edge that serves its own routes and hands `/volcark/` to seedance-edge.
//!
//! The host keeps its own `ProxyHttp`; it holds a [`SeedanceModule`] and an [`EdgeCtx`] inside
//! its own CTX, and delegates two phases for the module's paths: `request_filter` (the module
//! answers the request) and `logging` (metrics and the access line).
//!
//! ```text
//! SEEDANCE_CONF=conf/example.yaml cargo run --example embed
//! curl 127.0.0.1:6188/hello
//! curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:6188/volcark/api/v3/contents/generations/tasks
//! ```

use async_trait::async_trait;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, ErrorType, Result};
use pingora_http::ResponseHeader;
use pingora_proxy::{ProxyHttp, Session};
use seedance_edge::{Config, EdgeCtx, SeedanceModule};

/// The host's own proxy: `/hello` is answered locally, everything else goes to its origin —
/// except `/volcark/`, which belongs to seedance-edge.
struct HostEdge {
    seedance: SeedanceModule,
    origin: String,
}

#[derive(Default)]
struct HostCtx {
    seedance: EdgeCtx,
    is_seedance: bool,
}

#[async_trait]
impl ProxyHttp for HostEdge {
    type CTX = HostCtx;

    fn new_ctx(&self) -> HostCtx {
        HostCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut HostCtx) -> Result<bool> {
        if self.seedance.handles(session) {
            ctx.is_seedance = true;
            return self.seedance.request_filter(session, &mut ctx.seedance).await;
        }
        if session.req_header().uri.path() == "/hello" {
            let body = bytes::Bytes::from_static(b"hello from the host edge\n");
            let mut h = ResponseHeader::build(200, Some(2))?;
            h.insert_header("Content-Length", body.len().to_string())?;
            session.write_response_header(Box::new(h), false).await?;
            session.write_response_body(Some(body), true).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut HostCtx) -> Result<Box<HttpPeer>> {
        let addr: std::net::SocketAddr =
            self.origin.parse().map_err(|_| Error::explain(ErrorType::InternalError, "bad origin address"))?;
        Ok(Box::new(HttpPeer::new(addr, false, String::new())))
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut HostCtx) {
        if ctx.is_seedance {
            self.seedance.logging(session, e, &mut ctx.seedance).await;
        }
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let path = std::env::var("SEEDANCE_CONF").unwrap_or_else(|_| "conf/example.yaml".into());
    let config = Config::load(path.as_ref())?;
    let store = seedance_edge::open_store(&config.store)?;
    // One edge per process: the module is cloned, never built twice.
    let seedance = SeedanceModule::new(seedance_edge::build_edge(config, store, None)?);

    let mut server = Server::new(None)?;
    server.bootstrap();
    // The module's background work (tenant upsert, journal replay, reconciler, orphan scan, and
    // the admin listener when configured) runs next to the host's own services.
    server.add_services(seedance_edge::services(&seedance)?);
    let host = HostEdge { seedance, origin: "127.0.0.1:8000".into() };
    let mut proxy = pingora_proxy::http_proxy_service(&server.configuration, host);
    proxy.add_tcp("127.0.0.1:6188");
    server.add_service(proxy);
    server.run_forever()
}
