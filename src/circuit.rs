//! A per-channel circuit breaker for creates: a channel whose creates keep
//! failing before anything is created (upstream 429, connection refused or not made) is skipped
//! for a short cool-down instead of costing every request a failed attempt first. After the
//! cool-down one create probes it; an answer closes the circuit, another failure re-opens it.
//! State is per node and per configuration (a reload starts closed): it is a latency guard, not
//! shared truth, and every node learns the same facts from its own traffic.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failures that open the circuit.
pub const OPEN_AFTER: u32 = 3;
/// How long an open circuit skips the channel before letting one create probe it.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Breaker(Mutex<State>);

impl Breaker {
    /// Whether creates should skip the channel now. Past the cool-down the circuit is half
    /// open: this call lets one probe through (and re-arms the cool-down for the others).
    pub fn skip(&self, now: Instant) -> bool {
        let Ok(mut s) = self.0.lock() else { return false };
        match s.open_until {
            Some(until) if now < until => true,
            Some(_) => {
                s.open_until = Some(now + COOL_DOWN);
                false
            }
            None => false,
        }
    }

    /// A create failed before anything was created; `true` when this opened the circuit.
    pub fn failure(&self, now: Instant) -> bool {
        let Ok(mut s) = self.0.lock() else { return false };
        s.failures = s.failures.saturating_add(1);
        let opens = s.failures >= OPEN_AFTER;
        let was_open = s.open_until.is_some();
        if opens {
            s.open_until = Some(now + COOL_DOWN);
        }
        opens && !was_open
    }

    /// The channel answered: the circuit closes. `true` when it was open.
    pub fn success(&self) -> bool {
        let Ok(mut s) = self.0.lock() else { return false };
        let was_open = s.open_until.is_some();
        *s = State::default();
        was_open
    }

    pub fn is_open(&self) -> bool {
        self.0.lock().map(|s| s.open_until.is_some()).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_probes_after_the_cool_down_and_closes_on_an_answer() {
        let b = Breaker::default();
        let t0 = Instant::now();
        assert!(!b.failure(t0) && !b.failure(t0), "two failures keep it closed");
        assert!(!b.skip(t0));
        assert!(b.failure(t0), "the third opens it");
        assert!(b.skip(t0 + Duration::from_secs(1)) && b.is_open());
        let later = t0 + COOL_DOWN + Duration::from_secs(1);
        assert!(!b.skip(later), "one probe after the cool-down");
        assert!(b.skip(later), "the others keep skipping while it probes");
        assert!(!b.failure(later), "a failed probe keeps it open (not a new opening)");
        assert!(b.skip(later + Duration::from_secs(1)));
        assert!(b.success(), "an answer closes it");
        assert!(!b.skip(later) && !b.is_open());
    }
}
