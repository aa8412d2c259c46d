//! Billing: whenever the edge observes a task's terminal status — on a customer GET,
//! in a list, or in the reconciler — it is recorded; `succeeded` is settled by one Redis script
//! that is idempotent per task, so a task is billed exactly once however often and wherever it is
//! polled. Only the settlement's winner counts it in Prometheus, so the counters summed over all
//! nodes equal the ledger.

pub mod export;
pub mod orphans;
pub mod reconcile;

use crate::clock::now_ms;
use crate::edge::Edge;
use crate::store::{QuarantineRecord, SettleOutcome, Settlement, TaskRecord};
use seedance_filters::sku::{cost_usd_nanos, nanos_to_usd, sku_for, Sku};
use seedance_filters::task::is_terminal;
use seedance_filters::tokens::{billable_usage, TaskShape, Usage, UsageProblem};
use seedance_filters::PublicModel;
use serde_json::Value;

/// What an observation did, for callers that care (tests, the reconciler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    NotTerminal,
    /// Terminal and not billable (failed, expired, cancelled), or already recorded.
    Recorded,
    Settled,
    /// Succeeded with a usage the edge will not bill automatically: held for review.
    Quarantined,
    /// The store or the task's data did not allow settling now; the reconciler retries.
    Deferred,
}

pub use crate::labels::DeferReason;

/// What a succeeded task costs.
struct Priced {
    sku: Sku,
    /// The SKU's price when settled, micro-USD per million tokens (kept on the ledger entry).
    unit_price: u64,
    tokens: u64,
    usd_nanos: u64,
    resolution: String,
}

/// Records what an upstream task object says about `record`. Never fails the caller's request:
/// a settlement that cannot happen now stays pending and the reconciler comes back to it.
pub async fn observe(edge: &Edge, tenant: &str, record: &TaskRecord, task: &Value) -> Observed {
    let Some(status) = task.get("status").and_then(Value::as_str) else { return Observed::NotTerminal };
    if !is_terminal(status) {
        return Observed::NotTerminal;
    }
    if status != "succeeded" {
        if record.status != status {
            // A failure was counted and logged by the store; the next look records the status.
            if edge.store.set_status(tenant, &record.id, status).await.is_err() {
                return Observed::Deferred;
            }
            if !is_terminal(&record.status) {
                edge.metrics.tasks_settled.with_label_values(&[record.public_model.as_str(), status]).inc();
            }
        }
        return Observed::Recorded;
    }
    if record.settlement.is_some() || record.quarantine.is_some() {
        return Observed::Recorded;
    }
    settle(edge, tenant, record, task).await
}

/// Usage the edge will not bill automatically: the task is marked for review (audit record,
/// metric, `task show`), nothing reaches the ledger, and its GET and lists keep working.
async fn quarantine(edge: &Edge, tenant: &str, record: &TaskRecord, problem: UsageProblem, raw: String) -> Observed {
    let q = QuarantineRecord { reason: problem.as_str().to_string(), usage: raw, at_ms: now_ms() };
    match edge.store.quarantine(tenant, &record.id, &q).await {
        Ok(first) => {
            if first {
                edge.metrics.settlements_quarantined.with_label_values(&[problem.as_str()]).inc();
                log::error!(
                    "tenant={tenant} task {} succeeded with usage {:?} ({}): not billed, held for review",
                    record.id,
                    q.usage,
                    q.reason
                );
            }
            Observed::Quarantined
        }
        // Counted and logged by the store; the reconciler comes back to it.
        Err(_) => Observed::Deferred,
    }
}

/// Why a succeeded task is not priced now.
enum Unpriced {
    /// Not yet: the reconciler comes back.
    Defer(DeferReason),
    /// Never automatically: the reported usage is not believable.
    Suspect(UsageProblem, String),
}

