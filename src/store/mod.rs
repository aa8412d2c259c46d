//! State: one trait, two implementations. [`redis::RedisStore`] is the real one (standalone or
//! Redis Cluster, every tenant's keys under one hash tag); [`memory::MemoryStore`] exists only for
//! the demo and unit tests. Every lookup is made in the caller's namespace, so another tenant's id
//! simply finds nothing — the same answer as an id that never existed.

pub mod cache;
pub mod keys;
pub mod memory;
pub mod metered;
pub mod page;
pub mod redis;

pub use page::{StatusMatch, TaskPage, TaskPageQuery};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why the store could not answer. Both map to 503 `store_unavailable`: the edge fails closed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Unreachable, timed out, refused the write (OOM, READONLY), or a connection dropped.
    #[error("store unavailable during {op}: {reason}")]
    Unavailable { op: &'static str, reason: String },
    /// A record exists but cannot be read as ours (wrong type, bad field).
    #[error("store record unreadable during {op}: {reason}")]
    Corrupt { op: &'static str, reason: String },
}

impl StoreError {
    pub fn op(&self) -> &'static str {
        match self {
            StoreError::Unavailable { op, .. } | StoreError::Corrupt { op, .. } => op,
        }
    }
}

/// The customer's side of any store failure: the fail-closed 503 `store_unavailable`. A plain
/// conversion — the store already counted and logged the failure where it happened.
impl From<StoreError> for seedance_filters::ApiError {
    fn from(_: StoreError) -> Self {
        seedance_filters::ApiError::new(
            seedance_filters::ErrorCode::StoreUnavailable,
            "the ownership store is unavailable; nothing was changed, retry later",
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why a token hash could not be bound to a tenant.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// One hash, one tenant: binding it elsewhere would move a customer's traffic and bill.
    #[error("the token hash is already bound to tenant {holder}")]
    HeldByOther { holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tenant as the store keeps it (config tenants are upserted at start; the CLI adds others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    pub disabled: bool,
    /// Eligible channel ids, in preference order.
    pub channels: Vec<String>,
    /// Public models allowed; empty = all.
    pub models: Vec<String>,
    /// Asset library enabled.
    pub assets: bool,
    /// Active-task, rate and prepaid limits (absent in records written before they existed).
    #[serde(default)]
    pub limits: TenantLimits,
}

pub use crate::config::TenantLimits;

/// One create asking for a slot (and, for a prepaid tenant, a reservation) before it goes
/// upstream. Decided atomically in the tenant's slot, so every node sharing the store agrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Names the slot until the task id is known; the task record carries it afterwards.
    pub slot: String,
    pub now_ms: i64,
    pub max_active_tasks: Option<u32>,
    pub creates_per_minute: Option<u32>,
    /// Nano-USD to reserve (prepaid tenants only).
    pub reserve_nanos: Option<u64>,
    /// Slots admitted before this are dropped (and their reservations released): a create that
    /// died between admission and its record, or whose task was never observed ending, cannot
    /// hold capacity or money past any task's lifetime.
    pub stale_before_ms: i64,
}

/// The admission decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    Admitted,
    /// Over `creates_per_minute`; the window has room again in this many ms.
    RateLimited {
        retry_after_ms: i64,
    },
    /// At `max_active_tasks`.
    ActiveLimit {
        active: u64,
    },
    /// Balance minus reservations (may be negative) does not cover the reservation.
    InsufficientQuota {
        available_nanos: i64,
    },
}

/// One create asking a capped channel for room (`channels[].max_active_tasks`). Decided
/// atomically under the channel's own hash tag, so every node counts the same tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAdmission {
    /// The create's admission slot id (the task record carries it until the task ends).
    pub slot: String,
    pub now_ms: i64,
    pub max_active_tasks: u32,
    /// Entries taken before this are dropped: like tenant slots, none can outlive a task.
    pub stale_before_ms: i64,
}

/// A channel's answer to a [`ChannelAdmission`]; `active` is the count after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelAdmit {
    Admitted { active: u64 },
    Full { active: u64 },
}

/// A tenant's money and load, as `tenant show` / `tenant balance` print it. Amounts in nano-USD:
/// `balance` = credits − charges (can go below zero only if a task costs more than its
/// reservation), `reserved` = held for tasks not yet ended, available = balance − reserved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub balance_nanos: i64,
    pub reserved_nanos: i64,
    pub spent_nanos: i64,
    /// Slots held: tasks queued or running (and creates in flight).
    pub active_tasks: u64,
}

/// One movement of a tenant's money (the wallet stream): `credit`, `reserve`, `charge`, `release`.
/// Invariants: reserved = Σreserve − Σrelease; spent = Σcharge = Σ settlement-ledger amounts of
/// prepaid tasks; balance = Σcredit − Σcharge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletMovement {
    pub kind: String,
    pub slot: String,
    pub task_id: String,
    pub usd_nanos: u64,
    pub at_ms: i64,
}

