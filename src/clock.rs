//! Wall-clock time for records, leases and the ledger: one place that reads the system clock,
//! so every module agrees on the unit and nothing below the routes depends on a route for it.

/// Unix seconds (0 if the clock is before 1970).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
