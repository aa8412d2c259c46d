//! Wall-clock time for records, leases, the ledger, log lines and request signatures: the one
//! place that reads the system clock (clippy's `disallowed-methods` refuses
//! `SystemTime::now` anywhere else), so every module agrees on the unit and a test clock has
//! one place to go.
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, for APIs that take a `SystemTime` (request signing).
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Unix seconds (0 if the clock is before 1970).
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
