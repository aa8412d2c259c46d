//! The read cache in front of the Redis store: task records kept in-process (a warm GET of a
//! task costs no Redis command), kept coherent with every other node through Redis
//! server-assisted client-side caching (the links below). The rules that make it safe are in
//! [`coherence`]: nothing cached is used while the invalidation link is down or unconfirmed for
//! `store.cache.max_stale_ms`, and a read that raced an invalidation is not kept.
//!
//! What may be stale within that bound, and why it is harmless: a task's `hidden` flag (a
//! DELETE on another node answers 404 here once the invalidation arrives, at worst `max_stale`
//! later) and its status and settlement — a stale non-terminal status or a missing settlement
//! only makes the billing observer try again, and those writes are idempotent scripts (a
//! terminal status is never overwritten, a task settles once). Writes made through this store
//! drop the entry at once, so this node reads its own writes.
//!
//! Token and tenant reads are not cached here but made where Redis reports their changes (on
//! the tracked connection; on a cluster, any read: the broadcast covers their keys), so the
//! authenticator's token cache hears of a revoked token or an edited tenant too.
//!
//! Two kinds of links: one server (standalone, or the master found through Sentinel) gets one
//! tracked connection that the cached reads are made on ([`tracking`]); a Redis Cluster gets a
//! broadcast link per master and reads on its ordinary connection ([`cluster_links`]).

pub mod cluster_links;
pub mod cluster_topology;
pub mod coherence;
pub mod invalidated_keys;
pub mod link_life;
pub mod tasks;
pub mod tracking;

use super::redis::RedisStore;
use super::{
    Admission, Admit, AssetKind, AssetRecord, ChannelAdmission, ChannelAdmit, Intent, LedgerEntry, LedgerFrom, Orphan,
    PendingSettlement, QuarantineRecord, SettleOutcome, Settlement, Store, StoreResult, TaskPage, TaskPageQuery,
    TaskRecord, TenantRecord, TokenError, Wallet, WalletMovement,
};
use ::redis::aio::MultiplexedConnection;
use async_trait::async_trait;
use cluster_links::ClusterLinks;
use cluster_topology::ClusterSeeds;
use coherence::{task_key, Change, Coherence};
use std::sync::Arc;
use tasks::TaskCache;
use tracking::{TrackingLink, TrackingTarget};

pub use crate::config::CacheConf;

/// Where a store's invalidation links connect.
pub enum LinkTarget {
    /// One server: one tracked connection, cached reads made on it.
    Server(TrackingTarget),
    /// Every master of a cluster: broadcast links, cached reads made on the cluster connection.
    Cluster(ClusterSeeds),
}

enum Links {
    Server(Arc<TrackingLink>),
    Cluster(Arc<ClusterLinks>),
}

pub struct CachedStore {
    inner: Arc<RedisStore>,
    coherence: Arc<Coherence>,
    links: Links,
    tasks: TaskCache,
}

impl CachedStore {
    /// The store behind a read cache when `conf` asks for one (`max_entries` above 0); the
    /// store itself otherwise.
    pub fn wrap(inner: RedisStore, conf: CacheConf) -> Arc<dyn Store> {
        if conf.max_entries == 0 {
            return Arc::new(inner);
        }
        let Some(target) = inner.take_link_target() else { return Arc::new(inner) };
        let coherence = Arc::new(Coherence::new(conf.max_stale));
        let (connect_timeout, op_timeout) = inner.timeouts();
        let links = match target {
            LinkTarget::Server(t) => Links::Server(Arc::new(TrackingLink::new(
                t,
                coherence.clone(),
                inner.prefix(),
                connect_timeout,
                op_timeout,
            ))),
            LinkTarget::Cluster(seeds) => Links::Cluster(Arc::new(ClusterLinks::new(
                seeds,
                coherence.clone(),
                inner.prefix(),
                connect_timeout,
                op_timeout,
            ))),
        };
        let tasks = TaskCache::new(conf.max_entries, &coherence);
        Arc::new(CachedStore { inner: Arc::new(inner), coherence, links, tasks })
    }

    /// Starts the links if they are not running; for one server, its tracked connection.
    /// `None` (or a cluster) while it is down: the caller reads on the ordinary connection.
    fn tracked_conn(&self) -> Option<(u64, MultiplexedConnection)> {
        match &self.links {
            Links::Server(link) => {
                link.ensure_running();
                link.conn()
            }
            Links::Cluster(links) => {
                links.ensure_running();
                None
            }
        }
    }

