//! Per-request state of the module, carried through Pingora's phases (must be `Send + Sync`).

use crate::scope::UpstreamNote;
use seedance_filters::ErrorCode;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct EdgeCtx {
    pub started: Option<Instant>,
    /// The request id: returned as `X-Request-Id` on every answer and logged.
    pub request_id: String,
    /// Low-cardinality route label.
    pub route: &'static str,
    pub method: String,
    pub tenant: Option<String>,
    /// The task the request named or created.
    pub task_id: Option<String>,
    pub status: u16,
    pub rejected: Option<ErrorCode>,
    pub upstream_micros: u64,
    pub upstream: UpstreamNote,
    /// Set when part of the request body was left unread.
    pub close_connection: bool,
    /// Holds this request in `seedance_requests_in_flight` until the logging phase.
    pub in_flight: Option<crate::metrics::InFlight>,
}
