//! The in-memory store: the demo's embedded default and a fixture for unit tests. It keeps the
//! same semantics as Redis (per-tenant namespaces, exactly-once settlement) but nothing survives
//! the process and nothing is shared between nodes, so production configs must use Redis.

use super::*;
use crate::clock::now_ms;
use seedance_filters::task::is_terminal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Default)]
struct Tenant {
    record: Option<TenantRecord>,
    tasks: HashMap<String, TaskRecord>,
    /// Visible task ids with their index score (creation order, as the Redis store scores it).
    order: HashMap<String, i64>,
    pending: HashMap<String, i64>,
    ledger: Vec<LedgerEntry>,
    deferred: HashMap<String, PendingSettlement>,
    lease: Option<(String, i64)>,
    assets: Vec<AssetRecord>,
    /// Admission slots by admitted ms.
    active: Slots,
    /// Admission times in the rate window.
    creates: Vec<(i64, String)>,
    /// Slot → nano-USD reserved.
    holds: HashMap<String, u64>,
    wallet: Wallet,
    movements: Vec<WalletMovement>,
}

/// Slots by admitted ms, like the Redis store's sorted sets: a create finds the stale ones
/// without walking every slot held (a tenant may hold tens of thousands of queued tasks).
#[derive(Default)]
struct Slots {
    at: HashMap<String, i64>,
    by_time: BTreeSet<(i64, String)>,
}

impl Slots {
    fn len(&self) -> usize {
        self.at.len()
    }

    fn contains(&self, slot: &str) -> bool {
        self.at.contains_key(slot)
    }

    fn insert(&mut self, slot: &str, at_ms: i64) {
        if let Some(old) = self.at.insert(slot.to_string(), at_ms) {
            self.by_time.remove(&(old, slot.to_string()));
        }
        self.by_time.insert((at_ms, slot.to_string()));
    }

    fn remove(&mut self, slot: &str) -> bool {
        let Some(at) = self.at.remove(slot) else { return false };
        self.by_time.remove(&(at, slot.to_string()));
        true
    }

    /// Slots admitted before `before_ms`, oldest first.
    fn stale(&self, before_ms: i64) -> Vec<String> {
        self.by_time.range(..(before_ms, String::new())).map(|(_, s)| s.clone()).collect()
    }
}

/// One line of a tenant's wallet stream.
fn movement(kind: &str, slot: &str, task_id: &str, usd_nanos: u64, at_ms: i64) -> WalletMovement {
    WalletMovement { kind: kind.into(), slot: slot.into(), task_id: task_id.into(), usd_nanos, at_ms }
}

impl Tenant {
    /// Ends a slot and gives its reservation back, once (the scripts' `release`).
    fn release(&mut self, slot: &str, task_id: &str, at_ms: i64) -> bool {
        let was_active = self.active.remove(slot);
        let Some(held) = self.holds.remove(slot) else { return was_active };
        self.wallet.reserved_nanos -= i64::try_from(held).unwrap_or(i64::MAX);
        self.movements.push(movement("release", slot, task_id, held, at_ms));
        true
    }

    /// A task's end as set_status / quarantine see it.
    fn end_task(&mut self, id: &str, at_ms: i64) {
        if let Some(slot) = self.tasks.get(id).and_then(|t| t.slot.clone()) {
            self.release(&slot, id, at_ms);
        }
    }
}

impl Tenant {
    /// Visible tasks still within the retention, newest first (the Redis store's index order).
    fn listed(&self, floor: i64) -> impl Iterator<Item = &TaskRecord> {
        let mut ids: Vec<(String, i64)> =
            self.order.iter().filter(|(_, s)| **s >= floor).map(|(id, s)| (id.clone(), *s)).collect();
        ids.sort_by(page::newest_first);
        ids.into_iter().filter_map(|(id, _)| self.tasks.get(&id).filter(|r| !r.hidden))
    }
}

/// Whether a visible task matches a list query (the Redis store's indexes, evaluated directly).
fn matches(q: &TaskPageQuery, r: &TaskRecord) -> bool {
    let ids_ok = q.task_ids.as_ref().is_none_or(|ids| ids.contains(&r.id));
    let model_ok = q.model.as_ref().is_none_or(|m| *m == r.public_model);
    let status_ok = q
        .status
        .as_ref()
        .is_none_or(|s| (is_terminal(&s.status) && r.status == s.status) || s.open_ids.contains(&r.id));
    ids_ok && model_ok && status_ok
}

