//! Everything the simulator remembers, behind one lock.

use crate::assets::Assets;
use crate::config::{FakeArkConfig, Fault};
use crate::tasks::Tasks;
use crate::RecordedRequest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct State {
    pub tasks: Tasks,
    pub assets: Assets,
    /// Every request received (control requests excluded), in arrival order.
    pub requests: Vec<RecordedRequest>,
    /// Create-task POSTs received, whatever became of them.
    pub creates: usize,
    /// How the next create fails, consumed by that create.
    pub next_fault: Option<Fault>,
}

/// The configuration and state one server and its handle share.
pub struct Shared {
    pub cfg: FakeArkConfig,
    state: Mutex<State>,
    request_seq: AtomicU64,
}

impl Shared {
    pub fn new(cfg: FakeArkConfig) -> Shared {
        Shared { cfg, state: Mutex::new(State::default()), request_seq: AtomicU64::new(0) }
    }

    /// The state, even after a panic elsewhere poisoned the lock: every update under it is a
    /// single insert or assignment, so a poisoned state is still a consistent one, and a test
    /// double must keep answering rather than cascade one failure into many.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh id for one request, used for both `x-request-id` and an Action's `RequestId`.
    pub fn next_request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}fake{n:08}", crate::clock::compact(crate::clock::now_secs()))
    }
}
