//! The module's shared state: everything a request needs, assembled once from the [`Config`].
//! Routes borrow it; the Pingora shell owns it behind an `Arc`.

use crate::auth::Authenticator;
use crate::channel::{ChannelRuntime, Channels};
use crate::config::Config;
use crate::dns::AddrSource;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::upstream::{UpstreamClient, UpstreamError, UpstreamResponse};
use bytes::Bytes;
use seedance_filters::redact::{channel_fault, ChannelFault};
use seedance_filters::{ApiError, ErrorCode};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One configuration's view of the module. A SIGHUP reload builds a new `Edge` with the new
/// [`Config`] and [`Channels`] and the *same* store, auth cache, upstream pools, resolver,
/// metrics, journal and lifecycle flags (every such field is an `Arc`), so a reload swaps what
/// the file says and nothing that holds connections or counts.
pub struct Edge {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub channels: Channels,
    pub upstream: Arc<UpstreamClient>,
    pub dns: Arc<dyn AddrSource>,
    pub metrics: Arc<Metrics>,
    pub journal: Option<Arc<Journal>>,
    /// Identifies this process in settlement ids and reconcile leases.
    pub node_id: String,
    /// Set once the configured tenants are in the store (`/readyz` waits for it).
    pub started: Arc<AtomicBool>,
    /// Set by SIGTERM before Pingora stops accepting: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// Set once the process's signal handlers are installed (`/readyz` waits for it, so a
    /// SIGHUP sent to a ready node reloads rather than kills it).
    pub signals_armed: Arc<AtomicBool>,
    /// Set when a reload could not upsert its tenants (store down); the reconciler retries.
    pub tenants_stale: Arc<AtomicBool>,
    /// Request body bytes held across the process (`limits.max_inflight_body_bytes`).
    pub body_budget: Arc<crate::budget::BodyBudget>,
}

/// Which kind of upstream exchange, for metrics labels.
#[derive(Debug, Clone, Copy)]
pub enum UpstreamRoute {
    Create,
    Get,
    List,
    Delete,
    Action,
}

impl UpstreamRoute {
    pub fn label(self) -> &'static str {
        match self {
            UpstreamRoute::Create => "create",
            UpstreamRoute::Get => "get",
            UpstreamRoute::List => "list",
            UpstreamRoute::Delete => "delete",
            UpstreamRoute::Action => "action",
        }
    }
}

/// A failed upstream exchange. `unsent`: the request never left the edge (the host did not
/// resolve or the connection was refused), so a create made nothing upstream.
#[derive(Debug)]
pub struct CallFailure {
    pub error: ApiError,
    pub unsent: bool,
}

pub fn upstream_failure(what: &str) -> ApiError {
    ApiError::new(ErrorCode::UpstreamError, format!("the model service {what}; retry later"))
}

/// The current [`Edge`], replaced whole on reload. Each request takes one snapshot when it
/// starts and finishes on it, so a reload never changes the rules under a request in flight.
pub struct LiveEdge(arc_swap::ArcSwap<Edge>);

impl LiveEdge {
    pub fn new(edge: Arc<Edge>) -> Arc<LiveEdge> {
        Arc::new(LiveEdge(arc_swap::ArcSwap::new(edge)))
    }

    /// The edge as configured now.
    pub fn current(&self) -> Arc<Edge> {
        self.0.load_full()
    }

    /// Makes `edge` the one new requests see; requests in flight keep theirs.
    pub fn replace(&self, edge: Arc<Edge>) {
        self.0.store(edge);
    }
}

impl Edge {
    /// The same process state under another configuration: `config` and the channels built from
    /// it are new, everything else is shared with `self`.
    pub fn with_config(&self, config: Config) -> Result<Edge, String> {
        let channels = Channels::from_config(&config.channels)?;
        Ok(Edge {
            config: Arc::new(config),
            channels,
            store: self.store.clone(),
            auth: self.auth.clone(),
            upstream: self.upstream.clone(),
            dns: self.dns.clone(),
            metrics: self.metrics.clone(),
            journal: self.journal.clone(),
            node_id: self.node_id.clone(),
            started: self.started.clone(),
            draining: self.draining.clone(),
            signals_armed: self.signals_armed.clone(),
            tenants_stale: self.tenants_stale.clone(),
            body_budget: self.body_budget.clone(),
        })
    }

    /// Counts a failed store operation and turns it into the fail-closed 503.
    pub fn store_failed(&self, e: &StoreError) -> ApiError {
        self.metrics.store_errors.with_label_values(&[e.op()]).inc();
        log::warn!("store error: {e}");
        ApiError::new(
            ErrorCode::StoreUnavailable,
            "the ownership store is unavailable; nothing was changed, retry later",
        )
    }

