//! GET /volcark/api/v3/contents/generations/tasks: served from the tenant's own
//! indexes in the store — never from the account-wide upstream list — at the cost of one page,
//! whatever the tenant's history. Statuses of unfinished tasks are refreshed from their channels
//! with queries scoped to exactly those task ids.

use super::{Reply, Request};
use crate::ark::fetch_scoped;
use crate::edge::Edge;
use crate::store::{StatusMatch, TaskPageQuery, TaskRecord, TenantRecord};
use seedance_filters::task::{parse_list_query, rewrite_task, ListQuery};
use seedance_filters::ApiError;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn handle(edge: &Edge, tenant: &TenantRecord, req: &Request) -> Result<Reply, ApiError> {
    let q = parse_list_query(req.query.as_deref())?;
    if q.matches_nothing() {
        return Ok(Reply::json(200, &json!({"items": [], "total": 0})));
    }
    let mut page_query = TaskPageQuery::page(q.page_num, q.page_size);
    page_query.model = q.model.map(|m| m.name().to_string());
    page_query.task_ids = q.task_ids.clone();
    let mut fetched: HashMap<String, Value> = HashMap::new();
    if let Some(status) = q.status {
        // Recorded terminal statuses are final and indexed; only unfinished tasks need the
        // upstream's word, and there are only as many of those as the tenant has running.
        let mut open = edge.store.open_tasks(&tenant.id).await?;
        open.retain(|r| could_match(&q, r));
        let refs: Vec<&TaskRecord> = open.iter().collect();
        fetched = fetch_scoped(&edge.ark, &edge.channels, &refs).await?;
        let open_ids =
            open.iter().filter(|r| current_status(r, &fetched) == status.as_str()).map(|r| r.id.clone()).collect();
        page_query.status = Some(StatusMatch { status: status.as_str().to_string(), open_ids });
    }
    let page = edge.store.task_page(&tenant.id, &page_query).await?;
    let missing: Vec<&TaskRecord> = page.records.iter().filter(|r| !fetched.contains_key(&r.id)).collect();
    fetched.extend(fetch_scoped(&edge.ark, &edge.channels, &missing).await?);

    let mut items = Vec::with_capacity(page.records.len());
    for record in &page.records {
        let item = match fetched.remove(&record.id) {
            Some(mut task) => {
                crate::billing::observe(edge, &tenant.id, record, &task).await;
                rewrite_task(&mut task, &record.public_model);
                task
            }
            // The upstream no longer has it (records expire there): what the edge knows.
            None => {
                json!({"id": record.id, "model": record.public_model, "status": record.status, "created_at": record.created_at})
            }
        };
        items.push(item);
    }
    Ok(Reply::json(200, &json!({"items": items, "total": page.total})))
}

/// Whether an open task passes the query's other filters (only those are worth asking about).
fn could_match(q: &ListQuery, r: &TaskRecord) -> bool {
    q.task_ids.as_ref().is_none_or(|ids| ids.contains(&r.id)) && q.model.is_none_or(|m| r.public_model == m.name())
}

fn current_status<'a>(record: &'a TaskRecord, fetched: &'a HashMap<String, Value>) -> &'a str {
    fetched.get(&record.id).and_then(|t| t.get("status")).and_then(Value::as_str).unwrap_or(&record.status)
}
