//! The in-process copy of task records, keyed by tenant and task id. Bounded by entries
//! (`store.cache.max_entries`): moka's TinyLFU admission keeps hot tasks when one tenant walks
//! through many ids, so neither memory nor the hit rate is at a hostile tenant's mercy.
//! It answers only while [`Coherence::usable`], and forgets whatever a [`Change`] covers.

use super::coherence::{task_key, Change, Coherence, Ticket};
use crate::store::TaskRecord;
use moka::sync::Cache;
use std::sync::Arc;

#[derive(Clone)]
pub struct TaskCache {
    entries: Cache<String, Arc<TaskRecord>>,
}

impl TaskCache {
    /// A cache of at most `max_entries` records that drops what `coherence` reports changed.
    pub fn new(max_entries: u64, coherence: &Coherence) -> TaskCache {
        let cache = TaskCache { entries: Cache::builder().max_capacity(max_entries).build() };
        let entries = cache.entries.clone();
        coherence.subscribe(move |change| match change {
            Change::Task { tenant, id } => entries.invalidate(&task_key(tenant, id)),
            Change::Everything => entries.invalidate_all(),
            Change::Token(_) | Change::Tenant(_) => {}
        });
        cache
    }

    pub fn get(&self, key: &str) -> Option<Arc<TaskRecord>> {
        self.entries.get(key)
    }

    /// Keeps a record read under `ticket`, unless an invalidation of its key arrived meanwhile.
    /// Insert first, check after: an invalidation that moves the epoch after the check removes
    /// the entry itself, one that moved it before makes this remove it.
    pub fn fill(&self, coherence: &Coherence, ticket: &Ticket, key: String, record: Arc<TaskRecord>) {
        self.entries.insert(key.clone(), record);
        if !coherence.admits(ticket) {
            self.entries.invalidate(&key);
        }
    }

    /// Entries held right now (after pending evictions ran).
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn record(id: &str) -> Arc<TaskRecord> {
        Arc::new(TaskRecord::sample(id))
    }

    fn up() -> Coherence {
        let c = Coherence::new(Duration::from_secs(60));
        c.link_up(Instant::now());
        c
    }

    #[test]
    fn the_bound_holds_whatever_one_tenant_inserts() {
        let c = up();
        let cache = TaskCache::new(100, &c);
        for i in 0..5_000 {
            let key = task_key("hostile", &format!("cgt-{i}"));
            let t = c.task_ticket(&key).unwrap();
            cache.fill(&c, &t, key, record(&format!("cgt-{i}")));
        }
        let n = cache.len();
        assert!(n <= 100, "{n} entries held with max_entries 100");
        assert!(n > 0);
    }

    #[test]
    fn a_hot_task_survives_a_scan_of_cold_ones() {
        let c = up();
        let cache = TaskCache::new(100, &c);
        let hot = task_key("acme", "cgt-hot");
        let t = c.task_ticket(&hot).unwrap();
        cache.fill(&c, &t, hot.clone(), record("cgt-hot"));
        for _ in 0..50 {
            assert!(cache.get(&hot).is_some());
        }
        for i in 0..2_000 {
            let key = task_key("hostile", &format!("cgt-{i}"));
            let t = c.task_ticket(&key).unwrap();
            cache.fill(&c, &t, key, record(&format!("cgt-{i}")));
        }
        cache.len();
        assert!(cache.get(&hot).is_some(), "the scan evicted the hot entry");
    }

    #[test]
    fn changes_drop_entries_and_stale_fills_are_refused() {
        let c = up();
        let cache = TaskCache::new(100, &c);
        let key = task_key("acme", "cgt-1");
        let t = c.task_ticket(&key).unwrap();
        cache.fill(&c, &t, key.clone(), record("cgt-1"));
        assert!(cache.get(&key).is_some());
        c.apply(&Change::Task { tenant: "acme".into(), id: "cgt-1".into() });
        assert!(cache.get(&key).is_none());
        // A read that started before that invalidation must not land.
        cache.fill(&c, &t, key.clone(), record("cgt-1"));
        assert!(cache.get(&key).is_none());
        let t = c.task_ticket(&key).unwrap();
        cache.fill(&c, &t, key.clone(), record("cgt-1"));
        c.link_down();
        assert!(cache.get(&key).is_none() && cache.is_empty());
    }
}