    async fn cached_task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>> {
        let key = task_key(tenant, id);
        if self.coherence.usable() {
            if let Some(hit) = self.tasks.get(&key) {
                self.coherence.count("task", "hit");
                return Ok(Some(hit));
            }
        }
        let ticket = self.coherence.task_ticket(&key);
        let tracked = self.tracked_conn();
        let cluster = matches!(self.links, Links::Cluster(_));
        let Some(ticket) = ticket.filter(|_| cluster || tracked.is_some()) else {
            self.coherence.count("task", "bypass");
            return self.inner.task(tenant, id).await;
        };
        self.coherence.count("task", "miss");
        let Some((link, mut conn)) = tracked else {
            // A cluster: the masters' broadcast links report any write, read where it may be.
            let read = self.inner.task(tenant, id).await;
            if let Ok(Some(record)) = &read {
                self.tasks.fill(&self.coherence, &ticket, key, record.clone());
            }
            return read;
        };
        match self.inner.tracked_task(&mut conn, tenant, id).await {
            Some(Ok(Some(record))) => {
                self.tasks.fill(&self.coherence, &ticket, key, record.clone());
                Ok(Some(record))
            }
            Some(other) => other,
            None => {
                self.broken(link);
                self.inner.task(tenant, id).await
            }
        }
    }

    /// A read on the tracked connection failed.
    fn broken(&self, link: u64) {
        if let Links::Server(l) = &self.links {
            l.broken(link);
        }
    }

    /// A write through this node: its entries go now, without waiting for Redis to say so.
    fn changed(&self, change: Change) {
        self.coherence.apply(&change);
    }
}

fn task_change(tenant: &str, id: &str) -> Change {
    Change::Task { tenant: tenant.to_string(), id: id.to_string() }
}

impl Drop for CachedStore {
    fn drop(&mut self) {
        match &self.links {
            Links::Server(l) => link_life::stop(&**l),
            Links::Cluster(l) => link_life::stop(&**l),
        }
    }
}

