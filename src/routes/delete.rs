//! DELETE /volcark/api/v3/contents/generations/tasks/{id}, as the upstream does it:
//! a queued task is cancelled and stays visible as `cancelled`; a cancelled task (which the
//! upstream refuses to delete) is hidden locally without asking it; a running task answers the
//! upstream's 409 as is; a finished task is deleted upstream and hidden for the tenant, its audit
//! and billing records kept. A succeeded task is settled first: no upstream delete while its
//! settlement is unrecorded, or the revenue would be lost with the upstream record.

use super::get::owned_task;
use super::{Reply, UPSTREAM_TASKS_PATH};
use crate::ark::{Method, UpstreamRequest, UpstreamRoute};
use crate::billing::Observed;
use crate::edge::Edge;
use crate::store::{TaskRecord, TenantRecord};
use bytes::Bytes;
use seedance_filters::task::{is_terminal, rewrite_error_body};
use seedance_filters::{ApiError, ErrorCode};
use serde_json::{json, Value};

pub async fn handle(edge: &Edge, tenant: &TenantRecord, id: &str) -> Result<Reply, ApiError> {
    let record = owned_task(edge, tenant, id).await?;
    if record.status == "cancelled" {
        return hide(edge, tenant, id, None).await;
    }
    let channel = edge.channels.get(&record.channel).ok_or_else(|| {
        ApiError::new(ErrorCode::ChannelNotAvailable, "the channel that ran this task is no longer configured")
    })?;
    let path = format!("{UPSTREAM_TASKS_PATH}/{id}");
    let mut live_status = record.status.clone();
    let unsettled = record.status == "succeeded" && record.settlement.is_none();
    if !is_terminal(&record.status) || unsettled {
        let get = UpstreamRequest::task(UpstreamRoute::Get, Method::Get, path.as_str());
        let got = edge.ark.call(&channel.account, &get).await?;
        if got.status == 404 {
            // The upstream no longer has it (its records expire): nothing left to delete there.
            return hide(edge, tenant, id, got.request_id).await;
        }
        if got.status == 200 {
            if let Ok(task) = serde_json::from_slice::<Value>(&got.body) {
                live_status = task.get("status").and_then(Value::as_str).unwrap_or(&live_status).to_string();
                let observed = crate::billing::observe(edge, &tenant.id, &record, &task).await;
                if live_status == "succeeded" && observed == Observed::Deferred {
                    return Err(settlement_pending(id));
                }
            }
        }
    }
    if live_status == "cancelled" {
        return hide(edge, tenant, id, None).await;
    }
    let delete = UpstreamRequest::task(UpstreamRoute::Delete, Method::Delete, path);
    let resp = edge.ark.call(&channel.account, &delete).await?;
    match resp.status {
        200..=299 if live_status == "queued" => cancelled(edge, tenant, &record, resp.request_id).await,
        200..=299 | 404 => hide(edge, tenant, id, resp.request_id).await,
        400 | 422 if is_terminal(&live_status) => hide(edge, tenant, id, resp.request_id).await,
        _ => {
            // 409 (running) and anything else the customer should see, in the native shape.
            let body = rewrite_error_body(&resp.body, Some(&record.official_model), Some(&record.public_model))
                .map(Bytes::from)
                .unwrap_or(resp.body);
            Ok(Reply::raw(resp.status, body).with_request_id(resp.request_id))
        }
    }
}

fn settlement_pending(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::StoreUnavailable,
        format!("task {id} has succeeded but its billing could not be recorded yet; nothing was deleted, retry later"),
    )
}

/// The upstream cancelled a queued task: it stays visible as `cancelled`, as upstream keeps it.
async fn cancelled(
    edge: &Edge,
    tenant: &TenantRecord,
    record: &TaskRecord,
    rid: Option<String>,
) -> Result<Reply, ApiError> {
    let observed = crate::billing::observe(edge, &tenant.id, record, &json!({"status": "cancelled"})).await;
    if observed == Observed::Deferred {
        log::warn!(
            "tenant={} task {} cancelled upstream; its status is recorded on the next look",
            tenant.id,
            record.id
        );
    }
    log::info!("tenant={} task {} cancelled", tenant.id, record.id);
    Ok(Reply::raw(200, Bytes::from_static(b"{}")).with_request_id(rid))
}

async fn hide(edge: &Edge, tenant: &TenantRecord, id: &str, rid: Option<String>) -> Result<Reply, ApiError> {
    edge.store.hide_task(&tenant.id, id).await?;
    log::info!("tenant={} task {id} deleted", tenant.id);
    Ok(Reply::raw(200, Bytes::from_static(b"{}")).with_request_id(rid))
}
