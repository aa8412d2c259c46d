//! The process-wide budget of request body bytes held at once. Each body is bounded
//! by `limits.max_body_bytes`, but many bodies at once are not: without a budget, enough
//! concurrent 30 MiB creates take the process past its memory limit. A request takes its declared
//! length before the body is read (a chunked body takes it as chunks arrive) and gives it back
//! when the request ends; one that does not fit is answered 503 `overloaded` with `Retry-After`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct BodyBudget {
    used: AtomicUsize,
    limit: usize,
}

/// Bytes taken from the budget; given back on drop.
#[derive(Debug)]
pub struct Permit {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget { used: AtomicUsize::new(0), limit })
    }

    /// Bytes currently held by requests in flight.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(n).filter(|t| *t <= self.limit))
            .is_ok()
    }

    /// A permit for `n` bytes, or `None` when they do not fit now.
    pub fn permit(self: &Arc<Self>, n: usize) -> Option<Permit> {
        self.take(n).then(|| Permit { budget: self.clone(), bytes: n })
    }
}

impl Permit {
    /// Grows the permit by `n` bytes; false (and unchanged) when they do not fit.
    pub fn grow(&mut self, n: usize) -> bool {
        let ok = self.budget.take(n);
        if ok {
            self.bytes += n;
        }
        ok
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_share_the_limit_and_give_back_on_drop() {
        let b = BodyBudget::new(100);
        let a = b.permit(60).unwrap();
        assert!(b.permit(50).is_none());
        let mut c = b.permit(40).unwrap();
        assert!(!c.grow(1));
        drop(a);
        assert!(c.grow(60));
        assert_eq!(b.used(), 100);
        drop(c);
        assert_eq!(b.used(), 0);
    }
}
