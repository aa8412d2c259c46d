//! When may a node trust what it cached? Only while its invalidation link to Redis is up *and*
//! recently confirmed; and a value read from Redis may only be kept if no invalidation of its key
//! arrived while the read was in flight. This file holds those rules and nothing about Redis:
//! the links ([`super::tracking`], [`super::cluster_links`]) report what happens, caches ask
//! before they answer or fill. On a cluster "the link" is every master's: it is up only while
//! all of them are, and confirmed only when all of them answered.
//!
//! The bound: a cached answer given at time `t` reflects every write Redis executed before
//! `t - max_stale`. Invalidations travel on the link's connection ahead of the heartbeat replies
//! that follow them, and the link applies them before it counts the reply as a confirmation (a
//! cluster's broadcast links confirm one round later, see there); the cache is only used while
//! the latest confirmed heartbeat was *sent* less than `max_stale` ago.

use prometheus::IntCounterVec;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// What the store reports as changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Task {
        tenant: String,
        id: String,
    },
    Token(String),
    Tenant(String),
    /// Anything may have changed: a FLUSHALL, or the link went down and writes may be unseen.
    Everything,
}

impl Change {
    /// The `kind` label of `seedance_cache_invalidations_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Change::Task { .. } => "task",
            Change::Token(_) => "token",
            Change::Tenant(_) => "tenant",
            Change::Everything => "everything",
        }
    }
}

/// Taken before a read; the read's result may be cached only if [`Coherence::admits`] it after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    link: u64,
    bucket: usize,
    epoch: u64,
}

impl Ticket {
    /// Taken while the link was up and confirmed: the read will be reported when it changes.
    /// An untracked ticket still refuses its fill if the link came up meanwhile.
    pub fn tracked(&self) -> bool {
        self.link % 2 == 1
    }
}

/// The counters the edge's registry owns, handed over once the metrics exist.
#[derive(Clone)]
pub struct CacheCounters {
    /// `{cache, result}`: `task`/`auth` × `hit`/`miss`/`bypass` (link not usable).
    pub lookups: IntCounterVec,
    /// `{kind}`: [`Change::label`].
    pub invalidations: IntCounterVec,
}

/// Task keys spread over this many epochs: an invalidation of one key only refuses the fills
/// of keys sharing its bucket (1 in 1024), not every fill in flight.
const BUCKETS: usize = 1024;
/// Token and tenant changes share one epoch: they are rare (CLI), and a token's fill reads two
/// keys (token, then its tenant) whose second name is unknown when the ticket is taken.
const AUTH_BUCKET: usize = BUCKETS;

type Listener = Arc<dyn Fn(&Change) + Send + Sync>;

pub struct Coherence {
    origin: Instant,
    max_stale: Duration,
    /// Odd while the link is up; every transition adds one, so a ticket names one link lifetime.
    link: AtomicU64,
    /// Nanoseconds after `origin` until which the cache may answer.
    fresh_until: AtomicU64,
    epochs: Box<[AtomicU64]>,
    listeners: RwLock<Vec<Listener>>,
    counters: OnceLock<CacheCounters>,
}

impl Coherence {
    pub fn new(max_stale: Duration) -> Coherence {
        Coherence {
            origin: Instant::now(),
            max_stale,
            link: AtomicU64::new(0),
            fresh_until: AtomicU64::new(0),
            epochs: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            listeners: RwLock::new(Vec::new()),
            counters: OnceLock::new(),
        }
    }

    pub fn max_stale(&self) -> Duration {
        self.max_stale
    }

    /// Called for every change, after its epoch moved (so a fill racing it is refused).
    pub fn subscribe(&self, f: impl Fn(&Change) + Send + Sync + 'static) {
        self.listeners.write().unwrap_or_else(|e| e.into_inner()).push(Arc::new(f));
    }

    pub fn attach_counters(&self, c: CacheCounters) {
        let _ = self.counters.set(c);
    }

    /// Counts a lookup in `seedance_cache_lookups_total`.
    pub fn count(&self, cache: &'static str, result: &'static str) {
        if let Some(c) = self.counters.get() {
            c.lookups.with_label_values(&[cache, result]).inc();
        }
    }

    /// Names the link's current lifetime (odd while up).
    pub fn link_value(&self) -> u64 {
        self.link.load(SeqCst)
    }

    /// Whether cached answers may be given now.
    pub fn usable(&self) -> bool {
        self.usable_at(Instant::now())
    }

    fn usable_at(&self, now: Instant) -> bool {
        let now = u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
        self.link.load(SeqCst) % 2 == 1 && now < self.fresh_until.load(SeqCst)
    }

    /// A ticket for a read of task `key`, or `None` while the cache may not be filled.
    pub fn task_ticket(&self, key: &str) -> Option<Ticket> {
        self.ticket(bucket_of(key))
    }

    /// A ticket for a token → tenant read; untracked while the link is down or late (such an
    /// answer lives by its TTL alone).
    pub fn auth_ticket(&self) -> Ticket {
        let t = self.any_ticket(AUTH_BUCKET);
        if t.tracked() && !self.usable() {
            // Up but unconfirmed: make it untracked, and refused should the link come up anew.
            return Ticket { link: t.link.wrapping_sub(1), ..t };
        }
        t
    }

    fn ticket(&self, bucket: usize) -> Option<Ticket> {
        let t = self.any_ticket(bucket);
        (t.tracked() && self.usable()).then_some(t)
    }

    fn any_ticket(&self, bucket: usize) -> Ticket {
        // The epoch before the link: a change applied in between moves one of them for `admits`.
        let epoch = self.epochs.get(bucket).map_or(0, |e| e.load(SeqCst));
        Ticket { link: self.link.load(SeqCst), bucket, epoch }
    }