#[async_trait]
impl Store for CachedStore {
    fn coherence(&self) -> Option<Arc<Coherence>> {
        Some(self.coherence.clone())
    }
    async fn channel_admit(&self, channel: &str, a: &ChannelAdmission) -> StoreResult<ChannelAdmit> {
        self.inner.channel_admit(channel, a).await
    }
    async fn channel_release(&self, channel: &str, slot: &str) -> StoreResult<u64> {
        self.inner.channel_release(channel, slot).await
    }
    async fn channel_active(&self, channel: &str) -> StoreResult<u64> {
        self.inner.channel_active(channel).await
    }
    async fn admit(&self, tenant: &str, a: &Admission) -> StoreResult<Admit> {
        self.inner.admit(tenant, a).await
    }
    async fn admit_with_intent(
        &self,
        tenant: &str,
        a: &Admission,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<Admit>, StoreResult<()>) {
        self.inner.admit_with_intent(tenant, a, channel, intent).await
    }
    async fn release_slot(&self, tenant: &str, slot: &str, at_ms: i64) -> StoreResult<bool> {
        self.inner.release_slot(tenant, slot, at_ms).await
    }
    async fn credit(&self, tenant: &str, usd_nanos: u64, at_ms: i64) -> StoreResult<Wallet> {
        self.inner.credit(tenant, usd_nanos, at_ms).await
    }
    async fn wallet(&self, tenant: &str) -> StoreResult<Wallet> {
        self.inner.wallet(tenant).await
    }
    async fn wallet_movements(&self, tenant: &str) -> StoreResult<Vec<WalletMovement>> {
        self.inner.wallet_movements(tenant).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn put_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        let r = self.inner.put_tenant(tenant).await;
        self.changed(Change::Tenant(tenant.id.clone()));
        r
    }
    async fn tenant(&self, id: &str) -> StoreResult<Option<TenantRecord>> {
        if let Some((link, mut conn)) = self.tracked_conn() {
            match self.inner.tracked_tenant(&mut conn, id).await {
                Some(r) => return r,
                None => self.broken(link),
            }
        }
        self.inner.tenant(id).await
    }
    async fn tenant_ids(&self) -> StoreResult<Vec<String>> {
        self.inner.tenant_ids().await
    }
    async fn add_token(&self, tenant: &str, token_sha256: &str) -> Result<(), TokenError> {
        let r = self.inner.add_token(tenant, token_sha256).await;
        self.changed(Change::Token(token_sha256.to_string()));
        r
    }
    async fn put_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.inner.put_intent(channel, intent).await
    }
    async fn drop_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.inner.drop_intent(channel, intent).await
    }
    async fn claim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        self.inner.claim(channel, task_id, intent).await
    }
    async fn record_and_claim(
        &self,
        tenant: &str,
        task: &TaskRecord,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<()>, StoreResult<()>) {
        let r = self.inner.record_and_claim(tenant, task, channel, intent).await;
        self.changed(task_change(tenant, &task.id));
        r
    }
    async fn unclaim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        self.inner.unclaim(channel, task_id, intent).await
    }
    async fn channel_owner(&self, channel: &str, task_id: &str) -> StoreResult<Option<String>> {
        self.inner.channel_owner(channel, task_id).await
    }
    async fn intents(&self, channel: &str, since_ms: i64) -> StoreResult<Vec<Intent>> {
        self.inner.intents(channel, since_ms).await
    }
    async fn record_orphan(&self, orphan: &Orphan) -> StoreResult<bool> {
        self.inner.record_orphan(orphan).await
    }
    async fn orphans(&self, channel: &str) -> StoreResult<Vec<Orphan>> {
        self.inner.orphans(channel).await
    }
    async fn quarantine(&self, tenant: &str, id: &str, q: &QuarantineRecord) -> StoreResult<bool> {
        let r = self.inner.quarantine(tenant, id, q).await;
        self.changed(task_change(tenant, id));
        r
    }
    async fn defer_settlement(&self, tenant: &str, id: &str, reason: &str, now_ms: i64) -> StoreResult<()> {
        self.inner.defer_settlement(tenant, id, reason, now_ms).await
    }
    async fn pending_settlement(&self, tenant: &str, id: &str) -> StoreResult<Option<PendingSettlement>> {
        self.inner.pending_settlement(tenant, id).await
    }
    async fn revoke_token(&self, token_sha256: &str) -> StoreResult<bool> {
        let r = self.inner.revoke_token(token_sha256).await;
        self.changed(Change::Token(token_sha256.to_string()));
        r
    }
    async fn token_tenant(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        if let Some((link, mut conn)) = self.tracked_conn() {
            match self.inner.tracked_token_tenant(&mut conn, token_sha256).await {
                Some(r) => return r,
                None => self.broken(link),
            }
        }
        self.inner.token_tenant(token_sha256).await
    }
    async fn put_task(&self, tenant: &str, task: &TaskRecord) -> StoreResult<()> {
        let r = self.inner.put_task(tenant, task).await;
        self.changed(task_change(tenant, &task.id));
        r
    }
    async fn put_task_if_absent(&self, tenant: &str, task: &TaskRecord) -> StoreResult<bool> {
        let r = self.inner.put_task_if_absent(tenant, task).await;
        self.changed(task_change(tenant, &task.id));
        r
    }
    async fn task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>> {
        self.cached_task(tenant, id).await
    }
    async fn open_tasks(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>> {
        self.inner.open_tasks(tenant).await
    }
    async fn task_page(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage> {
        self.inner.task_page(tenant, q).await
    }
    async fn set_status(&self, tenant: &str, id: &str, status: &str) -> StoreResult<()> {
        let r = self.inner.set_status(tenant, id, status).await;
        self.changed(task_change(tenant, id));
        r
    }
    async fn hide_task(&self, tenant: &str, id: &str) -> StoreResult<()> {
        let r = self.inner.hide_task(tenant, id).await;
        self.changed(task_change(tenant, id));
        r
    }
    async fn settle(&self, tenant: &str, settlement: &Settlement) -> StoreResult<SettleOutcome> {
        let r = self.inner.settle(tenant, settlement).await;
        self.changed(task_change(tenant, &settlement.task_id));
        r
    }
    async fn due_tasks(&self, tenant: &str, now_ms: i64, limit: usize) -> StoreResult<Vec<(String, i64)>> {
        self.inner.due_tasks(tenant, now_ms, limit).await
    }
    async fn reschedule(&self, tenant: &str, id: &str, next_check_ms: Option<i64>) -> StoreResult<()> {
        self.inner.reschedule(tenant, id, next_check_ms).await
    }
    async fn try_lease(&self, tenant: &str, node: &str, ttl_ms: u64) -> StoreResult<bool> {
        self.inner.try_lease(tenant, node, ttl_ms).await
    }
    async fn ledger(&self, tenant: &str, since_ms: i64) -> StoreResult<Vec<LedgerEntry>> {
        self.inner.ledger(tenant, since_ms).await
    }
    async fn ledger_page(
        &self,
        tenant: &str,
        from: &LedgerFrom,
        until_ms: Option<i64>,
        count: usize,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.inner.ledger_page(tenant, from, until_ms, count).await
    }
    async fn put_asset(&self, tenant: &str, asset: &AssetRecord) -> StoreResult<()> {
        self.inner.put_asset(tenant, asset).await
    }
    async fn asset(&self, tenant: &str, id: &str) -> StoreResult<Option<AssetRecord>> {
        self.inner.asset(tenant, id).await
    }
    async fn assets(&self, tenant: &str, kind: AssetKind) -> StoreResult<Vec<AssetRecord>> {
        self.inner.assets(tenant, kind).await
    }
}