    /// The upstream refused the channel itself (its key, account or model activation): the
    /// operator learns what the upstream said; the tenant gets the edge's own words, since the
    /// upstream's name the account id or access key and are not the tenant's doing.
    fn channel_refused(
        &self,
        channel: &ChannelRuntime,
        route: UpstreamRoute,
        fault: ChannelFault,
        r: &UpstreamResponse,
    ) -> ApiError {
        self.metrics.channel_refusals.with_label_values(&[channel.conf.id.as_str(), fault.as_str()]).inc();
        log::error!(
            "channel {} refused ({}) on {}: upstream {} {}",
            channel.conf.id,
            fault.as_str(),
            route.label(),
            r.status,
            channel.redact(&String::from_utf8_lossy(&r.body[..r.body.len().min(2048)])),
        );
        ApiError::new(
            ErrorCode::ChannelNotAvailable,
            "the model service is temporarily unavailable for this account; nothing was created, retry later or contact support",
        )
    }

    /// One exchange with a channel's task API, authenticated with the channel's API key (the
    /// customer's token never leaves the edge). 5xx, timeouts, refused connections → 502.
    pub async fn task_call(
        &self,
        channel: &ChannelRuntime,
        route: UpstreamRoute,
        method: &str,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, ApiError> {
        self.task_call_checked(channel, route, method, path_and_query, body).await.map_err(|f| f.error)
    }

    /// Sends and counts one upstream exchange; upstream 5xx and transport failures become 502.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        channel: &ChannelRuntime,
        route: UpstreamRoute,
        method: &str,
        endpoint: &crate::upstream::Endpoint,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, ApiError> {
        self.exchange(channel, route, method, endpoint, path, headers, body).await.map_err(|f| f.error)
    }

    /// [`Edge::task_call`] that also says whether a failed request certainly never left the edge.
    pub async fn task_call_checked(
        &self,
        channel: &ChannelRuntime,
        route: UpstreamRoute,
        method: &str,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, CallFailure> {
        let headers = [
            ("Authorization", format!("Bearer {}", channel.conf.api_key.expose())),
            ("Content-Type", "application/json".to_string()),
            ("Accept", "application/json".to_string()),
        ];
        let path = channel.tasks.path(path_and_query);
        self.exchange(channel, route, method, &channel.tasks, &path, &headers, body).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        channel: &ChannelRuntime,
        route: UpstreamRoute,
        method: &str,
        endpoint: &crate::upstream::Endpoint,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, CallFailure> {
        let answered = |error: ApiError| CallFailure { error, unsent: false };
        let labels = |status: &str| [channel.conf.id.clone(), route.label().to_string(), status.to_string()];
        // The customer's request id goes upstream too (outside any signature: it is metadata), so
        // one id finds the request in both the edge's and BytePlus's logs. Background work
        // (reconciler, orphan scan) has none.
        let mut headers = headers.to_vec();
        if let Some(id) = crate::scope::request_id() {
            headers.push(("X-Client-Request-Id", id));
        }
        let result = self.upstream.send(endpoint, method, path, &headers, body).await;
        crate::scope::note_upstream(
            &channel.conf.id,
            result.as_ref().ok().map(|r| r.status),
            result.as_ref().ok().and_then(|r| r.request_id.as_deref()),
        );
        match result {
            Ok(r) => {
                crate::scope::add_upstream_time(r.elapsed);
                self.metrics.upstream_requests.with_label_values(&labels(&r.status.to_string())).inc();
                self.metrics
                    .upstream_duration
                    .with_label_values(&[channel.conf.id.as_str(), route.label()])
                    .observe(r.elapsed.as_secs_f64());
                if r.status >= 500 {
                    log::warn!("channel {} answered {} to {} {}", channel.conf.id, r.status, method, route.label());
                    return Err(answered(upstream_failure(&format!("answered {}", r.status))));
                }
                if let Some(fault) = channel_fault(r.status, &r.body) {
                    return Err(answered(self.channel_refused(channel, route, fault, &r)));
                }
                Ok(r)
            }
            Err(e) => {
                let kind = match e {
                    UpstreamError::Timeout { .. } => "timeout",
                    UpstreamError::Resolve { .. } | UpstreamError::Connect { .. } => "connect_error",
                    UpstreamError::Io { .. } | UpstreamError::TooLarge { .. } => "io_error",
                };
                self.metrics.upstream_requests.with_label_values(&labels(kind)).inc();
                log::warn!("channel {} {}: {e}", channel.conf.id, route.label());
                let error = upstream_failure(match kind {
                    "timeout" => "did not answer in time",
                    "connect_error" => "could not be reached",
                    _ => "broke off the answer",
                });
                // Resolving or connecting failed: not one byte of the request was sent.
                Err(CallFailure { error, unsent: kind == "connect_error" })
            }
        }
    }
}