/// Prices a succeeded task from what the upstream reported, or says why it cannot.
fn price(edge: &Edge, record: &TaskRecord, task: &Value) -> Result<Priced, Unpriced> {
    let model = PublicModel::parse(&record.public_model).ok_or(Unpriced::Defer(DeferReason::UnknownModel))?;
    // The final resolution the upstream reports decides the price, not the requested one.
    let resolution = task
        .get("resolution")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| record.requested_resolution.clone())
        .filter(|r| !r.is_empty())
        .ok_or(Unpriced::Defer(DeferReason::MissingResolution))?;
    let sku =
        sku_for(model, &resolution, record.has_video).map_err(|_| Unpriced::Defer(DeferReason::UnknownResolution))?;
    let price = edge.config.prices.price_micro_usd_per_m(&sku).ok_or(Unpriced::Defer(DeferReason::NoPrice))?;
    // `completion_tokens` is what BytePlus bills (`total_tokens` only if it is absent), bounded
    // by the token formula's worst case for the task.
    let shape = TaskShape {
        resolution: Some(resolution.as_str()),
        ratio: task.get("ratio").and_then(Value::as_str),
        duration: task.get("duration").and_then(Value::as_i64),
        has_video: record.has_video,
    };
    let tokens = match billable_usage(task, shape.worst_case_tokens()) {
        Usage::Billable(t) => t,
        Usage::Missing => return Err(Unpriced::Defer(DeferReason::MissingUsage)),
        Usage::Suspect { problem, raw } => return Err(Unpriced::Suspect(problem, raw)),
    };
    let usd_nanos =
        cost_usd_nanos(tokens, price).ok_or_else(|| Unpriced::Suspect(UsageProblem::OverBound, tokens.to_string()))?;
    Ok(Priced { usd_nanos, sku, unit_price: price, tokens, resolution })
}

/// Counts a settlement that cannot be made now and notes it on the task (reason, since when,
/// how many attempts), so a stuck one shows in `task show`. The task stays pending: the
/// reconciler comes back to it.
pub async fn defer(edge: &Edge, tenant: &str, task_id: &str, reason: DeferReason) -> Observed {
    edge.metrics.settlements_deferred.with_label_values(&[reason.as_str()]).inc();
    log::warn!("tenant={tenant} task {task_id}: settlement deferred ({})", reason.as_str());
    // A failure is counted and logged by the store; the task stays due for the reconciler.
    let _ = edge.store.defer_settlement(tenant, task_id, reason.as_str(), now_ms()).await;
    Observed::Deferred
}

async fn settle(edge: &Edge, tenant: &str, record: &TaskRecord, task: &Value) -> Observed {
    let Priced { sku, unit_price, tokens, usd_nanos, resolution } = match price(edge, record, task) {
        Ok(p) => p,
        Err(Unpriced::Defer(reason)) => return defer(edge, tenant, &record.id, reason).await,
        Err(Unpriced::Suspect(problem, raw)) => return quarantine(edge, tenant, record, problem, raw).await,
    };
    let settlement = Settlement {
        settlement_id: format!("{}-{:016x}", edge.node_id, rand::random::<u64>()),
        task_id: record.id.clone(),
        sku: sku.as_str().to_string(),
        tokens,
        usd_nanos,
        settled_at_ms: now_ms(),
        public_model: record.public_model.clone(),
        final_resolution: resolution,
        channel: record.channel.clone(),
        unit_price_micros: unit_price,
    };
    // One retry with the same settlement id: a lost reply comes back as `Replay`, never twice.
    let mut outcome = edge.store.settle(tenant, &settlement).await;
    if outcome.is_err() {
        outcome = edge.store.settle(tenant, &settlement).await;
    }
    match outcome {
        // `Replay` can only answer our own retry whose first reply was lost: not yet counted.
        Ok(SettleOutcome::Settled { .. } | SettleOutcome::Replay) => {
            let labels = edge.metrics.billing_labels(tenant, &record.public_model, sku.as_str());
            edge.metrics.billable_tokens.with_label_values(&labels).inc_by(tokens);
            edge.metrics.billed_usd.with_label_values(&labels).inc_by(nanos_to_usd(usd_nanos));
            edge.metrics.tasks_settled.with_label_values(&[record.public_model.as_str(), "succeeded"]).inc();
            log::info!(
                "tenant={tenant} task {} settled: sku={} tokens={tokens} usd_nanos={usd_nanos} by {}",
                record.id,
                sku.as_str(),
                settlement.settlement_id
            );
            Observed::Settled
        }
        Ok(SettleOutcome::AlreadySettled { .. }) => Observed::Recorded,
        Ok(SettleOutcome::NoTask) => Observed::Deferred,
        // Counted and logged by the store; the reconciler comes back to it.
        Err(_) => Observed::Deferred,
    }
}
