//! The reconciler: a Pingora background service that settles tasks nobody polls. Each pass, per
//! tenant (behind a short lease so several nodes spread the work rather than repeat it), it takes
//! the pending tasks whose check is due, asks their channels in scoped batches, observes what
//! finished (the settlement script makes double work harmless), backs off the rest, and gives up
//! on a task once its `execution_expires_after` plus a margin has passed. Tenants are isolated:
//! one whose store slot fails, or a record that cannot be read, is logged, counted and skipped,
//! and the pass goes on with the rest.
//!
//! It also runs the start-up chores that need the store inside a long-lived runtime: upserting
//! the configured tenants, and replaying the ownership journal.

use crate::ark::fetch_scoped;
use crate::billing::{defer, observe, DeferReason, Observed};
use crate::clock::now_ms;
use crate::config::TenantConf;
use crate::edge::Edge;
use crate::store::{StoreError, TaskRecord, TokenError};
use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use seedance_filters::task::is_terminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Tasks checked per tenant and pass.
const BATCH: usize = 100;
/// Upstream default for `execution_expires_after` (48 h) when the request did not say.
const DEFAULT_EXPIRY_SECS: i64 = 172_800;
/// How long after its expiry a task is still worth asking about.
const EXPIRY_MARGIN_SECS: i64 = 3_600;
/// Longest wait between two checks of one task.
const MAX_BACKOFF_MS: i64 = 300_000;

pub struct Reconciler {
    pub edge: Arc<Edge>,
}

/// Runs the orphan scan when its interval has passed since the last one.
async fn scan_orphans_if_due(edge: &Edge, last: &mut Option<std::time::Instant>) {
    let Some(every) = edge.config.orphan_scan_interval else { return };
    if last.is_some_and(|at| at.elapsed() < every) {
        return;
    }
    *last = Some(std::time::Instant::now());
    // A store failure stops this scan; the store counted and logged it, the next scan retries.
    let _ = crate::billing::orphans::scan(edge, Default::default()).await;
}

/// Next check of a task that is still running: grows with its age (a task a minute old is
/// checked every interval, an hour-old one every few minutes), capped.
fn backoff_ms(interval_ms: i64, age_ms: i64) -> i64 {
    (age_ms / 10).clamp(interval_ms, MAX_BACKOFF_MS.max(interval_ms))
}

pub use crate::labels::SKIP_REASONS;

fn skip_reason(e: &StoreError) -> &'static str {
    match e {
        StoreError::Unavailable { .. } => SKIP_REASONS[0],
        StoreError::Corrupt { .. } => SKIP_REASONS[1],
    }
}

/// A configured token hash the store already binds to another tenant. It stays with its holder:
/// moving it would hand one customer's traffic (and bill) to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConflict {
    pub hash: String,
    /// The tenant the configuration lists it under.
    pub tenant: String,
    /// The tenant the store binds it to.
    pub holder: String,
}

/// What loading the configured tenants left undone; every item was logged as it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub token_conflicts: Vec<TokenConflict>,
    /// Configured tenants whose stored record is unreadable: left for an operator to repair.
    pub unreadable: Vec<String>,
}

