//! DELETE /volcark/api/v3/contents/generations/tasks/{id} (SPEC §4.5): owner only. A running task
//! answers the upstream's 409 as is; success, a terminal task the upstream will not delete, or a
//! task the upstream no longer has → hidden for the tenant, audit and billing records kept.
//! Upstream failure → 502 and nothing is hidden.

use super::get::owned_task;
use super::{Reply, UPSTREAM_TASKS_PATH};
use crate::edge::{Edge, UpstreamRoute};
use crate::store::{is_terminal, TenantRecord};
use bytes::Bytes;
use seedance_filters::task::rewrite_error_body;
use seedance_filters::ApiError;

pub async fn handle(edge: &Edge, tenant: &TenantRecord, id: &str) -> Result<Reply, ApiError> {
    let record = owned_task(edge, tenant, id).await?;
    let channel = edge.channels.get(&record.channel).ok_or_else(|| {
        ApiError::new(
            seedance_filters::ErrorCode::ChannelNotAvailable,
            "the channel that ran this task is no longer configured",
        )
    })?;
    let path = format!("{UPSTREAM_TASKS_PATH}/{id}");
    let mut live_status = record.status.clone();
    if !is_terminal(&record.status) {
        // Deleting removes the upstream record: settle a finished task first, or it is never billed.
        let got = edge.task_call(channel, UpstreamRoute::Get, "GET", &path, None).await?;
        if got.status == 200 {
            if let Ok(task) = serde_json::from_slice::<serde_json::Value>(&got.body) {
                if let Some(status) = task.get("status").and_then(|s| s.as_str()) {
                    live_status = status.to_string();
                }
                crate::billing::observe(edge, &tenant.id, &record, &task).await;
            }
        }
    }
    let resp = edge.task_call(channel, UpstreamRoute::Delete, "DELETE", &path, None).await?;
    match resp.status {
        200..=299 | 404 | 400 | 422 => {}
        401 | 403 => {
            // The channel's credentials were refused: not the customer's doing, nothing hidden.
            return Err(crate::edge::upstream_failure(&format!("refused the channel's credentials ({})", resp.status)));
        }
        _ => {
            // 409 (running) and anything else the customer should see, in the native shape.
            let body = rewrite_error_body(&resp.body, Some(&record.official_model), Some(&record.public_model))
                .map(Bytes::from)
                .unwrap_or(resp.body);
            return Ok(Reply::raw(resp.status, body).with_request_id(resp.request_id));
        }
    }
    if (200..300).contains(&resp.status) && live_status == "queued" {
        // A queued task was cancelled; a running one would have been a 409.
        if let Err(e) = edge.store.set_status(&tenant.id, id, "cancelled").await {
            edge.store_failed(&e);
        }
    }
    edge.store.hide_task(&tenant.id, id).await.map_err(|e| edge.store_failed(&e))?;
    log::info!("tenant={} task {id} deleted (upstream {})", tenant.id, resp.status);
    Ok(Reply::raw(200, Bytes::from_static(b"{}")).with_request_id(resp.request_id))
}
