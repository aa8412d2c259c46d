//! GET /volcark/api/v3/contents/generations/tasks/{id}: owner only, forwarded to the
//! task's channel, `model` rewritten to the public name used at creation, terminal statuses
//! recorded, `succeeded` settled exactly once.

use super::{Reply, UPSTREAM_TASKS_PATH};
use crate::ark::{Method, UpstreamRequest, UpstreamRoute};
use crate::edge::Edge;
use crate::store::{TaskRecord, TenantRecord};
use bytes::Bytes;
use seedance_filters::task::{is_plausible_task_id, rewrite_error_body, rewrite_task_answer};
use seedance_filters::{ApiError, ErrorCode};
use std::sync::Arc;

pub fn task_not_found(id: &str) -> ApiError {
    ApiError::with_param(ErrorCode::TaskNotFound, "task_id", format!("task {id} does not exist in this account"))
}

/// The caller's own, visible task record — or 404, the same for "never existed" and "not yours".
pub async fn owned_task(edge: &Edge, tenant: &TenantRecord, id: &str) -> Result<Arc<TaskRecord>, ApiError> {
    if !is_plausible_task_id(id) {
        return Err(task_not_found(id));
    }
    let record = edge.store.task(&tenant.id, id).await?;
    record.filter(|r| !r.hidden).ok_or_else(|| task_not_found(id))
}

pub async fn handle(edge: &Edge, tenant: &TenantRecord, id: &str) -> Result<Reply, ApiError> {
    let record = owned_task(edge, tenant, id).await?;
    let channel = edge.channels.get(&record.channel).ok_or_else(|| {
        ApiError::new(ErrorCode::ChannelNotAvailable, "the channel that ran this task is no longer configured")
    })?;
    let req = UpstreamRequest::task(UpstreamRoute::Get, Method::Get, format!("{UPSTREAM_TASKS_PATH}/{id}"));
    let resp = edge.ark.call(&channel.account, &req).await?;
    if resp.status != 200 {
        let body = rewrite_error_body(&resp.body, Some(&record.official_model), Some(&record.public_model))
            .map(Bytes::from)
            .unwrap_or(resp.body);
        return Ok(Reply::raw(resp.status, body).with_request_id(resp.request_id));
    }
    // Rewritten from the upstream's bytes (no tree of the whole answer on the hot path);
    // billing reads the few members it needs.
    let answer = rewrite_task_answer(&resp.body, &record.public_model)
        .ok_or_else(|| crate::ark::upstream_failure("answered a task that is not a JSON object"))?;
    crate::billing::observe(edge, &tenant.id, &record, &answer.facts).await;
    Ok(Reply::raw(200, Bytes::from(answer.body)).with_request_id(resp.request_id))
}