/// Upserts the configured tenants and their token hashes. A tenant an operator disabled with
/// the CLI stays disabled: the config says what a tenant may use, not whether it is switched on.
/// A token hash another tenant holds is not moved, and a tenant whose record cannot be read is
/// skipped, so neither keeps the others out of the store. An unreachable store is an error: the
/// caller tries the whole (idempotent) sync again.
pub async fn sync_tenants(edge: &Edge) -> Result<SyncReport, StoreError> {
    let mut report = SyncReport::default();
    for t in &edge.config.tenants {
        match sync_tenant(edge, t, &mut report).await {
            Ok(()) => {}
            Err(e @ StoreError::Corrupt { .. }) => {
                log::error!("tenant={}: stored record unreadable, left as it is: {e}", t.id);
                report.unreadable.push(t.id.clone());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

async fn sync_tenant(edge: &Edge, t: &TenantConf, report: &mut SyncReport) -> Result<(), StoreError> {
    let disabled = edge.store.tenant(&t.id).await?.is_some_and(|r| r.disabled);
    let record = crate::store::TenantRecord {
        id: t.id.clone(),
        disabled,
        channels: t.channels.clone(),
        models: t.models.iter().map(|m| m.name().to_string()).collect(),
        assets: t.assets,
        limits: t.limits.clone(),
    };
    edge.store.put_tenant(&record).await?;
    for hash in &t.token_sha256 {
        match edge.store.add_token(&t.id, hash).await {
            Ok(()) => {}
            Err(TokenError::HeldByOther { holder }) => {
                log::error!(
                    "tenant={}: configured token hash {}… is bound to tenant {holder} in the store; it stays there (revoke it there to move it)",
                    t.id,
                    &hash[..hash.len().min(12)]
                );
                report.token_conflicts.push(TokenConflict { hash: hash.clone(), tenant: t.id.clone(), holder });
            }
            Err(TokenError::Store(e)) => return Err(e),
        }
    }
    Ok(())
}

/// What one pass did, across tenants.
#[derive(Default)]
struct PassTotals {
    finished: usize,
    /// When the longest-waiting due task became due.
    oldest_due: Option<i64>,
}

impl Reconciler {
    /// One pass over every tenant. Returns how many tasks were settled or recorded terminal.
    /// Fails only when the tenant list itself cannot be had; a tenant whose store slot fails or
    /// a record that cannot be read is logged, counted and skipped, and the pass goes on.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        self.replay_journal().await;
        let now = now_ms();
        let mut totals = PassTotals::default();
        for tenant in self.tenants().await? {
            if let Err(e) = self.tenant_pass(&tenant, now, &mut totals).await {
                self.skipped(&tenant, None, &e);
            }
        }
        let lag_ms = totals.oldest_due.map_or(0, |at| (now - at).max(0));
        self.edge.metrics.reconcile_lag.set(lag_ms as f64 / 1000.0);
        Ok(totals.finished)
    }

    async fn replay_journal(&self) {
        let edge = &self.edge;
        let Some(j) = &edge.journal else { return };
        if j.pending() == 0 {
            return;
        }
        match j.replay(edge.store.as_ref()).await {
            Ok(n) if n > 0 => log::info!("journal: replayed {n} ownership records"),
            Ok(_) => {}
            Err(e) => log::warn!("journal replay stopped: {e}"),
        }
        edge.metrics.journal_pending.set(j.pending());
    }

    async fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let edge = &self.edge;
        let tenants = edge.store.tenant_ids().await?;
        if edge.config.tenants.iter().all(|t| tenants.contains(&t.id)) {
            return Ok(tenants);
        }
        // A Redis that came back empty (no persistence) lost the configured tenants with
        // everything else: put them back so their tokens work again without a restart.
        sync_tenants(edge).await?;
        log::warn!("configured tenants were missing from the store; restored");
        edge.store.tenant_ids().await
    }

    /// One tenant's due tasks. An unreadable task record is skipped; a store failure ends this
    /// tenant's turn (its slot is likely down: the next task would only wait for the same timeout).
    async fn tenant_pass(&self, tenant: &str, now: i64, totals: &mut PassTotals) -> Result<(), StoreError> {
        let edge = &self.edge;
        let interval = edge.config.reconcile_interval.as_millis() as i64;
        let lease_ms = (interval * 3).max(1000) as u64;
        if !edge.store.try_lease(tenant, &edge.node_id, lease_ms).await? {
            return Ok(());
        }
        let due = edge.store.due_tasks(tenant, now, BATCH).await?;
        if let Some((_, at)) = due.first() {
            totals.oldest_due = Some(totals.oldest_due.map_or(*at, |o| o.min(*at)));
        }
        let records = self.readable_records(tenant, &due, now).await?;
        let refs: Vec<&TaskRecord> = records.iter().collect();
        let fetched = match fetch_scoped(&edge.ark, &edge.channels, &refs).await {
            Ok(f) => f,
            Err(e) => {
                log::warn!("reconcile: tenant={tenant}: {e}");
                Default::default()
            }
        };
        for r in &records {
            if self.check_task(tenant, r, fetched.get(&r.id), now).await? {
                totals.finished += 1;
            }
        }
        Ok(())
    }

    /// The due tasks still worth asking about. A record that cannot be read is skipped and
    /// looked at again only after the longest backoff, so broken records cannot crowd the
    /// tenant's good ones out of the batch.
    async fn readable_records(
        &self,
        tenant: &str,
        due: &[(String, i64)],
        now: i64,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let store = &self.edge.store;
        let mut records = Vec::with_capacity(due.len());
        for (id, _) in due {
            match store.task(tenant, id).await {
                Ok(Some(r)) if !is_terminal(&r.status) || (r.status == "succeeded" && r.settlement.is_none()) => {
                    records.push(Arc::unwrap_or_clone(r))
                }
                Ok(_) => store.reschedule(tenant, id, None).await?,
                Err(e @ StoreError::Corrupt { .. }) => {
                    self.skipped(tenant, Some(id), &e);
                    store.reschedule(tenant, id, Some(now + MAX_BACKOFF_MS)).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }

    /// Observes one task's upstream state and schedules its next check. Returns whether it
    /// finished (settled or recorded terminal).
    async fn check_task(
        &self,
        tenant: &str,
        r: &TaskRecord,
        upstream: Option<&serde_json::Value>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let edge = &self.edge;
        let outcome = match upstream {
            Some(task) => observe(edge, tenant, r, task).await,
            // Nobody can ask the upstream about it any more: say so rather than wait in silence.
            None if edge.channels.get(&r.channel).is_none() => {
                defer(edge, tenant, &r.id, DeferReason::ChannelRemoved).await
            }
            None => Observed::NotTerminal,
        };
        let interval = edge.config.reconcile_interval.as_millis() as i64;
        let age_ms = now - r.created_at * 1000;
        let expiry = r.execution_expires_after.unwrap_or(DEFAULT_EXPIRY_SECS) + EXPIRY_MARGIN_SECS;
        match outcome {
            Observed::Settled | Observed::Recorded => {
                edge.store.reschedule(tenant, &r.id, None).await?;
                return Ok(true);
            }
            _ if age_ms > expiry * 1000 => {
                log::warn!("reconcile: tenant={tenant} task {} unresolved after its expiry; no longer tracked", r.id);
                edge.store.reschedule(tenant, &r.id, None).await?;
            }
            _ => edge.store.reschedule(tenant, &r.id, Some(now + backoff_ms(interval, age_ms))).await?,
        }
        Ok(false)
    }

    /// Logs and counts a tenant (or one of its tasks) this pass could not handle.
    fn skipped(&self, tenant: &str, task: Option<&str>, e: &StoreError) {
        let metrics = &self.edge.metrics;
        metrics.reconcile_skipped.with_label_values(&[skip_reason(e)]).inc();
        let what = task.map_or_else(|| format!("tenant={tenant}"), |id| format!("tenant={tenant} task {id}"));
        match e {
            // Stays broken until someone repairs it.
            StoreError::Corrupt { .. } => log::error!("reconcile: {what} skipped, its record is unreadable: {e}"),
            StoreError::Unavailable { .. } => log::warn!("reconcile: {what} skipped this pass: {e}"),
        }
    }
}

#[async_trait]
impl BackgroundService for Reconciler {
    async fn start(&self, shutdown: ShutdownWatch) {
        let edge = self.edge.clone();
        run(move || edge.clone(), shutdown).await
    }
}

/// The reconciler over a reloadable configuration (the binary's): each tick works on the
/// configuration current at that moment. The tick interval is the one it started with.
pub struct LiveReconciler {
    pub live: Arc<crate::edge::LiveEdge>,
}

#[async_trait]
impl BackgroundService for LiveReconciler {
    async fn start(&self, shutdown: ShutdownWatch) {
        let live = self.live.clone();
        run(move || live.current(), shutdown).await
    }
}

/// Loads the configured tenants until that succeeds (and again after a reload that could not),
/// then runs a pass and the orphan scan each tick.
async fn run(current: impl Fn() -> Arc<Edge>, mut shutdown: ShutdownWatch) {
    let mut tick = tokio::time::interval(current().config.reconcile_interval);
    let mut last_orphan_scan = None;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        let edge = current();
        let stale = edge.tenants_stale.load(Ordering::Acquire);
        if !edge.started.load(Ordering::Acquire) || stale {
            match sync_tenants(&edge).await {
                Ok(_) => {
                    edge.started.store(true, Ordering::Release);
                    edge.tenants_stale.store(false, Ordering::Release);
                    log::info!("{} configured tenants loaded into the store", edge.config.tenants.len());
                }
                // Counted and logged by the store; the next tick tries again.
                Err(_) => continue,
            }
        }
        let reconciler = Reconciler { edge };
        // A pass fails only when the tenant list cannot be had: counted and logged by the store.
        let _ = reconciler.pass().await;
        scan_orphans_if_due(&reconciler.edge, &mut last_orphan_scan).await;
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_grows_with_age_and_is_capped() {
        assert_eq!(backoff_ms(5000, 1000), 5000);
        assert_eq!(backoff_ms(5000, 600_000), 60_000);
        assert_eq!(backoff_ms(5000, 86_400_000), 300_000);
    }
}
