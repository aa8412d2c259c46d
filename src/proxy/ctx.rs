//! Per-request state of the module, carried through Pingora's phases (must be `Send + Sync`).

use crate::scope::UpstreamNote;
use seedance_filters::ErrorCode;
use std::time::Instant;

/// The module's per-request state: the host keeps one inside its own `ProxyHttp::CTX`, created
/// with `EdgeCtx::default()` in `new_ctx`, and passes it to
/// [`SeedanceModule::request_filter`](crate::SeedanceModule::request_filter) and then
/// [`SeedanceModule::logging`](crate::SeedanceModule::logging) for the same request. Never
/// reuse one across requests. Its contents are the module's; the host may read the accessors.
#[derive(Debug, Default)]
pub struct EdgeCtx {
    pub(crate) started: Option<Instant>,
    /// The request id: returned as `X-Request-Id` on every answer and logged.
    pub(crate) request_id: String,
    /// Low-cardinality route label.
    pub(crate) route: &'static str,
    pub(crate) method: String,
    pub(crate) tenant: Option<String>,
    /// The task the request named or created.
    pub(crate) task_id: Option<String>,
    pub(crate) status: u16,
    pub(crate) rejected: Option<ErrorCode>,
    pub(crate) upstream_micros: u64,
    pub(crate) upstream: UpstreamNote,
    /// Set when part of the request body was left unread.
    pub(crate) close_connection: bool,
    /// Holds this request in `seedance_requests_in_flight` until the logging phase.
    pub(crate) in_flight: Option<crate::metrics::InFlight>,
}

impl EdgeCtx {
    /// The request id the answer carried as `X-Request-Id` (empty before `request_filter`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The authenticated tenant, once `request_filter` got that far.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The status the module answered with (0 before it answered).
    pub fn status(&self) -> u16 {
        self.status
    }
}
