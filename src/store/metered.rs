//! Times every store operation into `seedance_store_duration_seconds{op}` and counts (and logs)
//! every failure into `seedance_store_errors_total{op}`, exactly once, where it happens. One
//! wrapper around whichever [`Store`] the edge runs on, so every caller — routes, auth, the
//! reconciler, the journal replay — is measured the same way without metrics code at each call
//! site, and turning a [`StoreError`] into the customer's 503 is a plain conversion. The `op`
//! label is the trait method's name, the same name a [`StoreError`] carries.

use super::{
    Admission, Admit, AssetKind, AssetRecord, ChannelAdmission, ChannelAdmit, Intent, LedgerEntry, LedgerFrom, Orphan,
    PendingSettlement, QuarantineRecord, SettleOutcome, Settlement, Store, StoreError, StoreResult, TaskPage,
    TaskPageQuery, TaskRecord, TenantRecord, TokenError, Wallet, WalletMovement,
};
use async_trait::async_trait;
use prometheus::{HistogramVec, IntCounterVec};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Every operation of the [`Store`] trait, as its metrics label.
pub const STORE_OPS: [&str; 43] = [
    "ping",
    "put_tenant",
    "tenant",
    "tenant_ids",
    "add_token",
    "revoke_token",
    "token_tenant",
    "put_task",
    "put_task_if_absent",
    "task",
    "open_tasks",
    "task_page",
    "set_status",
    "hide_task",
    "settle",
    "put_intent",
    "drop_intent",
    "claim",
    "unclaim",
    "channel_owner",
    "intents",
    "record_orphan",
    "orphans",
    "quarantine",
    "defer_settlement",
    "pending_settlement",
    "due_tasks",
    "reschedule",
    "try_lease",
    "ledger",
    "put_asset",
    "asset",
    "assets",
    "admit",
    "release_slot",
    "credit",
    "wallet",
    "wallet_movements",
    "channel_admit",
    "channel_release",
    "channel_active",
    // Two operations sent together fail together under the pair's name.
    "admit_with_intent",
    "record_and_claim",
];

/// The store's own failure inside an operation's error (a refused token binding is an answer,
/// not a failure).
trait Failure {
    fn store_error(&self) -> Option<&StoreError>;
}

impl Failure for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

impl Failure for TokenError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            TokenError::Store(e) => Some(e),
            TokenError::HeldByOther { .. } => None,
        }
    }
}

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    duration: HistogramVec,
    errors: IntCounterVec,
}

impl MeteredStore {
    /// `duration` and `errors` are `seedance_store_duration_seconds` and
    /// `seedance_store_errors_total`.
    pub fn new(inner: Arc<dyn Store>, duration: HistogramVec, errors: IntCounterVec) -> MeteredStore {
        MeteredStore { inner, duration, errors }
    }

    async fn timed<T, E: Failure>(&self, op: &'static str, f: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let start = Instant::now();
        let r = f.await;
        self.observed(op, start, r)
    }

    /// Two operations sent together: each is timed by the round trip; an error they share (the
    /// round trip itself failed) is counted once.
    fn observed_pair<A, B>(
        &self,
        (a_op, b_op): (&'static str, &'static str),
        start: Instant,
        (a, b): (StoreResult<A>, StoreResult<B>),
    ) -> (StoreResult<A>, StoreResult<B>) {
        let a = self.observed(a_op, start, a);
        let shared = matches!((&a, &b), (Err(x), Err(y)) if x.op() == y.op());
        if shared {
            self.duration.with_label_values(&[b_op]).observe(start.elapsed().as_secs_f64());
            return (a, b);
        }
        (a, self.observed(b_op, start, b))
    }

