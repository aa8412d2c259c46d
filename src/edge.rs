//! The module's shared state: everything a request needs, assembled once from the [`Config`].
//! Routes borrow it; the Pingora shell owns it behind an `Arc`.

use crate::auth::Authenticator;
use crate::channel::Channels;
use crate::config::Config;
use crate::dns::AddrSource;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::store::Store;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One configuration's view of the module. A SIGHUP reload builds a new `Edge` with the new
/// [`Config`] and [`Channels`] and the *same* store, auth cache, upstream pools, resolver,
/// metrics, journal and lifecycle flags (every such field is an `Arc`), so a reload swaps what
/// the file says and nothing that holds connections or counts.
pub struct Edge {
    /// The validated configuration this edge serves.
    pub config: Arc<Config>,
    /// Tenants, tokens, task ownership and billing state (timed and counted).
    pub store: Arc<dyn Store>,
    /// Bearer token checks, with their short-lived cache.
    pub auth: Arc<Authenticator>,
    /// The BytePlus accounts creates are spread over, built from this configuration.
    pub channels: Channels,
    /// The BytePlus client (its connection pool outlives a reload).
    pub ark: Arc<crate::ark::Client>,
    /// Resolves callback and asset-URL hosts for the public-address rule.
    pub dns: Arc<dyn AddrSource>,
    /// The edge's own Prometheus registry.
    pub metrics: Arc<Metrics>,
    /// Ownership records the store could not take yet (`store.journal`), replayed later.
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
    pub fn with_config(&self, config: Config) -> Result<Edge, crate::ark::EndpointError> {
        let channels = Channels::from_config(&config.channels)?;
        Ok(Edge {
            config: Arc::new(config),
            channels,
            store: self.store.clone(),
            auth: self.auth.clone(),
            ark: self.ark.clone(),
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
}
