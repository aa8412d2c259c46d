//! The Pingora shell. [`SeedanceModule`] is the library type an existing Pingora `ProxyHttp` can
//! delegate its `/volcark/` requests to (see `examples/embed.rs`); [`EdgeProxy`] is the thin
//! `ProxyHttp` the `seedance-edge` binary runs, a table of contents over the module.
//!
//! The module is not a `ProxyHttp` itself: a host has one `ProxyHttp` and one CTX type, so the
//! module offers the phases it needs as methods the host calls from its own phases.

mod body;
mod ctx;
mod respond;

pub use ctx::EdgeCtx;

use crate::auth::AuthFailure;
use crate::edge::{Edge, LiveEdge};
use crate::routes::{self, Reply, Request, Route, Shape};
use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::{Error, ErrorType};
use pingora_proxy::{ProxyHttp, Session};
use seedance_filters::{ActionMeta, ApiError};
use std::sync::Arc;
use std::time::Instant;

/// The seedance-edge filter module: everything under `/volcark/`, answered by the module itself.
///
/// A host `ProxyHttp` delegates two of its phases to it, for the requests [`handles`] claims:
///
/// - `request_filter` → [`request_filter`]: the module authenticates, reads the body, talks to
///   BytePlus on its own connections, writes the whole answer and returns `Ok(true)`. The host
///   returns that result at once.
/// - `logging` → [`logging`]: metrics and the access line.
///
/// The host must not forward these requests upstream itself, read their body, or write to the
/// session before or after the module: after `Ok(true)` Pingora runs no later phase but
/// `logging`, so `upstream_peer` and the response filters are never reached for them.
///
/// Build one module per process from one [`Edge`] ([`crate::build_edge`]) and clone it where
/// it is needed (clones share everything); register its [`crate::services`] with the same
/// Pingora server; apply a changed file with [`reload`](Self::reload), not by building a second
/// edge.
///
/// [`handles`]: Self::handles
/// [`request_filter`]: Self::request_filter
/// [`logging`]: Self::logging
#[derive(Clone)]
pub struct SeedanceModule {
    live: Arc<LiveEdge>,
}

impl SeedanceModule {
    /// A module serving `edge`. Call once per process (see the type's docs) and clone the result;
    /// the configuration can later be replaced with [`reload`](Self::reload).
    pub fn new(edge: Arc<Edge>) -> Self {
        SeedanceModule { live: LiveEdge::new(edge) }
    }

    /// A module on a reloadable configuration: each request uses what `live` holds when it starts.
    pub(crate) fn with_live(live: Arc<LiveEdge>) -> Self {
        SeedanceModule { live }
    }

    /// The configuration the module's requests and background services share.
    pub(crate) fn live(&self) -> Arc<LiveEdge> {
        self.live.clone()
    }

    /// The edge as configured now.
    pub(crate) fn edge(&self) -> Arc<Edge> {
        self.live.current()
    }

    /// Whether a request belongs to this module: its path is `/volcark` or under `/volcark/`.
    ///
    /// Call it first in the host's `request_filter`, before the host's own routing, auth or
    /// body handling touches the request; the host routes everything else itself.
    pub fn handles(&self, session: &Session) -> bool {
        let path = session.req_header().uri.path();
        path.starts_with(routes::PREFIX) || path == "/volcark"
    }

    /// The request phase: answers the request locally and returns `Ok(true)`.
    ///
    /// Call from the host's `request_filter` for a request [`handles`](Self::handles) claims,
    /// with that request's own [`EdgeCtx`] (a fresh `EdgeCtx::default()` per request), and
    /// return the result unchanged. Every outcome, rejections and upstream failures included,
    /// is already written to the client as the API's JSON error; an `Err` means only that the
    /// client connection failed while the answer was written. The module re-originates the
    /// upstream exchange itself (signed, per channel), so the host must not proxy the request.
    pub async fn request_filter(&self, session: &mut Session, ctx: &mut EdgeCtx) -> pingora_core::Result<bool> {
        ctx.started = Some(Instant::now());
        // One snapshot for the whole request: a reload meanwhile does not change its rules.
        let edge = self.live.current();
        ctx.in_flight = Some(crate::metrics::InFlight::enter(&edge.metrics.requests_in_flight));
        let header = session.req_header();
        ctx.request_id = crate::request_id::of(&header.headers);
        let method = header.method.as_str().to_string();
        let path = header.uri.path().to_string();
        let query = header.uri.query().map(str::to_string);
        let route = Route::of(&method, &path);
        ctx.route = route.label();
        ctx.method = method.clone();
        if let Route::GetTask(id) | Route::DeleteTask(id) = &route {
            ctx.task_id = Some(id.clone());
        }
        let scope = crate::scope::Scope::new(ctx.request_id.clone());
        let req = Request { method, path, query, body: Bytes::new() };
        let (reply, scope) = crate::scope::scoped(scope, serve(&edge, session, ctx, &route, req)).await;
        ctx.upstream_micros = scope.upstream_micros();
        ctx.upstream = scope.upstream();
        ctx.task_id = ctx.task_id.take().or_else(|| scope.task_id());
        ctx.status = reply.status;
        ctx.rejected = reply.rejected;
        respond::write(session, &reply, &ctx.request_id, ctx.close_connection).await?;
        if reply.rejected == Some(seedance_filters::ErrorCode::PayloadTooLarge) {
            body::drain(session).await;
        }
        Ok(true)
    }

