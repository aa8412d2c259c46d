//! Tenant limits (`tenants[].limits`): before a create goes upstream it takes an
//! admission slot — refused past `creates_per_minute` (sliding window) or `max_active_tasks`
//! (queued + running), and for a prepaid tenant only with the request's worst-case price
//! reserved from its balance. The decision is one Redis script in the tenant's slot, so every
//! node sharing the store counts the same tasks.
//!
//! A slot ends when the store records its task terminal (status, settlement, quarantine: the
//! same scripts release it), or when the create certainly created nothing upstream. Not here:
//! a create that may have created a task (a timeout after sending) keeps its slot; the slot is
//! dropped only once no task could still be running ([`STALE_SLOT_MS`]).

use crate::edge::Edge;
use crate::store::{Admission, Admit, TenantRecord};
use seedance_filters::sku::{format_usd_nanos, worst_case_usd_nanos};
use seedance_filters::task::CreateTask;
use seedance_filters::tokens::TaskShape;
use seedance_filters::{ApiError, ErrorCode};

/// A slot older than the longest task life (`execution_expires_after` ≤ 72 h) plus an hour of
/// queueing cannot belong to a live task: its capacity and reservation are given back.
pub const STALE_SLOT_MS: i64 = (259_200 + 3_600) * 1_000;

/// The create's admission slot named `slot`, as the store is asked for it: the tenant's limits
/// and, for a prepaid tenant, the request's worst-case price to reserve.
pub fn admission(
    edge: &Edge,
    tenant: &TenantRecord,
    task: &CreateTask<'_>,
    slot: &str,
    now_ms: i64,
) -> Result<Admission, ApiError> {
    let limits = &tenant.limits;
    let reserve_nanos = if limits.prepaid { Some(worst_case_price(edge, task)?) } else { None };
    Ok(Admission {
        slot: slot.to_string(),
        now_ms,
        max_active_tasks: limits.max_active_tasks,
        creates_per_minute: limits.creates_per_minute,
        reserve_nanos,
        stale_before_ms: now_ms.saturating_sub(STALE_SLOT_MS),
    })
}

/// The store's decision on an admission: taken, or the refusal naming the limit.
pub fn judge(tenant: &TenantRecord, admission: &Admission, decision: Admit) -> Result<(), ApiError> {
    let limits = &tenant.limits;
    let reserve_nanos = admission.reserve_nanos;
    // Refusals are counted by `seedance_rejections_total{code}` like every edge refusal.
    Err(match decision {
        Admit::Admitted => return Ok(()),
        Admit::RateLimited { retry_after_ms } => {
            let secs = u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1000);
            ApiError::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "this account may create {} tasks per minute; retry in {} s",
                    limits.creates_per_minute.unwrap_or(0),
                    secs.max(1)
                ),
            )
            .retry_after(secs)
        }
        Admit::ActiveLimit { active } => ApiError::new(
            ErrorCode::ActiveTaskLimitExceeded,
            format!(
                "this account has {active} tasks queued or running, its limit is {}; retry when one finishes",
                limits.max_active_tasks.unwrap_or(0)
            ),
        ),
        Admit::InsufficientQuota { available_nanos } => ApiError::new(
            ErrorCode::InsufficientQuota,
            format!(
                "the available balance ({} USD) does not cover this request's worst-case price ({} USD); top up the balance or ask for a shorter or smaller video",
                format_usd_nanos(available_nanos),
                format_usd_nanos(i64::try_from(reserve_nanos.unwrap_or(0)).unwrap_or(i64::MAX))
            ),
        ),
    })
}

/// The create certainly created nothing: its slot and reservation go back. A store failure is
/// counted and logged only — the slot then ends as stale, which is late but never double.
pub async fn release(edge: &Edge, tenant: &str, slot: &str, now_ms: i64) {
    if let Err(e) = edge.store.release_slot(tenant, slot, now_ms).await {
        log::warn!("tenant={tenant}: admission slot {slot} not released: {e}");
    }
}

/// The request's worst-case price: the token formula at its resolution, ratio and
/// duration (unknown: the largest), with 15 s of reference video when it has any.
fn worst_case_price(edge: &Edge, task: &CreateTask<'_>) -> Result<u64, ApiError> {
    let shape = TaskShape {
        resolution: task.resolution.as_deref(),
        ratio: task.ratio.as_deref(),
        duration: task.duration,
        has_video: task.content.has_video,
    };
    worst_case_usd_nanos(task.model, shape, &edge.config.prices).ok_or_else(|| {
        ApiError::with_param(
            ErrorCode::ChannelNotAvailable,
            "model",
            format!("{} has no price for this request; nothing was created", task.model),
        )
    })
}