/// What the edge recorded for a task it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub channel: String,
    /// Public name the tenant used (aliases already normalized).
    pub public_model: String,
    /// Official version id sent upstream.
    pub official_model: String,
    /// Whether the create request carried a video reference (selects the `video` SKU).
    pub has_video: bool,
    /// Resolution the customer asked for, if any (billing uses the final one the upstream reports).
    pub requested_resolution: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Last status the edge observed: queued, running, succeeded, failed, expired, cancelled.
    pub status: String,
    /// Hidden by a customer DELETE: 404 on GET, absent from lists, records kept.
    pub hidden: bool,
    /// `execution_expires_after` of the request (seconds), for the reconciler's give-up time.
    pub execution_expires_after: Option<i64>,
    /// Audit snapshot: `properties.upstream_request` as JSON text (inline media replaced by lengths).
    pub upstream_request: Option<String>,
    /// Set once by the settlement script.
    pub settlement: Option<SettlementRecord>,
    /// Set instead of a settlement when the reported usage could not be billed automatically.
    pub quarantine: Option<QuarantineRecord>,
    /// The admission slot the create held: released when the edge records the task terminal.
    #[serde(default)]
    pub slot: Option<String>,
    /// Created under a prepaid limit: settlement charges the tenant's balance.
    #[serde(default)]
    pub prepaid: bool,
}

#[cfg(test)]
impl TaskRecord {
    /// A queued task of tenant-neutral shape, for unit tests of the store and its neighbours.
    pub(crate) fn sample(id: &str) -> TaskRecord {
        TaskRecord {
            id: id.into(),
            channel: "main".into(),
            public_model: "dreamina-seedance-2-0".into(),
            official_model: "dreamina-seedance-2-0-260128".into(),
            has_video: false,
            requested_resolution: Some("720p".into()),
            created_at: 1_700_000_000,
            status: "queued".into(),
            hidden: false,
            execution_expires_after: None,
            upstream_request: None,
            settlement: None,
            quarantine: None,
            slot: None,
            prepaid: false,
        }
    }
}

/// A succeeded task held for review: its reported usage was negative, not an integer, or beyond
/// the formula's bound, so nothing was billed. The first mark stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub reason: String,
    /// The usage as reported (cut to 64 characters).
    pub usage: String,
    pub at_ms: i64,
}

/// The billing facts the settlement script wrote on the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub settled_by: String,
    pub settled_at_ms: i64,
    pub sku: String,
    pub tokens: u64,
    pub usd_nanos: u64,
    pub resolution: String,
}

/// Why and since when a succeeded task's settlement has been waiting; kept on the task until
/// it settles, so a stuck one is visible in `task show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSettlement {
    /// Why the settlement waits (a `DeferReason` label of the billing module).
    pub reason: String,
    /// When it was first deferred (unix ms).
    pub since_ms: i64,
    pub attempts: u64,
}

/// One settlement attempt. `settlement_id` is generated once per attempt and reused on retry, so
/// a retried script whose reply was lost is recognised as our own (`Replay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub settlement_id: String,
    pub task_id: String,
    pub sku: String,
    pub tokens: u64,
    pub usd_nanos: u64,
    pub settled_at_ms: i64,
    pub public_model: String,
    pub final_resolution: String,
    /// The channel that ran the task.
    pub channel: String,
    /// The SKU's price at settlement, micro-USD per million tokens.
    pub unit_price_micros: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// This attempt settled the task and appended ledger entry `entry_id`: count it in metrics.
    Settled { entry_id: String },
    /// This attempt had already settled it (a retry after a lost reply): do not count again.
    Replay,
    /// Someone else settled it first.
    AlreadySettled { by: String },
    /// No such task in this tenant's namespace.
    NoTask,
}

/// One ledger (Redis stream) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub tenant: String,
    pub task_id: String,
    pub settlement_id: String,
    pub sku: String,
    pub tokens: u64,
    pub usd_nanos: u64,
    pub model: String,
    pub at_ms: i64,
    /// Empty on entries written before the ledger carried it.
    #[serde(default)]
    pub channel: String,
    /// Micro-USD per million tokens; `None` on entries written before the ledger carried it.
    #[serde(default)]
    pub unit_price: Option<u64>,
}

/// Where a ledger page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerFrom {
    /// Entries settled at or after this unix millisecond.
    Since(i64),
    /// Entries strictly after this entry id (a resume cursor).
    After(String),
}

/// A create about to be sent to a channel (write-ahead): if the process dies between the
/// upstream's answer and the ownership record, this is the trace the orphan scan finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub tenant: String,
    pub id: String,
    pub at_ms: i64,
}

