//! Per-request state of the module, carried through Pingora's phases (must be `Send + Sync`).

use seedance_filters::ErrorCode;
use std::time::Instant;

tokio::task_local! {
    /// Microseconds spent waiting on channels during this request (summed by `Edge::call`).
    pub static UPSTREAM_MICROS: std::cell::Cell<u64>;
}

/// Adds an upstream exchange's time to the current request, if there is one.
pub fn add_upstream_time(d: std::time::Duration) {
    let _ = UPSTREAM_MICROS.try_with(|c| c.set(c.get() + d.as_micros() as u64));
}

#[derive(Debug, Default)]
pub struct EdgeCtx {
    pub started: Option<Instant>,
    /// Low-cardinality route label.
    pub route: &'static str,
    pub method: String,
    pub tenant: Option<String>,
    pub status: u16,
    pub rejected: Option<ErrorCode>,
    pub upstream_micros: u64,
    /// Set when part of the request body was left unread.
    pub close_connection: bool,
    /// Holds this request in `seedance_requests_in_flight` until the logging phase.
    pub in_flight: Option<crate::metrics::InFlight>,
}