    /// Whether a value read under `t` may be kept: the same link is still up and nothing in
    /// its bucket was invalidated since. A cache inserts first and removes again when this
    /// fails, so an invalidation between the check and the insert still wins (it removes after
    /// moving the epoch).
    pub fn admits(&self, t: &Ticket) -> bool {
        self.link.load(SeqCst) == t.link && self.epochs.get(t.bucket).is_some_and(|e| e.load(SeqCst) == t.epoch)
    }

    /// Applies a change: epochs first, then every cache drops what it covers.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::Task { tenant, id } => self.bump(bucket_of(&task_key(tenant, id))),
            Change::Token(_) | Change::Tenant(_) => self.bump(AUTH_BUCKET),
            Change::Everything => (0..=BUCKETS).for_each(|b| self.bump(b)),
        }
        if let Some(c) = self.counters.get() {
            c.invalidations.with_label_values(&[change.label()]).inc();
        }
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner()).clone();
        for f in listeners {
            f(change);
        }
    }

    fn bump(&self, bucket: usize) {
        if let Some(e) = self.epochs.get(bucket) {
            e.fetch_add(1, SeqCst);
        }
    }

    /// The link is tracking from now on: writes Redis executes after `sent` (when tracking was
    /// switched on) will be reported. What was read before (untracked, kept on a TTL alone) is
    /// dropped, so everything cached while the link is up is covered by its reports.
    pub fn link_up(&self, sent: Instant) {
        if self.link.fetch_update(SeqCst, SeqCst, |l| (l % 2 == 0).then_some(l + 1)).is_ok() {
            self.confirm(sent);
            self.apply(&Change::Everything);
        }
    }

    /// The link is gone (or stalled): writes may go unreported, so nothing cached is trusted
    /// and every cache is emptied. Reads go to Redis until the link is up again.
    pub fn link_down(&self) {
        self.fresh_until.store(0, SeqCst);
        let was_up = self.link.fetch_update(SeqCst, SeqCst, |l| (l % 2 == 1).then_some(l + 1)).is_ok();
        if was_up {
            self.apply(&Change::Everything);
        }
    }

    /// A heartbeat sent at `sent` was answered, after every invalidation ahead of its reply
    /// was applied.
    pub fn confirm(&self, sent: Instant) {
        let until = sent.saturating_duration_since(self.origin) + self.max_stale;
        self.fresh_until.fetch_max(u64::try_from(until.as_nanos()).unwrap_or(u64::MAX), SeqCst);
    }
}

/// The cache key of one task: tenant-scoped, so another tenant's id is another key.
pub fn task_key(tenant: &str, id: &str) -> String {
    // Neither a tenant id nor a task id can hold a newline.
    format!("{tenant}\n{id}")
}

fn bucket_of(key: &str) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn up() -> Coherence {
        let c = Coherence::new(Duration::from_secs(60));
        c.link_up(Instant::now());
        c
    }

    #[test]
    fn nothing_is_usable_before_the_link_is_up_or_after_it_went_down() {
        let c = Coherence::new(Duration::from_secs(60));
        assert!(!c.usable() && c.task_ticket("a\n1").is_none());
        c.link_up(Instant::now());
        assert!(c.usable());
        let t = c.task_ticket("a\n1").unwrap();
        c.link_down();
        assert!(!c.usable() && !c.admits(&t));
        // Back up: a ticket of the old link stays refused.
        c.link_up(Instant::now());
        assert!(!c.admits(&t));
    }

    #[test]
    fn an_invalidation_during_a_read_refuses_its_fill() {
        let c = up();
        let t = c.task_ticket(&task_key("acme", "cgt-1")).unwrap();
        let other = c.task_ticket(&task_key("acme", "cgt-2")).unwrap();
        c.apply(&Change::Task { tenant: "acme".into(), id: "cgt-1".into() });
        assert!(!c.admits(&t));
        // Another key's fill is refused only if it shares the bucket.
        assert_eq!(c.admits(&other), bucket_of(&task_key("acme", "cgt-2")) != bucket_of(&task_key("acme", "cgt-1")));
        let a = c.auth_ticket();
        assert!(a.tracked());
        c.apply(&Change::Tenant("acme".into()));
        assert!(!c.admits(&a));
        // An answer read while the link was down is refused if the link came up meanwhile.
        c.link_down();
        let untracked = c.auth_ticket();
        assert!(!untracked.tracked() && c.admits(&untracked));
        c.link_up(Instant::now());
        assert!(!c.admits(&untracked));
    }

    #[test]
    fn an_unconfirmed_link_stops_being_usable_after_max_stale() {
        let c = Coherence::new(Duration::from_millis(20));
        let t0 = Instant::now();
        c.link_up(t0);
        assert!(c.usable_at(t0 + Duration::from_millis(19)));
        assert!(!c.usable_at(t0 + Duration::from_millis(50)), "confirmed 50 ms ago with max_stale 20 ms");
        assert!(c.task_ticket("a\n1").is_some() || !c.usable());
        c.confirm(t0 + Duration::from_millis(40));
        assert!(c.usable_at(t0 + Duration::from_millis(50)));
    }

    #[test]
    fn listeners_hear_every_change_and_a_link_loss_as_everything() {
        let c = up();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        c.subscribe(move |ch| h.lock().unwrap().push(ch.clone()));
        c.apply(&Change::Token("ab".into()));
        c.link_down();
        c.link_down();
        assert_eq!(*heard.lock().unwrap(), [Change::Token("ab".into()), Change::Everything]);
    }
}