/// An upstream task on a channel that no tenant owns (a crash mid-create, or the account used
/// outside the edge). `probable_tenant` is the tenant of an unresolved intent close in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphan {
    pub channel: String,
    pub task_id: String,
    pub created_at: i64,
    pub status: String,
    pub model: String,
    pub probable_tenant: Option<String>,
    pub found_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Group,
    Asset,
}

/// An asset group or asset created through the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRecord {
    pub id: String,
    pub kind: AssetKind,
    pub channel: String,
    /// For assets: the group they were created in.
    pub group_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The store behind ownership, billing and tenants. Implementations bound every call in time and
/// answer [`StoreError::Unavailable`] rather than hang.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The invalidation feed of a store that caches reads (`None`: nothing is cached below, and
    /// caches above it can only trust a TTL). The authenticator listens to it.
    fn coherence(&self) -> Option<Arc<cache::coherence::Coherence>> {
        None
    }

    /// Cheap reachability check (used before an upstream create, and by `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    // --- tenants and tokens -------------------------------------------------------------
    async fn put_tenant(&self, tenant: &TenantRecord) -> StoreResult<()>;
    async fn tenant(&self, id: &str) -> StoreResult<Option<TenantRecord>>;
    async fn tenant_ids(&self) -> StoreResult<Vec<String>>;
    /// Binds a token (by its SHA-256, lowercase hex) to a tenant, atomically refusing a hash
    /// another tenant holds ([`TokenError::HeldByOther`]); binding it again to its holder is fine.
    async fn add_token(&self, tenant: &str, token_sha256: &str) -> Result<(), TokenError>;
    /// Returns whether the token existed.
    async fn revoke_token(&self, token_sha256: &str) -> StoreResult<bool>;
    async fn token_tenant(&self, token_sha256: &str) -> StoreResult<Option<String>>;

    // --- tasks --------------------------------------------------------------------------
    /// Records ownership: the task hash, the tenant's list indexes, and (if not terminal) the pending
    /// set — in one atomic step, with the retention TTL.
    async fn put_task(&self, tenant: &str, task: &TaskRecord) -> StoreResult<()>;
    /// Like `put_task` but never overwrites an existing record (journal replay).
    async fn put_task_if_absent(&self, tenant: &str, task: &TaskRecord) -> StoreResult<bool>;
    /// A task record, shared: a cached one is handed out without copying its strings (the
    /// audit snapshot alone may be kilobytes) on every GET.
    async fn task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>>;
    /// The tenant's visible tasks whose recorded status is not terminal (queued, running),
    /// newest first: the tasks whose current status only the upstream knows. Bounded by the
    /// tenant's unfinished tasks within the retention, not by its history.
    async fn open_tasks(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>>;
    /// One page of the tenant's visible tasks matching `q`, newest first, and how many match.
    /// Costs the page (plus the ids and open tasks the query names), never the history.
    async fn task_page(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage>;
    /// Records a status the edge observed; terminal statuses leave the pending set and release
    /// the task's slot and reservation (once).
    async fn set_status(&self, tenant: &str, id: &str, status: &str) -> StoreResult<()>;
    /// Hides a task for its tenant; its hash (audit, settlement) stays. A slot it still holds
    /// ends (the upstream no longer has it), its reservation released, nothing charged.
    async fn hide_task(&self, tenant: &str, id: &str) -> StoreResult<()>;
    /// The exactly-once settlement script; for a prepaid task it also
    /// charges the balance and releases the reservation, in the same step, once.
    async fn settle(&self, tenant: &str, settlement: &Settlement) -> StoreResult<SettleOutcome>;
    /// Records a create intent before the upstream is called.
    async fn put_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()>;
    /// The create failed: nothing to trace.
    async fn drop_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()>;
    /// The create succeeded and its ownership is being recorded (alongside, in the same round
    /// trip): the channel-wide owner index learns the task and the intent is resolved.
    async fn claim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()>;
    /// A create's ownership: its record and its channel's claim, two independent writes sent
    /// together (one round trip where the store can: a cluster keeps the tenant's and the
    /// channel's keys on different slots). Either may fail alone.
    async fn record_and_claim(
        &self,
        tenant: &str,
        task: &TaskRecord,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<()>, StoreResult<()>) {
        tokio::join!(self.put_task(tenant, task), self.claim(channel, &task.id, intent))
    }
    /// Undoes a claim made alongside a record that then failed (neither stored nor journaled):
    /// the owner index forgets the task and the intent is back, so the orphan scan finds it.
    async fn unclaim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()>;
    /// The tenant owning `task_id` on `channel`, from the channel-wide index.
    async fn channel_owner(&self, channel: &str, task_id: &str) -> StoreResult<Option<String>>;
    /// Unresolved intents on a channel newer than `since_ms` (older ones are pruned).
    async fn intents(&self, channel: &str, since_ms: i64) -> StoreResult<Vec<Intent>>;
    /// Records an orphan; `true` only the first time.
    async fn record_orphan(&self, orphan: &Orphan) -> StoreResult<bool>;
    async fn orphans(&self, channel: &str) -> StoreResult<Vec<Orphan>>;
    /// Holds a succeeded task for review instead of settling it; `true` only for the first mark
    /// (a settled task is never marked). Its slot and reservation are released: nothing is charged.
    async fn quarantine(&self, tenant: &str, id: &str, q: &QuarantineRecord) -> StoreResult<bool>;
    /// Notes on a task that its settlement was deferred for `reason`: the first time is kept,
    /// attempts are counted. Nothing happens to a settled or unknown task; settling clears it.
    async fn defer_settlement(&self, tenant: &str, id: &str, reason: &str, now_ms: i64) -> StoreResult<()>;
    /// The task's deferred settlement, if it has one.
    async fn pending_settlement(&self, tenant: &str, id: &str) -> StoreResult<Option<PendingSettlement>>;
    /// Pending task ids whose next check is due at `now_ms`, oldest due first.
    async fn due_tasks(&self, tenant: &str, now_ms: i64, limit: usize) -> StoreResult<Vec<(String, i64)>>;
    /// Moves a pending task's next check to `next_check_ms` (backoff), or drops it with `None`.
    async fn reschedule(&self, tenant: &str, id: &str, next_check_ms: Option<i64>) -> StoreResult<()>;
    /// Takes the per-tenant reconcile lease for `ttl_ms` if nobody holds it.
    async fn try_lease(&self, tenant: &str, node: &str, ttl_ms: u64) -> StoreResult<bool>;
    /// Ledger entries at or after `since_ms`, oldest first.
    async fn ledger(&self, tenant: &str, since_ms: i64) -> StoreResult<Vec<LedgerEntry>>;
    /// At most `count` ledger entries from `from`, settled before `until_ms` if given, oldest
    /// first: one page of an export that never holds the whole ledger.
    async fn ledger_page(
        &self,
        tenant: &str,
        from: &LedgerFrom,
        until_ms: Option<i64>,
        count: usize,
    ) -> StoreResult<Vec<LedgerEntry>>;

    // --- limits and prepaid balances --------------------------------------------------
    /// Decides one create: rate window, active slots, reservation — all or nothing.
    async fn admit(&self, tenant: &str, a: &Admission) -> StoreResult<Admit>;
    /// A create's admission and the write-ahead intent on the first channel it tries, two
    /// independent writes sent together like [`Store::record_and_claim`]. Either may fail alone.
    async fn admit_with_intent(
        &self,
        tenant: &str,
        a: &Admission,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<Admit>, StoreResult<()>) {
        tokio::join!(self.admit(tenant, a), self.put_intent(channel, intent))
    }
    /// A create that certainly created nothing upstream gives its slot and reservation back.
    /// `true` if something was released (once).
    async fn release_slot(&self, tenant: &str, slot: &str, at_ms: i64) -> StoreResult<bool>;
    /// Credits a tenant's balance; answers the wallet after the credit.
    async fn credit(&self, tenant: &str, usd_nanos: u64, at_ms: i64) -> StoreResult<Wallet>;
    async fn wallet(&self, tenant: &str) -> StoreResult<Wallet>;
    /// The tenant's money movements, oldest first.
    async fn wallet_movements(&self, tenant: &str) -> StoreResult<Vec<WalletMovement>>;

    // --- channel capacity ---------------------------------------------------------------
    /// Takes room on a capped channel for a create's slot, or says it is full.
    async fn channel_admit(&self, channel: &str, a: &ChannelAdmission) -> StoreResult<ChannelAdmit>;
    /// Gives a create's room on a channel back (idempotent); answers the channel's active count.
    /// Task ends (set_status terminal, settle, quarantine, hide) release it themselves.
    async fn channel_release(&self, channel: &str, slot: &str) -> StoreResult<u64>;
    /// Creates holding room on a channel right now.
    async fn channel_active(&self, channel: &str) -> StoreResult<u64>;

    // --- assets -------------------------------------------------------------------------
    async fn put_asset(&self, tenant: &str, asset: &AssetRecord) -> StoreResult<()>;
    async fn asset(&self, tenant: &str, id: &str) -> StoreResult<Option<AssetRecord>>;
    /// The tenant's groups or assets, newest first.
    async fn assets(&self, tenant: &str, kind: AssetKind) -> StoreResult<Vec<AssetRecord>>;
}
