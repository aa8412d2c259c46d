//! Polling with a deadline instead of sleeping for synchronisation.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(20);

/// Polls `check` until it returns true or `deadline` passes; returns whether it became true.
pub async fn until<F, Fut>(what: &str, deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            eprintln!("gave up waiting for: {what}");
            return false;
        }
        tokio::time::sleep(STEP).await;
    }
}

/// The blocking twin of [`until`], for tests that drive child processes.
pub fn until_sync(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            eprintln!("gave up waiting for: {what}");
            return false;
        }
        std::thread::sleep(STEP);
    }
}

/// A loopback port that was free a moment ago (the OS picks it; the listener is dropped).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