#[derive(Default)]
struct Inner {
    tenants: BTreeMap<String, Tenant>,
    tokens: HashMap<String, String>,
    channels: HashMap<String, ChannelState>,
    seq: u64,
}

/// Per channel: create intents, the owner index, orphans.
#[derive(Default)]
struct ChannelState {
    intents: Vec<Intent>,
    owned: HashMap<String, String>,
    orphans: BTreeMap<String, Orphan>,
    /// Slots holding room on the channel by admitted ms (`max_active_tasks`).
    active: Slots,
}

pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Tasks created longer ago are no longer listed (the Redis store's records expire then).
    retention: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_retention(Duration::from_secs(90 * 86_400))
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retention(retention: Duration) -> Self {
        MemoryStore { inner: Mutex::default(), retention }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the maps consistent (every update is
        // a single insert/remove), so recovering the guard is safe.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn tenant(&mut self, id: &str) -> &mut Tenant {
        self.tenants.entry(id.to_string()).or_default()
    }

    /// A task ended (terminal, settled, quarantined, hidden): the room it held on its channel
    /// goes back, as the Redis store's second call does.
    fn end_channel_slot(&mut self, tenant: &str, id: &str) {
        let held = self
            .tenants
            .get(tenant)
            .and_then(|t| t.tasks.get(id))
            .and_then(|t| t.slot.clone().map(|slot| (t.channel.clone(), slot)));
        if let Some((channel, slot)) = held {
            if let Some(c) = self.channels.get_mut(&channel) {
                c.active.remove(&slot);
            }
        }
    }

    fn insert_task(&mut self, tenant: &str, task: &TaskRecord) {
        self.seq += 1;
        let score = page::order_score(task.created_at, now_ms(), self.seq as i64);
        let t = self.tenant(tenant);
        t.order.remove(&task.id);
        if !task.hidden {
            t.order.insert(task.id.clone(), score);
        }
        if !is_terminal(&task.status) {
            t.pending.insert(task.id.clone(), task.created_at.saturating_mul(1000));
        }
        t.tasks.insert(task.id.clone(), task.clone());
    }
}

/// The append millisecond of a ledger entry id (`<ms>-<seq>`).
fn entry_ms(entry_id: &str) -> i64 {
    entry_id.split('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(0)
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn put_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        self.lock().tenant(&tenant.id).record = Some(tenant.clone());
        Ok(())
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<TenantRecord>> {
        Ok(self.lock().tenants.get(id).and_then(|t| t.record.clone()))
    }

    async fn tenant_ids(&self) -> StoreResult<Vec<String>> {
        Ok(self.lock().tenants.iter().filter(|(_, t)| t.record.is_some()).map(|(k, _)| k.clone()).collect())
    }

    async fn add_token(&self, tenant: &str, token_sha256: &str) -> Result<(), TokenError> {
        let mut inner = self.lock();
        let holder = inner.tokens.entry(token_sha256.to_string()).or_insert_with(|| tenant.to_string());
        if holder != tenant {
            return Err(TokenError::HeldByOther { holder: holder.clone() });
        }
        Ok(())
    }

    async fn revoke_token(&self, token_sha256: &str) -> StoreResult<bool> {
        Ok(self.lock().tokens.remove(token_sha256).is_some())
    }

    async fn token_tenant(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().tokens.get(token_sha256).cloned())
    }

    async fn put_task(&self, tenant: &str, task: &TaskRecord) -> StoreResult<()> {
        self.lock().insert_task(tenant, task);
        Ok(())
    }

    async fn put_task_if_absent(&self, tenant: &str, task: &TaskRecord) -> StoreResult<bool> {
        let mut inner = self.lock();
        if inner.tenant(tenant).tasks.contains_key(&task.id) {
            return Ok(false);
        }
        inner.insert_task(tenant, task);
        Ok(true)
    }

    async fn task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>> {
        Ok(self.lock().tenants.get(tenant).and_then(|t| t.tasks.get(id).cloned()).map(Arc::new))
    }

    async fn open_tasks(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>> {
        let floor = page::retention_floor(now_ms(), self.retention);
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(Vec::new()) };
        Ok(t.listed(floor).filter(|r| !is_terminal(&r.status)).cloned().collect())
    }

    async fn task_page(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage> {
        let floor = page::retention_floor(now_ms(), self.retention);
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(TaskPage::default()) };
        let matching: Vec<&TaskRecord> = t.listed(floor).filter(|r| matches(q, r)).collect();
        let (skip, take) = (usize::try_from(q.offset).unwrap_or(usize::MAX), usize::try_from(q.limit).unwrap_or(0));
        let records = matching.iter().skip(skip).take(take).map(|r| (*r).clone()).collect();
        Ok(TaskPage { records, total: matching.len() as u64 })
    }

    async fn set_status(&self, tenant: &str, id: &str, status: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        let Some(task) = t.tasks.get_mut(id) else { return Ok(()) };
        if !is_terminal(&task.status) {
            task.status = status.to_string();
        }
        // A succeeded prepaid task is ended by its settlement, which charges it.
        let charged_later = status == "succeeded" && task.prepaid;
        if is_terminal(status) {
            t.pending.remove(id);
            if !charged_later {
                t.end_task(id, now_ms());
            }
            // The channel's room goes back at any end: the upstream no longer runs the task.
            inner.end_channel_slot(tenant, id);
        }
        Ok(())
    }

    async fn hide_task(&self, tenant: &str, id: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        if let Some(task) = t.tasks.get_mut(id) {
            task.hidden = true;
            t.order.remove(id);
            // Never looked at again: a slot it still holds ends here.
            t.end_task(id, now_ms());
            inner.end_channel_slot(tenant, id);
        }
        Ok(())
    }

    async fn put_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.lock().channels.entry(channel.to_string()).or_default().intents.push(intent.clone());
        Ok(())
    }

    async fn drop_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        self.lock().channels.entry(channel.to_string()).or_default().intents.retain(|i| i != intent);
        Ok(())
    }

    async fn claim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        let mut inner = self.lock();
        let c = inner.channels.entry(channel.to_string()).or_default();
        c.owned.insert(task_id.to_string(), intent.tenant.clone());
        c.intents.retain(|i| i != intent);
        Ok(())
    }

    async fn unclaim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        let mut inner = self.lock();
        let c = inner.channels.entry(channel.to_string()).or_default();
        c.owned.remove(task_id);
        if !c.intents.contains(intent) {
            c.intents.push(intent.clone());
        }
        Ok(())
    }

    async fn channel_owner(&self, channel: &str, task_id: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().channels.get(channel).and_then(|c| c.owned.get(task_id).cloned()))
    }

    async fn intents(&self, channel: &str, since_ms: i64) -> StoreResult<Vec<Intent>> {
        let mut inner = self.lock();
        let c = inner.channels.entry(channel.to_string()).or_default();
        c.intents.retain(|i| i.at_ms >= since_ms);
        Ok(c.intents.clone())
    }

    async fn record_orphan(&self, orphan: &Orphan) -> StoreResult<bool> {
        let mut inner = self.lock();
        let c = inner.channels.entry(orphan.channel.clone()).or_default();
        if c.orphans.contains_key(&orphan.task_id) {
            return Ok(false);
        }
        c.orphans.insert(orphan.task_id.clone(), orphan.clone());
        Ok(true)
    }

    async fn orphans(&self, channel: &str) -> StoreResult<Vec<Orphan>> {
        Ok(self.lock().channels.get(channel).map(|c| c.orphans.values().cloned().collect()).unwrap_or_default())
    }

    async fn quarantine(&self, tenant: &str, id: &str, q: &QuarantineRecord) -> StoreResult<bool> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        let Some(task) = t.tasks.get_mut(id) else { return Ok(false) };
        if task.settlement.is_some() {
            return Ok(false);
        }
        let first = task.quarantine.is_none();
        if first {
            task.quarantine = Some(q.clone());
            task.status = "succeeded".into();
        }
        t.pending.remove(id);
        t.end_task(id, q.at_ms);
        inner.end_channel_slot(tenant, id);
        Ok(first)
    }

    async fn settle(&self, tenant: &str, s: &Settlement) -> StoreResult<SettleOutcome> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        let Some(task) = t.tasks.get_mut(&s.task_id) else { return Ok(SettleOutcome::NoTask) };
        if let Some(prev) = &task.settlement {
            return Ok(if prev.settled_by == s.settlement_id {
                SettleOutcome::Replay
            } else {
                SettleOutcome::AlreadySettled { by: prev.settled_by.clone() }
            });
        }
        task.status = "succeeded".into();
        task.settlement = Some(SettlementRecord {
            settled_by: s.settlement_id.clone(),
            settled_at_ms: s.settled_at_ms,
            sku: s.sku.clone(),
            tokens: s.tokens,
            usd_nanos: s.usd_nanos,
            resolution: s.final_resolution.clone(),
        });
        t.pending.remove(&s.task_id);
        t.deferred.remove(&s.task_id);
        // Like a stream id: the store's own clock at the append (never going back), then a
        // sequence. `since`/`until` read this time, as they do in Redis, not `settled_at_ms`.
        let appended_ms = now_ms().max(t.ledger.last().map_or(0, |e| entry_ms(&e.entry_id)));
        let entry_id = format!("{appended_ms}-{}", t.ledger.len());
        t.ledger.push(LedgerEntry {
            entry_id: entry_id.clone(),
            tenant: tenant.to_string(),
            task_id: s.task_id.clone(),
            settlement_id: s.settlement_id.clone(),
            sku: s.sku.clone(),
            tokens: s.tokens,
            usd_nanos: s.usd_nanos,
            model: s.public_model.clone(),
            at_ms: s.settled_at_ms,
            channel: s.channel.clone(),
            unit_price: Some(s.unit_price_micros),
        });
        let (slot, prepaid) = t.tasks.get(&s.task_id).map(|k| (k.slot.clone(), k.prepaid)).unwrap_or_default();
        if let Some(slot) = &slot {
            t.release(slot, &s.task_id, s.settled_at_ms);
        }
        if prepaid && s.usd_nanos > 0 {
            let amount = i64::try_from(s.usd_nanos).unwrap_or(i64::MAX);
            t.wallet.balance_nanos -= amount;
            t.wallet.spent_nanos += amount;
            t.movements.push(movement(
                "charge",
                slot.as_deref().unwrap_or(""),
                &s.task_id,
                s.usd_nanos,
                s.settled_at_ms,
            ));
        }
        inner.end_channel_slot(tenant, &s.task_id);
        Ok(SettleOutcome::Settled { entry_id })
    }

    async fn defer_settlement(&self, tenant: &str, id: &str, reason: &str, now_ms: i64) -> StoreResult<()> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        if t.tasks.get(id).is_none_or(|task| task.settlement.is_some()) {
            return Ok(());
        }
        let p = t.deferred.entry(id.to_string()).or_insert_with(|| PendingSettlement {
            reason: String::new(),
            since_ms: now_ms,
            attempts: 0,
        });
        p.reason = reason.to_string();
        p.attempts += 1;
        Ok(())
    }

    async fn pending_settlement(&self, tenant: &str, id: &str) -> StoreResult<Option<PendingSettlement>> {
        Ok(self.lock().tenants.get(tenant).and_then(|t| t.deferred.get(id).cloned()))
    }

    async fn due_tasks(&self, tenant: &str, now_ms: i64, limit: usize) -> StoreResult<Vec<(String, i64)>> {
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(Vec::new()) };
        let mut due: Vec<(String, i64)> =
            t.pending.iter().filter(|(_, at)| **at <= now_ms).map(|(id, at)| (id.clone(), *at)).collect();
        due.sort_by_key(|(_, at)| *at);
        due.truncate(limit);
        Ok(due)
    }

    async fn reschedule(&self, tenant: &str, id: &str, next_check_ms: Option<i64>) -> StoreResult<()> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        match next_check_ms {
            Some(at) => {
                if let Some(v) = t.pending.get_mut(id) {
                    *v = at;
                }
            }
            None => {
                t.pending.remove(id);
            }
        }
        Ok(())
    }

    async fn try_lease(&self, tenant: &str, node: &str, ttl_ms: u64) -> StoreResult<bool> {
        let now = now_ms();
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        match &t.lease {
            Some((_, until)) if *until > now => Ok(false),
            _ => {
                t.lease = Some((node.to_string(), now.saturating_add(ttl_ms as i64)));
                Ok(true)
            }
        }
    }

    async fn ledger(&self, tenant: &str, since_ms: i64) -> StoreResult<Vec<LedgerEntry>> {
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(Vec::new()) };
        Ok(t.ledger.iter().filter(|e| entry_ms(&e.entry_id) >= since_ms).cloned().collect())
    }

    async fn ledger_page(
        &self,
        tenant: &str,
        from: &LedgerFrom,
        until_ms: Option<i64>,
        count: usize,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(Vec::new()) };
        // Entries are appended in order; a cursor is the position after the named entry.
        let start = match from {
            LedgerFrom::Since(ms) => {
                t.ledger.iter().position(|e| entry_ms(&e.entry_id) >= *ms).unwrap_or(t.ledger.len())
            }
            LedgerFrom::After(id) => t.ledger.iter().position(|e| &e.entry_id == id).map_or(0, |i| i + 1),
        };
        Ok(t.ledger
            .iter()
            .skip(start)
            .take_while(|e| until_ms.is_none_or(|u| entry_ms(&e.entry_id) < u))
            .take(count)
            .cloned()
            .collect())
    }

    async fn admit(&self, tenant: &str, a: &Admission) -> StoreResult<Admit> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        for slot in t.active.stale(a.stale_before_ms) {
            t.release(&slot, "", a.now_ms);
        }
        if let Some(cap) = a.creates_per_minute {
            t.creates.retain(|(at, _)| *at > a.now_ms - 60_000);
            if t.creates.len() >= cap as usize {
                let oldest = t.creates.iter().map(|(at, _)| *at).min().unwrap_or(a.now_ms);
                return Ok(Admit::RateLimited { retry_after_ms: oldest + 60_000 - a.now_ms });
            }
        }
        if let Some(cap) = a.max_active_tasks {
            if t.active.len() >= cap as usize {
                return Ok(Admit::ActiveLimit { active: t.active.len() as u64 });
            }
        }
        if let Some(reserve) = a.reserve_nanos {
            let available = t.wallet.balance_nanos - t.wallet.reserved_nanos;
            if available < i64::try_from(reserve).unwrap_or(i64::MAX) {
                return Ok(Admit::InsufficientQuota { available_nanos: available });
            }
            t.holds.insert(a.slot.clone(), reserve);
            t.wallet.reserved_nanos += i64::try_from(reserve).unwrap_or(i64::MAX);
            t.movements.push(movement("reserve", &a.slot, "", reserve, a.now_ms));
        }
        t.active.insert(&a.slot, a.now_ms);
        if a.creates_per_minute.is_some() {
            t.creates.push((a.now_ms, a.slot.clone()));
        }
        Ok(Admit::Admitted)
    }

    async fn release_slot(&self, tenant: &str, slot: &str, at_ms: i64) -> StoreResult<bool> {
        Ok(self.lock().tenant(tenant).release(slot, "", at_ms))
    }

    async fn channel_admit(&self, channel: &str, a: &ChannelAdmission) -> StoreResult<ChannelAdmit> {
        let mut inner = self.lock();
        let c = inner.channels.entry(channel.to_string()).or_default();
        for slot in c.active.stale(a.stale_before_ms) {
            c.active.remove(&slot);
        }
        let active = c.active.len() as u64;
        if c.active.contains(&a.slot) {
            return Ok(ChannelAdmit::Admitted { active });
        }
        if active >= u64::from(a.max_active_tasks) {
            return Ok(ChannelAdmit::Full { active });
        }
        c.active.insert(&a.slot, a.now_ms);
        Ok(ChannelAdmit::Admitted { active: c.active.len() as u64 })
    }

    async fn channel_release(&self, channel: &str, slot: &str) -> StoreResult<u64> {
        let mut inner = self.lock();
        let Some(c) = inner.channels.get_mut(channel) else { return Ok(0) };
        c.active.remove(slot);
        Ok(c.active.len() as u64)
    }

    async fn channel_active(&self, channel: &str) -> StoreResult<u64> {
        Ok(self.lock().channels.get(channel).map(|c| c.active.len() as u64).unwrap_or(0))
    }

    async fn credit(&self, tenant: &str, usd_nanos: u64, at_ms: i64) -> StoreResult<Wallet> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        t.wallet.balance_nanos += i64::try_from(usd_nanos).unwrap_or(i64::MAX);
        t.movements.push(movement("credit", "", "", usd_nanos, at_ms));
        Ok(Wallet { active_tasks: t.active.len() as u64, ..t.wallet.clone() })
    }

    async fn wallet(&self, tenant: &str) -> StoreResult<Wallet> {
        let inner = self.lock();
        Ok(inner
            .tenants
            .get(tenant)
            .map(|t| Wallet { active_tasks: t.active.len() as u64, ..t.wallet.clone() })
            .unwrap_or_default())
    }

    async fn wallet_movements(&self, tenant: &str) -> StoreResult<Vec<WalletMovement>> {
        Ok(self.lock().tenants.get(tenant).map(|t| t.movements.clone()).unwrap_or_default())
    }

    async fn put_asset(&self, tenant: &str, asset: &AssetRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        let t = inner.tenant(tenant);
        t.assets.retain(|a| a.id != asset.id);
        t.assets.push(asset.clone());
        Ok(())
    }

    async fn asset(&self, tenant: &str, id: &str) -> StoreResult<Option<AssetRecord>> {
        Ok(self.lock().tenants.get(tenant).and_then(|t| t.assets.iter().find(|a| a.id == id).cloned()))
    }

    async fn assets(&self, tenant: &str, kind: AssetKind) -> StoreResult<Vec<AssetRecord>> {
        let inner = self.lock();
        let Some(t) = inner.tenants.get(tenant) else { return Ok(Vec::new()) };
        Ok(t.assets.iter().rev().filter(|a| a.kind == kind).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> TaskRecord {
        TaskRecord::sample(id)
    }

    fn settlement(id: &str, by: &str) -> Settlement {
        Settlement {
            settlement_id: by.into(),
            task_id: id.into(),
            sku: "dreamina-seedance-2-0-720p-novideo".into(),
            tokens: 100,
            usd_nanos: 700_000,
            settled_at_ms: 1,
            public_model: "dreamina-seedance-2-0".into(),
            final_resolution: "720p".into(),
            channel: "main".into(),
            unit_price_micros: 7_000_000,
        }
    }

    #[tokio::test]
    async fn namespaces_and_order() {
        // The fixture's tasks are from 2023: listed only under a retention reaching that far.
        let s = MemoryStore::with_retention(Duration::from_secs(100 * 365 * 86_400));
        s.put_task("acme", &task("cgt-1")).await.unwrap();
        s.put_task("acme", &task("cgt-2")).await.unwrap();
        assert!(s.task("globex", "cgt-1").await.unwrap().is_none());
        let all = TaskPageQuery::page(1, 500);
        let ids: Vec<String> = s.task_page("acme", &all).await.unwrap().records.into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["cgt-2", "cgt-1"]);
        s.hide_task("acme", "cgt-2").await.unwrap();
        assert_eq!(s.task_page("acme", &all).await.unwrap().total, 1);
        assert!(s.task("acme", "cgt-2").await.unwrap().unwrap().hidden);
        assert!(!s.put_task_if_absent("acme", &task("cgt-1")).await.unwrap());
    }

    #[tokio::test]
    async fn a_deferred_settlement_is_noted_until_it_settles() {
        let s = MemoryStore::new();
        s.put_task("acme", &task("cgt-1")).await.unwrap();
        s.defer_settlement("acme", "cgt-1", "missing_usage", 10).await.unwrap();
        s.defer_settlement("acme", "cgt-1", "no_price", 20).await.unwrap();
        s.defer_settlement("acme", "cgt-2", "no_price", 20).await.unwrap();
        let noted = PendingSettlement { reason: "no_price".into(), since_ms: 10, attempts: 2 };
        assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), Some(noted));
        assert_eq!(s.pending_settlement("acme", "cgt-2").await.unwrap(), None, "no such task");
        s.settle("acme", &settlement("cgt-1", "a")).await.unwrap();
        assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), None);
        s.defer_settlement("acme", "cgt-1", "no_price", 30).await.unwrap();
        assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), None, "a settled task is never pending");
    }

    #[tokio::test]
    async fn a_token_hash_stays_with_its_tenant() {
        let s = MemoryStore::new();
        s.add_token("acme", "ab12").await.unwrap();
        s.add_token("acme", "ab12").await.unwrap();
        let e = s.add_token("globex", "ab12").await.unwrap_err();
        assert!(matches!(&e, TokenError::HeldByOther { holder } if holder == "acme"), "{e:?}");
        assert_eq!(s.token_tenant("ab12").await.unwrap().as_deref(), Some("acme"));
    }

    #[tokio::test]
    async fn settles_once() {
        let s = MemoryStore::new();
        s.put_task("acme", &task("cgt-1")).await.unwrap();
        assert_eq!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().len(), 1);
        assert!(matches!(s.settle("acme", &settlement("cgt-1", "a")).await.unwrap(), SettleOutcome::Settled { .. }));
        assert_eq!(s.settle("acme", &settlement("cgt-1", "a")).await.unwrap(), SettleOutcome::Replay);
        assert_eq!(
            s.settle("acme", &settlement("cgt-1", "b")).await.unwrap(),
            SettleOutcome::AlreadySettled { by: "a".into() }
        );
        assert_eq!(s.settle("globex", &settlement("cgt-1", "b")).await.unwrap(), SettleOutcome::NoTask);
        assert_eq!(s.ledger("acme", 0).await.unwrap().len(), 1);
        assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty());
    }
}