    /// Counts one operation begun at `start`.
    fn observed<T, E: Failure>(&self, op: &'static str, start: Instant, r: Result<T, E>) -> Result<T, E> {
        self.duration.with_label_values(&[op]).observe(start.elapsed().as_secs_f64());
        if let Some(e) = r.as_ref().err().and_then(Failure::store_error) {
            self.errors.with_label_values(&[e.op()]).inc();
            log::warn!("store error: {e}");
        }
        r
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn coherence(&self) -> Option<Arc<super::cache::coherence::Coherence>> {
        self.inner.coherence()
    }
    async fn channel_admit(&self, channel: &str, a: &ChannelAdmission) -> StoreResult<ChannelAdmit> {
        self.timed("channel_admit", self.inner.channel_admit(channel, a)).await
    }
    async fn channel_release(&self, channel: &str, slot: &str) -> StoreResult<u64> {
        self.timed("channel_release", self.inner.channel_release(channel, slot)).await
    }
    async fn channel_active(&self, channel: &str) -> StoreResult<u64> {
        self.timed("channel_active", self.inner.channel_active(channel)).await
    }
    async fn admit_with_intent(
        &self,
        tenant: &str,
        a: &Admission,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<Admit>, StoreResult<()>) {
        let start = Instant::now();
        self.observed_pair(
            ("admit", "put_intent"),
            start,
            self.inner.admit_with_intent(tenant, a, channel, intent).await,
        )
    }
    async fn record_and_claim(
        &self,
        tenant: &str,
        task: &TaskRecord,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<()>, StoreResult<()>) {
        let start = Instant::now();
        self.observed_pair(
            ("put_task", "claim"),
            start,
            self.inner.record_and_claim(tenant, task, channel, intent).await,
        )
    }
    async fn admit(&self, tenant: &str, a: &Admission) -> StoreResult<Admit> {
        self.timed("admit", self.inner.admit(tenant, a)).await
    }
    async fn release_slot(&self, tenant: &str, slot: &str, at_ms: i64) -> StoreResult<bool> {
        self.timed("release_slot", self.inner.release_slot(tenant, slot, at_ms)).await
    }
    async fn credit(&self, tenant: &str, usd_nanos: u64, at_ms: i64) -> StoreResult<Wallet> {
        self.timed("credit", self.inner.credit(tenant, usd_nanos, at_ms)).await
    }
    async fn wallet(&self, tenant: &str) -> StoreResult<Wallet> {
        self.timed("wallet", self.inner.wallet(tenant)).await
    }
    async fn wallet_movements(&self, tenant: &str) -> StoreResult<Vec<WalletMovement>> {
        self.timed("wallet_movements", self.inner.wallet_movements(tenant)).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.timed("ping", self.inner.ping()).await
    }
    async fn put_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        self.timed("put_tenant", self.inner.put_tenant(tenant)).await
    }
    async fn tenant(&self, id: &str) -> StoreResult<Option<TenantRecord>> {
        self.timed("tenant", self.inner.tenant(id)).await
    }
    async fn tenant_ids(&self) -> StoreResult<Vec<String>> {
        self.timed("tenant_ids", self.inner.tenant_ids()).await
    }
    async fn add_token(&self, tenant: &str, token_sha256: &str) -> Result<(), TokenError> {
        self.timed("add_token", self.inner.add_token(tenant, token_sha256)).await
    }
    async fn put_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.timed("put_intent", self.inner.put_intent(channel, intent)).await
    }
    async fn drop_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.timed("drop_intent", self.inner.drop_intent(channel, intent)).await
    }
    async fn claim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        self.timed("claim", self.inner.claim(channel, task_id, intent)).await
    }
    async fn unclaim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        self.timed("unclaim", self.inner.unclaim(channel, task_id, intent)).await
    }
    async fn channel_owner(&self, channel: &str, task_id: &str) -> StoreResult<Option<String>> {
        self.timed("channel_owner", self.inner.channel_owner(channel, task_id)).await
    }
    async fn intents(&self, channel: &str, since_ms: i64) -> StoreResult<Vec<Intent>> {
        self.timed("intents", self.inner.intents(channel, since_ms)).await
    }
    async fn record_orphan(&self, orphan: &Orphan) -> StoreResult<bool> {
        self.timed("record_orphan", self.inner.record_orphan(orphan)).await
    }
    async fn orphans(&self, channel: &str) -> StoreResult<Vec<Orphan>> {
        self.timed("orphans", self.inner.orphans(channel)).await
    }
    async fn quarantine(&self, tenant: &str, id: &str, q: &QuarantineRecord) -> StoreResult<bool> {
        self.timed("quarantine", self.inner.quarantine(tenant, id, q)).await
    }
    async fn defer_settlement(&self, tenant: &str, id: &str, reason: &str, now_ms: i64) -> StoreResult<()> {
        self.timed("defer_settlement", self.inner.defer_settlement(tenant, id, reason, now_ms)).await
    }
    async fn pending_settlement(&self, tenant: &str, id: &str) -> StoreResult<Option<PendingSettlement>> {
        self.timed("pending_settlement", self.inner.pending_settlement(tenant, id)).await
    }
    async fn revoke_token(&self, token_sha256: &str) -> StoreResult<bool> {
        self.timed("revoke_token", self.inner.revoke_token(token_sha256)).await
    }
    async fn token_tenant(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        self.timed("token_tenant", self.inner.token_tenant(token_sha256)).await
    }
    async fn put_task(&self, tenant: &str, task: &TaskRecord) -> StoreResult<()> {
        self.timed("put_task", self.inner.put_task(tenant, task)).await
    }
    async fn put_task_if_absent(&self, tenant: &str, task: &TaskRecord) -> StoreResult<bool> {
        self.timed("put_task_if_absent", self.inner.put_task_if_absent(tenant, task)).await
    }
    async fn task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>> {
        self.timed("task", self.inner.task(tenant, id)).await
    }
    async fn open_tasks(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>> {
        self.timed("open_tasks", self.inner.open_tasks(tenant)).await
    }
    async fn task_page(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage> {
        self.timed("task_page", self.inner.task_page(tenant, q)).await
    }
    async fn set_status(&self, tenant: &str, id: &str, status: &str) -> StoreResult<()> {
        self.timed("set_status", self.inner.set_status(tenant, id, status)).await
    }
    async fn hide_task(&self, tenant: &str, id: &str) -> StoreResult<()> {
        self.timed("hide_task", self.inner.hide_task(tenant, id)).await
    }
    async fn settle(&self, tenant: &str, settlement: &Settlement) -> StoreResult<SettleOutcome> {
        self.timed("settle", self.inner.settle(tenant, settlement)).await
    }
    async fn due_tasks(&self, tenant: &str, now_ms: i64, limit: usize) -> StoreResult<Vec<(String, i64)>> {
        self.timed("due_tasks", self.inner.due_tasks(tenant, now_ms, limit)).await
    }
    async fn reschedule(&self, tenant: &str, id: &str, next_check_ms: Option<i64>) -> StoreResult<()> {
        self.timed("reschedule", self.inner.reschedule(tenant, id, next_check_ms)).await
    }
    async fn try_lease(&self, tenant: &str, node: &str, ttl_ms: u64) -> StoreResult<bool> {
        self.timed("try_lease", self.inner.try_lease(tenant, node, ttl_ms)).await
    }
    async fn ledger(&self, tenant: &str, since_ms: i64) -> StoreResult<Vec<LedgerEntry>> {
        self.timed("ledger", self.inner.ledger(tenant, since_ms)).await
    }
    async fn ledger_page(
        &self,
        tenant: &str,
        from: &LedgerFrom,
        until_ms: Option<i64>,
        count: usize,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.timed("ledger", self.inner.ledger_page(tenant, from, until_ms, count)).await
    }
    async fn put_asset(&self, tenant: &str, asset: &AssetRecord) -> StoreResult<()> {
        self.timed("put_asset", self.inner.put_asset(tenant, asset)).await
    }
    async fn asset(&self, tenant: &str, id: &str) -> StoreResult<Option<AssetRecord>> {
        self.timed("asset", self.inner.asset(tenant, id)).await
    }
    async fn assets(&self, tenant: &str, kind: AssetKind) -> StoreResult<Vec<AssetRecord>> {
        self.timed("assets", self.inner.assets(tenant, kind)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::store::memory::MemoryStore;

    /// The Redis store names its failures after the trait method; every such name has a
    /// series created at zero, so an op missing here would be a series that appears only on
    /// the first failure.
    #[test]
    fn every_redis_op_label_is_listed() {
        let src = include_str!("redis.rs");
        let mut found = 0;
        for (i, call) in src.match_indices("run(\"").chain(src.match_indices("paired(\"")) {
            let rest = &src[i + call.len()..];
            let op = &rest[..rest.find('"').unwrap()];
            assert!(STORE_OPS.contains(&op), "redis op {op:?} is not in STORE_OPS");
            found += 1;
        }
        assert!(found >= 15, "the scan found the ops ({found})");
    }

    #[tokio::test]
    async fn each_call_is_timed_under_its_op() {
        let m = Metrics::new(true).unwrap();
        let s = MeteredStore::new(Arc::new(MemoryStore::new()), m.store_duration.clone(), m.store_errors.clone());
        s.ping().await.unwrap();
        assert!(s.task("acme", "cgt-none").await.unwrap().is_none());
        assert!(s.task("acme", "cgt-none").await.unwrap().is_none());
        assert_eq!(m.store_duration.with_label_values(&["ping"]).get_sample_count(), 1);
        assert_eq!(m.store_duration.with_label_values(&["task"]).get_sample_count(), 2);
        assert_eq!(m.store_duration.with_label_values(&["settle"]).get_sample_count(), 0);
    }
}