    /// The logging phase: one metrics update and one access-log line per request. Never logs a
    /// token, a body, or a secret; label values come from closed sets and logged client text is
    /// escaped, so nothing a client sends creates a series or forges a log field.
    ///
    /// Call from the host's `logging` for every request handed to
    /// [`request_filter`](Self::request_filter), with the same [`EdgeCtx`] and Pingora's
    /// error, exactly once; skipping it leaves the request counted as in flight until the
    /// `EdgeCtx` is dropped and writes no access line.
    pub async fn logging(&self, _session: &mut Session, e: Option<&Error>, ctx: &mut EdgeCtx) {
        use crate::metrics::{method_label, route_label, status_label};
        // Metrics are shared by every configuration, so the current edge's are this request's.
        let edge = self.live.current();
        let m = &edge.metrics;
        let status = if ctx.status == 0 { 500 } else { ctx.status };
        let elapsed = ctx.started.map(|s| s.elapsed()).unwrap_or_default();
        let route = route_label(ctx.route);
        m.requests.with_label_values(&[route, method_label(&ctx.method), status_label(status)]).inc();
        m.request_duration.with_label_values(&[route]).observe(elapsed.as_secs_f64());
        if let Some(code) = ctx.rejected {
            m.rejections.with_label_values(&[code.as_str()]).inc();
        }
        ctx.in_flight = None;
        let line = crate::logfmt::AccessLine {
            request_id: &ctx.request_id,
            tenant: ctx.tenant.as_deref(),
            route,
            method: &ctx.method,
            status,
            task_id: ctx.task_id.as_deref(),
            upstream: &ctx.upstream,
            duration: elapsed,
            upstream_micros: ctx.upstream_micros,
            error: e.map(|e| e.etype().as_str()),
        };
        log::info!(target: crate::logfmt::ACCESS_TARGET, "{}", line.render(self.edge().config.log_format));
    }

    /// Validates the YAML file at `path` and, if it passes, makes it the configuration of new
    /// requests and of the background services, then loads its tenants into the store. Requests
    /// in flight finish on the configuration they started with; a refused file changes nothing.
    ///
    /// Call it from the host's own reload trigger (its SIGHUP handler, an admin endpoint),
    /// inside a tokio runtime. Settings bound to listeners, pools or runtimes (`listen`, `admin`,
    /// `store`, `dns`, `upstream`, `server.*`, …) need a restart; those that differ are logged.
    pub async fn reload(&self, path: &std::path::Path) -> Result<(), crate::ReloadError> {
        crate::lifecycle::reload(&self.live, path).await
    }
}

/// Authenticates, reads the body when the route needs it, and runs the route's handler.
async fn serve(edge: &Edge, session: &mut Session, ctx: &mut EdgeCtx, route: &Route, mut req: Request) -> Reply {
    let auth_header = session.req_header().headers.get("authorization").map(|v| v.as_bytes().to_vec());
    let tenant = match edge.auth.authenticate(auth_header.as_deref()).await {
        Ok(t) => t,
        Err(AuthFailure::Rejected(e)) => return render(route, &e, &ctx.request_id),
        Err(AuthFailure::Store(e)) => return render(route, &e.into(), &ctx.request_id),
    };
    ctx.tenant = Some(tenant.id.clone());
    // Held until the handler is done with the body.
    let mut _permit = None;
    if route.reads_body() {
        let limits = &edge.config.limits;
        match body::read(session, limits.max_body_bytes, limits.body_read_timeout, &edge.body_budget).await {
            Ok(body) => {
                req.body = body.bytes;
                _permit = Some(body.permit);
            }
            Err(e) => {
                // The rest of an unread body is still on the wire: this connection cannot be reused.
                ctx.close_connection = true;
                return render(route, &e, &ctx.request_id);
            }
        }
    }
    routes::dispatch(edge, &tenant, route, &req).await
}

/// An error in the shape the route speaks.
fn render(route: &Route, e: &ApiError, request_id: &str) -> Reply {
    match route.shape() {
        Shape::Task => Reply::error(e),
        Shape::Action => Reply::action_error(e, ActionMeta { request_id, action: "", region: "" }),
    }
}

/// The `ProxyHttp` of the standalone binary: `/volcark/` goes to the module, anything else is a
/// JSON 400 `invalid_request` naming the path (the same answer the module gives a path under
/// `/volcark/` that is no route). No request is ever proxied blindly, so `upstream_peer` is
/// unreachable.
pub(crate) struct EdgeProxy {
    pub(crate) module: SeedanceModule,
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = EdgeCtx;

    fn new_ctx(&self) -> EdgeCtx {
        EdgeCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut EdgeCtx) -> pingora_core::Result<bool> {
        if self.module.handles(session) {
            return self.module.request_filter(session, ctx).await;
        }
        ctx.route = "unknown";
        ctx.request_id = crate::request_id::of(&session.req_header().headers);
        ctx.method = session.req_header().method.as_str().to_string();
        let e = ApiError::invalid(
            "path",
            format!("no route for {}; the API lives under {}", session.req_header().uri.path(), routes::PREFIX),
        );
        let reply = Reply::error(&e);
        ctx.status = reply.status;
        ctx.rejected = reply.rejected;
        respond::write(session, &reply, &ctx.request_id, false).await?;
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut EdgeCtx) -> pingora_core::Result<Box<HttpPeer>> {
        Error::e_explain(ErrorType::InternalError, "seedance-edge answers every request in request_filter")
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut EdgeCtx) {
        self.module.logging(session, e, ctx).await
    }
}
